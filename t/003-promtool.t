# The metrics pass "promtool check metrics", Prometheus's own linter (from
# Debian's prometheus package, unpacked into build/prometheus by "make deps",
# never installed), in local and in Redis mode, after joins and taps; a
# reload keeps the same series (per-worker figures are labelled by worker
# number, not by pid).

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http metric wait_for);
use CoinhuntRedis;
use File::Temp qw(tempfile);
use Test::More;

my $promtool = $ENV{PROMTOOL} // 'build/prometheus/usr/bin/promtool';
if (!-x $promtool) {
    fail "promtool is at $promtool";
    diag "make deps unpacks Debian's prometheus package into build/prometheus";
    done_testing;
    exit;
}

# (exit status, output) of "promtool check metrics" on $text
sub promtool {
    my ($text) = @_;
    my ($fh, $file) = tempfile(UNLINK => 1);
    print $fh $text;
    close $fh;
    my $out = `'$promtool' check metrics < '$file' 2>&1`;
    return ($? >> 8, $out);
}

# the series of an exposition: "name{labels}" of every sample line
sub series {
    my ($text) = @_;
    return [ sort map { /^(\S+) / ? $1 : () } grep { !/^#/ } split /\n/, $text ];
}

my ($st, $out) = promtool("# HELP x_seen x.\n# TYPE x_seen counter\nx_seen 1\n");
isnt $st, 0, 'promtool refuses a counter without _total';
like $out, qr/"_total" suffix/, '  and says why';

my $rules = "return { on_tap = function(s, t) return { value = 3 } end }\n";
my $server = <<'CONF';
    server {
        listen 127.0.0.1:$PORT;
        hunt_locations;
    }
CONF

sub play {
    my ($n, $player) = @_;
    my (undef, $body) = http(POST => $n->url("/hunt/session?player=$player"));
    my ($token) = ($body // '') =~ /"session":"([^"]+)"/;
    my @st = map { (http(POST => $n->url("/hunt/tap?session=$token")))[0] } 1 .. 3;
    is "@st", '200 200 200', "  $player taps three times";
}

my $conf = "coinhunt_zone promtool 1m;\ncoinhunt_rules rules.lua;\n$server";
my $n = Coinhunt::Nginx->start(files => { 'rules.lua' => $rules },
                               workers => 2, conf => $conf);
$n->wait_workers(2);
play($n, 'lin');
# each worker publishes its row once it has started (slower under ASan)
my $local;
wait_for(10, sub { (undef, $local) = http(GET => $n->url('/hunt/metrics'));
                   (() = $local =~ /\{worker="[01]"\}/g) == 8 });
($st, $out) = promtool($local);
is $st, 0, 'local mode: promtool check metrics passes' or diag $out;
is $out, '', '  with nothing to say';
unlike $local, qr/^coinhunt_redis_up/m, '  no coinhunt_redis_up without Redis';
my $before = series($local);
is scalar(grep { /\{worker="[01]"\}$/ } @$before), 8,
   '  four per-worker figures for each of the two workers';

$n->reload(workers => 2);
play($n, 'lou');
# each new worker publishes its row at start and every sweep (250 ms)
my $reloaded;
wait_for(2, sub { (undef, $reloaded) = http(GET => $n->url('/hunt/metrics'));
                  "@{ series($reloaded) }" eq "@$before" });
is_deeply series($reloaded), $before, 'a reload keeps the same series';
is metric($n, 'coinhunt_taps_total'), 6, '  and the counters go on';
($st, $out) = promtool($reloaded);
is $st, 0, '  promtool check metrics passes' or diag $out;
$n->stop;

my $redis = CoinhuntRedis->start;
my $port = $redis->port;
$n = Coinhunt::Nginx->start(files => { 'rules.lua' => $rules }, workers => 2,
    conf => "$conf\ncoinhunt_redis 127.0.0.1:$port;\ncoinhunt_flush 10ms;\n");
ok wait_for(10, sub { (metric($n, 'coinhunt_redis_up') // 0) == 1 }),
   'Redis mode: coinhunt_redis_up 1';
play($n, 'red');
ok wait_for(10, sub { (metric($n, 'coinhunt_redis_flushes_total') // 0) > 0 }),
   '  the scores are flushed';
my (undef, $redis_mode) = http(GET => $n->url('/hunt/metrics'));
($st, $out) = promtool($redis_mode);
is $st, 0, '  promtool check metrics passes' or diag $out;
is $out, '', '  with nothing to say';
$n->stop;
$redis->stop;

done_testing;
