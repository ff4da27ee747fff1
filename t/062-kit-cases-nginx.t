# The shared cases (t/cases/*.json) against a real nginx with the module,
# each case on a fresh one (its own zone, its own dice); the same checks as
# t/061-kit-cases.t makes of the kit.  A case marked "kit_only" tests what
# the module does not do yet: it is skipped here, with its reason.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Coinhunt;
use CoinhuntCases;

my ($files, $cases) = CoinhuntCases::planned();

for my $file (@$files) {
    for my $case (@{ $cases->{$file} }) {
        SKIP: {
            skip "$file: $case->{name}: kit only ($case->{kit_only})",
                 CoinhuntCases::count([$case]) if $case->{kit_only};
            my $result = eval { CoinhuntCases::nginx_run($case) }
                // { error => "nginx: $@" };
            CoinhuntCases::check($file, $case, $result);
        }
    }
}
