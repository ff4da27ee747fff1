package CoinhuntKeep;

# Players whose every tap is known, for the suites of a zone kept in a file
# (t/019-zone-file.t, t/029-zone-file-kill.t): each tap carries the next
# seq, finds a coin worth seq % 7 + 1, and the rules count it in the
# designer field "n", which the coin's kind shows.  So an answer is checked
# whole (coin, kind, score, taps, coins), and after any fault:
#
#   my $n = CoinhuntKeep::nginx(zone => 'keep', size => '1m', file => $f)
#   my %p = CoinhuntKeep::join_players($n, 'h', 8)   # player => state
#   CoinhuntKeep::tap($n, $p{$name})         '' or what was wrong
#   CoinhuntKeep::resend($n, $p{$name})      a tap whose answer was lost
#   CoinhuntKeep::check($n, 'h', \%p)        every token taps exactly and
#                                            the board is the clients' one
#   CoinhuntKeep::load_and_kill($n, \%p, $clients, $kill, $after)
#                    forked clients tap two players each until $kill->()
#                    (after $after s, default 0.05, and a random 0-0.3 s
#                    more) stops what they tap; the
#                    players' states come back, each with "acked": the time
#                    and score of its taps of the last 2 s, and of the one
#                    before them; the list of what was wrong

use strict;
use warnings;

use Coinhunt qw(http wait_for);
use CoinhuntSanitize;
use File::Temp qw(tempdir);
use POSIX ();
use Time::HiRes ();

our $RULES = <<'LUA';
return { fields = { "n" },
  on_tap = function(s, tap)
    s.n = s.n + 1
    return { value = tap.seq % 7 + 1, kind = "n" .. s.n }
  end }
LUA

# the "coinhunt_zone" line and the rest of the http block
sub conf {
    my (%opt) = @_;
    my $file = $opt{file} ? " file=$opt{file}" : '';
    return "    coinhunt_zone $opt{zone} $opt{size}$file;\n"
         . "    coinhunt_rules keep.lua;\n"
         . ($opt{http} // '')
         . "    server {\n        listen 127.0.0.1:\$PORT;\n"
         . "        hunt_locations;\n    }\n";
}

# the environment a binary upgrade's new master needs: nginx passes its
# own to an exec'd binary only as "env" directives name it
sub main_block {
    my %env = CoinhuntSanitize::env_for('');
    return join '', map { "env $_;\n" } 'GLIBC_TUNABLES', sort keys %env;
}

sub nginx {
    my (%opt) = @_;
    return Coinhunt::Nginx->start(files => { 'keep.lua' => $RULES },
                                  workers => $opt{workers} // 2,
                                  main => main_block(), conf => conf(%opt));
}

sub join_players {
    my ($n, $hunt, $count) = @_;
    my %p;
    for my $i (1 .. $count) {
        my $name = sprintf 'p%02d', $i;
        my ($st, $body) = http(POST => $n->url(
            "/hunt/session?player=$name&hunt=$hunt"));
        die "join $name: $st $body\n" unless $st == 201;
        my ($token) = $body =~ /"session":"([^"]+)"/;
        $p{$name} = { name => $name, token => $token, seq => 0, score => 0,
                      taps => 0 };
    }
    return %p;
}

# the answer the next tap of $p must get, and $p after it
sub _expect {
    my ($p, $seq) = @_;
    my $v = $seq % 7 + 1;
    my $taps = $p->{taps} + 1;
    return (qq({"coin":{"value":$v,"kind":"n$taps"},)
            . qq("score":) . ($p->{score} + $v)
            . qq(,"taps":$taps,"coins":$taps}), $p->{score} + $v, $taps);
}

sub _credit {
    my ($p, $seq) = @_;
    my (undef, $score, $taps) = _expect($p, $seq);
    @$p{qw(seq score taps)} = ($seq, $score, $taps);
    delete $p->{sent};
    # the last 2 s of acknowledged taps, and the one before them
    my $now = Time::HiRes::time();
    my $acked = $p->{acked} //= [];
    push @$acked, [$now, $score];
    shift @$acked while @$acked > 2 && $acked->[1][0] < $now - 2;
}

