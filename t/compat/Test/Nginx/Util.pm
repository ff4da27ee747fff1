package Test::Nginx::Util;

# Server management half of the Test::Nginx compatible subset: settings,
# nginx.conf generation, starting / reloading / stopping nginx and the
# per-block driver (run_tests / run_test).  See the POD at the end.

use strict;
use warnings;

our $VERSION = '0.29';

use base 'Exporter';

use POSIX qw( SIGQUIT SIGKILL SIGTERM SIGHUP SIGUSR1 WNOHANG );
use File::Spec ();
use File::Path qw( make_path remove_tree );
use File::Find qw( find );
use List::Util qw( shuffle );
use Time::HiRes qw( sleep time );
use Time::Local qw( timegm );
use IO::Socket::INET ();
use Carp qw( croak );
use Config ();
use Test::More ();
use File::Basename ();
use lib File::Spec->catdir(File::Basename::dirname(__FILE__),
                           qw(.. .. .. lib));
use CoinhuntSanitize ();

# ---------------------------------------------------------------------------
# Settings (names and defaults follow openresty/test-nginx)
# ---------------------------------------------------------------------------

our $ConfigVersion;
our $FilterHttpConfig;
our $NoLongString;
our $FirstTime = 1;

our $ReusePort      = $ENV{TEST_NGINX_REUSE_PORT};
our $UseHup         = $ENV{TEST_NGINX_USE_HUP};
our $Verbose        = $ENV{TEST_NGINX_VERBOSE};
our $NoNginxManager = $ENV{TEST_NGINX_NO_NGINX_MANAGER} || 0;
our $LoadModules    = $ENV{TEST_NGINX_LOAD_MODULES};
our $NoShuffle      = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $UseValgrind    = $ENV{TEST_NGINX_USE_VALGRIND};
our $EventType      = $ENV{TEST_NGINX_EVENT_TYPE};
our $PostponeOutput = $ENV{TEST_NGINX_POSTPONE_OUTPUT};
our $Timeout        = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $CheckAccumErrLog = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $Randomize      = $ENV{TEST_NGINX_RANDOMIZE};
our $WorkerUser     = $ENV{TEST_NGINX_WORKER_USER};

# Modes of the real Test::Nginx that this subset does not implement; the
# variables exist so that code peeking at them keeps working.
our $UseStap   = undef;
our $CheckLeak = 0;
our $Benchmark = 0;
our $BenchmarkWarmup = 0;

our $ServerAddr = '127.0.0.1';
our $ServerName = 'localhost';

our $NginxBinary          = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $Workers              = 1;
our $WorkerConnections    = 64;
our $LogLevel             = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $DaemonEnabled        = 'on';
our $ServerPort = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $NoRootLocation   = 0;
our $TestNginxSleep   = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $ForceRestartOnTest = defined $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST}
                          ? $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} : 1;
our $RepeatEach = 1;

if (defined $WorkerUser && $WorkerUser !~ /^\w+(?:\s+\w+)?$/) {
    die "Bad value in the env TEST_NGINX_WORKER_USER: $WorkerUser\n";
}

if ($UseValgrind) {
    # valgrind needs nginx in the foreground, as a child of this process
    $DaemonEnabled = 'off';
}

srand $$;

sub gen_rand_port (;$$);
sub bail_out (@);

our $ChildPid;          # nginx started in the foreground (valgrind mode)
our $InSubprocess;
our $NginxStartError;   # set when nginx could not be started for a block
our $TotalConnectingTimeouts = 0;
our @EnvToNginx;
our @CleanupHandlers;
our @BlockPreprocessors;
our $ConfigPreamble = '';
our ($RunTestHelper, $CheckErrorLog, $CheckShutdownErrorLog);
our ($NginxVersion, $NginxRawVersion, $OpenSSLVersion);
our ($PrevConfig, $PrevBlock);
our $ErrLogFilePos = 0;
our $StartedBy;         # the block that started the running nginx

if ($Randomize) {
    $ServerPort = gen_rand_port(1000)
        or die "Cannot find an available listening port number.\n";
    $ServerPortForClient = $ServerPort;
}

our $ServRoot = $Randomize
    ? File::Spec->rel2abs("t/servroot_$ServerPort")
    : File::Spec->rel2abs($ENV{TEST_NGINX_SERVROOT} || 't/servroot');
$ServRoot =~ s{/+$}{};
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = File::Spec->catfile($ServRoot, 'logs');
our $ErrLogFile = File::Spec->catfile($LogDir, 'error.log');
our $AccLogFile = File::Spec->catfile($LogDir, 'access.log');
our $HtmlDir    = File::Spec->catfile($ServRoot, 'html');
our $ConfDir    = File::Spec->catfile($ServRoot, 'conf');
our $ConfFile   = File::Spec->catfile($ConfDir, 'nginx.conf');
our $PidFile    = File::Spec->catfile($LogDir, 'nginx.pid');
our $StartupLog = File::Spec->catfile($LogDir, 'nginx-startup.out');

$ENV{TEST_NGINX_HTML_DIR} //= $HtmlDir;

