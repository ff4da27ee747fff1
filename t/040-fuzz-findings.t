# What the fuzzers of fuzz/ found, through a real nginx: each input is
# refused with its documented error and changes nothing.  The inputs are also
# in fuzz/corpus, where the harnesses replay them on every "make fuzz".

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http);
use IO::Socket::INET;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep);

my $server = <<'CONF';
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules rules.lua;
    server {
        listen 127.0.0.1:$PORT;
        hunt_locations pid;
    }
CONF

# a new session of $player: its token
sub player_token {
    my ($n, $player) = @_;
    my $body = (http(POST => $n->url("/hunt/session?player=$player")))[1];
    $body =~ /"session":"([^"]+)"/ or die "no session: $body";
    return $1;
}

# a tap of the session $t, more parameters in $q: (status, body, headers)
sub tap { http(POST => $_[0]->url("/hunt/tap?session=$_[1]$_[2]")) }

# "nginx -t" of the running nginx's configuration: (exit status, output)
sub nginx_t {
    my ($n) = @_;
    my ($status, $out) = Coinhunt::run_nginx("$n->{prefix}/logs", '-t', '-p',
                                             "$n->{prefix}/", '-c',
                                             'conf/nginx.conf');
    return ($status >> 8, $out);
}

sub write_rules {
    my ($n, $lua) = @_;
    open my $fh, '>', "$n->{prefix}/conf/rules.lua" or die $!;
    print $fh $lua;
    close $fh;
}

# parameters: a NUL in a coordinate, integers past 2^63 - 1
{
    my $n = Coinhunt::Nginx->start(
        files => { 'rules.lua' =>
                   "return { on_tap = function(s, t) return 1 end }\n" },
        conf => "coinhunt_zone params 1m;\n$server");
    my $t = player_token($n, 'alice');

    for my $q ('&x=%00abc', '&x=1%00junk', '&y=%091', '&x=1%20') {
        my ($st, $body) = tap($n, $t, $q);
        is $st, 400, "a tap with $q is a 400";
        like $body, qr/^\{"error":"bad_request","message":"\\"[xy]\\" must be a finite decimal number"\}/,
             '  saying the coordinate must be a finite decimal number';
    }

    my ($st, $body) = tap($n, $t, '&seq=9999999999999999999');
    is $st, 400, 'a seq past 2^63 - 1 is a 400';
    like $body, qr/"message":"\\"seq\\" must be an integer from 1 to 9007199254740991"/,
         '  saying the range';

    ($st, $body) = http(GET => $n->url('/hunt/leaderboard?top=9223372036854775808'));
    is $st, 400, 'a top past 2^63 - 1 is a 400';
    like $body, qr/"message":"\\"top\\" must be an integer from 1 to 100"/,
         '  saying the range';

    ($st, $body) = tap($n, $t, '&x=-1.5e2&y=3');
    is $st, 200, 'the session taps as before';
    like $body, qr/"score":1,"taps":1,"coins":1\}/,
         '  the refused taps counted nothing';
}

# rules files that "nginx -t" must refuse, and a reload with them changes nothing
{
    my $good = "return { on_tap = function(s, t) return 2 end }\n";
    my $n = Coinhunt::Nginx->start(files => { 'rules.lua' => $good },
        conf => "coinhunt_zone rules 1m;\n$server");
    my $t = player_token($n, 'bob');
    my @workers = $n->wait_workers(1);

    my @bad = (
        [ 'a field name with a NUL inside',
          qq{return { fields = { "st\\0best" }, on_tap = function() end }\n},
          qr/rules\.lua: the rules module has a field name that is not an identifier of at most 32 characters/ ],
        [ 'a rules table whose __index raises an error',
          qq{return setmetatable({}, { __index = function() error("boom") end })\n},
          qr/rules\.lua: the rules module returns a table without an on_tap function/ ],
        [ 'a top level that never ends',
          qq{while true do end\nreturn {}\n},
          qr/the rule ran over its budget of 20 ms of CPU/ ],
    );

    for my $case (@bad) {
        my ($what, $lua, $re) = @$case;
        write_rules($n, $lua);
        my ($rc, $out) = nginx_t($n);
        isnt $rc, 0, "nginx -t refuses $what";
        like $out, qr/\[emerg\] .*$re/, '  with the documented message';
        unlike $out, qr/PANIC/, '  and no Lua panic';

        my $log = length $n->error_log;
        kill 'HUP', $n->master_pid;
        ok Coinhunt::wait_for(10, sub { substr($n->error_log, $log) =~ $re }),
           '  a reload with it is refused too';
        ok kill(0, $n->master_pid), '  and nginx runs on';
        is_deeply [$n->worker_pids], \@workers, '  with the same worker';
        my ($st, $body) = tap($n, $t, '');
        is $st, 200, '  which taps with the rules it had';
    }

    my ($st, $body) = tap($n, $t, '');
    like $body, qr/"score":8,"taps":4,/, 'every tap counted once';
}

