# Two nodes (two nginx instances, two workers each) sharing one Redis form
# one leaderboard: each node's players are written to the same board, both
# nodes list the merged top and rank "me" in it, and a player who moves to
# the other node is seeded there with the score Redis holds.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http metric wait_for);
use CoinhuntRedis;
use Test::More;
use Time::HiRes qw(sleep time);

my $redis = CoinhuntRedis->start;
my $rules = "return { on_tap = function(s, tap) return { value = 5 } end }\n";

sub node {
    my $port = $redis->port;
    return Coinhunt::Nginx->start(files => { 'rules.lua' => $rules },
        workers => 2, conf => <<"CONF");
    coinhunt_zone z 1m;
    coinhunt_rules rules.lua;
    coinhunt_redis 127.0.0.1:$port db=1;
    coinhunt_flush 20ms;
    server {
        listen 127.0.0.1:\$PORT;
        hunt_locations;
    }
CONF
}


sub join_on {
    my ($n, $p) = @_;
    my ($st, $body) = http(POST => $n->url("/hunt/session?player=$p&hunt=c"));
    my ($tok) = $body =~ /"session":"([^"]+)"/;
    my ($score) = $body =~ /"score":(\d+)/;
    return ($st, $tok, $score);
}

sub tap_on {
    my ($n, $tok, $times) = @_;
    my $score;
    for (1 .. $times) {
        my (undef, $body) = http(POST => $n->url("/hunt/tap?session=$tok"));
        ($score) = $body =~ /"score":(\d+)/;
    }
    return $score;
}

sub settled {
    my @nodes = @_;
    return wait_for(5, sub {
        !grep { metric($_, 'coinhunt_redis_pending_scores') != 0 } @nodes });
}

sub top {
    my ($n, $tok) = @_;
    my (undef, $body) = http(GET => $n->url('/hunt/leaderboard?hunt=c'),
        headers => $tok ? { Authorization => "Bearer $tok" } : {});
    my @rows = $body =~ /"player":"([^"]+)","score":(\d+)/g;
    my @out;
    push @out, join '=', splice @rows, 0, 2 while @rows;
    my ($me) = $body =~ /"me":(\{[^}]*\})/;
    return (join(' ', @out), $me);
}

my $na = node();
my $nb = node();
ok wait_for(5, sub { (metric($na, 'coinhunt_redis_up') // 0) == 1
                     && (metric($nb, 'coinhunt_redis_up') // 0) == 1 }),
    'both nodes are connected to the one Redis';

my %tok;
(undef, $tok{a1}) = join_on($na, 'a1');
(undef, $tok{a2}) = join_on($na, 'a2');
(undef, $tok{b1}) = join_on($nb, 'b1');
(undef, $tok{b2}) = join_on($nb, 'b2');

is tap_on($na, $tok{a1}, 4), 20, 'a1 scores 20 on node A';
is tap_on($na, $tok{a2}, 1), 5, 'a2 scores 5 on node A';
is tap_on($nb, $tok{b1}, 3), 15, 'b1 scores 15 on node B';
is tap_on($nb, $tok{b2}, 2), 10, 'b2 scores 10 on node B';
ok settled($na, $nb), 'both nodes flushed';

$redis->select(1);
is_deeply $redis->board('c'), { a1 => 20, a2 => 5, b1 => 15, b2 => 10 },
    'Redis holds one board of both nodes\' players';

my $merged = 'a1=20 b1=15 b2=10 a2=5';
is((top($na))[0], $merged, 'node A lists the merged board');
my ($list, $me) = top($nb, $tok{b2});
is $list, $merged, 'node B lists the same board';
is $me, '{"rank":3,"score":10}', 'and ranks b2 in it';
(undef, $me) = top($na, $tok{a2});
is $me, '{"rank":4,"score":5}', 'node A ranks a2 in it';

my ($st) = http(DELETE => $na->url("/hunt/end?session=$tok{a1}"));
is $st, 200, 'a1 leaves node A';
my ($score);
($st, $tok{a1b}, $score) = join_on($nb, 'a1');
is $st, 201, 'a1 joins node B';
is $score, 20, '  seeded with the 20 Redis holds';
is tap_on($nb, $tok{a1b}, 1), 25, '  and scores on from there';
ok settled($na, $nb), 'flushed';
is $redis->board('c')->{a1}, 25, 'Redis holds 25 for a1';

sleep 0.05;
is((top($na))[0], 'a1=25 b1=15 b2=10 a2=5', 'node A sees it');

($st, undef, $score) = join_on($na, 'a1');
is $score, 25, 'a1 back on node A: its retired 20 gives way to Redis\'s 25';

$na->stop;
$nb->stop;
$redis->stop;
done_testing();
