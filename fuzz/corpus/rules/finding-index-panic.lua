return setmetatable({}, {__index = function() error("boom") end})