# on_tap's answers that used to panic the worker or cast NaN to an integer
{
    my $rules = <<'LUA';
local coinhunt = require "coinhunt"
return { on_tap = function(s, tap)
  if tap.seq == 1 then
    return setmetatable({}, { __index = function() error("no") end })
  end
  if tap.seq == 2 then return coinhunt.random(0/0) end
  if tap.seq == 3 then return coinhunt.random(-1/0, -1/0) end
  return 5
end }
LUA
    my $n = Coinhunt::Nginx->start(files => { 'rules.lua' => $rules },
        conf => "coinhunt_zone hooks 1m;\n$server");
    my $t = player_token($n, 'carol');
    my ($worker) = $n->wait_workers(1);

    my ($st, $body, $h) = tap($n, $t, '&seq=1');
    is $st, 500, 'a coin table whose __index raises an error is a 500';
    like $body, qr/^\{"error":"rule_error",/, '  rule_error';
    is $h->{'x-pid'}, $worker, '  from the worker, which did not die';
    like $n->error_log, qr/rules\.lua: on_tap returned a coin whose value is not a number/,
         '  logged as a coin without a value';

    for my $seq (2, 3) {
        ($st, $body) = tap($n, $t, "&seq=$seq");
        is $st, 500, "coinhunt.random with bounds that are not finite is a 500 ($seq)";
    }
    my @errors = $n->error_log =~ /coinhunt\.random: empty or too wide interval/g;
    is scalar @errors, 2, '  both logged as a bad interval';

    ($st, $body) = tap($n, $t, '&seq=4');
    like $body, qr/"score":5,"taps":1,"coins":1\}/,
         'the failed taps changed nothing';
    is_deeply [$n->worker_pids], [$worker], 'the worker is the one it was';
}

# a "Redis" whose status replies hold a NUL after PONG is no Redis
{
    my $listen = IO::Socket::INET->new(Listen => 8, LocalAddr => '127.0.0.1',
                                       LocalPort => 0, ReuseAddr => 1)
        or die "listen: $!";
    my $port = $listen->sockport;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        $SIG{ALRM} = sub { POSIX::_exit(0) };
        alarm 60;
        while (my $c = $listen->accept) {
            while (sysread $c, my $buf, 4096) {
                # one status reply a command: "+PONG", a NUL, more bytes
                my $cmds = () = $buf =~ /(?:^|\n)\*\d/g;
                syswrite $c, "+PONG\0junk\r\n" x $cmds;
            }
        }
        POSIX::_exit(0);
    }
    close $listen;

    my $n = Coinhunt::Nginx->start(
        files => { 'rules.lua' =>
                   "return { on_tap = function(s, t) return 1 end }\n" },
        conf => "coinhunt_zone fake 1m;\n"
                . "coinhunt_redis 127.0.0.1:$port;\n$server");

    ok Coinhunt::wait_for(10, sub {
           $n->error_log =~ /unexpected redis reply to PING: type 5 "PONG/ }),
       'a PONG with more bytes after a NUL fails the handshake';
    is Coinhunt::metric($n, 'coinhunt_redis_up'), 0, '  Redis is not up';
    my ($st, $body) = http(POST => $n->url('/hunt/session?player=dave'));
    is $st, 503, '  a join that needs Redis is a 503';
    like $body, qr/^\{"error":"unavailable",/, '  unavailable';

    $n->stop;
    kill 'TERM', $pid;
    waitpid $pid, 0;
}

done_testing;
