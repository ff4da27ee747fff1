package Coinhunt;

# Helpers for the coinhunt suites:
#   token($secret, $slot, $gen, $player, $hunt)  the token coinhunt hands
#                                 out for the session of $player in $hunt
#                                 (default "default") at a slot and
#                                 generation when coinhunt_secret is $secret
#                                 (SipHash-2-4, computed independently here)
#   board($hunt, player => score, ...)  the start of a leaderboard answer
#   free_port()                   a free TCP port on 127.0.0.1
#   Coinhunt::Nginx->start(%opt)  a whole nginx instance of our own, for tests
#                                 that need several nodes or signals; ->stop;
#                                 in its configuration, a line
#                                 "hunt_locations;" is the locations of every
#                                 handler at /hunt/<action> (locations()), and
#                                 "hunt_locations pid;" adds X-Pid to each
#   http($method, $url, %opt)     one HTTP request, returns (status, body, hdrs)
#   metric($nginx, $name)         an unlabelled metric of a Coinhunt::Nginx
#   wait_for($seconds, $cond)     polls $cond until it holds or time is up

use strict;
use warnings;
no warnings 'portable';

use Exporter 'import';
use HTTP::Tiny;
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64);
use POSIX ();
use Time::HiRes qw(sleep time);
use CoinhuntSanitize ();

our @EXPORT_OK = qw(token free_port http wait_port
                    nginx_binary load_modules metric wait_for);

my $MASK = 0xffffffffffffffff;

sub _rotl {
    my ($x, $b) = @_;
    return (($x << $b) | ($x >> (64 - $b))) & $MASK;
}

# 64-bit wrapping addition in 32-bit halves: Perl's + would go to floats
sub _add {
    my ($a, $b) = @_;
    my $lo = ($a & 0xffffffff) + ($b & 0xffffffff);
    my $hi = ($a >> 32) + ($b >> 32) + ($lo >> 32);
    return (($hi & 0xffffffff) << 32) | ($lo & 0xffffffff);
}

sub _round {
    my ($v) = @_;
    $v->[0] = _add($v->[0], $v->[1]); $v->[1] = _rotl($v->[1], 13);
    $v->[1] ^= $v->[0]; $v->[0] = _rotl($v->[0], 32);
    $v->[2] = _add($v->[2], $v->[3]); $v->[3] = _rotl($v->[3], 16);
    $v->[3] ^= $v->[2];
    $v->[0] = _add($v->[0], $v->[3]); $v->[3] = _rotl($v->[3], 21);
    $v->[3] ^= $v->[0];
    $v->[2] = _add($v->[2], $v->[1]); $v->[1] = _rotl($v->[1], 17);
    $v->[1] ^= $v->[2]; $v->[2] = _rotl($v->[2], 32);
}

# SipHash-2-4 of $in under the 16-byte $key
sub siphash {
    my ($key, $in) = @_;
    my ($k0, $k1) = unpack 'Q<Q<', $key;
    my @v = ($k0 ^ 0x736f6d6570736575, $k1 ^ 0x646f72616e646f6d,
             $k0 ^ 0x6c7967656e657261, $k1 ^ 0x7465646279746573);
    my $len = length $in;
    my $i = 0;
    for (; $i + 8 <= $len; $i += 8) {
        my $m = unpack 'Q<', substr($in, $i, 8);
        $v[3] ^= $m; _round(\@v); _round(\@v); $v[0] ^= $m;
    }
    my $tail = substr($in, $i) . "\0" x 8;
    my $b = (unpack('Q<', substr($tail, 0, 8))
             & ((1 << (8 * ($len - $i))) - 1)) | (($len & 0xff) << 56);
    $v[3] ^= $b; _round(\@v); _round(\@v); $v[0] ^= $b;
    $v[2] ^= 0xff;
    _round(\@v) for 1 .. 4;
    return $v[0] ^ $v[1] ^ $v[2] ^ $v[3];
}

sub token_key {
    my ($secret) = @_;
    require Digest::SHA;
    return substr(Digest::SHA::sha1("coinhunt token key:" . $secret), 0, 16);
}

sub token {
    my ($secret, $slot, $gen, $player, $hunt) = @_;
    defined $player or die "token(): which player?";
    $hunt //= 'default';
    my $raw = pack 'V V', $slot, $gen;
    $raw .= pack 'Q<', siphash(token_key($secret),
                               $raw . chr(length $hunt) . $hunt . $player);
    my $t = encode_base64($raw, '');
    $t =~ tr{+/}{-_};
    $t =~ s/=+$//;
    return $t;
}

