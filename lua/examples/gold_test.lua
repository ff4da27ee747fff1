-- gold.lua's test: one tap in ten finds gold worth 5, nothing else.
local T = require "coinhunt.test"

local hunt = T.load("gold.lua", { seed = 1 })
local s = hunt:join("ann")

local golds = 0
for seq = 1, 10000 do
  local r = hunt:tap(s, { seq = seq })
  if r.status ~= 200 then T.eq(r.status, 200, "tap " .. seq) break end
  if r.coin then
    if r.coin.value ~= 5 or r.coin.kind ~= "gold" then
      T.eq(r.coin, { value = 5, kind = "gold" }, "tap " .. seq)
    end
    golds = golds + 1
  end
end
T.ok(golds > 900 and golds < 1100, "golds in 10,000 taps: " .. golds)

local r = hunt:tap(s, { seq = 10001 })
T.eq(r.taps, 10001)
T.eq(r.score, 5 * (golds + (r.coin and 1 or 0)))
