-- The example hunt: every tap may turn up a coin.  Copper is common, silver
-- less so, gold is rare; a streak of finds builds a combo that multiplies
-- the next coin, and one tap in two thousand digs up the dragon hoard.
local coinhunt = require "coinhunt"

local rules = { fields = { "combo", "best_combo", "hoards" } }

local COPPER, SILVER, GOLD = 0.20, 0.06, 0.015
local HOARD = 1 / 2000

function rules.on_join(s, ctx)
  s.combo = 0
end

function rules.on_tap(s, tap)
  local r = coinhunt.random()

  if r < HOARD then
    s.hoards = s.hoards + 1
    s.combo = 0
    return { value = 500, kind = "dragon_hoard" }
  end

  local value, kind
  if r < GOLD then
    value, kind = 25, "gold"
  elseif r < SILVER then
    value, kind = 5, "silver"
  elseif r < COPPER then
    value, kind = 1, "copper"
  else
    s.combo = 0                        -- a miss breaks the streak
    return nil
  end

  s.combo = s.combo + 1
  if s.combo > s.best_combo then
    s.best_combo = s.combo
  end

  -- a streak of 3 doubles the coin, 6 triples it, capped at x5
  local multiplier = math.min(1 + math.floor(s.combo / 3), 5)
  return { value = value * multiplier, kind = kind }
end

function rules.on_expire(s)
  if s.score >= 1000 then
    coinhunt.log("player ", s.player, " left the ", s.hunt, " hunt with ",
                 s.score, " points, best combo ", s.best_combo)
  end
end

return rules
