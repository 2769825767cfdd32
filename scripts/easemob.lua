-- Easemob / Agora Chat -> Tencent Cloud IM: the default mapping script for the
-- easemob plugin.
--
-- Input streams: users and chatgroups (REST pull: the current state, read
-- first), messages (history files and message callbacks, each msg_id once),
-- roster (friend and block events), groups (muc events), read_acks, recalls.
-- The plugin adds _from/_to (user ids behind the JIDs), _from_admin, _group_id,
-- _chatroom, _recalled and _acked_time (see plugins/easemob/em_record.h). What
-- maps where, and what does not, is in doc/easemob.md. Profile tags for user
-- metadata: the PROFILE_TAGS table below.
--
-- Options (job file: script_options = { ... }):
--   admin_account         account that sends what the app admin (the bare
--                         appkey) sent; created as an account; default
--                         "easemob_admin"
--   chatrooms             true: chat rooms become ChatRoom groups with their
--                         messages; default false (chat room traffic skipped)
--   cmd_messages          true: cmd (command) messages become custom elements;
--                         default false (skipped: they are signals, not history)
--   group_media_elements  true: media in groups as real image/sound/video/file
--                         elements (default: a custom element carrying the
--                         media's url/name/type/size, since import_group_msg
--                         documents only text/face/location/custom)
--   add_source            keyword of AddSource_Type_<keyword> on friendships;
--                         default "Easemob"

local null = immigrate.null

local function opt(name, default)
	local v = immigrate.option(name)
	if v == nil or v == null then
		return default
	end
	return v
end

local ADMIN_ACCOUNT = opt("admin_account", "easemob_admin")
local CHATROOMS = opt("chatrooms", false) == true
local CMD_MESSAGES = opt("cmd_messages", false) == true
local GROUP_MEDIA = opt("group_media_elements", false) == true
local ADD_SOURCE = "AddSource_Type_" .. opt("add_source", "Easemob")

local GROUP_NAME_MAX, GROUP_INTRO_MAX, NICK_MAX, FACE_MAX = 30, 240, 500, 500
local GROUP_MAX_MEMBERS = 6000

-- Easemob user metadata key -> Tencent profile tag. nickname and avatarurl go
-- into the account itself (Nick, FaceUrl). Custom tags must be created in the IM
-- console first (letters only, at most 8 after the prefix). Keys not listed are
-- not migrated (a warning names each one once). A function value converts.
local GENDER = { ["1"] = "Gender_Type_Male", ["2"] = "Gender_Type_Female" }
local PROFILE_TAGS = {
	sign = "Tag_Profile_IM_SelfSignature",
	gender = { tag = "Tag_Profile_IM_Gender", value = function(v)
		return GENDER[tostring(v)] or "Gender_Type_Unknown"
	end },
	birth = { tag = "Tag_Profile_IM_BirthDay", value = function(v)
		-- "1990-05-17" or "19900517" -> 19900517
		local digits = tostring(v):gsub("%D", "")
		return #digits == 8 and math.tointeger(tonumber(digits)) or nil
	end },
	-- mail  = "Tag_Profile_Custom_Mail",
	-- phone = "Tag_Profile_Custom_Phone",
}

-- A string field, or nil for JSON null, missing, empty or non-string values.
local function str(v)
	if type(v) == "string" and v ~= "" then
		return v
	end
	if math.type(v) == "integer" then
		return tostring(v)
	end
	return nil
end

local function num(v)
	if type(v) == "number" then
		return v
	end
	if type(v) == "string" then
		return tonumber(v)
	end
	return nil
end

-- "org#app_alice@easemob.com/ios" or "alice" -> "alice" (REST lists name owners
-- with the appkey prefix).
local function bare_user(s)
	s = str(s)
	if not s then
		return nil
	end
	s = s:match("^[^@/]*")
	local after = s:match("^[^#_]*#[^_]*_(.+)$")
	return str(after or s)
end

