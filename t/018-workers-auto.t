# worker_processes auto: one worker a CPU, the zone's journal sized for
# them, and every worker serving the sessions any of them created.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http);
use HTTP::Tiny;
use Test::More;

chomp(my $ncpu = `getconf _NPROCESSORS_ONLN`);
plan skip_all => 'getconf _NPROCESSORS_ONLN gives no CPU count'
    unless $ncpu =~ /^\d+$/ && $ncpu > 0;

my $rules = "return { on_tap = function() return { value = 2 } end }\n";
my $n = Coinhunt::Nginx->start(files => { 'rules.lua' => $rules },
    workers => 'auto', conf => <<'CONF');
    coinhunt_zone auto 1m;
    coinhunt_rules rules.lua;
    server {
        listen 127.0.0.1:$PORT reuseport;
        location = /pid { return 200 $pid; }
        hunt_locations;
    }
CONF

my @workers = $n->wait_workers($ncpu);
is scalar(@workers), $ncpu, "$ncpu workers, one a CPU";

my $records = 2 * ($ncpu + 2) > 64 ? 2 * ($ncpu + 2) : 64;
like $n->error_log,
     qr/coinhunt_zone "auto": \d+ sessions .*, $records journal records\)/,
     "the zone has $records journal records";

# a new connection a request: reuseport spreads them over the workers
my (undef, $body) = http(POST => $n->url('/hunt/session?player=roamer'));
my ($token) = $body =~ /"session":"([^"]+)"/;
my ($ok, %seen) = (0);
for my $i (1 .. 40) {
    my ($st, $tap) = http(POST => $n->url("/hunt/tap?session=$token"));
    $ok++ if $st == 200 && $tap =~ /"taps":$i,/;
}
is $ok, 40, '40 taps, each counted once, whichever worker took it';

for (1 .. 50 * $ncpu) {
    my (undef, $pid) = http(GET => $n->url('/pid'));
    $seen{$pid}++;
    last if keys %seen == $ncpu;
}
is scalar(keys %seen), $ncpu, 'every worker answers';

$n->stop;
done_testing;
