package CoinhuntCrash;

# Workers killed with SIGKILL at chosen points of the module's code, and
# what the suites check after (t/013-crash-points.t, t/014-crash-redis.t):
#
#   start($ttl, $http)   a Coinhunt::Nginx of two workers whose rules find a
#                        coin of value x= and name it "t<taps>n<field>";
#                        $http adds directives (coinhunt_redis: Redis mode)
#   %players             what the suite knows of each player: name =>
#                        {hunt, token, seq, score, taps, coins, live, gone}
#   join_player, tap, end_player, tap_request, join_request, end_request
#                        requests that check their exact answers
#   settle_tap, settle_end   a killed tap (end) done whole, or done now
#   collect_tap          the answer of a tap sent while a worker was killed
#   kill_at($what, [$file, @patterns, {ignore => $n, if => $c}], @triggers)
#                        gdb stops a worker at the line (CoinhuntGdb; at a
#                        function given instead of a file and no pattern), the
#                        triggers' first request (or a timer) reaches it, the
#                        worker is killed; $while_stopped runs before the kill
#                        (its result is kill_at's second)
#   took_over($pid)      the dead worker's lock was taken over, its half-done
#                        work finished
#   $whole               set (local), kill_at kills the whole nginx with the
#                        stopped worker and starts it again on its zone file
#                        (start's $file); it returns the pid as the new
#                        nginx names it (a dead nginx's pids are made ones
#                        no process has: the pid | 0x40000000)
#   killed_tap           a tap killed at a point, settled and checked
#   board_ok, sessions_ok, fill_ok, no_other_death
#                        the board, coinhunt_sessions, every free slot usable,
#                        no worker died but the killed ones

use strict;
use warnings;

use Coinhunt qw(http metric wait_for);
use CoinhuntGdb qw(source_line stop_one);
use CoinhuntKeep;
use Exporter 'import';
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use JSON::PP qw(decode_json);
use Test::More;
use Time::HiRes qw(sleep);

our @EXPORT = qw($n %players start join_player tap_request tap_answer tap
                 settle_tap end_player board_ok sessions_ok send_request
                 kill_at took_over fill_ok settle_end end_request
                 join_request no_other_death killed_tap collect_tap
                 board_waiting $while_stopped $whole);

our (%players, @victims, $n, $redis, $while_stopped, $whole);

