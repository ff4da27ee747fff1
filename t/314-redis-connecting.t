# Redis mode, a worker whose connection is still coming up: a worker just
# started (at start, after a reload) connects to Redis asynchronously, and a
# join or a leaderboard read that needs Redis meanwhile waits for the
# connection instead of failing with 503.  Redis is real; a relay in front
# of it holds each new connection 400 ms before it passes bytes, as a slow
# network would.  A relay that never passes a byte: the read is answered
# 503 once the connect's 1 s timeout is over, not left hanging.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http);
use CoinhuntRedis;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);

my $redis = CoinhuntRedis->start;

# a TCP relay to Redis on its own port: each connection waits $delay seconds
# first, and with $delay undef is never passed on at all
sub relay {
    my ($delay) = @_;
    my $listen = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1',
                                       LocalPort => 0, ReuseAddr => 1)
        or die "relay: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setpgrp(0, 0);
        $SIG{CHLD} = 'IGNORE';
        while (my $c = $listen->accept) {
            next if fork;
            defined $delay or sleep 3600;
            sleep $delay;
            my $r = IO::Socket::INET->new(PeerAddr => '127.0.0.1:'
                                                      . $redis->port)
                or POSIX::_exit(1);
            my $sel = IO::Select->new($c, $r);
            while (my @ready = $sel->can_read) {
                for my $from (@ready) {
                    my $to = $from == $c ? $r : $c;
                    sysread($from, my $buf, 65536) or POSIX::_exit(0);
                    syswrite($to, $buf) or POSIX::_exit(0);
                }
            }
            POSIX::_exit(0);
        }
        POSIX::_exit(0);
    }
    my $port = $listen->sockport;
    close $listen;
    return ($pid, $port);
}

my $rules = "return { on_tap = function() return { value = 3 } end }\n";

sub conf {
    my ($port) = @_;
    return <<"CONF";
    coinhunt_zone z 1m;
    coinhunt_rules rules.lua;
    coinhunt_redis 127.0.0.1:$port;
    coinhunt_flush 10ms;
    server {
        listen 127.0.0.1:\$PORT;
        hunt_locations;
    }
CONF
}

my ($slow_pid, $slow_port) = relay(0.4);

my $n = Coinhunt::Nginx->start(conf => conf($slow_port), log_level => 'info',
                               files => { 'rules.lua' => $rules });

# the worker is still connecting (400 ms): the join waits, then goes on
my ($st, $body) = http(POST => $n->url('/hunt/session?player=ann&hunt=h'));
is $st, 201, 'a join sent while the new worker connects waits for Redis'
    or diag $body;
my ($token) = ($body // '') =~ /"session":"([^"]+)"/;
like $n->error_log, qr/coinhunt: connected to redis/,
     'and was answered once the worker had connected';

($st, $body) = http(POST => $n->url("/hunt/tap?session=$token"));
is $st, 200, 'ann taps';

# a new worker after a reload: a board read (its snapshot is empty) waits
$n->reload(conf => conf($slow_port));
($st, $body) = http(GET => $n->url('/hunt/leaderboard?hunt=h'),
                    headers => { Authorization => "Bearer $token" });
is $st, 200, 'a board read on the reloaded worker, still connecting, waits'
    or diag $body;
like $body, qr/"me":\{"rank":1,"score":3\}/, 'and has ann first with 3';

# a Redis that never answers: the wait ends with the connect's timeout
my ($dead_pid, $dead_port) = relay(undef);
$n->reload(conf => conf($dead_port));
my $t0 = time;
($st, $body) = http(POST => $n->url('/hunt/session?player=bob&hunt=h'),
                    timeout => 10);
my $waited = time - $t0;
is $st, 503, 'a join on a worker whose Redis never answers: 503';
like $body, qr/"error":"unavailable"/, '  "unavailable"';
cmp_ok $waited, '<', 3, sprintf '  after the 1 s connect timeout (%.1f s)',
       $waited;
like $n->error_log, qr/did not answer within 1000 ms/,
     '  which the error log names';

$n->stop;
# the relays and the connections they hold
kill 'KILL', -$slow_pid, -$dead_pid;
waitpid $_, 0 for $slow_pid, $dead_pid;

done_testing;
