-- wrk script for issue 20, the gateway route: POST /api/v1/ubicaciones with B fixes per request,
-- each for a random officer (as a device gateway forwards what its trackers sent).
--   wrk -t1 -c16 -d20s --latency -s lote.lua http://127.0.0.1:8031 -- TOKEN FIRST_ID [N] [B]
-- FIRST_ID..FIRST_ID+N-1 are the officer ids (N default 100 000), B fixes per request (default 50).
-- Fixes per second = wrk's requests/s × B (run.sh prints both).
local token, first, n, b
local counter = 0

function init(args)
  token = args[1]
  first = tonumber(args[2])
  n = tonumber(args[3] or "100000")
  b = tonumber(args[4] or "50")
  math.randomseed(os.time())
end

function request()
  local now = os.date("!%Y-%m-%dT%H:%M:%S", os.time())
  local fixes = {}
  for i = 1, b do
    counter = counter + 1
    fixes[i] = string.format(
      '{"efectivo_id":%d,"lat":%.6f,"lng":%.6f,"accuracy_m":5,"speed":1.5,"recorded_at":"%s.%03dZ"}',
      first + math.random(0, n - 1), 40.4168 + (math.random() - 0.5) * 0.4,
      -3.7038 + (math.random() - 0.5) * 0.6, now, counter % 1000)
  end
  return wrk.format("POST", "/api/v1/ubicaciones", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }, '{"ubicaciones":[' .. table.concat(fixes, ",") .. ']}')
end
