# Bad tokens, one subtest a class: each is 401 unauthorized and changes
# nothing (boards, "me" of the live sessions, counters).  Random, truncated,
# over-long, one bit flipped in every character, replayed after end, after a
# re-join, after expiry with the slot reused, minted with another
# coinhunt_secret, from another node with the same secret, from before a
# restart; and the tap rate: a burst is 429 with Retry-After, then recovers.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(wait_for);
use CoinhuntInput qw(req bad snapshot);
use HTTP::Tiny;
use MIME::Base64 ();
use Test::More;

my $secret = 'coinhunt-test-secret';

my $conf = <<CONF;
    coinhunt_zone tokens 512k;
    coinhunt_secret $secret;
    coinhunt_session_ttl 3s;
    coinhunt_rules rules.lua;
    server {
        listen 127.0.0.1:\$PORT;
        hunt_locations;
        location = /hunt/rtap { coinhunt tap; coinhunt_tap_rate 2r/s burst=3; }
    }
CONF

my %files = ('rules.lua' => "return { on_tap = function() return 1 end }\n");

sub start { Coinhunt::Nginx->start(conf => $conf, files => \%files) }

sub join_token {
    my ($n, $player, $hunt) = @_;
    my ($st, undef, $body) = req($n, POST => "/hunt/session?player=$player"
                                             . ($hunt ? "&hunt=$hunt" : ''));
    $st == 201 or die "join $player: $st $body";
    return $body =~ /"session":"([^"]{22})"/ ? $1 : die "no token: $body";
}

sub tap_req { ["POST", "/hunt/tap", headers => {
                   Authorization => "Bearer $_[0]" }] }

my $not_valid = qq({"error":"unauthorized","message":"the session token is not valid"}\n);
my $gone = qq({"error":"unauthorized","message":"the session has ended or expired"}\n);
my $either = qr/^\{"error":"unauthorized","message":"the session (token is not valid|has ended or expired)"\}\n\z/;

my $n = start();
my $alice = join_token($n, 'alice');
my $bob = join_token($n, 'bob');
req($n, POST => "/hunt/tap?session=$alice") for 1 .. 3;
@CoinhuntInput::TOKENS = ($alice, $bob);

bad($n, 'no token at all', [POST => '/hunt/tap'], 401,
    qq({"error":"unauthorized","message":"a session token is required (Authorization: Bearer or ?session=)"}\n));

bad($n, 'an Authorization header that is not Bearer',
    [POST => '/hunt/tap', headers => { Authorization => "Basic $alice" }],
    401, qr/"message":"the Authorization header must be \\"Bearer <session token>\\""/);

bad($n, 'a Bearer header with a bad token beats a good ?session=',
    [POST => "/hunt/tap?session=$alice",
     headers => { Authorization => 'Bearer x' }], 401, $not_valid);

subtest 'random tokens' => sub {
    my $before = snapshot($n);
    my @chars = ('A' .. 'Z', 'a' .. 'z', 0 .. 9, '-', '_');
    srand 8;
    for (1 .. 40) {
        my $t = join '', map { $chars[rand @chars] } 1 .. 22;
        my ($st, undef, $b) = req($n, @{ tap_req($t) });
        ok $st == 401 && $b =~ $either, "random $t: 401"
            or diag "$st $b";
    }
    is snapshot($n), $before, 'no state changed';
};

subtest 'truncated and over-long tokens' => sub {
    my $before = snapshot($n);
    for my $len (1 .. 21) {
        my ($st, undef, $b) = req($n, POST => '/hunt/tap?session='
                                              . substr($alice, 0, $len));
        ok $st == 401 && $b eq $not_valid, "first $len characters: 401";
    }
    for my $extra ('A', 'AA', '=', '==', '.', $alice) {
        my ($st, undef, $b) = req($n, @{ tap_req($alice . $extra) });
        ok $st == 401 && $b eq $not_valid, "token . '$extra': 401";
    }
    is snapshot($n), $before, 'no state changed';
};

