# Local leaderboards under concurrency: two workers, four clients tapping
# 300 players in random order at once (each tap a tree update under the
# hunt's board lock), then the board must be exactly the order the final
# scores give: score descending, then name ascending bytewise, with every
# rank "me" reports matching it.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http);
use HTTP::Tiny;
use List::Util qw(shuffle);
use POSIX ();
use Test::More;

my $rules = "return { on_tap = function(s, tap) return { value = 10 } end }\n";
my $n = Coinhunt::Nginx->start(files => { 'rules.lua' => $rules },
    workers => 2, conf => <<'CONF');
    coinhunt_zone lb 1m;
    coinhunt_rules rules.lua;
    coinhunt_seed 7;
    server {
        listen 127.0.0.1:$PORT reuseport;
        hunt_locations;
    }
CONF

srand(42);
my $ua = HTTP::Tiny->new(keep_alive => 1);
my (%tok, %taps);
for my $i (1 .. 300) {
    my $p = sprintf 'p%03d', ($i * 7919) % 1000;
    my $res = $ua->post($n->url("/hunt/session?player=$p&hunt=c"));
    ($tok{$p}) = $res->{content} =~ /"session":"([^"]+)"/;
    $taps{$p} = int rand 6;
}
is scalar(grep { defined } values %tok), 300, '300 players joined';

my @jobs = shuffle map { ($_) x $taps{$_} } sort keys %taps;
my @pids;
for my $c (0 .. 3) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $ua = HTTP::Tiny->new(keep_alive => 1);
        my $bad = 0;
        for my $j (grep { $_ % 4 == $c } 0 .. $#jobs) {
            my $res = $ua->post($n->url("/hunt/tap?session=$tok{$jobs[$j]}"));
            $bad++ if $res->{status} != 200;
        }
        POSIX::_exit($bad ? 1 : 0);
    }
    push @pids, $pid;
}
my $failed = 0;
for (@pids) { waitpid $_, 0; $failed++ if $? }
is $failed, 0, scalar(@jobs) . ' taps from four clients all answered 200';

my @want = sort { $taps{$b} <=> $taps{$a} || $a cmp $b } keys %taps;
my (undef, $body) = http(GET => $n->url('/hunt/leaderboard?hunt=c&top=100'));
my @rows = $body =~ /"player":"([^"]+)","score":(\d+)/g;
my (@got, @got_scores);
while (my ($p, $s) = splice @rows, 0, 2) {
    push @got, $p;
    push @got_scores, $s;
}
is_deeply \@got, [@want[0 .. 99]], 'the top 100 is in exact order';
is_deeply \@got_scores, [map { 10 * $taps{$_} } @want[0 .. 99]],
    '  with the exact scores';

my $wrong = 0;
for my $r (0, 1, 57, 150, 222, 299) {
    my $p = $want[$r];
    my (undef, $me) = http(GET => $n->url('/hunt/leaderboard?top=1'),
        headers => { Authorization => "Bearer $tok{$p}" });
    my $expect = sprintf '"me":{"rank":%d,"score":%d}', $r + 1,
                         10 * $taps{$p};
    $wrong++, diag "$p: $me" if index($me, $expect) < 0;
}
is $wrong, 0, '"me" gives the exact rank at the top, middle and bottom';

$n->stop;
done_testing();
