# Redis mode: flushes write exact absolute scores, the top comes from Redis
# (a snapshot per flush interval), "me" asks Redis, a join is seeded from
# the score Redis holds, ties rank as in local mode, a Redis that is down or
# answers wrongly gives 503 unavailable, and every bad directive argument is
# refused by "nginx -t".  A private redis-server runs on a free port for the
# whole file (t/lib/CoinhuntRedis.pm); boards are the sorted sets
# "coinhunt:lb:<hunt>" of negated scores, in database 3 here.

use lib 't/lib';
use Test::Nginx::Socket;
use Coinhunt;
use CoinhuntRedis;

our $Redis;

BEGIN {
    $Redis = CoinhuntRedis->start;
    $Redis->select(3);
    $ENV{TEST_NGINX_REDIS_PORT} = $Redis->port;
    $ENV{TEST_NGINX_DEAD_PORT} = Coinhunt::free_port();
}

repeat_each(1);

# 3 tests a request (status, body, an error.log check), 2 without a log
# check, 3 a must_die block (dies, 2 lines in error.log)
plan tests => repeat_each() * (3 * (10 + 5 + 6 + 1 + 1 + 1 + 1) + 2 * 2
                               + 3 * 7);

no_shuffle();
run_tests();

sub main::tok { Coinhunt::token('coinhunt-test-secret', @_) }

sub main::board { Coinhunt::board(@_) }

