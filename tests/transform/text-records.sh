#!/bin/sh
# Records as text (IMMIGRATE_NO_TEXT_RECORDS unset: the jsonl plugin hands
# checked lines over as text and the script decodes them) against records as
# Jansson values: on a corpus with bad and unusual lines, the stage holds
# exactly the same records, dead letters and raw rows either way, and map()
# sees the very same tables (types, integer or float, shapes of empty tables,
# immigrate.null, duplicate keys, escapes, deep nesting).
. "$top_srcdir/tests/lib.sh"
[ -x "$IMMIGRATE" ] || skip_all "immigrate not built"
command -v sqlite3 >/dev/null 2>&1 || skip_all "the sqlite3 command is not installed"
ls "$top_builddir"/plugins/jsonl/.libs/jsonl.so >/dev/null 2>&1 || skip_all "the jsonl plugin is not built"
make_tmpdir
cd "$TMPD" || exit 1

sh "$top_srcdir/tests/transform/gen-chat.sh" 3000 >in.jsonl
# Lines each path must treat alike: odd but valid ones (some only the full
# parse takes), and bad ones that must give the same dead letters.
cat >>in.jsonl <<'LINES'
{"type":"user","id":"esc","name":"tab\tquote\"slash\/ \u00e9\ud83d\ude00 \u4e16"}
{"type":"user","id":"dup","name":"first","name":"second"}
{"type":"user","id":"big","name":"n","n":[9223372036854775807,-9223372036854775808,-0,-0.0,1e300,1.5e-320,0.1]}
{"type":"user","id":"empty","name":"e","o":{},"a":[],"z":null,"t":true,"f":false}
{"type":"user","id":"escaped-key","na\u006de":"Key"}
{"type":"user","id":"toobig","n":9223372036854775808}
{"type":"user","id":"overflow","n":1e400}
{"type":"user","id":"nul","name":"a\u0000b"}
{"type":"user","id":"lone","name":"\ud800"}
{"type":"user","id":"ctl","name":"a	b"}
{"type":"user","id":"trail","name":"x"} x
{"type":"user","id":"bad escape","name":"\q"}
["not", "an", "object"]
"a string"
{"type":"user","id":"deep","d":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}
{"type":"user","id":"deep63","d":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}
   {"type":"user" , "id" : "spaces" , "name" : "S" }   
{"type":"user","id":"esc\u0061ped-id","name":"E"}
{"type":"user","id":1,"name":"D","id":"last-id-wins"}
{"type":"user","id":"first","name":"D","id":-0}
{"type":"user","id":1.5,"name":"R"}
{"type":"user","nested":{"id":"not-top-level"},"name":"N"}
LINES
printf '{"type":"user","id":"latin1","name":"caf\351"}\n' >>in.jsonl
cp "$top_srcdir/tests/transform/chat.lua" chat.lua

# show.lua: every record becomes a script dead letter whose reason spells out
# the table map() got (keys sorted: pairs order differs between processes).
cat >show.lua <<'LUA'
local function show(v)
	local t = type(v)
	if v == immigrate.null then return "null" end
	if t == "number" then return math.type(v) .. ":" .. string.format("%.17g", v) end
	if t ~= "table" then return t .. ":" .. tostring(v) end
	if next(v) == nil then return "empty" .. immigrate.json_encode(v) end
	local keys = {}
	for k in pairs(v) do keys[#keys + 1] = k end
	table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
	local parts = {}
	for _, k in ipairs(keys) do parts[#parts + 1] = math.type(k) or type(k) .. ":" .. tostring(k) .. "=" .. show(v[k]) end
	return (getmetatable(v) and "M" or "") .. "{" .. table.concat(parts, ",") .. "}"
end
function map(rec, ctx)
	error(ctx.stream .. " " .. tostring(ctx.source_id) .. " " .. show(rec), 0)
end
LUA
for s in chat show; do
	cat >"$s-job.lua" <<EOJ
return { source = { plugin = "jsonl", path = "in.jsonl", id_field = "id" }, script = "$s.lua", state = env("STATE") }
EOJ
done

dump() {
	sqlite3 "$1" "select kind, conv, ord, payload, dedupe_key, source_id from records order by id;
		select stage, coalesce(kind, ''), coalesce(origin, ''), coalesce(raw, ''), coalesce(payload, ''),
			coalesce(code, ''), reason from dead_letters order by id;
		select stream, coalesce(source_id, ''), origin, data from raw order by id;"
}

for s in chat show; do
	STATE=$s-text.db "$IMMIGRATE" run "$s-job.lua" --stage-only >"$s-text.out" 2>&1
	text_rc=$?
	IMMIGRATE_NO_TEXT_RECORDS=1 STATE=$s-data.db "$IMMIGRATE" run "$s-job.lua" --stage-only >"$s-data.out" 2>&1
	is "$text_rc" "$?" "$s.lua: same exit status with and without text records"
	dump "$s-text.db" >"$s-text.dump"
	dump "$s-data.db" >"$s-data.dump"
	cmp -s "$s-text.dump" "$s-data.dump"
	ok $? "$s.lua: the stage is identical with and without text records ($(wc -l <"$s-text.dump") lines)"
	diff "$s-data.dump" "$s-text.dump" | head -10 | sed 's/^/# /'
done
is "$(sqlite3 chat-text.db "select count(*) from records")" "$(sqlite3 chat-data.db "select count(*) from records")" \
	"chat.lua stages as many records either way"
is "$(sqlite3 show-text.db "select count(*) from dead_letters where stage = 'parse'")" 12 \
	"12 lines are parse dead letters (2 from the generator, 10 here)"
grep -q 'records deep63 {' show-text.dump; ok $? "a value 64 levels deep reaches map()"
grep -q 'nested deeper than 64' show-text.dump; ok $? "one 65 levels deep fails as it did with Jansson values"
grep -q 'name=string:second' show-text.dump; ok $? "the last of duplicate keys wins"
is "$(sqlite3 show-text.db "select group_concat(coalesce(source_id, '-'), ' ') from (select source_id from raw order by id desc limit 5 offset 0) ")" \
	"- - 0 last-id-wins escaped-id" "source ids (the last five raw rows, newest first) from id_field: escaped, last of duplicates, -0, a real, nested"
grep -q 'nameKey\|name=string:Key' show-text.dump; ok $? "an escaped key is the key it spells"

# Resuming decodes the stored raw text: killed mid-run and resumed, the stage
# is what a clean run made.
(IMMIGRATE_EXTRACT_BATCH=7 IMMIGRATE_TEST_KILL_AT=1500 STATE=resumed.db \
	exec "$IMMIGRATE" run chat-job.lua --stage-only >resumed.1 2>&1)
is "$?" 137 "a run killed after 1500 records"
STATE=resumed.db "$IMMIGRATE" run chat-job.lua --stage-only >resumed.2 2>&1
grep -q 'mapped the [1-9][0-9]* native records staged before again' resumed.2
ok $? "the next run replays the committed raw records"
dump resumed.db >resumed.dump
cmp -s chat-data.dump resumed.dump
ok $? "and stages exactly what a clean run with Jansson values stages"
diff chat-data.dump resumed.dump | head -6 | sed 's/^/# /'
done_testing
