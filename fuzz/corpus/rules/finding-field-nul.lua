return {
  fields = { "st\0best_x", "_k3" },
  on_tap = function(s, tap) return { value = 3, kind = "gold" } end,
}