our @EXPORT = qw(
    env_to_nginx is_str check_accum_error_log is_running
    $NoLongString no_long_string $ServerAddr server_addr
    $ServerName server_name parse_time $UseStap verbose sleep_time
    bail_out add_cleanup_handler access_log_data error_log_data
    setup_server_root write_config_file write_user_files
    get_canon_version get_nginx_version
    trim show_all_chars parse_headers run_tests run_test
    get_pid_from_pidfile expand_env_in_text
    $ServerPortForClient $ServerPort $NginxVersion $PidFile $ServRoot
    $ConfFile $ErrLogFile $HtmlDir $RunTestHelper $CheckErrorLog
    $CheckShutdownErrorLog $FilterHttpConfig $NoNginxManager $RepeatEach
    $CheckLeak $Benchmark $BenchmarkWarmup $NginxStartError
    $TotalConnectingTimeouts
    add_block_preprocessor timeout worker_connections workers
    master_on master_off config_preamble repeat_each
    master_process_enabled log_level no_shuffle no_root_location
    html_dir server_root server_port server_port_for_client
    no_nginx_manager use_hup
);

# ---------------------------------------------------------------------------
# Small setters / getters used from .t files
# ---------------------------------------------------------------------------

sub no_long_string ()       { $NoLongString = 1 }
sub no_shuffle ()           { $NoShuffle = 1 }
sub no_nginx_manager ()     { $NoNginxManager = 1 }
sub use_hup ()              { $UseHup = 1 }
sub no_root_location ()     { $NoRootLocation = 1 }
sub check_accum_error_log (){ $CheckAccumErrLog = 1 }
sub master_on ()            { $MasterProcessEnabled = 'on' }
sub master_off ()           { $MasterProcessEnabled = 'off' }
sub config_preamble ($)     { $ConfigPreamble = shift }
sub sleep_time              { $TestNginxSleep }
sub verbose                 { $Verbose }
sub html_dir ()             { $HtmlDir }
sub server_root ()          { $ServRoot }

sub server_addr (@)   { @_ ? ($ServerAddr = shift) : $ServerAddr }
sub server_name (@)   { @_ ? ($ServerName = shift) : $ServerName }
sub timeout (@)       { @_ ? ($Timeout = shift) : $Timeout }
sub server_port (@)   { @_ ? ($ServerPort = shift) : $ServerPort }
sub workers (@)       { @_ ? ($Workers = shift) : $Workers }
sub log_level (@)     { @_ ? ($LogLevel = shift) : $LogLevel }
sub worker_connections (@) {
    @_ ? ($WorkerConnections = shift) : $WorkerConnections;
}
sub server_port_for_client (@) {
    @_ ? ($ServerPortForClient = shift) : $ServerPortForClient;
}

sub repeat_each (@) {
    $RepeatEach = shift if @_;
    return $RepeatEach;
}

sub master_process_enabled (@) {
    if (@_) {
        $MasterProcessEnabled = shift() ? 'on' : 'off';
        return;
    }
    return $MasterProcessEnabled;
}

sub env_to_nginx (@) {
    croak "env_to_nginx: no arguments specified" if !@_;
    for my $v (@_) {
        if ($v !~ /^[A-Za-z_]/ || $v =~ /\n/) {
            croak "env_to_nginx: bad argument value: $v\n";
        }
        push @EnvToNginx, $v;
    }
}

sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($)    { unshift @CleanupHandlers, shift }

sub is_running ($) {
    my $pid = shift;
    return 0 if !defined $pid || $pid !~ /^\d+$/ || !kill(0, $pid);
    # an exited daemon stays a zombie until its (foreign) parent reaps it
    if (open my $fh, '<', "/proc/$pid/stat") {
        my $stat = <$fh> // '';
        close $fh;
        return 0 if $stat =~ /^\d+ \(.*\) Z /s;
    }
    return 1;
}

# String comparison honouring no_long_string() and Regexp expectations.
sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    if (ref $expected && ref $expected eq 'Regexp') {
        return Test::More::like($got, $expected, $desc);
    }
    return compare_strings($got, $expected, $desc);
}

