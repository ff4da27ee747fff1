-- bench/soak's rules: a table per coin, a designer field, and on_expire, so
-- the Lua heap churns the way a real hunt's does.
local coinhunt = require "coinhunt"

local rules = { fields = { "combo" } }

function rules.on_tap(s, tap)
  if coinhunt.random() < 0.25 then
    s.combo = s.combo + 1
    return { value = s.combo, kind = "gold" }
  end
  s.combo = 0
end

function rules.on_expire(s)
  local summary = { s.player, s.score, s.combo }
  return #summary
end

return rules
