-- A password login, from the authorization request to the code: GET /authorize
-- without a session, GET the login page it redirects to (a flow cookie and a CSRF
-- token), POST the citizen's number and password (BENCH_CITIZEN, BENCH_PASSWORD). A
-- flow is one redirect back to the client with a code. citizen-idp only: the
-- reference leaves the login page and the password check to the application.
local client_id = os.getenv("BENCH_CLIENT_ID")
local redirect_uri = os.getenv("BENCH_REDIRECT_URI")
local citizen = os.getenv("BENCH_CITIZEN")
local password = os.getenv("BENCH_PASSWORD")

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
            .. "&national_id=" .. citizen .. "&password=" .. escape(password)))
      else
         failed = failed + 1
      end
   elseif status == 303 and location and string.find(location, "code=", 1, true) then
      flows = flows + 1
   else
      failed = failed + 1
   end
   wrk.thread:set("flows", flows)
   wrk.thread:set("failed", failed)
end
