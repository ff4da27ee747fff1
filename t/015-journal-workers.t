# The zone's journal has a record for every process of two generations of
# workers: during a reload of 40 workers, the 40 new ones start while the 40
# old ones still finish their requests, and no new worker waits for a
# record.  A reload to more workers than the zone was laid out for warns
# that a new worker may have to wait, and still serves.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http wait_for);
use IO::Socket::INET;
use Test::More;

# reuseport: the kernel spreads the held connections over every worker
my $conf = <<'EOF';
    coinhunt_zone many 4m;
    coinhunt_rules rules.lua;
    server {
        listen 127.0.0.1:$PORT reuseport;
        hunt_locations;
    }
EOF

my $n = Coinhunt::Nginx->start(
    conf => $conf, workers => 40,
    files => { 'rules.lua' => 'return { on_tap = function() return 1 end }' });
$n->wait_workers(40);

like $n->error_log,
    qr/coinhunt_zone "many": \d+ sessions .*, 84 journal records\)/,
    '40 workers: 84 journal records (two generations of workers, two spare)';

my ($st, $body) = http(POST => $n->url('/hunt/session?player=alice'));
my ($token) = $body =~ /"session":"([^"]+)"/;
ok $token, 'alice joins';

my $score = 0;

sub tap_ok {
    my ($what) = @_;
    my ($st, $body) = http(POST => $n->url('/hunt/tap'),
                           headers => { Authorization => "Bearer $token" });
    $score++;
    is "$st $body", '200 {"coin":{"value":1,"kind":"coin"},'
                    . qq("score":$score,"taps":$score,"coins":$score}\n),
       $what;
}

tap_ok("alice's first tap");

# every old worker kept busy: a tap whose body never comes
my @held;
for (1 .. 200) {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$n->{port}")
        or die "connect: $!";
    print $s "POST /hunt/tap HTTP/1.1\r\nHost: x\r\n"
             . "Content-Length: 100\r\n\r\nseq=";
    push @held, $s;
}

my %old = map { $_ => 1 } my @old = $n->wait_workers(40);

kill 'HUP', $n->master_pid;

ok wait_for(20, sub { (grep { !$old{$_} } $n->worker_pids) == 40 }),
   '40 new workers start';
sleep 1;

my $alive = grep { kill 0, $_ } @old;
cmp_ok $alive, '>', 24,
       "$alive old workers still finish their requests: more than 64 "
       . "processes at once";
unlike $n->error_log, qr/journal records are taken/,
       'no new worker waits for a journal record';
tap_ok("a tap while the old workers finish, $_") for 1 .. 5;

close $_ for @held;
ok wait_for(20, sub { (() = $n->worker_pids) == 40 }), 'the old workers exit';
tap_ok('a tap after they exit');

# more workers than the zone was laid out for: a warning, and the taps go on
$n->reload(conf => $conf, workers => 50);
like $n->error_log,
    qr/coinhunt_zone "many" in \S+nginx\.conf:\d+ has 84 journal records, (?#
       )these workers and the old ones need up to 104: a new worker may wait/,
    'a reload to 50 workers warns that the zone has too few records';
tap_ok("a tap on the 50 workers, $_") for 1 .. 5;

$n->stop;

done_testing;
