-- bench/fill.lua -- used only to fill a leaderboard before the leaderboard
-- rows: every tap finds one coin of a pseudo-random value (1..1000000), so
-- one tap per session puts every player on the board with its own score.
local coinhunt = require "coinhunt"

local rules = {}

function rules.on_tap(s, tap)
    return { value = 1 + math.floor(coinhunt.random() * 1000000), kind = "fill" }
end

return rules
