# kill -9 of a worker at chosen points of Redis mode's critical sections
# (t/013-crash-points.t for the method): a tap queueing its slot on the
# dirty list, a flush marking its batch, a flush whose batch is in flight,
# a flush settling its replies.  Whatever the point, every tap is credited
# whole or not at all, Redis ends up holding every player's exact score,
# nothing stays pending, and the board (Redis's) is in rank order.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(metric wait_for);
use CoinhuntCrash;
use CoinhuntRedis;
use Test::More;

plan skip_all => "$CoinhuntGdb::GDB is not installed (make deps installs it)"
    unless -x $CoinhuntGdb::GDB;
# valgrind runs the worker's code translated: gdb's breakpoint never fires
plan skip_all => 'gdb cannot stop a worker that runs under valgrind'
    if $ENV{TEST_NGINX_USE_VALGRIND};

# the journal's apply loop, called from a function: a store of its section
sub applying {
    my ($caller, $ignore) = @_;
    return ['ngx_http_coinhunt_journal.c', qr/^ngx_http_coinhunt_log_apply\(/,
            qr/ngx_memcpy\(zone \+ e->off/,
            { if => qq{\$_any_caller_is("$caller", 4)}, ignore => $ignore }];
}

my %where = (
    # the tap's slot marked queued, not yet linked to the list
    queue => applying('ngx_http_coinhunt_pending_dirty', 1),
    # the second slot of a batch being marked, the list locked
    marking => ['ngx_http_coinhunt_pending.c',
                qr/^ngx_http_coinhunt_pending_take\(/,
                qr/batch\[n\]\.index = x - 1;/, { ignore => 1 }],
    # the batch off the list, being sent, no lock held (the lines after the
    # batch's loop stand twice in the code: a function is safer)
    in_flight => ['ngx_http_coinhunt_redis_send',
                  { if => '$_any_caller_is("ngx_http_coinhunt_flush_start", 3)' }],
    # a written slot settled halfway: Redis's score noted, the mark not
    settling => applying('ngx_http_coinhunt_pending_settle', 1),
);

my $redis = CoinhuntRedis->start;
start('30m', 'coinhunt_redis 127.0.0.1:' . $redis->port . ";\n"
             . '    coinhunt_flush 50ms;');
ok wait_for(10, sub { (metric($n, 'coinhunt_redis_up') // 0) == 1 }),
   'both workers are connected to Redis';

# Redis holds each player's exact score, and nothing waits to be written
sub redis_ok {
    my ($hunt) = @_;
    my %want = map { $_ => $players{$_}{score} }
               grep { $players{$_}{hunt} eq $hunt } keys %players;
    my $got;
    wait_for(10, sub {
        $got = $redis->board($hunt);
        metric($n, 'coinhunt_redis_pending_scores') == 0
            && Test::More::eq_hash($got, \%want);
    });
    is_deeply $got, \%want, "  Redis holds the board of $hunt";
    is metric($n, 'coinhunt_redis_pending_scores'), 0,
       '  and no score waits for a flush';
}

join_player($_, 'r') for qw(ann ben cid dan);
tap('ann', 4);
tap('ben', 2);
redis_ok('r');

killed_tap('while it queues its slot for the flush', $where{queue}, 'ben', 6);
redis_ok('r');

# taps of three players, sent at once: a flush takes them up, and stops
sub killed_flush {
    my ($what, $where, $begun) = @_;
    note "a flush killed $what";
    my @sent;
    my $pid = kill_at('flush', $where, sub {
        @sent = map { [$_, send_request(tap_request($players{$_},
                                                    $players{$_}{seq} + 1,
                                                    3))] }
                qw(ann cid dan);
        undef;
    });
    collect_tap($_->[0], 3, $_->[1]) for @sent;
    took_over($pid, $begun) if defined $begun;
    tap($_, 1) for qw(ann ben cid dan);
    board_ok('r');
    redis_ok('r');
    sessions_ok();
}

killed_flush('while it marks its batch', $where{marking}, 0);
# nothing is locked: the others requeue what the dead worker carried
killed_flush('with its batch in flight', $where{in_flight});
killed_flush('while it settles its batch', $where{settling}, 1);

no_other_death();
done_testing;
