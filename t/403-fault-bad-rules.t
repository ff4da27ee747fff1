# Broken rules pushed by a reload while four clients tap: "nginx -t" and
# "nginx -s reload" refuse each broken file naming the file and line, a
# SIGHUP sent to the master anyway is refused too (the error log says why),
# and the old workers keep serving the old rules: every tap of the load
# finds the old rules' coin, exactly.  Good rules pushed afterwards serve.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(wait_for);
use CoinhuntLoad qw(more_taps);
use HTTP::Tiny;
use Test::More;

my $n = CoinhuntLoad::nginx(zone => 'rules');
my @workers = $n->wait_workers(2);
my $rules = "$n->{prefix}/conf/rules.lua";
# nginx @args on this configuration, as the suite runs nginx: ($?, output)
sub nginx { Coinhunt::run_nginx("$n->{prefix}/logs", '-p', "$n->{prefix}/",
                                '-c', 'conf/nginx.conf', @_) }
my $directive = qr{ in \Q$n->{prefix}\E/conf/nginx\.conf:\d+\n};

sub put_rules {
    my ($text) = @_;
    open my $fh, '>', "$rules.tmp" or die "$rules.tmp: $!";
    print $fh $text;
    close $fh;
    rename "$rules.tmp", $rules or die "$rules: $!";
}

my $load = CoinhuntLoad->start(port => $n->{port}, hunt => 'b', clients => 4,
                               players => 4, join_every => 40,
                               max_players => 8, kinds => ['v1']);
ok $load->ready, 'four clients joined their players';
ok more_taps($n, 200), 'the clients tap';

my @broken = (
    [ 'a syntax error',
      "local coins = 7\nlocal kinds = {}\nreturn { on_tap = function( end }\n",
      qr{rules\.lua:3: <name> or '\.\.\.' expected near 'end'} ],
    [ 'an error raised while loading',
      "local coins = 7\nerror('the map is torn')\nreturn {}\n",
      qr{rules\.lua:2: the map is torn\nstack traceback:\n} ],
    [ 'no on_tap function',
      "local rules = {}\nfunction rules.on_top() end\nreturn rules\n",
      qr{rules\.lua: the rules module returns a table without an on_tap } ],
);
for my $case (@broken) {
    my ($what, $text, $error) = @$case;
    put_rules($text);

    my ($status, $out) = nginx('-t');
    ok $status != 0 && $out =~ /\[emerg\] .*$error.*$directive.*test failed/s,
       "$what: nginx -t refuses it, naming the file and line"
        or diag $out;

    ($status, $out) = nginx('-s', 'reload');
    ok $status != 0 && $out =~ /\[emerg\] .*$error.*$directive/s,
       '  nginx -s reload refuses to signal with it'
        or diag $out;

    # what a reload by signal alone does: the master parses and refuses
    kill 'HUP', $n->master_pid;
    ok wait_for(10, sub { $n->error_log =~ /\[emerg\] .*$error.*$directive/s }),
       '  a SIGHUP to the master is refused, the error log says why';
    is_deeply [$n->worker_pids], \@workers, '  the old workers go on';
    ok more_taps($n, 200), '  and serve 200 more taps';
}

my $r = $load->stop;
is $r->{failed}, 0, "$r->{ok} taps answered 200, each with the v1 rules' "
                    . 'exact coin; none failed';
diag $_ for grep { defined } @{ $r->{failures} }[0 .. 9];
is $r->{unanswered} + $r->{lost}, 0, '  each at its first send';
my %start = map { $_ => 1 } @workers;
is scalar(grep { !$start{$_} } keys %{ $r->{pids} }), 0,
    '  all from the workers of the start';
is_deeply [keys %{ $r->{kinds} }], ['v1'], '  and every coin found was v1';

# good rules now: the reload takes them, the sessions keep their scores
put_rules(CoinhuntLoad::rules('v2'));
my ($status, $out) = nginx('-t');
is $status, 0, 'nginx -t accepts the fixed rules' or diag $out;
($status, $out) = nginx('-s', 'reload');
ok $status == 0 && wait_for(10, sub {
        my @pids = $n->worker_pids;
        @pids == 2 && !grep { $start{$_} } @pids;
    }), 'nginx -s reload replaces both workers';

my $ua = HTTP::Tiny->new(keep_alive => 1);
my $exact = 0;
for my $name (sort keys %{ $r->{players} }) {
    my $p = $r->{players}{$name};
    my $seq = $p->{seq} + 1;
    $seq++ until CoinhuntLoad::coin_of($seq);
    my $v = CoinhuntLoad::coin_of($seq);
    my $res = $ua->post($n->url("/hunt/tap?seq=$seq"),
        { headers => { Authorization => "Bearer $p->{token}" } });
    my $want = sprintf qq({"coin":{"value":%d,"kind":"v2"},"score":%d,)
                       . qq("taps":%d,"coins":%d}\n),
                       $v, $p->{score} + $v, $p->{taps} + 1, $p->{coins} + 1;
    if ($res->{status} == 200 && $res->{content} eq $want
        && !$start{ $res->{headers}{'x-pid'} })
    {
        $exact++;
    } else {
        diag "$name: $res->{status} $res->{content} (want $want)";
    }
}
is $exact, $r->{joins}, "each of the $r->{joins} players' next tap finds a "
                        . 'v2 coin, on top of its exact score';
unlike $n->error_log, qr/\[(?:alert|crit)\]|exited on signal/,
    'no worker crashed';
$n->stop;
done_testing;