local function sorted_keys(t)
	local keys = {}
	for k in pairs(t) do
		keys[#keys + 1] = k
	end
	table.sort(keys)
	return keys
end

---------------------------------------------------------------------------
-- Accounts: every user seen anywhere gets one, the admin account too.
---------------------------------------------------------------------------
local accounts = {} -- Tencent UserID -> true once its account record was made
local warned_keys = {} -- metadata keys without a profile tag, warned about once
local pending = {}  -- UserIDs met by the current map() call, in order

-- Accounts are only emitted when the call succeeds: a dead-lettered record keeps
-- nothing it emitted, so marking a user as done before that would lose its
-- account for good.
local function account_for(uid)
	if not accounts[uid] and not pending[uid] then
		pending[uid] = true
		pending[#pending + 1] = uid
	end
	return uid
end

local function flush_accounts()
	for _, uid in ipairs(pending) do
		accounts[uid] = true
		immigrate.emit({ kind = "account", UserID = uid, _source_id = "user:" .. uid })
	end
	pending = {}
end

-- The Tencent UserID of a record's sender (side "from") or receiver ("to"):
-- the app admin (bare appkey) becomes ADMIN_ACCOUNT. nil when the record
-- names nobody usable.
local function party(rec, side)
	if side == "from" and rec._from_admin == true then
		return account_for(ADMIN_ACCOUNT)
	end
	local id = str(rec["_" .. side])
	if not id then
		return nil
	end
	return account_for(immigrate.userid(id))
end

---------------------------------------------------------------------------
-- Message bodies.
---------------------------------------------------------------------------
local function file_ext(name)
	return type(name) == "string" and name:match("%.([%w]+)$") or nil
end

local function size_of(b)
	return type(b.size) == "table" and b.size or {}
end

-- Media in a group message as a custom element (see group_media_elements).
local function media_as_custom(b)
	local data = {
		type = b.type,
		url = str(b.url),
		name = str(b.filename),
		size = num(b.file_length),
		seconds = num(b.length),
		thumb = str(b.thumb),
	}
	return immigrate.custom({ data = immigrate.json_encode(data), desc = "[" .. b.type .. "]" })
end

local BODY = {
	txt = function(b)
		return immigrate.text(type(b.msg) == "string" and b.msg or "")
	end,
	loc = function(b)
		return immigrate.location({ desc = str(b.addr) or "", lat = num(b.lat) or 0, lng = num(b.lng) or 0 })
	end,
	img = function(b, group)
		if group and not GROUP_MEDIA then
			return media_as_custom(b)
		end
		local sz = size_of(b)
		return immigrate.image({
			url = b.url,
			format = file_ext(b.filename),
			width = num(sz.width),
			height = num(sz.height),
			size = num(b.file_length),
		})
	end,
	audio = function(b, group)
		if group and not GROUP_MEDIA then
			return media_as_custom(b)
		end
		return immigrate.sound({ url = b.url, size = num(b.file_length), seconds = num(b.length) })
	end,
	video = function(b, group)
		if group and not GROUP_MEDIA then
			return media_as_custom(b)
		end
		local sz = size_of(b)
		return immigrate.video({
			url = b.url,
			size = num(b.file_length),
			seconds = num(b.length),
			format = file_ext(b.filename),
			thumb_url = str(b.thumb),
			thumb_width = num(sz.width),
			thumb_height = num(sz.height),
		})
	end,
	file = function(b, group)
		if group and not GROUP_MEDIA then
			return media_as_custom(b)
		end
		return immigrate.file({ url = b.url, size = num(b.file_length), name = str(b.filename) })
	end,
	custom = function(b)
		local exts = b["v2:customExts"]
		if exts == nil or exts == null then
			exts = b.customExts
		end
		local data = { event = str(b.customEvent), exts = exts ~= null and exts or nil }
		return immigrate.custom({ data = immigrate.json_encode(data), desc = str(b.customEvent) })
	end,
	cmd = function(b)
		if not CMD_MESSAGES then
			return nil
		end
		return immigrate.custom({ data = immigrate.json_encode({ cmd = str(b.action) }), desc = "cmd" })
	end,
}

-- MsgBody for a message, nil when nothing is left to import (cmd only).
local function msg_body(rec, group)
	local bodies = rec.payload.bodies
	local out = {}
	for i, b in ipairs(bodies) do
		local make = BODY[b.type]
		if not make then
			error(string.format("payload.bodies[%d]: unsupported body type %q", i - 1, tostring(b.type)))
		end
		if (b.type == "img" or b.type == "audio" or b.type == "video" or b.type == "file") and not str(b.url) then
			error(string.format("payload.bodies[%d]: %s without url", i - 1, b.type))
		end
		local elem = make(b, group)
		if elem then
			out[#out + 1] = elem
		end
	end
	if #out == 0 then
		return nil
	end
	return out
end

local function cloud_custom_data(rec)
	local ext = rec.payload.ext
	if type(ext) == "table" and next(ext) ~= nil then
		return immigrate.json_encode(ext)
	end
	return nil
end

---------------------------------------------------------------------------
-- Groups, rebuilt from muc events and group messages; emitted in finish().
---------------------------------------------------------------------------
local groups = {} -- Easemob group id -> state

-- t: the time of an event or message seen in the group (nil: none, as for the
-- REST pull); g.first is the earliest one.
local function group_state(gid, t)
	local g = groups[gid]
	if not g then
		g = { members = {}, admins = {}, senders = {}, first_join = {}, events = 0, msgs = 0 }
		groups[gid] = g
	end
	if t and (not g.first or t < g.first) then
		g.first = t
	end
	return g
end

local function join(g, uid, t)
	if not uid then
		return
	end
	if t and not g.first_join[uid] then
		g.first_join[uid] = t
	end
	if not g.members[uid] then
		g.members[uid] = { join = t } -- t nil: joined at creation
	end
end

local function leave(g, uid)
	if uid then
		g.members[uid] = nil
		g.admins[uid] = nil
	end
end

-- The user an event is about: its sender when a user, else its receiver.
local function subject(rec)
	if rec._from_admin ~= true and str(rec._from) then
		return party(rec, "from")
	end
	return party(rec, "to")
end

local MUC = {
	create = function(g, rec)
		g.owner = subject(rec)
	end,
	presence = function(g, rec, t)
		join(g, subject(rec), t)
	end,
	direct_joined = function(g, rec, t)
		join(g, subject(rec), t)
	end,
	invite_accept = function(g, rec, t)
		join(g, subject(rec), t)
	end,
	apply_accept = function(g, rec, t)
		join(g, party(rec, "to"), t)
	end,
	leave = function(g, rec)
		leave(g, subject(rec))
	end,
	absence = function(g, rec)
		leave(g, subject(rec))
	end,
	kick = function(g, rec)
		leave(g, party(rec, "to"))
	end,
	assing_owner = function(g, rec)
		local new_owner = party(rec, "to")
		if new_owner then
			if g.owner then
				join(g, g.owner, nil)
			end
			g.owner = new_owner
		end
	end,
	add_admin = function(g, rec)
		local uid = party(rec, "to")
		if uid then
			join(g, uid, nil)
			g.admins[uid] = true
		end
	end,
	remove_admin = function(g, rec)
		local uid = party(rec, "to")
		if uid then
			g.admins[uid] = nil
		end
	end,
	destroy = function(g)
		g.destroyed = true
	end,
}

---------------------------------------------------------------------------
-- Friendships and blocks, rebuilt from roster events; emitted in finish().
---------------------------------------------------------------------------
local friends = {} -- "a\0b" (a < b) -> {a=, b=, since=} while friends
local blocks = {}  -- "from\0to" -> {from=, to=} while blocked
-- Users whose contact and block lists came from the REST pull: those lists are
-- the current state, so for them an event-derived pair missing from the lists
-- is over.
local rest_contacts, rest_friend = {}, {} -- uid -> true; pair key -> {a=, b=}
local rest_blocks, rest_block = {}, {}     -- uid -> true; "from\0to" -> {from=, to=}

local function pair_key(a, b)
	if a < b then
		return a .. "\0" .. b, a, b
	end
	return b .. "\0" .. a, b, a
end

local ROSTER = {
	accept = function(a, b, t)
		local key, x, y = pair_key(a, b)
		if not friends[key] then
			friends[key] = { a = x, b = y, since = t }
		end
	end,
	remove = function(a, b)
		friends[(pair_key(a, b))] = nil
	end,
	ban = function(a, b)
		blocks[a .. "\0" .. b] = { from = a, to = b }
	end,
	allow = function(a, b)
		blocks[a .. "\0" .. b] = nil
	end,
}
ROSTER.remote_accept = ROSTER.accept

---------------------------------------------------------------------------
-- map / finish
---------------------------------------------------------------------------
local function map_message(rec, ctx)
	if rec._recalled == true then
		return nil -- recalled later in Easemob: gone for its users
	end
	local chat_type = rec.chat_type
	local gid = str(rec._group_id)
	local room = rec._chatroom == true or chat_type == "chatroom" or (gid and groups[gid] and groups[gid].room)
	if room and not CHATROOMS then
		return nil
	end
	local t = immigrate.seconds(rec.timestamp)
	local from = party(rec, "from")
	if not from then
		return nil, "message has no usable sender (from)"
	end
	if chat_type == "chat" then
		local to = party(rec, "to")
		if not to then
			return nil, "message has no usable receiver (to)"
		end
		local body = msg_body(rec, false)
		if not body then
			return nil
		end
		return {
			kind = "c2c_msg",
			From_Account = from,
			To_Account = to,
			MsgTimeStamp = t,
			MsgBody = body,
			CloudCustomData = cloud_custom_data(rec),
			_source_id = ctx.source_id or str(rec.msg_id),
		}
	end
	if not gid then
		return nil, "group message names no group"
	end
	local body = msg_body(rec, true)
	if not body then
		return nil
	end
	local g = group_state(gid, t)
	g.msgs = g.msgs + 1
	g.room = g.room or room
	if not g.senders[from] then
		g.senders[from] = t
	end
	return {
		kind = "group_msg",
		GroupId = immigrate.groupid(gid),
		From_Account = from,
		SendTime = t,
		MsgBody = body,
		CloudCustomData = cloud_custom_data(rec),
		_source_id = ctx.source_id or str(rec.msg_id),
	}
end

local function map_group_event(rec)
	local gid = str(rec._group_id)
	if not gid then
		return nil, "muc event names no group"
	end
	local t = immigrate.seconds(rec.timestamp)
	local g = group_state(gid, t)
	g.events = g.events + 1
	g.room = g.room or rec._chatroom == true
	local op = rec.payload.operation
	local apply = MUC[op]
	if apply then
		apply(g, rec, t)
	end
	return nil
end

local function map_roster(rec)
	local op = rec.payload.operation
	local apply = ROSTER[op]
	if not apply then
		return nil -- add (a request), decline, remote_decline: no relationship
	end
	if rec._from_admin == true or not str(rec._from) or not str(rec._to) then
		return nil, string.format("roster %s event without two users", op)
	end
	local a, b = party(rec, "from"), party(rec, "to")
	if a == b then
		return nil, "roster event of a user with itself"
	end
	apply(a, b, immigrate.seconds(rec.timestamp))
	return nil
end

local function map_read_ack(rec)
	local reader, peer = party(rec, "from"), party(rec, "to")
	if not reader or not peer then
		return nil, "read_ack without two users"
	end
	local t = math.tointeger(rec._acked_time) or immigrate.seconds(rec.timestamp)
	return {
		kind = "c2c_read",
		Report_Account = reader,
		Peer_Account = peer,
		MsgReadTime = tostring(t),
	}
end

local function map_user(rec)
	local name = str(rec.username)
	if not name then
		return nil, "user without username"
	end
	local uid = immigrate.userid(name)
	local meta = type(rec._metadata) == "table" and rec._metadata or {}
	local nick, face = str(meta.nickname), str(meta.avatarurl)
	if not accounts[uid] then
		accounts[uid] = true
		immigrate.emit({
			kind = "account",
			UserID = uid,
			Nick = nick and immigrate.truncate(nick, NICK_MAX),
			FaceUrl = face and #face <= FACE_MAX and face or nil,
			_source_id = "user:" .. uid,
		})
	end
	local items = {}
	for _, key in ipairs(sorted_keys(meta)) do
		local rule = PROFILE_TAGS[key]
		if rule then
			local tag, value = rule, meta[key]
			if type(rule) == "table" then
				tag, value = rule.tag, rule.value(value)
			elseif type(value) == "string" then
				value = immigrate.truncate(value, 500)
			end
			if value ~= nil and value ~= null then
				items[#items + 1] = { Tag = tag, Value = value }
			end
		elseif key ~= "nickname" and key ~= "avatarurl" and not warned_keys[key] then
			warned_keys[key] = true
			immigrate.log("warn", "metadata key '" .. key .. "' has no profile tag (see PROFILE_TAGS); not migrated")
		end
	end
	rest_contacts[uid] = true
	for _, c in ipairs(rec._contacts or {}) do
		local peer = str(c) and account_for(immigrate.userid(c))
		if peer and peer ~= uid then
			local key, x, y = pair_key(uid, peer)
			rest_friend[key] = { a = x, b = y }
		end
	end
	rest_blocks[uid] = true
	for _, b in ipairs(rec._blocks or {}) do
		local peer = str(b) and account_for(immigrate.userid(b))
		if peer and peer ~= uid then
			rest_block[uid .. "\0" .. peer] = { from = uid, to = peer }
		end
	end
	if #items > 0 then
		return { kind = "profile", From_Account = uid, ProfileItem = items }
	end
	return nil
end

local function map_chatgroup(rec)
	local gid = str(rec.groupid) or str(rec.id)
	if not gid then
		return nil, "chat group without groupid"
	end
	local created = num(rec.created)
	local g = group_state(gid, nil)
	g.rest = {
		name = str(rec.name) or str(rec.groupname),
		description = str(rec.description),
		maxusers = math.tointeger(num(rec.maxusers)),
		public = rec.public == true,
		membersonly = rec.membersonly == true,
		created = created and immigrate.seconds(math.tointeger(created) or created) or nil,
		members = {},
		admins = {},
	}
	local owner = bare_user(rec.owner)
	for _, m in ipairs(rec._members or {}) do
		if type(m) == "table" then
			if m.owner then
				owner = bare_user(m.owner) or owner
			elseif m.member then
				local u = bare_user(m.member)
				if u then
					g.rest.members[account_for(immigrate.userid(u))] = true
				end
			end
		end
	end
	if owner then
		g.owner = account_for(immigrate.userid(owner))
	end
	for _, a in ipairs(rec._admins or {}) do
		local u = bare_user(a)
		if u then
			local uid = account_for(immigrate.userid(u))
			g.rest.admins[uid] = true
			g.rest.members[uid] = true
		end
	end
	return nil
end

local STREAMS = {
	users = map_user,
	chatgroups = map_chatgroup,
	messages = map_message,
	groups = map_group_event,
	roster = map_roster,
	read_acks = map_read_ack,
	recalls = function()
		return nil -- applied by the plugin: the recalled message arrives with _recalled
	end,
}

function map(rec, ctx)
	pending = {}
	local handler = STREAMS[ctx.stream]
	if not handler then
		return nil, "unknown stream " .. tostring(ctx.stream)
	end
	local out, reason = handler(rec, ctx)
	if out == nil and reason ~= nil then
		return nil, reason
	end
	flush_accounts()
	return out
end

-- The group's creation time: the REST one when it precedes everything seen in
-- the group, else one second before the first event or message (members must
-- join, and messages be sent, after CreateTime).
local function create_time(g)
	local created = g.rest and g.rest.created
	if g.first and (not created or created >= g.first) then
		created = g.first - 1
	end
	return created
end

local function emit_members(g, tid, create)
	local members, admins = g.members, g.admins
	if g.rest then
		-- The REST lists are the current state; events only date the joins.
		members, admins = {}, g.rest.admins
		for uid in pairs(g.rest.members) do
			members[uid] = { join = g.first_join[uid] }
		end
	elseif g.events == 0 then
		-- Without any muc event the members are unknown: the senders of its
		-- messages are taken as members from creation.
		for uid in pairs(g.senders) do
			members[uid] = members[uid] or {}
		end
	end
	for _, uid in ipairs(sorted_keys(members)) do
		if uid ~= g.owner then
			immigrate.emit({
				kind = "group_member",
				GroupId = tid,
				Member_Account = uid,
				Role = admins[uid] and "Admin" or nil,
				JoinTime = members[uid].join or (create and create + 1),
			})
		end
	end
end

local function finish_groups()
	for _, gid in ipairs(sorted_keys(groups)) do
		local g = groups[gid]
		-- Nothing to keep: chat rooms when they are not wanted, and groups deleted
		-- in Easemob that have no message history here.
		if (g.room and not CHATROOMS or g.destroyed) and g.msgs == 0 and not g.rest then
			goto continue
		end
		if g.room and not CHATROOMS and not g.rest then
			immigrate.log("warn", string.format(
				"group %s turned out to be a chat room after %d of its messages were mapped; imported as ChatRoom",
				gid, g.msgs))
		end
		local create = create_time(g)
		local tid = immigrate.groupid(gid)
		local rest = g.rest or {}
		local public = rest.public and not g.room
		immigrate.emit({
			kind = "group",
			GroupId = tid,
			Type = g.room and "ChatRoom" or (public and "Public" or "Private"),
			Name = immigrate.truncate(rest.name or gid, GROUP_NAME_MAX),
			Introduction = rest.description and immigrate.truncate(rest.description, GROUP_INTRO_MAX),
			MaxMemberCount = rest.maxusers and rest.maxusers <= GROUP_MAX_MEMBERS and rest.maxusers or nil,
			ApplyJoinOption = public and (rest.membersonly and "NeedPermission" or "FreeAccess") or nil,
			Owner_Account = g.owner,
			CreateTime = create,
			_source_id = "group:" .. gid,
		})
		emit_members(g, tid, create)
		::continue::
	end
end

local function finish_roster()
	local final_friends, final_blocks = {}, {}
	for key, f in pairs(friends) do
		local known = rest_contacts[f.a] or rest_contacts[f.b]
		if not known or rest_friend[key] then
			final_friends[key] = f
		end
	end
	for key, f in pairs(rest_friend) do
		final_friends[key] = final_friends[key] or f
	end
	for key, b in pairs(blocks) do
		if not rest_blocks[b.from] then
			final_blocks[key] = b
		end
	end
	for key, b in pairs(rest_block) do
		final_blocks[key] = b
	end
	for _, key in ipairs(sorted_keys(final_friends)) do
		local f = final_friends[key]
		-- Tencent's blocklist removes a friendship: a pair blocked either way at
		-- the end is not imported as friends.
		if not final_blocks[f.a .. "\0" .. f.b] and not final_blocks[f.b .. "\0" .. f.a] then
			immigrate.emit({ kind = "friend", From_Account = f.a, To_Account = f.b, AddSource = ADD_SOURCE,
				AddTime = f.since })
			immigrate.emit({ kind = "friend", From_Account = f.b, To_Account = f.a, AddSource = ADD_SOURCE,
				AddTime = f.since })
		end
	end
	for _, key in ipairs(sorted_keys(final_blocks)) do
		local b = final_blocks[key]
		immigrate.emit({ kind = "blacklist", From_Account = b.from, To_Account = b.to })
	end
end

function finish(ctx)
	finish_groups()
	finish_roster()
	return nil
end
