# A session keeps the rules it joined with across a reload that names the
# rules files in another order: after a new file comes first, the session
# that joined under a.lua still expires through a.lua's on_expire, run by
# the new worker.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http);
use Test::More;

my %files;
for my $name (qw(a b)) {
    $files{"$name.lua"} = <<"LUA";
local coinhunt = require "coinhunt"
return {
  on_tap = function() end,
  on_expire = function(s) coinhunt.log("expired by $name: ", s.player) end,
}
LUA
}

my $http = <<'CONF';
    coinhunt_zone order 1m;
    coinhunt_session_ttl 2s;
    server {
        listen 127.0.0.1:$PORT;
%s
        location = /a/session { coinhunt_rules a.lua; coinhunt session; }
    }
CONF
my $b = '        location = /b/session { coinhunt_rules b.lua; coinhunt session; }';

my $n = Coinhunt::Nginx->start(files => \%files, conf => sprintf($http, ''));
my ($st) = http(POST => $n->url('/a/session?player=early'));
is $st, 201, 'a player joins under a.lua';

my @new = $n->reload(conf => sprintf($http, $b));
($st) = http(POST => $n->url('/b/session?player=late'));
is $st, 201, 'after a reload that names b.lua first, another joins under b.lua';

ok Coinhunt::wait_for(15, sub {
        $n->error_log =~ /expired by a: early/
        && $n->error_log =~ /expired by b: late/ }),
   'both sessions expired';
my $log = $n->error_log;
my ($pid) = $log =~ /(\d+)#\d+: .*coinhunt rules: expired by a: early/;
ok((grep { $_ == ($pid // 0) } @new), '  the first by a new worker');
unlike $log, qr/expired by b: early/, '  through the rules it joined with';
unlike $log, qr/expired by a: late/, '  and the second through its own';

$n->stop;
done_testing;
