-- Streaks: taps in quick succession build a streak; the coin grows with it,
-- and a pause of more than a second breaks it.  Uses last_tap_ms and a
-- declared field.
local coinhunt = require "coinhunt"

local rules = { fields = { "streak" } }

function rules.on_tap(s, tap)
  if s.last_tap_ms > 0 and tap.now_ms - s.last_tap_ms <= 1000 then
    s.streak = math.min(s.streak + 1, 50)
  else
    s.streak = 0
  end

  if coinhunt.random() < 0.15 then
    return { value = 1 + math.floor(s.streak / 5), kind = "streak" }
  end
end

return rules
