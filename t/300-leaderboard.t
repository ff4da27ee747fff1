# Local leaderboards (no coinhunt_redis): exact ranks from the shared zone,
# ties by player name bytewise, top N bounds, "me", unknown hunts, bad
# parameters, and ended or expired sessions staying on the board (retired)
# until a re-join revives them with their score.  With coinhunt_secret set,
# the token of slot S at generation G is known in advance (t/lib/Coinhunt.pm):
# a join takes a slot at generation 1, an end or expiry bumps it, a revival
# bumps it again.

use lib 't/lib';
use Test::Nginx::Socket;
use Coinhunt;

repeat_each(1);

# every request: status, body, no [error] line
plan tests => repeat_each() * 3 * (14 + 9 + 11 + 12 + 6 + 5);

no_shuffle();
run_tests();

sub main::tok { Coinhunt::token('coinhunt-test-secret', @_) }

sub main::board { Coinhunt::board(@_) }

__DATA__

=== TEST 1: ranks by score, ties by name, top N
--- http_config
    coinhunt_zone lb 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/five.lua;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap { coinhunt tap; }
    location = /hunt/leaderboard { coinhunt leaderboard; }
--- user_files
>>> five.lua
return { on_tap = function(s, tap) return { value = 5, kind = "gold" } end }
--- request eval
[
"POST /hunt/session?player=alice",
"POST /hunt/session?player=bob",
"POST /hunt/session?player=carol",
"POST /hunt/session?player=dave",
"POST /hunt/tap?session=" . main::tok(0, 1, 'alice'),
"POST /hunt/tap?session=" . main::tok(0, 1, 'alice'),
"POST /hunt/tap?session=" . main::tok(1, 1, 'bob'),
"POST /hunt/tap?session=" . main::tok(1, 1, 'bob'),
"POST /hunt/tap?session=" . main::tok(2, 1, 'carol'),
"GET /hunt/leaderboard",
"GET /hunt/leaderboard?top=2",
"GET /hunt/leaderboard?top=100&hunt=default",
"POST /hunt/tap?session=" . main::tok(1, 1, 'bob'),
"GET /hunt/leaderboard?top=1",
]
--- error_code eval
[201, 201, 201, 201, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]
--- response_body eval
[
'{"session":"' . main::tok(0, 1, 'alice') . '","player":"alice","hunt":"default","score":0,"taps":0,"coins":0,"expires_in":1800}' . "\n",
'{"session":"' . main::tok(1, 1, 'bob') . '","player":"bob","hunt":"default","score":0,"taps":0,"coins":0,"expires_in":1800}' . "\n",
'{"session":"' . main::tok(2, 1, 'carol') . '","player":"carol","hunt":"default","score":0,"taps":0,"coins":0,"expires_in":1800}' . "\n",
'{"session":"' . main::tok(3, 1, 'dave') . '","player":"dave","hunt":"default","score":0,"taps":0,"coins":0,"expires_in":1800}' . "\n",
'{"coin":{"value":5,"kind":"gold"},"score":5,"taps":1,"coins":1}' . "\n",
'{"coin":{"value":5,"kind":"gold"},"score":10,"taps":2,"coins":2}' . "\n",
'{"coin":{"value":5,"kind":"gold"},"score":5,"taps":1,"coins":1}' . "\n",
'{"coin":{"value":5,"kind":"gold"},"score":10,"taps":2,"coins":2}' . "\n",
'{"coin":{"value":5,"kind":"gold"},"score":5,"taps":1,"coins":1}' . "\n",
main::board('default', alice => 10, bob => 10, carol => 5, dave => 0) . "}\n",
main::board('default', alice => 10, bob => 10) . "}\n",
main::board('default', alice => 10, bob => 10, carol => 5, dave => 0) . "}\n",
'{"coin":{"value":5,"kind":"gold"},"score":15,"taps":3,"coins":3}' . "\n",
main::board('default', bob => 15) . "}\n",
]
--- no_error_log
[error]



=== TEST 2: "me" with a session, the session's hunt by default
--- http_config
    coinhunt_zone lb 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/five.lua;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap { coinhunt tap; }
    location = /hunt/end { coinhunt end; }
    location = /hunt/leaderboard { coinhunt leaderboard; }