# until the worker's Redis connection is ready ("--- init")
sub main::redis_up {
    my $url = "http://127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}/hunt/metrics";
    Coinhunt::wait_for(30, sub {
        ((Coinhunt::http(GET => $url))[1] // '') =~ /^coinhunt_redis_up 1$/m;
    }) or warn "the worker's Redis connection is not up\n";
}

# a request that waits $delay seconds (for a flush)
sub main::later {
    my ($delay, $req) = @_;
    return [substr($req, 0, 5), { value => substr($req, 5),
                                   delay_before => $delay }];
}

__DATA__

=== TEST 1: flushes write absolute scores; the top comes from Redis
--- http_config
    coinhunt_zone rz 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/five.lua;
    coinhunt_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=3;
    coinhunt_flush 20ms;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap { coinhunt tap; }
    location = /hunt/leaderboard { coinhunt leaderboard; }
    location = /hunt/metrics { coinhunt metrics; }
--- user_files
>>> five.lua
return { on_tap = function(s, tap) return { value = 5, kind = "gold" } end }
--- init
$::Redis->cmd('FLUSHDB');
main::redis_up();
$::Redis->cmd('ZADD', 'coinhunt:lb:default', -7, 'zoe');
--- request eval
[
"POST /hunt/session?player=alice",
"POST /hunt/session?player=bob",
"POST /hunt/tap?session=" . main::tok(0, 1, 'alice'),
"POST /hunt/tap?session=" . main::tok(0, 1, 'alice'),
"POST /hunt/tap?session=" . main::tok(0, 1, 'alice'),
"POST /hunt/tap?session=" . main::tok(1, 1, 'bob'),
main::later(0.3, "GET /hunt/leaderboard"),
"POST /hunt/tap?session=" . main::tok(0, 1, 'alice'),
main::later(0.3, "GET /hunt/leaderboard?top=2"),
"GET /hunt/metrics",
]
--- error_code eval
[201, 201, 200, 200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[
qr/^\{"session":"\Q${\ main::tok(0, 1, 'alice')}\E","player":"alice","hunt":"default","score":0,/,
qr/^\{"session":"\Q${\ main::tok(1, 1, 'bob')}\E","player":"bob","hunt":"default","score":0,/,
qr/"score":5,/,
qr/"score":10,/,
qr/"score":15,/,
qr/"score":5,/,
qr/^\Q${\ main::board('default', alice => 15, zoe => 7, bob => 5)}\E\}$/,
qr/"score":20,/,
qr/^\Q${\ main::board('default', alice => 20, zoe => 7)}\E\}$/,
qr/\ncoinhunt_redis_flushes_total [1-9]\d*\n.*\ncoinhunt_redis_errors_total 0\n.*\ncoinhunt_redis_up 1\n.*\ncoinhunt_redis_pending_scores 0\n/s,
]
--- no_error_log
[error]



=== TEST 2: a join is seeded from Redis; "me" comes from Redis
--- http_config
    coinhunt_zone rz 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/five.lua;
    coinhunt_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=3;
    coinhunt_flush 20ms;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap { coinhunt tap; }
    location = /hunt/leaderboard { coinhunt leaderboard; }
    location = /hunt/metrics { coinhunt metrics; }
--- user_files
>>> five.lua
return { on_tap = function(s, tap) return { value = 5, kind = "gold" } end }
--- init
$::Redis->cmd('FLUSHDB');
main::redis_up();
$::Redis->cmd('ZADD', 'coinhunt:lb:default', -100, 'carol', -50, 'dan');
--- request eval
[
"POST /hunt/session?player=carol",
"POST /hunt/tap?session=" . main::tok(0, 1, 'carol'),
main::later(0.3, "GET /hunt/leaderboard"),
"POST /hunt/session?player=erin",
main::later(0.3, "GET /hunt/leaderboard?top=1"),
]
--- more_headers eval
["", "", "Authorization: Bearer " . main::tok(0, 1, 'carol'), "",
 "Authorization: Bearer " . main::tok(1, 1, 'erin')]
--- error_code eval
[201, 200, 200, 201, 200]
--- response_body_like eval
[
qr/^\{"session":"\Q${\ main::tok(0, 1, 'carol')}\E","player":"carol","hunt":"default","score":100,"taps":0,/,
qr/^\{"coin":\{"value":5,"kind":"gold"\},"score":105,"taps":1,"coins":1\}$/,
qr/^\Q${\ main::board('default', carol => 105, dan => 50)}\E,"me":\{"rank":1,"score":105\}\}$/,
qr/"player":"erin","hunt":"default","score":0,/,
qr/^\Q${\ main::board('default', carol => 105)}\E,"me":\{"rank":3,"score":0\}\}$/,
]
--- no_error_log
[error]



=== TEST 3: equal scores rank by player name bytewise, as in local mode
--- http_config
    coinhunt_zone rz 1m;
    coinhunt_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=3;
    coinhunt_flush 20ms;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/leaderboard { coinhunt leaderboard; }
    location = /hunt/metrics { coinhunt metrics; }
--- init
$::Redis->cmd('FLUSHDB');
main::redis_up();
--- request eval
[
"POST /hunt/session?player=b",
"POST /hunt/session?player=aa",
"POST /hunt/session?player=a-",
"POST /hunt/session?player=B",
"POST /hunt/session?player=a",
main::later(0.3, "GET /hunt/leaderboard"),
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



=== TEST 4: Redis down: a join that needs it answers 503 at once
--- http_config
    coinhunt_zone rz 1m;
    coinhunt_redis 127.0.0.1:$TEST_NGINX_DEAD_PORT;
--- config
    location = /hunt/session { coinhunt session; }
--- request eval
[main::later(0.3, "POST /hunt/session?player=alice")]
--- error_code: 503
--- response_body
{"error":"unavailable","message":"the leaderboard backend (Redis) is unavailable; try again later"}
--- error_log
cannot connect to redis



=== TEST 5: Redis down: reads answer 503 at once; the metrics say so
--- http_config
    coinhunt_zone rz 1m;
    coinhunt_redis 127.0.0.1:$TEST_NGINX_DEAD_PORT;
--- config
    location = /hunt/leaderboard { coinhunt leaderboard; }
    location = /hunt/metrics { coinhunt metrics; }
--- request eval
[
main::later(0.3, "GET /hunt/leaderboard"),
"GET /hunt/metrics",
]
--- error_code eval
[503, 200]
--- response_body_like eval
[
qr/^\{"error":"unavailable",/,
qr/\ncoinhunt_redis_errors_total [1-9]\d*\n.*\ncoinhunt_redis_up 0\n/s,
]



=== TEST 6: a wrong handshake reply is an error, not a connection
--- http_config
    coinhunt_zone rz 1m;
    coinhunt_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT password=nopass;
--- config
    location = /hunt/session { coinhunt session; }
--- request eval
[main::later(0.3, "POST /hunt/session?player=alice")]
--- error_code: 503
--- response_body_like: ^\{"error":"unavailable",
--- error_log
unexpected redis reply to AUTH



=== TEST 7: a board member that is no player name is a bad reply: 503
--- http_config
    coinhunt_zone rz 1m;
    coinhunt_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=3;
--- config
    location = /hunt/leaderboard { coinhunt leaderboard; }
--- init
$::Redis->cmd('FLUSHDB');
$::Redis->cmd('ZADD', 'coinhunt:lb:bad', 0, 'a"b');
--- request eval
[main::later(0.3, "GET /hunt/leaderboard?hunt=bad")]
--- error_code: 503
--- response_body_like: ^\{"error":"unavailable",
--- error_log
unexpected redis reply to ZRANGE



=== TEST 8: a score that is no coinhunt score is a bad reply: 503
--- http_config
    coinhunt_zone rz 1m;
    coinhunt_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=3;
--- config
    location = /hunt/session { coinhunt session; }
--- init
$::Redis->cmd('FLUSHDB');
$::Redis->cmd('ZADD', 'coinhunt:lb:default', '1.5', 'zed');
--- request eval
[main::later(0.3, "POST /hunt/session?player=zed")]
--- error_code: 503
--- response_body_like: ^\{"error":"unavailable",
--- error_log
unexpected redis reply to ZSCORE



=== TEST 9: coinhunt_redis needs host:port
--- http_config
    coinhunt_zone rz 1m;
    coinhunt_redis 127.0.0.1;
--- config
--- must_die
--- error_log eval
["[emerg]", qr/invalid "coinhunt_redis" address "127\.0\.0\.1": "host:port" expected in \S+nginx\.conf:\d+/]



=== TEST 10: coinhunt_redis refuses a bad port
--- http_config
    coinhunt_zone rz 1m;
    coinhunt_redis 127.0.0.1:99999;
--- config
--- must_die
--- error_log eval
["[emerg]", qr/invalid "coinhunt_redis" address "127\.0\.0\.1:99999": invalid port in \S+nginx\.conf:\d+/]



=== TEST 11: coinhunt_redis refuses a bad database
--- http_config
    coinhunt_zone rz 1m;
    coinhunt_redis 127.0.0.1:6379 db=x;
--- config
--- must_die
--- error_log eval
["[emerg]", qr/invalid "coinhunt_redis" database "db=x": 0 to 65535 expected in \S+nginx\.conf:\d+/]



=== TEST 12: coinhunt_redis refuses an unknown parameter
--- http_config
    coinhunt_zone rz 1m;
    coinhunt_redis 127.0.0.1:6379 user=me;
--- config
--- must_die
--- error_log eval
["[emerg]", qr/invalid "coinhunt_redis" parameter "user=me": one "password=..." and one "db=N" expected in \S+nginx\.conf:\d+/]



=== TEST 13: coinhunt_redis is not duplicated
--- http_config
    coinhunt_zone rz 1m;
    coinhunt_redis 127.0.0.1:6379;
    coinhunt_redis 127.0.0.1:6380;
--- config
--- must_die
--- error_log eval
["[emerg]", qr/"coinhunt_redis" directive is duplicate in \S+nginx\.conf:\d+/]



=== TEST 14: coinhunt_flush takes a time
--- http_config
    coinhunt_zone rz 1m;
    coinhunt_flush fast;
--- config
--- must_die
--- error_log eval
["[emerg]", qr/"coinhunt_flush" directive invalid value in \S+nginx\.conf:\d+/]



=== TEST 15: coinhunt_flush is 1ms to 60s
--- http_config
    coinhunt_zone rz 1m;
    coinhunt_flush 0;
--- config
--- must_die
--- error_log eval
["[emerg]", qr/"coinhunt_flush" directive must be from 1ms to 60s in \S+nginx\.conf:\d+/]
