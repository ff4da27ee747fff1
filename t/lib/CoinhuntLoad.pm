package CoinhuntLoad;

# A tap load that counts every request and its outcome exactly, for the
# fault suites (t/4xx-fault-*.t).  Forked clients, each with one HTTP/1.1
# keep-alive connection of its own, join players and tap them in turn; every
# tap carries a seq, and the coin it must find is known in advance:
#
#   rules($kind)     Lua rules: seq % 7 is the coin's value (0: no coin)
#   nginx(zone => $name, http => $directives, listen => 'reuseport')
#                    a Coinhunt::Nginx of two workers serving rules('v1')
#   my $load = CoinhuntLoad->start(port => $port, hunt => 'h', clients => 4,
#                                  players => 5, join_every => 100,
#                                  max_players => 10, kinds => ['v1']);
#   $load->ready     every client had joined its first players within 30 s
#   $load->client_pids               the clients' process ids
#   more_taps($nginx, $count)        coinhunt_taps_total grew by $count
#   my $r = $load->stop;             waits for the clients, sums their counts
#   my @wrong = end_players($nginx, $hunt, $r->{players})
#                    ends every session, lists those not ending as expected
#
# A failure is an answer that is not 2xx, an answer that differs from the
# one the session's history implies (coin, score, taps or coins), a request
# sent that got a partial answer or none within the timeout, a replayed seq
# whose first send had been answered, or a connection refused.  Not a
# failure, but counted: a keep-alive connection the server closed, which
# the client finds closed before it sends ("stale", ordinary keep-alive), or
# closed with no byte of an answer after it sent ("unanswered": the race
# RFC 9112 9.3.1 describes).  An unanswered request is sent again as it was,
# same seq; the answer tells whether the first send was credited: 200 means
# it was not (credited now), 409 replay that it was and its answer was lost
# ("lost").  Both keep the expected scores exact; lost answers are counted
# so that a suite can demand none (a graceful reload) or accept those of a
# killed process.

use strict;
use warnings;

use Coinhunt qw(metric wait_for);
use Exporter 'import';
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(end_players more_taps);

my $TIMEOUT = 10;       # an answer slower than this is a hang: a failure
my $ATTEMPTS = 5;       # sends of one request before it is a failure

sub rules {
    my ($kind) = @_;
    return "return { on_tap = function(s, tap)\n"
         . "  local v = tap.seq % 7\n"
         . "  if v > 0 then return { value = v, kind = \"$kind\" } end\n"
         . "end }\n";
}

sub coin_of { return $_[0] % 7 }

