# Redis mode, a node lost: two nginx nodes on one Redis; three clients tap
# six players on node A, and A (master and workers) is killed with -9 at a
# random moment 1 to 1.3 s into the load.  Each player joins node B: the score it starts with is
# Redis's, which misses at most the taps A had not flushed, those acked in
# the last coinhunt_flush interval (and a round trip) before the kill, and
# has at most the one tap in flight more.  On B the players tap on from
# that score (the designer field starts again: it lived in A's zone), and
# B's board, read from Redis, is the clients' sums.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http wait_for);
use CoinhuntKeep;
use CoinhuntRedis;
use Test::More;
use Time::HiRes qw(time);

my $FLUSH = 200;        # ms
my $redis = CoinhuntRedis->start;
my $http = '    coinhunt_redis 127.0.0.1:' . $redis->port . ";\n"
         . "    coinhunt_flush ${FLUSH}ms;\n";
my $a = CoinhuntKeep::nginx(zone => 'a', size => '1m', http => $http);
my $b = CoinhuntKeep::nginx(zone => 'b', size => '1m', http => $http);

my %p = CoinhuntKeep::join_players($a, 'h', 6);
my $killed;
my @bad = CoinhuntKeep::load_and_kill($a, \%p, 3, sub {
    my @all = ($a->master_pid, $a->worker_pids);
    kill 'KILL', @all;
    $killed = time;
    return wait_for(10, sub { !grep { !Coinhunt::Nginx::exited($_) } @all })
           ? () : ('node A did not die');
}, 1);
is_deeply \@bad, [], 'node A answered every tap exactly until it was killed';

# what Redis may miss: the taps acked after this moment
my $flushed_by = $killed - $FLUSH / 1000 - 0.1;
my ($lost, $acked) = (0, 0);
for my $name (sort keys %p) {
    my $p = $p{$name};
    my @acked = @{ $p->{acked} };
    my @before = grep { $_->[0] <= $flushed_by } @acked;
    # the history holds the taps of the last 2 s and the one before: none
    # before the moment, none was dropped, and the score before was 0
    my $floor = @before ? $before[-1][1] : 0;
    my ($st, $body) = http(POST => $b->url("/hunt/session?player=$name"
                                           . '&hunt=h'));
    my ($score) = $body =~ /"score":(\d+),"taps":0,"coins":0,/;
    ok $st == 201 && defined $score && defined $floor
       && $score >= $floor && $score <= $p->{score} + ($p->{sent} ? 7 : 0),
       "$name joins node B with Redis's score $score: its client was "
       . "answered $p->{score}, $floor of it acked before the last flush"
        or diag "$st $body";
    $lost += grep { $_->[1] > $score } @acked;
    $acked += $p->{taps};
    ($p->{token}) = $body =~ /"session":"([^"]+)"/;
    @$p{qw(score taps seq)} = ($score // 0, 0, 0);
    delete $p->{sent};
}
note "$lost of $acked acked taps were lost with node A (unflushed)";

my @wrong = grep { $_ ne '' }
            map { CoinhuntKeep::tap($b, $p{$_}) } (sort keys %p) x 3;
is_deeply \@wrong, [], 'on node B every player taps on from that score, '
                       . 'the designer field from 0';
my $body;
ok wait_for(10, sub {
        (undef, $body) = http(GET => $b->url('/hunt/leaderboard?hunt=h'
                                             . '&top=100'));
        !CoinhuntKeep::board_wrong($body, \%p) }),
   "node B's board, from Redis, is the clients' sums"
    or diag join "\n", $body, CoinhuntKeep::board_wrong($body, \%p);

$b->stop;
done_testing;
