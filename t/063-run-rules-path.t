# "make run RULES=file" (tools/run-nginx) runs the designer's file where it
# is, not a copy under build/run/conf/: nginx -t's refusal and a rule's
# error name that file and line.  Also when its path holds a space.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt;
use File::Temp ();
use Test::More;

my $module = $ENV{TEST_NGINX_LOAD_MODULES} or plan skip_all => 'no module';
my $nginx = $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx';
# the ASan pass's module needs its runtimes loaded first, as the suites'
# own nginx has them (t/lib/CoinhuntSanitize.pm)
$ENV{LD_PRELOAD} = $ENV{TEST_NGINX_SANITIZE} if $ENV{TEST_NGINX_SANITIZE};
my $dir = File::Temp->newdir;
my $prefix = "$dir/prefix";

sub write_file {
    my ($path, $text) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh $text;
    close $fh;
}

# a syntax error on line 2: run-nginx stops at nginx -t, naming it
my $bad = "$dir/my rules.lua";
write_file($bad, "return {\n  on_tap = function( end }\n");
my $out = `COINHUNT_PREFIX='$prefix' tools/run-nginx '$module' 1 '$nginx' '$bad' 2>&1`;
isnt $? >> 8, 0, 'run-nginx refuses rules that nginx -t refuses';
like $out, qr/"coinhunt_rules" directive: \Q$bad\E:2: /,
     'the refusal names the designer\'s file and line';
unlike $out, qr{\Q$prefix\E/conf/[^/]*\.lua}, 'and no copy of it';

# a rule error at a tap names the file and line too
my $good = "$dir/hunt.lua";
write_file($good, "return { on_tap = function(s)\n  return s.nope + 1\nend }\n");
my $port = Coinhunt::free_port();
my $pid = fork // die "fork: $!";
if ($pid == 0) {
    open STDOUT, '>', '/dev/null';
    $ENV{COINHUNT_PREFIX} = $prefix;
    exec 'tools/run-nginx', $module, $port, $nginx, $good;
    die "exec: $!";
}
my ($token, $status);
for (1 .. 50) {
    my ($s, $body) = Coinhunt::http(POST => "http://127.0.0.1:$port/hunt/session?player=p");
    if (($s // 0) == 201) { ($token) = $body =~ /"session":"([^"]+)"/; last }
    select undef, undef, undef, 0.1;
}
ok $token, 'make run RULES= serves the file';
($status) = Coinhunt::http(POST => "http://127.0.0.1:$port/hunt/tap?session=$token");
is $status, 500, 'its rule fails';
my $log = '';
for (1 .. 20) {
    $log = do { local (@ARGV, $/) = "$prefix/logs/error.log"; <> } // '';
    last if $log =~ /on_tap failed/;
    select undef, undef, undef, 0.1;
}
like $log, qr/coinhunt: \Q$good\E: on_tap failed: \Q$good\E:2: /,
     'the error log names the designer\'s file and line';
kill 'QUIT', $pid;
waitpid $pid, 0;

done_testing;