sub nginx {
    my (%opt) = @_;
    my $listen = $opt{listen} // '';
    my $n = Coinhunt::Nginx->start(workers => 2,
        files => { 'rules.lua' => rules('v1') }, conf => <<"CONF");
    coinhunt_zone $opt{zone} 1m;
    coinhunt_rules rules.lua;
    @{[ $opt{http} // '' ]}
    server {
        listen 127.0.0.1:\$PORT $listen;
        location = /hunt/session { coinhunt session; }
        location = /hunt/tap { coinhunt tap; add_header X-Pid \$pid; }
        location = /hunt/end { coinhunt end; }
        location = /hunt/metrics { coinhunt metrics; }
    }
CONF
    $n->wait_workers(2);
    return $n;
}

sub more_taps {
    my ($n, $count) = @_;
    my $taps = sub { metric($n, 'coinhunt_taps_total') // 0 };
    my $want = $taps->() + $count;
    return wait_for(30, sub { $taps->() >= $want });
}

sub end_players {
    my ($n, $hunt, $players) = @_;
    my $ua = HTTP::Tiny->new(keep_alive => 1);
    my @wrong;
    for my $name (sort keys %$players) {
        my $p = $players->{$name};
        my $res = $ua->post($n->url('/hunt/end'),
            { headers => { Authorization => "Bearer $p->{token}" } });
        my $want = qq({"ended":true,"player":"$name","hunt":"$hunt",)
                   . qq("score":$p->{score},"taps":$p->{taps},)
                   . qq("coins":$p->{coins}}\n);
        push @wrong, "$name: $res->{status} $res->{content} (want $want)"
            unless $res->{status} == 200 && $res->{content} eq $want;
    }
    return @wrong;
}

sub start {
    my ($class, %opt) = @_;
    my $self = bless {
        port => $opt{port}, hunt => $opt{hunt} // 'load',
        clients => $opt{clients} // 4, players => $opt{players} // 5,
        join_every => $opt{join_every} // 0,
        max_players => $opt{max_players} // $opt{players} // 5,
        kinds => { map { $_ => 1 } @{ $opt{kinds} // ['v1'] } },
        dir => tempdir('coinhunt-load-XXXXXX', TMPDIR => 1, CLEANUP => 1),
        limit => $opt{limit} // 120, owner => $$,
    }, $class;
    for my $c (1 .. $self->{clients}) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            # a send on a connection the server reset is EPIPE, not death
            $SIG{PIPE} = 'IGNORE';
            # _exit: the parent's objects (its nginx, its Redis) are not ours
            eval { $self->_client($c) };
            if ($@) {
                open my $fh, '>>', "$self->{dir}/client-$c";
                print $fh "fail client $c died: $@";
                close $fh;
            }
            POSIX::_exit(0);
        }
        push @{ $self->{pids} }, $pid;
    }
    $self->{ready} = wait_for(30, sub {
        @{ $self->{pids} } == grep { -e "$self->{dir}/ready-$_" }
                                   1 .. $self->{clients};
    });
    return $self;
}

# a suite that dies leaves no client behind
sub DESTROY {
    my ($self) = @_;
    return if $self->{stopped} || $self->{owner} != $$;
    kill 'KILL', @{ $self->{pids} };
    waitpid $_, 0 for @{ $self->{pids} };
}

sub client_pids { return @{ $_[0]{pids} } }

sub ready { return $_[0]{ready} }

sub stop {
    my ($self) = @_;
    open my $fh, '>', "$self->{dir}/stop" or die $!;
    close $fh;
    my $until = time + $TIMEOUT * $ATTEMPTS + 10;
    my %left = map { $_ => 1 } @{ $self->{pids} };
    while (%left && time < $until) {
        for my $pid (keys %left) {
            delete $left{$pid}
                if waitpid($pid, POSIX::WNOHANG()) == $pid;
        }
        sleep 0.05 if %left;
    }
    kill 'KILL', keys %left;
    waitpid $_, 0 for keys %left;
    $self->{stopped} = 1;
    my $r = { ok => 0, failed => 0, stale => 0, unanswered => 0, lost => 0,
              joins => 0, max_latency => 0, failures => [], players => {},
              pids => {}, kinds => {} };
    push @{ $r->{failures} }, "client $_ did not stop" for keys %left;
    for my $c (1 .. $self->{clients}) {
        open my $fh, '<', "$self->{dir}/client-$c" or do {
            push @{ $r->{failures} }, "client $c wrote no results";
            next;
        };
        while (my $line = <$fh>) {
            chomp $line;
            my ($what, @f) = split ' ', $line;
            if ($what eq 'count') {
                $r->{$f[0]} += $f[1];
            } elsif ($what eq 'latency') {
                $r->{max_latency} = $f[0] if $f[0] > $r->{max_latency};
            } elsif ($what eq 'pid' || $what eq 'kind') {
                $r->{"${what}s"}{ $f[0] } += $f[1];
            } elsif ($what eq 'player') {
                my %p;
                @p{qw(token seq score taps coins)} = @f[1 .. 5];
                $r->{players}{ $f[0] } = \%p;
            } elsif ($what eq 'fail') {
                push @{ $r->{failures} }, join ' ', @f;
            }
        }
    }
    $r->{failed} = @{ $r->{failures} };
    return $r;
}

# one client: its own connection, players "c<client>p<n>" of the hunt
sub _client {
    my ($self, $c) = @_;
    my %st = (ok => 0, stale => 0, unanswered => 0, lost => 0, joins => 0);
    my (@players, @fail, %pids, %kinds);
    my $max_latency = 0;
    my $conn;
    my $deadline = time + $self->{limit};

    # sends $req until it is answered: (status, headers, body) or a failure
    my $request = sub {
        my ($req) = @_;
        for my $attempt (1 .. $ATTEMPTS) {
            if ($conn && IO::Select->new($conn)->can_read(0)) {
                # readable while idle: the server closed it
                $st{stale}++;
                undef $conn;
            }
            unless ($conn) {
                $conn = IO::Socket::INET->new(
                    PeerAddr => "127.0.0.1:$self->{port}", Timeout => $TIMEOUT)
                    or return (0, "connect: $!");
                setsockopt $conn, IPPROTO_TCP, TCP_NODELAY, 1;
            }
            my $t0 = time;
            my $sent = syswrite $conn, $req;
            if (!defined $sent || $sent != length $req) {
                # nothing of it reached a live peer: send it again
                $st{stale}++;
                undef $conn;
                next;
            }
            my ($status, $hdrs, $body, $err) = _answer($conn);
            my $took = time - $t0;
            $max_latency = $took if $took > $max_latency;
            if (defined $status) {
                undef $conn if $hdrs =~ /^connection:\s*close/mi;
                return ($status, $hdrs, $body, $attempt);
            }
            undef $conn;
            return (0, $err) if $err ne 'closed';
            $st{unanswered}++;
        }
        return (0, "no answer in $ATTEMPTS sends");
    };

    my $join = sub {
        my $name = sprintf 'c%dp%d', $c, scalar(@players) + 1;
        my ($status, $hdrs, $body) = $request->(
            "POST /hunt/session?player=$name&hunt=$self->{hunt} HTTP/1.1\r\n"
            . "Host: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
        if ($status == 201 && $body =~ /"session":"([^"]+)".*"score":0,/) {
            push @players, { name => $name, token => $1, seq => 0,
                             score => 0, taps => 0, coins => 0 };
            $st{joins}++;
            return 1;
        }
        push @fail, "join $name: $status " . ($hdrs // '') . ($body // '');
        return 0;
    };

    for (1 .. $self->{players}) {
        last unless $join->();
    }
    open my $ready, '>', "$self->{dir}/ready-$c" or die $!;
    close $ready;

    my $i = 0;
    while (!-e "$self->{dir}/stop" && time < $deadline && @players) {
        if ($self->{join_every} && $i && $i % $self->{join_every} == 0
            && @players < $self->{max_players})
        {
            $join->();
        }
        my $p = $players[$i++ % @players];
        my $seq = $p->{seq} + 1;
        my $v = coin_of($seq);
        my ($status, $hdrs, $body, $attempt) = $request->(
            "POST /hunt/tap?seq=$seq HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            . "Authorization: Bearer $p->{token}\r\nContent-Length: 0\r\n\r\n");
        my $want = sprintf '{"coin":%s,"score":%d,"taps":%d,"coins":%d}',
            ($v ? qq({"value":$v,"kind":"KIND"}) : 'null'),
            $p->{score} + $v, $p->{taps} + 1, $p->{coins} + ($v ? 1 : 0);
        my $kind;
        if ($status == 200 && $body =~ /"kind":"(\w+)"/) {
            $kind = $1;
            $want =~ s/KIND/$kind/;
        }
        if ($status == 200 && $body eq "$want\n"
            && (!$v || $self->{kinds}{$kind}))
        {
            $st{ok}++;
            $kinds{$kind}++ if $v;
            $pids{$1}++ if $hdrs =~ /^x-pid:\s*(\d+)/mi;
        } elsif ($status == 409 && $attempt > 1
                 && $body =~ /"error":"replay"/)
        {
            # an unanswered send of this very seq had been credited
            $st{lost}++;
        } else {
            push @fail, "$p->{name} seq $seq: $status "
                        . ($hdrs // '') . ($body // '') . " (want $want)";
            # its expected state is unknown from here: tap it no more
            @players = grep { $_ != $p } @players;
            next;
        }
        $p->{seq} = $seq;
        $p->{score} += $v;
        $p->{taps}++;
        $p->{coins}++ if $v;
    }

    open my $fh, '>', "$self->{dir}/client-$c.tmp" or die $!;
    print $fh "count $_ $st{$_}\n" for sort keys %st;
    print $fh "latency $max_latency\n";
    print $fh "pid $_ $pids{$_}\n" for keys %pids;
    print $fh "kind $_ $kinds{$_}\n" for keys %kinds;
    print $fh "player @$_{qw(name token seq score taps coins)}\n" for @players;
    for my $f (@fail) {
        $f =~ s/\s+/ /g;
        print $fh "fail $f\n";
    }
    close $fh;
    rename "$self->{dir}/client-$c.tmp", "$self->{dir}/client-$c";
}

# reads one answer: (status, headers, body), or (undef, .., .., "closed")
# when the connection ended before its first byte, or another error
sub _answer {
    my ($s) = @_;
    my $buf = '';
    my $sel = IO::Select->new($s);
    my $until = time + $TIMEOUT;
    for (;;) {
        if ($buf =~ /^HTTP\/1\.1 (\d{3}) [^\r]*\r\n(.*?)\r\n\r\n/s) {
            my ($status, $hdrs, $start) = ($1, $2, $+[0]);
            my $len = $hdrs =~ /^content-length:\s*(\d+)/mi ? $1 : 0;
            return ($status, $hdrs, substr($buf, $start, $len))
                if length($buf) >= $start + $len;
        }
        my $left = $until - time;
        return (undef, undef, undef, "no answer in ${TIMEOUT}s")
            if $left <= 0 || !$sel->can_read($left);
        my $n = sysread $s, $buf, 65536, length $buf;
        next if !defined $n && $!{EINTR};
        if (!$n) {
            return (undef, undef, undef, 'closed') if $buf eq '';
            return (undef, undef, undef,
                    'connection ended inside an answer: '
                    . ($n // "$!") . " after '$buf'");
        }
    }
}

1;
