-- wrk script: GET /api/v1/geo/buscar?q=… rotating through the queries of gen.py's queries.txt
-- (URL-encoded, one a line), each thread from its own offset. Prints p50/p95/p99 and the status
-- counts. Usage: wrk ... -s buscar.lua <BASE> -- <TOKEN> <QUERIES_FILE>
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local queries, i = {}, 0

function init(args)
  wrk.headers["Authorization"] = "Bearer " .. assert(args[1], "-- <TOKEN> required")
  local path = args[2]
  assert(path, "<QUERIES_FILE> required")
  for line in io.lines(path) do
    if #line > 0 then table.insert(queries, line) end
  end
  i = (tid * 7919) % #queries
  statuses = {}
end

function request()
  i = i % #queries + 1
  return wrk.format("GET", "/api/v1/geo/buscar?q=" .. queries[i])
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total, keys = {}, {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses") or {}) do total[k] = (total[k] or 0) + v end
  end
  for k in pairs(total) do table.insert(keys, k) end
  table.sort(keys)
  io.write("-- status counts:")
  for _, k in ipairs(keys) do io.write(string.format(" %d=%d", k, total[k])) end
  io.write(string.format("\n-- p50 %.2f ms  p95 %.2f ms  p99 %.2f ms  max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
