# The designer's test kit itself (lua/coinhunt/, lua/README.md "Testing
# your rules"): its sandbox is the module's, every rules file the project
# ships has a test that passes, and a failure names the designer's file
# and line.  The kit's answers are compared with nginx's in t/061 and t/062.

use strict;
use warnings;
use File::Copy qw(copy);
use File::Find qw(find);
use File::Temp qw(tempdir);
use Test::More;

system('luajit -v >/dev/null 2>&1') == 0
    or BAIL_OUT('no luajit: "make deps" installs Debian\'s luajit2');

# the kit's command: (exit status, output)
sub kit {
    my $out = qx(lua/coinhunt-test @_ 2>&1);
    return ($? >> 8, $out);
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!";
    local $/;
    return <$fh>;
}

# the prelude of lua_sandbox.c, wherever the C sources are laid out
my $c;
find(sub { $c = $File::Find::name if $_ eq 'ngx_http_coinhunt_lua_sandbox.c' },
     'ngx_coinhunt_module');
my ($literal) = slurp($c) =~
    /ngx_http_coinhunt_lua_prelude\[\]\s*=\s*((?:\s*"(?:[^"\\]|\\.)*")+)\s*;/;
my $prelude = '';
while (($literal // '') =~ /"((?:[^"\\]|\\.)*)"/g) {
    (my $s = $1) =~ s/\\(.)/$1 eq 'n' ? "\n" : $1/ge;
    $prelude .= $s;
}
my ($kit) = slurp('lua/coinhunt/prelude.lua') =~ /^(.*?\nreturn sandbox\n)/s;
ok(length $prelude > 500, "the module's prelude read from $c");
is($kit, $prelude, 'lua/coinhunt/prelude.lua is the module\'s prelude, '
                   . 'line for line');

# every rules file shipped has a test, and it passes
my @rules = grep { !/_test\.lua$/ } glob 'conf/*.lua lua/examples/*.lua';
for my $file (@rules) {
    my ($rc, $out) = kit($file);
    (my $test = $file) =~ s/\.lua$/_test.lua/;
    is($rc, 0, "$test passes") or diag($out);
    like($out, qr/^\Q$test\E: \d+ checks passed$/m, "$test: what it says");
}

my ($rc, $out) = kit('t/kit/kit_test.lua');
is($rc, 0, "the kit's own API (t/kit/kit_test.lua)") or diag($out);

$out = qx(make -s rules-test RULES=conf/hunt.lua 2>&1);
is($? >> 8, 0, 'make rules-test RULES=conf/hunt.lua') or diag($out);
like($out, qr/^conf\/hunt_test\.lua: \d+ checks passed$/m,
     'make rules-test runs conf/hunt_test.lua');

# a designer's typo, planted in a copy of the example and its test
my $dir = tempdir('coinhunt-kit-XXXXXX', TMPDIR => 1, CLEANUP => 1);
copy("conf/$_", "$dir/$_") or die $! for qw(hunt.lua hunt_test.lua);
my $src = slurp("$dir/hunt.lua");
my @lines = split /\n/, $src, -1;
my ($line) = grep { $lines[$_] =~ /^\s+s\.combo = 0\s+-- a miss/ } 0 .. $#lines;
ok(defined $line, 'the line a typo goes in');
$lines[$line] =~ s/s\.combo/s.comb/;
my $n = $line + 1;
open my $fh, '>', "$dir/hunt.lua" or die $!;
print $fh join "\n", @lines;
close $fh;

($rc, $out) = kit("$dir/hunt.lua");
is($rc, 1, 'a typo in a rule fails its test');
like($out, qr/^not ok  \Q$dir\E\/hunt_test\.lua:\d+: expected /m,
     'the failure names the test\'s line');
my $why = "$dir/hunt.lua:$n: session field 'comb' is not declared in "
          . 'rules.fields';
like($out, qr/\Q$why\E/,
     "and the rule's error names the rules file and line $n");
unlike($out, qr/coinhunt\/\w+\.lua:/, "no line of the kit's own is shown");

# a syntax error: the load fails naming the file and line
$lines[$line] =~ s/s\.comb = 0/s.combo = = 0/;
open $fh, '>', "$dir/hunt.lua" or die $!;
print $fh join "\n", @lines;
close $fh;
($rc, $out) = kit("$dir/hunt.lua");
is($rc, 1, 'a syntax error fails the test');
like($out, qr/^error   \Q$dir\E\/hunt\.lua:$n: unexpected symbol near '='$/m,
     'naming the rules file and line');

# what the command refuses
($rc, $out) = kit("$dir/nothing.lua");
is($rc, 1, 'a rules file without a test fails');
like($out, qr/no test: write \Q$dir\E\/nothing_test\.lua/,
     'saying what to write');

open $fh, '>', "$dir/empty_test.lua" or die $!;
print $fh "local T = require 'coinhunt.test'\n";
close $fh;
($rc, $out) = kit("$dir/empty_test.lua");
is($rc, 1, 'a test that checks nothing fails');
like($out, qr/checks nothing/, 'saying so');

($rc, $out) = kit();
is($rc, 2, 'no file: the usage');
like($out, qr/^usage: coinhunt-test/, 'the usage said');

done_testing();
