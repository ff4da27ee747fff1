# A tap whose session other taps keep changing while its rule runs: each
# try's commit finds the session moved on and runs the rule again; after 8
# tries the tap is answered 429 rate_limited with Retry-After: 1, counted
# in coinhunt_rate_limited_total, and credits nothing.  Two workers: one
# runs the slow tap's rule (10 ms of CPU), the other commits quick taps of
# the same session meanwhile.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http);
use HTTP::Tiny;
use POSIX ();
use Time::HiRes qw(sleep);
use Test::More;

my $rules = <<'LUA';
return { on_tap = function(s, tap)
  if tap.x == 1 then
    local t0 = os.clock()
    while os.clock() - t0 < 0.01 do end
    return { value = 1000, kind = "slow" }
  end
end }
LUA

my $n = Coinhunt::Nginx->start(files => { 'rules.lua' => $rules },
    workers => 2, conf => <<'CONF');
    coinhunt_zone busy 1m;
    coinhunt_rules rules.lua;
    # the quick taps' connection must stay on its worker
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$PORT reuseport;
        location = /pid { return 200 $pid; }
        hunt_locations;
    }
CONF

my (undef, $body) = http(POST => $n->url('/hunt/session?player=busy'));
my ($token) = $body =~ /"session":"([^"]+)"/;
ok $token, 'a session';

# the slow taps' keep-alive connection, and the worker it is on
my $slow = HTTP::Tiny->new(keep_alive => 1, timeout => 10);
my $slow_pid = $slow->get($n->url('/pid'))->{content};
like $slow_pid, qr/^\d+$/, 'the slow taps\' worker';

# the other worker commits quick taps of the session until told to stop;
# the child connects by itself (HTTP::Tiny opens anew after a fork)
my $stop = "$n->{prefix}/logs/stop";
my $started = "$n->{prefix}/logs/started";
my $child = fork // die "fork: $!";
if ($child == 0) {
    my $quick;
    for (1 .. 200) {
        my $ua = HTTP::Tiny->new(keep_alive => 1, timeout => 10);
        if ($ua->get($n->url('/pid'))->{content} ne $slow_pid) {
            $quick = $ua;
            last;
        }
    }
    POSIX::_exit(2) unless $quick;
    my $url = $n->url("/hunt/tap?session=$token&x=0");
    for (1 .. 100000) {
        last if -e $stop;
        my $status = $quick->post($url)->{status};
        POSIX::_exit(1) if $status != 200;
        touch($started) if $_ == 20;
    }
    POSIX::_exit(0);
}
ok Coinhunt::wait_for(10, sub { -e $started }), 'quick taps are committing';

# a slow tap may win a try now and then: count what each answer says
my ($refused, $credited, $res) = (0, 0);
for (1 .. 5) {
    my $r = $slow->post($n->url("/hunt/tap?session=$token&x=1"));
    if ($r->{status} == 200) {
        $credited++;
        next;
    }
    $res = $r;
    $refused++;
    last;
}

touch($stop);
waitpid $child, 0;
is $? >> 8, 0, 'the other worker answered every quick tap 200';

ok $refused, "a slow tap was refused ($credited credited before)";
is $res->{status}, 429, '  answered 429';
like $res->{content},
     qr/^\{"error":"rate_limited","message":"too many simultaneous taps of (?#
        )one session"\}$/, '  rate_limited, saying why';
is $res->{headers}{'retry-after'}, '1', '  Retry-After: 1';

my $last = $slow->post($n->url("/hunt/tap?session=$token&x=0"));
my ($score) = $last->{content} =~ /"score":(\d+)/;
is $score, 1000 * $credited, 'the refused tap credited nothing';
is Coinhunt::metric($n, 'coinhunt_rate_limited_total'), $refused,
   'coinhunt_rate_limited_total counts it';
unlike $n->error_log, qr/\[(alert|crit|emerg)\]/, 'nothing alarming logged';

$n->stop;
done_testing;

sub touch {
    open my $fh, '>', $_[0] or die "$_[0]: $!";
    close $fh;
}
