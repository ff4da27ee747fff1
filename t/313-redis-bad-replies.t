# A real Redis that answers what coinhunt does not expect, one subtest a
# class: a board key of the wrong type (WRONGTYPE errors to ZADD, ZSCORE,
# ZRANGE), and ACL rules that deny the commands coinhunt sends (NOPERM).
# Each time the module logs the reply, counts coinhunt_redis_errors_total,
# answers 503 unavailable where a read needs Redis, keeps taps and local
# scores exact, loses nothing once Redis answers properly again, and no
# worker crashes.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(wait_for);
use CoinhuntRedis;
use CoinhuntInput qw(req);
use Test::More;

my $redis = CoinhuntRedis->start;
$redis->select(5);

my $n = Coinhunt::Nginx->start(files => {
    'rules.lua' => "return { on_tap = function() return 2 end }\n" },
    conf => <<"CONF");
    coinhunt_zone rbad 1m;
    coinhunt_rules rules.lua;
    coinhunt_redis 127.0.0.1:${\ $redis->port} db=5;
    coinhunt_flush 20ms;
    server {
        listen 127.0.0.1:\$PORT;
        hunt_locations;
    }
CONF

sub metric { Coinhunt::metric($n, @_) }

sub join_hunt {
    my ($player, $hunt) = @_;
    my ($st, undef, $b) = req($n, POST => "/hunt/session?player=$player&hunt=$hunt");
    return ($st, $b =~ /"session":"([^"]{22})"/ ? $1 : undef, $b);
}

sub tap {
    my ($t, $times) = @_;
    my $b;
    for (1 .. $times) {
        (my $st, undef, $b) = req($n, POST => "/hunt/tap?session=$t");
        return "status $st: $b" unless $st == 200;
    }
    return $b;
}

my $unavailable = qr/^\{"error":"unavailable","message":"[^"]+"\}\n\z/;

ok wait_for(10, sub { (metric('coinhunt_redis_up') // 0) == 1 }), 'Redis up';

subtest 'WRONGTYPE: the board key is a string' => sub {
    my ($st, $t) = join_hunt('alice', 'wt');
    is $st, 201, 'alice joins hunt wt';
    like tap($t, 3), qr/"score":6,"taps":3,/, 'taps count';
    ok wait_for(10, sub { ($redis->board('wt')->{alice} // 0) == 6 }),
       'written to Redis';

    my $errors = metric('coinhunt_redis_errors_total');
    $redis->cmd('DEL', 'coinhunt:lb:wt');
    $redis->cmd('SET', 'coinhunt:lb:wt', 'not a sorted set');
    like tap($t, 2), qr/"score":10,"taps":5,/, 'taps answer 200, scores exact';
    ok wait_for(10, sub { metric('coinhunt_redis_errors_total') > $errors }),
       'the refused flush is counted';
    ok wait_for(10, sub { $n->error_log =~ /unexpected redis reply to ZADD.*WRONGTYPE/ }),
       'and logged with the reply' or diag $n->error_log;
    ok metric('coinhunt_redis_pending_scores') >= 1, 'the score waits';

    my ($s2, undef, $b2) = req($n, GET => '/hunt/leaderboard?hunt=wt');
    is $s2, 503, 'a top read of the key: 503';
    like $b2, $unavailable, 'unavailable';
    ($s2, undef, $b2) = req($n, GET => "/hunt/leaderboard?session=$t");
    is $s2, 503, '"me": 503';
    my ($s3, undef, $b3) = join_hunt('bob', 'wt');
    is $s3, 503, 'a join that needs the seed: 503';
    like $b3, $unavailable, 'unavailable';
    is metric('coinhunt_sessions'), 1, 'bob has no session';

    $redis->cmd('DEL', 'coinhunt:lb:wt');
    ok wait_for(10, sub { ($redis->board('wt')->{alice} // 0) == 10 }),
       'once the key is fixed the exact score is written';
    ok wait_for(10, sub { metric('coinhunt_redis_pending_scores') == 0 }),
       'nothing pending';
    is metric('coinhunt_redis_up'), 1, 'the connection stayed up';
};

subtest 'NOPERM: an ACL denies ZADD' => sub {
    my ($st, $t) = join_hunt('carol', 'acl');
    is $st, 201, 'carol joins';
    ok wait_for(10, sub { defined $redis->board('acl')->{carol} }),
       'her join is written';
    my $errors = metric('coinhunt_redis_errors_total');
    is_deeply $redis->cmd('ACL', 'SETUSER', 'default', '-zadd'), 'OK',
              'ZADD denied';
    like tap($t, 4), qr/"score":8,"taps":4,/, 'taps answer 200';
    ok wait_for(10, sub { metric('coinhunt_redis_errors_total') > $errors }),
       'the refused flushes are counted';
    ok wait_for(10, sub { $n->error_log =~ /unexpected redis reply to ZADD.*NOPERM/ }),
       'and logged with the reply';
    is $redis->board('acl')->{carol}, 0, 'nothing more written';
    $redis->cmd('ACL', 'SETUSER', 'default', '+zadd');
    ok wait_for(10, sub { ($redis->board('acl')->{carol} // 0) == 8 }),
       'allowed again: the exact score is written';
};

subtest 'NOPERM: an ACL denies the reads' => sub {
    my ($st, $t) = join_hunt('dave', 'acl');
    is $st, 201, 'dave joins';
    $redis->cmd('ACL', 'SETUSER', 'default', '-zrange', '-zscore', '-zrank');
    my ($s, undef, $b) = req($n, GET => '/hunt/leaderboard?hunt=acl&top=5');
    ok wait_for(10, sub {
        ($s, undef, $b) = req($n, GET => '/hunt/leaderboard?hunt=nobody');
        $s == 503
    }), 'a top read: 503';
    like $b, $unavailable, 'unavailable';
    ($s, undef, $b) = req($n, GET => "/hunt/leaderboard?session=$t");
    is $s, 503, '"me": 503';
    my ($s3) = join_hunt('erin', 'acl');
    is $s3, 503, 'a join that needs the seed: 503';
    like tap($t, 1), qr/"score":2,"taps":1,/, 'taps go on';
    $redis->cmd('ACL', 'SETUSER', 'default', '+@all');
    ok wait_for(10, sub {
        ($s, undef, $b) = req($n, GET => "/hunt/leaderboard?session=$t");
        $s == 200 && $b =~ /"me":\{"rank":2,"score":2\}/
    }), 'allowed again: reads answer, with the exact score once flushed'
        or diag "$s $b";
};

unlike $n->error_log, qr/\[(alert|crit|emerg)\]|exited on signal/,
       'no crash, no alert';
$n->stop;
done_testing;
