-- wrk script shared by every scenario, keygate and baseline alike, so both
-- sides get exactly the same load. Set by the environment:
--   KG_METHOD, KG_PATH, KG_BODY   the request (default POST /v1/chat {"message":"hello"})
--   KG_AUTH                       a static Authorization header value, if any
--   KG_KEYS                       "random": a new well-formed unknown key per request;
--                                 a file name: a key drawn at random from its lines per request
--   KG_ORDER                      "seq" with a KG_KEYS file: its lines in turn instead, so that a
--                                 run of at least as many requests as lines uses every key
--   KG_PREFIX                     key prefix for "random" (default kg_live_)
-- It counts answers by status in the response hook and prints one line:
--   RESULT rps=.. p50_us=.. p99_us=.. requests=.. s2xx=.. s429=.. other=.. sockerr=..

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

wrk.method = os.getenv("KG_METHOD") or "POST"
wrk.path = os.getenv("KG_PATH") or "/v1/chat"
wrk.body = os.getenv("KG_BODY") or '{"message":"hello"}'
if wrk.method == "GET" then wrk.body = nil else wrk.headers["Content-Type"] = "application/json" end
local auth = os.getenv("KG_AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end

local keys_mode = os.getenv("KG_KEYS") or ""
local prefix = os.getenv("KG_PREFIX") or "kg_live_"
local alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
local chars = {}
for i = 1, #alphabet do chars[i] = alphabet:sub(i, i) end
local keys = {}
local seq = os.getenv("KG_ORDER") == "seq"
local nextKey = 0

function init(args)
  s2xx, s429, other = 0, 0, 0
  math.randomseed(os.time() * 1000 + (id or 0))
  if keys_mode ~= "" and keys_mode ~= "random" then
    for line in io.lines(keys_mode) do keys[#keys + 1] = line end
  end
end

if keys_mode ~= "" then
  local buf = {}
  function request()
    local key
    if keys_mode == "random" then
      for i = 1, 43 do buf[i] = chars[math.random(62)] end
      key = prefix .. table.concat(buf)
    elseif seq then
      nextKey = nextKey % #keys + 1
      key = keys[nextKey]
    else
      key = keys[math.random(#keys)]
    end
    wrk.headers["Authorization"] = "Bearer " .. key
    return wrk.format()
  end
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    s2xx = s2xx + 1
  elseif status == 429 then
    s429 = s429 + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("s2xx")
    b = b + t:get("s429")
    c = c + t:get("other")
  end
  local e = summary.errors
  io.write(string.format("RESULT rps=%.1f p50_us=%d p99_us=%d requests=%d s2xx=%d s429=%d other=%d sockerr=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    summary.requests, a, b, c, e.connect + e.read + e.write + e.timeout))
end
