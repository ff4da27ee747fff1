# Bad requests, one subtest a class: every malformed parameter of every
# endpoint, the query/body precedence, bodies of the wrong type or size,
# wrong methods, and header smuggling.  Each answers the documented status
# and error (nginx's own page where nginx refuses the request before the
# module sees it) and changes nothing: boards, the sessions' "me" and the
# counters are the same before and after (t/lib/CoinhuntInput.pm).

use strict;
use warnings;
use lib 't/lib';
use Coinhunt;
use CoinhuntInput qw(req raw bad snapshot);
use Test::More;

my $n = Coinhunt::Nginx->start(conf => <<'CONF', files => {
    coinhunt_zone input 1m;
    coinhunt_secret coinhunt-test-secret;
    coinhunt_rules rules.lua;
    server {
        listen 127.0.0.1:$PORT;
        hunt_locations;
    }
CONF
    'rules.lua' => "return { on_tap = function(s, t) return 1 + t.x end }\n" });

sub json_err {
    my ($code, $message) = @_;
    $message =~ s/"/\\"/g;
    return qq({"error":"$code","message":"$message"}\n);
}

my $name_err = sub { json_err('bad_request', qq("$_[0]" must be 1 to 64 characters of A-Z a-z 0-9 _ . -)) };
my $int_err = sub { json_err('bad_request', qq("$_[0]" must be an integer from $_[1] to $_[2])) };
my $num_err = sub { json_err('bad_request', qq("$_[0]" must be a finite decimal number)) };
my $form = { 'Content-Type' => 'application/x-www-form-urlencoded' };
sub nginx_page { qr{^<html>\r\n<head><title>$_[0] } }

my (undef, undef, $j) = req($n, POST => '/hunt/session?player=alice');
my ($t) = $j =~ /"session":"([^"]{22})"/ or die "no session: $j";
req($n, POST => "/hunt/tap?session=$t&seq=10") for 1;
@CoinhuntInput::HUNTS = ('default', 'h');
@CoinhuntInput::TOKENS = ($t);

# --- join: player and hunt
bad($n, 'player missing', [POST => '/hunt/session'], 400,
    json_err('bad_request', 'the "player" parameter is required'));
for ([empty => ''], ['too long (65)' => 'a' x 65], [space => 'al%20ice'],
     [plus => 'al+ice'], [NUL => 'al%00ice'], [slash => 'a/b'],
     ['UTF-8' => '%C3%A9'], [quote => '%22'], [backslash => '%5C'],
     [newline => 'a%0Ab'])
{
    bad($n, "player $_->[0]", [POST => "/hunt/session?player=$_->[1]"], 400,
        $name_err->('player'));
}
my $escape_err = sub { json_err('bad_request', qq("$_[0]" has a bad %-escape)) };
for ('a%zz', 'a%4', 'a%', '%%41') {
    bad($n, "player with the bad escape $_",
        [POST => "/hunt/session?player=$_"], 400, $escape_err->('player'));
}
bad($n, 'hunt empty', [POST => '/hunt/session?player=bob&hunt='], 400,
    $name_err->('hunt'));
bad($n, 'hunt too long (65)',
    [POST => '/hunt/session?player=bob&hunt=' . 'h' x 65], 400,
    $name_err->('hunt'));
bad($n, 'hunt wrong charset', [POST => '/hunt/session?player=bob&hunt=a*b'],
    400, $name_err->('hunt'));
bad($n, 'player duplicated: the first one counts',
    [POST => '/hunt/session?player=&player=bob'], 400, $name_err->('player'));
bad($n, 'player in the body does not rescue a bad one in the query',
    [POST => '/hunt/session?player=a!b', headers => $form,
     body => 'player=bob'], 400, $name_err->('player'));
bad($n, 'a bad player in the body', [POST => '/hunt/session', headers => $form,
     body => 'player=%00'], 400, $name_err->('player'));

