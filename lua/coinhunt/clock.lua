-- Times and durations for the test kit: "2026-12-24T12:00:00Z" (UTC, or
-- with an offset such as +01:00; seconds may have a fraction) and
-- durations as nginx writes them ("31m", "1h 30m", "500ms", "2s"; units
-- ms s m h d w), both in ms.  A number is taken as ms already.

local clock = {}

local UNITS = { ms = 1, s = 1000, m = 60000, h = 3600000, d = 86400000,
                w = 604800000 }

-- days since 1970-01-01 of a proleptic Gregorian date
local function days(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * (m + (m > 2 and -3 or 9)) + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

function clock.time(v)
  if type(v) == "number" then return v end
  if type(v) ~= "string" then return nil, "a time is a string or ms" end
  local y, mo, d, h, mi, s, frac, zone =
    v:match("^(%d%d%d%d)-(%d%d)-(%d%d)[T ](%d%d):(%d%d):(%d%d)(%.?%d*)(.*)$")
  if not y then
    return nil, "\"" .. v .. "\" is not a time like 2026-12-24T12:00:00Z"
  end
  local offset = 0
  if zone ~= "Z" then
    local sign, oh, om = zone:match("^([-+])(%d%d):?(%d%d)$")
    if not sign then
      return nil, "\"" .. v .. "\" has no zone (Z or +hh:mm)"
    end
    offset = (tonumber(oh) * 60 + tonumber(om)) * 60000
    offset = sign == "+" and offset or -offset
  end
  local ms = ((days(tonumber(y), tonumber(mo), tonumber(d)) * 24 + h) * 60
              + mi) * 60000 + s * 1000
  if #frac > 1 then ms = ms + math.floor(tonumber("0" .. frac) * 1000) end
  return ms - offset
end

function clock.duration(v)
  if type(v) == "number" then
    if v >= 0 then return v end
    return nil, "a duration cannot be negative"
  end
  if type(v) ~= "string" or v:match("^%s*$") then
    return nil, "a duration is like \"31m\", \"1h 30m\" or \"500ms\""
  end
  local ms, rest = 0, v
  while rest ~= "" do
    local n, unit, tail = rest:match("^%s*(%d+)%s*(%a+)%s*(.*)$")
    if not n or not UNITS[unit] then
      return nil, "\"" .. v .. "\" is not a duration like \"31m\", "
                  .. "\"1h 30m\" or \"500ms\""
    end
    ms, rest = ms + tonumber(n) * UNITS[unit], tail
  end
  return ms
end

-- the ms of a time as the ISO text os.date writes for it
function clock.iso(ms)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(ms / 1000))
end

return clock
