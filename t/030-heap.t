# The heap figures are real: when the rules' Lua allocates, the worker's
# coinhunt_heap_* and coinhunt_lua_memory_bytes move, in the jemalloc and in
# the libc build alike.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http);
use HTTP::Tiny;
use Test::More;

my $rules = <<'LUA';
-- every tap keeps 64 KiB of strings: a rule that hoards memory
local hoard = {}
return { on_tap = function(s, tap)
  hoard[#hoard + 1] = string.rep("x", 65536 - 32) .. #hoard
  return 1
end }
LUA

my $n = Coinhunt::Nginx->start(files => { 'rules.lua' => $rules }, conf => <<'CONF');
    coinhunt_zone heap 1m;
    coinhunt_rules rules.lua;
    server {
        listen 127.0.0.1:$PORT;
        hunt_locations;
    }
CONF

sub worker_metrics {
    my (undef, $body) = http(GET => $n->url('/hunt/metrics'));
    my %m;
    $m{$1} = $2 while $body =~ /^(coinhunt_(?:heap|lua)_\w+)\{worker="0"\} (\d+)$/mg;
    return \%m;
}

my $before = worker_metrics();
ok $before->{coinhunt_heap_allocated_bytes} > 0, 'the heap holds the Lua VM';
ok $before->{coinhunt_lua_memory_bytes} > 0, 'the Lua VM has a size';

my (undef, $body) = http(POST => $n->url('/hunt/session?player=hoarder'));
my ($t) = $body =~ /"session":"([^"]+)"/;
my $ua = HTTP::Tiny->new(keep_alive => 1);
my $ok = 0;
for (1 .. 160) {
    $ok++ if $ua->post($n->url("/hunt/tap?session=$t"))->{status} == 200;
}
is $ok, 160, '160 taps, each keeping 64 KiB in Lua';

my $after = worker_metrics();
my $mib = 1024 * 1024;
cmp_ok $after->{coinhunt_lua_memory_bytes} - $before->{coinhunt_lua_memory_bytes},
       '>=', 10 * $mib, 'the Lua VM grew by 10 MiB or more';
cmp_ok $after->{coinhunt_heap_allocated_bytes} - $before->{coinhunt_heap_allocated_bytes},
       '>=', 10 * $mib, 'so did the bytes allocated in the heap';
SKIP: {
    # valgrind 3.19 replaces malloc but answers no mallinfo2(): 0 always
    skip 'valgrind has no mallinfo2()', 1 if $ENV{TEST_NGINX_USE_VALGRIND};
    cmp_ok $after->{coinhunt_heap_resident_bytes}, '>',
           $before->{coinhunt_heap_resident_bytes}, 'and the resident heap';
}
cmp_ok $after->{coinhunt_heap_allocations_total}, '>=',
       $before->{coinhunt_heap_allocations_total} + 160,
       'with a heap call for every big string';
$n->stop;

done_testing;
