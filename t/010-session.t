# Sessions: join, idempotent re-join, end, the parameter rules and every
# class of bad token.  With coinhunt_secret set, the token of slot S at
# generation G is known in advance (t/lib/Coinhunt.pm computes it on its
# own), so one block can join and then tap with the token it will get.

use lib 't/lib';
use Test::Nginx::Socket;
use Coinhunt;

repeat_each(1);

plan tests => repeat_each() * 98;

no_shuffle();
run_tests();

sub main::tok { Coinhunt::token('coinhunt-test-secret', @_) }

__DATA__

=== TEST 1: join answers 201 with the new session
--- http_config
    coinhunt_zone sessions 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_session_ttl 10m;
--- config
    location = /hunt/session { coinhunt session; }
--- request
POST /hunt/session?player=alice&hunt=spring
--- error_code: 201
--- response_headers
Content-Type: application/json
--- response_body eval
'{"session":"' . main::tok(0, 1, 'alice', 'spring') . '","player":"alice","hunt":"spring",'
. '"score":0,"taps":0,"coins":0,"expires_in":600}' . "\n"
--- no_error_log
[error]



=== TEST 2: hunt defaults to "default"; parameters may come in a form body
--- http_config
    coinhunt_zone sessions 1m;
    coinhunt_secret coinhunt-test-secret;
--- config
    location = /hunt/session { coinhunt session; }
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- request
POST /hunt/session
player=bob
--- error_code: 201
--- response_body_like: ^\{"session":"[A-Za-z0-9_-]{22}","player":"bob","hunt":"default","score":0,"taps":0,"coins":0,"expires_in":1800\}$
--- no_error_log
[error]



=== TEST 3: the query wins over the body
--- http_config
    coinhunt_zone sessions 1m;
    coinhunt_secret coinhunt-test-secret;
--- config
    location = /hunt/session { coinhunt session; }
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- request
POST /hunt/session?player=query&hunt=h
player=body&hunt=h
--- error_code: 201
--- response_body_like: "player":"query","hunt":"h"



=== TEST 4: joining again returns the same session with a fresh token and
revokes the old one
--- http_config
    coinhunt_zone sessions 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/one.lua;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap { coinhunt tap; }
--- user_files
>>> one.lua
return { on_tap = function(s, tap) return { value = 1, kind = "coin" } end }
--- request eval
[
"POST /hunt/session?player=alice",
"POST /hunt/tap?session=" . main::tok(0, 1, 'alice'),
"POST /hunt/session?player=alice",
"POST /hunt/tap?session=" . main::tok(0, 1, 'alice'),
"POST /hunt/tap?session=" . main::tok(0, 2, 'alice'),
"POST /hunt/session?player=bob",
]
--- error_code eval
[201, 200, 201, 401, 200, 201]
--- response_body eval
[
'{"session":"' . main::tok(0, 1, 'alice') . '","player":"alice","hunt":"default","score":0,"taps":0,"coins":0,"expires_in":1800}' . "\n",
'{"coin":{"value":1,"kind":"coin"},"score":1,"taps":1,"coins":1}' . "\n",
'{"session":"' . main::tok(0, 2, 'alice') . '","player":"alice","hunt":"default","score":1,"taps":1,"coins":1,"expires_in":1800}' . "\n",
'{"error":"unauthorized","message":"the session has ended or expired"}' . "\n",
'{"coin":{"value":1,"kind":"coin"},"score":2,"taps":2,"coins":2}' . "\n",
'{"session":"' . main::tok(1, 1, 'bob') . '","player":"bob","hunt":"default","score":0,"taps":0,"coins":0,"expires_in":1800}' . "\n",
]



=== TEST 5: the same player in two hunts has two sessions
--- http_config
    coinhunt_zone sessions 1m;
    coinhunt_secret coinhunt-test-secret;
--- config
    location = /hunt/session { coinhunt session; }
--- request eval
["POST /hunt/session?player=p&hunt=a", "POST /hunt/session?player=p&hunt=b",
 "POST /hunt/session?player=p&hunt=a"]
