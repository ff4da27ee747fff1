# Taps and the Lua rules over HTTP: crediting coins, the session view, the
# coinhunt module, every way a rule can fail, seq replay protection, the
# per-session tap rate, and the access-log variables.  What the failures
# write to the error log is checked in t/021-tap-lifecycle.t, where one
# nginx serves a whole sequence.

use lib 't/lib';
use Test::Nginx::Socket;
use Coinhunt;

repeat_each(1);

plan tests => repeat_each() * 194;

no_shuffle();
# TEST 11 and TEST 12 roll the same seeded dice in two fresh nginx
add_block_preprocessor(sub {
    my $block = shift;

    return unless defined $block->seeded_dice;

    $block->set_value(http_config => <<'_EOC_');
    coinhunt_zone taps 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_seed 20261125;
    coinhunt_rules ../html/rules.lua;
_EOC_
    $block->set_value(config => <<'_EOC_');
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap { coinhunt tap; }
_EOC_
    $block->set_value(user_files => <<'_EOC_');
>>> rules.lua
local coinhunt = require "coinhunt"
return { on_tap = function()
  local r = coinhunt.random()
  assert(r >= 0 and r < 1)
  local d = coinhunt.random(6)
  assert(d >= 1 and d <= 6 and d == math.floor(d))
  local e = coinhunt.random(10, 12)
  assert(e >= 10 and e <= 12)
  return { value = d * 100 + e, kind = "d" .. math.floor(r * 1000) }
end }
_EOC_
    $block->set_value(request => main::taps("", "", ""));
    $block->set_value(error_code => [201, 200, 200, 200]);
    $block->set_value(response_body_like => [qr/"session"/,
        qr/^\Q{"coin":{"value":411,"kind":"d661"},"score":411,"taps":1,"coins":1}\E$/,
        qr/^\Q{"coin":{"value":210,"kind":"d984"},"score":621,"taps":2,"coins":2}\E$/,
        qr/^\Q{"coin":{"value":511,"kind":"d500"},"score":1132,"taps":3,"coins":3}\E$/]);
});

run_tests();

sub main::tok { Coinhunt::token('coinhunt-test-secret', @_) }

# a join, then taps of that session with these query strings
sub main::taps {
    my @q = @_;
    return ["POST /hunt/session?player=tapper&hunt=cave",
            map { "POST /hunt/tap?session=" . main::tok(0, 1, 'tapper', 'cave') . $_ } @q];
}

__DATA__

=== TEST 1: on_tap's coin is credited; score, taps and coins add up
--- http_config
    coinhunt_zone taps 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/rules.lua;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap { coinhunt tap; }
--- user_files
>>> rules.lua
local rules = {}
function rules.on_tap(s, tap)
  if s.taps % 2 == 0 then return { value = 10, kind = "gold" } end
end
return rules
--- request eval
main::taps("", "", "", "")
--- error_code eval
[201, 200, 200, 200, 200]
--- response_body_like eval
[qr/"session"/,
qr/^\{"coin":\{"value":10,"kind":"gold"\},"score":10,"taps":1,"coins":1\}$/,
qr/^\{"coin":null,"score":10,"taps":2,"coins":1\}$/,
qr/^\{"coin":\{"value":10,"kind":"gold"\},"score":20,"taps":3,"coins":2\}$/,
qr/^\{"coin":null,"score":20,"taps":4,"coins":2\}$/]
--- no_error_log
[error]



=== TEST 2: the view: core fields, declared fields kept between taps,
on_join, player, hunt, coins, last_tap_ms, and the tap's x, y, seq and now_ms
--- http_config
    coinhunt_zone taps 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/rules.lua;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap { coinhunt tap; }
--- user_files
>>> rules.lua
local coinhunt = require "coinhunt"
local rules = { fields = { "combo", "bonus" } }
function rules.on_join(s, ctx)
  s.bonus = 100
  assert(ctx.now_ms == s.created_ms)
