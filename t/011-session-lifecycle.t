# Sessions over time and processes: idle expiry, a full zone and its
# recovery, two workers sharing every session, and sessions surviving
# "nginx -s reload".  Each case runs a whole nginx of its own.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http metric wait_for);
use HTTP::Tiny;
use Test::More;
use Time::HiRes qw(sleep);

my $secret = 'coinhunt-test-secret';
my $rules = "return { on_tap = function(s, tap) return { value = 3 } end }\n";


sub join_token {
    my ($n, $player, $ua) = @_;
    my $res = ($ua // HTTP::Tiny->new)->post($n->url("/hunt/session?player=$player"));
    return ($res->{status}, $res->{content} =~ /"session":"([^"]+)"/ ? $1 : undef);
}

my $server = <<"CONF";
    coinhunt_secret $secret;
    coinhunt_rules rules.lua;
    server {
        listen 127.0.0.1:\$PORT reuseport;
        hunt_locations pid;
    }
CONF

# idle sessions expire; a tap keeps a session alive
{
    my $n = Coinhunt::Nginx->start(files => { 'rules.lua' => $rules },
        conf => "coinhunt_zone ttl 1m;\ncoinhunt_session_ttl 1s;\n$server");

    my (undef, $idle) = join_token($n, 'idle');
    my (undef, $busy) = join_token($n, 'busy');
    is metric($n, 'coinhunt_sessions'), 2, 'two live sessions';

    for (1 .. 6) {
        sleep 0.25;
        my ($st) = http(POST => $n->url("/hunt/tap?session=$busy"));
        is $st, 200, "a tap every 250 ms keeps the session alive ($_)";
    }

    my ($st, $body) = http(POST => $n->url("/hunt/tap?session=$idle"));
    is $st, 401, 'the idle session expired';
    like $body, qr/"error":"unauthorized"/, '  with a JSON error';

    sleep 0.6;
    is metric($n, 'coinhunt_sessions'), 1, 'the sweeper freed the idle one';

    sleep 1.2;
    ($st) = http(POST => $n->url("/hunt/tap?session=$busy"));
    is $st, 401, 'and the other after its own idle second';
    is metric($n, 'coinhunt_sessions'), 0, 'no live session is left';
    $n->stop;
}

# a full zone answers 503 sessions_full, corrupts nothing, and recovers
{
    my $n = Coinhunt::Nginx->start(files => { 'rules.lua' => $rules },
        conf => "coinhunt_zone full 512k;\ncoinhunt_session_ttl 2s;\n$server");
    my $capacity = metric($n, 'coinhunt_sessions_capacity');
    ok $capacity > 100, "a 512k zone holds $capacity sessions";

    my $ua = HTTP::Tiny->new(keep_alive => 1);
    my ($first, @status);
    for my $i (1 .. $capacity) {
        my ($st, $t) = join_token($n, "p$i", $ua);
        $first //= $t;
        push @status, $st;
    }
    is scalar(grep { $_ == 201 } @status), $capacity, 'every slot is taken';

    my $res = $ua->post($n->url('/hunt/session?player=one-too-many'));
    is $res->{status}, 503, 'one more join is refused';
    is $res->{content}, '{"error":"sessions_full","message":"every session '
                        . "slot is taken; try again later\"}\n", '  as sessions_full';

    $res = $ua->post($n->url('/hunt/session?player=p1'));
    is $res->{status}, 201, 'a live player can still re-join';
    ($first) = $res->{content} =~ /"session":"([^"]+)"/;
    $res = $ua->post($n->url("/hunt/tap?session=$first"));
    is $res->{status}, 200, 'and tap';
    like $res->{content}, qr/"score":3,"taps":1/, '  with its state intact';

    sleep 3.5;
    is metric($n, 'coinhunt_sessions'), 0, 'all sessions expired';
    $res = $ua->post($n->url('/hunt/session?player=one-too-many'));
    is $res->{status}, 201, 'expired slots are reused';
    my ($late) = $res->{content} =~ /"session":"([^"]+)"/;
    isnt $late, $first, '  with a token of its own';
    $res = $ua->post($n->url("/hunt/tap?session=$first"));
    is $res->{status}, 401, 'the old token of a reused slot is refused';
    $n->stop;
}

# two workers see every session; sessions survive a reload
{
    my $n = Coinhunt::Nginx->start(files => { 'rules.lua' => $rules },
        workers => 2, conf => "coinhunt_zone both 1m;\n$server");
    my @workers = $n->wait_workers(2);
    is scalar(@workers), 2, 'two workers run';

    my (undef, $t) = join_token($n, 'shared');
    my (%pids, @taps);
    for my $i (1 .. 40) {
        my ($st, $body, $h) = http(POST => $n->url("/hunt/tap?session=$t"));
        $pids{ $h->{'x-pid'} // 0 }++;
        push @taps, $body =~ /"taps":(\d+)/ ? $1 : 0;
    }
    is scalar(keys %pids), 2, 'taps were served by both workers';
    is "@taps", join(' ', 1 .. 40), 'and counted once each, in order';
    is metric($n, 'coinhunt_taps_total'), 40, 'taps_total sums both workers';

    my @new = $n->reload(workers => 2);
    my %old = map { $_ => 1 } @workers;
    ok !grep({ $old{$_} } @new), 'the reload replaced both workers';

    my ($st, $body) = http(POST => $n->url("/hunt/tap?session=$t"));
    is $st, 200, 'the token still works after the reload';
    like $body, qr/"score":123,"taps":41,"coins":41/, 'with the state it had';
    is metric($n, 'coinhunt_taps_total'), 41, 'counters survive the reload';
    is metric($n, 'coinhunt_sessions'), 1, 'the session count too';
    $n->stop;
}

done_testing;
