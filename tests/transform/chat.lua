-- A non-trivial mapping script for the end-to-end test and the benchmark: a
-- self-built chat backend's export (users, direct and room messages) to IM
-- records, using the helpers and keeping state (users already seen).

local seen = {}

local function account(id, name)
	local uid = immigrate.userid(id)
	if seen[uid] then return nil end
	seen[uid] = true
	return { kind = "account", UserID = uid, Nick = name and immigrate.truncate(name, 100) or nil }
end

local function body(m)
	if m.image then
		return { immigrate.image { url = m.image.url, width = m.image.w, height = m.image.h, format = "png" } }
	end
	return { immigrate.text(immigrate.truncate(m.text or "", 4000)) }
end

function map(rec, ctx)
	if rec.type == "user" then
		return account(rec.id, rec.name)
	elseif rec.type ~= "message" then
		return nil, "unknown record type " .. tostring(rec.type)
	end
	local from = immigrate.userid(rec.from)
	local a = account(rec.from)
	if a then immigrate.emit(a) end
	if rec.room then
		return { kind = "group_msg", GroupId = immigrate.groupid(rec.room), From_Account = from,
			SendTime = immigrate.seconds(rec.sent_at), MsgBody = body(rec), _source_id = rec.id }
	end
	return { kind = "c2c_msg", From_Account = from, To_Account = rec.to and immigrate.userid(rec.to),
		MsgTimeStamp = immigrate.seconds(rec.sent_at), MsgBody = body(rec), _source_id = rec.id }
end
