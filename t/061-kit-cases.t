# The shared cases (t/cases/*.json) against the designer's test kit, run
# by luajit as a designer runs it; t/062-kit-cases-nginx.t runs the same
# cases against nginx, so the kit cannot drift from the module.

use strict;
use warnings;
use lib 't/lib';
use JSON::PP ();
use Test::More;
use CoinhuntCases;

system('luajit -v >/dev/null 2>&1') == 0
    or BAIL_OUT('no luajit: "make deps" installs Debian\'s luajit2');

my ($files, $cases) = CoinhuntCases::planned();

for my $file (@$files) {
    my $out = qx(luajit lua/coinhunt/cases.lua $file);
    my $results = eval { JSON::PP->new->decode($out)->{cases} } // [];
    diag("lua/coinhunt/cases.lua $file: exit $?, printed:\n$out") if $?;
    my $i = 0;
    for my $case (@{ $cases->{$file} }) {
        CoinhuntCases::check($file, $case, $results->[$i++]
                             // { error => 'the kit gave no result' });
    }
}
