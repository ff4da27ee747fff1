# coinhunt metrics: the Prometheus text of DESIGN.md, from counters that live
# in the shared zone and are summed over the workers.

use lib 't/lib';
use Test::Nginx::Socket;
use Coinhunt;

repeat_each(1);
master_on();
workers(2);

plan tests => repeat_each() * (4 + 5 + 9 * 2);

no_shuffle();
run_tests();

sub main::tok { Coinhunt::token('coinhunt-test-secret', @_) }

# what coinhunt_build_info says: the VERSION file, the build's allocator
our ($version, $allocator);
BEGIN {
    open my $fh, '<', 'VERSION' or die "VERSION: $!";
    chomp($version = <$fh>);
    $allocator = ($ENV{ALLOCATOR} // 'jemalloc') eq 'libc' ? 'libc' : 'jemalloc';
}

__DATA__

=== TEST 1: every metric of DESIGN.md, in Prometheus text format
--- http_config
    coinhunt_zone metrics 1m;
--- config
    location = /hunt/metrics { coinhunt metrics; }
--- request
GET /hunt/metrics
--- response_headers
Content-Type: text/plain; version=0.0.4; charset=utf-8
--- response_body_like eval
my @counters = qw(taps coins coin_value rule_errors rate_limited
                  redis_flushes redis_errors);
my @gauges = qw(sessions redis_pending_scores);
my $re = CORE::join '', map { "(?=.*^# TYPE coinhunt_${_}_total counter\\ncoinhunt_${_}_total 0\$)" } @counters;
$re .= CORE::join '', map { "(?=.*^# TYPE coinhunt_$_ gauge\\ncoinhunt_$_ 0\$)" } @gauges;
$re .= '(?=.*^coinhunt_sessions_capacity [1-9]\d*$)';
$re .= CORE::join '', map { "(?=.*^coinhunt_heap_${_}_bytes\\{worker=\"[01]\"\\} \\d+\$)" } qw(allocated resident);
$re .= '(?=.*^coinhunt_lua_memory_bytes\{worker="[01]"\} \d+$)';
# the version of the VERSION file and the allocator of the build
$re .= "(?=.*^# TYPE coinhunt_build_info gauge\ncoinhunt_build_info"
     . "\\{version=\"\Q$main::version\E\",allocator=\"$main::allocator\"\\} 1\$)";
# no pid label (a reload would make new series), no Redis gauge without Redis
$re .= '(?!.*pid=)(?!.*^coinhunt_redis_up)';
# every line is a comment or "name{labels} value"
$re .= '(?!.*^(?!#)(?![a-z_]+(?:\{[^}]*\})? \d+$).+$)';
qr/\A$re/ms
--- no_error_log
[error]



=== TEST 2: HEAD is served, other methods are refused
--- http_config
    coinhunt_zone metrics 1m;
--- config
    location = /hunt/metrics { coinhunt metrics; }
--- request eval
["HEAD /hunt/metrics", "POST /hunt/metrics", "DELETE /hunt/metrics"]
--- error_code eval
[200, 405, 405]
--- response_headers eval
["", "Allow: GET, HEAD", "Allow: GET, HEAD"]



=== TEST 3: both workers publish a row; counters are the zone's, summed
--- http_config
    coinhunt_zone metrics 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules ../html/rules.lua;
--- config
    location = /hunt/session { coinhunt session; }
    location = /hunt/tap { coinhunt tap; }
    location = /hunt/metrics { coinhunt metrics; }
--- user_files
>>> rules.lua
return { on_tap = function(s) if s.taps < 3 then return 5 end end }
--- request eval
["POST /hunt/session?player=m", ("POST /hunt/tap?session=" . main::tok(0, 1, 'm')) x 4,
 "GET /hunt/metrics", "GET /hunt/metrics", "GET /hunt/metrics",
 "GET /hunt/metrics"]
--- error_code eval
[201, 200, 200, 200, 200, 200, 200, 200, 200]
--- response_body_like eval
[qr/"session"/, qr/"score":5,/, qr/"score":10,/, qr/"score":15,/,
 qr/"score":15,"taps":4,"coins":3/,
 (qr/\A(?=.*^coinhunt_taps_total 4$)(?=.*^coinhunt_coins_total 3$)(?=.*^coinhunt_coin_value_total 15$)(?=.*^coinhunt_sessions 1$)(?=.*^coinhunt_heap_allocated_bytes\{worker="0"\} )(?=.*^coinhunt_heap_allocated_bytes\{worker="1"\} )/ms) x 4]
