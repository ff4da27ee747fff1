-- What a hook sees, as lua_view.c makes it: the session view, the tap and
-- on_join's context are userdata with a locked metatable, made once, that
-- read and write the running call's copy of the session.  Core fields are
-- read-only, declared fields read-write finite numbers, any other name an
-- error; the messages are the module's, at the rule's line.
--
-- view.new(fields) -> objects: objects.view, objects.tap, objects.ctx and
-- objects.state, whose session, tap and now_ms the caller sets per call.

local view = {}

local CORE = { "score", "taps", "coins", "last_tap_ms", "created_ms",
               "player", "hunt" }
local IS_CORE = {}
for _, k in ipairs(CORE) do IS_CORE[k] = true end

local TAP = { x = true, y = true, now_ms = true, seq = true }

-- a key as luaL_error's "%s" shows it: cut at a NUL, "?" if no string
local function shown(key)
  if type(key) ~= "string" then return "?" end
  local nul = key:find("\0", 1, true)
  return nul and key:sub(1, nul - 1) or key
end

local function object(name, index, newindex)
  local o = newproxy(true)
  local mt = getmetatable(o)
  mt.__index = index
  mt.__newindex = newindex
  mt.__metatable = false
  mt.__name = name
  return o
end

local function read_only()
  error("the tap and the join context are read-only", 2)
end

function view.new(fields)
  local state = { session = nil, tap = nil, now_ms = 0 }
  local slot = {}
  for i, name in ipairs(fields) do slot[name] = i end

  local function index(_, key)
    local s = state.session
    if s == nil then
      error("the session view is only valid in its hook", 2)
    end
    local i = type(key) == "string" and slot[key]
    if i then return s.fields[i] end
    if type(key) == "string" and IS_CORE[key] then return s[key] end
    error("the session has no field '" .. shown(key) .. "'", 2)
  end

  local function newindex(_, key, v)
    local s = state.session
    if s == nil then
      error("the session view is only valid in its hook", 2)
    end
    if state.read_only then
      error("the session view is read-only in on_query", 2)
    end
    local i = type(key) == "string" and slot[key]
    if i then
      if type(v) ~= "number" or v ~= v or v == math.huge
         or v == -math.huge then
        error("session field '" .. key .. "' must be a finite number", 2)
      end
      s.fields[i] = v
      return
    end
    if type(key) == "string" and IS_CORE[key] then
      error("session field '" .. shown(key) .. "' is read-only", 2)
    end
    error("session field '" .. shown(key) .. "' is not declared in "
          .. "rules.fields", 2)
  end

  local function tap_index(_, key)
    local tap = state.tap
    if tap == nil then error("the tap is only valid in on_tap", 2) end
    if type(key) == "string" and TAP[key] then return tap[key] end
    return nil
  end

  local function ctx_index(_, key)
    if key == "now_ms" then return state.now_ms end
    return nil
  end

  return {
    state = state,
    view = object("coinhunt session view", index, newindex),
    tap = object("coinhunt tap", tap_index, read_only),
    ctx = object("coinhunt join context", ctx_index, read_only),
  }
end

return view
