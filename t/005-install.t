# "make install" into a scratch root lays the module out as Debian's own
# libnginx-mod-* packages do, and its "nginx -t" loads the installed .so;
# "make uninstall" takes it all away again.

use strict;
use warnings;
use File::Temp qw(tempdir);
use Test::More;

my $root = tempdir('coinhunt-destdir-XXXXXX', TMPDIR => 1, CLEANUP => 1);
# the plain build, also when "make test SANITIZE=1" runs this file
my $make = 'make -s SANITIZE= VALGRIND=';
my $out = `$make install DESTDIR=$root 2>&1`;
is $?, 0, 'make install DESTDIR= succeeds' or diag $out;
like $out, qr/test is successful/, 'and ends with a passing nginx -t';

my $so = "$root/usr/lib/nginx/modules/ngx_http_coinhunt_module.so";
ok -f $so, 'the module is in /usr/lib/nginx/modules';

my $available = "$root/usr/share/nginx/modules-available/mod-http-coinhunt.conf";
open my $fh, '<', $available or die "$available: $!";
is scalar(<$fh>),
   "load_module /usr/lib/nginx/modules/ngx_http_coinhunt_module.so;\n",
   'modules-available holds the load_module line';

my $enabled = "$root/etc/nginx/modules-enabled/50-mod-http-coinhunt.conf";
is readlink($enabled), '/usr/share/nginx/modules-available/mod-http-coinhunt.conf',
   'modules-enabled links to it';

my $dropin = "$root/etc/systemd/system/nginx.service.d/coinhunt-glibc-tunables.conf";
open $fh, '<', $dropin or die "$dropin: $!";
is do { local $/; <$fh> },
   "[Service]\nEnvironment=GLIBC_TUNABLES=glibc.rtld.optional_static_tls=4096\n",
   'the systemd drop-in sets GLIBC_TUNABLES';

$out = `$make uninstall DESTDIR=$root 2>&1`;
is $?, 0, 'make uninstall succeeds' or diag $out;
ok !-e $_ && !-l $_, "removed: $_" for $so, $available, $enabled, $dropin;

done_testing;
