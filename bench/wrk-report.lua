-- wrk script for the manifest GET benchmark: prints the run's totals as one JSON line (prefixed so
-- bench/manifest-get.ts can find it among wrk's own output). Headers come from wrk's -H flags.
-- BENCH_WRK_PATHS (comma-separated) makes each thread request those paths in turn instead of the URL's.
local paths = {}
for p in string.gmatch(os.getenv("BENCH_WRK_PATHS") or "", "[^,]+") do
  table.insert(paths, p)
end
if #paths > 0 then
  local next_path = 0
  request = function()
    next_path = next_path % #paths + 1
    return wrk.format(nil, paths[next_path])
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
