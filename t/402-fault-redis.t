# Redis stopped for 10 s while four clients tap, then started again: no
# tap fails (each answers 200 with the exact expected answer at once, none
# needs a second send), the scores wait in the zone, and once Redis is back
# the three views of every score agree exactly: the sum of the coins its
# client saw credited, the score in Redis, and the session's own score.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(metric wait_for);
use CoinhuntLoad qw(end_players more_taps);
use CoinhuntRedis;
use Test::More;
use Time::HiRes qw(time sleep);

my $redis = CoinhuntRedis->start;
my $n = CoinhuntLoad::nginx(zone => 'outage', http => 'coinhunt_redis '
    . '127.0.0.1:' . $redis->port . ";\n    coinhunt_flush 20ms;");
my $up = sub { metric($n, 'coinhunt_redis_up') // -1 };
my $pending = sub { metric($n, 'coinhunt_redis_pending_scores') // -1 };
ok wait_for(10, sub { $up->() == 1 }), 'the workers connect to Redis';

# joins need Redis (a join is seeded with the score Redis holds): all
# players join before the outage
my $load = CoinhuntLoad->start(port => $n->{port}, hunt => 'o', clients => 4,
                               players => 5);
ok $load->ready, 'four clients joined 5 players each';
ok more_taps($n, 300), 'the clients tap';

my $taps = sub { metric($n, 'coinhunt_taps_total') // 0 };
$redis->stop;
my $t0 = time;
my $before = $taps->();
ok wait_for(5, sub { $up->() == 0 }), 'Redis stopped: coinhunt_redis_up 0';
sleep 0.05 while time - $t0 < 10;
my $during = $taps->() - $before;
cmp_ok $during, '>=', 300, "$during taps answered while Redis was stopped";
is $pending->(), 20, 'the 20 players\' changed scores wait in the zone';
$redis->restart;
note sprintf 'Redis was stopped for %.1f s', time - $t0;

ok wait_for(10, sub { $up->() == 1 }), 'Redis back: the workers reconnect';
ok more_taps($n, 300), 'the clients go on tapping';

my $r = $load->stop;
is $r->{failed}, 0, "$r->{ok} taps answered 200 with the exact expected "
                    . 'answer; none failed';
diag $_ for grep { defined } @{ $r->{failures} }[0 .. 9];
is $r->{unanswered} + $r->{stale}, 0,
    'every tap was answered at its first send, no connection was lost';
cmp_ok $r->{max_latency}, '<', 2,
    sprintf '  none waited for Redis (slowest answer %.3f s)',
            $r->{max_latency};

ok wait_for(10, sub { $pending->() == 0 }), 'every pending score is written';

my %client = map { $_ => $r->{players}{$_}{score} } keys %{ $r->{players} };
is scalar(keys %client), 20, 'the 20 players are still tapped';
is_deeply $redis->board('o'), \%client,
    'Redis holds exactly the sums of the coins the clients saw credited';

my $sum = 0;
$sum += $_ for values %client;
is metric($n, 'coinhunt_coin_value_total'), $sum,
    "coinhunt_coin_value_total is their total, $sum";

is_deeply [end_players($n, 'o', $r->{players})], [],
    'and every session ends with that score, its taps and coins';
is_deeply $redis->board('o'), \%client, 'ending them changes nothing in Redis';

$n->stop;
$redis->stop;
done_testing;
