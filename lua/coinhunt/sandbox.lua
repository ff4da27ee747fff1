-- What a rules file runs in, as lua_sandbox.c makes it: the module's own
-- sandbox (prelude.lua, the same text), the "coinhunt" table (random,
-- now_ms, log), the budget of a call, the load and checks of a rules file,
-- and the check of what on_tap returns -- with the module's messages.
--
-- A "host" is what a call runs for (a hunt of coinhunt/hunt.lua): it has
-- rng (coinhunt/rng.lua's state), now_ms and emit(level, text), its log.

local rng = require "coinhunt.rng"
local verdict = require "coinhunt.verdict"
local params = require "coinhunt.params"

local sandbox = {}

sandbox.BUDGET_MS = 20
sandbox.STOP = "the rule ran over its budget of 20 ms of CPU"
sandbox.COIN_MAX = 1000000000
sandbox.KIND_MAX = 32
sandbox.FIELDS_MAX = 8

-- the session's own names: no rules file may declare them as fields
sandbox.CORE = { score = true, taps = true, coins = true, last_tap_ms = true,
                 created_ms = true, player = true, hunt = true }

-- rules run in the interpreter, as in nginx, so that hooks see every call
jit.off()

local host              -- the host of the running load or call
local started           -- os.clock() when the running call began
local busy = false      -- in the kit's own step that C does at once
local tostring = tostring

local function current()
  return host or error("coinhunt: called outside a rule's call", 2)
end

-- luaL_argerror's complaint about argument narg of the kit function
-- "level" levels up (1: the caller of argerror), named as its caller
-- called it ("method" calls count self), raised at that caller's line
local function argerror(level, narg, msg)
  local info = debug.getinfo(level + 1, "n")
  local name = info and info.name or "?"
  if info and info.namewhat == "method" then
    narg = narg - 1
    if narg == 0 then
      error("calling '" .. name .. "' on bad self (" .. msg .. ")",
            level + 2)
    end
  end
  error("bad argument #" .. narg .. " to '" .. name .. "' (" .. msg .. ")",
        level + 2)
end

-- luaL_checknumber for argument narg of the kit function that calls it
local function checknumber(narg, v)
  if type(v) == "number" then return v end
  local n = type(v) == "string" and tonumber(v)
  if n then return n end
  argerror(2, narg, "number expected, got " .. type(v))
end

-- the dice are rolled before the arguments are looked at, as in C
local function random(...)
  local h = current()
  busy = true
  local r = rng.uniform(h.rng)
  busy = false
  local nargs, m, n = select("#", ...), 1, nil
  if nargs == 0 then return r end
  if nargs == 1 then
    n = checknumber(1, (...))
  else
    m = checknumber(1, (...))
    n = checknumber(2, (select(2, ...)))
  end
  local finite = m == m and n == n and math.abs(m) ~= math.huge
                 and math.abs(n) ~= math.huge
  if not finite or m > n or n - m > 9007199254740991 then
    error("coinhunt.random: empty or too wide interval", 2)
  end
  local k = r * (n - m + 1)
  return m + (k >= 0 and math.floor(k) or math.ceil(k))
end

local function now_ms()
  return current().now_ms
end

-- coinhunt.log, .warn and .err: each argument through the VM's own
-- tostring, joined, cut at 2048 bytes, at the error log's level
local function logger(level)
  return function(...)
    local h = current()
    local parts = {}
    for i = 1, select("#", ...) do
      parts[i] = tostring((select(i, ...)))
    end
    busy = true
    h.emit(level, "coinhunt rules: " .. table.concat(parts):sub(1, 2048))
    busy = false
  end
end

-- one table for every rules file, as in a worker's VM
sandbox.coinhunt = { random = random, now_ms = now_ms,
                     log = logger("notice"), warn = logger("warn"),
                     err = logger("error"), refuse = verdict.refuse }

local prelude, make_env = nil, {}

-- the sandbox of a rules file, made by the module's prelude: run once for
-- each coinhunt table (the string metatable it locks is unlocked again
-- for the second run, which locks it the same way)
local function env(api)
  if not make_env[api] then
    if not prelude then
      local path = assert(package.searchpath("coinhunt.prelude",
                                             package.path))
      local f = assert(io.open(path, "rb"))
      prelude = f:read("*a")
      f:close()
    end
    debug.getmetatable("").__metatable = nil
    make_env[api] = assert(loadstring(prelude, "=coinhunt"))(api,
                                                             sandbox.STOP)
  end
  return make_env[api]()
end

-- os.time() and os.date() of the kit's clock, in place of the machine's
-- (nginx's is the request's time: the kit's is the time the test set);
-- with a time given, the library's own
local real_time, real_date = os.time, os.date

local function clock(h)
  local function now() return math.floor(h.now_ms / 1000) end
  local function time(t)
    if t == nil then return now() end
    if type(t) ~= "table" then
      argerror(1, 1, "table expected, got " .. type(t))
    end
    return real_time(t)
  end
  local function date(fmt, t)
    if fmt ~= nil and type(fmt) ~= "string" and type(fmt) ~= "number" then
      argerror(1, 1, "string expected, got " .. type(fmt))
    end
    if t == nil then return real_date(fmt, now()) end
    if type(t) ~= "number" and not (type(t) == "string" and tonumber(t))
    then
      argerror(1, 2, "number expected, got " .. type(t))
    end
    return real_date(fmt, t)
  end
  return time, date
end

-- the count hook; a C function of the module is not cut in its middle,
-- nor is the kit's Lua that stands for one (the dice must stay whole)
local function budget()
  if not busy and os.clock() - started >= sandbox.BUDGET_MS / 1000 then
    error(sandbox.STOP, 0)
  end
end

-- a traceback as nginx's would be: without the kit's frames (its Lua that
-- stands for the module's C, and its caller's frames below the call)
local function trim(text)
  local lines = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if line:find("^%s+[^%s]*coinhunt/sandbox%.lua:%d+: in function 'call'")
    then
      if lines[#lines] and lines[#lines]:find("in function 'xpcall'$") then
        lines[#lines] = nil
      end
      break
    elseif line:find("^%s+[^%s]*coinhunt/[%w_]+%.lua:%d+:") then
      if lines[#lines] and lines[#lines]:find("in function 'error'$") then
        lines[#lines] = nil
      end
    else
      lines[#lines + 1] = line
    end
  end
  return table.concat(lines, "\n")
end

-- what lua_tostring() makes of an error value
local function message(e)
  if type(e) == "string" or type(e) == "number" then
    return trim(tostring(e))
  end
  return "(the error value is not a string)"
end

-- calls fn(...) for host h under the budget, with the traceback as the
-- message handler: true and fn's first result, or false and the message
function sandbox.call(h, fn, ...)
  local outer, outer_started = host, started
  host, started = h, os.clock()
  debug.sethook(budget, "", 1000)
  local ok, result = xpcall(fn, debug.traceback, ...)
  debug.sethook()
  host, started = outer, outer_started
  if outer then debug.sethook(budget, "", 1000) end
  if not ok then return false, message(result) end
  return true, result
end

local function check(t)
  if type(t) ~= "table" then return "does not return a table" end
  if type(rawget(t, "on_tap")) ~= "function" then
    return "returns a table without an on_tap function"
  end
  for _, hook in ipairs({ "on_join", "on_expire", "on_query" }) do
    local f = rawget(t, hook)
    if f ~= nil and type(f) ~= "function" then
      return "has an " .. hook .. " that is not a function"
    end
  end
  local fields = rawget(t, "fields")
  if fields == nil then return nil, {} end
  if type(fields) ~= "table" or #fields > sandbox.FIELDS_MAX then
    return "has \"fields\" that is not a list of at most 8 names"
  end
  local names, seen = {}, {}
  for i = 1, #fields do
    local name = rawget(fields, i)
    if not params.identifier(name) then
      return "has a field name that is not an identifier of at most 32 "
             .. "characters"
    end
    if sandbox.CORE[name] then
      return "declares a field with the name of a core field"
    end
    if seen[name] then return "declares a field twice" end
    seen[name], names[i] = true, name
  end
  return nil, names
end

-- loads a rules file's source as nginx does (its top level under the
-- budget); returns its hooks and fields, or nil and the module's message
function sandbox.load(h, path, source)
  local chunk, err = loadstring(source, "@" .. path)
  if not chunk then return nil, err end
  local globals = env(sandbox.coinhunt)
  globals.os.time, globals.os.date = clock(h)
  setfenv(chunk, globals)
  local ok, t = sandbox.call(h, chunk)
  if not ok then return nil, t end
  local msg, fields = check(t)
  if msg then return nil, path .. ": the rules module " .. msg end
  return { on_tap = rawget(t, "on_tap"), on_join = rawget(t, "on_join"),
           on_expire = rawget(t, "on_expire"),
           on_query = rawget(t, "on_query"), fields = fields }
end

local function valid_kind(kind)
  return kind:match("^[A-Za-z0-9_.-]+$") ~= nil
end

-- what on_tap returned: a coin {value, kind}, nil for none, or nil and
-- the complaint ("on_tap " .. complaint is what the module logs);
-- a coin may carry data, and no other key
function sandbox.coin(v)
  local value, kind, data
  local t = type(v)
  if v == nil or v == false then return nil end
  if v == true then return nil, "returned true, not a coin table or nil" end
  if t == "number" then
    value = v
  elseif t == "table" then
    value = rawget(v, "value")
    if type(value) ~= "number" then
      return nil, "returned a coin whose value is not a number"
    end
    kind = rawget(v, "kind")
    if kind ~= nil and type(kind) ~= "string" then
      return nil, "returned a coin whose kind is not a string"
    end
    local complaint
    data, complaint = verdict.data(v)
    if complaint then return nil, complaint end
  else
    return nil, "returned neither a coin table, a number nor nil"
  end
  if not (value >= 0 and value <= sandbox.COIN_MAX)
     or value ~= math.floor(value) then
    return nil, "returned a coin value that is not an integer from 0 to "
                .. "1000000000"
  end
  kind = kind or "coin"
  if #kind == 0 or #kind > sandbox.KIND_MAX then
    return nil, "returned a coin kind that is empty or over 32 bytes"
  end
  if not valid_kind(kind) then
    return nil, "returned a coin kind with characters other than "
                .. "A-Z a-z 0-9 _ - ."
  end
  return { value = value + 0, kind = kind, data = data }
end

return sandbox
