# Rules that return garbage, one subtest a class: each tap is 500
# rule_error, credits nothing (score, taps, coins, the board and the
# counters are unchanged), counts one coinhunt_rule_errors_total, and the
# worker goes on serving.  on_tap picks its misbehaviour from the tap's x.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt;
use CoinhuntInput qw(req bad);
use File::Temp ();
use Test::More;

my $rules = <<'LUA';
local rules = { fields = { "f" } }
local bad = {
  function() return "5" end,                          -- 1 a string
  function() return 0/0 end,                          -- 2 NaN
  function() return 1/0 end,                          -- 3 inf
  function() return -1/0 end,                         -- 4 -inf
  function() return -3 end,                           -- 5 negative
  function() return 2^63 end,                         -- 6 huge
  function() return 1e300 end,                        -- 7 huger
  function() return 1.5 end,                          -- 8 not whole
  function() return {} end,                           -- 9 a table, no value
  function() return { value = "7" } end,              -- 10 value a string
  function() return { value = 0/0 } end,              -- 11 value NaN
  function() return { value = 1/0 } end,              -- 12 value inf
  function() return { value = 1, kind = {} } end,     -- 13 kind a table
  function() return { value = 1, kind = "a\"b" } end, -- 14 kind not a name
  function() return true end,                         -- 15 a boolean
  function() return function() end end,               -- 16 a function
  function() error("boom") end,                       -- 17 error(string)
  function() error({ code = 1 }) end,                 -- 18 error(table)
  function() error() end,                             -- 19 error(nil)
  function() return coroutine.yield(1) end,           -- 20 yield
  function(s) s.f = 0/0 return 1 end,                 -- 21 field NaN
  function(s) s.f = "x" return 1 end,                 -- 22 field string
  function(s) s.taps = 0 return 1 end,                -- 23 core field
  function() return setmetatable({}, { __index = function() error("x") end }) end, -- 24
  function() local t = {} for i = 1, 1e9 do t[i] = i end end, -- 25 memory
}
rules.cases = #bad
function rules.on_tap(s, tap)
  local f = bad[tap.x]
  if f then return f(s) end
  return { value = 1, kind = "ok" }
end
return rules
LUA

my $n = Coinhunt::Nginx->start(files => { 'rules.lua' => $rules },
                               conf => <<'CONF');
    coinhunt_zone rules 1m;
    coinhunt_rules rules.lua;
    server {
        listen 127.0.0.1:$PORT;
        hunt_locations;
    }
CONF

my (undef, undef, $j) = req($n, POST => '/hunt/session?player=alice');
my ($t) = $j =~ /"session":"([^"]{22})"/ or die "no session: $j";
req($n, POST => "/hunt/tap?session=$t");
@CoinhuntInput::TOKENS = ($t);

sub rule_errors {
    my (undef, undef, $m) = req($n, GET => '/hunt/metrics');
    return $m =~ /^coinhunt_rule_errors_total (\d+)$/m ? $1 : -1;
}

my @names = ('a string', 'NaN', 'inf', '-inf', 'a negative number',
             '2^63', '1e300', 'a fraction', 'a table without value',
             'value a string', 'value NaN', 'value inf', 'kind a table',
             'kind not a name', 'a boolean', 'a function', 'error(string)',
             'error(table)', 'error(nil)', 'coroutine.yield',
             'a designer field set to NaN', 'a designer field set to a string',
             'a write to a core field', 'a table whose reads raise',
             'a rule that eats memory');

for my $i (1 .. @names) {
    my $errors = rule_errors();
    bad($n, "on_tap returns $names[$i - 1]",
        [POST => "/hunt/tap?session=$t&x=$i"], 500,
        qq({"error":"rule_error","message":"the hunt's on_tap rule failed"}\n));
    is rule_errors(), $errors + 1, "coinhunt_rule_errors_total counted it";
}

my ($st, undef, $b) = req($n, POST => "/hunt/tap?session=$t");
is $st, 200, 'the worker still taps';
is $b, qq({"coin":{"value":1,"kind":"ok"},"score":2,"taps":2,"coins":2}\n),
   'nothing was credited by the failed taps';
unlike $n->error_log, qr/\[(alert|crit|emerg)\]|exited on signal/,
       'no crash, no alert';

$n->stop;

# a rules file whose table raises on every read: nginx -t refuses it with
# a message instead of a panicking Lua VM
subtest 'a rules table whose reads raise is refused by nginx -t' => sub {
    my $dir = File::Temp::tempdir('coinhunt-rules-XXXXXX', TMPDIR => 1,
                                  CLEANUP => 1);
    mkdir "$dir/$_" for qw(conf logs);
    open my $fh, '>', "$dir/conf/rules.lua" or die $!;
    print $fh 'return setmetatable({}, { __index = function() error("x") end })';
    close $fh;
    open $fh, '>', "$dir/conf/nginx.conf" or die $!;
    print $fh Coinhunt::load_modules(), "error_log logs/error.log;\n",
        "pid logs/nginx.pid;\nevents {}\nhttp {\n",
        "    coinhunt_zone t 1m;\n    coinhunt_rules rules.lua;\n}\n";
    close $fh;
    my ($status, $out) = Coinhunt::run_nginx("$dir/logs", '-t', '-p', "$dir/",
                                             '-c', 'conf/nginx.conf');
    is $status & 127, 0, 'nginx -t was not killed by a signal';
    isnt $status >> 8, 0, 'nginx -t fails';
    like $out, qr/returns a table without an on_tap function/, 'and says why';
};

# rules files share a worker's VM: one may not reach the string metatable
# (shared by every file's strings) to change what another's strings do
subtest 'a rules file cannot change the strings of another' => sub {
    my $evil = <<'LUA';
local rules = {}
function rules.on_tap(s, tap)
  getmetatable("").__index.upper = function() return "pwned" end
end
return rules
LUA
    my $good = <<'LUA';
local rules = {}
function rules.on_tap(s, tap)
  return { value = 1, kind = ("ok"):upper() }
end
return rules
LUA
    my $m = Coinhunt::Nginx->start(
        files => { 'evil.lua' => $evil, 'good.lua' => $good },
        conf => <<'CONF');
    coinhunt_zone shared 1m;
    server {
        listen 127.0.0.1:$PORT;
        location = /hunt/session { coinhunt session; }
        location = /evil/tap { coinhunt_rules evil.lua; coinhunt tap; }
        location = /good/tap { coinhunt_rules good.lua; coinhunt tap; }
    }
CONF
    my (undef, undef, $j) = req($m, POST => '/hunt/session?player=eve');
    my ($e) = $j =~ /"session":"([^"]{22})"/ or die "no session: $j";
    my ($st) = req($m, POST => "/evil/tap?session=$e");
    is $st, 500, 'the metatable is out of reach: rule_error';
    like $m->error_log, qr/evil\.lua.*on_tap failed/, 'logged as the rule\'s';

    (undef, undef, $j) = req($m, POST => '/hunt/session?player=gus');
    my ($g) = $j =~ /"session":"([^"]{22})"/ or die "no session: $j";
    my (undef, undef, $b) = req($m, POST => "/good/tap?session=$g");
    is $b, qq({"coin":{"value":1,"kind":"OK"},"score":1,"taps":1,"coins":1}\n),
       'the other file\'s strings are untouched';
    $m->stop;
};

done_testing;
