-- wrk script for `make bench`: POSTs signals with a distinct trade_id per request.
--
-- Each wrk thread has its own Lua state; a per-thread counter makes ids
-- "<BENCH_PREFIX>-<thread>-<n>", so the harness can rebuild the exact set of ids that were sent
-- from the per-thread counters printed by done() and check the database row by row.
--   BENCH_PREFIX  id prefix (unique per run and level)
--   BENCH_MODE    "entry" (every request a SIGNAL_CREATED) or "mix" (entry, then an exit for the
--                 same trade; run with one connection per thread so the exit follows its entry)
--   BENCH_SECRET  sent as X-Webhook-Secret when set
-- Docs: https://github.com/wg/wrk/blob/master/SCRIPTING
local prefix = os.getenv("BENCH_PREFIX") or "bench"
local mode = os.getenv("BENCH_MODE") or "entry"
local secret = os.getenv("BENCH_SECRET")
local path = os.getenv("BENCH_PATH") or "/api/automated-signals/webhook"

local entry_fmt = '{"event_type":"SIGNAL_CREATED","trade_id":"%s","direction":"Bullish",'
  .. '"entry_price":16500.0,"stop_loss":16475.0,"symbol":"NQ"}'
local exit_fmt = '{"event_type":"EXIT_STOP_LOSS","trade_id":"%s","exit_price":16475.0}'

local threads = {}
local next_tid = 0

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  headers = { ["Content-Type"] = "application/json" }
  if secret and secret ~= "" then
    headers["X-Webhook-Secret"] = secret
  end
end

function request()
  counter = counter + 1
  local body
  if mode == "mix" then
    local id = string.format("%s-%d-%d", prefix, tid, math.floor((counter + 1) / 2))
    if counter % 2 == 1 then
      body = string.format(entry_fmt, id)
    else
      body = string.format(exit_fmt, id)
    end
  else
    body = string.format(entry_fmt, string.format("%s-%d-%d", prefix, tid, counter))
  end
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local generated = {}
  for _, t in ipairs(threads) do
    table.insert(generated, string.format('"%d":%d', t:get("tid"), t:get("counter") or 0))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,'
      .. '"status":%d,"timeout":%d},"latency_us":{"p50":%.0f,"p95":%.0f,"p99":%.0f,"max":%.0f,'
      .. '"mean":%.1f},"generated":{%s}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    latency.mean, table.concat(generated, ",")))
end
