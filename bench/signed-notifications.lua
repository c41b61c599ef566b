-- wrk script: POSTs signed Fitbit notifications, one of many pre-signed bodies per request
-- (different users, so records spread over partitions). Bodies come from $BENCH_BODIES (a file with
-- "signature<TAB>body" lines). If $RATE (requests/s, all connections together) is set, each
-- connection paces itself to its share: it pauses 1000 * connections / RATE ms between a response
-- and its next request, less $LATENCY_MS (the expected response time), so the offered rate is close
-- to RATE. The achieved rate is reported, not assumed.
local bodies = {}
local index = 0
local delay_ms = 0

function init(args)
  for line in io.lines(os.getenv("BENCH_BODIES")) do
    local signature, body = line:match("^([^\t]+)\t(.+)$")
    bodies[#bodies + 1] = { signature = signature, body = body }
  end
  local rate = tonumber(os.getenv("RATE") or "0")
  local connections = tonumber(os.getenv("CONNECTIONS") or "1")
  local latency_ms = tonumber(os.getenv("LATENCY_MS") or "0")
  if rate > 0 then delay_ms = math.max(0, 1000 * connections / rate - latency_ms) end
  index = math.random(#bodies)
end

function request()
  index = index % #bodies + 1
  local b = bodies[index]
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["X-Fitbit-Signature"] = b.signature,
  }, b.body)
end

function delay()
  return delay_ms
end

function done(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format(
    "RESULT requests=%d seconds=%.2f rps=%.1f p50_ms=%.2f p99_ms=%.2f non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, non2xx,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