# the start of a leaderboard answer: board($hunt, player => score, ...)
sub board {
    my ($hunt, @rows) = @_;
    my $i = 0;
    my @top;
    while (my ($p, $s) = splice @rows, 0, 2) {
        $i++;
        push @top, qq({"rank":$i,"player":"$p","score":$s});
    }
    return qq({"hunt":"$hunt","top":[) . join(',', @top) . ']';
}

# the handlers' locations, as conf/nginx.conf places them
my @ACTIONS = qw(session tap end leaderboard metrics);

sub locations {
    my ($indent, $pid) = @_;
    my $extra = $pid ? ' add_header X-Pid $pid always;' : '';
    return join '', map { "${indent}location = /hunt/$_ { coinhunt $_;$extra }\n" }
                    @ACTIONS;
}

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, Proto => 'tcp')
        or die "no free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub wait_port {
    my ($port, $timeout) = @_;
    my $until = time + ($timeout // 10);
    while (time < $until) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port");
        return 1 if $s;
        sleep 0.05;
    }
    return 0;
}

sub nginx_binary { return $ENV{TEST_NGINX_BINARY} || 'nginx' }

# nginx @args as the suite runs it (under valgrind or with the sanitizer
# runtimes, their reports written to $logs/reports): (wait status, output)
sub run_nginx {
    my ($logs, @args) = @_;
    my $dir = CoinhuntSanitize::report_dir($logs);
    my %env = CoinhuntSanitize::env_for($dir);
    local @ENV{keys %env} = values %env;
    my @cmd = (CoinhuntSanitize::command_for($dir), nginx_binary(), @args);
    # a file, not a pipe: a daemon nginx may keep its end open
    my $file = "$logs/nginx.out";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', $file or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    my $status = $?;
    open my $fh, '<', $file or return ($status, '');
    return ($status, do { local $/; <$fh> } // '');
}

# fails a test for each sanitizer or valgrind report in $logs/reports
sub check_reports {
    my ($logs, $what) = @_;
    my @reports = CoinhuntSanitize::reports("$logs/reports") or return;
    Test::More::fail("$what: nginx wrote sanitizer or valgrind reports");
    Test::More::diag(join "\n", @reports);
}

# "nginx -t" of the configuration under $prefix: (ok, output)
sub nginx_t {
    my ($prefix) = @_;
    my ($status, $out) = run_nginx("$prefix/logs", '-t', '-p', "$prefix/",
                                   '-c', 'conf/nginx.conf');
    check_reports("$prefix/logs", "nginx -t in $prefix");
    return ($status == 0, $out);
}

sub load_modules {
    return join '', map { "load_module $_;\n" }
                    split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '';
}

sub http {
    my ($method, $url, %opt) = @_;
    my $res = HTTP::Tiny->new(timeout => $opt{timeout} // 5, keep_alive => 0)
        ->request($method, $url, { headers => $opt{headers} // {},
                                   (defined $opt{content}
                                    ? (content => $opt{content}) : ()) });
    return ($res->{status}, $res->{content}, $res->{headers});
}

# the value of an unlabelled metric of a Coinhunt::Nginx, or undef
sub metric {
    my ($n, $name) = @_;
    my (undef, $body) = http(GET => $n->url('/hunt/metrics'));
    return ($body // '') =~ /^\Q$name\E (\d+)$/m ? $1 : undef;
}

# 1 once $cond->() holds, 0 after $timeout seconds
sub wait_for {
    my ($timeout, $cond) = @_;
    my $until = time + $timeout;
    until ($cond->()) {
        return 0 if time > $until;
        sleep 0.05;
    }
    return 1;
}

# an interrupted test still stops what it started (DESTROY, END)
$SIG{$_} = sub { exit 1 } for qw(INT TERM HUP);


package Coinhunt::Nginx;

# An nginx of our own under a temporary prefix: ->start(conf => $http_block,
# workers => N, main => $main_block) returns the object; ->url, ->stop,
# ->reload, ->worker_pids, ->error_log.

use strict;
use warnings;
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep time);

sub start {
    my ($class, %opt) = @_;
    my $self = bless { port => $opt{port} // Coinhunt::free_port() }, $class;
    $self->{was_port} = $self->{port};
    $self->{prefix} = tempdir('coinhunt-nginx-XXXXXX', TMPDIR => 1,
                              CLEANUP => 1);
    chmod 0755, $self->{prefix};    # workers run as nobody
    mkdir "$self->{prefix}/$_" for qw(conf logs html);
    for my $f (keys %{ $opt{files} // {} }) {
        open my $fh, '>', "$self->{prefix}/conf/$f" or die "$f: $!";
        print $fh $opt{files}{$f};
        close $fh;
    }
    $self->write_conf(%opt);
    my ($status, $out) = Coinhunt::run_nginx("$self->{prefix}/logs", '-p',
                                             "$self->{prefix}/", '-c',
                                             'conf/nginx.conf');
    $status == 0
        or die "nginx did not start:\n$out" . $self->error_log;
    Coinhunt::wait_port($self->{port}, 10)
        or die "nginx is not listening:\n" . $self->error_log;
    # a test that dies removes the prefix (File::Temp's END) before DESTROY
    $self->{master} = $self->master_pid;
    return $self;
}

# nginx once more in the same prefix, after ->stop or a kill: (wait status,
# output); on success it listens again and ->stop stops it
sub start_again {
    my ($self) = @_;
    my ($status, $out) = Coinhunt::run_nginx("$self->{prefix}/logs", '-p',
                                             "$self->{prefix}/", '-c',
                                             'conf/nginx.conf');
    return ($status, $out) if $status != 0;
    $self->{port} = $self->{was_port};
    Coinhunt::wait_port($self->{port}, 10)
        or die "nginx is not listening again:\n" . $self->error_log;
    $self->{master} = $self->master_pid;
    return ($status, $out);
}

sub write_conf {
    my ($self, %opt) = @_;
    my $conf = $opt{conf};
    $conf =~ s/^([ \t]*)hunt_locations( pid)?;\n/Coinhunt::locations($1, $2)/gme;
    my $port = $self->{port} // $self->{was_port};
    $conf =~ s/\$PORT\b/$port/g;
    open my $fh, '>', "$self->{prefix}/conf/nginx.conf" or die $!;
    print $fh Coinhunt::load_modules(),
        "worker_processes ", $opt{workers} // 1, ";\n",
        "error_log logs/error.log ", $opt{log_level} // 'notice', ";\n",
        "pid logs/nginx.pid;\n", $opt{main} // '',
        "events { worker_connections 1024; }\n",
        "http {\n    access_log off;\n", $conf, "\n}\n";
    close $fh;
}

sub url { my ($self, $path) = @_; "http://127.0.0.1:$self->{port}$path" }

sub master_pid {
    my ($self) = @_;
    open my $fh, '<', "$self->{prefix}/logs/nginx.pid" or return;
    my $pid = <$fh>;
    chomp $pid;
    return $pid;
}

sub worker_pids {
    my ($self) = @_;
    my $master = $self->master_pid or return ();
    my @pids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // next;
        my ($pid, $ppid) = $line =~ /^(\d+) \(.*\) \S (\d+)/ or next;
        push @pids, $pid if $ppid == $master;
    }
    return sort { $a <=> $b } @pids;
}

# the worker pids once there are $count of them
sub wait_workers {
    my ($self, $count) = @_;
    my $until = time + 10;
    my @pids;
    while (time < $until) {
        @pids = $self->worker_pids;
        return @pids if @pids == $count;
        sleep 0.05;
    }
    die "expected $count workers, have " . scalar(@pids) . "\n";
}

sub reload {
    my ($self, %opt) = @_;
    $self->write_conf(%opt) if $opt{conf};
    my @old = $self->worker_pids;
    kill 'HUP', $self->master_pid;
    # 50 ASan workers on a busy machine take more than 10 s (t/015)
    my $until = time + 30;
    # done when the new workers run and the old ones have exited
    while (time < $until) {
        my %old = map { $_ => 1 } @old;
        my @pids = $self->worker_pids;
        my @new = grep { !$old{$_} } @pids;
        return @new if @new >= ($opt{workers} // 1) && @new == @pids;
        sleep 0.05;
    }
    die "nginx did not reload:\n" . $self->error_log;
}

sub error_log {
    my ($self) = @_;
    open my $fh, '<', "$self->{prefix}/logs/error.log" or return '';
    local $/;
    return <$fh>;
}

sub stop {
    my ($self) = @_;
    my $master = $self->master_pid // $self->{master} or return;
    kill 'QUIT', $master;
    my $until = time + 10;
    # an exited master may wait a while to be reaped by init: done then
    sleep 0.05 while kill(0, $master) && !exited($master) && time < $until;
    kill 'KILL', $master if kill 0, $master;
    delete $self->{port};
    Coinhunt::check_reports("$self->{prefix}/logs", "nginx in $self->{prefix}");
}

sub exited {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 1;
    my $line = <$fh> // return 1;
    return $line =~ /^\d+ \(.*\) Z /;
}

sub DESTROY { $_[0]->stop if $_[0]->{port} }

1;
