# Taps through one nginx over a sequence: what failing rules write to the
# error log, on_expire, a reload picking up edited rules with two workers,
# and the tap path making no heap allocation in steady state.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http);
use HTTP::Tiny;
use Test::More;
use Time::HiRes qw(sleep);

my $server = <<'CONF';
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules rules.lua;
    server {
        listen 127.0.0.1:$PORT reuseport;
        hunt_locations pid;
    }
CONF

sub join_token {
    my ($n, $player) = @_;
    my (undef, $body) = http(POST => $n->url("/hunt/session?player=$player"));
    return $body =~ /"session":"([^"]+)"/ ? $1 : die "no session: $body";
}

sub tap {
    my ($n, $t, $q) = @_;
    return http(POST => $n->url("/hunt/tap?session=$t" . ($q // '')));
}

sub metric {
    my ($n, $re) = @_;
    my (undef, $body) = http(GET => $n->url('/hunt/metrics'));
    return $body =~ /^$re (\d+)$/m ? $1 : undef;
}

# failing rules: what reaches the error log
{
    my $rules = <<'LUA';
local coinhunt = require "coinhunt"
local rules = { fields = { "best" } }
local function explode() error("the cave collapsed") end
function rules.on_join(s) if s.player == "mallory" then error("banned") end end
function rules.on_tap(s, tap)
  s.best = 42
  if tap.seq == 1 then explode() end
  if tap.seq == 2 then while true do end end
  if tap.seq == 3 then return { value = -5 } end
  if tap.seq == 4 then s.score = 0 end
  return 7
end
function rules.on_expire(s)
  coinhunt.log("expired ", s.player, " of ", s.hunt, " score ", s.score,
               " best ", s.best)
end
return rules
LUA
    my $n = Coinhunt::Nginx->start(files => { 'rules.lua' => $rules },
        conf => "coinhunt_zone logs 1m;\ncoinhunt_session_ttl 1s;\n$server");
    my $t = join_token($n, 'tapper');

    my ($st) = tap($n, $t, '&seq=1');
    is $st, 500, 'an error in the rule is a 500';
    like $n->error_log, qr/\[error\] .*coinhunt: \S+rules\.lua: on_tap failed: \S+rules\.lua:3: the cave collapsed\nstack traceback:\n.*in function 'explode'/s,
         '  with the message and a traceback in the error log';

    ($st) = tap($n, $t, '&seq=2');
    is $st, 500, 'a runaway rule is a 500';
    like $n->error_log, qr/on_tap failed: the rule ran over its budget of 20 ms of CPU/,
         '  logged as over its budget';

    ($st) = tap($n, $t, '&seq=3');
    is $st, 500, 'a negative coin is a 500';
    like $n->error_log, qr/\[error\] .*rules\.lua: on_tap returned a coin value that is not an integer from 0 to 1000000000/,
         '  logged as a bad coin';

    ($st) = tap($n, $t, '&seq=4');
    is $st, 500, 'writing a core field is a 500';
    like $n->error_log, qr/on_tap failed: \S+rules\.lua:10: session field 'score' is read-only/,
         '  logged with the line that tried';

    my ($body);
    ($st, $body) = tap($n, $t, '&seq=5');
    is $st, 200, 'the worker goes on serving';
    is $body, qq({"coin":{"value":7,"kind":"coin"},"score":7,"taps":1,"coins":1}\n),
       '  with nothing of the failed taps credited';

    ($st) = http(POST => $n->url('/hunt/session?player=mallory'));
    is $st, 500, 'a failing on_join refuses the join';
    like $n->error_log, qr/on_join failed: \S+rules\.lua:4: banned/, '  and is logged';

    sleep 1.8;
    like $n->error_log,
         qr/\[notice\] .*coinhunt rules: expired tapper of default score 7 best 42/,
         'on_expire saw the expired session; coinhunt.log wrote the notice';
    $n->stop;
}

# a reload picks up edited rules, in both workers, and keeps the sessions
{
    my $v1 = "return { on_tap = function() return { value = 1, kind = 'v1' } end }\n";
    my $n = Coinhunt::Nginx->start(files => { 'rules.lua' => $v1 }, workers => 2,
                                   conf => "coinhunt_zone reload 1m;\n$server");
    $n->wait_workers(2);
    my $t = join_token($n, 'editor');

    my %kinds;
    for (1 .. 20) {
        my (undef, $body, $h) = tap($n, $t);
        $kinds{"$1 $h->{'x-pid'}"}++ if $body =~ /"kind":"(\w+)"/;
    }
    is scalar(grep { /^v1 / } keys %kinds), 2, 'both workers run the v1 rules';

    open my $fh, '>', "$n->{prefix}/conf/rules.lua" or die $!;
    print $fh "return { on_tap = function() return { value = 10, kind = 'v2' } end }\n";
    close $fh;
    $n->reload(workers => 2);

    my ($score, %v2);
    for (1 .. 20) {
        my (undef, $body, $h) = tap($n, $t);
        $v2{ $h->{'x-pid'} }++ if $body =~ /"kind":"v2"/;
        ($score) = $body =~ /"score":(\d+)/;
    }
    is scalar(keys %v2), 2, 'after the reload both workers run the v2 rules';
    is $score, 20 + 200, 'and the session kept its v1 score';

    open $fh, '>', "$n->{prefix}/conf/rules.lua" or die $!;
    print $fh "return { on_tap = function( end }\n";
    close $fh;
    my (undef, $out) = Coinhunt::nginx_t($n->{prefix});
    like $out, qr/rules\.lua:1: .*in \S+nginx\.conf:\d+/, 'nginx -t refuses broken rules';
    kill 'HUP', $n->master_pid;
    sleep 0.5;
    my (undef, $body) = tap($n, $t);
    like $body, qr/"kind":"v2"/, 'a reload with broken rules keeps the old ones';
    $n->stop;
}

# no heap allocation on the tap path once warm: 10,000 taps, with a rule
# that makes a table for every coin
{
    my $rules = <<'LUA';
local coinhunt = require "coinhunt"
local rules = { fields = { "combo" } }
function rules.on_tap(s, tap)
  if coinhunt.random() < 0.5 then
    s.combo = s.combo + 1
    return { value = s.combo, kind = "gold" }
  end
  s.combo = 0
end
return rules
LUA
    my $n = Coinhunt::Nginx->start(files => { 'rules.lua' => $rules },
        conf => "coinhunt_zone allocs 4m;\n$server");
    my $ua = HTTP::Tiny->new(keep_alive => 1);
    my @tokens;
    for my $i (1 .. 50) {
        my $res = $ua->post($n->url("/hunt/session?player=a$i"));
        push @tokens, $res->{content} =~ /"session":"([^"]+)"/;
    }
    my $taps = sub {
        my ($count) = @_;
        my $ok = 0;
        for my $i (1 .. $count) {
            my $res = $ua->post($n->url("/hunt/tap?session=" . $tokens[$i % 50]));
            $ok++ if $res->{status} == 200;
        }
        return $ok;
    };
    is $taps->(6000), 6000, 'warm-up taps';
    my $re = 'coinhunt_heap_allocations_total\{worker="0"\}';
    my $before = metric($n, $re);
    is $taps->(10000), 10000, '10,000 taps';
    my $after = metric($n, $re);
    ok defined $before && $before > 0, "the heap counter counts ($before)";
    is $after - $before, 0, 'the 10,000 taps made no heap allocation';
    $n->stop;
}

# nor with a coin's data and refusals (a userdata each, recycled)
{
    my $rules = <<'LUA';
local coinhunt = require "coinhunt"
local rules = { fields = { "combo" } }
function rules.on_tap(s, tap)
  s.combo = s.combo + 1
  if s.combo % 3 == 0 then
    return coinhunt.refuse("not_now", "every third tap is refused", 429)
  end
  return { value = 1, kind = "gold",
           data = { combo = s.combo, half = s.combo / 2, even = s.combo % 2 == 0,
                    msg = "a \"quoted\" line\n" } }
end
return rules
LUA
    my $n = Coinhunt::Nginx->start(files => { 'rules.lua' => $rules },
        conf => "coinhunt_zone allocs 4m;\n$server");
    my $ua = HTTP::Tiny->new(keep_alive => 1);
    my $token = ($ua->post($n->url('/hunt/session?player=d'))->{content}
                 =~ /"session":"([^"]+)"/)[0];
    my $taps = sub {
        my ($count) = @_;
        my %seen;
        for my $i (1 .. $count) {
            my $res = $ua->post($n->url("/hunt/tap?session=$token"));
            $seen{$res->{status}}++;
            $seen{data}++ if $res->{content} =~
                /"data":\{(?=.*"combo":\d+)(?=.*"even":(?:true|false))(?=.*"msg":"a \\"quoted\\" line\\n")/;
        }
        return join ' ', map { "$_=$seen{$_}" } sort keys %seen;
    };
    is $taps->(3000), '200=2000 429=1000 data=2000',
       'warm-up: two coins with their data, then a refusal, and again';
    my $re = 'coinhunt_heap_allocations_total\{worker="0"\}';
    my $before = metric($n, $re);
    is $taps->(6000), '200=4000 429=2000 data=4000', '6,000 taps';
    my $after = metric($n, $re);
    is $after - $before, 0,
       'the 6,000 taps with data and refusals made no heap allocation';
    $n->stop;
}

done_testing;
