-- The SSO round trip of a citizen with a live session: GET the authorization endpoint
-- with the session cookie (BENCH_COOKIE), take the code from the redirect, and
-- exchange it at /token (client_secret_basic, BENCH_AUTH): an ID token and an access
-- token. A flow is one completed exchange; each connection runs one flow at a time.
local authorize_path = os.getenv("BENCH_AUTHORIZE_PATH")
local client_id = os.getenv("BENCH_CLIENT_ID")
local redirect_uri = os.getenv("BENCH_REDIRECT_URI")
local cookie = os.getenv("BENCH_COOKIE")
local auth = os.getenv("BENCH_AUTH")
local extra = os.getenv("BENCH_TOKEN_EXTRA") or ""

local function escape(s)
   return (string.gsub(s, "[^%w%-%._~]", function(c)
      return string.format("%%%02X", string.byte(c))
   end))
end

local authorize = authorize_path .. "?response_type=code&client_id=" .. escape(client_id)
   .. "&redirect_uri=" .. escape(redirect_uri)
   .. "&scope=openid%20profile&state=bench-state&nonce=bench-nonce"
local pending = {}

function request()
   local code = table.remove(pending)
   if code then
      return wrk.format("POST", "/token", {
         ["Content-Type"] = "application/x-www-form-urlencoded",
         ["Authorization"] = auth,
      }, "grant_type=authorization_code&code=" .. escape(code)
         .. "&redirect_uri=" .. escape(redirect_uri) .. extra)
   end
   return wrk.format("GET", authorize, { ["Cookie"] = cookie })
end

function response(status, headers, body)
   if status >= 300 and status < 400 then
      local location = header(headers, "location") or ""
      local code = string.match(location, "[?&]code=([^&]+)")
      if code then
         table.insert(pending, (string.gsub(code, "%%(%x%x)", function(h)
            return string.char(tonumber(h, 16))
         end)))
      else
         failed = failed + 1
      end
   elseif status == 200 and string.find(body, "id_token", 1, true) then
      flows = flows + 1
   else
      failed = failed + 1
   end
   wrk.thread:set("flows", flows)
   wrk.thread:set("failed", failed)
end
