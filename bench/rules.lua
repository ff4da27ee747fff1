-- bench/rules.lua -- the benchmark's hunt rule, the same as the OpenResty
-- peer's (../shared/peer/peer.lua): every tap has a 10% chance of a gold coin
-- worth 5.  The coin table is built once (like the peer's reused piece
-- tables), so a tap makes no Lua garbage.
local coinhunt = require "coinhunt"

local rules = {}
local GOLD = { value = 5, kind = "gold" }

function rules.on_tap(s, tap)
    if coinhunt.random() < 0.10 then
        return GOLD
    end
end

return rules
