-- coinhunt_tap_rate as the module applies it (tap.c): limit_req's leaky
-- bucket per session, counted in 1/1000 taps, stored only when a tap is
-- credited.  parse("20r/s burst=40") reads the directive's value.

local rate = {}

local function atoi(s)
  if not s:match("^%d+$") or #s > 9 then return nil end
  return tonumber(s)
end

function rate.parse(v)
  local invalid = "\"" .. tostring(v) .. "\": \"off\", \"Nr/s\" or "
                  .. "\"Nr/m\", then \"burst=N\" if any"
  if v == "off" then return { per_min = 0, burst = 0 } end
  if type(v) ~= "string" then return nil, invalid end
  local n, unit, rest = v:match("^(%d+)r/([sm])(.*)$")
  local count = n and atoi(n)
  if not count or count == 0 or count > 1000000 then return nil, invalid end
  local r = { per_min = count * 60000 / (unit == "m" and 60 or 1),
              burst = 0 }
  r.per_min = math.floor(r.per_min)
  if rest ~= "" then
    local b = rest:match("^%s+burst=(%d+)$")
    local burst = b and atoi(b)
    if not burst or burst > 1000000 then
      return nil, invalid .. " (burst 0 to 1000000 taps)"
    end
    r.burst = burst * 1000
  end
  return r
end

-- the bucket after one more tap of "slot" at "now": its excess, or nil
-- and the seconds a client is told to wait (Retry-After)
function rate.take(r, slot, now)
  if r.per_min == 0 then return 0 end
  local elapsed = slot.last_tap_ms ~= 0 and now - slot.last_tap_ms
                  or 86400000
  elapsed = math.min(math.max(elapsed, 0), 86400000)
  local excess = slot.excess - math.floor(r.per_min * elapsed / 60000)
  excess = math.max(excess, 0) + 1000
  if excess > r.burst + 1000 then
    local wait = math.floor((excess - r.burst - 1000) * 60000 / r.per_min)
    return nil, math.max(math.floor((wait + 999) / 1000), 1)
  end
  return excess
end

return rate