# Test::LongString is not packaged in Debian; this gives a comparable
# diagnostic (first differing position plus a unified diff).
sub compare_strings {
    my ($got, $expected, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 2;
    if ($NoLongString || !defined $got || !defined $expected
        || $got eq $expected)
    {
        return Test::More::is($got, $expected, $desc);
    }
    my $ok = Test::More::ok(0, $desc);
    my $pos = 0;
    $pos++ while $pos < length($got) && $pos < length($expected)
                 && substr($got, $pos, 1) eq substr($expected, $pos, 1);
    Test::More::diag(sprintf "strings begin to differ at char %d "
        . "(got length %d, expected length %d)\n         got: \"%s\"\n"
        . "    expected: \"%s\"", $pos + 1, length $got, length $expected,
        show_all_chars(substr($got, $pos, 50)),
        show_all_chars(substr($expected, $pos, 50)));
    if ($got =~ /\n./s || $expected =~ /\n./s) {
        require Text::Diff;
        Test::More::diag(Text::Diff::diff(\$expected, \$got,
                         { STYLE => 'Unified' }));
    }
    return $ok;
}

sub parse_time ($) {
    my $tm = shift;
    if (defined $tm) {
        if ($tm =~ s/([^_a-zA-Z])ms$/$1/) {
            $tm = $tm / 1000;
        } else {
            $tm =~ s/([^_a-zA-Z])s$/$1/;
        }
    }
    return $tm;
}

sub trim ($) {
    my $s = shift;
    return undef if !defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /gs;
    $s =~ s/\s{2,}/ /gs;
    return $s;
}

sub show_all_chars ($) {
    my $s = shift;
    $s =~ s/\n/\\n/gs;
    $s =~ s/\r/\\r/gs;
    $s =~ s/\t/\\t/gs;
    return $s;
}

# "Name: value" lines -> { Name => value }; "!Name" -> { Name => undef }.
sub parse_headers ($) {
    my $s = shift;
    my %headers;
    for my $line (split /\n/, $s) {
        $line =~ s/^\s+|\s+$//g;
        if ($line =~ s/^!\s*//) {
            $headers{$line} = undef;
            next;
        }
        my ($key, $val) = split /\s*:\s*/, $line, 2;
        $headers{$key // ''} = $val;
    }
    return \%headers;
}

sub gen_rand_port (;$$) {
    my ($tries, $used) = @_;
    $tries //= 1000;
    $used //= {};
    for (1 .. $tries) {
        my $port = int(rand 63550) + 1985;
        next if $used->{$port};
        my $sock = IO::Socket::INET->new(LocalAddr => $ServerAddr,
                                         LocalPort => $port,
                                         Proto => 'tcp');
        if ($sock) {
            close $sock;
            return $port;
        }
    }
    return undef;
}

# Replaces $TEST_NGINX_FOO with $ENV{TEST_NGINX_FOO}; an undefined variable
# aborts the run as upstream does.  $TEST_NGINX_RAND_PORT_N picks a free port.
sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;
    return undef if !defined $text;
    $rand_ports //= {};
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        my $val;
        if ($var =~ /^TEST_NGINX_RAND_PORT_[0-9]+$/) {
            $val = $rand_ports->{$var} //= gen_rand_port(1000, {
                $ServerPort => 1, map { $_ => 1 } values %$rand_ports })
              // bail_out("$name - Cannot find an available listening port "
                          . "number for $var.\n");
        } else {
            bail_out("$name - No environment $var defined.\n")
                if !defined $ENV{$var};
            $val = $ENV{$var};
        }
        $val;
    }eg;
    return $text;
}

# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(@_);
}

sub get_pid_from_pidfile ($) {
    my ($name) = @_;
    open my $in, '<', $PidFile
        or bail_out("$name - Failed to open the pid file $PidFile for "
                    . "reading: $!");
    my $pid = do { local $/; <$in> };
    close $in;
    $pid //= '';
    $pid =~ s/\s+//g;
    return $pid;
}

sub read_pid_quietly {
    open my $in, '<', $PidFile or return undef;
    my $pid = do { local $/; <$in> } // '';
    close $in;
    $pid =~ s/\s+//g;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

sub reap ($) {
    my $pid = shift;
    waitpid($pid, WNOHANG) if defined $ChildPid && $pid == $ChildPid;
}

sub wait_for_exit ($$) {
    my ($pid, $secs) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        reap($pid);
        return 1 if !is_running($pid);
        sleep 0.01;
    }
    reap($pid);
    return !is_running($pid);
}

# QUIT (graceful), then TERM, then KILL, polling in between.
sub kill_process ($$$) {
    my ($pid, $wait, $name) = @_;
    return if !is_running($pid);

    if ($wait) {
        kill SIGQUIT, $pid;
        return if wait_for_exit($pid, timeout());
        warn "$name - timeout when waiting for the process $pid to exit\n";
    }

    kill SIGTERM, $pid;
    return if wait_for_exit($pid, 2);

    warn "$name - WARNING: killing the child process $pid with force...\n";
    if (getpgrp($pid) == $pid) {
        kill SIGKILL, -$pid;
    } else {
        kill SIGKILL, $pid;
    }
    wait_for_exit($pid, 2);
}

# Kills nginx processes left over by an earlier run on the same server root
# (matched by their "-p <servroot>/" command line argument).
sub kill_stale_nginx () {
    my $pid = read_pid_quietly();
    kill_process($pid, 1, 'stale nginx') if $pid && $pid != $$;

    opendir my $dh, '/proc' or return;
    my @pids = grep { /^\d+$/ && $_ != $$ } readdir $dh;
    closedir $dh;
    for my $p (@pids) {
        open my $fh, '<', "/proc/$p/cmdline" or next;
        my $cmd = do { local $/; <$fh> };
        close $fh;
        next if !defined $cmd || $cmd !~ /nginx/;
        $cmd =~ tr/\0/ /;
        next if $cmd !~ m{(?:^|\s)-p\s+\Q$ServRoot\E/?(?:\s|$)};
        warn "WARNING: killing leftover nginx process $p of $ServRoot\n";
        kill_process($p, 1, 'stale nginx');
    }
}

sub cleanup () {
    $_->() for @CleanupHandlers;
    if (defined $ChildPid) {
        kill_process($ChildPid, 1, 'cleanup');
        waitpid($ChildPid, WNOHANG);
        undef $ChildPid;
    }
}

# Stops nginx and waits for it (used after each block under valgrind, so
# that valgrind reports leaks per block, and at the end of the run).
sub stop_nginx ($) {
    my ($name) = @_;
    my $pid = read_pid_quietly() // $ChildPid;
    if (defined $pid && is_running($pid)) {
        kill_process($pid, 1, $name);
    }
    if (defined $ChildPid) {
        waitpid($ChildPid, WNOHANG);
        undef $ChildPid if !is_running($ChildPid);
    }
    unlink $PidFile if -f $PidFile;
    check_reports($name);
}

