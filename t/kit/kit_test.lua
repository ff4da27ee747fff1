-- The test kit's own API, beyond what t/cases/ shares with nginx: the
-- options of T.load, the clock, expire, the log, the checks themselves.
-- Run by t/060-kit.t: lua/coinhunt-test t/kit/kit_test.lua
local T = require "coinhunt.test"

local RULES = [[
local coinhunt = require "coinhunt"
local rules = { fields = { "n" } }
function rules.on_join(s, ctx) s.n = ctx.now_ms end
function rules.on_tap(s, tap)
  return { value = 1, kind = "t" .. (tap.now_ms - s.n) .. "-" .. os.time() }
end
function rules.on_expire(s)
  coinhunt.log(s.player, " expired at ", os.date("!%H:%M", os.time()))
end
return rules
]]

-- the clock: set by "now", moved by advance, read by now_ms, os.time, os.date
local hunt = T.load("clock.lua", { source = RULES, session_ttl = "10m",
                                   now = "2026-12-24T12:00:00Z" })
T.eq(hunt:now(), 1798113600000)
local s = hunt:join("ann")
T.eq(s.expires_in, 600)
hunt:advance("1h 30m")
T.eq(hunt:tap(s).status, 401, "idle past the TTL")
T.match(hunt:log()[1].text, "^coinhunt rules: ann expired at 12:10$")
s = hunt:join("ann")
hunt:advance(2500)
T.eq(hunt:tap(s).coin.kind, "t2500-1798119002")
T.eq(hunt:now(), 1798113600000 + 90 * 60000 + 2500)
T.raises(function() hunt:advance("soon") end, "is not a duration")

-- a time with an offset, and the sweep telling how many expired
local h2 = T.load("clock.lua", { source = RULES,
                                 now = "2026-12-24T13:00:00+01:00" })
T.eq(h2:now(), 1798113600000)
h2:join("a"); h2:join("b")
T.eq(h2:advance("29m"), 0)
T.eq(h2:advance("2m"), 2)

-- expire: at once, on_expire told; a session gone is a 401
local h3 = T.load("clock.lua", { source = RULES, now = 0 })
local e = h3:join("eve")
T.eq(h3:expire(e), { status = 200, expired = true, player = "eve",
                     hunt = "default", score = 0, taps = 0, coins = 0 })
T.eq(h3:log()[1].text, "coinhunt rules: eve expired at 00:00")
T.eq(h3:expire(e).status, 401)
T.eq(h3:end_(e).message, "the session has ended or expired")

-- the default hunt, last_error, metrics
local h4 = T.load("hunt.lua", { hunt = "cave", source =
  "return { on_tap = function(s) return s.oops end }" })
local c = h4:join("cat")
T.eq(c.hunt, "cave")
T.eq(h4:tap(c).status, 500)
T.eq(h4:last_error(), "hunt.lua:1: the session has no field 'oops'")
T.eq(h4:metrics().coinhunt_rule_errors_total, 1)
T.eq(h4:leaderboard(c).top, { { rank = 1, player = "cat", score = 0 } })

-- a hunt of the 1024 a zone holds, and one more
local h5 = T.load("hunt.lua", { source = "return { on_tap = function() end }" })
for i = 1, 1024 do h5:join("p", { hunt = "h" .. i }) end
T.eq(h5:join("p", { hunt = "h1025" }).error, "sessions_full")
T.eq(h5:join("q", { hunt = "h1024" }).status, 201)

-- T.load refuses what nginx -t refuses, and options it does not know
local function loads(opts)
  return function() T.load("x.lua", opts) end
end
T.raises(loads({ source = "return {}" }), "^x%.lua: the rules module "
         .. "returns a table without an on_tap function$")
T.raises(loads({ source = "x = = 1" }), "^x%.lua:1:")
T.raises(function() T.load("nowhere.lua") end,
         "cannot open rules file nowhere.lua")
T.raises(loads({ source = RULES, sed = 1 }), "no option 'sed'")
T.raises(loads({ source = RULES, seed = -1 }), "option seed")
T.raises(loads({ source = RULES, now = "noon" }), "option now")
T.raises(loads({ source = RULES, tap_rate = "fast" }), "option tap_rate")
T.raises(loads({ source = RULES, session_ttl = "0s" }), "option session_ttl")
T.raises(loads({ source = RULES, hunt = "a b" }), "option hunt")

-- the checks compare tables whole
T.eq({ a = { 1, 2 }, b = "x" }, { b = "x", a = { 1, 2 } })
T.ok(not pcall(error), "pcall of error fails")