--- user_files
>>> five.lua
return { on_tap = function(s, tap) return { value = 5, kind = "gold" } end }
--- request eval
[
"POST /hunt/session?player=alice&hunt=h",
"POST /hunt/session?player=bob&hunt=h",
"POST /hunt/tap?session=" . main::tok(1, 1, 'bob', 'h'),
"GET /hunt/leaderboard?session=" . main::tok(0, 1, 'alice', 'h'),
"GET /hunt/leaderboard?top=1&hunt=h&session=" . main::tok(1, 1, 'bob', 'h'),
"GET /hunt/leaderboard?hunt=other&session=" . main::tok(0, 1, 'alice', 'h'),
"GET /hunt/leaderboard?session=AAAAAAAAAAAAAAAAAAAAAA",
"DELETE /hunt/end?session=" . main::tok(0, 1, 'alice', 'h'),
"GET /hunt/leaderboard?session=" . main::tok(0, 1, 'alice', 'h'),
]
--- more_headers eval
["", "", "", "", "", "", "", "", ""]
--- error_code eval
[201, 201, 200, 200, 200, 400, 401, 200, 401]
--- response_body eval
[
'{"session":"' . main::tok(0, 1, 'alice', 'h') . '","player":"alice","hunt":"h","score":0,"taps":0,"coins":0,"expires_in":1800}' . "\n",
'{"session":"' . main::tok(1, 1, 'bob', 'h') . '","player":"bob","hunt":"h","score":0,"taps":0,"coins":0,"expires_in":1800}' . "\n",
'{"coin":{"value":5,"kind":"gold"},"score":5,"taps":1,"coins":1}' . "\n",
main::board('h', bob => 5, alice => 0) . ',"me":{"rank":2,"score":0}}' . "\n",
main::board('h', bob => 5) . ',"me":{"rank":1,"score":5}}' . "\n",
'{"error":"bad_request","message":"the session plays another hunt"}' . "\n",
'{"error":"unauthorized","message":"the session has ended or expired"}' . "\n",
'{"ended":true,"player":"alice","hunt":"h","score":0,"taps":0,"coins":0}' . "\n",
'{"error":"unauthorized","message":"the session has ended or expired"}' . "\n",
]
--- no_error_log
[error]



=== TEST 3: unknown hunts are empty; bad parameters are 400; GET only
--- http_config
    coinhunt_zone lb 1m;
--- config
    location = /hunt/leaderboard { coinhunt leaderboard; }
--- request eval
[
"GET /hunt/leaderboard?hunt=nobody",
"GET /hunt/leaderboard",
"GET /hunt/leaderboard?top=0",
"GET /hunt/leaderboard?top=101",
"GET /hunt/leaderboard?top=ten",
"GET /hunt/leaderboard?top=-1",
"GET /hunt/leaderboard?hunt=a/b",
"GET /hunt/leaderboard?hunt=",
"GET /hunt/leaderboard?hunt=" . ("h" x 65),
"POST /hunt/leaderboard",
"GET /hunt/leaderboard?top=100&hunt=" . ("h" x 64),
]
--- error_code eval
[200, 200, 400, 400, 400, 400, 400, 400, 400, 405, 200]
--- response_body eval
[
'{"hunt":"nobody","top":[]}' . "\n",
'{"hunt":"default","top":[]}' . "\n",
'{"error":"bad_request","message":"\"top\" must be an integer from 1 to 100"}' . "\n",
'{"error":"bad_request","message":"\"top\" must be an integer from 1 to 100"}' . "\n",
'{"error":"bad_request","message":"\"top\" must be an integer from 1 to 100"}' . "\n",
'{"error":"bad_request","message":"\"top\" must be an integer from 1 to 100"}' . "\n",
'{"error":"bad_request","message":"\"hunt\" must be 1 to 64 characters of A-Z a-z 0-9 _ . -"}' . "\n",
'{"error":"bad_request","message":"\"hunt\" must be 1 to 64 characters of A-Z a-z 0-9 _ . -"}' . "\n",
'{"error":"bad_request","message":"\"hunt\" must be 1 to 64 characters of A-Z a-z 0-9 _ . -"}' . "\n",
'{"error":"method_not_allowed","message":"this endpoint takes GET, HEAD"}' . "\n",
'{"hunt":"' . ("h" x 64) . '","top":[]}' . "\n",
]
--- no_error_log
[error]



=== TEST 4: an ended session stays on the board; a re-join revives its score
--- http_config
    coinhunt_zone lb 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/five.lua;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap { coinhunt tap; }
    location = /hunt/end { coinhunt end; }
    location = /hunt/leaderboard { coinhunt leaderboard; }
    location = /hunt/metrics { coinhunt metrics; }
