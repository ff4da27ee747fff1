return { on_tap = function() return setmetatable({}, {__index = function() error("no") end}) end }