# --- tap: seq, x, y
for (['not a number' => 'x'], [empty => ''], [zero => '0'], [negative => '-1'],
     [plus => '%2B5'], ['leading space' => '%205'], ['trailing space' => '5%20'],
     [hex => '0x10'], [decimal => '11.0'], ['2^53' => '9007199254740992'],
     ['over INT64_MAX (19 digits)' => '9999999999999999999'],
     ['20 digits' => '99999999999999999999'], [NUL => '11%00'])
{
    bad($n, "seq $_->[0]", [POST => "/hunt/tap?session=$t&seq=$_->[1]"], 400,
        $int_err->('seq', 1, 9007199254740991));
}
bad($n, 'seq not above the last one (replay)',
    [POST => "/hunt/tap?session=$t&seq=10"], 409,
    json_err('replay', 'seq must increase with every tap of the session'));
bad($n, 'seq duplicated: the first one counts',
    [POST => "/hunt/tap?session=$t&seq=9&seq=11"], 409,
    json_err('replay', 'seq must increase with every tap of the session'));
for (['not a number' => 'abc'], [empty => ''], [NaN => 'nan'], [inf => 'inf'],
     ['-inf' => '-inf'], [overflow => '1e400'], [hex => '0x1p3'],
     ['leading space' => '%201'], ['trailing junk' => '1abc'],
     [NUL => '%00'], ['number then NUL' => '1%00junk'],
     ['too long (32)' => '1' x 32])
{
    bad($n, "x $_->[0]", [POST => "/hunt/tap?session=$t&x=$_->[1]"], 400,
        $num_err->('x'));
}
bad($n, 'y not a number', [POST => "/hunt/tap?session=$t&y=y"], 400,
    $num_err->('y'));
bad($n, 'seq with a bad escape', [POST => "/hunt/tap?session=$t&seq=1%G1"],
    400, $escape_err->('seq'));
bad($n, 'x with a bad escape', [POST => "/hunt/tap?session=$t&x=%"],
    400, $escape_err->('x'));
bad($n, 'session with a bad escape', [POST => "/hunt/tap?session=$t%Q"],
    400, $escape_err->('session'));
bad($n, 'a bad x in the body', [POST => '/hunt/tap', headers => $form,
     body => "session=$t&x=1e999"], 400, $num_err->('x'));

# --- leaderboard: top, hunt
for (['zero' => '0'], ['over 100' => '101'], ['not a number' => 'ten'],
     [empty => ''], [negative => '-1'], [overflow => '99999999999999999999'],
     ['19 digits over INT64_MAX' => '9223372036854775808'])
{
    bad($n, "top $_->[0]", [GET => "/hunt/leaderboard?top=$_->[1]"], 400,
        $int_err->('top', 1, 100));
}
bad($n, 'leaderboard hunt wrong charset', [GET => '/hunt/leaderboard?hunt=%2e%2e%2f'],
    400, $name_err->('hunt'));
bad($n, 'leaderboard session with a bad escape',
    [GET => "/hunt/leaderboard?session=%zz"], 400, $escape_err->('session'));
bad($n, 'leaderboard of another hunt than the session\'s',
    [GET => "/hunt/leaderboard?hunt=h&session=$t"], 400,
    json_err('bad_request', 'the session plays another hunt'));

# --- bodies
bad($n, 'a body that is not a form', [POST => '/hunt/session',
     headers => { 'Content-Type' => 'application/json' },
     body => '{"player":"bob"}'], 400,
    json_err('bad_request', 'a request body must be application/x-www-form-urlencoded'));
bad($n, 'a body without Content-Type', [POST => '/hunt/session',
     body => 'player=bob'], 400,
    json_err('bad_request', 'a request body must be application/x-www-form-urlencoded'));
bad($n, 'a body over 4 KiB (Content-Length)', [POST => '/hunt/session',
     headers => $form, body => 'player=bob&pad=' . 'x' x 4096], 413,
    json_err('body_too_large', 'the request body is over 4096 bytes'));
bad($n, 'a chunked body over 4 KiB',
    "POST /hunt/session HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    . "Content-Type: application/x-www-form-urlencoded\r\n"
    . "Transfer-Encoding: chunked\r\n\r\n"
    . join('', map { sprintf("%x\r\n", 1000) . 'x' x 1000 . "\r\n" } 1 .. 5)
    . "0\r\n\r\n", 413,
    json_err('body_too_large', 'the request body is over 4096 bytes'));
