-- post.lua: wrk script for bench/run.sh's serving part.
--
-- POSTs the JSON body in the environment variable BENCH_BODY (a GET when
-- it is empty) and, when the run ends, prints one JSON line starting with
-- "BENCH " that bench/bench.py reads: requests, duration, latency
-- percentiles in microseconds, and errors (status >= 400 is wrk's
-- "non-2xx or 3xx"; connect/read/write/timeout are socket errors).

local body = os.getenv("BENCH_BODY") or ""
if body ~= "" then
   wrk.method = "POST"
   wrk.body = body
   wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
      '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, ' ..
      '"mean_us": %.1f, "status_errors": %d, "connect_errors": %d, ' ..
      '"read_errors": %d, "write_errors": %d, "timeouts": %d}\n',
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean,
      e.status, e.connect, e.read, e.write, e.timeout))
end
