-- A flood of anonymous authorization requests (bench/flood): the same GET /authorize
-- (FLOOD_PATH) again and again, no cookie ever sent back, so each one is a new browser
-- starting a login. Each thread stops after its share of FLOOD_REQUESTS answers (the
-- requests still in flight on its other connections then are not counted). Answers are counted by
-- kind: "flow" (302 to the login page: a pending login is stored), "refused" (302 back
-- to the client with an error, e.g. temporarily_unavailable past a limit), or the status.
local path = os.getenv("FLOOD_PATH")
local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

local quota, answered, id = 0, 0, 0
local counts = {}

function init(args)
   local total = tonumber(os.getenv("FLOOD_REQUESTS"))
   local n = tonumber(os.getenv("FLOOD_THREADS"))
   id = wrk.thread:get("id")
   quota = math.floor(total / n) + ((id < total % n) and 1 or 0)
end

function request()
   return wrk.format("GET", path)
end

local function location(headers)
   for k, v in pairs(headers) do
      if string.lower(k) == "location" then return v end
   end
   return ""
end

function response(status, headers, body)
   if answered >= quota then return end
   answered = answered + 1
   local kind = tostring(status)
   if status == 302 then
      local to = location(headers)
      if string.find(to, "/login?flow=", 1, true) == 1 then
         kind = "flow"
      elseif string.find(to, "error=", 1, true) then
         kind = "refused"
      end
   end
   counts[kind] = (counts[kind] or 0) + 1
   -- Kept up to date, so that a run cut short by wrk's -d still reports.
   if answered % 100 == 0 or answered >= quota then
      local parts = {}
      for k, v in pairs(counts) do table.insert(parts, k .. "=" .. v) end
      wrk.thread:set("counts", table.concat(parts, " "))
   end
   if answered >= quota then
      -- wrk itself runs for its -d: a file per finished thread tells bench/flood to
      -- end it (SIGINT) and take the time.
      local marker = io.open(os.getenv("FLOOD_DONE_DIR") .. "/" .. id, "w")
      if marker then marker:close() end
      wrk.thread:stop()
   end
end

-- One line for bench/flood: "FLOOD answered=N p99_ms=.. flow=.. refused=.. 503=..".
function done(summary, latency, requests)
   local total = {}
   local answered = 0
   for _, t in ipairs(threads) do
      for k, v in string.gmatch(t:get("counts") or "", "(%S+)=(%d+)") do
         total[k] = (total[k] or 0) + tonumber(v)
         answered = answered + tonumber(v)
      end
   end
   local e = summary.errors
   local line = string.format("FLOOD answered=%d p99_ms=%.1f socket_errors=%d",
      answered, latency:percentile(99) / 1000,
      e.connect + e.read + e.write + e.timeout)
   local keys = {}
   for k in pairs(total) do table.insert(keys, k) end
   table.sort(keys)
   for _, k in ipairs(keys) do line = line .. " " .. k .. "=" .. total[k] end
   io.write(line .. "\n")
end
