# tools/layers, the check of DESIGN.md's layers that "make test" runs on the
# module's objects: it passes on the module as built, and fails, naming the
# files and the symbol, on each kind of violation planted in a copy of it
# (an upward call, a sideways one between peers, two files using each
# other, a longer cycle, a folder that is no layer).

use strict;
use warnings;
use File::Copy qw(copy);
use File::Find;
use File::Path qw(make_path);
use File::Spec;
use File::Temp qw(tempdir);
use Test::More;

my $SRC = 'ngx_coinhunt_module';

# the objects of the build this pass loaded (build/objs-<variant>)
my ($objs) = grep { -d } map { "build/objs-$_" }
                         ($ENV{TEST_COINHUNT_VARIANT} // 'jemalloc');

plan skip_all => 'no objects of the module under build/ (make build)'
    unless defined $objs;

sub layers {
    my ($src, $dir) = @_;
    my $out = `tools/layers $src $dir 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = layers($SRC, $objs);
is($rc, 0, 'the module as built passes') or diag($out);
like($out, qr/^layers: \d+ files in \d+ layers, every dependency points down$/m,
     'and says how many files it checked');

# a copy of the sources' layout and objects, plus planted files
sub copy_tree {
    my $root = tempdir(CLEANUP => 1);

    find({ no_chdir => 1, wanted => sub {
        return unless /\.c$/;
        (my $rel = $File::Find::name) =~ s{^\Q$SRC\E/}{};
        make_path("$root/src/" . ($rel =~ m{^(.*)/} ? $1 : ''));
        copy($File::Find::name, "$root/src/$rel") or die $!;
    }}, $SRC);

    find({ no_chdir => 1, wanted => sub {
        return unless m{/(ngx_http_coinhunt_[^/]+\.o)$};
        make_path("$root/objs");
        symlink(File::Spec->rel2abs($File::Find::name), "$root/objs/$1")
            or die $!;
    }}, $objs);

    return $root;
}

# a file of the copy, and its object, that calls the named functions
sub plant {
    my ($root, $rel, $name, @calls) = @_;
    my $c = "$root/src/$rel";

    make_path($1) if $c =~ m{^(.*)/};
    open my $fh, '>', $c or die $!;
    print $fh "void $_(void);\n" for @calls;
    print $fh "void $name(void) {\n", (map { "    $_();\n" } @calls), "}\n";
    close $fh;

    (my $o = $rel) =~ s{.*/}{};
    $o =~ s/\.c$/.o/;
    system('cc', '-c', '-o', "$root/objs/$o", $c) == 0 or die "cc $c";
}

# a global function defined by the object of a file in the folder
sub defined_in {
    my ($folder) = @_;
    my @files = glob("$SRC/$folder/*.c");

    for my $c (@files) {
        (my $o = $c) =~ s{.*/}{};
        $o =~ s/\.c$/.o/;
        my ($obj) = glob("$objs/addon/$folder/$o");
        next unless defined $obj;
        for (`nm --defined-only $obj`) {
            next unless /\sT\s(ngx_http_coinhunt_\w+)$/;
            my $fn = $1;
            return ($fn, $c =~ s{^\Q$SRC\E/}{}r);
        }
    }

    die "no function defined in $SRC/$folder/";
}

my ($http_fn, $http_file) = defined_in('http');
my ($redis_fn, $redis_file) = defined_in('redis');

my $root = copy_tree();
plant($root, 'util/ngx_http_coinhunt_planted.c', 'ngx_http_coinhunt_planted',
      $http_fn);
($rc, $out) = layers("$root/src", "$root/objs");
is($rc, 1, 'an upward call from util/ to http/ fails');
like($out, qr{^layers: util/ngx_http_coinhunt_planted\.c -> \Q$http_file\E: \Q$http_fn\E \(a call upward}m,
     'naming both files and the symbol') or diag($out);

$root = copy_tree();
plant($root, 'lua/ngx_http_coinhunt_planted.c', 'ngx_http_coinhunt_planted',
      $redis_fn);
($rc, $out) = layers("$root/src", "$root/objs");
is($rc, 1, 'a call from lua/ to its peer redis/ fails');
like($out, qr{^layers: lua/ngx_http_coinhunt_planted\.c -> \Q$redis_file\E: \Q$redis_fn\E}m,
     'naming both') or diag($out);

$root = copy_tree();
plant($root, 'state/ngx_http_coinhunt_planted_a.c', 'ngx_http_coinhunt_pa',
      'ngx_http_coinhunt_pb');
plant($root, 'state/ngx_http_coinhunt_planted_b.c', 'ngx_http_coinhunt_pb',
      'ngx_http_coinhunt_pa');
($rc, $out) = layers("$root/src", "$root/objs");
is($rc, 1, 'two files of one layer that use each other fail');
like($out, qr{^layers: two files depend on each other: state/ngx_http_coinhunt_planted_a\.c -> state/ngx_http_coinhunt_planted_b\.c: ngx_http_coinhunt_pb; state/ngx_http_coinhunt_planted_b\.c -> state/ngx_http_coinhunt_planted_a\.c: ngx_http_coinhunt_pa$}m,
     'naming the pair and the symbols') or diag($out);

$root = copy_tree();
plant($root, 'shm/ngx_http_coinhunt_planted_a.c', 'ngx_http_coinhunt_pa',
      'ngx_http_coinhunt_pb');
plant($root, 'shm/ngx_http_coinhunt_planted_b.c', 'ngx_http_coinhunt_pb',
      'ngx_http_coinhunt_pc');
plant($root, 'shm/ngx_http_coinhunt_planted_c.c', 'ngx_http_coinhunt_pc',
      'ngx_http_coinhunt_pa');
($rc, $out) = layers("$root/src", "$root/objs");
is($rc, 1, 'a cycle of three files fails');
like($out, qr{^layers: a cycle of 3 files: shm/ngx_http_coinhunt_planted_a\.c -> shm/ngx_http_coinhunt_planted_b\.c: ngx_http_coinhunt_pb; .* -> shm/ngx_http_coinhunt_planted_a\.c: ngx_http_coinhunt_pa$}m,
     'naming its edges') or diag($out);

$root = copy_tree();
plant($root, 'misc/ngx_http_coinhunt_planted.c', 'ngx_http_coinhunt_planted');
($rc, $out) = layers("$root/src", "$root/objs");
is($rc, 1, 'a source folder that is no layer fails');
like($out, qr{^layers: misc/ngx_http_coinhunt_planted\.c: "misc/" is not a layer}m,
     'naming the file') or diag($out);

$root = copy_tree();
unlink "$root/objs/ngx_http_coinhunt_module.o" or die $!;
($rc, $out) = layers("$root/src", "$root/objs");
is($rc, 2, 'a missing object cannot be checked (status 2)');
like($out, qr{no object of ngx_http_coinhunt_module\.c}, 'and says so');

done_testing();
