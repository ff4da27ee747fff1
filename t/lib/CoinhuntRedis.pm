package CoinhuntRedis;

# A private redis-server for the Redis-mode suites, and a tiny blocking RESP
# client to look into it:
#
#   my $redis = CoinhuntRedis->start(port => $port);   # port: a free one
#   $redis->port; $redis->cmd('ZSCORE', $key, $member);  # reply, or undef
#   $redis->select($db)     later commands use database $db
#   $redis->board($hunt)    { player => score } of coinhunt's board of $hunt
#   $redis->stop            SHUTDOWN SAVE: the data survive a ->restart
#   $redis->restart         the same port and directory
#
# Errors come back as { error => "..." }, arrays as array refs.  The server
# is stopped at exit by the process that started it (not by forked ones).

use strict;
use warnings;

use Config;
use Coinhunt ();
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);

my @servers;

sub start {
    my ($class, %opt) = @_;
    my $self = bless {
        port  => $opt{port} // Coinhunt::free_port(),
        dir   => tempdir('coinhunt-redis-XXXXXX', TMPDIR => 1, CLEANUP => 1),
        owner => $$,
        bin   => $ENV{REDIS_SERVER} || '/usr/bin/redis-server',
    }, $class;
    $self->_spawn;
    push @servers, $self;
    return $self;
}

sub _spawn {
    my ($self) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        # Linux x86_64: prctl(PR_SET_PDEATHSIG, SIGTERM), so a test that
        # dies without running END leaves no redis-server behind
        syscall(157, 1, 15) if $^O eq 'linux' && $Config{archname} =~ /^x86_64/;
        open STDOUT, '>>', "$self->{dir}/redis.log";
        open STDERR, '>&', \*STDOUT;
        exec { $self->{bin} } $self->{bin}, '--bind', '127.0.0.1', '--port', $self->{port},
             '--save', '', '--appendonly', 'no', '--dir', $self->{dir},
             '--dbfilename', 'dump.rdb'
            or POSIX::_exit(127);
    }
    $self->{pid} = $pid;
    my $until = time + 10;
    while (time < $until) {
        my $r = eval { $self->cmd('PING') };
        return if defined $r && $r eq 'PONG';
        sleep 0.02;
    }
    die "redis-server did not start on port $self->{port}";
}

sub port { $_[0]{port} }

sub select { $_[0]{db} = $_[1] }

sub cmd {
    my ($self, @args) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$self->{port}",
                                  Timeout => 2)
        or die "cannot connect to redis on $self->{port}: $!";
    my $req = '';
    for my $c (($self->{db} ? ['SELECT', $self->{db}] : ()), \@args) {
        $req .= '*' . @$c . "\r\n";
        $req .= '$' . length($_) . "\r\n$_\r\n" for @$c;
    }
    print $s $req;
    _read($s) if $self->{db};
    my $reply = _read($s);
    close $s;
    return $reply;
}

sub _read {
    my ($s) = @_;
    my $line = <$s> // die "redis closed the connection";
    $line =~ s/\r\n$//;
    my ($type, $rest) = (substr($line, 0, 1), substr($line, 1));
    return $rest if $type eq '+' || $type eq ':';
    return { error => $rest } if $type eq '-';
    if ($type eq '$') {
        return undef if $rest < 0;
        my $data = '';
        read($s, $data, $rest + 2) == $rest + 2 or die "short redis reply";
        return substr($data, 0, $rest);
    }
    if ($type eq '*') {
        return undef if $rest < 0;
        return [ map { _read($s) } 1 .. $rest ];
    }
    die "bad redis reply: $line";
}

# coinhunt keeps a hunt's board as negated scores
sub board {
    my ($self, $hunt) = @_;
    my $all = $self->cmd('ZRANGE', "coinhunt:lb:$hunt", 0, -1, 'WITHSCORES');
    my %board;
    while (my ($member, $score) = splice @$all, 0, 2) {
        $board{$member} = -$score;
    }
    return \%board;
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid};
    eval { $self->cmd('SHUTDOWN', 'SAVE') };
    my $until = time + 10;
    while (time < $until) {
        last if waitpid($self->{pid}, POSIX::WNOHANG()) == $self->{pid};
        sleep 0.02;
    }
    kill 'KILL', $self->{pid} if kill 0, $self->{pid};
    delete $self->{pid};
}

sub restart {
    my ($self) = @_;
    $self->stop;
    $self->_spawn;
}

END {
    for my $r (@servers) {
        next unless $r->{owner} == $$ && $r->{pid};
        kill 'TERM', $r->{pid};
        waitpid $r->{pid}, 0;
    }
}

1;