sub can_run {
    my ($cmd) = @_;
    if ($cmd =~ m{/}) {
        return -f $cmd && -x $cmd ? $cmd : undef;
    }
    for my $dir (split(/\Q$Config::Config{path_sep}\E/, $ENV{PATH} // ''),
                 '.')
    {
        next if $dir eq '';
        my $abs = File::Spec->catfile($dir, $cmd);
        return $abs if -f $abs && -x $abs;
    }
    return undef;
}

sub get_canon_version (@) {
    sprintf "%d.%03d%03d", $_[0], $_[1], $_[2];
}

sub get_canon_version_for_OpenSSL (@) {
    return sprintf "%d.%03d%03d%03d", $_[0], $_[1], $_[2], ord($_[3]) - ord('a')
        if defined $_[3];
    return get_canon_version(@_);
}

sub get_nginx_version () {
    my $bin = can_run($NginxBinary)
        or bail_out("Cannot find the nginx executable \"$NginxBinary\"");
    my $out = '';
    if (open my $fh, '-|') {
        local $/;
        $out = <$fh> // '';
        close $fh;
    } else {
        open STDERR, '>&', \*STDOUT;
        exec $bin, '-V' or POSIX::_exit(127);
    }
    if ($? != 0) {
        bail_out("Failed to get the version of the Nginx in PATH: $out");
    }
    if ($out =~ m{built with OpenSSL (\d+)\.(\d+)\.(\d+)([a-z])?}s) {
        $OpenSSLVersion = get_canon_version_for_OpenSSL($1, $2, $3, $4);
    }
    if ($out =~ m{(?:nginx|openresty)[^/]*/(\d+)\.(\d+)\.(\d+)}s
        || $out =~ m{\w+/(\d+)\.(\d+)\.(\d+)}s)
    {
        $NginxRawVersion = "$1.$2.$3";
        return get_canon_version($1, $2, $3);
    }
    bail_out("Failed to parse the output of \"nginx -V\": $out\n");
}

# ---------------------------------------------------------------------------
# Server root, user files and nginx.conf
# ---------------------------------------------------------------------------

sub setup_server_root ($) {
    my $first_time = shift;

    # (a first run's leftovers are an earlier run's, already reported)
    check_reports($0) if !$first_time;
    if (-d $ServRoot) {
        # only remove what we create, never arbitrary user data
        remove_tree($ConfDir, glob("$ServRoot/*_cache"),
                    glob("$ServRoot/*_temp"));
        if ($UseHup) {
            # nginx keeps running: remove files, keep the pid file
            find({ bydepth => 1, no_chdir => 1, wanted => sub {
                return if -d $_;
                return if !$first_time
                          && /(?:\bnginx\.pid|\.sock|\.crt|\.key)$/;
                unlink $_ or warn "Failed to remove $_: $!\n";
            } }, $ServRoot);
        } else {
            remove_tree($HtmlDir, $LogDir);
            rmdir $ServRoot
                or bail_out("Can't remove $ServRoot (not empty?): $!");
        }
    }

    for my $dir ($ServRoot, $LogDir, $HtmlDir) {
        next if -d $dir;
        make_path($dir) or bail_out("Failed to do mkdir $dir\n");
    }

    my $index = "$HtmlDir/index.html";
    open my $out, '>', $index
        or bail_out("Can't open $index for writing: $!\n");
    print $out '<html><head><title>It works!</title></head>'
               . '<body>It works!</body></html>';
    close $out;

    mkdir $ConfDir or bail_out("Failed to do mkdir $ConfDir\n");
}

# --- user_files: ">>> name [YYYYMMDDhhmm.ss]" headers, content below.
sub write_user_files ($$) {
    my ($block, $rand_ports) = @_;
    my $name = $block->name;
    my $files = $block->user_files;
    return if !$files;

    if (!ref $files) {
        my @list;
        my ($fname, $body, $date);
        for my $line (split /^/m, $files) {
            if ($line =~ />>> (\S+)(?:\s+(.+))?/) {
                push @list, [$fname, $body, $date] if $fname;
                ($fname, $date, $body) = ($1, $2, undef);
            } else {
                $body .= $line;
            }
        }
        push @list, [$fname, $body, $date] if $fname;
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: " . ref($files)
                 . ", only scalar or ARRAY are accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        $body //= '';
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/} && !-d $1) {
            make_path($1) or bail_out("$name - Cannot create directory $1");
        }
        $body = expand_env_in_text($body, $name, $rand_ports);
        open my $out, '>', $path
            or bail_out("$name - Cannot open $path for writing: $!\n");
        binmode $out;
        print $out $body;
        close $out;

        if ($date) {
            # touch -t format, interpreted as GMT like upstream
            $date =~ /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(?:\.(\d\d))?$/
                or bail_out("$name - bad user_files date: $date");
            my $t = timegm($6 // 0, $5, $4, $3, $2 - 1, $1);
            utime $t, $t, $path or bail_out("$name - utime $path: $!");
        }
    }
}

