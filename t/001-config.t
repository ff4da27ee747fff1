# "nginx -t" refuses every bad coinhunt directive, naming the directive and
# the file:line, and accepts a good configuration.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt;
use File::Spec;
use File::Temp qw(tempdir);
use Test::More;

my $prefix = tempdir('coinhunt-conf-XXXXXX', TMPDIR => 1, CLEANUP => 1);
mkdir "$prefix/$_" for qw(conf logs);

# line 1 loads the modules (or is a comment), lines 2-4 are fixed
sub header {
    my $load = Coinhunt::load_modules();
    $load =~ s/\n/ /g;
    return ($load || '# no modules') . "\nerror_log logs/error.log;\n"
           . "pid logs/nginx.pid;\nevents {}\n";
}

sub write_file {
    my ($name, $text) = @_;
    open my $fh, '>', "$prefix/conf/$name" or die "$name: $!";
    print $fh $text;
    close $fh;
}

write_file('good.lua', <<'LUA');
local rules = { fields = { "combo" } }
function rules.on_tap(s, tap) return { value = 1, kind = "coin" } end
return rules
LUA
write_file('syntax.lua', "local rules = {}\nfunction rules.on_tap(s)\n"
           . "  return {\nend\nreturn rules\n");
write_file('notable.lua', "return 42\n");
write_file('notap.lua', "return { on_join = function() end }\n");
write_file('raises.lua', "local x = nil\nreturn x.field\n");
write_file('badfields.lua', "return { fields = { 'score' }, "
           . "on_tap = function() end }\n");
write_file('manyfields.lua', "return { fields = { 'a','b','c','d','e','f',"
           . "'g','h','i' }, on_tap = function() end }\n");
write_file('ffi.lua', "local ffi = require 'ffi'\n"
           . "return { on_tap = function() end }\n");

# nginx -t on an http block whose line 7 holds $line; returns (ok, output)
sub nginx_t {
    my ($line, $extra) = @_;
    write_file('nginx.conf', header()
        . "http {\n    coinhunt_zone t 1m;\n"
        . "    $line\n"
        . ($extra // '')
        . "    server {\n        listen 127.0.0.1:1;\n"
        . "        location = /hunt/tap { coinhunt tap; }\n"
        . "        location = /hunt/session { coinhunt session; }\n"
        . "    }\n}\n");
    return Coinhunt::nginx_t($prefix);
}

my $conf = qr{in \Q$prefix\E/conf/nginx\.conf:7\b};

my @refused = (
    [ 'coinhunt_zone t 1m;', qr/"coinhunt_zone" directive is duplicate/ ],
    [ 'coinhunt_rules missing.lua;', qr/missing\.lua/ ],
    [ 'coinhunt_rules syntax.lua;', qr/syntax\.lua:\d+:/ ],
    [ 'coinhunt_rules notable.lua;', qr/does not return a table/ ],
    [ 'coinhunt_rules notap.lua;', qr/without an on_tap function/ ],
    [ 'coinhunt_rules raises.lua;', qr/raises\.lua:2:/ ],
    [ 'coinhunt_rules badfields.lua;', qr/name of a core field/ ],
    [ 'coinhunt_rules manyfields.lua;', qr/at most 8 names/ ],
    [ 'coinhunt_rules ffi.lua;', qr/module 'ffi' is not available/ ],
    [ 'coinhunt_secret short;', qr/at least 16 characters/ ],
    [ 'coinhunt_session_ttl soon;', qr/"coinhunt_session_ttl" directive invalid value/ ],
    [ 'coinhunt_session_ttl 500ms;', qr/must be at least 1s/ ],
    [ 'coinhunt_tap_rate fast;', qr/invalid rate "fast"/ ],
    [ 'coinhunt_tap_rate 0r/s;', qr/invalid rate "0r\/s"/ ],
    [ 'coinhunt_tap_rate 10r/s burst=x;', qr/invalid burst "burst=x"/ ],
    [ 'coinhunt_tap_rate 10r/s 40;', qr/"burst=N" expected/ ],
    [ 'coinhunt_seed -3;', qr/invalid seed "-3"/ ],
    [ 'coinhunt_seed 99999999999999999999999;', qr/invalid seed/ ],
    [ 'coinhunt_seed 18446744073709551616;',
      qr/invalid seed "18446744073709551616": a decimal number from 0 to (?#
        )18446744073709551615 is expected/ ],
    [ 'coinhunt_zone;', qr/invalid number of arguments in "coinhunt_zone"/ ],
);

for my $case (@refused) {
    my ($line, $why) = @$case;
    my ($ok, $out) = nginx_t($line, "    coinhunt_rules good.lua;\n"
                             x ($line !~ /coinhunt_rules/));
    my ($directive) = $line =~ /^(\w+)/;
    ok !$ok, "refused: $line";
    like $out, $why, "  says why: $line";
    like $out, qr/"$directive" directive/, "  names the directive: $line";
    like $out, $conf, "  names nginx.conf:7: $line";
}

# a bad zone size, and an action without what it needs
{
    write_file('nginx.conf', header()
        . "http {\n    coinhunt_zone t 10k;\n}\n");
    my (undef, $out) = Coinhunt::nginx_t($prefix);
    like $out, qr/"coinhunt_zone" directive: zone "t" is too small.*(?#
                  )nginx\.conf:6/, 'zone too small';

    write_file('nginx.conf', header()
        . "http {\n    server {\n        listen 127.0.0.1:1;\n"
        . "        location = /m { coinhunt metrics; }\n    }\n}\n");
    (undef, $out) = Coinhunt::nginx_t($prefix);
    like $out, qr/"coinhunt metrics" in \S+nginx\.conf:8 needs "coinhunt_zone"/,
         'an action needs the zone';

    write_file('nginx.conf', header()
        . "http {\n    coinhunt_zone t 1m;\n    server {\n"
        . "        listen 127.0.0.1:1;\n"
        . "        location = /t { coinhunt tap; }\n    }\n}\n");
    (undef, $out) = Coinhunt::nginx_t($prefix);
    like $out, qr/"coinhunt tap" in \S+nginx\.conf:9 needs "coinhunt_rules"/,
         'tap needs rules';

    write_file('nginx.conf', header()
        . "http {\n    coinhunt_zone t 1m;\n    server {\n"
        . "        listen 127.0.0.1:1;\n"
        . "        location = /t { coinhunt dig; }\n    }\n}\n");
    (undef, $out) = Coinhunt::nginx_t($prefix);
    like $out, qr/"coinhunt" directive unknown action "dig".*nginx\.conf:9/,
         'unknown action';
}

# the example rules all pass (not their tests, NAME_test.lua: lua/README.md)
for my $example (grep { !/_test\.lua$/ }
                 glob('conf/*.lua'), glob('lua/examples/*.lua')) {
    my $abs = File::Spec->rel2abs($example);
    my ($ok, $out) = nginx_t("coinhunt_rules $abs;");
    ok $ok, "nginx -t accepts $example" or diag $out;
}

my ($ok, $out) = nginx_t('coinhunt_rules good.lua;',
                         "    coinhunt_tap_rate 20r/s burst=40;\n"
                         . "    coinhunt_session_ttl 10m;\n"
                         . "    coinhunt_secret 0123456789abcdef;\n"
                         . "    coinhunt_seed 42;\n");
ok $ok, 'a good configuration passes' or diag $out;

($ok, $out) = nginx_t('coinhunt_rules good.lua;',
                      "    coinhunt_seed 18446744073709551615;\n");
ok $ok, 'the largest seed, 2^64 - 1, passes' or diag $out;

done_testing;
