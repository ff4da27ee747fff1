-- The simplest hunt, and the one the benchmarks run: one tap in ten finds a
-- gold coin worth 5 (the rule of the OpenResty implementation in
-- ../shared/peer, so both do the same work).
local coinhunt = require "coinhunt"

return {
  on_tap = function(s, tap)
    if coinhunt.random() < 0.10 then
      return { value = 5, kind = "gold" }
    end
  end,
}
