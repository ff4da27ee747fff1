local n = 0
for i = 1, 100 do n = n + i end
return { on_tap = function(s, t) while n > 0 do n = n + 1 end return n end }