# x > 0 finds a coin of value x; the kind tells the taps before this one and
# the designer field "n", which counts the taps: the two must agree
our $RULES = <<'LUA';
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
    my ($ttl, $http, $file) = @_;
    my $in = $file ? " file=$file" : '';
    %players = ();
    @victims = ();
    $redis = ($http // '') =~ /coinhunt_redis /;
    $n = Coinhunt::Nginx->start(workers => 2,
        files => { 'rules.lua' => $RULES }, conf => <<"CONF");
    coinhunt_zone crash 512k$in;
    coinhunt_rules rules.lua;
    coinhunt_session_ttl $ttl;
    @{[ $http // '' ]}
    server {
        listen 127.0.0.1:\$PORT;
        location = /hunt/session { coinhunt session; }
        location = /hunt/tap { coinhunt tap; }
        location = /hunt/end { coinhunt end; }
        location = /hunt/leaderboard { coinhunt leaderboard; }
        location = /hunt/metrics { coinhunt metrics; }
    }
CONF
    return $n;
}


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

# a tap sent with send_request while a worker was being killed: its
# answer if it came, else settled
sub collect_tap {
    my ($name, $x, $sock) = @_;
    my ($st, $body) = answer($sock);
    return settle_tap($name, $x) unless $st;
    my $want = tap_answer($players{$name}, $x);
    ok $st == 200 && $body eq $want, "  $name taps $x"
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
# (in Redis mode, once a flush wrote it: the top is a snapshot of Redis);
# with %maybe (player => score, or undef: not on it), either board will do;
# answer => $socket: the answer to a board_request sent there
sub board_ok {
    my ($hunt, %maybe) = @_;
    my $answer = delete $maybe{answer};
    my $board = sub {
        my (%alt) = @_;
        my %score = map { $_ => $players{$_}{score} }
                    grep { $players{$_}{hunt} eq $hunt && !$players{$_}{gone} }
                    keys %players;
        @score{keys %alt} = values %alt;
        my @rows = sort { $b->[1] <=> $a->[1] || $a->[0] cmp $b->[0] }
                   map { [$_, $score{$_}] } grep { defined $score{$_} }
                   keys %score;
        my $i = 0;
        return [map { [++$i, @$_] } @rows];
    };
    my @want = ($board->(), %maybe ? $board->(%maybe) : ());
    my ($st, $body, $got);
    my $read = sub {
        ($st, $body) = $answer ? answer($answer)
                               : http(board_request($hunt), timeout => 10);
        my $top = $st == 200 ? eval { decode_json($body) } : undef;
        $got = [map { [@$_{qw(rank player score)}] } @{ $top->{top} // [] }];
        return grep { Test::More::eq_array($got, $_) } @want;
    };
    my $ok = $redis ? wait_for(10, $read) : $read->();
    ok $ok, "  the board of $hunt: "
            . join(' or ', map { join ' ', map { "$_->[1]=$_->[2]" } @$_ }
                           @want)
        or diag "$st $body";
}

sub board_request {
    my ($hunt) = @_;
    return (GET => $n->url("/hunt/leaderboard?hunt=$hunt&top=100"));
}

# the status and body of the answer on a socket of send_request's
sub answer {
    my ($sock) = @_;
    my $sel = IO::Select->new($sock);
    my $res = '';
    while ($sel->can_read(10)) {
        sysread($sock, $res, 4096, length $res) or last;
    }
    close $sock;
    return $res =~ m{^HTTP/1\.1 (\d+) .*?\r\n\r\n(.*)\z}s;
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

# stops a worker at $where (file, patterns) in the first of the triggers
# that reaches it, kills it there, and waits for its replacement
sub kill_at {
    my ($what, $where, @triggers) = @_;
    my ($file, @patterns) = @$where;
    my %opt = ref $patterns[-1] eq 'HASH' ? %{ pop @patterns } : ();
    # no pattern: $file is a function
    my $at = @patterns ? "$file:" . source_line($file, @patterns) : $file;
    my @gdbs = map { CoinhuntGdb->attach($_, $at, %opt) }
               $n->wait_workers(2);
    my ($victim, $sock) = stop_one(\@gdbs, 10, @triggers);
    ok $victim, "$what: a worker stopped at $at"
        or return diag map { $_->said } @gdbs;
    my $pid = $victim->pid;
    my $waiting = $while_stopped ? $while_stopped->() : undef;
    return kill_whole($victim, $sock) if $whole;
    kill 'KILL', $pid;
    $victim->done;
    close $sock if $sock;
    push @victims, $pid;
    ok wait_for(10, sub { !grep { $_ == $pid } $n->worker_pids }),
       "  and was killed there ($pid)";
    $n->wait_workers(2);
    return wantarray ? ($pid, $waiting) : $pid;
}

# the stopped worker killed with its master and the other worker at once;
# nginx started again on the zone's file
sub kill_whole {
    my ($victim, $sock) = @_;
    my $pid = $victim->pid;
    my @all = ($n->master_pid, $n->worker_pids);
    kill 'KILL', @all;
    $victim->done;
    close $sock if $sock;
    ok wait_for(10, sub { !grep { !Coinhunt::Nginx::exited($_) } @all }),
       "  and was killed there ($pid) with the whole nginx";
    my ($st, $out) = $n->start_again;
    is $st, 0, '  nginx starts again on its zone file' or diag $out;
    $n->wait_workers(2);
    return $pid | 0x40000000;
}

# $begun 0: the worker was killed before it had written anything
sub took_over {
    my ($pid, $begun) = @_;
    ok wait_for(10, sub { $n->error_log =~ /took over a lock held by dead process $pid\b/ }),
       "  a lock the dead worker held was taken over";
    return if defined $begun && !$begun;
    ok wait_for(10, sub { $n->error_log =~ /finished \d+ section\(s\) dead process $pid left half-done/ }),
       '  and what it had begun under the lock finished';
}

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

# a tap of $x killed at a point: credited whole or not at all, the next tap
# shows the designer field in step, the board follows
# a board request while a worker is stopped: only the other one accepts it
sub board_waiting {
    my ($hunt) = @_;
    my $sock = send_request(board_request($hunt));
    sleep 0.5;
    return $sock;
}

sub killed_tap {
    my ($what, $where, $name, $x) = @_;
    note "a tap killed $what";
    my $p = $players{$name};
    # the other worker asks for the board before the kill: it waits for the
    # lock the stopped one holds, and takes it over
    local $while_stopped = sub { board_waiting($p->{hunt}) };
    my ($pid, $waiting) = kill_at('tap', $where,
        sub { send_request(tap_request($p, $p->{seq} + 1, $x)) });
    board_ok($p->{hunt}, $name => $p->{score} + $x, answer => $waiting);
    settle_tap($name, $x);
    tap($name, 1);
    took_over($pid);
    board_ok($p->{hunt});
    sessions_ok();
}


1;
