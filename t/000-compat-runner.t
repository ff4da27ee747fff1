# Tests of the Test::Nginx::Socket compatible runner in t/compat, using
# plain nginx features only (no coinhunt module needed; when
# TEST_NGINX_LOAD_MODULES is set, the module is loaded but unused).
#
# The first part runs small .t files through prove in a subprocess and
# checks that the runner REPORTS failures (wrong body, wrong status, missing
# or unwanted error.log lines, time-outs, nginx that cannot start, wrong
# plans); the blocks below __DATA__ check the features that must pass.

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/compat";    # always test the compat runner
use lib "$FindBin::Bin/lib";
use Test::Nginx::Socket;
use Coinhunt ();
use File::Temp qw( tempdir );
use IO::Socket::INET ();
use IPC::Run ();
use Time::HiRes qw( time );

my $meta_tests = 21;

repeat_each(2);

# one line per block, in order (TEST 18 is SKIPped and not counted)
plan tests => $meta_tests + repeat_each() * (
      3     # TEST 1
    + 6     # TEST 2
    + 4     # TEST 3
    + 3     # TEST 4
    + 3     # TEST 5
    + 4     # TEST 6
    + 4     # TEST 7
    + 3     # TEST 8
    + 9     # TEST 9: 3 requests x (status + body) + 3 x no_error_log
    + 6     # TEST 10: 2 pipelined x (status + body + no_error_log)
    + 2     # TEST 11
    + 2     # TEST 12
    + 2     # TEST 13
    + 2     # TEST 14
    + 2     # TEST 15
    + 1     # TEST 16: ignore_response, only no_error_log
    + 2     # TEST 17
    + 3     # TEST 19
    + 3     # TEST 20
    + 2     # TEST 21
    + 3     # TEST 22
);

no_shuffle();
env_to_nginx("COMPAT_FOO=bar");

add_block_preprocessor(sub {
    my $block = shift;
    if (defined $block->default_config && !defined $block->config) {
        $block->set_value('config',
            qq{location = /pre { return 200 "preprocessed\\n"; }});
    }
});

check_failure_reporting();

run_tests();

# ---------------------------------------------------------------------------
# meta-tests: run .t files through prove and inspect the verdicts
# ---------------------------------------------------------------------------

# Runs prove on a .t file made of $body; returns ($exit_status, $output,
# $elapsed_seconds).
sub run_meta {
    my ($dir, $file, $body) = @_;
    my $path = "$dir/$file";
    open my $out, '>', $path or die "cannot write $path: $!";
    print $out $body;
    close $out;

    my $port = Coinhunt::free_port();
    local $ENV{TEST_NGINX_PORT} = $port;
    local $ENV{TEST_NGINX_SERVER_PORT} = $port;
    local $ENV{TEST_NGINX_CLIENT_PORT} = $port;
    local $ENV{TEST_NGINX_SERVROOT} = "$dir/servroot";
    local $ENV{TEST_NGINX_NO_SHUFFLE} = 1;

    my $lib = "$FindBin::Bin/compat";
    my @cmd = ($^X, '-MApp::Prove', '-e',
               'my $p = App::Prove->new; $p->process_args(@ARGV);'
               . ' exit($p->run ? 0 : 1)',
               '--', '-v', "-I$lib", $path);
    my $output = '';
    my $start = time;
    my $ok = eval {
        IPC::Run::run(\@cmd, \undef, '>&', \$output, IPC::Run::timeout(90));
        1;
    };
    $output .= "\n[meta-test harness: $@]" if !$ok;
    return ($ok ? $? >> 8 : -1, $output, time - $start);
}

sub count_tap_lines {
    my ($output, $re) = @_;
    my $n = () = $output =~ /$re/mg;
    return $n;
}

