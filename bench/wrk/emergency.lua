-- wrk script: POST /api/v1/tasks/emergency at random points within ~10 km of a centre.
-- Usage: wrk ... -s emergency.lua <BASE>/api/v1/tasks/emergency -- <TOKEN> [LAT] [LNG] [RADIUS_KM]
-- KEYED=1 in the environment: each request with its own Idempotency-Key.
-- TIPO=<codigo> in the environment: every emergency is a typed incident of that type (its
-- response plan and specialty preference apply); a binary that predates types ignores the field.
-- Counts every response status (wrk's "Non-2xx" ignores 404 = none available, which matters
-- here) and prints them in done().

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local lat0, lng0, radius_km

function init(args)
  local token = args[1] or os.getenv("TOKEN")
  if token == nil or token == "" then
    error("emergency.lua: pass the bearer token: -- <TOKEN>")
  end
  lat0 = tonumber(args[2] or "-34.60")
  lng0 = tonumber(args[3] or "-58.38")
  radius_km = tonumber(args[4] or "10")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
  math.randomseed(os.time() * 1000 + tid)
  statuses = {}
  -- KEYED=1: every request carries its own Idempotency-Key (the keyed dispatch path).
  keyed = os.getenv("KEYED") == "1"
  tipo = os.getenv("TIPO")
  run = os.time()
  sent = 0
end

function request()
  -- Uniform over the disc: r = R * sqrt(u).
  local r = radius_km * 1000 * math.sqrt(math.random())
  local theta = 2 * math.pi * math.random()
  local lat = lat0 + (r * math.cos(theta)) / 111320
  local lng = lng0 + (r * math.sin(theta)) / (111320 * math.cos(math.rad(lat0)))
  local body
  if tipo ~= nil and tipo ~= "" then
    body = string.format('{"lat":%.6f,"lng":%.6f,"descripcion":"wrk bench","tipo_incidente":"%s"}',
      lat, lng, tipo)
  else
    body = string.format('{"lat":%.6f,"lng":%.6f,"descripcion":"wrk bench"}', lat, lng)
  end
  if keyed then
    -- A fresh Idempotency-Key per request: the dispatch runs in the transaction that claims it.
    sent = sent + 1
    wrk.headers["Idempotency-Key"] = string.format("wrk-%d-%d-%d", run, tid, sent)
  end
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total, other = {}, 0
  for _, t in ipairs(threads) do
    local s = t:get("statuses") or {}
    for k, v in pairs(s) do
      total[k] = (total[k] or 0) + v
    end
  end
  local keys = {}
  for k in pairs(total) do table.insert(keys, k) end
  table.sort(keys)
  io.write("-- status counts:")
  for _, k in ipairs(keys) do
    io.write(string.format(" %d=%d", k, total[k]))
    if k ~= 201 then other = other + total[k] end
  end
  io.write("\n")
  io.write(string.format("-- non-201 responses: %d (404 = no efectivo available)\n", other))
  io.write(string.format("-- p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("-- socket errors: connect %d read %d write %d timeout %d\n",
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