end
function rules.on_tap(s, tap)
  s.combo = s.combo + 1
  assert(tap.now_ms >= s.created_ms and tap.now_ms <= coinhunt.now_ms())
  assert(s.player == "tapper" and s.hunt == "cave")
  -- the last credited tap's time; 0 before the first
  if s.taps == 0 then
    assert(s.last_tap_ms == 0)
  else
    assert(s.last_tap_ms >= s.created_ms and s.last_tap_ms <= tap.now_ms)
  end
  local kind = string.format("c%d-b%d-x%g-y%g-s%d-t%d-k%d",
                             s.combo, s.bonus, tap.x, tap.y, tap.seq, s.taps,
                             s.coins)
  return { value = s.combo, kind = kind }
end
return rules
--- request eval
main::taps("&x=1.5&y=-2&seq=7", "&seq=9", "")
--- error_code eval
[201, 200, 200, 200]
--- response_body_like eval
[qr/"session"/,
qr/^\Q{"coin":{"value":1,"kind":"c1-b100-x1.5-y-2-s7-t0-k0"},"score":1,"taps":1,"coins":1}\E$/,
qr/^\Q{"coin":{"value":2,"kind":"c2-b100-x0-y0-s9-t1-k1"},"score":3,"taps":2,"coins":2}\E$/,
qr/^\Q{"coin":{"value":3,"kind":"c3-b100-x0-y0-s0-t2-k2"},"score":6,"taps":3,"coins":3}\E$/]
--- no_error_log
[error]



=== TEST 3: a rule that raises an error: 500 rule_error, traceback in the
log, the session unchanged (not even taps), the worker alive
--- http_config
    coinhunt_zone taps 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/rules.lua;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap { coinhunt tap; }
    location = /hunt/metrics { coinhunt metrics; }
--- user_files
>>> rules.lua
local rules = { fields = { "n" } }
local function explode() error("the cave collapsed") end
function rules.on_tap(s, tap)
  s.n = s.n + 1
  if tap.seq == 2 then explode() end
  return { value = 1 }
end
return rules
--- request eval
[@{ main::taps("&seq=1", "&seq=2", "&seq=3") }, "GET /hunt/metrics"]
--- error_code eval
[201, 200, 500, 200, 200]
--- response_body_like eval
[qr/"session"/,
qr/^\{"coin":\{"value":1,"kind":"coin"\},"score":1,"taps":1,"coins":1\}$/,
qr/^\{"error":"rule_error","message":"the hunt's on_tap rule failed"\}$/,
qr/^\{"coin":\{"value":1,"kind":"coin"\},"score":2,"taps":2,"coins":2\}$/,
qr/coinhunt_rule_errors_total 1\n/]




=== TEST 4: a runaway rule is cut off; the worker keeps serving
--- http_config
    coinhunt_zone taps 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/rules.lua;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap { coinhunt tap; }
--- user_files
>>> rules.lua
local rules = {}
function rules.on_tap(s, tap)
  if tap.seq == 1 then while true do end end
  if tap.seq == 2 then
    -- a rule cannot catch the budget error and go on
    while true do pcall(function() while true do end end) end
  end
  return { value = 4 }
end
return rules
--- request eval
main::taps("&seq=1", "&seq=2", "&seq=3")
--- error_code eval
[201, 500, 500, 200]
--- response_body_like eval
[qr/"session"/, qr/"error":"rule_error"/, qr/"error":"rule_error"/,
 qr/^\{"coin":\{"value":4,"kind":"coin"\},"score":4,"taps":1,"coins":1\}$/]

--- timeout: 10



=== TEST 5: malformed coins are rule errors and credit nothing
--- http_config
    coinhunt_zone taps 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/rules.lua;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap { coinhunt tap; }
--- user_files
>>> rules.lua
local bad = {
  { value = -1 }, { value = "5" }, { value = 1e12 }, { value = 2.5 },
  { value = 0/0 }, { value = 1, kind = "" }, { value = 1, kind = "a b" },
  { value = 1, kind = string.rep("k", 33) }, { value = 1, kind = 7 },
  "gold", true, {},
}
return { on_tap = function(s, tap)
  if tap.seq <= #bad then return bad[tap.seq] end
  return { value = 1000000000, kind = "max" }
end }
--- request eval
main::taps(map { "&seq=$_" } 1 .. 13)
--- error_code eval
[201, (500) x 12, 200]
--- response_body_like eval
[qr/"session"/, (qr/"error":"rule_error"/) x 12,
 qr/^\{"coin":\{"value":1000000000,"kind":"max"\},"score":1000000000,"taps":1,"coins":1\}$/]