sub check_failure_reporting {
    my $dir = tempdir('compat-runner-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $meta_head = "use Test::Nginx::Socket;\n";

    # --- A: wrong body / status / missing and unwanted error.log lines ---
    my ($rc, $out) = run_meta($dir, 'failures.t', $meta_head . <<'_EOT_');
plan tests => 9;
run_tests();

__DATA__

=== TEST 1: wrong body
--- config
    location = /t { return 200 "actual\n"; }
--- request
GET /t
--- response_body
expected

=== TEST 2: wrong status
--- config
    location = /t { return 404; }
--- request
GET /t

=== TEST 3: missing error log line
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- error_log
this line is never logged

=== TEST 4: unwanted error log line
--- config
    location /files/ { root html; }
--- request
GET /files/missing.txt
--- error_code: 404
--- no_error_log
[error]

=== TEST 5: passes
--- config
    location = /t { return 200 "fine\n"; }
--- request
GET /t
--- response_body
fine
_EOT_
    isnt($rc, 0, 'meta A: prove exits non-zero when tests fail');
    like($out, qr/^not ok \d+ - \S+ TEST 1: wrong body - response_body - response is expected/m,
         'meta A: wrong response body is reported');
    like($out, qr/^not ok \d+ - \S+ TEST 2: wrong status - status code ok/m,
         'meta A: wrong status code is reported');
    like($out, qr/^not ok \d+ - \S+ TEST 3: missing error log line - pattern "this line is never logged" should match a line in error\.log/m,
         'meta A: missing error_log line is reported');
    like($out, qr/^not ok \d+ - \S+ TEST 4: unwanted error log line - pattern "\[error\]" should not match any line in error\.log/m,
         'meta A: unwanted no_error_log line is reported');
    like($out, qr/^ok \d+ - \S+ TEST 5: passes - response_body - response is expected/m,
         'meta A: passing block is reported as passing');
    is(count_tap_lines($out, qr/^not ok \d+/m), 4, 'meta A: exactly 4 failures')
        or diag($out);
    like($out, qr/^1\.\.9$/m, 'meta A: plan is printed');
    is(count_tap_lines($out, qr/^(?:not )?ok \d+/m), 9,
       'meta A: test count matches the plan');
    like($out, qr{Failed 4/9 subtests}, 'meta A: prove summary');

    # --- B: a request that never gets an answer times out ---
    my $elapsed;
    ($rc, $out, $elapsed) = run_meta($dir, 'timeout.t', $meta_head . <<'_EOT_');
plan tests => 1;
run_tests();

__DATA__

=== TEST 1: hanging request
--- config
    location = /t { return 200 "x"; }
--- raw_request eval
"GET /t HTTP/1.1\r\nHost: localhost\r\n"
--- timeout: 300ms
_EOT_
    isnt($rc, 0, 'meta B: time-out makes prove fail');
    like($out, qr/^not ok \d+ - ERROR: client socket timed out - \S+ TEST 1: hanging request/m,
         'meta B: time-out is reported');
    cmp_ok($elapsed, '<', 20, 'meta B: no hang');

    # --- C: nginx cannot start ---
    ($rc, $out, $elapsed) = run_meta($dir, 'nostart.t', $meta_head . <<'_EOT_');
plan tests => 2;
run_tests();

__DATA__

=== TEST 1: broken config
--- config
    bogus_directive_xyz;
--- request
GET /t
--- response_body
never
_EOT_
    isnt($rc, 0, 'meta C: broken config makes prove fail');
    like($out, qr/^not ok \d+ - \S+ TEST 1: broken config - failed to start nginx/m,
         'meta C: start failure is reported');
    like($out, qr/unknown directive "bogus_directive_xyz"/,
         'meta C: error.log is shown in the diagnostics');
    cmp_ok($elapsed, '<', 20, 'meta C: no hang');

    # --- D: the plan is checked exactly ---
    ($rc, $out) = run_meta($dir, 'badplan.t', $meta_head . <<'_EOT_');
plan tests => 3;
run_tests();

__DATA__

=== TEST 1: fine
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- response_body
ok
_EOT_
    isnt($rc, 0, 'meta D: wrong plan makes prove fail');
    like($out, qr/planned 3 tests but ran 2/, 'meta D: plan mismatch reported');

    # --- E: ONLY, blocks() and repeat_each in the plan; all pass ---
    ($rc, $out) = run_meta($dir, 'only.t', $meta_head . <<'_EOT_');
repeat_each(2);
plan tests => repeat_each() * 2 * blocks();
run_tests();

__DATA__

=== TEST 1: would fail
--- config
    location = /t { return 500; }
--- request
GET /t
--- response_body
never

=== TEST 2: only this one
--- ONLY
--- config
    location = /t { return 200 "only\n"; }
--- request
GET /t
--- response_body
only
_EOT_
    is($rc, 0, 'meta E: passing file makes prove succeed') or diag($out);
    like($out, qr/^1\.\.4$/m, 'meta E: ONLY block counted by blocks()');
}

__DATA__

=== TEST 1: return with a body
--- config
    location = /t { return 200 "hello\n"; }
--- request
    GET /t
--- response_body
hello
--- no_error_log
[error]



=== TEST 2: add_header, response_headers and $TEST_NGINX_ expansion
--- config
    location = /h {
        add_header X-Foo "bar baz";
        add_header X-Port $TEST_NGINX_SERVER_PORT;
        return 200 "ok";
    }
--- request
GET /h
--- response_headers
X-Foo: bar baz
X-Port: $ServerPort
!X-Missing
Content-Type: text/plain
--- response_body chomp
ok



=== TEST 3: response_headers_like and response_body_like
--- config
    location = /v { return 200 "version 1.2.3\n"; }
--- request
GET /v
--- response_headers_like
Server: nginx/\d+\.\d+\.\d+
Content-Length: \d+
--- response_body_like: ^version \d+\.\d+\.\d+$



=== TEST 4: http_config, error_code_like, response_body_unlike
--- http_config
    server_tokens off;
--- config
    location = /u { return 403; }
--- request
GET /u
--- error_code_like: ^40[13]$
--- response_headers
Server: nginx
--- response_body_unlike: nginx/\d



=== TEST 5: 404 with error_log and grep_error_log
--- config
    location /files/ { root html; }
--- request
GET /files/nope.txt
--- error_code: 404
--- error_log
No such file or directory
--- grep_error_log eval
qr/open\(\) "[^"]*" failed/
--- grep_error_log_out eval
qr{^open\(\) "/\S+/html/files/nope\.txt" failed\n\z}



