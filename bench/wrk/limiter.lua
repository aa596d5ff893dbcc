-- Rate-limiter overhead: many clients behind the trusted local proxy (X-Forwarded-For from a pool
-- of 10 000 addresses), so windows are spread as in production rather than one hot key.
math.randomseed(os.time())
request = function()
  local ip = string.format("10.%d.%d.%d", math.random(0, 3), math.random(0, 49), math.random(1, 50))
  return wrk.format("GET", wrk.path, { ["X-Forwarded-For"] = ip })
end
