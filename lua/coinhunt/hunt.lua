-- One rules file served as the module serves it: a one-worker nginx with
-- "coinhunt_rules FILE;", its sessions, taps, ends, expiry and local
-- leaderboards, on a clock the test moves.  Every request returns the
-- table of the HTTP answer's JSON plus its status (and retry_after, the
-- Retry-After of a 429), checked and ordered as the module does.

local sandbox = require "coinhunt.sandbox"
local view = require "coinhunt.view"
local params = require "coinhunt.params"
local rng = require "coinhunt.rng"
local clock = require "coinhunt.clock"
local rate = require "coinhunt.rate"
local verdict = require "coinhunt.verdict"
local query = require "coinhunt.query"
local json = require "coinhunt.json"

local hunt = {}

local Hunt = {}
Hunt.__index = Hunt

local HUNTS_MAX = 1024
local TOP_MAX, TOP_DEFAULT = 100, 10
local OPTIONS = { seed = true, now = true, session_ttl = true,
                  tap_rate = true, hunt = true, source = true }

local function option_error(name, msg)
  error("T.load: option " .. name .. ": " .. msg, 3)
end

-- the options of T.load, as directives would set them
local function configure(h, opts)
  for k in pairs(opts) do
    if not OPTIONS[k] then
      error("T.load: no option '" .. tostring(k) .. "' (seed, now, "
            .. "session_ttl, tap_rate, hunt, source)", 3)
    end
  end
  local seed = opts.seed == nil and rng.random_seed() or rng.seed(opts.seed)
  if not seed then
    option_error("seed", "a decimal number of at most 64 bits")
  end
  h.rng = rng.new(seed)
  local now, err = clock.time(opts.now or os.time() * 1000)
  if not now then option_error("now", err) end
  h.now_ms = math.floor(now)
  h.ttl, err = clock.duration(opts.session_ttl or "30m")
  if not h.ttl or h.ttl == 0 then
    option_error("session_ttl", err or "must be more than 0")
  end
  h.rate, err = rate.parse(opts.tap_rate or "off")
  if not h.rate then option_error("tap_rate", err) end
  h.default_hunt = "default"
  if opts.hunt ~= nil then
    if not params.valid_name(opts.hunt, params.NAME_MAX) then
      option_error("hunt", "1 to 64 characters of A-Z a-z 0-9 _ . -")
    end
    h.default_hunt = opts.hunt
  end
end

