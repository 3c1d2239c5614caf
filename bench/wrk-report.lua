-- Drives wrk over rotating keys and prints its summary as one JSON line, with the
-- p99.9 latency wrk's own report leaves out. Settings come from the environment.
local method = os.getenv("BENCH_METHOD") or "GET"
local prefix = os.getenv("BENCH_PREFIX") or "/kv/bench:"
local keys = tonumber(os.getenv("BENCH_KEYS") or "1000")
local value = "e8c12114-674b-4f75-a753-c2e1c33ad4bd"
local i = 0

request = function()
  i = (i + 1) % keys
  if method == "PUT" then
    return wrk.format("PUT", prefix .. i, nil, value)
  end
  return wrk.format(method, prefix .. i)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"seconds":%.6f,"p50":%.3f,"p99":%.3f,"p999":%.3f,"errors":%d,"non2xx":%d}\n',
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    e.connect + e.read + e.write + e.timeout, e.status))
end