--- error_code eval
[201, 201, 201]
--- response_body_like eval
[qr/"session":"\Q${\ main::tok(0, 1, 'p', 'a')}\E","player":"p","hunt":"a"/,
 qr/"session":"\Q${\ main::tok(1, 1, 'p', 'b')}\E","player":"p","hunt":"b"/,
 qr/"session":"\Q${\ main::tok(0, 2, 'p', 'a')}\E","player":"p","hunt":"a"/]



=== TEST 6: end returns the final state; the token is dead from then on
--- http_config
    coinhunt_zone sessions 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/two.lua;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap { coinhunt tap; }
    location = /hunt/end { coinhunt end; }
--- user_files
>>> two.lua
return { on_tap = function(s, tap) return { value = 2, kind = "silver" } end }
--- request eval
[
"POST /hunt/session?player=carol&hunt=x",
"POST /hunt/tap?session=" . main::tok(0, 1, 'carol', 'x'),
"DELETE /hunt/end?session=" . main::tok(0, 1, 'carol', 'x'),
"POST /hunt/tap?session=" . main::tok(0, 1, 'carol', 'x'),
"POST /hunt/end?session=" . main::tok(0, 1, 'carol', 'x'),
]
--- error_code eval
[201, 200, 200, 401, 401]
--- response_body eval
[
'{"session":"' . main::tok(0, 1, 'carol', 'x') . '","player":"carol","hunt":"x","score":0,"taps":0,"coins":0,"expires_in":1800}' . "\n",
'{"coin":{"value":2,"kind":"silver"},"score":2,"taps":1,"coins":1}' . "\n",
'{"ended":true,"player":"carol","hunt":"x","score":2,"taps":1,"coins":1}' . "\n",
'{"error":"unauthorized","message":"the session has ended or expired"}' . "\n",
'{"error":"unauthorized","message":"the session has ended or expired"}' . "\n",
]



=== TEST 7: every bad parameter is a 400 with a message, and joins nothing
--- http_config
    coinhunt_zone sessions 1m;
    coinhunt_secret coinhunt-test-secret;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/metrics { coinhunt metrics; }
--- request eval
[
"POST /hunt/session",
"POST /hunt/session?player=",
"POST /hunt/session?player=al%20ice",
"POST /hunt/session?player=" . ("a" x 65),
"POST /hunt/session?player=%E2%82%AC",
"POST /hunt/session?player=ok&hunt=no/slash",
"POST /hunt/session?player=ok&hunt=",
"GET /hunt/metrics",
]
--- error_code eval
[400, 400, 400, 400, 400, 400, 400, 200]
--- response_body_like eval
[
qr/^\{"error":"bad_request","message":"the \\"player\\" parameter is required"\}$/,
qr/^\{"error":"bad_request","message":"\\"player\\" must be 1 to 64 characters of A-Z a-z 0-9 _ \. -"\}$/,
qr/"error":"bad_request","message":"\\"player\\" must be 1 to 64/,
qr/"error":"bad_request","message":"\\"player\\" must be 1 to 64/,
qr/"error":"bad_request","message":"\\"player\\" must be 1 to 64/,
qr/"error":"bad_request","message":"\\"hunt\\" must be 1 to 64/,
qr/"error":"bad_request","message":"\\"hunt\\" must be 1 to 64/,
qr/\ncoinhunt_sessions 0\n/,
]



=== TEST 8: a 64-character player is fine
--- http_config
    coinhunt_zone sessions 1m;
--- config
    location = /hunt/session { coinhunt session; }
--- request eval
"POST /hunt/session?player=" . ("Z" x 64)
--- error_code: 201
--- response_body_like eval
qr/"player":"Z{64}"/



=== TEST 9: wrong methods are 405 with Allow
--- http_config
    coinhunt_zone sessions 1m;
    coinhunt_rules ../html/one.lua;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/end { coinhunt end; }
    location = /hunt/tap { coinhunt tap; }
--- user_files
>>> one.lua
return { on_tap = function(s, tap) end }
--- request eval
["GET /hunt/session?player=a", "GET /hunt/end", "PUT /hunt/tap"]
--- error_code eval
[405, 405, 405]
--- response_headers_like eval
["Allow: POST", "Allow: POST, DELETE", "Allow: POST"]
--- response_body_like eval
[qr/"error":"method_not_allowed"/, qr/"error":"method_not_allowed"/,
 qr/"error":"method_not_allowed"/]