-- a hunt for the rules at "path" (its source read from there unless
-- opts.source gives it); nil and the module's message if nginx -t would
-- refuse them
function hunt.new(path, opts)
  local h = setmetatable({ path = path, slots = {}, by_name = {},
                           hunts = {}, nhunts = 0, entries = {}, requests = 0,
                           counters = { taps = 0, coins = 0, coin_value = 0,
                                        rule_errors = 0, rate_limited = 0,
                                        refused = 0, sessions = 0 } }, Hunt)
  configure(h, opts or {})
  -- each line tells the request it came from (T shows a request's lines)
  h.emit = function(level, text)
    h.entries[#h.entries + 1] = { level = level, text = text,
                                  request = h.requests }
  end
  local source = opts and opts.source
  if source == nil then
    local f, err = io.open(path, "rb")
    if not f then return nil, "cannot open rules file " .. err end
    source = f:read("*a")
    f:close()
  end
  local rules, msg = sandbox.load(h, path, source)
  if not rules then return nil, msg end
  h.rules = rules
  h.objects = view.new(rules.fields)
  return h
end

local function unauthorized(message)
  return params.error(401, "unauthorized", message)
end

local GONE = "the session has ended or expired"

function Hunt:token(slot)
  return "kit-" .. slot.index .. "-" .. slot.gen
end

-- the slot a request's session names, live, current and not idle past the
-- TTL; or nil and the 401 the module answers
function Hunt:authorize(s)
  if s == nil then
    return nil, unauthorized("a session token is required "
                             .. "(Authorization: Bearer or ?session=)")
  end
  local token = type(s) == "table" and s.session or s
  local index, gen = tostring(token):match("^kit%-(%d+)%-(%d+)$")
  if type(token) ~= "string" or not index then
    return nil, unauthorized("the session token is not valid")
  end
  local slot = self.slots[tonumber(index)]
  if not slot or slot.state ~= "live" or slot.gen ~= tonumber(gen)
     or self:active(slot) < self.now_ms - self.ttl then
    return nil, unauthorized(GONE)
  end
  return slot
end

function Hunt:active(slot)
  return math.max(slot.created_ms, slot.last_tap_ms)
end

-- the copy of a session a hook works on
local function copy(slot)
  local fields = {}
  for i, v in ipairs(slot.fields) do fields[i] = v end
  return { player = slot.player, hunt = slot.hunt, score = slot.score,
           taps = slot.taps, coins = slot.coins, created_ms = slot.created_ms,
           last_tap_ms = slot.last_tap_ms, fields = fields }
end

-- calls a hook of the rules on a session copy, as lua.c does; a failure is
-- logged with the file, the hook and the message
function Hunt:call(hook, s, tap, hunt_name)
  local fn = self.rules[hook]
  if fn == nil then return true end
  local o = self.objects
  o.state.session, o.state.tap = s, tap
  local ok, result
  if hook == "on_query" then
    -- tap: the args; the view is read-only, nil without a session
    o.state.read_only = true
    ok, result = sandbox.call(self, fn, s and o.view, tap, hunt_name)
    o.state.read_only = false
    o.state.tap = nil
  elseif hook == "on_expire" then
    ok, result = sandbox.call(self, fn, o.view)
  elseif hook == "on_join" then
    o.state.now_ms = s.created_ms
    ok, result = sandbox.call(self, fn, o.view, o.ctx)
  else
    ok, result = sandbox.call(self, fn, o.view, o.tap)
  end
  o.state.session, o.state.tap = nil, nil
  if not ok then
    self.emit("error", "coinhunt: " .. self.path .. ": " .. hook
                      .. " failed: " .. result)
  end
  return ok, result
end

local function state(slot, answer)
  answer.player, answer.hunt = slot.player, slot.hunt
  answer.score, answer.taps, answer.coins = slot.score, slot.taps, slot.coins
  return answer
end

function Hunt:join_reply(slot)
  local left = self:active(slot) + self.ttl - self.now_ms
  return state(slot, { status = 201, session = self:token(slot),
                       expires_in = left > 0 and math.ceil(left / 1000)
                                    or 0 })
end

function Hunt:hunt_find(name, create)
  if self.hunts[name] then return true end
  if not create or self.nhunts >= HUNTS_MAX then return false end
  self.hunts[name], self.nhunts = true, self.nhunts + 1
  return true
end

-- POST /hunt/session?player=P&hunt=H
function Hunt:join(player, p)
  self.requests = self.requests + 1
  p = p or {}
  local name, err = params.name(player, "player")
  if not name then return err end
  local hunt_name
  hunt_name, err = params.name(p.hunt, "hunt", self.default_hunt)
  if not hunt_name then return err end
  if not self:hunt_find(hunt_name, true) then
    return params.error(503, "sessions_full",
                        "the zone holds as many hunts as it can (1024)")
  end
  local slot = self.by_name[hunt_name .. "/" .. name]
  if slot and slot.state == "live" then
    slot.gen = slot.gen + 1         -- the tokens handed out before die
    return self:join_reply(slot)
  end
  local s = { player = name, hunt = hunt_name, score = slot and slot.score
              or 0, taps = 0, coins = 0, created_ms = self.now_ms,
              last_tap_ms = 0, fields = {} }
  for i = 1, #self.rules.fields do s.fields[i] = 0 end
  local ok, result = self:call("on_join", s)
  if not ok then
    self.counters.rule_errors = self.counters.rule_errors + 1
    return params.error(500, "rule_error", "the hunt's on_join rule failed")
  end
  local refusal = verdict.refusal(result)
  if refusal then
    self.counters.refused = self.counters.refused + 1
    return refusal
  end
  if not slot then
    slot = { index = #self.slots + 1, gen = 0 }
    self.slots[slot.index] = slot
    self.by_name[hunt_name .. "/" .. name] = slot
  end
  slot.state, slot.gen = "live", slot.gen + 1
  slot.player, slot.hunt, slot.score = name, hunt_name, s.score
  slot.taps, slot.coins, slot.seq, slot.excess = 0, 0, 0, 0
  slot.created_ms, slot.last_tap_ms, slot.fields = self.now_ms, 0, s.fields
  self.counters.sessions = self.counters.sessions + 1
  return self:join_reply(slot)
end

function Hunt:rule_error(message)
  self.counters.rule_errors = self.counters.rule_errors + 1
  return params.error(500, "rule_error", message)
end

-- POST /hunt/tap with the session, seq=, x=, y=
function Hunt:tap(s, p)
  self.requests = self.requests + 1
  p = p or {}
  local _, err = self:authorize_token(s)
  if err then return err end
  local seq, x, y
  seq, err = params.int(p.seq, "seq", 1, params.SEQ_MAX)
  if seq == false then return err end
  x, err = params.coord(p.x, "x")
  if not x then return err end
  y, err = params.coord(p.y, "y")
  if not y then return err end
  local slot
  slot, err = self:authorize(s)
  if not slot then return err end
  seq = seq or 0
  if seq ~= 0 and seq <= slot.seq then
    return params.error(409, "replay", "seq must increase with every tap "
                                       .. "of the session")
  end
  local excess, wait = rate.take(self.rate, slot, self.now_ms)
  if wait then
    self.counters.rate_limited = self.counters.rate_limited + 1
    local answer = params.error(429, "rate_limited", "the session taps "
                                .. "faster than coinhunt_tap_rate allows")
    answer.retry_after = wait
    return answer
  end
  local s_copy = copy(slot)
  local ok, result = self:call("on_tap", s_copy, { x = x, y = y, seq = seq,
                                                   now_ms = self.now_ms })
  if not ok then return self:rule_error("the hunt's on_tap rule failed") end
  local refusal = verdict.refusal(result)
  if refusal then
    -- the hook's field writes and the seq are kept; nothing is credited
    slot.fields, slot.seq = s_copy.fields, seq ~= 0 and seq or slot.seq
    self.counters.refused = self.counters.refused + 1
    return refusal
  end
  local coin, complaint = sandbox.coin(result)
  if complaint then
    self.emit("error", "coinhunt: " .. self.path .. ": on_tap " .. complaint)
    return self:rule_error("the hunt's on_tap rule failed")
  end
  self:commit(slot, s_copy.fields, seq, excess, coin)
  return { status = 200, coin = coin, score = slot.score, taps = slot.taps,
           coins = slot.coins }
end

-- the tap's outcome, stored as the module's journal stores it
function Hunt:commit(slot, fields, seq, excess, coin)
  local c = self.counters
  slot.taps, slot.last_tap_ms, slot.excess = slot.taps + 1, self.now_ms,
                                             excess
  slot.seq = seq ~= 0 and seq or slot.seq
  slot.fields = fields
  c.taps = c.taps + 1
  if coin then
    slot.coins, slot.score = slot.coins + 1, slot.score + coin.value
    c.coins, c.coin_value = c.coins + 1, c.coin_value + coin.value
  end
end

-- a request's token, checked for its form only (the module decodes it
-- before it reads any other parameter)
function Hunt:authorize_token(s)
  local slot, err = self:authorize(s)
  if slot or err.message == GONE then return slot end
  return nil, err
end

function Hunt:retire(slot)
  local s = copy(slot)
  slot.state, slot.gen = "retired", slot.gen + 1
  self.counters.sessions = self.counters.sessions - 1
  return s
end

-- DELETE /hunt/end
function Hunt:end_(s)
  self.requests = self.requests + 1
  local slot, err = self:authorize(s)
  if not slot then return err end
  self:retire(slot)
  return state(slot, { status = 200, ended = true })
end

-- the kit's own: the session expires now, as if idle past its TTL; the
-- answer is end_'s with expired = true in place of ended
function Hunt:expire(s)
  self.requests = self.requests + 1
  local slot, err = self:authorize(s)
  if not slot then return err end
  self:call("on_expire", self:retire(slot))
  return state(slot, { status = 200, expired = true })
end

-- the live session that expires first by "target" (idle past the TTL
-- 1 ms after active + TTL), the first made of those that tie; and when
function Hunt:next_expiry(target)
  local first, at
  for _, slot in ipairs(self.slots) do
    local t = self:active(slot) + self.ttl + 1
    if slot.state == "live" and t <= target and (at == nil or t < at) then
      first, at = slot, t
    end
  end
  return first, at
end

-- moves the clock on; a session idle past the TTL meanwhile expires at
-- its moment (nginx's sweeper finds it within 250 ms), told to on_expire
-- with the clock then; returns how many expired
function Hunt:advance(d)
  self.requests = self.requests + 1
  local ms, err = clock.duration(d)
  if not ms then error("advance: " .. err, 2) end
  local target, n = self.now_ms + ms, 0
  while true do
    local slot, at = self:next_expiry(target)
    if not slot then break end
    self.now_ms = math.max(self.now_ms, at)
    self:call("on_expire", self:retire(slot))
    n = n + 1
  end
  self.now_ms = target
  return n
end

function Hunt:now()
  return self.now_ms
end

local function before(a, b)
  if a.score ~= b.score then return a.score > b.score end
  return a.player < b.player
end

-- GET /hunt/leaderboard?hunt=H&top=N, with the session s if not nil
function Hunt:leaderboard(s, p)
  self.requests = self.requests + 1
  p = p or {}
  local top, err = params.int(p.top, "top", 1, TOP_MAX)
  if top == false then return err end
  local me, default = nil, self.default_hunt
  if s ~= nil then
    me, err = self:authorize(s)
    if not me then return err end
    default = me.hunt
  end
  local name
  name, err = params.name(p.hunt, "hunt", default)
  if not name then return err end
  if me and name ~= me.hunt then
    return params.error(400, "bad_request", "the session plays another hunt")
  end
  local rows = {}
  for _, slot in ipairs(self.hunts[name] and self.slots or {}) do
    if slot.hunt == name then rows[#rows + 1] = slot end
  end
  table.sort(rows, before)
  local answer = { status = 200, hunt = name, top = {} }
  for i, slot in ipairs(rows) do
    if slot == me then answer.me = { rank = i, score = slot.score } end
    if i <= (top or TOP_DEFAULT) then
      answer.top[i] = { rank = i, player = slot.player, score = slot.score }
    end
  end
  return answer
end

-- GET /hunt/query with the session (nil: none), hunt= and the other
-- parameters as args (names in lower case, values strings)
function Hunt:query(s, p)
  self.requests = self.requests + 1
  p = p or {}
  local err
  if s ~= nil then
    err = select(2, self:authorize_token(s))
    if err then return err end
  end
  local name
  if p.hunt ~= nil then
    name, err = params.name(p.hunt, "hunt")
    if not name then return err end
  end
  local args, n = {}, 0
  for k, v in pairs(p.args or {}) do
    k = tostring(k):lower()
    if not params.valid_name(k, params.NAME_MAX) then
      return params.error(400, "bad_request", "a parameter name must be 1 "
                          .. "to 64 characters of A-Z a-z 0-9 _ . -")
    end
    if k ~= "hunt" and k ~= "session" and args[k] == nil then
      n = n + 1
      if n > query.ARGS then
        return params.error(400, "bad_request", "a query has at most 32 "
                            .. "parameters besides hunt and session")
      end
      args[k] = tostring(v)
    end
  end
  local slot, s_copy
  if s ~= nil then
    slot, err = self:authorize(s)
    if not slot then return err end
    if name and name ~= slot.hunt then
      return params.error(400, "bad_request",
                          "the session plays another hunt")
    end
    name, s_copy = slot.hunt, copy(slot)
  end
  if self.rules.on_query == nil then
    return params.error(404, "no_query", "the hunt's rules answer no "
                        .. "queries (no on_query)")
  end
  local ok, result = self:call("on_query", s_copy, args,
                               name or self.default_hunt)
  if not ok then return self:rule_error("the hunt's on_query rule failed") end
  local text, complaint = query.answer(result)
  if not text then
    self.emit("error", "coinhunt: " .. self.path .. ": on_query "
                       .. complaint)
    return self:rule_error("the hunt's on_query rule failed")
  end
  return { status = 200, json = json.decode(text), text = text }
end

-- what GET /hunt/metrics counts of the rules' work
function Hunt:metrics()
  local c = self.counters
  return { coinhunt_taps_total = c.taps, coinhunt_coins_total = c.coins,
           coinhunt_coin_value_total = c.coin_value,
           coinhunt_rule_errors_total = c.rule_errors,
           coinhunt_rate_limited_total = c.rate_limited,
           coinhunt_refused_total = c.refused,
           coinhunt_sessions = c.sessions }
end

-- the error log's lines of this hunt so far: { level =, text = }
function Hunt:log()
  return self.entries
end

-- the message of the last rule that failed (its first line), or nil
function Hunt:last_error()
  for i = #self.entries, 1, -1 do
    local e = self.entries[i]
    if e.level == "error" then
      local text = e.text:match("^[^\n]*")
      return text:match(" failed: (.*)$") or text:match(": (on_tap .*)$")
             or text
    end
  end
end

return hunt
