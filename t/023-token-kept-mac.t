# A tap computes a token's MAC once and keeps it in the session's slot; later
# taps compare with it.  What was kept never lets a token through that the
# MAC itself would refuse: a forged MAC after a good tap, an old MAC carried
# into the next generation (a re-join, an end and a new session in the same
# slot), the same token after a reload that changed coinhunt_secret, and on
# a worker of another key.  Two workers, so the kept MAC also crosses them.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http);
use MIME::Base64 qw(encode_base64 decode_base64);
use Test::More;

my $conf = <<'EOF';
    coinhunt_zone kept 1m;
    coinhunt_secret %SECRET%;
    coinhunt_rules rules.lua;
    server {
        listen 127.0.0.1:$PORT;
        hunt_locations;
    }
EOF

sub conf { my ($secret) = @_; (my $c = $conf) =~ s/%SECRET%/$secret/; $c }

my $n = Coinhunt::Nginx->start(
    conf => conf('first-secret-of-the-hunt'), workers => 2,
    files => { 'rules.lua' => 'return { on_tap = function() end }' });

sub join_as {
    my ($player) = @_;
    my ($st, $body) = http(POST => $n->url("/hunt/session?player=$player"));
    my ($token) = $body =~ /"session":"([^"]+)"/;
    return ($st, $token);
}

# every tap on a fresh connection: the two workers both see the token
sub tap {
    my ($token) = @_;
    my ($st, $body) = http(POST => $n->url('/hunt/tap'),
                           headers => { Authorization => "Bearer $token" });
    return wantarray ? ($st, $body) : $st;
}

sub fields {
    my ($token) = @_;
    (my $b = $token) =~ tr{-_}{+/};
    return unpack 'V V Q<', decode_base64($b . '==');
}

sub make_token {
    my ($slot, $gen, $mac) = @_;
    my $t = encode_base64(pack('V V Q<', $slot, $gen, $mac), '');
    $t =~ tr{+/}{-_};
    $t =~ s/=+$//;
    return $t;
}

my ($st, $alice) = join_as('alice');
is $st, 201, 'alice joins';
my ($slot, $gen, $mac) = fields($alice);
is $alice, Coinhunt::token('first-secret-of-the-hunt', $slot, $gen, 'alice'),
    'her token is the MAC of her slot and generation';

is tap($alice), 200, "tap $_ with her token" for 1 .. 6;

# a MAC that differs in one bit, then in every bit, once the MAC is kept
is tap(make_token($slot, $gen, $mac ^ 1)), 401,
    'a MAC one bit off is refused after good taps';
is tap(make_token($slot, $gen, ~$mac)), 401, 'so is its complement';
is tap(make_token($slot, $gen, 0)), 401, 'and a MAC of zero';
is tap($alice), 200, 'her own token still taps';

# a re-join: a new generation, whose token the old MAC is not
my ($st2, $alice2) = join_as('alice');
is $st2, 201, 'alice joins again';
my ($slot2, $gen2) = fields($alice2);
is $slot2, $slot, 'in the same slot';
isnt $gen2, $gen, 'with a new generation';
is tap(make_token($slot, $gen2, $mac)), 401,
    'the old MAC under the new generation is refused';
is tap($alice), 401, 'the old token is refused';
is tap($alice2), 200, 'the new token taps';
is tap($alice2), 200, 'and again';
(undef, undef, my $mac2) = fields($alice2);

# the end of the session: its slot's generation moves on
my ($st3) = http(POST => $n->url('/hunt/end'),
                 headers => { Authorization => "Bearer $alice2" });
is $st3, 200, 'alice ends her session';
is tap($alice2), 401, 'her token is dead';
my ($st6, $alice3) = join_as('alice');
is $st6, 201, 'alice comes back: her ended session is revived';
my ($slot3, $gen3) = fields($alice3);
is $slot3, $slot, 'in the same slot again';
is tap(make_token($slot, $gen3, $mac2)), 401,
    'the MAC kept before the end, under the new generation, is refused';
is tap($alice3), 200, 'her new token taps';

# a reload that changes the secret: the MACs kept under the old key are void
my ($st4, $bob) = join_as('bob');
is $st4, 201, 'bob joins';
is tap($bob), 200, "bob taps: his MAC is kept" for 1 .. 4;
$n->reload(conf => conf('second-secret-of-the-hunt'), workers => 2);
is tap($bob), 401, 'after a reload with another secret his token is refused';
my ($bslot, $bgen) = fields($bob);
my $forged = Coinhunt::token('second-secret-of-the-hunt', $bslot, $bgen, 'bob');
is tap($forged), 200, 'a token of the new secret for his session taps';
is tap($bob), 401, 'and the old one is still refused';

my ($st5, $bob2) = join_as('bob');
is tap($bob2), 200, "bob's new token taps" for 1 .. 3;

# a reload with the same secret keeps the tokens and what was kept
$n->reload(conf => conf('second-secret-of-the-hunt'), workers => 2);
is tap($bob2), 200, 'a reload that keeps the secret keeps his token';
my (undef, $bgen2) = fields($bob2);
is tap(make_token($bslot, $bgen2, 0)), 401, 'a zero MAC is still refused';

unlike $n->error_log, qr/\[(?:alert|crit|emerg)\]/, 'no alert in the error log';

$n->stop;
done_testing;
