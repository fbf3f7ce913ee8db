-- Spreads requests over the tenant hosts listed in WRK_HOSTS_FILE and prints one JSON line.
local hosts = {}
local path = "/"
local cookie = os.getenv("WRK_COOKIE")

init = function(args)
  path = args[1] or "/"
  local file = io.open(os.getenv("WRK_HOSTS_FILE"), "r")
  for line in file:lines() do hosts[#hosts + 1] = line end
  file:close()
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

request = function()
  local headers = { Host = hosts[math.random(#hosts)] }
  if cookie and cookie ~= "" then headers["Cookie"] = cookie end
  return wrk.format("GET", path, headers)
end

done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    'WRK_JSON {"requests": %d, "seconds": %.3f, "errors": %d, "non_2xx": %d, "p50_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6, errors, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