sub write_config_file ($$$) {
    my ($block, $config, $rand_ports) = @_;

    my $name = $block->name;
    my $http_config = $block->http_config;
    my $main_config = $block->main_config;
    my $post_main_config = $block->post_main_config;
    my $err_log_file = $block->error_log_file || $ErrLogFile;
    my $server_name = $block->server_name // $ServerName;

    master_on() if $UseHup;    # config reload is buggy when master is off

    $config //= '';
    $http_config = expand_env_in_text($http_config, $name, $rand_ports) // '';
    $http_config = $FilterHttpConfig->($http_config) if $FilterHttpConfig;
    $main_config = expand_env_in_text($main_config, $name, $rand_ports) // '';
    $post_main_config =
        expand_env_in_text($post_main_config, $name, $rand_ports) // '';

    my $postpone = $PostponeOutput;
    undef $postpone if $http_config =~ /\bpostpone_output\b/;
    if (defined $postpone && $postpone !~ /^\d+$/) {
        bail_out("Bad TEST_NGINX_POSTPONE_OUTPUT value: $postpone\n");
    }

    # Debian's nginx has absolute compiled-in temp paths under /var/lib/nginx;
    # keep everything inside the server root unless the test sets them.
    my $temp_paths = '';
    for my $kind (qw(client_body proxy fastcgi uwsgi scgi)) {
        next if $http_config =~ /\b${kind}_temp_path\b/;
        $temp_paths .= "    ${kind}_temp_path $ServRoot/${kind}_temp;\n";
    }

    my $load_modules = join '', map { "load_module $_;\n" }
                                grep { length } split /\s+/, $LoadModules // '';

    my $env_lines = '';
    for my $v (@EnvToNginx) {
        $env_lines .= $v =~ /\s/ ? "env '$v';\n" : "env $v;\n";
    }

    my $listen_opts = $ReusePort ? ' reuseport' : '';
    my $listen = "$ServerAddr:$ServerPort";
    $listen = "127.0.0.1:$ServerPort" if $ServerAddr !~ /^[\d.]+$/;

    my $root_location = $NoRootLocation ? '' : <<_EOC_;
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    my $hup_server = !$UseHup ? '' : <<_EOC_;
    server {
        listen          $listen$listen_opts;
        server_name     'Test-Nginx';

        location = /ver {
            return 200 '$ConfigVersion';
        }
    }
_EOC_

    my $extra_http = defined $postpone ? "    postpone_output $postpone;\n" : '';
    my $use_event = $EventType ? "    use $EventType;\n" : '';
    my $user = defined $WorkerUser ? "user $WorkerUser;\n"
             : $> == 0             ? "user root;\n"
             :                       '';

    open my $out, '>', $ConfFile
        or bail_out("Can't open $ConfFile for writing: $!\n");
    print $out <<_EOC_;
${load_modules}worker_processes  $Workers;
daemon $DaemonEnabled;
master_process $MasterProcessEnabled;
error_log $err_log_file $LogLevel;
pid       $PidFile;
env MOCKEAGAIN_VERBOSE;
env MOCKEAGAIN;
env MOCKEAGAIN_WRITE_TIMEOUT_PATTERN;
env LD_PRELOAD;
env LD_LIBRARY_PATH;
env DYLD_INSERT_LIBRARIES;
env DYLD_FORCE_FLAT_NAMESPACE;
$env_lines
$main_config

http {
    access_log $AccLogFile;

    default_type text/plain;
    keepalive_timeout  68;
$temp_paths$extra_http
$http_config

    server {
        listen          $listen$listen_opts;
        server_name     '$server_name';

        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
$hup_server}

$post_main_config

events {
    accept_mutex off;

    worker_connections  $WorkerConnections;
$use_event}
env ASAN_OPTIONS;
env MOCKNOEAGAIN_VERBOSE;
env MOCKNOEAGAIN;
$user
_EOC_
    close $out;
}

# ---------------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------------

# New error.log lines since the previous call within the current block
# (the whole file with check_accum_error_log()).
sub error_log_data () {
    # give nginx a moment for log-phase output written after the response
    sleep $TestNginxSleep * 3;

    open my $in, '<', $ErrLogFile or return [];
    seek $in, $ErrLogFilePos, 0 if !$CheckAccumErrLog && $ErrLogFilePos > 0;
    my @lines = <$in>;
    $ErrLogFilePos = tell $in if !$CheckAccumErrLog;
    close $in;
    return \@lines;
}

sub access_log_data () {
    sleep $TestNginxSleep * 3;
    open my $in, '<', $AccLogFile or return undef;
    my @lines = <$in>;
    close $in;
    return \@lines;
}

sub file_tail ($$) {
    my ($file, $n) = @_;
    open my $in, '<', $file or return '';
    my @lines = <$in>;
    close $in;
    splice @lines, 0, @lines - $n if @lines > $n;
    return join '', @lines;
}

sub check_prev_block_shutdown_error_log () {
    my $block = $PrevBlock;
    return if !defined $block || !defined $block->shutdown_error_log;
    my $dry_run = ($UseHup || $ENV{TEST_NGINX_NO_CLEAN}) ? 1 : 0;
    $CheckShutdownErrorLog->($block, $dry_run) if $CheckShutdownErrorLog;
}

sub check_if_missing_directives () {
    open my $in, '<', $ErrLogFile or return 0;
    while (<$in>) {
        return $1 if /\[emerg\] \S+?: unknown directive "([^"]+)"/;
    }
    return 0;
}

# ---------------------------------------------------------------------------
# Starting nginx
# ---------------------------------------------------------------------------

sub nginx_command () {
    my @cmd = ($NginxBinary, '-p', "$ServRoot/", '-c', 'conf/nginx.conf');
    # nginx >= 1.19.5: startup errors go to error.log like on a default build
    # (Debian's nginx is compiled with --error-log-path=stderr)
    push @cmd, '-e', $ErrLogFile
        if defined $NginxVersion && $NginxVersion >= 1.019005;

    unshift @cmd, CoinhuntSanitize::command_for(report_dir()) if $UseValgrind;
    return @cmd;
}

