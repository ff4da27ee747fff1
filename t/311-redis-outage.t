# Redis mode under failure: taps keep answering while Redis is stopped, the
# changed scores wait in the shared zone and are all written once Redis is
# back; a worker killed with unflushed scores (kill -9), or killed while its
# batch is in flight, loses none.  Each time the scores in Redis must equal
# the sessions' scores exactly: nothing lost, nothing counted twice.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http metric wait_for);
use CoinhuntRedis;
use HTTP::Tiny;
use Test::More;
use Time::HiRes qw(sleep time);

my $redis = CoinhuntRedis->start;
my $rules = "return { on_tap = function(s, tap) return { value = 2 } end }\n";

sub node {
    my (%opt) = @_;
    my $port = $redis->port;
    return Coinhunt::Nginx->start(files => { 'rules.lua' => $rules },
        workers => $opt{workers}, conf => <<"CONF");
    coinhunt_zone z 1m;
    coinhunt_rules rules.lua;
    coinhunt_redis 127.0.0.1:$port;
    coinhunt_flush $opt{flush};
    server {
        listen 127.0.0.1:\$PORT;
        hunt_locations;
    }
CONF
}


my (%tok, %score);

sub join_players {
    my ($n, $hunt, @players) = @_;
    for my $p (@players) {
        my ($st, $body) = http(POST => $n->url("/hunt/session?player=$p&hunt=$hunt"));
        ($tok{$p}) = $body =~ /"session":"([^"]+)"/ if $st == 201;
        ($score{$p}) = $body =~ /"score":(\d+)/ if $st == 201;
    }
}

# taps every player $times times; returns how many were not 200
sub tap_all {
    my ($n, $times, @players) = @_;
    my $ua = HTTP::Tiny->new(keep_alive => 1);
    my $bad = 0;
    for (1 .. $times) {
        for my $p (@players) {
            my $res = $ua->post($n->url("/hunt/tap?session=$tok{$p}"));
            $bad++, next if $res->{status} != 200;
            ($score{$p}) = $res->{content} =~ /"score":(\d+)/;
        }
    }
    return $bad;
}

sub board_is {
    my ($hunt, $players, $name) = @_;
    my $board = $redis->board($hunt);
    is_deeply { map { $_ => $board->{$_} } @$players },
              { map { $_ => $score{$_} } @$players }, $name;
}

# --- an outage: Redis stopped while players tap, then back
{
    my $n = node(workers => 2, flush => '20ms');
    ok wait_for(5, sub { (metric($n, 'coinhunt_redis_up') // 0) == 1 }),
        'both workers connect to Redis';

    my @players = map { "p$_" } 1 .. 20;
    join_players($n, 'o', @players);
    is scalar(keys %tok), 20, '20 players joined';
    is tap_all($n, 3, @players), 0, 'their taps answer 200';
    ok wait_for(5, sub { metric($n, 'coinhunt_redis_pending_scores') == 0 }),
        'every score is flushed';
    board_is('o', \@players, 'Redis holds the sessions\' scores');

    $redis->stop;
    ok wait_for(5, sub { metric($n, 'coinhunt_redis_up') == 0 }),
        'Redis stopped: coinhunt_redis_up 0';

    is tap_all($n, 5, @players), 0, 'taps during the outage all answer 200';
    tap_all($n, 2, @players[0 .. 4]);
    is metric($n, 'coinhunt_redis_pending_scores'), 20,
        'the 20 changed scores are pending in the zone';

    my $t0 = time;
    my ($st, $body) = http(GET => $n->url('/hunt/leaderboard?hunt=o'));
    my $took = time - $t0;
    is $st, 503, 'a leaderboard read needing Redis answers 503';
    like $body, qr/"error":"unavailable"/, '  unavailable';
    ok $took < 1.5, sprintf '  quickly (%.3f s)', $took;

    sleep 0.3;
    $redis->restart;

    ok wait_for(10, sub { metric($n, 'coinhunt_redis_up') == 1
                          && metric($n, 'coinhunt_redis_pending_scores') == 0 }),
        'Redis back: reconnected and every pending score written';
    board_is('o', \@players, 'Redis scores equal the sessions\' exactly');

    my $sum = 0;
    $sum += $score{$_} for @players;
    is metric($n, 'coinhunt_coin_value_total'), $sum,
        'and add up to the coins found: nothing lost, nothing doubled';

    sleep 0.3;
    board_is('o', \@players, 'later flushes change nothing');
    $n->stop;
}

# --- kill -9 of the only worker with unflushed scores (a 3 s flush)
{
    my $n = node(workers => 1, flush => '3s');
    ok wait_for(5, sub { (metric($n, 'coinhunt_redis_up') // 0) == 1 }),
        'connected';
    my @players = map { "k$_" } 1 .. 5;
    join_players($n, 'k', @players);
    is tap_all($n, 4, @players), 0, 'taps answer 200';
    is metric($n, 'coinhunt_redis_pending_scores'), 5,
        'five scores wait for the next flush';
    is scalar(keys %{ $redis->board('k') }), 0, '  none is in Redis yet';

    my ($worker) = $n->worker_pids;
    kill 'KILL', $worker;
    ok wait_for(5, sub { my @w = $n->worker_pids; @w && $w[0] != $worker }),
        'the worker was killed and replaced';

    ok wait_for(8, sub { metric($n, 'coinhunt_redis_pending_scores') == 0 }),
        'the new worker flushes what the dead one left';
    board_is('k', \@players, 'Redis scores equal the sessions\' exactly');
    $n->stop;
}

# --- kill -9 of a worker whose batch is in flight
{
    my $n = node(workers => 1, flush => '20ms');
    ok wait_for(5, sub { (metric($n, 'coinhunt_redis_up') // 0) == 1 }),
        'connected';
    my @players = map { "f$_" } 1 .. 5;
    join_players($n, 'f', @players);
    ok wait_for(5, sub { metric($n, 'coinhunt_redis_pending_scores') == 0 }),
        'joined players are flushed';

    kill 'STOP', $redis->{pid};
    is tap_all($n, 3, @players), 0, 'taps answer 200 while Redis hangs';
    sleep 0.2;
    my ($worker) = $n->worker_pids;
    kill 'KILL', $worker;
    sleep 0.1;
    kill 'CONT', $redis->{pid};

    ok wait_for(8, sub { my @w = $n->worker_pids;
                         @w && $w[0] != $worker
                         && metric($n, 'coinhunt_redis_pending_scores') == 0 }),
        'the batch of the dead worker is written again by the new one';
    board_is('f', \@players, 'Redis scores equal the sessions\' exactly');
    $n->stop;
}

$redis->stop;
done_testing();
