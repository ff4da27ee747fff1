package CoinhuntGdb;

# gdb holding nginx workers at a breakpoint, so that a suite can kill -9 a
# worker at a chosen point of the module's code:
#
#   source_line($file, @patterns)
#                    the number of the first line of the module's source
#                    $file that matches the last pattern, after lines that
#                    match the others in turn (a function, then a line in it)
#   my $g = CoinhuntGdb->attach($pid, $breakpoint, ignore => $n, if => $c)
#                    gdb attached to a worker, the breakpoint ("file.c:N" or
#                    a function) set, the worker running on; it stops at the
#                    hit number $n + 1 where gdb's condition $c holds
#   $g->stopped($seconds)   true once the worker stopped at a breakpoint
#   $g->detach       removes the breakpoints and lets the worker run on
#   $g->done         after the worker was killed: gdb exits
#   stop_one(\@gdbs, $seconds, @triggers)
#                    calls the triggers in turn until a worker stops: each
#                    returns a socket it sent a request on (a request that
#                    is answered did not stop a worker) or undef (wait
#                    $seconds for a timer to stop one); returns the stopped
#                    worker's gdb and the socket of its request, having
#                    detached every other gdb

use strict;
use warnings;

use Exporter 'import';
use File::Basename qw(dirname);
use IO::Select;
use IPC::Open3 qw(open3);
use Symbol qw(gensym);
use Time::HiRes qw(time);

our @EXPORT_OK = qw(source_line stop_one);

our $GDB = '/usr/bin/gdb';
my $SRC = dirname(__FILE__) . '/../../ngx_coinhunt_module';

sub source_line {
    my ($file, @patterns) = @_;
    # the file in its layer's folder: basenames are unique in the module
    my ($path) = grep { -f } map { "$_/$file" } $SRC, glob "$SRC/*";
    open my $fh, '<', $path // "$SRC/$file" or die "$SRC/*/$file: $!";
    my $want = shift @patterns;
    while (my $line = <$fh>) {
        next unless $line =~ $want;
        return $. unless @patterns;
        $want = shift @patterns;
    }
    die "no line of $file matches $want\n";
}

sub attach {
    my ($class, $pid, $breakpoint, %opt) = @_;
    my $self = bless { pid => $pid, said => '' }, $class;
    $self->{gdb} = open3($self->{in}, $self->{out}, gensym, $GDB, '-q',
                         '-nx', '-p', $pid);
    # the worker runs in the background: gdb goes on reading commands;
    # signals (the Lua watchdog's timer) go to the worker unremarked
    $self->command("set pagination off\nset confirm off\n"
                   . "handle all nostop noprint pass\n"
                   . "break $breakpoint"
                   . ($opt{if} ? " if $opt{if}\n" : "\n")
                   . ($opt{ignore} ? "ignore \$bpnum $opt{ignore}\n" : '')
                   . "continue &\n");
    $self->read_until(qr/Continuing\.$/m, 60)
        or die "gdb did not attach to $pid:\n$self->{said}";
    return $self;
}

sub command {
    my ($self, $text) = @_;
    my $in = $self->{in};
    print $in $text;
    $in->flush;
}

# reads what gdb says until $re matches it or $timeout seconds pass
sub read_until {
    my ($self, $re, $timeout) = @_;
    my $sel = IO::Select->new($self->{out});
    my $until = time + $timeout;
    while ($self->{said} !~ $re) {
        my $left = $until - time;
        return 0 if $left <= 0;
        next unless $sel->can_read($left);
        sysread($self->{out}, $self->{said}, 4096, length $self->{said})
            or return 0;
    }
    return 1;
}

sub pid { $_[0]{pid} }

sub said { $_[0]{said} }

sub stopped {
    my ($self, $timeout) = @_;
    return $self->read_until(qr/\bBreakpoint \d+(?:\.\d+)?, /, $timeout // 0);
}

sub detach {
    my ($self) = @_;
    unless ($self->stopped) {
        $self->command("interrupt\n");
        $self->read_until(qr/received signal SIGINT|\bBreakpoint \d+(?:\.\d+)?, /, 30);
    }
    $self->command("detach\nquit\n");
    $self->done;
}

sub done {
    my ($self) = @_;
    close $self->{in};
    waitpid $self->{gdb}, 0;
}

sub stop_one {
    my ($gdbs, $timeout, @triggers) = @_;
    my ($victim, $sock);
    for my $trigger (@triggers) {
        $sock = $trigger->();
        my $sel = $sock ? IO::Select->new($sock) : undef;
        my $until = time + $timeout;
        while (time < $until) {
            ($victim) = grep { $_->stopped(0.02) } @$gdbs;
            last if $victim || ($sel && $sel->can_read(0.02));
        }
        last if $victim;
    }
    $_->detach for grep { !$victim || $_ != $victim } @$gdbs;
    return ($victim, $sock);
}

1;
