# No heap allocation on the tap path, counted from outside the module: an
# LD_PRELOAD shim (t/lib/malloc-count.c) counts every malloc, calloc,
# realloc, memalign and posix_memalign the worker makes, and jemalloc's
# mallocx and rallocx.  Over 10,000 taps on a keep-alive connection the
# worker allocates exactly what it does over 10,000 requests of bare nginx
# ("return 200", same connection): the pools nginx itself makes for each
# request, nothing more.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http);
use CoinhuntSanitize;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use POSIX ();
use Time::HiRes qw(sleep);
use Test::More;

plan skip_all => 'the sanitizers and valgrind bring their own allocator'
    if CoinhuntSanitize::sanitize() || CoinhuntSanitize::valgrind();

my $dir = tempdir('coinhunt-malloc-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0777, $dir;    # the worker runs as nobody
my $cc = $ENV{CC} || 'cc';
system($cc, '-shared', '-fPIC', '-O2', '-o', "$dir/malloc-count.so",
       't/lib/malloc-count.c', '-ldl') == 0
    or BAIL_OUT("cannot build t/lib/malloc-count.c with $cc");

my $rules = <<'LUA';
local coinhunt = require "coinhunt"
local rules = { fields = { "combo" } }
local GOLD = { value = 5, kind = "gold" }
function rules.on_tap(s, tap)
  if coinhunt.random() < 0.25 then
    s.combo = s.combo + 1
    return GOLD
  end
  s.combo = 0
end
return rules
LUA

my $n = do {
    local $ENV{LD_PRELOAD} = "$dir/malloc-count.so";
    local $ENV{MALLOC_COUNT_FILE} = "$dir/count";
    Coinhunt::Nginx->start(files => { 'rules.lua' => $rules }, conf => <<'CONF');
    coinhunt_zone heap 1m;
    coinhunt_rules rules.lua;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$PORT;
        location = /bare { return 200 '{"coin":null,"score":0,"taps":0,"coins":0}\n'; }
        hunt_locations;
    }
CONF
};

my ($worker) = $n->wait_workers(1);
ok $worker, 'one worker';

# the worker's counts: "libc" and "jemalloc" allocations so far
sub counts {
    my $file = "$dir/count.$worker";
    unlink $file;
    kill POSIX::SIGRTMIN() + 9, $worker;
    Coinhunt::wait_for(5, sub { -s $file }) or return;
    sleep 0.05;
    open my $fh, '<', $file or return;
    my ($libc, $jemalloc) = <$fh> =~ /^libc (\d+) jemalloc (\d+)$/;
    return { libc => $libc, jemalloc => $jemalloc };
}

my $ua = HTTP::Tiny->new(keep_alive => 1);
my @tokens;
for my $i (1 .. 20) {
    my $res = $ua->post($n->url("/hunt/session?player=p$i"));
    push @tokens, $res->{content} =~ /"session":"([^"]+)"/;
}
is scalar(@tokens), 20, '20 players joined';

my $run = sub {
    my ($what, $count) = @_;
    my $ok = 0;
    for my $i (1 .. $count) {
        my $url = $what eq 'tap'
                  ? $n->url("/hunt/tap?session=$tokens[$i % 20]")
                  : $n->url('/bare');
        $ok++ if $ua->post($url)->{status} == 200;
    }
    return $ok;
};

is $run->('tap', 3000), 3000, 'warm-up taps';
is $run->('bare', 3000), 3000, 'warm-up requests of bare nginx';

my $c0 = counts();
ok $c0 && $c0->{libc} > 0, 'the shim counts the worker\'s allocations'
    or BAIL_OUT('no counts from the shim');
SKIP: {
    skip 'the libc build has no jemalloc arena', 1
        if ($ENV{ALLOCATOR} // 'jemalloc') ne 'jemalloc';
    cmp_ok $c0->{jemalloc}, '>', 0,
           "and the module's jemalloc arena ($c0->{jemalloc} so far)";
}
is $run->('bare', 10000), 10000, '10,000 requests of bare nginx';
my $c1 = counts();
is $run->('tap', 10000), 10000, '10,000 taps';
my $c2 = counts();

my $bare = $c1->{libc} - $c0->{libc};
my $taps = $c2->{libc} - $c1->{libc};
cmp_ok $bare, '>', 0, "bare nginx allocates for its requests ($bare)";
is $taps, $bare, 'the taps allocated from libc exactly what bare nginx did';
is $c2->{jemalloc} - $c1->{jemalloc}, 0, 'and nothing from jemalloc';

$n->stop;
done_testing;