=== TEST 6: the view refuses writes to core fields, undeclared fields and
non-numbers, and has no other fields
--- http_config
    coinhunt_zone taps 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/rules.lua;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap { coinhunt tap; }
--- user_files
>>> rules.lua
local rules = { fields = { "combo" } }
function rules.on_tap(s, tap)
  if tap.seq == 1 then s.score = 1e9 end
  if tap.seq == 2 then s.gold = 1 end
  if tap.seq == 3 then s.combo = "lots" end
  if tap.seq == 4 then s.combo = 1/0 end
  if tap.seq == 5 then return { value = s.nothing } end
  if tap.seq == 6 then setmetatable(s, nil) end
  s.combo = s.combo + 1
  return s.combo
end
return rules
--- request eval
main::taps(map { "&seq=$_" } 1 .. 7)
--- error_code eval
[201, (500) x 6, 200]
--- response_body_like eval
[qr/"session"/, (qr/"error":"rule_error"/) x 6,
 qr/^\{"coin":\{"value":1,"kind":"coin"\},"score":1,"taps":1,"coins":1\}$/]




=== TEST 7: rules run in a sandbox: no ffi, io, os.execute or debug
--- http_config
    coinhunt_zone taps 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/rules.lua;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap { coinhunt tap; }
--- user_files
>>> rules.lua
local rules = {}
function rules.on_tap(s, tap)
  if tap.seq == 1 then return require("ffi") and 1 end
  if tap.seq == 2 then return io.open("/etc/passwd") and 1 end
  if tap.seq == 3 then return os.execute("true") and 1 end
  if tap.seq == 4 then return debug.getinfo(1) and 1 end
  return { value = math.floor(os.time() / os.time()), kind = "safe" }
end
return rules
--- request eval
main::taps(map { "&seq=$_" } 1 .. 5)
--- error_code eval
[201, 500, 500, 500, 500, 200]




=== TEST 8: seq must increase strictly: 409 replay, and nothing changes
--- http_config
    coinhunt_zone taps 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/rules.lua;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap { coinhunt tap; }
--- user_files
>>> rules.lua
return { on_tap = function() return 1 end }
--- request eval
main::taps("&seq=5", "&seq=5", "&seq=4", "", "&seq=6", "&seq=0", "&seq=x",
           "&seq=9007199254740992")
--- error_code eval
[201, 200, 409, 409, 200, 200, 400, 400, 400]
--- response_body_like eval
[qr/"session"/, qr/"taps":1/,
 qr/^\{"error":"replay","message":"seq must increase with every tap of the session"\}$/,
 qr/"error":"replay"/, qr/"score":2,"taps":2/, qr/"score":3,"taps":3/,
 qr/"message":"\\"seq\\" must be an integer from 1 to 9007199254740991"/,
 qr/"error":"bad_request"/, qr/"error":"bad_request"/]



=== TEST 9: coinhunt_tap_rate: 429 with Retry-After past the burst
--- http_config
    coinhunt_zone taps 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/rules.lua;
--- config
    coinhunt_tap_rate 1r/m burst=2;
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap { coinhunt tap; }
    location = /hunt/metrics { coinhunt metrics; }
--- user_files
>>> rules.lua
return { on_tap = function() return 1 end }
--- request eval
[@{ main::taps("", "", "", "", "") }, "GET /hunt/metrics"]
--- error_code eval
[201, 200, 200, 200, 429, 429, 200]
--- response_headers eval
["", "", "", "", "Retry-After: 60", "Retry-After: 60", ""]
--- response_body_like eval
[qr/"session"/, qr/"taps":1/, qr/"taps":2/, qr/"taps":3/,
 qr/^\{"error":"rate_limited","message":"the session taps faster than coinhunt_tap_rate allows"\}$/,
 qr/"error":"rate_limited"/,
 qr/coinhunt_rate_limited_total 2\n/]



