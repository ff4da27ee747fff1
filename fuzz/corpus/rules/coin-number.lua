local coinhunt = require("coinhunt")
return { on_tap = function(s, tap) return coinhunt.random(1, 10) end }
