-- wrk script: GET /api/v1/tasks?limit=100 as a supervisor (pass the URL with the query).
-- Usage: wrk ... -s tasks_list.lua "<BASE>/api/v1/tasks?limit=100" -- <TOKEN>
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  wrk.headers["Authorization"] = "Bearer " .. assert(args[1], "-- <TOKEN> required")
  statuses = {}
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
  io.write(string.format("\n-- non-200 responses: %d\n", other))
  io.write(string.format("-- p50 %.2f ms  p99 %.2f ms  max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
