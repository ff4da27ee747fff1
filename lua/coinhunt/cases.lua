-- Runs the shared cases (t/cases/*.json, t/cases/README.md) against the
-- kit: luajit lua/coinhunt/cases.lua FILE.json prints, as JSON, each
-- case's answers and log lines, which t/061-kit-cases.t compares with the
-- expected ones, as t/062-kit-cases-nginx.t does with nginx's.

local here = arg and arg[0] and arg[0]:match("^(.*)/coinhunt/cases%.lua$")
package.path = (here or "lua") .. "/?.lua;" .. package.path

local json = require "coinhunt.json"
local hunt = require "coinhunt.hunt"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

-- a case's rules: its own lines, or a file of the repository; named by
-- the file's base name, as the nginx side names its copy
local function rules(case)
  if case.rules_file then
    return case.rules_file:match("[^/]+$"), read(case.rules_file)
  end
  local src = case.rules
  if type(src) == "table" then src = table.concat(src, "\n") .. "\n" end
  return "rules.lua", src
end

local function first_line(text)
  return (tostring(text):match("^[^\n]*"))
end

-- the log lines a step added, as "[level] text", first lines only
local function new_lines(h, seen)
  local out = {}
  local entries = h:log()
  for i = seen + 1, #entries do
    out[#out + 1] = "[" .. entries[i].level .. "] "
                    .. first_line(entries[i].text)
  end
  return out, #entries
end

local function value(v)
  if v == json.null then return nil end
  return v
end

-- a step's request: its handle's session, or the token it names
local function session(step, handles, name)
  if step.token ~= nil then
    return step.token ~= "" and step.token or nil
  end
  if name == nil or name == "" then return nil end
  return handles[name]
end

local ACTIONS = {}

function ACTIONS.join(h, step, handles)
  local answer = h:join(value(step.join), { hunt = value(step.hunt) })
  if answer.session then handles[step.as or step.join] = answer end
  return answer
end

function ACTIONS.tap(h, step, handles)
  local answer = h:tap(session(step, handles, step.tap),
                       { seq = value(step.seq), x = value(step.x),
                         y = value(step.y) })
  if answer.status == 200 and answer.coin == nil then
    answer.coin = json.null
  elseif answer.coin and answer.coin.data then
    json.object(answer.coin.data)
  end
  return answer
end

ACTIONS["end"] = function(h, step, handles)
  return h:end_(session(step, handles, step["end"]))
end

function ACTIONS.leaderboard(h, step, handles)
  return h:leaderboard(session(step, handles, step.leaderboard),
                       { hunt = value(step.hunt), top = value(step.top) })
end

function ACTIONS.query(h, step, handles)
  local args = {}
  for k, v in pairs(step.args or {}) do args[k] = value(v) end
  local answer = h:query(session(step, handles, step.query),
                         { hunt = value(step.hunt), args = args })
  answer.text = nil
  return answer
end

function ACTIONS.advance(h, step)
  h:advance(step.advance)
  return nil
end

function ACTIONS.metrics(h)
  return h:metrics()
end

local function action(step)
  for name in pairs(ACTIONS) do
    if step[name] ~= nil then return name end
  end
  error("a step with no action (join, tap, end, leaderboard, query, "
        .. "advance, metrics)", 0)
end

local function run(case)
  local name, source = rules(case)
  local h, err = hunt.new(name, { source = source, seed = case.seed,
                                  session_ttl = case.session_ttl,
                                  tap_rate = case.tap_rate })
  if not h then return { name = case.name, load_error = first_line(err) } end
  local out, handles, seen = {}, {}, 0
  for i, step in ipairs(case.steps or {}) do
    local answer = ACTIONS[action(step)](h, step, handles)
    if answer then
      local shown = {}
      for k, v in pairs(answer) do shown[k] = v end
      -- tokens differ between the kit and nginx: only that there is one
      if type(shown.session) == "string" then shown.session = "<token>" end
      answer = shown
    end
    local log
    log, seen = new_lines(h, seen)
    out[i] = { answer = answer or json.null, log = log }
  end
  return { name = case.name, steps = out }
end

local file = arg[1] or error("usage: cases.lua FILE.json", 0)
local cases = json.decode(read(file)).cases
local results = {}
for i, case in ipairs(cases) do
  local ok, r = pcall(run, case)
  results[i] = ok and r or { name = case.name,
                             error = "the kit stopped: " .. tostring(r) }
end
io.write(json.encode({ cases = results }), "\n")
