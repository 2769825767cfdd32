-- Mapping script for the demo's sample export (sample.jsonl): a small self-built
-- chat backend with users, friendships, blocks, rooms, messages, read marks and
-- unread counts. A starting point for your own backend's script.

local GENDERS = { female = "Gender_Type_Female", male = "Gender_Type_Male" }

local function account(u)
	local profile = {}
	if u.bio then profile[#profile + 1] = { Tag = "Tag_Profile_IM_SelfSignature", Value = u.bio } end
	if u.gender and GENDERS[u.gender] then
		profile[#profile + 1] = { Tag = "Tag_Profile_IM_Gender", Value = GENDERS[u.gender] }
	end
	local out = { { kind = "account", UserID = u.id, Nick = immigrate.truncate(u.name, 500), FaceUrl = u.avatar } }
	if #profile > 0 then
		out[2] = { kind = "profile", From_Account = u.id, ProfileItem = profile }
	end
	return out
end

-- A friendship in the old system is mutual; Tencent IM stores each direction.
local function friendship(f)
	return {
		{ kind = "friend", From_Account = f.a, To_Account = f.b, AddSource = "AddSource_Type_Legacy", AddTime = f.since },
		{ kind = "friend", From_Account = f.b, To_Account = f.a, AddSource = "AddSource_Type_Legacy", AddTime = f.since },
	}
end

local ROLES = { admin = "Admin" }

local function room(r)
	local created = immigrate.seconds(r.created_at)
	local out = { { kind = "group", GroupId = immigrate.groupid(r.id), Type = "Private",
		Name = immigrate.truncate(r.name, 30), Owner_Account = r.owner, CreateTime = created } }
	for _, m in ipairs(r.members) do
		if m.role ~= "owner" then -- the owner joins with the group
			out[#out + 1] = { kind = "group_member", GroupId = immigrate.groupid(r.id),
				Member_Account = m.user, Role = ROLES[m.role], JoinTime = immigrate.seconds(m.joined_at) }
		end
	end
	return out
end

local function body(m)
	local a = m.attachment
	if m.location then
		return { immigrate.location { desc = m.location.desc, lat = m.location.lat, lng = m.location.lng } }
	elseif a and a.kind == "image" then
		return { immigrate.image { url = a.url, width = a.width, height = a.height, size = a.size } }
	elseif a and a.kind == "file" then
		return { immigrate.file { url = a.url, name = a.name, size = a.size } }
	elseif m.text then
		return { immigrate.text(m.text) }
	end
	return nil
end

local function message(m)
	local b = body(m)
	if not b then return nil, "message " .. tostring(m.id) .. " has no content" end
	if m.room then
		return { kind = "group_msg", GroupId = immigrate.groupid(m.room), From_Account = m.from,
			SendTime = immigrate.seconds(m.sent_at_ms), MsgBody = b, _source_id = m.id }
	end
	return { kind = "c2c_msg", From_Account = m.from, To_Account = m.to,
		MsgTimeStamp = immigrate.seconds(m.sent_at_ms), MsgBody = b, _source_id = m.id }
end

local handlers = {
	user = account,
	friendship = friendship,
	block = function(b) return { kind = "blacklist", From_Account = b.by, To_Account = b.target } end,
	room = room,
	message = message,
	read = function(r)
		return { kind = "c2c_read", Report_Account = r.user, Peer_Account = r.peer, MsgReadTime = tostring(r.read_at) }
	end,
	unread = function(u)
		return { kind = "group_unread", GroupId = immigrate.groupid(u.room), Member_Account = u.user,
			UnreadMsgNum = u.count }
	end,
}

function map(rec, ctx)
	local h = handlers[rec.type]
	if not h then return nil, "unknown record type " .. tostring(rec.type) end
	return h(rec)
end
