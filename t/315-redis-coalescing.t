# Redis traffic follows the flush interval, not the taps: two workers, two
# hunts, thousands of scoring taps, and the node writes at most one ZADD a
# hunt key a flush interval; hundreds of top-10 reads fetch each hunt's
# snapshot at most once a worker an interval.  Counted by Redis itself
# (INFO commandstats), and the boards end exact.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http wait_for);
use CoinhuntRedis;
use HTTP::Tiny;
use POSIX qw(ceil);
use Test::More;
use Time::HiRes qw(sleep time);

my $redis = CoinhuntRedis->start;
my $port = $redis->port;
my $rules = "return { on_tap = function() return { value = 3 } end }\n";
my $n = Coinhunt::Nginx->start(files => { 'rules.lua' => $rules },
    workers => 2, conf => <<"CONF");
    coinhunt_zone coalesce 1m;
    coinhunt_rules rules.lua;
    coinhunt_redis 127.0.0.1:$port;
    coinhunt_flush 250ms;
    server {
        listen 127.0.0.1:\$PORT reuseport;
        hunt_locations;
    }
CONF

my $interval = 0.25;
my @hunts = qw(north south);
my (%tok, %score);
for my $hunt (@hunts) {
    for my $i (1 .. 20) {
        my $p = "$hunt$i";
        my ($st, $body);
        wait_for(10, sub {
            ($st, $body) = http(POST => $n->url("/hunt/session?player=$p&hunt=$hunt"));
            $st == 201 });
        ($tok{$p}) = $body =~ /"session":"([^"]+)"/;
        $score{$hunt}{$p} = 0;
    }
}
is scalar(keys %tok), 40, '40 players joined two hunts';

# Redis's count of each command since the reset
sub calls {
    my ($name) = @_;
    my $info = $redis->cmd('INFO', 'commandstats');
    return $info =~ /^cmdstat_\Q$name\E:calls=(\d+)/m ? $1 : 0;
}

# scoring taps, from keep-alive connections that land on both workers
$redis->cmd('CONFIG', 'RESETSTAT');
my $t0 = time;
my @ua = map { HTTP::Tiny->new(keep_alive => 1) } 1 .. 4;
my ($taps, $ok) = (0, 0);
while (time - $t0 < 2) {
    for my $p (sort keys %tok) {
        my $res = $ua[$taps % 4]->post($n->url("/hunt/tap?session=$tok{$p}"));
        $taps++;
        next unless $res->{status} == 200;
        $ok++;
        my ($hunt) = $p =~ /^([a-z]+)/;
        $score{$hunt}{$p} += 3;
    }
}
is $ok, $taps, "$taps scoring taps in 2 s";

# the last changes reach Redis within an interval or two
ok wait_for(5, sub {
        !grep { my $h = $_; my $b = $redis->board($h);
                grep { ($b->{$_} // -1) != $score{$h}{$_} } keys %{ $score{$h} } }
              @hunts }),
   'both boards in Redis equal the sessions\' scores';
my $elapsed = time - $t0;
my $flushes = ceil($elapsed / $interval) + 1;
my $zadd = calls('zadd');
cmp_ok $zadd, '>=', 2, "ZADDs were sent ($zadd)";
cmp_ok $zadd, '<=', 2 * $flushes,
       "at most one ZADD a hunt an interval: $zadd for $taps taps in "
       . sprintf('%.2f s', $elapsed);

# top-10 reads: each worker fetches a hunt's snapshot once an interval
$redis->cmd('CONFIG', 'RESETSTAT');
my $r0 = time;
my $reads = 0;
while (time - $r0 < 1) {
    for my $hunt (@hunts) {
        my $res = $ua[$reads % 4]->get($n->url("/hunt/leaderboard?hunt=$hunt"));
        $reads++ if $res->{status} == 200 && $res->{content} =~ /"top":\[\{/;
    }
}
my $windows = ceil((time - $r0) / $interval) + 1;
my $zrange = calls('zrange');
cmp_ok $reads, '>', 100, "$reads top-10 reads in 1 s, all answered";
cmp_ok $zrange, '<=', 2 * 2 * $windows,
       "at most one snapshot a hunt a worker an interval: $zrange ZRANGEs";

$n->stop;
done_testing;