sub report_dir () { CoinhuntSanitize::report_dir($LogDir) }

# in the child about to exec nginx (TEST_NGINX_SANITIZE)
sub sanitizer_env () {
    my %env = CoinhuntSanitize::env_for(report_dir());
    @ENV{keys %env} = values %env;
}

# Sanitizer and valgrind reports of the nginx that just exited fail the
# block that started it.
sub check_reports ($) {
    my ($name) = @_;
    return if !-d $LogDir;
    my @reports = CoinhuntSanitize::reports(report_dir());
    return if !@reports;
    $name = $StartedBy // $name;
    Test::More::fail("$name - nginx wrote sanitizer or valgrind reports");
    Test::More::diag(join "\n", @reports);
}

# Runs nginx (which daemonizes) with stdout/stderr going to $StartupLog;
# returns the wait status.
sub run_daemon_start (@) {
    my @cmd = @_;
    my $pid = fork;
    bail_out("fork() failed: $!") if !defined $pid;
    if ($pid == 0) {
        $InSubprocess = 1;
        sanitizer_env();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $StartupLog or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT;
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        POSIX::_exit(127);
    }
    waitpid $pid, 0;
    return $?;
}

# Starts nginx in the foreground as our child (valgrind mode).
sub run_foreground_start (@) {
    my @cmd = @_;
    my $pid = fork;
    bail_out("fork() failed: $!") if !defined $pid;
    if ($pid == 0) {
        $InSubprocess = 1;
        sanitizer_env();
        setpgrp;
        my $tb = Test::More->builder;
        $tb->no_ending(1);
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        warn "exec @cmd failed: $!\n";
        POSIX::_exit(127);
    }
    $ChildPid = $pid;
    return $pid;
}

# Polls until nginx wrote its pid file; returns the pid or undef.
sub wait_for_pid_file ($$) {
    my ($secs, $child) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        my $pid = read_pid_quietly();
        return $pid if $pid && is_running($pid);
        if (defined $child && waitpid($child, WNOHANG) == $child) {
            undef $ChildPid;
            return undef;
        }
        sleep 0.01;
    }
    return undef;
}

sub report_start_failure ($$) {
    my ($name, $reason) = @_;
    $NginxStartError = $reason;
    Test::More::fail("$name - failed to start nginx: $reason");
    my $msg = "nginx command: " . join(' ', nginx_command()) . "\n";
    my $startup = file_tail($StartupLog, 20);
    $msg .= "--- nginx output:\n$startup" if $startup ne '';
    $msg .= "--- tail of $ErrLogFile:\n" . file_tail($ErrLogFile, 40);
    Test::More::diag($msg);
}

# Returns 1 when nginx runs, 0 after reporting a failure; for must_die
# blocks returns the raw wait status in $$status_ref.
sub start_nginx ($$) {
    my ($block, $status_ref) = @_;
    my $name = $block->name;
    my @cmd = nginx_command();
    $NginxStartError = undef;
    $StartedBy = $name;

    if ($UseValgrind && !$status_ref) {
        warn "$name\n";
        my $pid = run_foreground_start(@cmd);
        return 1 if wait_for_pid_file(60, $pid);
        report_start_failure($name, "nginx (under valgrind) exited early "
                             . "or wrote no pid file");
        stop_nginx($name);
        return 0;
    }

    # (no retry loop: nginx itself retries a busy listen address for ~2 s)
    my $status = run_daemon_start(@cmd);

    if ($status_ref) {
        $$status_ref = $status;
        return $status == 0;
    }

    if ($status != 0) {
        if ($ENV{TEST_NGINX_IGNORE_MISSING_DIRECTIVES}
            and my $directive = check_if_missing_directives())
        {
            return "the lack of directive $directive";
        }
        report_start_failure($name, "exit status " . ($status >> 8)
                             . ($status & 127 ? " (signal " . ($status & 127)
                                                . ")" : ''));
        return 0;
    }

    return 1 if wait_for_pid_file(10, undef);
    report_start_failure($name, "nginx exited right after start-up");
    return 0;
}

# HUP reload; 1 on success, 0 if nginx should be restarted instead.
sub reload_nginx ($$) {
    my ($block, $pid) = @_;
    my $name = $block->name;

    kill(SIGUSR1, $pid) or do { warn "$name - Failed to send USR1 signal\n";
                                return 0 };
    sleep $TestNginxSleep;
    kill(SIGHUP, $pid) or return 0;
    sleep $TestNginxSleep * 3;

    if (defined $block->reload_fails) {
        sleep 0.3;
    } else {
        wait_for_config_version($name);
    }
    return 1;
}

sub fetch_config_version () {
    my $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr,
                                     PeerPort => $ServerPort,
                                     Proto => 'tcp', Timeout => 2)
        or return undef;
    print $sock "GET /ver HTTP/1.0\r\nHost: Test-Nginx\r\n\r\n";
    my $resp = do { local $/; <$sock> } // '';
    close $sock;
    return $resp =~ /\r\n\r\n(.*)\z/s ? $1 : undef;
}

sub wait_for_config_version ($) {
    my ($name) = @_;
    my $nsucc = 0;
    my $deadline = time + 10;
    while (time < $deadline) {
        my $ver = fetch_config_version();
        if (defined $ver && $ver eq $ConfigVersion) {
            return if ++$nsucc >= 20;
            next;
        }
        $nsucc = 0;
        if (file_tail($ErrLogFile, 20) =~ /\[emerg\]/) {
            last;    # the new configuration was rejected
        }
        sleep $TestNginxSleep;
    }
    Test::More->builder->no_ending(1);
    Test::More::fail("$name - failed to reload configuration");
    Test::More::diag(file_tail($ErrLogFile, 20));
}

