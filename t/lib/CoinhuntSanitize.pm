package CoinhuntSanitize;

# The sanitizer and valgrind modes of the suites, one place for the compat
# Test::Nginx runner and Coinhunt::Nginx (README: Sanitizers and valgrind):
#   TEST_NGINX_SANITIZE="libasan.so libubsan.so"  these runtimes are
#       preloaded into nginx (Debian's binary is not instrumented); ASan,
#       UBSan and LeakSanitizer write their reports to files in a log dir
#   TEST_NGINX_USE_VALGRIND=1 (or valgrind options)  nginx runs under
#       valgrind, which writes its reports to files in a log dir
#   env_for($dir)      the environment nginx starts with (name => value)
#   command_for($dir)  the words that go before the nginx command
#   reports($dir)      the reports written there since the last call
#   report_dir($logs)  a report dir under $logs that workers can write to

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);

my $supp = abs_path(dirname(__FILE__) . '/../sanitize');

sub sanitize { return $ENV{TEST_NGINX_SANITIZE} }

sub valgrind { return $ENV{TEST_NGINX_USE_VALGRIND} }

# workers run as another user (nobody) when the suite runs as root
sub report_dir {
    my ($logs) = @_;
    my $dir = "$logs/reports";
    mkdir $dir;
    chmod 01777, $dir;
    return $dir;
}

sub env_for {
    my ($dir) = @_;
    return () unless sanitize();
    # the modules too: nginx unloads them before LeakSanitizer runs at
    # exit, which would leave their frames without a name
    return (
        LD_PRELOAD => join(' ', sanitize(), $ENV{TEST_NGINX_LOAD_MODULES} // (),
                           $ENV{LD_PRELOAD} // ()),
        ASAN_OPTIONS => join(':', "log_path=$dir/asan", 'halt_on_error=1',
                             'abort_on_error=1', 'detect_leaks=1',
                             'fast_unwind_on_malloc=0',
                             'check_initialization_order=1',
                             'detect_stack_use_after_return=1'),
        # leaks fail a test through our_leaks(), not through nginx's exit
        # code (errors abort: a signal, whatever the exit code)
        LSAN_OPTIONS => 'exitcode=0',
        UBSAN_OPTIONS => join(':', "log_path=$dir/ubsan", 'print_stacktrace=1',
                              'halt_on_error=1', 'abort_on_error=1'),
    );
}

# upstream Test::Nginx's options (a number) or the user's own, and always
# a log file a process, so that reports can be found and fail the test
sub command_for {
    my ($dir) = @_;
    my $vg = valgrind() or return ();
    # symbols of the modules nginx unloads before exit stay for the leaks
    my @cmd = ('valgrind', '-q', "--log-file=$dir/valgrind.%p",
               '--keep-debuginfo=yes');
    if ($vg =~ /^\d+$/) {
        push @cmd, qw(--num-callers=100 --tool=memcheck --leak-check=full
                      --show-possibly-lost=no --errors-for-leak-kinds=definite
                      --gen-suppressions=all),
                   "--suppressions=$supp/valgrind.supp";
        push @cmd, '--suppressions=valgrind.suppress' if -f 'valgrind.suppress';
    } else {
        push @cmd, split ' ', $vg;
    }
    return @cmd;
}

# LeakSanitizer's records whose allocation stack has no frame of our module
# are nginx core's own (uninstrumented nginx frees neither its connection
# nor its event arrays at exit, for one), and its suppressions cannot say
# "not under our frames": such records are dropped here, all others kept
sub our_leaks {
    my ($text) = @_;
    return $text if $text !~ /ERROR: LeakSanitizer: detected memory leaks/;
    my @chunks = grep { /\S/ } split /\n\n+/, $text;
    my @leaks = grep { /^(?:Direct|Indirect) leak of / } @chunks;
    my $meta = qr/^(?:SUMMARY: |\s*=+\n==\d+==ERROR: LeakSanitizer)/;
    return $text if grep { !/^(?:Direct|Indirect) leak of / && !/$meta/ }
                         @chunks;
    return join "\n\n", grep { m{ngx_coinhunt_module/|\bngx_http_coinhunt_} }
                            @leaks;
}

# each report file once (it is renamed when read), less nginx core's leaks
sub reports {
    my ($dir) = @_;
    my @found;
    for my $f (sort glob "$dir/asan.* $dir/ubsan.* $dir/valgrind.*") {
        next if $f =~ /\.seen$/ || !-s $f;
        open my $fh, '<', $f or next;
        my $text = our_leaks(do { local $/; <$fh> });
        close $fh;
        rename $f, "$f.seen";
        push @found, "--- $f\n$text" if $text ne '';
    }
    return @found;
}

1;
