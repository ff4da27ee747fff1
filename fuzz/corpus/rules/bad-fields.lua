return { fields = { "score", "a", "a", 7 }, on_tap = function() end }
