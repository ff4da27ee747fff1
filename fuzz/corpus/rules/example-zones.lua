-- Buried treasure: the coin depends on where the player taps.  x and y come
-- from the tap request (?x=..&y=..), in [0, 1) of the screen; the chest is
-- buried near the centre and a tap close to it finds more.
local coinhunt = require "coinhunt"

local rules = { fields = { "near_misses" } }

function rules.on_tap(s, tap)
  local dx, dy = tap.x - 0.5, tap.y - 0.5
  local d = math.sqrt(dx * dx + dy * dy)

  if d < 0.05 then
    return { value = 100, kind = "chest" }
  elseif d < 0.15 then
    s.near_misses = s.near_misses + 1
    if coinhunt.random() < 0.3 then
      return { value = 3, kind = "silver" }
    end
  elseif coinhunt.random() < 0.05 then
    return { value = 1, kind = "copper" }
  end
end

return rules
