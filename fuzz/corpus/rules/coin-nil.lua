return {
  on_join = function(s, ctx) end,
  on_expire = function(s) end,
  on_tap = function(s, tap) if tap.x then return nil end return false end,
}
