-- wrk script: POST /api/v1/tasks (contract §6) with a unique codigo per request
-- (run id + thread id + counter + random). Zero non-201 responses are expected.
-- Usage: wrk ... -s tasks_create.lua <BASE>/api/v1/tasks -- <TOKEN> <DELEGADO_USUARIO_ID> <RUN_ID>
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local delegado, run, counter = nil, nil, 0
local tipos = { "patrullaje", "investigacion", "vigilancia", "intervencion", "administrativa", "entrenamiento" }

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. assert(args[1], "-- <TOKEN> required")
  delegado = assert(tonumber(args[2]), "<DELEGADO_USUARIO_ID> required")
  run = args[3] or tostring(os.time())
  math.randomseed(os.time() * 1000 + tid)
  statuses = {}
  samples = {}
end

function request()
  counter = counter + 1
  local codigo = string.format("WRK-%s-%d-%d-%04d", run, tid, counter, math.random(0, 9999))
  local body = string.format(
    '{"codigo":"%s","titulo":"Bench %d","tipo":"%s","prioridad":%d,' ..
    '"inicio_programado":"2026-12-01T10:00:00Z","fin_programado":"2026-12-01T14:00:00Z",' ..
    '"delegado_usuario_id":%d,"descripcion":"wrk bench",' ..
    '"ubicacion_lat":%.6f,"ubicacion_lon":%.6f,"ubicacion_descripcion":"Zona bench"}',
    codigo, counter, tipos[math.random(#tipos)], math.random(1, 5), delegado,
    -34.60 + (math.random() - 0.5) * 0.2, -58.38 + (math.random() - 0.5) * 0.2)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status ~= 201 and #samples < 3 then
    table.insert(samples, status .. " " .. string.sub(body or "", 1, 300))
  end
end

function done(summary, latency, requests)
  local total, keys, other = {}, {}, 0
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses") or {}) do total[k] = (total[k] or 0) + v end
  end
  for k in pairs(total) do table.insert(keys, k) end
  table.sort(keys)
  io.write("-- status counts:")
  for _, k in ipairs(keys) do
    io.write(string.format(" %d=%d", k, total[k]))
    if k ~= 201 then other = other + total[k] end
  end
  io.write(string.format("\n-- non-201 responses: %d (expected 0)\n", other))
  for _, t in ipairs(threads) do
    for _, s in ipairs(t:get("samples") or {}) do io.write("--   e.g. " .. s .. "\n") end
  end
  io.write(string.format("-- p50 %.2f ms  p99 %.2f ms  max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
