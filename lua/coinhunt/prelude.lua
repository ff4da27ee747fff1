local coinhunt, STOP = ...
local error, pcall, xpcall = error, pcall, xpcall
package.loaded.coinhunt = coinhunt
-- every file's strings share one metatable: getmetatable('') is false
getmetatable('').__metatable = false
local safe = { 'assert', 'error', 'ipairs', 'next', 'pairs', 'pcall',
  'select', 'tonumber', 'tostring', 'type', 'unpack', 'xpcall',
  'rawequal', 'rawget', 'rawset', 'rawlen', 'setmetatable',
  'getmetatable', '_VERSION' }
local libs = { 'math', 'string', 'table', 'bit', 'coroutine' }
-- a rule may not catch the error that ends a runaway call
local function rethrow(ok, ...)
  if not ok and (...) == STOP then error(STOP, 0) end
  return ok, ...
end
local function guarded_pcall(f, ...) return rethrow(pcall(f, ...)) end
local function guarded_xpcall(f, h)
  return rethrow(xpcall(f, function(e)
    if e == STOP then return STOP end
    return h(e)
  end))
end
local function sandbox()
  local env = {}
  for _, k in ipairs(safe) do env[k] = _G[k] end
  for _, k in ipairs(libs) do
    local t = {}
    for n, f in pairs(_G[k]) do t[n] = f end
    env[k] = t
  end
  env.os = { time = os.time, clock = os.clock, date = os.date }
  env.pcall, env.xpcall = guarded_pcall, guarded_xpcall
  env.require = function(name)
    if name == 'coinhunt' then return coinhunt end
    if env[name] and name ~= 'require' then return env[name] end
    error("module '" .. tostring(name) .. "' is not available to "
          .. 'rules (coinhunt and the standard math, string, table, '
          .. 'bit, coroutine)', 2)
  end
  env._G = env
  return env
end
return sandbox
-- The module's sandbox prelude (ngx_http_coinhunt_lua_prelude in
-- lua_sandbox.c), line for line above this comment, so that the kit's
-- rules run in the same sandbox and an error raised in it names the same
-- line ("coinhunt:12:"); t/060-kit.t fails when the two differ.  It runs
-- once in a VM with the "coinhunt" table and the budget's error as its
-- arguments, and returns the function that makes a rules file's globals.