# one tap, the next seq: '' when answered exactly, else what was wrong; a
# tap that got no answer stays "sent", for resend()
sub tap {
    my ($n, $p, %opt) = @_;
    my $seq = $p->{seq} + 1;
    $p->{sent} = $seq;
    my ($st, $body) = http(POST => $n->url("/hunt/tap?seq=$seq"),
        headers => { Authorization => "Bearer $p->{token}" },
        timeout => $opt{timeout} // 5);
    ($body //= '') =~ s/\n\z//;
    my ($want) = _expect($p, $seq);
    if ($st == 200 && $body eq $want) {
        _credit($p, $seq);
        return '';
    }
    return "$p->{name} seq $seq: $st $body, not $want";
}

# a tap sent whose answer never came, sent again: 200 if it had not been
# credited (it is now), 409 replay if it had: '' or what was wrong
sub resend {
    my ($n, $p) = @_;
    my $seq = $p->{sent} // return '';
    my ($st, $body) = http(POST => $n->url("/hunt/tap?seq=$seq"),
        headers => { Authorization => "Bearer $p->{token}" });
    ($body //= '') =~ s/\n\z//;
    my ($want) = _expect($p, $seq);
    if (($st == 200 && $body eq $want) || $st == 409) {
        _credit($p, $seq);
        return '';
    }
    return "$p->{name} resent seq $seq: $st $body";
}

# what is wrong with a board against the clients' sums: each player once
# with its score, ranks 1..N in order of score
sub board_wrong {
    my ($body, $players) = @_;
    my @rows = ($body // '') =~
        /\{"rank":(\d+),"player":"([^"]+)","score":(-?\d+)\}/g;
    my (%seen, @wrong);
    my ($i, $last) = (0, undef);
    while (my ($rank, $name, $score) = splice @rows, 0, 3) {
        $i++;
        push @wrong, "board: rank $rank at place $i" if $rank != $i;
        push @wrong, "board: $name twice" if $seen{$name}++;
        push @wrong, "board: $name at $score above $last"
            if defined $last && $score > $last;
        $last = $score;
        my $p = $players->{$name};
        push @wrong, "board: $name has $score, its client "
                     . ($p ? $p->{score} : 'none')
            unless $p && $p->{score} == $score;
    }
    push @wrong, "board: $i players, the clients " . keys(%$players)
        if $i != keys %$players;
    return @wrong;
}

# every player taps once more, exactly, and the board is the clients' one:
# the list of what was wrong
sub check {
    my ($n, $hunt, $players) = @_;
    my @wrong = grep { $_ ne '' }
                map { tap($n, $players->{$_}) } sort keys %$players;
    my (undef, $body) = http(GET => $n->url("/hunt/leaderboard?hunt=$hunt"
                                            . '&top=100'));
    return (@wrong, board_wrong($body, $players));
}

# a client taps its players in turn until a tap fails, then writes their
# states, their last acknowledged taps and why it stopped
sub _client {
    my ($n, $file, @mine) = @_;
    my $why;
    while (!defined $why) {
        for my $p (@mine) {
            my $wrong = tap($n, $p, timeout => 3);
            if ($wrong ne '') {
                $why = $wrong;
                last;
            }
        }
    }
    open my $fh, '>', $file or POSIX::_exit(1);
    for my $p (@mine) {
        print $fh join(' ', map { $_ // '-' } @$p{qw(name seq score taps
                                                     sent)},
                       map { @$_ } @{ $p->{acked} // [] }), "\n";
    }
    print $fh "why $why\n";
    close $fh;
    POSIX::_exit(0);
}

sub load_and_kill {
    my ($n, $players, $clients, $kill, $after) = @_;
    my $dir = tempdir('coinhunt-load-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my @names = sort keys %$players;
    my (@pids, @bad);
    for my $k (0 .. $clients - 1) {
        my @mine = @$players{ @names[2 * $k, 2 * $k + 1] };
        my $pid = fork // die "fork: $!";
        _client($n, "$dir/$k", @mine) if !$pid;
        push @pids, $pid;
    }
    Time::HiRes::sleep(($after // 0.05) + rand 0.3);
    push @bad, $kill->();
    waitpid $_, 0 for @pids;

    for my $k (0 .. $clients - 1) {
        open my $fh, '<', "$dir/$k" or die "client $k wrote nothing\n";
        while (my $line = <$fh>) {
            chomp $line;
            if ($line =~ /^why (.*)/s) {
                # only the kill may stop a client: no answer, no connection
                push @bad, $1 unless $1 =~ /: 599 /;
                next;
            }
            my ($name, $seq, $score, $taps, $sent, @acked) = split ' ', $line;
            my $p = $players->{$name};
            @$p{qw(seq score taps)} = ($seq, $score, $taps);
            $p->{sent} = $sent eq '-' ? undef : $sent;
            $p->{acked} = [];
            push @{ $p->{acked} }, [splice @acked, 0, 2] while @acked;
        }
    }
    return @bad;
}

1;
