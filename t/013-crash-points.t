# kill -9 of a worker at chosen points inside the module's critical
# sections: gdb holds the worker at a breakpoint (a line found in the source
# by its pattern), the test kills it there, and the master starts another.
# Whatever the point, the state after is one the dead request either made
# whole or never began: a tap's score, taps, coins and designer field move
# together, a session is tappable with its token or cleanly ended, the
# leaderboard holds every player once, in rank order, with the scores their
# sessions have, coinhunt_sessions counts the live sessions, and no slot is
# lost (the zone takes exactly as many joins as it has free slots).

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http metric wait_for);
use CoinhuntGdb qw(source_line stop_one);
use IO::Socket::INET;
use JSON::PP qw(decode_json);
use Test::More;
use Time::HiRes qw(sleep time);

plan skip_all => "$CoinhuntGdb::GDB is not installed (make deps installs it)"
    unless -x $CoinhuntGdb::GDB;
# valgrind runs the worker's code translated: gdb's breakpoint never fires
plan skip_all => 'gdb cannot stop a worker that runs under valgrind'
    if $ENV{TEST_NGINX_USE_VALGRIND};

# x > 0 finds a coin of value x; the kind tells the taps before this one and
# the designer field "n", which counts the taps: the two must agree
my $RULES = <<'LUA';
return {
  fields = { "n" },
  on_tap = function(s, tap)
    s.n = s.n + 1
    if tap.x > 0 then
      return { value = tap.x, kind = "t" .. s.taps .. "n" .. s.n }
    end
  end,
}
LUA

sub start {
    my ($ttl) = @_;
    return Coinhunt::Nginx->start(workers => 2,
        files => { 'rules.lua' => $RULES }, conf => <<"CONF");
    coinhunt_zone crash 512k;
    coinhunt_rules rules.lua;
    coinhunt_session_ttl $ttl;
    server {
        listen 127.0.0.1:\$PORT;
        location = /hunt/session { coinhunt session; }
        location = /hunt/tap { coinhunt tap; }
        location = /hunt/end { coinhunt end; }
        location = /hunt/leaderboard { coinhunt leaderboard; }
        location = /hunt/metrics { coinhunt metrics; }
    }
CONF
}

# what the test knows of each player: name => {hunt, token, seq, score,
# taps, coins, live}; a retired player stays on the board
my %players;
my $n;

sub join_player {
    my ($name, $hunt) = @_;
    my ($st, $body) = http(POST => $n->url("/hunt/session?player=$name"
                                          . "&hunt=$hunt"));
    my $p = $players{$name} //= { hunt => $hunt, score => 0, seq => 0 };
    my $want = qq(,"player":"$name","hunt":"$hunt","score":$p->{score},)
               . qq("taps":0,"coins":0,);
    is $st, 201, "  $name joins $hunt";
    like $body, qr/\Q$want\E/, "  with the score $p->{score} it had"
        or diag $body;
    ($p->{token}) = $body =~ /"session":"([^"]+)"/;
    @$p{qw(taps coins seq live)} = (0, 0, 0, 1);
    return $p;
}

sub tap_request {
    my ($p, $seq, $x) = @_;
    return ('POST', $n->url("/hunt/tap?seq=$seq&x=$x"),
            headers => { Authorization => "Bearer $p->{token}" });
}

