-- One wrk scenario for bench/perf.py: a method and path, and optionally a file of prepared requests.
--
-- BENCH_METHOD, BENCH_PATH: what to send (default GET /).
-- BENCH_REQUESTS: a file with one prepared request a line, "cookie<TAB>urlencoded form body" (the body is
--   not sent with GET). Thread t of
--   n sends lines t, t+n, t+2n ... so each line is sent once until the file runs out (then it starts over;
--   perf.py reports a run that sent more requests than lines). Each line is a patient's own session
--   (cookie, CSRF token, draft), so the POSTs do the full work rather than answering a repeat.
-- BENCH_COOKIE: one cookie for every request (the staff scenarios).
-- done() prints one line "WRKJSON {...}" with counts and latency percentiles in microseconds.

local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/"
local cookie = os.getenv("BENCH_COOKIE")
local requests_file = os.getenv("BENCH_REQUESTS")
local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  lines = {}
  if requests_file and requests_file ~= "" then
    for line in io.lines(requests_file) do
      local c, b = line:match("^([^\t]*)\t(.*)$")
      table.insert(lines, {c, b})
    end
  end
  thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")
  sent = 0
end

function request()
  local headers = {}
  if cookie and cookie ~= "" then headers["Cookie"] = cookie end
  if #lines == 0 then
    return wrk.format(method, path, headers)
  end
  local line = lines[(thread_index + sent * thread_count) % #lines + 1]
  sent = sent + 1
  headers["Cookie"] = line[1]
  if method == "GET" then
    return wrk.format(method, path, headers)
  end
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  return wrk.format(method, path, headers, line[2])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "timeouts": %d, "bad_status": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
