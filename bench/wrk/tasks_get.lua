-- wrk script: GET /api/v1/tasks/{id} with random ids in [MIN, MAX] (existing tasks).
-- Usage: wrk ... -s tasks_get.lua <BASE> -- <TOKEN> <MIN_ID> <MAX_ID>
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local lo, hi

function init(args)
  wrk.headers["Authorization"] = "Bearer " .. assert(args[1], "-- <TOKEN> required")
  lo = assert(tonumber(args[2]), "<MIN_ID> required")
  hi = assert(tonumber(args[3]), "<MAX_ID> required")
  math.randomseed(os.time() * 1000 + tid)
  statuses = {}
end

function request()
  return wrk.format("GET", "/api/v1/tasks/" .. math.random(lo, hi))
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
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
    if k ~= 200 then other = other + total[k] end
  end
  io.write(string.format("\n-- non-200 responses: %d (404 = id gap or deleted task)\n", other))
  io.write(string.format("-- p50 %.2f ms  p99 %.2f ms  max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
