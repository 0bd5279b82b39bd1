-- One fixed request: BENCH_METHOD (GET), BENCH_BODY (a form), BENCH_AUTH (an
-- Authorization header). Every answer but 200 counts as an error, and so does a 200
-- whose body lacks BENCH_EXPECT (e.g. an introspection answer that is not active).
wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
   wrk.body = body
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end

local expect = os.getenv("BENCH_EXPECT")
if expect == "" then expect = nil end

function response(status, headers, body)
   if status ~= 200 or (expect and not string.find(body, expect, 1, true)) then
      failed = failed + 1
   else
      flows = flows + 1
   end
   wrk.thread:set("flows", flows)
   wrk.thread:set("failed", failed)
end