# the answer a tap of $x with this seq must get, the tap credited
sub tap_answer {
    my ($p, $x) = @_;
    my $coin = $x > 0 ? qq({"value":$x,"kind":"t$p->{taps}n)
                        . ($p->{taps} + 1) . '"}'
                      : 'null';
    $p->{seq}++;
    $p->{taps}++;
    $p->{score} += $x;
    $p->{coins}++ if $x > 0;
    return qq({"coin":$coin,"score":$p->{score},"taps":$p->{taps},)
           . qq("coins":$p->{coins}}\n);
}

sub tap {
    my ($name, $x) = @_;
    my $p = $players{$name};
    my ($st, $body) = http(tap_request($p, $p->{seq} + 1, $x));
    my $want = tap_answer($p, $x);
    ok $st == 200 && $body eq $want, "  $name taps $x"
        or diag "$st $body (want $want)";
}

# a tap that the dead worker may or may not have credited: sent again with
# the same seq, 409 says it was, and 200 answers it now
sub settle_tap {
    my ($name, $x) = @_;
    my $p = $players{$name};
    my ($st, $body) = http(tap_request($p, $p->{seq} + 1, $x));
    if ($st == 409) {
        pass "  $name: the killed tap was credited (409 replay)";
        tap_answer($p, $x);
        return;
    }
    my $want = tap_answer($p, $x);
    ok $st == 200 && $body eq $want,
       "  $name: the killed tap was not credited, and is now"
        or diag "$st $body (want $want)";
}

sub end_player {
    my ($name) = @_;
    my $p = $players{$name};
    my ($st, $body) = http(POST => $n->url('/hunt/end'),
                           headers => { Authorization => "Bearer $p->{token}" });
    is $st, 200, "  $name ends" or diag $body;
    $p->{live} = 0;
}

# the whole board of a hunt is what the players' sessions say, in order
sub board_ok {
    my ($hunt) = @_;
    my @want = sort { $b->[1] <=> $a->[1] || $a->[0] cmp $b->[0] }
               map { [$_, $players{$_}{score}] }
               grep { $players{$_}{hunt} eq $hunt && !$players{$_}{gone} }
               keys %players;
    my ($st, $body) = http(GET => $n->url("/hunt/leaderboard?hunt=$hunt"
                                          . '&top=100'), timeout => 10);
    my $got = $st == 200 ? eval { decode_json($body) } : undef;
    my @got = map { [$_->{player}, $_->{score}] } @{ $got->{top} // [] };
    my @ranks = map { $_->{rank} } @{ $got->{top} // [] };
    is_deeply [\@got, \@ranks], [\@want, [1 .. @want]],
        "  the board of $hunt: " . join(' ', map { "$_->[0]=$_->[1]" } @want)
        or diag "$st $body";
}

sub sessions_ok {
    my $live = grep { $_->{live} } values %players;
    is metric($n, 'coinhunt_sessions'), $live,
       "  coinhunt_sessions counts the $live live sessions";
}

# a raw request whose answer is not awaited: the worker may stop inside it
sub send_request {
    my ($method, $url, %opt) = @_;
    my ($path) = $url =~ m{^http://[^/]+(/.*)$};
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$n->{port}")
        or die "connect: $!";
    my $h = join '', map { "$_: $opt{headers}{$_}\r\n" }
                     keys %{ $opt{headers} // {} };
    print $s "$method $path HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
             . "Content-Length: 0\r\n$h\r\n";
    $s->flush;
    return $s;
}

my @victims;

# stops a worker at $where (file, patterns) in the first of the triggers
# that reaches it, kills it there, and waits for its replacement
sub kill_at {
    my ($what, $where, @triggers) = @_;
    my ($file, @patterns) = @$where;
    my $ignore = ref $patterns[-1] ? 0 : pop @patterns;
    my $line = source_line($file, @patterns);
    my @gdbs = map { CoinhuntGdb->attach($_, "$file:$line", $ignore) }
               $n->wait_workers(2);
    my ($victim, $sock) = stop_one(\@gdbs, 10, @triggers);
    ok $victim, "$what: a worker stopped at $file:$line" or return;
    my $pid = $victim->pid;
    kill 'KILL', $pid;
    $victim->done;
    close $sock if $sock;
    push @victims, $pid;
    ok wait_for(10, sub { !grep { $_ == $pid } $n->worker_pids }),
       "  and was killed there ($pid)";
    $n->wait_workers(2);
    return $pid;
}

sub took_over {
    my ($pid) = @_;
    ok wait_for(10, sub { $n->error_log =~ /took over a lock held by dead process $pid\b/ }),
       "  a lock the dead worker held was taken over";
    ok wait_for(10, sub { $n->error_log =~ /finished \d+ section\(s\) dead process $pid left half-done/ }),
       '  and what it had begun under the lock finished';
}

# where workers are killed: a file, patterns of a function and a line in it,
# and how many times the line runs before the worker stops there; the
# journal's apply loop runs once a logged store
my $APPLY = ['ngx_http_coinhunt_journal.c', qr/^ngx_http_coinhunt_log_apply\(/,
             qr/ngx_memcpy\(e->addr/];
my %where = (
    tap_coins => ['ngx_http_coinhunt_journal.h',
                  qr/^ngx_http_coinhunt_journal_tap\(/,
                  qr/ngx_http_coinhunt_board_score\(/,
                  qr/slot->coins = coins;/],
    board_move => ['ngx_http_coinhunt_leaderboard.c',
                   qr/^ngx_http_coinhunt_board_moved\(/,
                   qr/ngx_http_coinhunt_tree_remove\(/,
                   qr/ngx_http_coinhunt_tree_insert\(/],
    rotation => ['ngx_http_coinhunt_leaderboard.c',
                 qr/^ngx_http_coinhunt_rotate_up\(/, qr/np->parent = x;/],
    # the index linked, the slot not written
    join_link => ['ngx_http_coinhunt_store.c',
                  qr/^ngx_http_coinhunt_session_insert\(/,
                  qr/ngx_http_coinhunt_journal_apply\(k\);/,
                  qr/ngx_http_coinhunt_journal_apply\(l\);/],
    # the slot taken (2 stores), linked (5), half written (5 of 9)
    join_slot => [@$APPLY, 12],
    join_board => ['ngx_http_coinhunt_store.c',
                   qr/^ngx_http_coinhunt_session_insert\(/,
                   qr/ngx_http_coinhunt_board_member\(/],
    # retired (state, generation), not counted nor linked
    retire => [@$APPLY, 2],
    # the slot's own links set, its predecessor's and the tail not
    retired_fifo => [@$APPLY, 4],
    reclaim => ['ngx_http_coinhunt_store.c',
                qr/^ngx_http_coinhunt_slot_reclaim\(/,
                qr/ngx_http_coinhunt_board_member\(/],
);

# joins until the zone refuses one: exactly as many as it has slots that
# hold no live session
sub fill_ok {
    my ($prefix) = @_;
    my $capacity = metric($n, 'coinhunt_sessions_capacity');
    my $live = grep { $_->{live} } values %players;
    my $ua = HTTP::Tiny->new(keep_alive => 1);
    my $joined = 0;
    for my $i (1 .. $capacity + 1) {
        my $name = "$prefix$i";
        my $res = $ua->post($n->url("/hunt/session?player=$name&hunt=fill"));
        last unless $res->{status} == 201;
        my ($token) = $res->{content} =~ /"session":"([^"]+)"/;
        $players{$name} = { hunt => 'fill', token => $token, score => 0,
                            seq => 0, taps => 0, coins => 0, live => 1 };
        $joined++;
    }
    is $joined, $capacity - $live,
       "the zone takes $joined joins: its $capacity slots less the $live "
       . 'live sessions, none lost';
    # the retired sessions were reclaimed for them
    $_->{gone} = 1 for grep { !$_->{live} } values %players;
}

# an end the dead worker may have finished: a tap is 401 after a finished
# one, else the end is made now
sub settle_end {
    my ($name) = @_;
    my $p = $players{$name};
    my ($st, $body) = http(tap_request($p, $p->{seq} + 1, 1));
    if ($st == 401) {
        pass "  $name: the killed end was finished (401)";
    } else {
        my $want = tap_answer($p, 1);
        ok $st == 200 && $body eq $want, "  $name: the killed end was not "
                                         . 'finished, the session taps on'
            or diag "$st $body (want $want)";
        end_player($name);
    }
    $p->{live} = 0;
}

sub end_request {
    my ($name) = @_;
    return (POST => $n->url('/hunt/end'),
            headers => { Authorization => "Bearer $players{$name}{token}" });
}

sub join_request {
    my ($name, $hunt) = @_;
    return (POST => $n->url("/hunt/session?player=$name&hunt=$hunt"));
}

# the log names only the killed workers as dead; nginx stops, and a worker
# a broken structure keeps spinning does not outlive the test
sub no_other_death {
    my @died = $n->error_log =~ /worker process (\d+) exited on signal (\d+)/g;
    is "@died", join(' ', map { "$_ 9" } @victims),
        'no worker died but the killed ones';
    my @workers = $n->worker_pids;
    $n->stop;
    for my $pid (@workers) {
        open my $fh, '<', "/proc/$pid/cmdline" or next;
        kill 'KILL', $pid if <$fh> =~ /^nginx: worker process/;
    }
}

# a worker killed at each point, one after the other, in one nginx
$n = start('30m');

# a tap of $x killed at a point: credited whole or not at all, the next tap
# shows the designer field in step, the board follows
sub killed_tap {
    my ($what, $where, $name, $x) = @_;
    note "a tap killed $what";
    my $p = $players{$name};
    my $pid = kill_at('tap', $where,
        sub { send_request(tap_request($p, $p->{seq} + 1, $x)) });
    settle_tap($name, $x);
    tap($name, 1);
    took_over($pid);
    board_ok($p->{hunt});
    sessions_ok();
}

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
    my $pid = kill_at('rotation', $where{rotation}, map {
        my $name = sprintf 'rot%02d', $_;
        sub { push @tried, $name; send_request(join_request($name, 'rot')) }
    } 1 .. 40);
    # the joins before were answered; the last one is made again
    my $last = pop @tried;
    $players{$_} = { hunt => 'rot', score => 0, seq => 0, taps => 0,
                     coins => 0, live => 1 } for @tried;
    join_player($last, 'rot');
    tap($last, 4);
    took_over($pid);
    board_ok('rot');
    sessions_ok();
}

# a join killed at a point: the player joins again, taps, and is counted
# once, on the board with that score
sub killed_join {
    my ($what, $where, $name, $x) = @_;
    note "a join killed $what";
    my $pid = kill_at('join', $where,
                      sub { send_request(join_request($name, 'idx')) });
    join_player($name, 'idx');
    tap($name, $x);
    took_over($pid);
    board_ok('idx');
    sessions_ok();
}

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

# an expiry, in an nginx whose sessions expire after two seconds idle
%players = ();
@victims = ();
$n = start('2s');

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
