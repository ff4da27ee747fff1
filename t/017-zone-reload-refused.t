# What a running zone cannot become at a reload: Redis leaderboards where
# it holds local ones, or more designer fields a session than its slots
# have.  The master refuses the reload, naming the zone and the file:line
# of its coinhunt_zone; the old worker goes on serving the old rules, with
# the sessions intact.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http);
use Test::More;

my %files = (
    'one.lua' => "return { fields = { 'combo' },\n"
                 . "  on_tap = function(s) s.combo = s.combo + 1 return 1 end }\n",
    'three.lua' => "return { fields = { 'a', 'b', 'c' },\n"
                   . "  on_tap = function() return 100 end }\n",
);

my $conf = <<'CONF';
    coinhunt_zone refuse 1m;
    coinhunt_rules %s;
%s
    server {
        listen 127.0.0.1:$PORT;
        hunt_locations;
    }
CONF

my $n = Coinhunt::Nginx->start(files => \%files,
                               conf => sprintf($conf, 'one.lua', ''));
my ($worker) = $n->wait_workers(1);
my (undef, $body) = http(POST => $n->url('/hunt/session?player=keeper'));
my ($token) = $body =~ /"session":"([^"]+)"/;

sub tap {
    my (undef, $body) = http(POST => $n->url("/hunt/tap?session=$token"));
    return $body // '';
}

like tap(), qr/"score":1,"taps":1,/, 'a tap under the first rules';

my $tap = 1;
for my $case (
    [ 'one.lua', '    coinhunt_redis 127.0.0.1:1;',
      qr/holds local leaderboards, the configuration now asks for Redis (?#
         )ones: restart nginx to switch/, 'Redis leaderboards' ],
    [ 'three.lua', '',
      qr/holds 1 designer fields a session, the rules now declare 3: (?#
         )restart nginx or resize the zone/, 'three fields' ])
{
    my ($rules, $extra, $why, $what) = @$case;
    $n->write_conf(conf => sprintf($conf, $rules, $extra));
    open my $fh, '<', "$n->{prefix}/conf/nginx.conf" or die $!;
    my $zone_line;
    while (my $text = <$fh>) {
        $zone_line = $. if $text =~ /coinhunt_zone/;
    }
    close $fh;

    my $before = length $n->error_log;
    kill 'HUP', $n->master_pid;
    ok Coinhunt::wait_for(10, sub {
            substr($n->error_log, $before) =~ /\[emerg\].*coinhunt_zone/ }),
       "a reload to $what is refused";
    my $log = substr $n->error_log, $before;
    like $log, qr/coinhunt_zone "refuse" in \S+nginx\.conf:$zone_line $why/,
         '  naming the zone, its file:line and why';
    is_deeply [ $n->worker_pids ], [ $worker ], '  the old worker goes on';
    $tap++;
    like tap(), qr/"score":$tap,"taps":$tap,/,
         '  with the old rules and the session intact';
}

$n->stop;
done_testing;
