# nginx forks a cache manager and a cache loader where proxy_cache_path is
# configured.  They serve no request, so the module sets up nothing in them:
# no Redis connection, no Lua VM, no sweeper, no journal record, no metrics
# row.  In Redis mode the connections Redis sees are the workers' own.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http metric wait_for);
use CoinhuntRedis;
use Test::More;

my $redis = CoinhuntRedis->start;
my $port = $redis->port;

my $n = Coinhunt::Nginx->start(workers => 2,
    files => { 'rules.lua' => "return { on_tap = function() return 2 end }\n" },
    conf => <<"CONF");
    proxy_cache_path cache keys_zone=pages:1m;
    coinhunt_zone z 1m;
    coinhunt_rules rules.lua;
    coinhunt_redis 127.0.0.1:$port;
    server {
        listen 127.0.0.1:\$PORT;
        hunt_locations;
    }
CONF

sub title {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/cmdline" or return '';
    local $/;
    return <$fh> // '';
}

# a helper takes its title once it has set itself up
ok wait_for(10, sub {
       (grep { title($_) =~ /cache (manager|loader) process/ }
        $n->worker_pids) == 2 }),
   'a cache manager and a cache loader run beside the 2 workers';

ok wait_for(10, sub { (metric($n, 'coinhunt_redis_up') // 0) == 1 }),
   'both workers are connected to Redis';
sleep 0.5;    # a helper would have connected as soon as a worker

my @clients = grep { !/cmd=client/ }
              split /\n/, $redis->cmd('CLIENT', 'LIST');
is scalar @clients, 2, "Redis sees two connections, the workers' own"
    or diag join "\n", @clients;

my ($st, $body) = http(POST => $n->url('/hunt/session?player=ann&hunt=h'));
is $st, 201, 'ann joins';
my ($token) = ($body // '') =~ /"session":"([^"]+)"/;
($st, $body) = http(POST => $n->url("/hunt/tap?session=$token"));
like "$st $body", qr/^200 .*"score":2,/, 'and taps';

unlike $n->error_log, qr/\[(alert|emerg|crit)\]/, 'no alert in the error log';

$n->stop;

done_testing;
