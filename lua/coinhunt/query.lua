-- The table on_query returns, as JSON, with the checks of the module's
-- lua/ngx_http_coinhunt_lua_query.c, in its order and with its messages:
-- an object of string keys (1 to 64 bytes) or a list 1..n, at most 4 deep
-- and 256 entries in all; values finite numbers, booleans, strings of at
-- most 256 bytes or such tables.  A table met again inside itself is
-- cyclic (checked before the depth).

local query = {}

query.DEPTH, query.ENTRIES, query.KEY, query.STRING = 4, 256, 64, 256
query.ARGS = 32

local BAD_VALUE = "returned a value that is not a finite number, a "
                  .. "boolean, a string of at most 256 bytes or a table"

local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n",
                  ["\r"] = "\\r", ["\t"] = "\\t" }

local function quote(s)
  return '"' .. s:gsub('[%z\1-\31"\\\127]', function(c)
    return ESCAPES[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function number(v)
  local s = string.format("%.15g", v)
  if tonumber(s) ~= v then s = string.format("%.17g", v) end
  return s
end

-- all strings (an object, also when there are none) or exactly 1..n
local function keys(t)
  local n, count, strings, others = #t, 0, 0, 0
  for k in next, t do
    count = count + 1
    if type(k) == "string" then
      strings = strings + 1
    elseif type(k) ~= "number" or not (k >= 1 and k <= n)
           or k ~= math.floor(k) then
      others = others + 1
    end
  end
  local list = strings == 0 and count > 0
  if (strings > 0 and strings ~= count)
     or (list and (others > 0 or count ~= n)) then
    return nil, "returned a table whose keys are neither all strings nor "
                .. "a list"
  end
  return list
end

local value

local function tbl(a, t, depth)
  for i = 1, depth - 1 do
    if a.path[i] == t then error("returned a cyclic table", 0) end
  end
  if depth > query.DEPTH then error("returned a table deeper than 4", 0) end
  a.path[depth] = t
  local list, complaint = keys(t)
  if complaint then error(complaint, 0) end
  local out = {}
  local function entry()
    a.entries = a.entries + 1
    if a.entries > query.ENTRIES then
      error("returned a table of more than 256 entries", 0)
    end
  end
  if list then
    for i = 1, #t do
      entry()
      out[i] = value(a, rawget(t, i), depth)
    end
    return "[" .. table.concat(out, ",") .. "]"
  end
  for k, v in next, t do
    entry()
    if #k == 0 or #k > query.KEY then
      error("returned a key that is not a string of 1 to 64 bytes", 0)
    end
    out[#out + 1] = quote(k) .. ":" .. value(a, v, depth)
  end
  return "{" .. table.concat(out, ",") .. "}"
end

value = function(a, v, depth)
  local t = type(v)
  if t == "boolean" then return tostring(v) end
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      error(BAD_VALUE, 0)
    end
    return number(v)
  end
  if t == "string" then
    if #v > query.STRING then error(BAD_VALUE, 0) end
    return quote(v)
  end
  if t == "table" then return tbl(a, v, depth + 1) end
  error(BAD_VALUE, 0)
end

-- the JSON text of what on_query returned, or nil and the complaint
-- ("on_query " .. complaint is what the module logs)
function query.answer(v)
  if type(v) ~= "table" then
    return nil, "returned something other than a table"
  end
  local ok, text = pcall(tbl, { entries = 0, path = {} }, v, 1)
  if not ok then return nil, text end
  return text
end

return query