=== TEST 10: every class of bad token is a 401
--- http_config
    coinhunt_zone sessions 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/one.lua;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap { coinhunt tap; }
--- user_files
>>> one.lua
return { on_tap = function(s, tap) return { value = 1 } end }
--- request eval
my $good = main::tok(0, 1, 'dave');
# the 6th character holds slot and generation bits: no such live session
(my $altered = $good) =~ s/^(.{5})(.)/$1 . ($2 eq 'A' ? 'B' : 'A')/e;
(my $alias = $good) =~ s/.$/ chr(ord($&) + 1) /e;
my $forged = Coinhunt::token('another-secret-of-16', 0, 1, 'dave');
[
"POST /hunt/session?player=dave",
"POST /hunt/tap",
"POST /hunt/tap?session=" . substr($good, 0, 21),
"POST /hunt/tap?session=" . $good . "A",
"POST /hunt/tap?session=" . $altered,
"POST /hunt/tap?session=" . $alias,
"POST /hunt/tap?session=" . $forged,
"POST /hunt/tap?session=" . main::tok(0, 2, 'dave'),
"POST /hunt/tap?session=" . main::tok(7, 1, 'dave'),
"POST /hunt/tap?session=" . main::tok(4000000000, 1, 'dave'),
"POST /hunt/tap?session=!!!!!!!!!!!!!!!!!!!!!!",
"POST /hunt/tap?session=" . $good,
]
--- error_code eval
[201, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 200]
--- response_body_like eval
[
qr/"session"/,
qr/^\{"error":"unauthorized","message":"a session token is required/,
qr/^\{"error":"unauthorized","message":"the session token is not valid"\}$/,
qr/^\{"error":"unauthorized","message":"the session token is not valid"\}$/,
qr/^\{"error":"unauthorized","message":"the session has ended or expired"\}$/,
qr/^\{"error":"unauthorized","message":"the session token is not valid"\}$/,
qr/^\{"error":"unauthorized","message":"the session token is not valid"\}$/,
qr/^\{"error":"unauthorized","message":"the session has ended or expired"\}$/,
qr/^\{"error":"unauthorized","message":"the session has ended or expired"\}$/,
qr/^\{"error":"unauthorized","message":"the session has ended or expired"\}$/,
qr/^\{"error":"unauthorized","message":"the session token is not valid"\}$/,
qr/^\{"coin":\{"value":1,"kind":"coin"\},"score":1,"taps":1,"coins":1\}$/,
]



=== TEST 11: the Bearer header, and a header that is not Bearer
--- http_config
    coinhunt_zone sessions 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/one.lua;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap { coinhunt tap; }
--- user_files
>>> one.lua
return { on_tap = function(s, tap) end }
--- pipelined_requests eval
["POST /hunt/session?player=erin", "POST /hunt/tap", "POST /hunt/tap"]
--- more_headers eval
["", "Authorization: Bearer " . main::tok(0, 1, 'erin'),
 "Authorization: Basic " . main::tok(0, 1, 'erin')]
--- error_code eval
[201, 200, 401]
--- response_body_like eval
[qr/"player":"erin"/,
 qr/^\{"coin":null,"score":0,"taps":1,"coins":0\}$/,
 qr/"message":"the Authorization header must be \\"Bearer <session token>\\""/]



=== TEST 12: a body over 4 KiB is 413, a body of another type is 400
--- http_config
    coinhunt_zone sessions 1m;
--- config
    location = /hunt/session { coinhunt session; }
--- request eval
["POST /hunt/session\n" . ("player=x&" x 600), "POST /hunt/session\n{\"player\":\"x\"}"]
--- more_headers eval
["Content-Type: application/x-www-form-urlencoded",
 "Content-Type: application/json"]
--- error_code eval
[413, 400]
--- response_body_like eval
[qr/^\{"error":"body_too_large","message":"the request body is over 4096 bytes"\}$/,
 qr/^\{"error":"bad_request","message":"a request body must be application\/x-www-form-urlencoded"\}$/]
