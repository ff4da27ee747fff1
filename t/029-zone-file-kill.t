# kill -9 of the whole nginx (master and workers at once) at a random
# moment while three clients tap, twenty times, a zone kept in a file.
# nginx starts again on the file each time; the journal finishes or undoes
# what the kill cut short, the pids the dead processes left in locks and
# journal records are taken over.  A tap that was sent and got no answer
# is sent again with its seq: 200 if the dead nginx had not credited it,
# 409 replay if it had.  Then every token taps on exactly where its client
# left it (score, taps, coins and the designer field) and the board is the
# clients' sums, after every round.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(wait_for);
use CoinhuntKeep;
use Test::More;
use Time::HiRes qw(sleep);

plan skip_all => 'twenty starts under valgrind take minutes'
    if $ENV{TEST_NGINX_USE_VALGRIND};

my $ROUNDS = 20;
my $CLIENTS = 3;

my $n = CoinhuntKeep::nginx(zone => 'crash', size => '1m',
                            file => 'crash.zone');
my %p = CoinhuntKeep::join_players($n, 'k', 2 * $CLIENTS);
my @names = sort keys %p;
my (@bad, $kills);
for my $round (1 .. $ROUNDS) {
    push @bad, map { "round $round: $_" } CoinhuntKeep::load_and_kill($n,
        \%p, $CLIENTS, sub {
            my @all = ($n->master_pid, $n->worker_pids);
            kill 'KILL', @all;
            $kills++;
            return wait_for(10, sub {
                       !grep { !Coinhunt::Nginx::exited($_) } @all })
                   ? () : ('nginx did not die');
        });

    my ($st, $out) = $n->start_again;
    if ($st != 0) {
        push @bad, "round $round: nginx did not start again: $out";
        last;
    }
    push @bad, map { "round $round: $_" } grep { $_ ne '' }
               map { CoinhuntKeep::resend($n, $p{$_}) } @names;
    push @bad, map { "round $round: $_" }
               CoinhuntKeep::check($n, 'k', \%p);
}

is $kills, $ROUNDS, "nginx was killed $ROUNDS times during the taps";
is_deeply \@bad, [], 'each time it started again on its file, every token '
                     . 'tapped on exactly and the board was the clients\' sums';
my $taps = 0;
$taps += $_->{taps} for values %p;
cmp_ok $taps, '>', 4 * $ROUNDS, "the clients' taps were credited: $taps";

my $log = $n->error_log;
unlike $log, qr/exited on signal (?!9\b)\d+/, 'no worker crashed';
unlike $log, qr/\[(alert|crit|emerg)\]/, 'no alert in the error log';
my @took = $log =~ /took over a lock held by dead process/g;
my @rec = $log =~ /recovered the journal of dead process/g;
note scalar(@took) . ' locks taken over, ' . scalar(@rec)
     . ' journal records of dead processes recovered';
$n->stop;
done_testing;
