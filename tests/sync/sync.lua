-- Mapping script of the sync end-to-end test: a self-built old system's events
-- (through the webhook plugin) to IM records, and IM callbacks back (reverse).

local function body(text) return { immigrate.text(text) } end

function map(rec, ctx)
  local t = rec.type
  if t == "user" then
    return { kind = "account", UserID = rec.id, Nick = rec.nick }
  elseif t == "message" and rec.group then
    return { kind = "group_msg", GroupId = rec.group, From_Account = rec.from,
             SendTime = immigrate.seconds(rec.ts), MsgBody = body(rec.text), _source_id = ctx.source_id }
  elseif t == "message" then
    return { kind = "c2c_msg", From_Account = rec.from, To_Account = rec.to,
             MsgTimeStamp = immigrate.seconds(rec.ts), MsgBody = body(rec.text), _source_id = ctx.source_id }
  elseif t == "group_create" then
    return { kind = "group", GroupId = rec.group, Type = "Public", Name = rec.name, Owner_Account = rec.owner }
  elseif t == "group_update" then
    return { kind = "group_update", GroupId = rec.group, Name = rec.name }
  elseif t == "join" then
    return { kind = "group_member", GroupId = rec.group, Member_Account = rec.user }
  elseif t == "leave" then
    return { kind = "group_member_exit", GroupId = rec.group, Member_Account = rec.user }
  elseif t == "dissolve" then
    return { kind = "group_destroy", GroupId = rec.group }
  elseif t == "friend_add" then
    return { kind = "friend", From_Account = rec.from, To_Account = rec.to, AddSource = "AddSource_Type_Sync" }
  elseif t == "friend_delete" then
    return { kind = "friend_delete", From_Account = rec.from, To_Account = rec.to }
  elseif t == "block" then
    return { kind = "blacklist", From_Account = rec.from, To_Account = rec.to }
  elseif t == "unblock" then
    return { kind = "blacklist_delete", From_Account = rec.from, To_Account = rec.to }
  elseif t == "profile" then
    return { kind = "profile", From_Account = rec.user,
             ProfileItem = { { Tag = "Tag_Profile_IM_Nick", Value = rec.nick } } }
  elseif t == "read" then
    return { kind = "c2c_read", Report_Account = rec.reader, Peer_Account = rec.peer,
             MsgReadTime = immigrate.seconds(rec.ts) }
  elseif t == "bad" then
    error("this event cannot be mapped")
  end
  return nil
end

local function members(list)
  local out = {}
  for _, m in ipairs(list or {}) do out[#out + 1] = m.Member_Account end
  return out
end

local function text_of(msgbody)
  local parts = {}
  for _, e in ipairs(msgbody or {}) do
    if e.MsgType == "TIMTextElem" then parts[#parts + 1] = e.MsgContent.Text end
  end
  return table.concat(parts)
end

function reverse(ev, ctx)
  local c = ctx.stream
  if c == "C2C.CallbackAfterSendMsg" then
    return { kind = "message", from = ev.From_Account, to = ev.To_Account, text = text_of(ev.MsgBody) }
  elseif c == "Group.CallbackAfterSendMsg" then
    return { kind = "message", group = ev.GroupId, from = ev.From_Account, text = text_of(ev.MsgBody) }
  elseif c == "Group.CallbackAfterCreateGroup" then
    return { kind = "group_create", group = ev.GroupId, name = ev.Name, owner = ev.Owner_Account }
  elseif c == "Group.CallbackAfterGroupInfoChanged" then
    return { kind = "group_update", group = ev.GroupId, name = ev.Name }
  elseif c == "Group.CallbackAfterNewMemberJoin" then
    return { kind = "join", group = ev.GroupId, users = members(ev.NewMemberList) }
  elseif c == "Group.CallbackAfterMemberExit" then
    return { kind = "leave", group = ev.GroupId, users = members(ev.ExitMemberList) }
  elseif c == "Group.CallbackAfterGroupDestroyed" then
    return { kind = "dissolve", group = ev.GroupId }
  elseif c == "Sns.CallbackFriendAdd" or c == "Sns.CallbackFriendDelete"
      or c == "Sns.CallbackBlackListAdd" or c == "Sns.CallbackBlackListDelete" then
    local out = {}
    local what = ({ ["Sns.CallbackFriendAdd"] = "friend_add", ["Sns.CallbackFriendDelete"] = "friend_delete",
                    ["Sns.CallbackBlackListAdd"] = "block", ["Sns.CallbackBlackListDelete"] = "unblock" })[c]
    for _, p in ipairs(ev.PairList or {}) do
      out[#out + 1] = { kind = what, from = p.From_Account, to = p.To_Account }
    end
    return out
  end
  return nil
end
