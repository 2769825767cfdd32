-- The demo job: a self-built backend's export into the local IM emulator.
-- run-demo.sh starts immigrate-imsim and passes its address with
--   --set target.endpoint=http://127.0.0.1:PORT
return {
	source = { plugin = "jsonl", path = "sample.jsonl", id_field = "id" },
	script = "demo.lua",
	target = {
		endpoint = "http://127.0.0.1:0",
		sdkappid = 1400000000,
		admin = "administrator",
		key_file = "app.key",
	},
	state = "demo.db",
}
