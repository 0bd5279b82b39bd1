-- Refresh-token rotation: each request spends a refresh token (from BENCH_REFRESH_FILE,
-- split between the threads) and the answer's new one goes back in the pool. Run with
-- fewer connections than tokens per thread.
local auth = os.getenv("BENCH_AUTH")
local extra = os.getenv("BENCH_TOKEN_EXTRA") or ""
local pool = {}

function init(args)
   local id = wrk.thread:get("id")
   local n = tonumber(os.getenv("BENCH_THREADS"))
   local i = 0
   for line in io.lines(os.getenv("BENCH_REFRESH_FILE")) do
      if line ~= "" and i % n == id then table.insert(pool, line) end
      i = i + 1
   end
end

function request()
   local token = table.remove(pool, 1)
   if not token then
      -- Every token of this thread was lost to errors: count and ask for nothing useful.
      failed = failed + 1
      wrk.thread:set("failed", failed)
      return wrk.format("GET", "/.well-known/openid-configuration")
   end
   return wrk.format("POST", "/token", {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Authorization"] = auth,
   }, "grant_type=refresh_token&refresh_token=" .. token .. extra)
end

function response(status, headers, body)
   local token = string.match(body, '"refresh_token"%s*:%s*"([^"]+)"')
   if status == 200 and token then
      table.insert(pool, token)
      flows = flows + 1
   elseif status ~= 200 or not string.find(body, "issuer", 1, true) then
      failed = failed + 1
   end
   wrk.thread:set("flows", flows)
   wrk.thread:set("failed", failed)
end
