# A zone kept in a file (coinhunt_zone ... file=): sessions, designer
# fields, the token key (no coinhunt_secret here: the zone's random one)
# and the local board survive a reload, a killed worker, nginx -s stop and
# start, a graceful restart,
# a binary upgrade (USR2, then QUIT of the old master, both nginx on the
# file meanwhile) and kill -9 of master and workers at once.  After each,
# every token taps on exactly where its client left it and the board is
# the clients' sums.  A file of another size or zone name, and a file a
# running nginx holds, are refused at start naming the file and what to do;
# "nginx -t" beside the running nginx passes.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http wait_for);
use CoinhuntKeep;
use CoinhuntSanitize;
use Test::More;
use Time::HiRes qw(sleep);

my $n = CoinhuntKeep::nginx(zone => 'keep', size => '1m',
                            file => 'keep.zone');
my $file = "$n->{prefix}/keep.zone";
ok -s $file, 'the zone file is made under the prefix';

my %p = CoinhuntKeep::join_players($n, 'h', 8);
for my $i (1 .. 8) {
    my $p = $p{sprintf 'p%02d', $i};
    is CoinhuntKeep::tap($n, $p), '', "$p->{name} tap $_" for 1 .. $i;
}

sub after {
    my ($what) = @_;
    is_deeply [ CoinhuntKeep::check($n, 'h', \%p) ], [],
        "$what: every token taps on exactly, the board is the clients' sums";
}

sub master_gone {
    my ($pid) = @_;
    return wait_for(10, sub { Coinhunt::Nginx::exited($pid) });
}

# a reload keeps the zone, the file mapped; a killed worker's replacement
# maps it too (it is forked from the master)
$n->reload(conf => CoinhuntKeep::conf(zone => 'keep', size => '1m',
                                      file => 'keep.zone'),
           main => CoinhuntKeep::main_block(), workers => 2);
after('reload');
my ($victim) = $n->worker_pids;
kill 'KILL', $victim;
ok wait_for(10, sub { my @w = $n->worker_pids;
                      @w == 2 && !grep { $_ == $victim } @w }),
   'a worker killed: the master starts another';
after('a worker killed');

# nginx -s stop: TERM, the workers end at once
my $master = $n->master_pid;
kill 'TERM', $master;
ok master_gone($master), 'nginx -s stop';
is +($n->start_again)[0], 0, '  and it starts again';
like $n->error_log, qr/coinhunt_zone "keep": 8 sessions kept in "\Q$file\E"/,
     '  the log says how many sessions the file kept';
after('stop, start');

# a graceful restart: QUIT, then start
$n->stop;
is +($n->start_again)[0], 0, 'a restart (QUIT, then start)';
after('restart');

# nginx -t beside the running nginx: it checks the file's size, no lock
my ($ok, $out) = Coinhunt::nginx_t($n->{prefix});
ok $ok, 'nginx -t passes while nginx runs on the file' or diag $out;

SKIP: {
    skip 'the new binary of an upgrade would run outside valgrind', 4
        if $ENV{TEST_NGINX_USE_VALGRIND};
    my $old = $n->master_pid;
    kill 'USR2', $old;
    ok wait_for(10, sub {
            -e "$n->{prefix}/logs/nginx.pid.oldbin"
            && ($n->master_pid // $old) != $old
            && $n->error_log =~ /shared with the old binary/ }),
       'USR2: a new master maps the file the old one still serves';
    # both masters' workers accept on the socket: taps land on either
    my @wrong = grep { $_ ne '' }
                map { CoinhuntKeep::tap($n, $p{$_}) } (sort keys %p) x 3;
    is_deeply \@wrong, [], '  taps while old and new workers share the file';
    kill 'QUIT', $old;
    ok master_gone($old), '  QUIT of the old master';
    after('binary upgrade');
}

# kill -9 of master and workers at once
my @all = ($n->master_pid, $n->worker_pids);
kill 'KILL', @all;
ok wait_for(10, sub { !grep { !Coinhunt::Nginx::exited($_) } @all }),
   'kill -9 of the whole nginx';
is +($n->start_again)[0], 0, '  and it starts again';
after('kill -9');

# refusals: each names the file and what to do, and starts nothing
$n->stop;
my $conf_file = "$n->{prefix}/conf/nginx.conf";
for my $case (
    [ { zone => 'keep', size => '2m', file => 'keep.zone' },
      qr/the file "\Q$file\E" holds a zone of \d+ bytes, this size makes (?#
         )one of \d+: set the size back, or remove the file to start afresh/,
      'a file of another size' ],
    [ { zone => 'other', size => '1m', file => 'keep.zone' },
      qr/the file "\Q$file\E" holds the zone "keep": name the zone so, or (?#
         )give it a file of its own/, 'a file of another zone' ])
{
    my ($opt, $why, $what) = @$case;
    $n->write_conf(main => CoinhuntKeep::main_block(),
                   conf => CoinhuntKeep::conf(%$opt));
    my ($st, $out) = $n->start_again;
    isnt $st, 0, "$what is refused at start";
    like $out, qr/\[emerg\] coinhunt_zone "$opt->{zone}" in \S+:\d+: $why/,
         '  naming the zone, the file and what to do';
}
$n->write_conf(main => CoinhuntKeep::main_block(),
               conf => CoinhuntKeep::conf(zone => 'keep', size => '1m',
                                          file => 'keep.zone'));
is +($n->start_again)[0], 0, 'the same zone starts again';

my $second = eval {
    CoinhuntKeep::nginx(zone => 'keep', size => '1m', file => $file);
};
is $second, undef, 'a second nginx on the same file does not start';
like $@, qr/\[emerg\] coinhunt_zone "keep" in \S+: the file "\Q$file\E" is (?#
           )in use by another running nginx \(it holds the file's lock\): (?#
           )stop that one, or give this one a file of its own/,
     '  it is told the file is in use';
after('refusals');

unlike $n->error_log, qr/\[(alert|crit)\](?!.*exited on signal 9$).*$/m,
       'no alert in the error log but the killed worker\'s';
$n->stop;
done_testing;
