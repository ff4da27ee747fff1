# kill -9 of a worker at chosen points inside the module's critical
# sections: gdb holds the worker at a breakpoint (a line found in the source
# by its pattern), the test kills it there, and the master starts another.
# Whatever the point, the state after is one the dead request either made
# whole or never began: a tap's score, taps, coins and designer field move
# together, a session is tappable with its token or cleanly ended, the
# leaderboard holds every player once, in rank order, with the scores their
# sessions have, coinhunt_sessions counts the live sessions, and no slot is
# lost (the zone takes exactly as many joins as it has free slots).  Then
# the same for a zone kept in a file, the whole nginx (master and workers)
# killed with the stopped worker and started again on the file.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(metric wait_for);
use CoinhuntCrash;
use Test::More;

plan skip_all => "$CoinhuntGdb::GDB is not installed (make deps installs it)"
    unless -x $CoinhuntGdb::GDB;
# valgrind runs the worker's code translated: gdb's breakpoint never fires
plan skip_all => 'gdb cannot stop a worker that runs under valgrind'
    if $ENV{TEST_NGINX_USE_VALGRIND};

# where workers are killed: a file, patterns of a function and a line in it,
# and how many times the line runs before the worker stops there; the
# journal's apply loop runs once a logged store
my $APPLY = ['ngx_http_coinhunt_journal.c', qr/^ngx_http_coinhunt_log_apply\(/,
             qr/ngx_memcpy\(zone \+ e->off/];
my %where = (
    # a tap's commit (ngx_http_coinhunt_session_tap's, inlined in it and
    # in a refusal's: gdb's breakpoint "1.1" is the first of two places)
    tap_coins => ['ngx_http_coinhunt_store.c',
                  qr/^ngx_http_coinhunt_session_commit\(/,
                  qr/ngx_http_coinhunt_board_score\(/,
                  qr/slot->coins = coins;/],
    board_move => ['ngx_http_coinhunt_tree.c',
                   qr/^ngx_http_coinhunt_tree_moved\(/,
                   qr/ngx_http_coinhunt_tree_remove\(/,
                   qr/ngx_http_coinhunt_tree_insert\(/],
    rotation => ['ngx_http_coinhunt_tree.c',
                 qr/^ngx_http_coinhunt_rotate_up\(/, qr/np->parent = x;/],
    # a slot taken from the free ones, the index locked, nothing written
    join_taken => ['ngx_http_coinhunt_store.c',
                   qr/^ngx_http_coinhunt_session_insert\(/,
                   qr/slot = ngx_http_coinhunt_slot\(sh, index\);/],
    # the index linked, the slot not written
    join_link => ['ngx_http_coinhunt_store.c',
                  qr/^ngx_http_coinhunt_session_insert\(/,
                  qr/ngx_http_coinhunt_journal_apply\(k\);/,
                  qr/ngx_http_coinhunt_journal_apply\(l\);/],
    # the slot taken (2 stores), linked (5), half written (5 of 9)
    join_slot => [@$APPLY, { ignore => 12 }],
    join_board => ['ngx_http_coinhunt_store.c',
                   qr/^ngx_http_coinhunt_session_insert\(/,
                   qr/ngx_http_coinhunt_board_member\(/],
    # retired (state, generation), not counted nor linked
    retire => [@$APPLY, { ignore => 2 }],
    # the slot's own links set, its predecessor's and the tail not
    retired_fifo => [@$APPLY, { ignore => 4 }],
    reclaim => ['ngx_http_coinhunt_slots.c',
                qr/^ngx_http_coinhunt_slot_reclaim\(/,
                qr/ngx_http_coinhunt_board_member\(/],
);

# a worker killed at each point, one after the other, in one nginx
start('30m');

join_player($_, 'coins') for qw(alice bob);
tap('alice', 10);
tap('bob', 3);
killed_tap('between its score and its coins', $where{tap_coins}, 'bob', 5);

# dave passes the others: his node leaves the tree and enters it again
join_player($_, 'move') for qw(carol dave erin frank gina hal ivy);
tap($_, 2 + length $_) for qw(carol erin frank gina hal ivy);
tap('dave', 1);
killed_tap('inside its move on the board', $where{board_move}, 'dave', 20);

note 'a join killed in the middle of a rotation of the board';
{
    my @tried;
    local $while_stopped = sub { board_waiting('rot') };
    my ($pid, $waiting) = kill_at('rotation', $where{rotation}, map {
        my $name = sprintf 'rot%02d', $_;
        sub { push @tried, $name; send_request(join_request($name, 'rot')) }
    } 1 .. 40);
    # the joins before were answered; the last one is made again
    my $last = pop @tried;
    $players{$_} = { hunt => 'rot', score => 0, seq => 0, taps => 0,
                     coins => 0, live => 1 } for @tried;
    # the board the other worker waited for: the dead one was rotating it
    board_ok('rot', $last => 0, answer => $waiting);
    join_player($last, 'rot');
    tap($last, 4);
    took_over($pid);
    board_ok('rot');
    sessions_ok();
}

# a join killed at a point: the player joins again, taps, and is counted
# once, on the board with that score
sub killed_join {
    my ($what, $where, $name, $x, $begun) = @_;
    note "a join killed $what";
    my $pid = kill_at('join', $where,
                      sub { send_request(join_request($name, 'idx')) });
    join_player($name, 'idx');
    tap($name, $x);
    took_over($pid, $begun);
    board_ok('idx');
    sessions_ok();
}

# the slot it took is freed when its replacement starts (fill_ok below)
killed_join('with a slot taken, before writing it', $where{join_taken},
            'ivan', 3, 0);
killed_join('inside its index insert', $where{join_link}, 'jack', 4);
killed_join('halfway through writing its slot', $where{join_slot}, 'liz', 5);
killed_join('before its board insert', $where{join_board}, 'kim', 7);

# an end killed at a point: the session is ended, whole, still on the board
sub killed_end {
    my ($what, $where, $name, $x) = @_;
    note "an end killed $what";
    join_player($name, 'end');
    tap($name, $x);
    my $pid = kill_at('end', $where, sub { send_request(end_request($name)) });
    settle_end($name);
    took_over($pid);
    board_ok('end');
    sessions_ok();
}

killed_end('inside the retiring', $where{retire}, 'leo', 7);
note 'the session revived: its score kept';
join_player('leo', 'end');
tap('leo', 2);
board_ok('end');
sessions_ok();
end_player('leo');
killed_end('inside the link to the retired sessions', $where{retired_fifo},
           'mia', 5);

note 'every session after the kills';
tap($_, 1) for sort grep { $players{$_}{live} && $players{$_}{token} }
               keys %players;
board_ok($_) for qw(coins move rot idx end);
sessions_ok();
fill_ok('f');
sessions_ok();

note 'a join killed while it reclaims the oldest retired session';
end_player($_) for qw(f1 f2);
{
    my $pid = kill_at('reclaim', $where{reclaim},
                      sub { send_request(join_request('olga', 'idx')) });
    took_over($pid);
    join_player('olga', 'idx');
    tap('olga', 3);
    board_ok('idx');
    sessions_ok();
    fill_ok('g');
    sessions_ok();
}

no_other_death();

note 'the whole nginx killed with the stopped worker, started again on the '
     . 'file of its zone';
start('30m', '', 'crash.zone');
join_player($_, 'whole') for qw(wes xia yan zoe);
tap('wes', 10);
tap('xia', 3);
tap($_, 1 + length $_) for qw(yan zoe);
{
    local $CoinhuntCrash::whole = 1;
    # the lock's holder is dead with the nginx: the new one's first tap
    # takes it over
    sub whole_tap {
        my ($what, $where, $name, $x) = @_;
        note "a tap killed $what, and the whole nginx";
        my $p = $players{$name};
        my $pid = kill_at('tap', $where,
            sub { send_request(tap_request($p, $p->{seq} + 1, $x)) });
        settle_tap($name, $x);
        tap($name, 1);
        took_over($pid);
        board_ok('whole');
        sessions_ok();
    }
    whole_tap('between its score and its coins', $where{tap_coins}, 'xia', 5);
    whole_tap('inside its move on the board', $where{board_move}, 'yan', 30);

    note 'a join killed halfway through writing its slot, and the whole nginx';
    my $pid = kill_at('join', $where{join_slot},
                      sub { send_request(join_request('amy', 'whole')) });
    join_player('amy', 'whole');
    tap('amy', 4);
    took_over($pid);
    board_ok('whole');
    sessions_ok();

    note 'an end killed inside the retiring, and the whole nginx';
    $pid = kill_at('end', $where{retire},
                   sub { send_request(end_request('zoe')) });
    settle_end('zoe');
    took_over($pid);
    board_ok('whole');
    sessions_ok();
}
note 'every session after the kills';
tap($_, 1) for sort grep { $players{$_}{live} } keys %players;
board_ok('whole');
fill_ok('w');
sessions_ok();
no_other_death();

# an expiry, in an nginx whose sessions expire after two seconds idle
start('2s');

note 'an expiry killed inside the retiring';
join_player('nina', 'exp');
tap('nina', 3);
{
    # the sweeper of either worker retires nina once she is idle
    my $pid = kill_at('expiry', $where{retire}, sub { undef });
    took_over($pid);
    $players{nina}{live} = 0;
    board_ok('exp');
    ok wait_for(10, sub { metric($n, 'coinhunt_sessions') == 0 }),
       '  coinhunt_sessions counts no live session';
    join_player('nina', 'exp');
    tap('nina', 1);
    board_ok('exp');
    ok wait_for(10, sub { metric($n, 'coinhunt_sessions') == 0 }),
       '  nor once she expired again';
}

no_other_death();
done_testing;