=== TEST 6: log_level warn hides rewrite notices
--- log_level: warn
--- config
    rewrite_log on;
    location = /r { rewrite ^ /t last; }
    location = /t { return 200 "rewritten\n"; }
--- request
GET /r
--- response_body
rewritten
--- no_error_log
rewritten data
"^" matches "/r"



=== TEST 7: log_level notice shows them
--- log_level: notice
--- config
    rewrite_log on;
    location = /r { rewrite ^ /t last; }
    location = /t { return 200 "rewritten\n"; }
--- request
GET /r
--- response_body
rewritten
--- error_log eval
[qr/rewritten data: "\/t"/, '"^" matches "/r"']



=== TEST 8: user_files served by the root location
--- config
    location = /dummy { return 204; }
--- user_files
>>> hello.txt
Hello, world
>>> sub/dir/deep.txt
deep file
--- request
GET /hello.txt
--- response_headers
Content-Length: 13
--- response_body
Hello, world



=== TEST 9: request eval array, more_headers, POST body
--- config
    location = /echo_hdr { return 200 "foo=$http_x_foo\n"; }
    location = /len { return 200 "len=$content_length\n"; }
--- more_headers
# comment lines are ignored
X-Foo: bar
--- request eval
["GET /echo_hdr", "POST /len\nhello world", "GET /missing"]
--- error_code eval
[200, 200, 404]
--- response_body_like eval
["^foo=bar\$", "^len=11\$", "404 Not Found"]
--- no_error_log
[alert]



=== TEST 10: pipelined requests
--- config
    location = /a { return 200 "A\n"; }
    location = /b { return 200 "B\n"; }
--- pipelined_requests eval
["GET /a", "GET /b"]
--- response_body eval
["A\n", qr/^B$/m]
--- no_error_log
[error]



=== TEST 11: raw_request (HTTP/1.0, no Host header)
--- config
    location = /raw { return 200 "proto=$server_protocol host=$host\n"; }
--- raw_request eval
"GET /raw HTTP/1.0\r\n\r\n"
--- response_body
proto=HTTP/1.0 host=localhost



=== TEST 12: 405 for POST to a static file
--- config
    location = /dummy { return 204; }
--- request
POST /index.html
abc
--- error_code: 405
--- response_body_like: 405 Not Allowed



=== TEST 13: raw_request split in packets
--- config
    location = /t { return 200 "split\n"; }
--- raw_request eval
["GET /t HT", "TP/1.0\r\nHost: localhost\r\n\r\n"]
--- raw_request_middle_delay: 0.05
--- response_body
split



=== TEST 14: chop
--- config
    location = /nl { return 200 "a\nb"; }
--- request
GET /nl
--- response_body chop
a
b



=== TEST 15: generated nginx.conf layout
--- main_config
worker_rlimit_nofile 1024;
--- http_config
    # compat-http-config-marker
--- config
    location = /conf {
        alias $TEST_NGINX_SERVER_ROOT/conf/nginx.conf;
    }
--- request
    # a comment before the request line
    GET /conf
--- response_body_like chomp
\A(?:load_module \S+;\n)*worker_processes .*\nenv COMPAT_FOO=bar;\n.*\nworker_rlimit_nofile 1024;\n.*compat-http-config-marker.*\n\s*listen\s+127\.0\.0\.1:$ServerPort;



=== TEST 16: time-out with abort does not fail
--- config
    location = /t { return 200 "x"; }
--- raw_request eval
"GET /t HTTP/1.1\r\nHost: localhost\r\n"
--- timeout: 200ms
--- abort
--- ignore_response
--- wait: 0.1
--- no_error_log
[error]



=== TEST 17: a block without config reuses the running server
--- skip_eval: 2: $ENV{TEST_NGINX_USE_VALGRIND} # it stops nginx after a block
--- request
GET /t
--- response_body chomp
x



=== TEST 18: skipped block
--- SKIP
--- config
    location = /t { return 500; }
--- request
GET /t
--- response_body
never



=== TEST 19: dated user file, Host from more_headers, HTTP/1.0
--- config
    location = /dummy { return 204; }
--- user_files
>>> dated.txt 199801171935.33
dated
--- more_headers
Host: example.com
--- request
GET /dated.txt HTTP/1.0
--- response_headers
Last-Modified: Sat, 17 Jan 1998 19:35:33 GMT
--- response_body
dated



=== TEST 20: chunked response
--- config
    location /sub/ {
        root html;
        sub_filter 'world' 'nginx';
        sub_filter_once off;
        sub_filter_types text/plain;
    }
--- user_files
>>> sub/hello.txt
hello world, world!
--- request
GET /sub/hello.txt
--- response_headers
Transfer-Encoding: chunked
--- response_body
hello nginx, nginx!



=== TEST 21: add_block_preprocessor supplies the config
--- default_config
--- request
GET /pre
--- response_body
preprocessed



=== TEST 22: HEAD request
--- config
    location = /t { return 200 "hello\n"; }
--- request
HEAD /t
--- response_headers
Content-Length: 6
--- response_body chomp
