-- zones.lua's test: where the player taps decides what is found.
local T = require "coinhunt.test"

local hunt = T.load("zones.lua", { seed = 5 })
local s = hunt:join("ann")

-- the chest, within 0.05 of the centre, every time
for i, at in ipairs({ { 0.5, 0.5 }, { 0.52, 0.47 }, { 0.46, 0.5 } }) do
  local r = hunt:tap(s, { x = at[1], y = at[2] })
  T.eq(r.coin, { value = 100, kind = "chest" }, "chest " .. i)
end

-- near it, silver three times in ten; far away, copper one in twenty
local function play(x, y, n)
  local found = {}
  for _ = 1, n do
    local r = hunt:tap(s, { x = x, y = y })
    if r.coin then
      found[r.coin.kind] = (found[r.coin.kind] or 0) + 1
    end
  end
  return found
end

local near = play(0.6, 0.5, 1000)
T.ok(near.silver > 250 and near.silver < 350, "silver near: "
     .. tostring(near.silver))
T.eq(near.copper, nil, "no copper near the chest")
local far = play(0.05, 0.95, 2000)
T.ok(far.copper > 70 and far.copper < 130, "copper far: "
     .. tostring(far.copper))
T.eq(far.silver, nil, "no silver far away")

-- the tap's x and y must be numbers, as the module reads them
T.eq(hunt:tap(s, { x = "east" }).error, "bad_request")
