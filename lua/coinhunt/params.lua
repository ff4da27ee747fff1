-- Request parameters as the module reads them (parse.c, http.c), and its
-- error answers.  A kit request gives values already percent-decoded, as
-- the module has them after decoding: a string is read byte for byte as
-- the module reads the parameter's text, but for "+", which the module
-- reads as a space even when a client sent it as %2B; a number is read
-- as the text a client would send for it.  Each reader returns the value,
-- nil when the parameter is absent, or false and the 400 answer.

local params = {}

params.SEQ_MAX = 9007199254740991      -- 2^53 - 1
params.NAME_MAX = 64

-- {"error":code,"message":message} with the status, as every error is
function params.error(status, code, message)
  return { status = status, error = code, message = message }
end

-- the text the module reads from a parameter's value
local function text(v)
  return (v:gsub("%+", " "))
end

local function bad(message)
  return false, params.error(400, "bad_request", message)
end

-- parse_int: an optional "-", then decimal digits, 19 bytes at most
local function parse_int(text, min, max)
  local neg = #text > 1 and text:sub(1, 1) == "-"
  local digits = neg and text:sub(2) or text
  if digits == "" or #text > 19 or not digits:match("^%d+$") then
    return nil
  end
  local n = 0
  for i = 1, #digits do
    n = n * 10 + (digits:byte(i) - 48)
  end
  -- past 2^53 a double is not exact, but it stays past every bound the
  -- module asks for (seq, top: within 2^53), as the exact number would
  n = neg and -n or n
  if n < min or n > max then return nil end
  return n
end

function params.int(v, name, min, max)
  if v == nil then return nil end
  local n
  if type(v) == "number" then
    n = v == math.floor(v) and v >= min and v <= max and v or nil
  elseif type(v) == "string" then
    n = parse_int(text(v), min, max)
  end
  if n then return n end
  return bad(string.format("\"%s\" must be an integer from %d to %d", name,
                           min, max))
end

-- parse_coord: only digits, sign, point and exponent, read whole, finite
local function parse_coord(text)
  if #text == 0 or #text >= 32 or not text:match("^[0-9.+eE-]+$") then
    return nil
  end
  return tonumber(text)
end

function params.coord(v, name)
  if v == nil then return 0 end
  local x
  if type(v) == "number" then
    x = v
  elseif type(v) == "string" then
    x = parse_coord(text(v))
  end
  if x and x == x and x ~= math.huge and x ~= -math.huge then return x end
  return bad(string.format("\"%s\" must be a finite decimal number", name))
end

-- a player's or a hunt's name: 1 to 64 of A-Z a-z 0-9 _ . -
function params.valid_name(s, max)
  return type(s) == "string" and #s >= 1 and #s <= max
         and s:match("^[A-Za-z0-9_.-]+$") ~= nil
end

-- a declared field's or a coin data key's name: an identifier of at
-- most 32 characters (whole: a NUL inside is no identifier)
function params.identifier(s)
  return type(s) == "string" and #s <= 32
         and s:match("^[_a-zA-Z][_a-zA-Z0-9]*$") ~= nil
end

function params.name(v, name, default)
  if v == nil then
    if default then return default end
    return bad(string.format("the \"%s\" parameter is required", name))
  end
  if type(v) == "number" then v = tostring(v) end
  if type(v) == "string" then v = text(v) end
  if params.valid_name(v, params.NAME_MAX) then return v end
  return bad(string.format("\"%s\" must be 1 to 64 characters of A-Z a-z "
                           .. "0-9 _ . -", name))
end

return params
