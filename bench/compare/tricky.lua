-- Tables the output path must turn into records exactly as before: markers,
-- empty tables, integral floats, holes, bad values, emitted and returned
-- records, arrays of them, finish(). One case per native record (rec.t).
local n = 0
local function msg(text, extra)
	n = n + 1
	local r = { kind = "c2c_msg", From_Account = "u" .. (n % 3), To_Account = "v" .. (n % 5),
		MsgTimeStamp = 1700000000 + n, MsgBody = { immigrate.text(text) } }
	for k, v in pairs(extra or {}) do r[k] = v end
	return r
end
local shared = { MsgType = "TIMTextElem", MsgContent = { Text = "shared" } }
local cases = {
	plain = function(rec) return msg("plain " .. rec.i) end,
	emit_and_array = function(rec)
		immigrate.emit({ kind = "account", UserID = "e" .. rec.i })
		immigrate.emit(msg("emitted"))
		return { msg("a1"), msg("a2", { _source_id = "s" .. rec.i }) }
	end,
	empty_body = function() return msg("x", { MsgBody = {} }) end,
	forced_object = function() return msg("x", { MsgBody = { { MsgType = "TIMCustomElem", MsgContent = immigrate.object({}) } } }) end,
	forced_array = function() return msg("x", { MsgBody = immigrate.array({ shared }) }) end,
	forced_array_obj = function() return msg("x", { MsgBody = immigrate.array({ a = 1 }) }) end,
	integral_float = function() return msg("x", { MsgTimeStamp = 1.7e9, MsgSeq = 42.0 }) end,
	real_random = function() return msg("x", { MsgRandom = 2.5 }) end,
	mixed = function() return msg("x", { MsgBody = { shared, extra = 1 } }) end,
	sparse = function() return msg("x", { MsgBody = { [1] = shared, [3] = shared } }) end,
	holes = function() local t = { shared, nil, shared }; return msg("x", { MsgBody = t }) end,
	zero_key = function() return msg("x", { MsgBody = { [0] = shared } }) end,
	bad_utf8 = function() return msg("\xff\xfe") end,
	bad_key = function() return msg("x", { ["\xffk"] = 1 }) end,
	func = function() return msg("x", { CloudCustomData = print }) end,
	nan = function() return msg("x", { MsgSeq = 0/0 }) end,
	inf = function() return msg("x", { MsgSeq = math.huge }) end,
	deep = function()
		local t = {}
		local c = t
		for _ = 1, 70 do c.x = {}; c = c.x end
		return msg("x", { MsgBody = { { MsgType = "TIMCustomElem", MsgContent = t } } })
	end,
	cycle = function() local t = {}; t.self = t; return msg("x", { CloudCustomData = t }) end,
	not_table = function() return "x" end,
	array_of_nonrecord = function() return { 1, 2 } end,
	neither = function() return { foo = 1 } end,
	item_not_table = function() return { msg("ok"), 5 } end,
	item_array = function() return { msg("ok"), { 1, 2 } } end,
	emit_array = function() immigrate.emit({ 1, 2 }); return nil end,
	nulls = function() return msg("x", { _source_id = immigrate.null, CloudCustomData = immigrate.null }) end,
	null_sid = function() return msg("x", { _source_id = immigrate.null }) end,
	int_sid = function() return msg("x", { _source_id = -17 }) end,
	float_sid = function() return msg("x", { _source_id = 3.0 }) end,
	reason = function() return nil, "no thanks" end,
	raise = function() error("boom") end,
	unknown_kind = function() return { kind = "nope" } end,
	no_kind_array = function() return {} end,
	emitted_then_error = function() immigrate.emit(msg("lost")); error("after emit") end,
	group = function(rec)
		return { kind = "group_msg", GroupId = immigrate.groupid("room " .. rec.i), From_Account = "u1",
			SendTime = 1600000000 + rec.i, MsgBody = { immigrate.text("g") } }
	end,
	keys_escape = function() return msg("x", { MsgBody = { { MsgType = "TIMCustomElem", MsgContent = { ["q\"k"] = 1, ["\1"] = 2, Data = "d\0e" } } } }) end,
	wide = function()
		local c = { Data = "w" }
		for i = 1, 40 do c["k" .. (41 - i)] = i end
		return msg("x", { MsgBody = { { MsgType = "TIMCustomElem", MsgContent = c } } })
	end,
	account_nick = function(rec) return { kind = "account", UserID = "n" .. rec.i, Nick = rec.i % 2 == 0 and "nick" or 5 } end,
	rec_passthrough = function(rec) return rec.payload end,
}
function map(rec, ctx)
	local f = cases[rec.t]
	if not f then return nil, "unknown case " .. tostring(rec.t) end
	return f(rec)
end
function finish(ctx)
	immigrate.emit({ kind = "account", UserID = "finisher" })
	return { msg("from finish"), { kind = "account", UserID = "" } }
end