--- user_files
>>> five.lua
return { on_tap = function(s, tap) return { value = 5, kind = "gold" } end }
--- request eval
[
"POST /hunt/session?player=alice",
"POST /hunt/tap?session=" . main::tok(0, 1, 'alice'),
"POST /hunt/tap?session=" . main::tok(0, 1, 'alice'),
"DELETE /hunt/end?session=" . main::tok(0, 1, 'alice'),
"GET /hunt/metrics",
"GET /hunt/leaderboard",
"POST /hunt/session?player=bob",
"POST /hunt/tap?session=" . main::tok(1, 1, 'bob'),
"POST /hunt/session?player=alice",
"POST /hunt/tap?session=" . main::tok(0, 3, 'alice'),
"GET /hunt/leaderboard",
"GET /hunt/metrics",
]
--- error_code eval
[201, 200, 200, 200, 200, 200, 201, 200, 201, 200, 200, 200]
--- response_body_like eval
[
qr/^\{"session":"\Q${\ main::tok(0, 1, 'alice')}\E"/,
qr/^\{"coin":\{"value":5,"kind":"gold"\},"score":5,/,
qr/^\{"coin":\{"value":5,"kind":"gold"\},"score":10,/,
qr/^\{"ended":true,"player":"alice","hunt":"default","score":10,"taps":2,"coins":2\}$/,
qr/\ncoinhunt_sessions 0\n/,
qr/^\Q${\ main::board('default', alice => 10)}\E\}$/,
qr/^\{"session":"\Q${\ main::tok(1, 1, 'bob')}\E"/,
qr/^\{"coin":\{"value":5,"kind":"gold"\},"score":5,/,
qr/^\{"session":"\Q${\ main::tok(0, 3, 'alice')}\E","player":"alice","hunt":"default","score":10,"taps":0,"coins":0,"expires_in":1800\}$/,
qr/^\{"coin":\{"value":5,"kind":"gold"\},"score":15,"taps":1,"coins":1\}$/,
qr/^\Q${\ main::board('default', alice => 15, bob => 5)}\E\}$/,
qr/\ncoinhunt_sessions 2\n/,
]
--- no_error_log
[error]



=== TEST 5: equal scores rank by player name, bytewise
--- http_config
    coinhunt_zone lb 1m;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/leaderboard { coinhunt leaderboard; }
--- request eval
[
"POST /hunt/session?player=b",
"POST /hunt/session?player=aa",
"POST /hunt/session?player=a-",
"POST /hunt/session?player=B",
"POST /hunt/session?player=a",
"GET /hunt/leaderboard",
]
--- error_code eval
[201, 201, 201, 201, 201, 200]
--- response_body_like eval
[
qr/"player":"b"/,
qr/"player":"aa"/,
qr/"player":"a-"/,
qr/"player":"B"/,
qr/"player":"a"/,
qr/^\Q${\ main::board('default', B => 0, a => 0, 'a-' => 0, aa => 0, b => 0)}\E\}$/,
]
--- no_error_log
[error]



=== TEST 6: an expired session is retired: on the board, not live
--- http_config
    coinhunt_zone lb 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_session_ttl 1s;
    coinhunt_rules ../html/five.lua;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap { coinhunt tap; }
    location = /hunt/leaderboard { coinhunt leaderboard; }
    location = /hunt/metrics { coinhunt metrics; }
--- user_files
>>> five.lua
return { on_tap = function(s, tap) return { value = 5, kind = "gold" } end }
--- request eval
[
"POST /hunt/session?player=alice",
"POST /hunt/tap?session=" . main::tok(0, 1, 'alice'),
["GET /hunt/met", { value => "rics", delay_before => 1.6 }],
"GET /hunt/leaderboard",
"POST /hunt/session?player=alice",
]
--- error_code eval
[201, 200, 200, 200, 201]
--- response_body_like eval
[
qr/"player":"alice"/,
qr/"score":5,/,
qr/\ncoinhunt_sessions 0\n/,
qr/^\Q${\ main::board('default', alice => 5)}\E\}$/,
qr/^\{"session":"\Q${\ main::tok(0, 3, 'alice')}\E","player":"alice","hunt":"default","score":5,"taps":0,/,
]
--- no_error_log
[error]
