-- The designer's test kit (lua/README.md, "Testing your rules"):
--
--   local T = require "coinhunt.test"
--   local hunt = T.load("hunt.lua", { seed = 42 })
--   local s = hunt:join("alice")
--   T.eq(hunt:tap(s, { seq = 1 }).status, 200)
--
-- T.load serves a rules file as nginx would (coinhunt/hunt.lua); the
-- checks count and report failures at the test's line, with the lines
-- the rules' last request wrote to the error log, if no failure showed
-- them yet.

local hunt = require "coinhunt.hunt"

local T = {}

local run = { checks = 0, failed = 0, hunts = {}, verbose = false,
              out = io.stdout }

-- a test that fails in a loop says it this many times, then only counts
local FAILURES_SHOWN = 20

-- a log line or an error under a failure: its lines indented, and none
-- of the kit's own frames (those of the test's call of the kit)
local function shown(text)
  local out = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if line:find("^%s+[^%s]*coinhunt/[%w_]+%.lua:%d+:") then
      if out[#out] and out[#out]:find("in function 'error'$") then
        out[#out] = nil
      end
    elseif not line:find("^%s+%[C%]: at 0x") then
      out[#out + 1] = line
    end
  end
  if out[#out] and out[#out]:find("^%s+%[C%]: in function 'xpcall'$") then
    out[#out] = nil                   -- the runner's call of the test
  end
  return table.concat(out, "\n        ")
end

local function say(fmt, ...)
  run.out:write(string.format(fmt, ...), "\n")
end

-- what the hunts logged that no failure showed yet: the lines of the
-- last request that logged any, and how many lines came before them
local function show_log()
  for _, h in ipairs(run.hunts) do
    local entries, seen = h:log(), h.kit_seen or 0
    local from = #entries + 1
    while from > seen + 1
          and entries[from - 1].request == entries[#entries].request do
      from = from - 1
    end
    if from > seen + 1 then
      say("    (%s logged %d line(s) before these)", h.path, from - seen - 1)
    end
    for i = from, #entries do
      say("    %s logged [%s] %s", h.path, entries[i].level,
          shown(entries[i].text))
    end
    h.kit_seen = #entries
  end
end

local function where(level)
  local info = debug.getinfo(level + 1, "Sl")
  return info and (info.short_src .. ":" .. (info.currentline or 0)) or "?"
end

local function check(ok, level, what, complaint)
  run.checks = run.checks + 1
  local at = where(level + 1)
  if ok then
    if run.verbose then
      say("ok      %s%s", at, what and (" " .. what) or "")
    end
    return true
  end
  run.failed = run.failed + 1
  if run.failed <= FAILURES_SHOWN then
    say("not ok  %s: %s%s", at, what and (what .. ": ") or "", complaint)
    show_log()
  elseif run.failed == FAILURES_SHOWN + 1 then
    say("        (the failures after %d are counted, not shown)",
        FAILURES_SHOWN)
  end
  return false
end

-- a value as a failure shows it: strings quoted, tables in full
local function describe(v, depth)
  depth = depth or 0
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" or depth > 3 then return tostring(v) end
  local keys, out = {}, {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    local key = type(k) == "string" and k:match("^[%a_][%w_]*$") and k
                or "[" .. describe(k, depth + 1) .. "]"
    out[#out + 1] = key .. " = " .. describe(v[k], depth + 1)
  end
  return "{ " .. table.concat(out, ", ") .. " }"
end

local function same(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for k, v in pairs(a) do
    if not same(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

-- the checks: each returns whether it held
function T.eq(actual, expected, what)
  return check(same(actual, expected), 1, what, "expected "
               .. describe(expected) .. ", got " .. describe(actual))
end

function T.ok(value, what)
  return check(value, 1, what, "expected a true value, got "
               .. describe(value))
end

function T.match(s, pattern, what)
  return check(type(s) == "string" and s:find(pattern) ~= nil, 1, what,
               "expected a string matching " .. describe(pattern)
               .. ", got " .. describe(s))
end

-- fn() must raise an error matching pattern; returns the message
function T.raises(fn, pattern, what)
  local ok, err = pcall(fn)
  local msg = not ok and tostring(err) or nil
  check(msg ~= nil and (pattern == nil or msg:find(pattern) ~= nil), 1,
        what, ok and "expected an error, got none"
                  or "expected an error matching " .. describe(pattern)
                     .. ", got " .. describe(msg))
  return msg
end

-- T.load(path, opts): the rules at "path" (next to the test, else from
-- the current directory), served with opts seed, now, session_ttl,
-- tap_rate and hunt; an error when nginx -t would refuse them
function T.load(path, opts)
  if type(path) ~= "string" then error("T.load: which rules file?", 2) end
  local file = path
  if not (opts and opts.source) and not path:find("^/") then
    local src = debug.getinfo(2, "S").source
    local dir = src:match("^@(.*/)") or ""
    local f = io.open(dir .. path, "rb")
    if f then f:close(); file = dir .. path end
  end
  local h, err = hunt.new(file, opts)
  if not h then error(err, 0) end
  run.hunts[#run.hunts + 1] = h
  return h
end

-- for the runner (coinhunt/run.lua): a fresh count for each test file
function T.start(opts)
  run.checks, run.failed, run.hunts = 0, 0, {}
  run.verbose = opts and opts.verbose or false
  run.out = opts and opts.out or io.stdout
end

function T.results()
  return run.checks, run.failed
end

-- shows the hunts' last log lines not yet shown (after an error in a test)
T.show_log = show_log

T.shown = shown

return T
