-- wrk script for bench/sync.sh: POSTs distinct Tencent C2C.CallbackAfterSendMsg
-- callbacks (each body unique, so each is a new event the daemon must store).
-- The URL given to wrk carries the query (SdkAppid, Sign, RequestTime...).
local next_tid = 0
function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
end

local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
  n = n + 1
  local t = tid or 0
  local body = string.format(
    '{"CallbackCommand":"C2C.CallbackAfterSendMsg","From_Account":"user%d","To_Account":"peer%d",' ..
    '"MsgSeq":%d,"MsgRandom":%d,"MsgTime":1700000000,"MsgKey":"%d_%d_1700000000","SendMsgResult":0,' ..
    '"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"benchmark message %d from thread %d"}}]}',
    n % 1000, t, n, t, n, t, n, t)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  io.write(string.format("requests %d, errors: connect %d read %d write %d status %d timeout %d\n",
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
  io.write(string.format("ack/s %.0f\n", summary.requests / (summary.duration / 1e6)))
  for _, p in ipairs({ 50, 90, 99, 99.9 }) do
    io.write(string.format("p%g %.2f ms\n", p, latency:percentile(p) / 1000))
  end
end
