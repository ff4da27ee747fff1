package CoinhuntInput;

# Helpers for the bad-input suites (t/04x, t/313): raw HTTP/1.1 over a socket
# (so that malformed requests reach nginx byte for byte) and a snapshot of
# every piece of state a bad request could change.
#
#   raw($n, $bytes)         sends $bytes, reads to EOF: (status, \%headers,
#                           body); header names are lower-cased
#   req($n, $method, $target, %opt)  a well-formed request (headers => {..},
#                           body => '..'), answered as raw()
#   snapshot($n, @tokens)   the leaderboard of every hunt in @hunts, each
#                           token's "me", and the counters, as one string
#   bad($n, $name, $request, $status, $body, %opt)  one subtest: the request
#                           answers $status and $body (a string: exact, a
#                           Regexp: matched) and the snapshot is unchanged

use strict;
use warnings;

use Exporter 'import';
use IO::Socket::INET;
use Test::More;

our @EXPORT_OK = qw(raw req snapshot bad);

our @HUNTS = ('default');
our @TOKENS;

sub raw {
    my ($n, $bytes) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$n->{port}",
                                  Timeout => 10)
        or die "connect: $!";
    print $s $bytes;
    shutdown $s, 1;
    local $/;
    my $r = <$s> // '';
    close $s;
    my ($head, $body) = split /\r\n\r\n/, $r, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.[01] (\d{3})};
    my %h;
    for (split /\r\n/, $head // '') {
        $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
    }
    return ($status // 0, \%h, $body // '');
}

sub req {
    my ($n, $method, $target, %opt) = @_;
    my $body = $opt{body} // '';
    my $head = "$method $target HTTP/1.1\r\nHost: localhost\r\n"
               . "Connection: close\r\n";
    $head .= "$_: $opt{headers}{$_}\r\n" for sort keys %{ $opt{headers} // {} };
    $head .= "Content-Length: " . length($body) . "\r\n" if length $body;
    return raw($n, "$head\r\n$body");
}

my @COUNTERS = qw(coinhunt_taps_total coinhunt_coins_total
                  coinhunt_coin_value_total coinhunt_sessions);

sub snapshot {
    my ($n) = @_;
    my @s;
    for my $hunt (@HUNTS) {
        push @s, (req($n, GET => "/hunt/leaderboard?top=100&hunt=$hunt"))[2];
    }
    for my $t (@TOKENS) {
        push @s, (req($n, GET => "/hunt/leaderboard?top=1&session=$t"))[2];
    }
    my (undef, undef, $m) = req($n, GET => '/hunt/metrics');
    for my $c (@COUNTERS) {
        push @s, $m =~ /^(\Q$c\E \d+)$/m ? $1 : "$c missing";
    }
    return join '', @s;
}

sub bad {
    my ($n, $name, $request, $status, $body, %opt) = @_;
    subtest $name => sub {
        my $before = snapshot($n);
        my ($st, $h, $b) = ref $request ? req($n, @$request) : raw($n, $request);
        is $st, $status, 'status';
        if (ref $body eq 'Regexp') {
            like $b, $body, 'body';
        } else {
            is $b, $body, 'body';
        }
        if ($status >= 400 && $b =~ /^\{/) {
            is $h->{'content-type'}, 'application/json', 'JSON';
        }
        for my $k (sort keys %{ $opt{headers} // {} }) {
            is $h->{lc $k}, $opt{headers}{$k}, "header $k";
        }
        is snapshot($n), $before, 'no state changed';
    };
}

1;
