# A worker killed with SIGKILL while it holds a session's lock does not
# deadlock the others: gdb stops a worker inside a tap, between taking the
# slot's lock and releasing it, the test kills it there, and the other
# worker takes the lock over and goes on serving the same session.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http);
use IO::Select;
use IPC::Open3 qw(open3);
use Symbol qw(gensym);
use Test::More;
use Time::HiRes qw(sleep time);

my $gdb = '/usr/bin/gdb';
plan skip_all => "$gdb is not installed (make deps installs it)" unless -x $gdb;
# valgrind runs the worker's code translated: gdb's breakpoint never fires
plan skip_all => 'gdb cannot stop a worker that runs under valgrind'
    if $ENV{TEST_NGINX_USE_VALGRIND};

my $n = Coinhunt::Nginx->start(workers => 2,
    files => { 'rules.lua' => "return { on_tap = function() return 1 end }\n" },
    conf => <<'CONF');
    coinhunt_zone locks 1m;
    coinhunt_rules rules.lua;
    server {
        listen 127.0.0.1:$PORT reuseport;
        hunt_locations pid;
    }
CONF

my @workers = $n->wait_workers(2);
my (undef, $body) = http(POST => $n->url('/hunt/session?player=victim'));
my ($t) = $body =~ /"session":"([^"]+)"/;
ok $t, 'a session to tap';

# stop the victim at the entry of ngx_http_coinhunt_unlock(): a lock is held
my $victim = $workers[0];
my $err = gensym;
my $gdb_pid = open3(my $gdb_in, my $gdb_out, $err, $gdb, '-q', '-nx',
                    '-p', $victim);
print $gdb_in "set pagination off\nbreak ngx_http_coinhunt_unlock\n"
              . "continue\n";
$gdb_in->flush;
# attached and running again once gdb says "Continuing."
my $sel = IO::Select->new($gdb_out);
my ($said, $until) = ('', time + 30);
while ($said !~ /\bContinuing\.$/m && time < $until) {
    next unless $sel->can_read(1);
    sysread($gdb_out, $said, 4096, length $said) or last;
}
like $said, qr/\bContinuing\.$/m, 'gdb holds the victim, which runs on'
    or diag $said;

# tap until a tap hangs: that one is inside the victim, holding the lock
my ($hung, $served) = (0, 0);
for (1 .. 40) {
    my ($st, undef, $h) = http(POST => $n->url("/hunt/tap?session=$t"),
                               timeout => 1);
    if ($st == 599) {
        $hung = 1;
        last;
    }
    $served++ if $st == 200;
}
ok $hung, "a tap reached the stopped worker (after $served served elsewhere)";

kill 'KILL', $victim;
close $gdb_in;
waitpid $gdb_pid, 0;
ok !kill(0, $victim), "worker $victim is dead";

my $t0 = time;
my ($st, $res) = http(POST => $n->url("/hunt/tap?session=$t"), timeout => 5);
is $st, 200, 'the next tap of the same session is served';
cmp_ok time - $t0, '<', 2, '  at once';
like $res, qr/"taps":\d+/, '  with the session intact';

my $ok = 0;
for (1 .. 20) {
    ($st) = http(POST => $n->url("/hunt/tap?session=$t"), timeout => 5);
    $ok++ if $st == 200;
}
is $ok, 20, 'and every tap after it';
like $n->error_log, qr/\[alert\] .*coinhunt: took over a lock held by dead process $victim/,
     'the take-over is logged';

$n->stop;
done_testing;
