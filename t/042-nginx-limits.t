# The nginx limits README's Security section recommends, from the very
# files it shows (conf/limits.conf, conf/limits-server.conf): joins per
# address past the burst are 429 JSON with Retry-After and join nothing;
# bodies over client_max_body_size are 413 JSON; a client with too many
# requests in progress gets 429; taps are not slowed by the join limit.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt;
use CoinhuntInput qw(req raw snapshot);
use File::Spec;
use IO::Socket::INET;
use Test::More;

sub slurp {
    open my $fh, '<', $_[0] or die "$_[0]: $!";
    local $/;
    return <$fh>;
}

my $conf = File::Spec->rel2abs('conf');
my $n = Coinhunt::Nginx->start(files => {
    'rules.lua' => "return { on_tap = function() return 1 end }\n",
    'limits.conf' => slurp("$conf/limits.conf"),
    'limits-server.conf' => slurp("$conf/limits-server.conf") },
    conf => <<'CONF');
    coinhunt_zone limits 1m;
    coinhunt_rules rules.lua;
    include limits.conf;
    server {
        listen 127.0.0.1:$PORT;
        include limits-server.conf;
        location = /hunt/tap { coinhunt tap; }
        location = /hunt/leaderboard { coinhunt leaderboard; }
        location = /hunt/metrics { coinhunt metrics; }
    }
CONF

my $limited = qq({"error":"rate_limited","message":"too many requests from this address"}\n);

subtest 'joins past the burst: 429 JSON, nothing joined' => sub {
    my (@ok, $st, $h, $b);
    for my $i (1 .. 40) {
        ($st, $h, $b) = req($n, POST => "/hunt/session?player=p$i");
        last if $st != 201;
        push @ok, $b =~ /"session":"([^"]{22})"/;
    }
    # burst=20 plus what 10r/m refilled meanwhile (nothing on a fast run)
    ok @ok >= 21 && @ok < 40, scalar(@ok) . ' joins, then refused';
    is $st, 429, 'refused with 429';
    is $b, $limited, 'JSON';
    is $h->{'content-type'}, 'application/json', 'application/json';
    is $h->{'retry-after'}, 6, 'Retry-After';
    my $before = snapshot($n);
    is((req($n, POST => '/hunt/session?player=late'))[0], 429, 'again 429');
    is snapshot($n), $before, 'nothing joined';
    like((req($n, POST => "/hunt/tap?session=$ok[0]"))[2], qr/"score":1,/,
         'taps are not limited by the join limit');
};

subtest 'a body over client_max_body_size: 413 JSON' => sub {
    my $before = snapshot($n);
    my ($st, $h, $b) = req($n, POST => '/hunt/tap', body => 'x' x 9000,
        headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
    is $st, 413, 'refused with 413';
    is $b, qq({"error":"body_too_large","message":"the request body is over the limit"}\n), 'JSON';
    is snapshot($n), $before, 'nothing changed';
};

subtest 'too many requests in progress from one address: 429' => sub {
    # requests whose bodies never come stay in progress
    my @held;
    for (1 .. 20) {
        my $s = IO::Socket::INET->new("127.0.0.1:$n->{port}") or die $!;
        print $s "POST /hunt/tap HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
                 . "Content-Type: application/x-www-form-urlencoded\r\n\r\n";
        push @held, $s;
    }
    # the 21st: wait until the server has read all held headers
    my ($st, $h, $b);
    ok Coinhunt::wait_for(10, sub {
        ($st, $h, $b) = req($n, GET => '/hunt/leaderboard');
        $st == 429
    }), 'the 21st request in progress: 429';
    is $b, $limited, 'JSON';
    close $_ for @held;
    ok Coinhunt::wait_for(10, sub {
        (req($n, GET => '/hunt/leaderboard'))[0] == 200
    }), 'served again once they are gone';
};

unlike $n->error_log, qr/\[(alert|crit|emerg)\]/, 'no alert in error.log';
$n->stop;
done_testing;
