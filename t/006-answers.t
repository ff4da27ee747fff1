# coinhunt_responses_total{action,status}: every answer of every endpoint,
# by the endpoint's name and its status, summed over the workers;
# coinhunt_rule_seconds, a histogram per hook of the rules' calls (wall
# time); coinhunt_joins_total and coinhunt_expiries_total.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http wait_for);
use Test::More;

# on_tap runs a loop of 20000 steps: tens of microseconds at the least in
# the interpreter, so never in the first bucket (5 us)
my $rules = <<'LUA';
local function on_tap(s, t)
    local x = 0
    for i = 1, 20000 do x = x + i % 7 end
    return { value = 1 + x % 2 }
end
return { on_tap = on_tap, on_join = function(s, ctx) end,
         on_expire = function(s) end }
LUA

my $n = Coinhunt::Nginx->start(files => { 'rules.lua' => $rules },
    workers => 2, conf => <<'CONF');
coinhunt_zone answers 1m;
coinhunt_rules rules.lua;
coinhunt_session_ttl 1s;
server {
    listen 127.0.0.1:$PORT;
    hunt_locations;
}
CONF
$n->wait_workers(2);

# the samples of an exposition: "name{labels}" => value
sub samples {
    my ($text) = @_;
    return { map { /^(\S+) (\S+)$/ ? ($1 => $2) : () }
             grep { !/^#/ } split /\n/, $text // '' };
}

sub scrape { samples((http(GET => $n->url('/hunt/metrics')))[1]) }

my $m = scrape();
my @answers = grep { /^coinhunt_responses_total/ } keys %$m;
is scalar(@answers), 6 * 12, 'every endpoint and status has its series';
is_deeply [ grep { $m->{$_} != 0 } @answers ], [],
    '  none counted yet (this answer is counted once sent)';
is $m->{'coinhunt_joins_total'}, 0, '  no join';
is $m->{'coinhunt_rule_seconds_count{hook="on_tap"}'}, 0, '  no rule call';

my %want;
sub answer {
    my ($want, $action, $method, $path, %opt) = @_;
    my ($st, $body) = http($method => $n->url("/hunt/$path"), %opt);
    is $st, $want, "$method /hunt/$path: $want";
    $want{"coinhunt_responses_total{action=\"$action\",status=\"$want\"}"}++;
    return $body;
}

$want{'coinhunt_responses_total{action="metrics",status="200"}'} = 1;
answer(201, session => POST => 'session?player=ann');
# a join of a live player's goes on with it, under a new token
my $body = answer(201, session => POST => 'session?player=ann');
my ($token) = ($body // '') =~ /"session":"([^"]+)"/;
answer(201, session => POST => 'session?player=bob');
answer(400, session => POST => 'session');
answer(405, session => GET => 'session?player=ann');
answer(200, tap => POST => "tap?session=$token") for 1 .. 5;
answer(401, tap => POST => 'tap');
answer(401, tap => POST => 'tap?session=nonsense');
answer(413, tap => POST => 'tap', content => 'x' x 5000,
       headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
answer(200, leaderboard => GET => 'leaderboard');
answer(405, leaderboard => POST => 'leaderboard');
answer(405, end => GET => 'end');

$m = scrape();
my %got = map { $_ => $m->{$_} }
          grep { /^coinhunt_responses_total/ && $m->{$_} != 0 } keys %$m;
is_deeply \%got, \%want, 'each answer counted once, by endpoint and status, '
    . 'over both workers' or diag explain \%got;

is $m->{'coinhunt_joins_total'}, 2, 'two sessions started (ann again plays on: no join)';
is $m->{'coinhunt_taps_total'}, 5, '  five taps';

# the histograms: cumulative buckets ending in +Inf, the count, the sum
for my $hook (qw(on_join on_tap on_expire on_query)) {
    my @le = sort { $a <=> $b } map { /^coinhunt_rule_seconds_bucket\{hook="\Q$hook\E",le="([^"+]+)"\}$/ ? $1 : () } keys %$m;
    is scalar(@le), 11, "$hook: eleven finite buckets";
    my @c = map { $m->{"coinhunt_rule_seconds_bucket{hook=\"$hook\",le=\"$_\"}"} } @le;
    is_deeply [ sort { $a <=> $b } @c ], \@c, '  cumulative';
    is $m->{"coinhunt_rule_seconds_bucket{hook=\"$hook\",le=\"+Inf\"}"},
       $m->{"coinhunt_rule_seconds_count{hook=\"$hook\"}"}, '  +Inf is the count';
}
is $m->{'coinhunt_rule_seconds_count{hook="on_join"}'}, 2, 'on_join: two calls';
is $m->{'coinhunt_rule_seconds_count{hook="on_tap"}'}, 5, 'on_tap: five calls';
is $m->{'coinhunt_rule_seconds_bucket{hook="on_tap",le="0.000005"}'}, 0,
   '  none under 5 us (a 20000-step loop)';
cmp_ok $m->{'coinhunt_rule_seconds_sum{hook="on_tap"}'}, '>=', 5 * 0.000005,
   '  the sum is in seconds';
cmp_ok $m->{'coinhunt_rule_seconds_sum{hook="on_tap"}'}, '<', 5 * 0.1,
   '  not in a smaller unit';

# the sweep (every 250 ms) expires both sessions once their second is up
ok wait_for(5, sub { (scrape()->{'coinhunt_expiries_total'} // 0) == 2 }),
   'both sessions expire';
$m = scrape();
is $m->{'coinhunt_expiries_total'}, 2, '  counted once each';
is $m->{'coinhunt_rule_seconds_count{hook="on_expire"}'}, 2,
   '  on_expire ran for each';
is $m->{'coinhunt_sessions'}, 0, '  no session left';

$n->stop;
done_testing;
