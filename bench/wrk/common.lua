-- Shared by every scenario (bench/run puts it before the scenario's own script):
-- per-thread bookkeeping, and one machine-readable RESULT line at the end.

local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

-- Header names arrive as the server spelled them.
function header(headers, name)
   for k, v in pairs(headers) do
      if string.lower(k) == name then return v end
   end
   return nil
end

flows = 0
failed = 0
-- Of the failures, answers "busy, try again" (503): the login storm's refused logins.
busy = 0

function done(summary, latency, requests)
   local total_flows, total_failed, total_busy = 0, 0, 0
   for _, t in ipairs(threads) do
      total_flows = total_flows + (t:get("flows") or 0)
      total_failed = total_failed + (t:get("failed") or 0)
      total_busy = total_busy + (t:get("busy") or 0)
   end
   -- Not summary.errors.status: every script's response() already counts an answer of
   -- the wrong status as failed, and adding wrk's count of 4xx/5xx answers counted
   -- each of them twice.
   local e = summary.errors
   local errors = e.connect + e.read + e.write + e.timeout + total_failed
   local secs = summary.duration / 1e6
   io.write(string.format(
      "RESULT requests=%d secs=%.3f rps=%.1f flows=%d fps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d busy=%d\n",
      summary.requests, secs, summary.requests / secs, total_flows, total_flows / secs,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors, total_busy))
end