# ---------------------------------------------------------------------------
# Skip / todo sections
# ---------------------------------------------------------------------------

sub version_matches ($$) {
    my ($op, $ver) = @_;
    return 0 if !defined $NginxVersion;
    return eval "$NginxVersion $op $ver" ? 1 : 0;
}

# Returns ($should_skip, $tests_to_skip, $reason, $should_todo, $todo_reason).
sub skip_and_todo ($) {
    my ($block) = @_;
    my $name = $block->name;
    my ($skip, $count, $reason, $todo, $todo_reason);
    my $ver_re = qr/([<>]=?) \s* (\d+)\.(\d+)\.(\d+)/x;

    if (defined(my $spec = $block->skip_eval)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            ($count, $reason) = ($1, 'skip_eval');
            my $code = $2;
            $skip = eval $code;
            bail_out("$name - skip_eval - failed to eval the Perl code "
                     . "\"$code\": $@") if $@;
        }
    }

    if (defined(my $spec = $block->skip_nginx)) {
        $spec =~ /^\s*(\d+)\s*:\s*$ver_re(?:\s*:\s*(.*))?\s*$/
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        $count = $1;
        $reason = $6 || "nginx version $2 $3.$4.$5";
        my $ver = get_canon_version($3, $4, $5);
        $skip = 1 if (!defined $NginxVersion && $2 =~ /^</)
                     || version_matches($2, $ver);
    } elsif (defined(my $spec2 = $block->skip_nginx2)) {
        $spec2 =~ /^\s*(\d+)\s*:\s*$ver_re\s*(or|and)\s*$ver_re
                   (?:\s*:\s*(.*))?\s*$/x
            or bail_out("$name - Invalid --- skip_nginx2 spec: $spec2");
        $count = $1;
        $reason = $11;
        my $a = version_matches($2, get_canon_version($3, $4, $5));
        my $b = version_matches($7, get_canon_version($8, $9, $10));
        $skip = 1 if !defined $NginxVersion
                     || ($6 eq 'or' ? ($a || $b) : ($a && $b));
    }

    if (defined(my $spec = $block->skip_openssl)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)([a-z])?
                  (?:\s*:\s*(.*))?\s*$/x
            or bail_out("$name - Invalid --- skip_openssl spec: $spec");
        $count = $1;
        $reason = $7 || "OpenSSL version $2 $3.$4.$5" . ($6 // '');
        my $ver = get_canon_version_for_OpenSSL($3, $4, $5, $6);
        $skip = 1 if !defined $OpenSSLVersion
                     || eval "$OpenSSLVersion $2 $ver";
    }

    if (defined(my $spec = $block->todo)) {
        $spec =~ /^\s*(\d+)\s*:\s*(.*)/s
            or bail_out("$name - Invalid --- todo spec: $spec");
        ($todo, $count, $todo_reason) = (1, $1, $2);
    }

    return ($skip, $count, $reason // 'various reasons',
            $todo, $todo_reason // 'various reasons');
}

# ---------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------

sub run_tests () {
    $NginxVersion = get_nginx_version();
    $ENV{TEST_NGINX_SERVER_PORT} //= $ServerPort;

    kill_stale_nginx() if !$NoNginxManager;

    # exit through END (which stops nginx) when interrupted
    for my $sig (qw(INT TERM)) {
        next if defined $SIG{$sig} && $SIG{$sig} ne 'DEFAULT';
        $SIG{$sig} = sub {
            Test::More::diag("caught SIG$_[0], stopping nginx");
            exit 1;
        };
    }

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks if !$NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value('name', "$0 " . $block->name);
        run_test($block);
        $PrevBlock = $block;
    }

    cleanup();
}

