-- wrk script for issue 20's crash test: ubicacion.lua (same requests, same arguments) plus a
-- ledger of every answer 200.
--   wrk ... -s ubicacion_record.lua ... -- TOKEN FIRST_ID N RECORD_FILE
-- Reading every response costs wrk time, so the throughput runs use ubicacion.lua without it.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "ubicacion.lua")

function response(status, headers, body)
  if record and status == 200 then
    local rid = headers["x-request-id"] or headers["X-Request-ID"]
    if rid then record:write(rid, "\n") end
  end
end
