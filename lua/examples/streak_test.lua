-- streak.lua's test: quick taps build a streak that makes coins worth
-- more, a pause of more than a second breaks it.
local T = require "coinhunt.test"

local hunt = T.load("streak.lua", { seed = 11 })
local s = hunt:join("ann")

-- the coin a streak of n quick taps is worth
local function worth(n) return 1 + math.floor(math.min(n, 50) / 5) end

-- 200 taps 100 ms apart: the streak grows with each one (0 on the first)
local best = 0
for seq = 1, 200 do
  local r = hunt:tap(s, { seq = seq })
  if r.coin then
    T.eq(r.coin, { value = worth(seq - 1), kind = "streak" }, "tap " .. seq)
    best = math.max(best, r.coin.value)
  end
  hunt:advance("100ms")
end
T.eq(best, 11, "a long streak is worth 11 at most")

-- after a pause of 1.5 s the streak starts again from nothing
hunt:advance("1500ms")
local seq, r = 200, nil
repeat
  seq = seq + 1
  r = hunt:tap(s, { seq = seq })
until r.coin or seq == 300
T.eq(r.coin, { value = worth(seq - 201), kind = "streak" })
T.ok(r.coin.value < best, "the pause broke the streak")
