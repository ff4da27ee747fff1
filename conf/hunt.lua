-- The example hunt: every tap may turn up a coin.  Copper is common, silver
-- less so, gold is rare; a streak of finds builds a combo that multiplies
-- the next coin, and one tap in two thousand digs up the dragon hoard.
local coinhunt = require "coinhunt"

local rules = { fields = { "combo", "best_combo", "hoards" } }

local COPPER, SILVER, GOLD = 0.20, 0.06, 0.015
local HOARD = 1 / 2000
local MAX_MULTIPLIER = 5

-- every coin a tap can find, made once: the module copies the coin it is
-- given, and a table made per tap is garbage for the collector
local function coins(value, kind)
  local t = {}
  for multiplier = 1, MAX_MULTIPLIER do
    t[multiplier] = { value = value * multiplier, kind = kind }
  end
  return t
end

local COPPER_COINS = coins(1, "copper")
local SILVER_COINS = coins(5, "silver")
local GOLD_COINS = coins(25, "gold")
local DRAGON_HOARD = { value = 500, kind = "dragon_hoard" }

function rules.on_join(s, ctx)
  s.combo = 0
end

function rules.on_tap(s, tap)
  local r = coinhunt.random()

  if r < HOARD then
    s.hoards = s.hoards + 1
    s.combo = 0
    return DRAGON_HOARD
  end

  local found
  if r < GOLD then
    found = GOLD_COINS
  elseif r < SILVER then
    found = SILVER_COINS
  elseif r < COPPER then
    found = COPPER_COINS
  else
    s.combo = 0                        -- a miss breaks the streak
    return nil
  end

  -- each read or write of s is a call into C: read a field once
  local combo = s.combo + 1
  s.combo = combo
  if combo > s.best_combo then
    s.best_combo = combo
  end

  -- a streak of 3 doubles the coin, 6 triples it, capped at x5
  return found[math.min(1 + math.floor(combo / 3), MAX_MULTIPLIER)]
end

function rules.on_expire(s)
  if s.score >= 1000 then
    coinhunt.log("player ", s.player, " left the ", s.hunt, " hunt with ",
                 s.score, " points, best combo ", s.best_combo)
  end
end

return rules
