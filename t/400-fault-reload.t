# Ten "nginx -s reload" while four clients tap over keep-alive connections:
# no request fails, no answer is lost, no session is lost.  Every player,
# joined before or during the reloads, ends with exactly the score, taps and
# coins its client saw credited (t/lib/CoinhuntLoad.pm says what counts).

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(metric wait_for);
use CoinhuntLoad qw(end_players more_taps);
use Test::More;

my $n = CoinhuntLoad::nginx(zone => 'reload');
my $load = CoinhuntLoad->start(port => $n->{port}, hunt => 'r', clients => 4,
                               players => 4, join_every => 40,
                               max_players => 10);
ok $load->ready, 'four clients joined their players';
ok more_taps($n, 200), 'the clients tap';

my $replaced = 0;
for my $k (1 .. 10) {
    my %old = map { $_ => 1 } $n->worker_pids;
    my ($status, $out) = Coinhunt::run_nginx("$n->{prefix}/logs", '-p',
                                             "$n->{prefix}/", '-c',
                                             'conf/nginx.conf', '-s', 'reload');
    $status == 0 or diag($out), last;
    # done when both new workers run and the old ones have exited
    $replaced++ if wait_for(30, sub {
        my @pids = $n->worker_pids;
        @pids == 2 && !grep { $old{$_} } @pids;
    });
    more_taps($n, 100) or last;
}
is $replaced, 10, 'ten reloads, each replacing both workers, '
                  . '100 taps or more after each';

my $r = $load->stop;
is $r->{failed}, 0, "$r->{ok} taps answered 200 with the exact expected "
                    . 'answer; none failed';
diag $_ for grep { defined } @{ $r->{failures} }[0 .. 9];
is $r->{lost}, 0, "no request was credited without its answer "
                  . "($r->{unanswered} unanswered sends were sent again, "
                  . "$r->{stale} closed keep-alive connections found)";
cmp_ok scalar(keys %{ $r->{pids} }), '>=', 11,
    'answers came from workers of all 11 generations';

my @players = sort keys %{ $r->{players} };
is scalar(@players), $r->{joins}, "all $r->{joins} players are still tapped";
cmp_ok $r->{joins}, '>', 16, '  some of them joined during the reloads';

my ($taps_sum, $score_sum, $coins_sum) = (0, 0, 0);
for my $p (values %{ $r->{players} }) {
    $taps_sum += $p->{taps};
    $score_sum += $p->{score};
    $coins_sum += $p->{coins};
}
is metric($n, 'coinhunt_sessions'), $r->{joins},
    'coinhunt_sessions counts them';
is metric($n, 'coinhunt_taps_total'), $taps_sum,
    "coinhunt_taps_total is the $taps_sum taps credited";
is metric($n, 'coinhunt_coin_value_total'), $score_sum,
    "coinhunt_coin_value_total is the sum of their scores, $score_sum";
is metric($n, 'coinhunt_coins_total'), $coins_sum,
    "coinhunt_coins_total is the $coins_sum coins found";

# no session lost: each token still works and holds the exact state
is_deeply [end_players($n, 'r', $r->{players})], [],
    'every session ends with its exact score, taps and coins';

my $log = $n->error_log;
my @reconf = $log =~ /\[notice\] \d+#\d+: reconfiguring/g;
is scalar(@reconf), 10, 'the error log has the ten reconfigurations';
unlike $log, qr/\[(?:alert|crit|emerg)\]|exited on signal/,
    '  and no alert, crash or emergency';
$n->stop;
done_testing;
