-- What a hook answers besides a coin (DESIGN.md, "Rule verdicts, coin
-- data, queries"): coinhunt.refuse and a coin's data, with the checks and
-- messages of the module's lua/ngx_http_coinhunt_lua_verdict.c.
--
--   return coinhunt.refuse(code, message [, status])   from on_tap, on_join
--   return { value = 5, kind = "gold", data = { combo = 3, msg = "x3!" } }

local params = require "coinhunt.params"

local verdict = {}

verdict.DATA_KEYS = 8
verdict.DATA_STRING = 64
verdict.MESSAGE_MAX = 256

-- refusals are proxies the kit made, known by this weak table
local verdicts = setmetatable({}, { __mode = "k" })

local function fail(msg)
  error("coinhunt.refuse: " .. msg, 3)
end

function verdict.refuse(code, message, status)
  if type(code) ~= "string" or #code == 0 or #code > 32
     or not code:match("^[a-z0-9_]+$") then
    fail("the code must be 1 to 32 characters of a-z 0-9 _")
  end
  if type(message) ~= "string" or #message > verdict.MESSAGE_MAX then
    fail("the message must be a string of at most 256 bytes")
  end
  if status == nil then status = 403 end
  if type(status) ~= "number" or status ~= math.floor(status)
     or status < 400 or status > 499 then
    fail("the status must be an integer from 400 to 499")
  end
  local verdict = newproxy(true)
  getmetatable(verdict).__metatable = false
  verdicts[verdict] = { status = status, error = code, message = message }
  return verdict
end

-- the answer a hook's result asks for, if it is a refusal
function verdict.refusal(v)
  local r = verdicts[v]
  return r and { status = r.status, error = r.error, message = r.message }
end

local function datum(v)
  local t = type(v)
  return t == "boolean" or (t == "string" and #v <= verdict.DATA_STRING)
         or (t == "number" and v == v and v ~= math.huge and v ~= -math.huge)
end

local COIN_KEYS = { value = true, kind = true, data = true }

-- the data of the coin table t (read raw), or nil; or nil and the
-- complaint, for a key other than value, kind and data or bad data
function verdict.data(t)
  for k in next, t do
    if not COIN_KEYS[k] then
      return nil, "returned a coin with a key other than value, kind and "
                  .. "data"
    end
  end
  local data = rawget(t, "data")
  if data == nil then return nil end
  if type(data) ~= "table" then
    return nil, "returned a coin whose data is not a table"
  end
  local copy, n = {}, 0
  for k, v in next, data do
    n = n + 1
    if n > verdict.DATA_KEYS then
      return nil, "returned a coin whose data has more than 8 keys"
    end
    if not params.identifier(k) then
      return nil, "returned a coin data key that is not an identifier of "
                  .. "at most 32 characters"
    end
    if not datum(v) then
      return nil, "returned a coin data value that is not a finite "
                  .. "number, a boolean or a string of at most 64 bytes"
    end
    copy[k] = v
  end
  return copy
end

return verdict
