return {
  fields = { "streak", "best_x", "_k9" },
  on_tap = function(s, tap) return { value = 3, kind = "gold" } end,
}
