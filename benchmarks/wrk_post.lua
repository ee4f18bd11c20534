-- wrk script for benchmarks/totp_load.py: round-robin over prepared request lines, a bounded count,
-- and a tally of answers that are not the expected kind.
--
-- Arguments (after --): FILE EXPECTED_STATUS EXPECTED_SUBSTRING LIMIT_PER_THREAD
-- FILE has one request per line: METHOD<TAB>PATH<TAB>HEADER: VALUE|HEADER: VALUE<TAB>BODY
-- Thread i of n takes lines i, i+n, i+2n, ...: no two threads share an account or token.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

lines, counter, answers, unexpected, limit = {}, 0, 0, 0, 0  -- globals: done() reads them with thread:get
local expected_status, expected_text = 0, ""

function init(args)
  local file, nthreads = args[1], next_id
  expected_status, expected_text, limit = tonumber(args[2]), args[3], tonumber(args[4])
  local i = 0
  for line in io.lines(file) do
    if i % tonumber(args[5]) == id then
      local method, path, headers, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      local h = {}
      for name, value in headers:gmatch("([^:|]+): ([^|]*)") do h[name] = value end
      if body == "" then body = nil end
      table.insert(lines, wrk.format(method, path, h, body))
    end
    i = i + 1
  end
end

function request()
  counter = counter + 1
  return lines[(counter - 1) % #lines + 1]
end

function response(status, headers, body)
  answers = answers + 1
  if status ~= expected_status or (expected_text ~= "" and not body:find(expected_text, 1, true)) then
    unexpected = unexpected + 1
  end
  if answers >= limit then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local bad, sent = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("unexpected")
    sent = sent + t:get("counter")
  end
  io.write(string.format(
    "RESULT {\"requests\": %d, \"sent\": %d, \"duration_us\": %d, \"p50_us\": %d, \"p99_us\": %d, " ..
    "\"max_us\": %d, \"unexpected\": %d, \"socket_errors\": %d, \"timeouts\": %d}\n",
    summary.requests, sent, summary.duration, latency:percentile(50), latency:percentile(99), latency.max, bad,
    summary.errors.connect + summary.errors.read + summary.errors.write, summary.errors.timeout))
end
