-- Sendbird -> Tencent Cloud IM: the default mapping script for the sendbird plugin.
--
-- Input streams (in this order): users, channels, messages, blocks. What maps
-- where, and what does not, is documented in doc/sendbird.md.
--
-- Options (job file: script_options = { ... }):
--   group_type            "Private" (default, "Work" in new SDKs), "Public" or "ChatRoom"
--   system_account        sender of admin (ADMM) messages; default "sendbird_system"
--   admin_messages        "custom" (default): ADMM -> custom element; "skip": dropped
--   keep_removed          true: import messages deleted in Sendbird (default: skipped)
--   group_media_elements  true: files in groups as real image/video/sound/file elements
--                         (default: a custom element carrying url/name/type/size, since
--                         import_group_msg documents only text/face/location/custom)
--   truncate_long_text    true: cut texts over 10,000 bytes instead of dead-lettering
--                         messages over the 12,000-byte limit

-- Sendbird user metadata key -> Tencent custom profile tag. Custom tags must be
-- created in the IM console first (letters only, at most 8 after the prefix).
-- Keys not listed here are not migrated (a warning names each one once).
local PROFILE_TAGS = {
	emailId = "Tag_Profile_Custom_Email",
	-- department = "Tag_Profile_Custom_Dept",
	-- phone      = "Tag_Profile_Custom_Phone",
}

local null = immigrate.null

local function opt(name, default)
	local v = immigrate.option(name)
	if v == nil or v == null then
		return default
	end
	return v
end

local GROUP_TYPE = opt("group_type", "Private")
if GROUP_TYPE == "Work" then
	GROUP_TYPE = "Private"
end
local SYSTEM_ACCOUNT = opt("system_account", "sendbird_system")
local ADMIN_MESSAGES = opt("admin_messages", "custom")
local KEEP_REMOVED = opt("keep_removed", false) == true
local GROUP_MEDIA = opt("group_media_elements", false) == true
local TRUNCATE_TEXT = opt("truncate_long_text", false) == true
local TEXT_LIMIT = 10000

-- Byte limits from the Tencent API reference.
local NICK_MAX, PROFILE_VALUE_MAX = 500, 500
local GROUP_NAME_MAX, GROUP_FACE_MAX = 30, 100

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

local function limited(s, n, what, id)
	if s and #s > n then
		immigrate.log("warn", string.format("%s of %s is over %d bytes; truncated", what, id, n))
		return immigrate.truncate(s, n)
	end
	return s
end

---------------------------------------------------------------------------
-- Users: accounts are made once per user, whether the user comes from the
-- users export or only appears in a channel or a message.
---------------------------------------------------------------------------
local accounts = {}          -- sendbird user_id -> true once an account record was made
local warned_keys = {}