=== TEST 10: x and y must be finite numbers
--- http_config
    coinhunt_zone taps 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/rules.lua;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap { coinhunt tap; }
--- user_files
>>> rules.lua
return { on_tap = function(s, tap) return tap.x + tap.y end }
--- request eval
main::taps("&x=nan", "&x=inf", "&y=0x10", "&x=", "&x=3&y=4e0")
--- error_code eval
[201, 400, 400, 400, 400, 200]
--- response_body_like eval
[qr/"session"/, (qr/"message":"\\"[xy]\\" must be a finite decimal number"/) x 4,
 qr/"coin":\{"value":7,/]



=== TEST 11: coinhunt_seed makes coinhunt.random reproducible
--- seeded_dice



=== TEST 12: the same seed in a new nginx draws the same numbers
--- seeded_dice



=== TEST 13: $coinhunt_player, $coinhunt_score and $coinhunt_coin
--- http_config
    coinhunt_zone taps 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/rules.lua;
--- config
    location = /hunt/session {
        coinhunt session;
        add_header X-Log "p=$coinhunt_player s=$coinhunt_score c=$coinhunt_coin";
    }
    location = /hunt/tap {
        coinhunt tap;
        add_header X-Log "p=$coinhunt_player s=$coinhunt_score c=$coinhunt_coin"
                   always;
    }
--- user_files
>>> rules.lua
return { on_tap = function(s) if s.taps == 0 then return 25 end end }
--- request eval
[@{ main::taps("", "") }, "POST /hunt/tap"]
--- error_code eval
[201, 200, 200, 401]
--- response_headers eval
["X-Log: p=tapper s=0 c=", "X-Log: p=tapper s=25 c=25",
 "X-Log: p=tapper s=25 c=", "X-Log: p= s= c="]



=== TEST 14: on_join that fails refuses the join and creates nothing
--- http_config
    coinhunt_zone taps 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/rules.lua;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/metrics { coinhunt metrics; }
--- user_files
>>> rules.lua
return {
  on_join = function(s) if s.player == "mallory" then error("banned") end end,
  on_tap = function() end,
}
--- request eval
["POST /hunt/session?player=mallory", "POST /hunt/session?player=trent",
 "GET /hunt/metrics"]
--- error_code eval
[500, 201, 200]
--- response_body_like eval
[qr/^\{"error":"rule_error","message":"the hunt's on_join rule failed"\}$/,
 qr/"session":"\Q${\ main::tok(0, 1, 'trent')}\E","player":"trent"/,
 qr/coinhunt_sessions 1\n/]



=== TEST 15: $coinhunt_player names a valid token's player whatever the answer: a rule error, a refusal, a replay, a rate limit; not a bad token
--- http_config
    coinhunt_zone taps 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/rules.lua;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap {
        coinhunt tap;
        coinhunt_tap_rate 1r/m burst=1;
        add_header X-Log "p=$coinhunt_player s=$coinhunt_score c=$coinhunt_coin"
                   always;
    }
--- user_files
>>> rules.lua
local coinhunt = require "coinhunt"
return { on_tap = function(s, tap)
  if tap.seq == 2 then error("boom") end
  if tap.seq == 3 then return coinhunt.refuse("not_yet", "wait") end
  return 7
end }
--- request eval
[@{ main::taps("&seq=1", "&seq=2", "&seq=3", "&seq=3", "&seq=4", "&seq=5") },
 "POST /hunt/tap?session=" . main::tok(0, 2, 'tapper', 'cave')]
--- error_code eval
[201, 200, 500, 403, 409, 200, 429, 401]
--- response_headers eval
["", "X-Log: p=tapper s=7 c=7", "X-Log: p=tapper s=7 c=",
 "X-Log: p=tapper s=7 c=", "X-Log: p=tapper s=7 c=",
 "X-Log: p=tapper s=14 c=7", "X-Log: p=tapper s=14 c=", "X-Log: p= s= c="]
--- no_error_log
[crit]
