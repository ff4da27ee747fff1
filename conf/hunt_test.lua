-- The example hunt's own test, run without nginx by the designer's test
-- kit: "make rules-test RULES=conf/hunt.lua" or "lua/coinhunt-test
-- conf/hunt.lua" (lua/README.md, "Testing your rules").
local T = require "coinhunt.test"

-- hunt.lua, beside this file, with dice that repeat: the same seed rolls
-- the same coins as an nginx with "coinhunt_seed 42;" and one worker
local hunt = T.load("hunt.lua", { seed = 42 })

-- a player joins...
local s = hunt:join("alice")
T.eq(s.status, 201)
T.eq(s.score, 0)

-- ...and taps: with seed 42 the first tap finds copper, the next nothing
local r = hunt:tap(s, { seq = 1 })
T.eq(r.status, 200)
T.eq(r.coin, { value = 1, kind = "copper" })
r = hunt:tap(s, { seq = 2 })
T.eq(r.status, 200)
T.eq(r.coin, nil)
T.eq(r.score, 1)
T.eq(r.taps, 2)

-- a tap sent twice is credited once
T.eq(hunt:tap(s, { seq = 2 }).status, 409)

-- every coin is its kind's value times the streak's multiplier: three
-- finds in a row double it, six triple it, at most x5; a miss breaks the
-- streak, and so does the dragon hoard, worth 500
local VALUE = { copper = 1, silver = 5, gold = 25 }
local bob = hunt:join("bob")
local streak, score, best, found = 0, 0, 0, {}
for seq = 1, 20000 do
  r = hunt:tap(bob, { seq = seq })
  local coin = r.coin
  if r.status ~= 200 then
    T.eq(r.status, 200, "tap " .. seq)
    break                             -- one failure says enough
  elseif coin == nil then
    streak = 0
  elseif coin.kind == "dragon_hoard" then
    T.eq(coin.value, 500, "the hoard")
    streak = 0
  else
    streak = streak + 1
    best = math.max(best, streak)
    local times = math.min(1 + math.floor(streak / 3), 5)
    if coin.value ~= VALUE[coin.kind] * times then
      T.eq(coin.value, VALUE[coin.kind] * times, "tap " .. seq)
      break
    end
  end
  if coin then
    found[coin.kind] = (found[coin.kind] or 0) + 1
    score = score + coin.value
  end
end
T.eq(r.score, score, "the score is the sum of the coins")
T.eq(r.taps, 20000)

-- in 20,000 taps: about a fifth find something, and the rare ones show up
local coins = 0
for _, n in pairs(found) do coins = coins + n end
T.ok(coins > 3600 and coins < 4400, "coins found: " .. coins)
T.ok((found.gold or 0) > 200 and (found.gold or 0) < 400, "gold")
T.ok((found.dragon_hoard or 0) >= 3, "dragon hoards")
T.ok(best >= 6, "a streak of six or more: " .. best)

-- half an hour idle: both sessions expire, on_expire tells the log about
-- a player with 1000 points or more (bob, not alice), the tokens are dead
T.eq(hunt:advance("31m"), 2)
local log = hunt:log()
T.eq(log[#log].text, "coinhunt rules: player bob left the default hunt "
     .. "with " .. score .. " points, best combo " .. best)
T.eq(hunt:tap(bob).status, 401)

-- joining again keeps the score, and starts the counts afresh
local again = hunt:join("bob")
T.eq(again.score, score)
T.eq(again.taps, 0)
