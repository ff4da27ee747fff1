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
use File::Temp qw(tempdir);
use POSIX ();
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
my $dir = tempdir('coinhunt-kill-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# a client taps its two players in turn until a tap fails, then writes
# their states and why it stopped
sub client {
    my ($k, @mine) = @_;
    my $why;
    while (!defined $why) {
        for my $p (@mine) {
            my $wrong = CoinhuntKeep::tap($n, $p, timeout => 3);
            if ($wrong ne '') {
                $why = $wrong;
                last;
            }
        }
    }
    open my $fh, '>', "$dir/$k" or POSIX::_exit(1);
    for my $p (@mine) {
        print $fh join(' ', map { $_ // '-' } @$p{qw(name seq score taps
                                                     sent)}), "\n";
    }
    print $fh "why $why\n";
    close $fh;
    POSIX::_exit(0);
}

my (@bad, $kills);
for my $round (1 .. $ROUNDS) {
    my @pids;
    for my $k (0 .. $CLIENTS - 1) {
        my @mine = @p{ @names[2 * $k, 2 * $k + 1] };
        my $pid = fork // die "fork: $!";
        client($k, @mine) if !$pid;
        push @pids, $pid;
    }

    sleep 0.05 + rand 0.3;
    my @all = ($n->master_pid, $n->worker_pids);
    kill 'KILL', @all;
    $kills++;
    wait_for(10, sub { !grep { CoinhuntKeep::alive($_) } @all })
        or push @bad, "round $round: nginx did not die";
    waitpid $_, 0 for @pids;

    for my $k (0 .. $CLIENTS - 1) {
        open my $fh, '<', "$dir/$k" or die "client $k wrote nothing\n";
        while (my $line = <$fh>) {
            chomp $line;
            if ($line =~ /^why (.*)/s) {
                # only the kill may stop a client: no answer, no connection
                push @bad, "round $round: $1" unless $1 =~ /: 599 /;
                next;
            }
            my ($name, $seq, $score, $taps, $sent) = split ' ', $line;
            @{ $p{$name} }{qw(seq score taps)} = ($seq, $score, $taps);
            $p{$name}{sent} = $sent eq '-' ? undef : $sent;
        }
        unlink "$dir/$k";
    }

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
