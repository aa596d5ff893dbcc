-- wrk script for issue 20: PUT /api/v1/efectivos/{id}/ubicacion for random officers.
--   wrk -t1 -c64 -d30s --latency -s ubicacion.lua http://127.0.0.1:8031 -- TOKEN FIRST_ID [N]
--   wrk ... -s ubicacion_record.lua ... -- TOKEN FIRST_ID N RECORD_FILE   (crash test)
-- FIRST_ID..FIRST_ID+N-1 are the officer ids (N default 100 000). Each request carries a
-- recorded_at (now + a per-request millisecond counter, so (officer, recorded_at) is unique) and
-- X-Request-ID "officer,recorded_at"; the server echoes the header. With ubicacion_record.lua
-- every request answered 200 is appended to it as "officer,recorded_at" (the crash test's ledger).
-- The pre-issue-20 server ignores recorded_at (unknown field) and stamps server time.
local token, first, n
record = nil -- global: ubicacion_record.lua writes its ledger here
local counter = 0

function init(args)
  token = args[1]
  first = tonumber(args[2])
  n = tonumber(args[3] or "100000")
  if args[4] then
    record = io.open(args[4], "a")
    record:setvbuf("line")
  end
  math.randomseed(os.time())
end

function request()
  counter = counter + 1
  local id = first + math.random(0, n - 1)
  local now = os.time()
  local rec = os.date("!%Y-%m-%dT%H:%M:%S", now) .. string.format(".%03dZ", counter % 1000)
  local body = string.format('{"lat":%.6f,"lng":%.6f,"accuracy_m":5,"speed":1.5,"recorded_at":"%s"}',
    40.4168 + (math.random() - 0.5) * 0.4, -3.7038 + (math.random() - 0.5) * 0.6, rec)
  return wrk.format("PUT", "/api/v1/efectivos/" .. id .. "/ubicacion", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["X-Request-ID"] = id .. "," .. rec,
  }, body)
end