bad($n, 'a body over client_max_body_size (nginx refuses it)',
    "POST /hunt/session HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    . "Content-Length: 2000000\r\n\r\n", 413, nginx_page(413));

# --- methods: 405 with Allow
for (['session', 'GET', 'POST'], ['session', 'PUT', 'POST'],
     ['session', 'OPTIONS', 'POST'], ['tap', 'GET', 'POST'],
     ['tap', 'PATCH', 'POST'], ['tap', 'DELETE', 'POST'],
     ['end', 'GET', 'POST, DELETE'], ['end', 'PUT', 'POST, DELETE'],
     ['leaderboard', 'POST', 'GET, HEAD'],
     ['leaderboard', 'DELETE', 'GET, HEAD'],
     ['metrics', 'POST', 'GET, HEAD'])
{
    my ($what, $method, $allow) = @$_;
    bad($n, "$method /hunt/$what", [$method => "/hunt/$what?session=$t&player=bob"],
        405, json_err('method_not_allowed', "this endpoint takes $allow"),
        headers => { Allow => $allow });
}
bad($n, 'HEAD /hunt/tap: 405, no body', [HEAD => "/hunt/tap?session=$t"],
    405, '', headers => { Allow => 'POST' });
bad($n, 'TRACE (nginx refuses it)',
    [TRACE => "/hunt/tap?session=$t"], 405, nginx_page(405));
bad($n, 'an unknown method', [FROB => "/hunt/tap?session=$t"], 405,
    json_err('method_not_allowed', 'this endpoint takes POST'),
    headers => { Allow => 'POST' });

# --- header smuggling: nginx refuses before the module runs
my $tap = "POST /hunt/tap?session=$t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
bad($n, 'Content-Length and Transfer-Encoding both',
    "${tap}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    400, nginx_page(400));
bad($n, 'two Content-Length headers',
    "${tap}Content-Length: 0\r\nContent-Length: 5\r\n\r\nx=1.5", 400,
    nginx_page(400));
bad($n, 'a negative Content-Length', "${tap}Content-Length: -1\r\n\r\n",
    400, nginx_page(400));
bad($n, 'a chunk size that is not hex',
    "${tap}Transfer-Encoding: chunked\r\n\r\nzz\r\nx=1\r\n0\r\n\r\n", 400,
    nginx_page(400));
bad($n, 'an overflowing chunk size',
    "${tap}Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nx\r\n0\r\n\r\n",
    400, nginx_page(400));
bad($n, 'Transfer-Encoding other than chunked',
    "${tap}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501,
    nginx_page(501));
bad($n, 'an obs-fold continuation line',
    "${tap}X-Pad: a\r\n b\r\n\r\n", 400, nginx_page(400));
bad($n, 'two Authorization headers',
    "POST /hunt/tap HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    . "Authorization: Bearer $t\r\nAuthorization: Bearer $t\r\n\r\n", 400,
    nginx_page(400));
bad($n, 'a header name with a space',
    "${tap}Content-Length : 5\r\n\r\nx=1.5", 400, nginx_page(400));
bad($n, 'a request line over 8 KiB',
    "POST /hunt/tap?session=$t&x=" . '1' x 9000 . " HTTP/1.1\r\nHost: x\r\n\r\n",
    414, nginx_page(414));
bad($n, 'an absolute URI names the path, not another host',
    "POST http://evil.example/hunt/tap HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    401, json_err('unauthorized',
                  'a session token is required (Authorization: Bearer or ?session=)'));

# the session is intact after all of it: the next tap is its second
my ($st, undef, $b) = req($n, POST => "/hunt/tap?session=$t&seq=11");
is $st, 200, 'the session still taps';
is $b, qq({"coin":{"value":1,"kind":"coin"},"score":2,"taps":2,"coins":2}\n),
   'with its state as it was';
# names match in any case, in the body as in the query
($st, undef, $b) = req($n, POST => '/hunt/tap', headers => $form,
                       body => "SESSION=$t&Seq=12");
is $b, qq({"coin":{"value":1,"kind":"coin"},"score":3,"taps":3,"coins":3}\n),
   'body names match in any case';
($st, undef, $b) = req($n, POST => '/hunt/tap', headers => $form,
                       body => "session=$t&seq=12");
is $st, 409, 'so Seq=12 was the seq';
unlike $n->error_log, qr/\[(alert|crit|emerg)\]/, 'no alert in error.log';

$n->stop;
done_testing;
