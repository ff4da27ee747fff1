# Local leaderboards in a full zone: a session slot is the leaderboard
# entry, so ended sessions stay ranked (retired) and a join reclaims the
# oldest retired slot only when no free slot is left, which removes that
# entry from the board; a retired player who re-joins is revived with the
# score.  503 sessions_full only when every slot holds a live session.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http);
use HTTP::Tiny;
use Test::More;

my $secret = 'coinhunt-test-secret';
my $rules = "return { fields = { 'a', 'b' },\n"
          . "  on_tap = function(s, tap) return { value = 7 } end }\n";

my $n = Coinhunt::Nginx->start(files => { 'rules.lua' => $rules }, conf => <<"CONF");
    coinhunt_zone full 512k;
    coinhunt_secret $secret;
    coinhunt_rules rules.lua;
    server {
        listen 127.0.0.1:\$PORT;
        hunt_locations;
    }
CONF

my $ua = HTTP::Tiny->new(keep_alive => 1);

sub req {
    my ($method, $path) = @_;
    my $res = $ua->request($method, $n->url($path));
    return ($res->{status}, $res->{content});
}

sub metric { Coinhunt::metric($n, @_) }

sub top {
    my ($count) = @_;
    my (undef, $body) = req(GET => "/hunt/leaderboard?top=$count");
    my @rows = $body =~ /"player":"([^"]+)","score":(\d+)/g;
    my @out;
    push @out, join '=', splice @rows, 0, 2 while @rows;
    return join ' ', @out;
}

like $n->error_log,
    qr/coinhunt_zone "full": \d+ sessions of 172 bytes \(2 designer fields, (?#
       )local leaderboards, 64 journal records\)/,
    'the zone reports 156 + 8 x fields bytes a session';

my $capacity = metric('coinhunt_sessions_capacity');
ok $capacity > 1000, "the zone holds $capacity sessions";

my (%tok, @status);
for my $i (1 .. $capacity) {
    my ($st, $body) = req(POST => "/hunt/session?player=p$i");
    push @status, $st;
    ($tok{"p$i"}) = $body =~ /"session":"([^"]+)"/;
}
is scalar(grep { $_ == 201 } @status), $capacity, 'every slot is taken';
my ($st, $body) = req(POST => '/hunt/session?player=one_more');
is $st, 503, 'a join beyond capacity is refused';
like $body, qr/"error":"sessions_full"/, '  as sessions_full';

req(POST => "/hunt/tap?session=$tok{p10}");
req(POST => "/hunt/tap?session=$tok{p3}") for 1 .. 2;
req(POST => "/hunt/tap?session=$tok{p7}") for 1 .. 3;

for my $p (qw(p10 p3 p7)) {
    ($st) = req(DELETE => "/hunt/end?session=$tok{$p}");
    is $st, 200, "$p ends";
}
is metric('coinhunt_sessions'), $capacity - 3, 'ended sessions are not live';
is top(3), 'p7=21 p3=14 p10=7', 'but stay on the board with their scores';

($st) = req(POST => '/hunt/session?player=n1');
is $st, 201, 'a new player takes a retired slot';
is top(3), 'p7=21 p3=14 n1=0', '  the oldest retired one (p10) left the board';

($st, $body) = req(POST => '/hunt/session?player=p3');
is $st, 201, 'a retired player re-joins';
like $body, qr/"player":"p3","hunt":"default","score":14,"taps":0,"coins":0/,
    '  revived with the score';

($st) = req(POST => '/hunt/session?player=n2');
is $st, 201, 'the next new player takes the next oldest retired slot';
is top(2), 'p3=14 n1=0', '  p7 left the board';

($st, $body) = req(POST => '/hunt/session?player=n3');
is $st, 503, 'every slot is live again: sessions_full';
is metric('coinhunt_sessions'), $capacity, 'as many live sessions as slots';

($st, $body) = req(POST => '/hunt/session?player=p10');
is $st, 503, 'p10, reclaimed, cannot come back while the zone is full';

$n->stop;
done_testing();