subtest 'one bit flipped in each of the 22 characters' => sub {
    my $before = snapshot($n);
    my @chars = ('A' .. 'Z', 'a' .. 'z', 0 .. 9, '-', '_');
    my %value = map { $chars[$_] => $_ } 0 .. 63;
    for my $i (0 .. 21) {
        for my $bit (0 .. 5) {
            my $t = $alice;
            substr($t, $i, 1) = $chars[$value{substr $t, $i, 1} ^ (1 << $bit)];
            my ($st, undef, $b) = req($n, @{ tap_req($t) });
            ok $st == 401 && $b =~ $either, "character $i bit $bit: 401"
                or diag "$t: $st $b";
        }
    }
    is snapshot($n), $before, 'no state changed';
};

subtest 'characters outside base64url' => sub {
    my $before = snapshot($n);
    for my $c ('+', '/', '=', '.', '%20', '%00', '%FF') {
        my $t = $alice;
        substr($t, 10, 1) = 'Q';
        (my $q = $t) =~ s/Q/$c/;
        my ($st, undef, $b) = req($n, POST => "/hunt/tap?session=$q");
        ok $st == 401 && $b eq $not_valid, "'$c' in the token: 401";
    }
    is snapshot($n), $before, 'no state changed';
};

bad($n, 'a token minted with another coinhunt_secret',
    tap_req(Coinhunt::token('another-secret-of-16', 0, 1, 'alice')),
    401, $not_valid);

bad($n, "another session's slot and generation under alice's MAC",
    tap_req(substr(Coinhunt::token($secret, 1, 1, 'alice'), 0, 22)),
    401, $not_valid);

# a re-join revokes the previous token
my $alice1 = $alice;
$alice = join_token($n, 'alice');
@CoinhuntInput::TOKENS = ($alice, $bob);
bad($n, 'the token a re-join replaced', tap_req($alice1), 401, $gone);

# end: the token is dead, and stays dead when the slot serves someone else
my (undef, undef, $ended) = req($n, DELETE => "/hunt/end?session=$bob");
like $ended, qr/"ended":true,"player":"bob"/, 'bob ended';
@CoinhuntInput::TOKENS = ($alice);
bad($n, 'replayed after end', tap_req($bob), 401, $gone);
bad($n, 'end replayed after end', [DELETE => "/hunt/end?session=$bob"],
    401, $gone);
bad($n, 'leaderboard "me" with an ended token',
    [GET => "/hunt/leaderboard?session=$bob"], 401, $gone);

# the tap rate: a burst is refused with Retry-After, credits nothing, and
# the bucket drains again
subtest 'tap-rate abuse: 429 with Retry-After, then recovery' => sub {
    my $t = join_token($n, 'greedy');
    my ($ok, $limited) = (0, 0);
    for (1 .. 20) {
        my ($st, $h, $b) = req($n, POST => "/hunt/rtap?session=$t");
        if ($st == 200) {
            $ok++;
            like $b, qr/"score":$ok,"taps":$ok,/, "tap $ok credited once";
        } else {
            $limited++;
            is $st, 429, 'refused with 429';
            is $b, qq({"error":"rate_limited","message":"the session taps faster than coinhunt_tap_rate allows"}\n), 'rate_limited';
            like $h->{'retry-after'}, qr/^[1-9]\d*$/, 'Retry-After';
        }
    }
    ok $limited > 0, "$limited of 20 taps refused";
    my (undef, undef, $m) = req($n, GET => '/hunt/metrics');
    like $m, qr/^coinhunt_rate_limited_total $limited$/m,
         'coinhunt_rate_limited_total counts them';
    my (undef, undef, $me) = req($n, GET => "/hunt/leaderboard?session=$t");
    like $me, qr/"me":\{"rank":\d+,"score":$ok\}/, 'score = taps answered 200';
    ok wait_for(10, sub {
        (req($n, POST => "/hunt/rtap?session=$t"))[0] == 200
    }), 'taps are accepted again once the bucket drained';
};

# expiry: idle sessions die after 3 s; once the free slots are used up, new
# players reclaim the retired ones; the old tokens must not reach them
sub slot_of {
    (my $t = substr($_[0], 0, 8)) =~ tr{-_}{+/};
    return unpack 'V', MIME::Base64::decode_base64($t);
}

