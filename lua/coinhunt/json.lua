-- A small JSON reader and writer for the test kit: the shared cases
-- (t/cases/*.json) are read with it, and the kit's answers are written
-- with it for the suites that compare them with nginx's.
--
-- decode(text) -> value: objects and arrays become tables, null becomes
-- json.null; an error names the byte where the text stops being JSON.
-- encode(value) -> text: integers are written without a fraction, an
-- empty table as [], a table with keys 1..n as an array, keys sorted.

local json = {}

json.null = setmetatable({}, { __tostring = function() return "null" end })

-- a table written as an object even when empty: json.object(t)
local OBJECT = {}

function json.object(t)
  return setmetatable(t, OBJECT)
end

local ESCAPES = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b",
                  f = "\f", n = "\n", r = "\r", t = "\t" }

local function fail(text, pos, what)
  error(string.format("JSON: %s at byte %d", what, pos), 0)
end

local function utf8(code)
  if code < 0x80 then
    return string.char(code)
  elseif code < 0x800 then
    return string.char(0xc0 + math.floor(code / 0x40), 0x80 + code % 0x40)
  elseif code < 0x10000 then
    return string.char(0xe0 + math.floor(code / 0x1000),
                       0x80 + math.floor(code / 0x40) % 0x40,
                       0x80 + code % 0x40)
  end
  return string.char(0xf0 + math.floor(code / 0x40000),
                     0x80 + math.floor(code / 0x1000) % 0x40,
                     0x80 + math.floor(code / 0x40) % 0x40,
                     0x80 + code % 0x40)
end

local value

local function space(text, pos)
  return text:find("[^ \t\r\n]", pos) or #text + 1
end

local function str(text, pos)
  local out, i = {}, pos + 1
  while true do
    local j = text:find('["\\%c]', i)
    if not j then fail(text, pos, "an unterminated string") end
    out[#out + 1] = text:sub(i, j - 1)
    local c = text:sub(j, j)
    if c == '"' then
      return table.concat(out), j + 1
    elseif c ~= "\\" then
      fail(text, j, "a control character in a string")
    end
    local e = text:sub(j + 1, j + 1)
    if ESCAPES[e] then
      out[#out + 1] = ESCAPES[e]
      i = j + 2
    elseif e == "u" then
      local hex = text:match("^%x%x%x%x", j + 2)
      if not hex then fail(text, j, "a bad \\u escape") end
      local code = tonumber(hex, 16)
      i = j + 6
      local low = text:match("^\\u(%x%x%x%x)", i)
      if code >= 0xd800 and code < 0xdc00 and low then
        local lo = tonumber(low, 16)
        if lo >= 0xdc00 and lo < 0xe000 then
          code = 0x10000 + (code - 0xd800) * 0x400 + (lo - 0xdc00)
          i = i + 6
        end
      end
      out[#out + 1] = utf8(code)
    else
      fail(text, j, "a bad escape")
    end
  end
end

local function list(text, pos, close, item)
  local t, n = {}, 0
  pos = space(text, pos + 1)
  if text:sub(pos, pos) == close then return t, pos + 1 end
  while true do
    n = n + 1
    pos = item(t, n, pos)
    pos = space(text, pos)
    local c = text:sub(pos, pos)
    if c == close then return t, pos + 1 end
    if c ~= "," then fail(text, pos, "',' or '" .. close .. "' expected") end
    pos = space(text, pos + 1)
  end
end

local function array(text, pos)
  return list(text, pos, "]", function(t, n, p)
    t[n], p = value(text, p)
    return p
  end)
end

-- an object, even an empty one, stays an object when written again
local function object(text, pos)
  local t, p = list(text, pos, "}", function(t, n, p)
    if text:sub(p, p) ~= '"' then fail(text, p, "a key expected") end
    local k
    k, p = str(text, p)
    p = space(text, p)
    if text:sub(p, p) ~= ":" then fail(text, p, "':' expected") end
    t[k], p = value(text, space(text, p + 1))
    return p
  end)
  return json.object(t), p
end

local WORDS = { ["true"] = true, ["false"] = false, null = json.null }

value = function(text, pos)
  local c = text:sub(pos, pos)
  if c == "{" then return object(text, pos) end
  if c == "[" then return array(text, pos) end
  if c == '"' then return str(text, pos) end
  local word = text:match("^%a+", pos)
  if word and WORDS[word] ~= nil then return WORDS[word], pos + #word end
  local num = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
  if num and tonumber(num) then return tonumber(num), pos + #num end
  fail(text, pos, "a value expected")
end

function json.decode(text)
  local v, pos = value(text, space(text, 1))
  pos = space(text, pos)
  if pos <= #text then fail(text, pos, "text after the value") end
  return v
end

local function quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    local e = ({ ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n",
                 ["\r"] = "\\r", ["\t"] = "\\t" })[c]
    return e or string.format("\\u%04x", c:byte())
  end) .. '"'
end

function json.encode(v)
  local t = type(v)
  if v == json.null or v == nil then return "null" end
  if t == "boolean" then return tostring(v) end
  if t == "string" then return quote(v) end
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      error("JSON: cannot write " .. tostring(v), 2)
    end
    if v == math.floor(v) and math.abs(v) < 2^53 then
      return string.format("%d", v)
    end
    return string.format("%.17g", v)
  end
  if t ~= "table" then error("JSON: cannot write a " .. t, 2) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  if #keys == #v and getmetatable(v) ~= OBJECT then
    local out = {}
    for i = 1, #v do out[i] = json.encode(v[i]) end
    return "[" .. table.concat(out, ",") .. "]"
  end
  for _, k in ipairs(keys) do
    if type(k) ~= "string" then error("JSON: a key that is no string", 2) end
  end
  table.sort(keys)
  local out = {}
  for i, k in ipairs(keys) do
    out[i] = quote(k) .. ":" .. json.encode(v[k])
  end
  return "{" .. table.concat(out, ",") .. "}"
end

return json
