-- The test kit's command: luajit lua/coinhunt/run.lua [-v] FILE...
-- (or lua/coinhunt-test, or "make rules-test RULES=FILE").  A FILE is a
-- test, NAME_test.lua, or a rules file NAME.lua, whose test is the
-- NAME_test.lua beside it.  Each test runs in globals of its own; the
-- command says what failed, where, and exits 0 only if every check held.

local here = arg and arg[0] and arg[0]:match("^(.*)/coinhunt/run%.lua$")
package.path = (here or "lua") .. "/?.lua;" .. package.path

local T = require "coinhunt.test"

local function test_of(file)
  if file:match("_test%.lua$") then return file end
  return (file:gsub("%.lua$", "")) .. "_test.lua"
end

local function exists(file)
  local f = io.open(file, "rb")
  if f then f:close() end
  return f ~= nil
end

-- runs one test file; true if it ran to its end and every check held
local function run(file, verbose)
  local test = test_of(file)
  if not exists(test) then
    print(string.format("%s: no test: write %s (lua/README.md, \"Testing "
                        .. "your rules\")", file, test))
    return false
  end
  T.start({ verbose = verbose })
  local chunk, err = loadfile(test)
  local ok = chunk ~= nil
  if chunk then
    setfenv(chunk, setmetatable({}, { __index = _G }))
    ok, err = xpcall(chunk, debug.traceback)
  end
  local checks, failed = T.results()
  if not ok then
    print(string.format("error   %s", T.shown(tostring(err))))
    T.show_log()
    print(string.format("%s: stopped by an error after %d check(s), "
                        .. "%d failed", test, checks, failed))
    return false
  end
  if checks == 0 then
    print(string.format("%s: checks nothing (T.eq, T.ok, ...)", test))
    return false
  end
  if failed > 0 then
    print(string.format("%s: %d of %d checks failed", test, failed, checks))
    return false
  end
  print(string.format("%s: %d checks passed", test, checks))
  return true
end

local files, verbose = {}, false
for _, a in ipairs(arg) do
  if a == "-v" then
    verbose = true
  elseif a:sub(1, 1) == "-" then
    io.stderr:write("usage: coinhunt-test [-v] FILE_test.lua|FILE.lua...\n")
    os.exit(2)
  else
    files[#files + 1] = a
  end
end

if #files == 0 then
  io.stderr:write("usage: coinhunt-test [-v] FILE_test.lua|FILE.lua...\n")
  os.exit(2)
end

local all = true
for _, file in ipairs(files) do
  all = run(file, verbose) and all
end
os.exit(all and 0 or 1)