subtest 'replayed after expiry, the slot reused by a new session' => sub {
    ok wait_for(10, sub {
        (req($n, GET => "/hunt/leaderboard?session=$alice"))[0] == 401
    }), 'alice expired';
    my %old = map { slot_of($_) => $_ } $alice, $bob;
    my $http = HTTP::Tiny->new(keep_alive => 1);
    my ($i, %reused) = (0);
    while (keys %reused < keys %old && $i++ < 5000) {
        my $r = $http->post($n->url("/hunt/session?player=fill$i"));
        $r->{status} == 201 or next;
        my ($t) = $r->{content} =~ /"session":"([^"]{22})"/;
        $reused{slot_of($t)} = $t if $old{slot_of($t)};
    }
    is scalar(keys %reused), 2, "both slots serve new players ($i joins)";
    @CoinhuntInput::TOKENS = values %reused;
    my $before = snapshot($n);
    like $before, qr/"me":\{"rank":\d+,"score":0\}.*"me":\{"rank":\d+,"score":0\}/s,
         'the new sessions are live';
    for my $old ($alice, $alice1, $bob) {
        my ($st, undef, $b) = req($n, @{ tap_req($old) });
        ok $st == 401 && $b =~ $either, "old token: 401" or diag "$st $b";
    }
    is snapshot($n), $before, 'the new sessions are untouched';
};

unlike $n->error_log, qr/\[(alert|crit|emerg)\]/, 'no alert in error.log';
$n->stop;

# the same coinhunt_secret on another node, or the same node restarted:
# slots and generations start again, so a token names the same slot and
# generation there; it must not reach another player's session
subtest 'a token from another node with the same secret' => sub {
    my $a = start();
    my $b = start();
    my $t = join_token($a, 'alice');
    my $other = join_token($b, 'mallory');
    is substr($t, 0, 11), substr($other, 0, 11), 'same slot and generation';
    @CoinhuntInput::TOKENS = ($other);
    my $before = snapshot($b);
    my ($st, undef, $body) = req($b, @{ tap_req($t) });
    is $st, 401, 'refused with 401';
    is $body, $not_valid, 'not valid';
    is snapshot($b), $before, "mallory's session untouched";
    $a->stop;
    $b->stop;
};

subtest 'a token from before a restart' => sub {
    my $a = start();
    my $t = join_token($a, 'alice');
    req($a, POST => "/hunt/tap?session=$t");
    $a->stop;
    $a = start();
    my $carol = join_token($a, 'carol');
    @CoinhuntInput::TOKENS = ($carol);
    my $before = snapshot($a);
    my ($st, undef, $body) = req($a, @{ tap_req($t) });
    is $st, 401, "alice's old token: 401";
    is $body, $not_valid, 'not valid';
    is snapshot($a), $before, "carol's session untouched";
    $a->stop;
};

# rotating coinhunt_secret: a reload with a new secret kills every live
# token at once; the sessions stay, and a re-join hands out a new token
subtest 'a token minted before coinhunt_secret was rotated' => sub {
    my $a = start();
    my $t = join_token($a, 'alice');
    req($a, POST => "/hunt/tap?session=$t") for 1 .. 2;
    (my $rotated = $conf) =~ s/\Q$secret\E/rotated-secret-0123456789/;
    $a->reload(conf => $rotated);
    my ($st, undef, $body) = req($a, @{ tap_req($t) });
    is $st, 401, 'the old token: 401';
    is $body, $not_valid, 'not valid';
    my (undef, undef, $j) = req($a, POST => '/hunt/session?player=alice');
    like $j, qr/"player":"alice","hunt":"default","score":2,"taps":2,/,
         're-join: the same session, score kept';
    my ($t2) = $j =~ /"session":"([^"]{22})"/;
    like((req($a, @{ tap_req($t2) }))[2], qr/"score":3,"taps":3,/,
         'the new token taps');
    $a->stop;
};

done_testing;
