# The figures README.md and conf/ quote come from what runs: the README's
# quick start, run as one pasted block on a free port, gives the answers its
# "# " lines show and stops what it started; the startup line of that nginx
# is what conf/nginx.conf's comment on its zone says, and what the README's
# per-session size and journal figures give, and what its Logs section
# quotes; coinhunt_build_info's example and the .deb's name are VERSION's,
# the nginx ABI named is nginx-dev's.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(free_port wait_for);
use File::Temp qw(tempdir);
use Test::More;

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!";
    local $/;
    return scalar <$fh>;
}

my $readme = slurp('README.md');
my $conf = slurp('conf/nginx.conf');

# --- the quick start

my ($block) = $readme =~ /^## Five minutes with it\n.*?^```sh\n(.*?)^```$/ms;
ok defined $block, 'README has the quick start block' or BAIL_OUT('no block');
my $port = free_port();
(my $script = $block) =~ s/\b8080\b/$port/g;
# the answers: the lines that are only a comment, in order
my @expected = map { /^# (.*)$/ ? $1 : () } split /\n/, $block;
cmp_ok scalar @expected, '>=', 4, 'it shows the answers';

# as a newcomer's shell runs it: the default build, job control on (kill %1),
# a prefix of its own so that a "make run" of someone's stays untouched
my $prefix = tempdir('coinhunt-readme-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my %env = (%ENV, COINHUNT_PREFIX => $prefix);
delete @env{qw(ALLOCATOR SANITIZE VALGRIND MAKEFLAGS MFLAGS MAKELEVEL
               TEST_NGINX_SANITIZE TEST_NGINX_USE_VALGRIND LD_PRELOAD)};
my $out = do {
    local %ENV = %env;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>', "$prefix/stderr" or die $!;
        alarm 300;
        exec 'bash', '-m', '-c', $script or die "bash: $!";
    }
    local $/;
    my $text = <$fh> // '';
    close $fh;
    $text;
};
is $?, 0, 'the block runs to its end' or diag $out, slurp("$prefix/stderr");

# each answer shown is a line of the output, in the block's order
my @lines = split /\n/, $out;
my $at = 0;
for my $want (@expected) {
    my $found;
    while ($at < @lines) {
        last if ($found = $lines[$at++] eq $want);
    }
    ok $found, "  answers $want" or diag $out;
}

# the processes still running with the prefix on their command line
sub under_prefix {
    return grep { my $c = eval { slurp($_) } // ''; index($c, $prefix) >= 0 }
           glob '/proc/[0-9]*/cmdline';
}
like slurp("$prefix/logs/error.log"), qr/\[notice\] \d+#\d+: exit$/m,
     'its nginx started and exited';
ok wait_for(10, sub { !under_prefix() }), '  kill %1 left no process behind';

# --- the zone's figures

my $log = slurp("$prefix/logs/error.log");
my ($sessions, $bytes, $fields, $journals) = $log =~
    /coinhunt_zone "hunt": (\d+) sessions of (\d+) bytes \((\d+) designer fields, local leaderboards, (\d+) journal records\)/;
ok defined $sessions, 'the startup line gives the zone' or diag $log;
my ($size, $c_sessions, $c_bytes, $c_fields) = $conf =~
    /^ *# (\d+) MiB: ([\d,]+) sessions of this hunt \((\d+) bytes each: (\d+) designer fields\)\n *coinhunt_zone hunt \1m;$/m;
ok defined $size, "conf/nginx.conf's comment is on the zone's line";
(my $c_count = $c_sessions // '') =~ tr/,//d;
is $c_count, $sessions, "  its $c_sessions sessions are the logged ones";
is $c_bytes, $bytes, "  of $bytes bytes";
is $c_fields, $fields, "  with $fields designer fields";

my ($base, $per_field) = $readme =~
    /`coinhunt_sessions_capacity`: (\d+) bytes a session .*? plus (\d+) per designer field/;
ok defined $base, "README's directive table gives a session's size";
is $base + $per_field * $fields, $bytes,
   "  $base + $per_field x $fields is the logged $bytes bytes";
my ($line) = $log =~ /(coinhunt_zone "hunt": \d+ sessions of [^\n]*records\))/;
my ($quoted) = $readme =~ /`(coinhunt_zone "hunt": \d+\s+sessions of [^`]*)`/;
($quoted //= '') =~ s/\s+/ /g;
is $quoted, $line, "  and it is the one README's Logs quote";
my ($workers) = $conf =~ /^worker_processes (\d+);/m;
my ($min) = $readme =~ /`2 × \(worker_processes \+ 2\)` records of \d+ bytes, at least (\d+)/;
is((2 * ($workers + 2) > ($min // 0) ? 2 * ($workers + 2) : $min), $journals,
   "  and its journal records, $journals for $workers workers");

# --- the version

my $version = slurp('VERSION');
chomp $version;
my ($shown) = $readme =~ /`coinhunt_build_info\{version="([^"]+)"/;
is $shown, $version, "README's coinhunt_build_info example is VERSION's";
# the ABI the package depends on: nginx-dev's, which dh_nginx reads
my ($abi) = slurp('/usr/share/nginx/src/debian/libnginx-mod.abisubstvars')
    =~ /^nginx:abi=(\S+)$/m;
my @abis = $readme =~ /`(nginx-abi-[^`*]+)`/g;
ok @abis, 'README names the nginx ABI';
is_deeply [ grep { $_ ne ($abi // '') } @abis ], [], "  always nginx-dev's $abi";
my @debs = $readme =~ /libnginx-mod-http-coinhunt_([^_\s]+)_amd64\.deb/g;
ok @debs, 'README names the .deb';
is_deeply [ grep { $_ ne $version } @debs ], [], "  always of VERSION $version";

done_testing;
