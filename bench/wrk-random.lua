-- Drives wrk with GET or PUT /kv/{key} on keys drawn at random from a file, and prints its
-- summary as one JSON line (bench/lib/load-generator.ts reads it). Settings come from the
-- environment:
--   BENCH_METHOD       GET or PUT
--   BENCH_KEY_FILE     lines "key ..." (the bench's uuid files); the first field is the key
--   BENCH_KEYS         how many of the file's first lines to draw from
--   BENCH_VALUE_BYTES  PUT body size
--   BENCH_POOL_BYTES   most bytes of prebuilt PUT requests (default 128 MiB)
--   BENCH_GET_PATH     path before the key of a GET (default /kv/; Webdis: /GET/)
--   BENCH_PUT_PATH     path before the key of a PUT (default /kv/; Webdis: /SET/)
--
-- Every request is built in init(), so that per request Lua only draws a number and hands
-- wrk a prebuilt string: the generator spends the same few instructions on ours and on bare
-- uWS, whatever the value size. GETs are prebuilt for every key. PUTs are prebuilt for every
-- key when they fit in BENCH_POOL_BYTES (100,000 keys with 1 KiB values do); larger PUTs
-- (64 KiB and 1 MiB values) go to a pool of that many bytes of requests on keys drawn at
-- random (2,044 and 127 requests), rather than copying a megabyte in Lua per request, which
-- would slow the generator and cap bare uWS more than ours.
local method = os.getenv("BENCH_METHOD") or "GET"
local keyFile = assert(os.getenv("BENCH_KEY_FILE"), "BENCH_KEY_FILE is not set")
local count = tonumber(os.getenv("BENCH_KEYS") or "100000")
local size = tonumber(os.getenv("BENCH_VALUE_BYTES") or "36")
local poolBytes = tonumber(os.getenv("BENCH_POOL_BYTES") or tostring(128 * 1024 * 1024))
local getPath = os.getenv("BENCH_GET_PATH") or "/kv/"
local putPath = os.getenv("BENCH_PUT_PATH") or "/kv/"

local requests = {}
local n = 0

init = function(args)
  -- Each wrk thread has its own Lua state: seed each differently.
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
  local keys = {}
  for line in io.lines(keyFile) do
    local space = line:find(" ", 1, true)
    keys[#keys + 1] = space and line:sub(1, space - 1) or line
    if #keys == count then break end
  end
  assert(#keys == count, "the key file has fewer than BENCH_KEYS lines")
  if method == "GET" then
    for i = 1, #keys do requests[i] = wrk.format("GET", getPath .. keys[i]) end
  else
    local body = string.rep("v", size)
    local fit = math.max(1, math.floor(poolBytes / (size + 128)))
    if fit >= #keys then
      for i = 1, #keys do requests[i] = wrk.format("PUT", putPath .. keys[i], nil, body) end
    else
      for i = 1, fit do requests[i] = wrk.format("PUT", putPath .. keys[math.random(#keys)], nil, body) end
    end
  end
  n = #requests
end

request = function()
  return requests[math.random(n)]
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"seconds":%.6f,"p50":%.3f,"p99":%.3f,"p999":%.3f,"errors":%d,"non2xx":%d}\n',
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    e.connect + e.read + e.write + e.timeout, e.status))
end