local function account(sb_id, nick, face)
	local uid = immigrate.userid(sb_id)
	if not accounts[sb_id] then
		accounts[sb_id] = true
		immigrate.emit({
			kind = "account",
			UserID = uid,
			Nick = limited(str(nick), NICK_MAX, "nickname", sb_id),
			-- A URL cut short is useless: drop long ones instead.
			FaceUrl = (str(face) and #face <= PROFILE_VALUE_MAX) and face or nil,
			_source_id = sb_id,
		})
	end
	return uid
end

local function map_user(u)
	local id = str(u.user_id)
	if not id then
		return nil, "user without user_id"
	end
	accounts[id] = nil -- the users export wins over a name seen in a channel earlier
	local uid = account(id, u.nickname, u.profile_url)
	local items = {}
	if type(u.metadata) == "table" then
		local keys = {}
		for k in pairs(u.metadata) do
			keys[#keys + 1] = k
		end
		table.sort(keys)
		for _, k in ipairs(keys) do
			local tag, v = PROFILE_TAGS[k], str(u.metadata[k])
			if tag and v then
				items[#items + 1] = { Tag = tag, Value = limited(v, PROFILE_VALUE_MAX, "metadata " .. k, id) }
			elseif not tag and not warned_keys[k] then
				warned_keys[k] = true
				immigrate.log("warn", "user metadata key '" .. k .. "' has no profile tag in PROFILE_TAGS; not migrated")
			end
		end
	end
	if #items > 0 then
		return { kind = "profile", From_Account = uid, ProfileItem = items, _source_id = id }
	end
	return nil
end

---------------------------------------------------------------------------
-- Channels. A distinct channel with exactly two members is a one-to-one
-- conversation; everything else becomes a group, made in finish() once every
-- message is known (CreateTime must precede the first message, JoinTime must not
-- follow a member's first message).
---------------------------------------------------------------------------
local channels = {}          -- channel_url -> channel state
local channel_order = {}     -- channel_urls in first-seen order, for a stable finish()

local function member_id(m)
	if type(m) ~= "table" then
		return nil
	end
	return str(m.user_id)
end

local function new_channel(url)
	local ch = {
		url = url,
		members = {},        -- user_id -> { role =, joined = seconds or nil }
		member_order = {},
		first_sent = {},     -- user_id -> first message time (s)
		first_msg = nil,     -- first message time in the channel (s)
		system_used = false,
	}
	channels[url] = ch
	channel_order[#channel_order + 1] = url
	return ch
end

local function add_member(ch, id, role, joined)
	local m = ch.members[id]
	if not m then
		m = {}
		ch.members[id] = m
		ch.member_order[#ch.member_order + 1] = id
	end
	if role == "operator" then
		m.role = "Admin"
	end
	if joined and not m.joined then
		m.joined = joined
	end
end

local function emit_c2c_reads(ch)
	if type(ch.read_receipt) ~= "table" then
		return
	end
	for _, reader in ipairs(ch.pair) do
		local ts = ch.read_receipt[reader]
		if math.type(ts) == "integer" and ts > 0 then
			local peer = reader == ch.pair[1] and ch.pair[2] or ch.pair[1]
			immigrate.emit({
				kind = "c2c_read",
				Report_Account = immigrate.userid(reader),
				Peer_Account = immigrate.userid(peer),
				MsgReadTime = tostring(immigrate.seconds(ts)),
				_source_id = ch.url .. ":" .. reader,
			})
		end
	end
end

local function map_channel(c)
	local url = str(c.channel_url)
	if not url then
		return nil, "channel without channel_url"
	end
	local ch = channels[url]
	if ch and ch.info then
		return nil -- already known (the same channel in another export window)
	end
	ch = ch or new_channel(url)
	ch.info = true
	ch.name = str(c.name)
	ch.cover = str(c.cover_url)
	ch.created = math.type(c.created_at) == "integer" and c.created_at > 0 and immigrate.seconds(c.created_at) or nil
	ch.read_receipt = c.read_receipt
	if type(c.created_by) == "table" then
		ch.owner = str(c.created_by.user_id)
	end
	local list = type(c.members) == "table" and c.members or {}
	for _, m in ipairs(list) do
		local id = member_id(m)
		-- Invited users who never accepted are not members (Sendbird keeps them in the list).
		if id and m.state ~= "invited" then
			account(id, m.nickname or m.name, m.profile_url or m.image)
			local joined = math.type(m.joined_ts) == "integer" and m.joined_ts > 0 and immigrate.seconds(m.joined_ts) or nil
			add_member(ch, id, m.role, joined)
		end
	end
	if type(c.operators) == "table" then
		for _, o in ipairs(c.operators) do
			local id = member_id(o) or str(o)
			if id then
				account(id, type(o) == "table" and o.nickname or nil, type(o) == "table" and o.profile_url or nil)
				add_member(ch, id, "operator")
			end
		end
	end
	if c.is_distinct == true and #ch.member_order == 2 then
		ch.pair = { ch.member_order[1], ch.member_order[2] }
		emit_c2c_reads(ch)
	end
	return nil
end

---------------------------------------------------------------------------
-- Messages
---------------------------------------------------------------------------
local function mime_major(t)
	return (type(t) == "string" and t:match("^(%a+)/")) or ""
end

local function extension(name, mime)
	local ext = type(name) == "string" and name:match("%.(%w+)$")
	if not ext and type(mime) == "string" then
		ext = mime:match("/(%w+)")
	end
	return ext and ext:lower() or nil
end

-- The file of a FILE message: export files and the API nest it in `file`; some
-- API versions and SDK dumps put url/name/type/size on the message itself.
-- Thumbnails sit on the message in API answers, inside `file` in some exports.
local function file_of(m)
	local f = type(m.file) == "table" and m.file or {}
	if not str(f.url) and str(m.url) then
		f = { url = m.url, name = m.name, type = m.type ~= "FILE" and m.type or m.file_type, size = m.size }
	end
	if type(f.thumbnails) ~= "table" and type(m.thumbnails) == "table" then
		f = { url = f.url, name = f.name, type = f.type, size = f.size, thumbnails = m.thumbnails }
	end
	return f
end

-- The file element of a FILE message, for one-to-one (or groups with media on).
local function media_element(f)
	local url, name, mime = str(f.url), str(f.name), str(f.type)
	local size = math.type(f.size) == "integer" and f.size or nil
	local major = mime_major(mime)
	if major == "image" then
		local w, h
		if type(f.thumbnails) == "table" and type(f.thumbnails[1]) == "table" then
			w, h = f.thumbnails[1].real_width, f.thumbnails[1].real_height
		end
		return immigrate.image({ url = url, format = extension(name, mime), size = size,
			width = math.type(w) == "integer" and w or nil, height = math.type(h) == "integer" and h or nil })
	elseif major == "video" then
		local thumb = type(f.thumbnails) == "table" and type(f.thumbnails[1]) == "table" and str(f.thumbnails[1].url) or nil
		return immigrate.video({ url = url, size = size, format = extension(name, mime), thumb_url = thumb })
	elseif major == "audio" then
		return immigrate.sound({ url = url, size = size })
	end
	return immigrate.file({ url = url, size = size, name = name })
end

-- A FILE message as a custom element, for groups (see the header).
local function media_custom(f)
	local desc = "[" .. (mime_major(f.type) ~= "" and mime_major(f.type) or "file") .. "] " .. (str(f.name) or "")
	return immigrate.custom({
		data = immigrate.json_encode({ type = "sendbird_file", url = str(f.url), name = str(f.name),
			mime = str(f.type), size = math.type(f.size) == "integer" and f.size or nil }),
		desc = immigrate.truncate(desc, 200),
	})
end

local function cloud_data(m)
	local ct, data = str(m.custom_type), str(m.data)
	if ct or data then
		return immigrate.json_encode({ custom_type = ct, data = data })
	end
	return nil
end

local function text_of(m, id)
	local t = type(m.message) == "string" and m.message or ""
	if TRUNCATE_TEXT and #t > TEXT_LIMIT then
		immigrate.log("warn", "message " .. id .. " text is over " .. TEXT_LIMIT .. " bytes; truncated")
		t = immigrate.truncate(t, TEXT_LIMIT)
	end
	return t
end

-- The MsgBody of a message, or nil, reason.
local function body_of(m, id, in_group)
	local t = m.type
	if t == "MESG" then
		return { immigrate.text(text_of(m, id)) }
	elseif t == "FILE" then
		local f = file_of(m)
		if not str(f.url) then
			return nil, "FILE message without file.url"
		end
		if in_group and not GROUP_MEDIA then
			return { media_custom(f) }
		end
		return { media_element(f) }
	end
	-- ADMM and any other type: a custom element with the original fields.
	local text = text_of(m, id)
	return { immigrate.custom({
		data = immigrate.json_encode({ type = str(t) or "unknown", message = text,
			custom_type = str(m.custom_type), data = str(m.data) }),
		desc = immigrate.truncate(text, 200),
	}) }
end

local function note_sender(ch, sender, when)
	if not ch.first_msg or when < ch.first_msg then
		ch.first_msg = when
	end
	if not ch.first_sent[sender] or when < ch.first_sent[sender] then
		ch.first_sent[sender] = when
	end
end

local function map_message(m, ctx)
	local id = ctx.source_id or str(m.message_id)
	local url = str(m.channel_url)
	if not id then
		return nil, "message without message_id"
	end
	if not url then
		return nil, "message " .. id .. " without channel_url"
	end
	if m.is_removed == true and not KEEP_REMOVED then
		return nil
	end
	if math.type(m.created_at) ~= "integer" then
		return nil, "message " .. id .. " without created_at"
	end
	local when = immigrate.seconds(m.created_at)
	local ch = channels[url] or new_channel(url)

	local sender_sb
	if m.type == "ADMM" then
		if ADMIN_MESSAGES == "skip" then
			return nil
		end
		sender_sb = SYSTEM_ACCOUNT
		account(SYSTEM_ACCOUNT, "System", nil)
	else
		sender_sb = type(m.user) == "table" and str(m.user.user_id) or nil
		if not sender_sb then
			return nil, "message " .. id .. " has no sender (user.user_id)"
		end
		account(sender_sb, m.user.nickname, m.user.profile_url)
	end
	local from = immigrate.userid(sender_sb)

	if ch.pair then
		local body, why = body_of(m, id, false)
		if not body then
			return nil, why
		end
		local a, b = ch.pair[1], ch.pair[2]
		local out = {}
		-- An admin message in a one-to-one conversation reaches both sides.
		local peers = m.type == "ADMM" and { a, b } or { sender_sb == a and b or a }
		for _, peer in ipairs(peers) do
			out[#out + 1] = {
				kind = "c2c_msg",
				From_Account = from,
				To_Account = immigrate.userid(peer),
				MsgTimeStamp = when,
				MsgBody = body,
				CloudCustomData = cloud_data(m),
				_source_id = #peers > 1 and (id .. ":" .. peer) or id,
			}
		end
		return out
	end

	local body, why = body_of(m, id, true)
	if not body then
		return nil, why
	end
	note_sender(ch, sender_sb, when)
	if not ch.members[sender_sb] then
		-- Senders who have since left still need membership to own their history.
		add_member(ch, sender_sb, nil)
	end
	return {
		kind = "group_msg",
		GroupId = immigrate.groupid(url),
		From_Account = from,
		SendTime = when,
		MsgBody = body,
		_source_id = id,
	}
end

---------------------------------------------------------------------------
-- Blocks (pull mode): blocker -> blocked
---------------------------------------------------------------------------
local function map_block(b)
	local from, to = str(b.blocker_id), str(b.blocked_id)
	if not from or not to then
		return nil, "block without blocker_id/blocked_id"
	end
	account(from)
	account(to, type(b.blocked_user) == "table" and b.blocked_user.nickname or nil,
		type(b.blocked_user) == "table" and b.blocked_user.profile_url or nil)
	return { kind = "blacklist", From_Account = immigrate.userid(from), To_Account = immigrate.userid(to),
		_source_id = from .. "/" .. to }
end

local mappers = {
	users = map_user,
	channels = map_channel,
	messages = map_message,
	blocks = map_block,
}

function map(rec, ctx)
	local f = mappers[ctx.stream]
	if not f then
		return nil, "unknown stream " .. tostring(ctx.stream)
	end
	return f(rec, ctx)
end

---------------------------------------------------------------------------
-- Groups, once every message is known.
---------------------------------------------------------------------------
function finish(ctx)
	local out = {}
	for _, url in ipairs(channel_order) do
		local ch = channels[url]
		if not ch.pair then
			local gid = immigrate.groupid(url)
			-- CreateTime strictly before the first message (SendTime must follow it).
			local created = ch.created or ch.first_msg or 0
			if ch.first_msg and created >= ch.first_msg then
				created = ch.first_msg - 1
			end
			if created <= 0 then
				created = nil
			end
			local name = ch.name or url
			if #name > GROUP_NAME_MAX then
				if ch.name then
					immigrate.log("warn", "name of channel " .. url .. " is over " .. GROUP_NAME_MAX .. " bytes; truncated")
				end
				name = immigrate.truncate(name, GROUP_NAME_MAX)
			end
			local face = ch.cover
			if face and #face > GROUP_FACE_MAX then
				immigrate.log("warn", "cover_url of channel " .. url .. " is over " .. GROUP_FACE_MAX .. " bytes; not migrated")
				face = nil
			end
			local owner = ch.owner and ch.members[ch.owner] and ch.owner or nil
			out[#out + 1] = {
				kind = "group",
				GroupId = gid,
				Type = GROUP_TYPE,
				Name = name,
				FaceUrl = face,
				Owner_Account = owner and immigrate.userid(owner) or nil,
				CreateTime = created,
				_source_id = url,
			}
			for _, id in ipairs(ch.member_order) do
				if id ~= owner then
					local m = ch.members[id]
					-- After CreateTime, and no later than the member's first message.
					local join
					if created then
						join = created + 1
						if m.joined and m.joined > join then
							join = m.joined
						end
						local first = ch.first_sent[id]
						if first and join > first then
							join = first
						end
					end
					out[#out + 1] = {
						kind = "group_member",
						GroupId = gid,
						Member_Account = immigrate.userid(id),
						Role = m.role,
						JoinTime = join,
						_source_id = url .. ":" .. id,
					}
				end
			end
		end
	end
	return out
end
