# The budget of a hook call, 20 ms of the worker's CPU, kept by the worker's
# watchdog: a rule that runs away is stopped — a bare loop, one inside pcall,
# xpcall or a coroutine, in on_tap, on_join and on_expire — the request gets
# its rule_error, the session is unchanged, and the same worker answers the
# next tap; a rule that runs for less is not stopped.  No timing is asserted
# beyond "it ended".

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http wait_for);
use Test::More;

my $STOP = qr/the rule ran over its budget of 20 ms of CPU/;

my $rules = <<'LUA';
local coinhunt = require "coinhunt"
local rules = { fields = { "spins" } }

local function forever() while true do end end

-- runs for about "ms" of CPU: os.clock() is the process's CPU time
local function spin(ms)
  local t = os.clock()
  while os.clock() - t < ms / 1000 do end
end

local runaway = {
  forever,
  function() while true do pcall(forever) end end,
  function()
    while true do xpcall(forever, function(e) return "caught: " .. e end) end
  end,
  -- the coroutine is stopped; its resume returns false and the rule goes on
  function() local ok = coroutine.resume(coroutine.create(forever)) end,
  -- wrap puts the position in front of the message, which pcall then
  -- catches; the stop still holds at the rule's next instruction
  function() coroutine.wrap(forever)() end,
  function() local ok = pcall(coroutine.wrap(forever)) end,
  function() local x = 0; for i = 1, 1e15 do x = x + i end end,
}

function rules.on_join(s)
  if s.player == "stuck" then forever() end
end

function rules.on_tap(s, tap)
  s.spins = s.spins + 1
  if runaway[tap.x] then runaway[tap.x]() end
  if tap.x == 10 then spin(2) end
  if tap.x == 11 then spin(15) end
  return { value = 1, kind = "spin" .. s.spins }
end

function rules.on_expire(s)
  if s.player == "stuck-at-exit" then forever() end
  coinhunt.log("expired ", s.player)
end

return rules
LUA

sub server {
    my ($zone) = @_;
    return <<CONF;
    coinhunt_zone $zone 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules rules.lua;
    server {
        listen 127.0.0.1:\$PORT;
        hunt_locations pid;
    }
CONF
}

sub join_token {
    my ($n, $player) = @_;
    my ($st, $body) = http(POST => $n->url("/hunt/session?player=$player"));
    return $body =~ /"session":"([^"]+)"/ ? $1 : die "no session: $st $body";
}

sub tap {
    my ($n, $t, $x) = @_;
    my ($st, $body, $h) = http(POST => $n->url("/hunt/tap?session=$t&x=$x"),
                               timeout => 30);
    return ($st, $body // '', $h->{'x-pid'} // '');
}

sub stops {
    my ($n) = @_;
    my @stops = $n->error_log
                =~ /\[error\] .*on_\w+ failed: (?:\S+:\d+: )?$STOP/g;
    return scalar @stops;
}

# on_tap and on_join: runaways, legitimate slow calls, the same worker
{
    # info: an epoll_wait() the watchdog's signal interrupted would show
    my $n = Coinhunt::Nginx->start(files => { 'rules.lua' => $rules },
                                   conf => server('budget'),
                                   log_level => 'info');
    my ($pid) = $n->wait_workers(1);
    my $t = join_token($n, 'runner');
    my $taps = 0;

    my ($st, $body, $wpid) = tap($n, $t, 0);
    is $st, 200, 'a plain tap';
    is $wpid, $pid, '  answered by the worker';
    $taps++;

    my @cases = ('a loop that never ends', 'a loop around pcall',
                 'a loop around xpcall with a handler',
                 'a loop in a coroutine the rule resumes and then goes on',
                 'a loop in coroutine.wrap',
                 'a loop in coroutine.wrap inside pcall',
                 'a loop of 10^15 iterations');

    for my $x (1 .. @cases) {
        my $what = $cases[$x - 1];
        my $before = stops($n);
        ($st, $body) = tap($n, $t, $x);
        is $st, 500, "$what: stopped";
        like $body, qr/^\{"error":"rule_error",/, '  a rule_error';
        is stops($n), $before + 1, '  the error log names the budget';

        ($st, $body, $wpid) = tap($n, $t, 0);
        $taps++;
        is $st, 200, '  the next tap succeeds';
        is $wpid, $pid, '  in the same worker';
        like $body, qr/"kind":"spin$taps"\},"score":$taps,"taps":$taps,/,
             '  and the stopped tap changed nothing of the session';
    }

    # twice in a row: the stop hook of the first is gone before the second
    for my $i (1, 2) {
        my $before = stops($n);
        ($st) = tap($n, $t, 1);
        is $st, 500, "runaway tap $i of two in a row: stopped";
        is stops($n), $before + 1, '  and logged';
    }

    ($st, $body, $wpid) = tap($n, $t, 0);
    $taps++;
    is $st, 200, 'a plain tap after them succeeds';
    like $body, qr/"score":$taps,"taps":$taps,/, '  with its session as it was';

    ($st, $body) = tap($n, $t, 10);
    $taps++;
    is $st, 200, 'a rule that runs for 2 ms of CPU is not stopped';
    ($st, $body) = tap($n, $t, 11);
    $taps++;
    is $st, 200, 'a rule that runs for 15 ms of CPU is not stopped';
    like $body, qr/"score":$taps,"taps":$taps,/, '  both counted';

    my $before = stops($n);
    ($st, $body) = http(POST => $n->url('/hunt/session?player=stuck'),
                        timeout => 30);
    is $st, 500, 'a runaway on_join: the join is refused';
    like $body, qr/^\{"error":"rule_error",/, '  with a rule_error';
    like $n->error_log, qr/\[error\] .*on_join failed: $STOP/,
         '  the error log names the budget';
    ($st, undef, $wpid) = tap($n, join_token($n, 'after'), 0);
    is $st, 200, '  and the next join and tap succeed';
    is $wpid, $pid, '  in the same worker';

    is_deeply [$n->worker_pids], [$pid], 'no worker exited';
    is Coinhunt::metric($n, 'coinhunt_rule_errors_total'), @cases + 3,
       'every stop counted as a rule error';
    unlike $n->error_log, qr/epoll_wait\(\) failed|\[(alert|crit|emerg)\]/,
           'nothing else in the error log';
    $n->stop;
}

# on_expire: a runaway is stopped and the sweep goes on to the next session
{
    my $n = Coinhunt::Nginx->start(files => { 'rules.lua' => $rules },
        conf => "coinhunt_session_ttl 1s;\n" . server('expire'));
    my ($pid) = $n->wait_workers(1);
    join_token($n, 'stuck-at-exit');
    join_token($n, 'leaver');

    ok wait_for(20, sub { $n->error_log =~ /on_expire failed: $STOP/ }),
       'a runaway on_expire is stopped, the error log names the budget';
    ok wait_for(20, sub { $n->error_log =~ /coinhunt rules: expired leaver/ }),
       '  and the other session expires through its on_expire';
    my ($st, undef, $wpid) = tap($n, join_token($n, 'next'), 0);
    is $st, 200, '  the worker goes on serving';
    is $wpid, $pid, '  the same worker';
    $n->stop;
}

done_testing;