sub run_test ($) {
    my $block = shift;
    return if defined $block->SKIP;

    my $name = $block->name;
    my $first_time = $FirstTime;
    undef $FirstTime;

    my $rand_ports = {};
    my $config = expand_env_in_text($block->config, $name, $rand_ports);
    my $dry_run = 0;

    local $LogLevel = $block->log_level || $LogLevel;
    local $UseValgrind = $UseValgrind;
    local $UseHup = $UseHup;

    my $must_die = $block->must_die;
    if (defined $must_die) {
        undef $UseValgrind;
        undef $UseHup;
    }

    # a block without "--- config" reuses the running server as is
    my $should_restart = 0;
    if (!$NoNginxManager) {
        if (!defined $config) {
            bail_out("$name - No '--- config' section specified and could "
                     . "not get previous one. Use TEST_NGINX_NO_NGINX_MANAGER ?")
                if !defined $PrevConfig;
        } elsif (!defined $PrevConfig || $config ne $PrevConfig
                 || $ForceRestartOnTest)
        {
            $should_restart = 1;
        }
    } elsif (defined $config) {
        Test::More::diag("NO_NGINX_MANAGER activated: config for $name ignored");
    }

    my ($should_skip, $tests_to_skip, $skip_reason, $should_todo,
        $todo_reason) = skip_and_todo($block);

    if ($should_restart && !$should_skip) {
        $ConfigVersion = join '', map { ('A'..'Z', 'a'..'z', 0..9)[rand 62] }
                                  1 .. 10
            if $UseHup;
        $PrevConfig = $config;

        my $reloaded;
        my $pid = read_pid_quietly();
        if ($pid && is_running($pid)) {
            if ($UseHup && !$first_time) {
                setup_server_root(0);
                write_user_files($block, $rand_ports);
                write_config_file($block, $config, $rand_ports);
                $reloaded = reload_nginx($block, $pid);
                check_prev_block_shutdown_error_log() if $reloaded;
            }
            if (!$reloaded) {
                kill_process($pid, 1, $name);
                stop_nginx($name);
            }
        } elsif (-f $PidFile) {
            unlink $PidFile;
        }

        if (!$reloaded) {
            check_prev_block_shutdown_error_log();
            setup_server_root($first_time);
            write_user_files($block, $rand_ports);
            write_config_file($block, $config, $rand_ports);
            can_run($NginxBinary)
                or bail_out("$name - Cannot find the nginx executable "
                            . "in the PATH environment");
            $ErrLogFilePos = 0;

            if (defined $must_die) {
                run_must_die($block, $must_die);
                return;
            }

            my $started = start_nginx($block, undef);
            $dry_run = $started if $started && $started ne '1';
        }
    }

    if ($block->init) {
        eval $block->init;
        bail_out("$name - init failed: $@") if $@;
    }

    $ErrLogFilePos = 0;
    for my $i (1 .. $RepeatEach) {
        write_user_files($block, $rand_ports) if $i > 1;

        if ($should_skip && defined $tests_to_skip) {
            SKIP: {
                Test::More::skip("$name - $skip_reason", $tests_to_skip);
                $RunTestHelper->($block, $dry_run, $i - 1);
            }
        } elsif ($should_todo) {
            TODO: {
                Test::More::todo_skip("$name - $todo_reason", $tests_to_skip);
                $RunTestHelper->($block, $dry_run, $i - 1);
            }
        } else {
            $RunTestHelper->($block, $dry_run, $i - 1);
        }
    }

    if (my $total_errlog = $ENV{TEST_NGINX_ERROR_LOG}) {
        if (-s $ErrLogFile && open my $out, '>>', $total_errlog) {
            print $out "\n=== $0 $name\n";
            if (open my $in, '<', $ErrLogFile) {
                print $out $_ while <$in>;
                close $in;
            }
            close $out;
        }
    }

    # under valgrind, stop nginx after each block so that leaks get reported
    stop_nginx($name) if $UseValgrind && !$UseHup;
}

# "--- must_die": nginx has to refuse to start (optionally with an exit code).
sub run_must_die ($$) {
    my ($block, $must_die) = @_;
    my $name = $block->name;
    for my $i (0 .. $RepeatEach - 1) {
        my $status;
        start_nginx($block, \$status);
        my $exit_code = $status >> 8;
        if ($status == -1) {
            Test::More::fail("$name - failed to execute the nginx command line");
        } elsif ($status & 128) {
            Test::More::fail("$name - nginx core dumped");
        } elsif ($must_die =~ /^\s*\d+\s*$/) {
            Test::More::is($must_die, $exit_code,
                           "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }

        $CheckErrorLog->($block, undef, 0, $i, 0);

        if ($status == 0) {
            warn "WARNING: $name - nginx must die but it does not; "
                 . "killing it (req $i)\n";
            wait_for_pid_file(1, undef);
            stop_nginx($name);
        }
        check_reports($name);
    }
}

END {
    return if $InSubprocess;
    local $?;    # keep the exit status Test::Builder is about to set

    cleanup();

    if ($UseValgrind || !$ENV{TEST_NGINX_NO_CLEAN}) {
        my $pid = read_pid_quietly();
        if (defined $pid && is_running($pid)) {
            kill_process($pid, 1, 'END');
        }
        unlink $PidFile if defined $PidFile && -f $PidFile;
    }
    check_reports($0);

    check_prev_block_shutdown_error_log();

    if ($Randomize && defined $ServRoot && $ServRoot =~ m{/t/servroot_\d+$}) {
        remove_tree($ServRoot);
    }
}

1;
__END__

=encoding utf-8

=head1 NAME

Test::Nginx::Util - server management for the project's Test::Nginx subset

=head1 DESCRIPTION

This is the nginx-management half of a compatible subset of
L<Test::Nginx::Socket> (L<https://github.com/openresty/test-nginx>), which
Debian does not package.  It follows upstream's F<lib/Test/Nginx/Util.pm>
semantics: setting functions, F<nginx.conf> layout, per-block restart (or
C<HUP> reload with C<TEST_NGINX_USE_HUP>), C<$TEST_NGINX_*> expansion,
C<user_files>, the error-log position tracking and C<repeat_each>.

Differences from upstream, all on the side of robustness:

=over

=item * nginx listens on C<127.0.0.1:$port> only, and gets its temp paths
inside the server root (Debian's binary has absolute ones under
F</var/lib/nginx>).

=item * C<load_module> lines from C<TEST_NGINX_LOAD_MODULES> come first in
F<nginx.conf>, one per line.

=item * nginx gets C<-e logs/error.log> so start-up errors land in
F<error.log> as on a default build.

=item * If nginx does not start, the block gets an extra failing test with
the error log in the diagnostics (upstream retries for 30 s, then
bails out of the whole run).

=item * Leftover nginx processes of the same server root are killed at start,
and the start-up waits for the pid file instead of a fixed sleep.

=back

Test files use it through L<Test::Nginx::Socket>; see there for the list
of what is supported.

=cut
