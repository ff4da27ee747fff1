local c = require("coinhunt")
return { on_tap = function() return c.random(0/0) end }
