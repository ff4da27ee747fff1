local ok, e = pcall(error, "x")
return setmetatable({ on_tap = function() return { value = 1.5 } end },
                    { __newindex = function() end })
