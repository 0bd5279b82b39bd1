-- A password login, from the authorization request to the code: GET /authorize
-- without a session, GET the login page it redirects to (a flow cookie and a CSRF
-- token), POST a citizen's number and password. A flow is one redirect back to the
-- client with a code. citizen-idp only: the reference leaves the login page and the
-- password check to the application.
--
-- The citizen: BENCH_CITIZEN, or each in turn of the numbers in BENCH_CITIZENS_FILE
-- (one a line, all with the password BENCH_PASSWORD), each thread starting at its own
-- place in the list.
local client_id = os.getenv("BENCH_CLIENT_ID")
local redirect_uri = os.getenv("BENCH_REDIRECT_URI")
local password = os.getenv("BENCH_PASSWORD")

local citizens = {}
local citizens_file = os.getenv("BENCH_CITIZENS_FILE")
if citizens_file then
   for line in io.lines(citizens_file) do
      if line ~= "" then table.insert(citizens, line) end
   end
else
   citizens[1] = os.getenv("BENCH_CITIZEN")
end
local turn = nil

local function next_citizen()
   -- Threads start apart in the list (common.lua's setup() numbers them).
   turn = turn or ((wrk.thread:get("id") or 0) * 7919)
   turn = turn + 1
   return citizens[turn % #citizens + 1]
end

local function escape(s)
   return (string.gsub(s, "[^%w%-%._~]", function(c)
      return string.format("%%%02X", string.byte(c))
   end))
end

local authorize = "/authorize?response_type=code&client_id=" .. escape(client_id)
   .. "&redirect_uri=" .. escape(redirect_uri)
   .. "&scope=openid%20profile&state=bench-state&nonce=bench-nonce"
local pending = {}

local function field(html, name)
   local value = string.match(html, 'name="' .. name .. '"[^>]-value="([^"]*)"')
      or string.match(html, 'value="([^"]*)"[^>]-name="' .. name .. '"')
   if value then value = string.gsub(value, "&amp;", "&") end
   return value
end

function request()
   local next = table.remove(pending, 1)
   if next then return next end
   return wrk.format("GET", authorize)
end

-- The browser cookie of each flow, set by /authorize and sent with both login requests.
local cookies = {}

function response(status, headers, body)
   local location = header(headers, "location")
   if status == 302 and location and string.find(location, "/login", 1, true) then
      local flow = string.match(location, "[?&]flow=([^&]+)")
      local cookie = header(headers, "set-cookie")
      if flow and cookie then
         cookies[flow] = string.match(cookie, "^[^;]+")
         table.insert(pending, wrk.format("GET", location, { ["Cookie"] = cookies[flow] }))
      else
         failed = failed + 1
      end
   elseif status == 200 and string.find(body, "csrf_token", 1, true) then
      local flow, csrf = field(body, "flow"), field(body, "csrf_token")
      local cookie = flow and cookies[flow]
      if cookie and csrf then
         cookies[flow] = nil
         table.insert(pending, wrk.format("POST", "/login", {
            ["Content-Type"] = "application/x-www-form-urlencoded",
            ["Cookie"] = cookie,
         }, "flow=" .. escape(flow) .. "&csrf_token=" .. escape(csrf)
            .. "&national_id=" .. next_citizen() .. "&password=" .. escape(password)))
      else
         failed = failed + 1
      end
   elseif status == 303 and location and string.find(location, "code=", 1, true) then
      flows = flows + 1
   else
      if status == 503 then busy = busy + 1 end
      failed = failed + 1
   end
   wrk.thread:set("flows", flows)
   wrk.thread:set("failed", failed)
   wrk.thread:set("busy", busy)
end
