package Test::Nginx::Socket;

# Request / response half of the Test::Nginx compatible subset: builds the
# requests of a block, talks HTTP/1.x over a plain socket and runs the
# checks.  See the POD at the end for what is supported.

use strict;
use warnings;
use v5.10.1;

# Like upstream, this class is a Test::Base subclass: blocks(), plan(),
# filters (eval, chomp, chop, ...), ONLY / SKIP all come from Test::Base.
# "-base" (not upstream's "-Base") avoids Spiffy's source filter.
use Test::Base -base;

our $VERSION = '0.29';

use POSIX qw( EAGAIN EWOULDBLOCK EINTR );
use Encode ();
use Time::HiRes qw( sleep time );
use List::Util qw( min );
use IO::Select ();
use IO::Socket::INET ();
use Digest::MD5 ();
use Digest::SHA ();
use HTTP::Response ();

use Test::Nginx::Util;

our @EXPORT = qw( env_to_nginx is_str plan run_tests run_test
  repeat_each config_preamble worker_connections
  master_process_enabled
  no_long_string workers master_on master_off
  log_level no_shuffle no_root_location use_hup
  server_name
  server_addr server_root html_dir server_port server_port_for_client
  timeout no_nginx_manager check_accum_error_log
  add_block_preprocessor bail_out add_cleanup_handler
  add_response_body_check
  $ServerPort $ServerPortForClient $ServRoot $ServerAddr $ServerName
  $NoLongString
);

our @ResponseBodyChecks;

sub value_contains ($$);

$RunTestHelper = \&run_test_helper;
$CheckErrorLog = \&check_error_log;
$CheckShutdownErrorLog = \&check_shutdown_error_log;

sub set_http_config_filter ($) { $FilterHttpConfig = shift }
sub add_response_body_check ($) { push @ResponseBodyChecks, shift }

sub no_ending () { Test::More->builder->no_ending(1) }

# Extra failures that upstream reports outside the planned count also turn
# off Test::Builder's plan-mismatch ending, exactly as upstream does.
sub extra_fail ($) {
    no_ending();
    Test::More::fail($_[0]);
}

# ---------------------------------------------------------------------------
# Building requests
# ---------------------------------------------------------------------------

# Expands $TEST_NGINX_* variables that are defined in %ENV (others are left
# untouched) in request-like sections.
sub expand_defined_env ($) {
    my $s = shift;
    return $s if !defined $s || ref $s;
    $s =~ s/\$(TEST_NGINX_[_A-Z0-9]+)/defined $ENV{$1} ? $ENV{$1} : "\$$1"/eg;
    return $s;
}

# "--- more_headers" text -> ("Key: value\r\n"..., $is_chunked)
sub parse_more_headers ($) {
    my ($in) = @_;
    my ($out, $is_chunked) = ('', 0);
    for my $line (split /\n+/, $in) {
        next if $line =~ /^\s*#/ || $line eq '';
        my ($key, $val) = split /:\s*/, $line, 2;
        $val //= '';
        $is_chunked = 1 if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $is_chunked);
}

# Turns "METHOD [URI [VERSION]]\nbody" (split into packets) into a full
# HTTP request, keeping the packet boundaries; returns the new packets.
sub build_request_from_packets ($$$$$) {
    my ($name, $more_headers, $is_chunked, $conn, $packets) = @_;
    my $full = join '', @$packets;

    $full =~ /\A([^\n]*\n?)/;
    my $first = $1;
    bail_out("$name - Request line should be non-empty") if !$first;

    $first =~ /^(\s*)(\S+)( *)(?:(\S+)( *))?(?:(\S+)( *))?(\s*)$/
        or bail_out("$name - Request line is not valid. Should be "
                    . "'meth [url [version]]' but got \"$first\".");
    my ($meth, $url, $ver) = ($2, $4 // '/', $6 // 'HTTP/1.1');

    my $content = substr $full, length $first;
    my $lead_trimmed = 0;
    my $len_header = '';
    if (!$is_chunked && $content ne ''
        && $more_headers !~ /(?:^|\n)Content-Length:/)
    {
        $content =~ s/^(\s+)// and $lead_trimmed = length $1;
        $content =~ s/\s+$//;
        $len_header = "Content-Length: " . length($content) . "\r\n";
    }

    $more_headers =~ s/(?<!\r)\n/\r\n/gs;
    my $headers = '';
    $headers .= "Host: $ServerName\r\n"
        if $more_headers !~ /(?:^|\n)Host:/msi;
    $headers .= "Connection: $conn\r\n"
        if $more_headers !~ /(?:^|\n)Connection/msi;
    $headers .= "$more_headers$len_header\r\n";

    my $line = "$meth $url $ver\r\n";
    my $out = $line . $headers . $content;
    return [$out] if @$packets <= 1;

    # map the original packet boundaries onto the new request
    my (@cuts, $off);
    $off = 0;
    for my $p (@$packets[0 .. $#$packets - 1]) {
        $off += length $p;
        my $new;
        if ($off < length $first) {
            $new = min($off, length $line);
        } else {
            my $c = $off - length($first) - $lead_trimmed;
            $c = 0 if $c < 0;
            $c = length $content if $c > length $content;
            $new = length($line) + length($headers) + $c;
        }
        push @cuts, $new;
    }
    my (@result, $prev);
    $prev = 0;
    for my $cut (@cuts, length $out) {
        $cut = $prev if $cut < $prev;
        push @result, substr($out, $prev, $cut - $prev);
        $prev = $cut;
    }
    return \@result;
}

sub more_headers_for ($$$) {
    my ($name, $more_headers, $i) = @_;
    if (ref $more_headers eq 'ARRAY') {
        my $hdr = $more_headers->[$i];
        bail_out("$name - --- more_headers lacks data for the request $i")
            if !defined $hdr;
        return parse_more_headers(expand_defined_env($hdr));
    }
    return parse_more_headers(expand_defined_env($more_headers));
}

# Returns [ request, ... ], each request being [ {value => ...}, ... ]
# (the packets to write, optionally with a delay_before).
sub get_req_from_block ($) {
    my ($block) = @_;
    my $name = $block->name;

    if (defined(my $raw = $block->raw_request)) {
        if (ref $raw eq 'ARRAY') {
            return [[ map { { value => expand_defined_env($_) } } @$raw ]];
        }
        return [[ { value => expand_defined_env($raw) } ]];
    }

    my $request;
    if (defined $block->request_eval) {
        Test::More::diag("$name - request_eval DEPRECATED. Use request eval "
                         . "instead.");
        $request = eval $block->request_eval;
        warn $@ if $@;
    } else {
        $request = $block->request;
        if (defined $request && !ref $request) {
            # strip leading comment lines and white space
            1 while $request =~ s/^\s*\#[^\n]+\s+|^\s+//gs;
        }
    }
    $request = expand_defined_env($request);

    my $more_headers = $block->more_headers || '';

    if (my $reqs = $block->pipelined_requests) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            if ref $reqs ne 'ARRAY';
        my $all = '';
        for my $i (0 .. $#$reqs) {
            my $conn = $i == $#$reqs ? 'close' : 'keep-alive';
            my ($hdr, $chunked) = more_headers_for($name, $more_headers, $i);
            my $r = build_request_from_packets($name, $hdr, $chunked, $conn,
                                               [expand_defined_env($reqs->[$i])]);
            $all .= $r->[0];
        }
        return [[ { value => $all } ]];
    }

    if (!ref $request) {
        my ($hdr, $chunked) = more_headers_for($name, $more_headers, 0);
        my $r = build_request_from_packets($name, $hdr, $chunked, 'close',
                                           [$request // '']);
        return [[ { value => $r->[0] } ]];
    }

    bail_out("$name - invalid ---request : MUST be string or array of "
             . "requests") if ref $request ne 'ARRAY';

    my @req_list;
    for my $i (0 .. $#$request) {
        my $one = expand_defined_env($request->[$i]);
        my ($hdr, $chunked) = more_headers_for($name, $more_headers, $i);
        if (!ref $one) {
            my $r = build_request_from_packets($name, $hdr, $chunked,
                                               'close', [$one]);
            push @req_list, [ { value => $r->[0] } ];
            next;
        }
        bail_out("$name - Invalid syntax. $one should be a string or an "
                 . "array of packets.") if ref $one ne 'ARRAY';

        # a request given as a series of packets
        my @packets = map {
            !ref $_            ? $_
            : ref $_ eq 'HASH' ? $_->{value}
            : bail_out("$name - Invalid syntax. $_ should be a string or "
                       . "hash with value.")
        } @$one;
        my $built = build_request_from_packets($name, $hdr, $chunked,
                                               'close', \@packets);
        my @bits;
        for my $j (0 .. $#$built) {
            my %bit = ref $one->[$j] eq 'HASH' ? %{ $one->[$j] } : ();
            $bit{value} = $built->[$j];
            push @bits, \%bit;
        }
        push @req_list, \@bits;
    }
    return \@req_list;
}

# ---------------------------------------------------------------------------
# Talking to nginx
# ---------------------------------------------------------------------------

sub connect_to_server ($$$) {
    my ($block, $addr, $timeout) = @_;
    my $name = $block->name;
    my $patience = $Test::Nginx::Util::UseValgrind ? 60
                 : $timeout > 3                    ? $timeout
                 :                                   3;
    my $deadline = time + $patience;
    my $err;
    for (my $tries = 1; ; $tries++) {
        my $sock = IO::Socket::INET->new(PeerAddr => $addr,
                                         PeerPort => $ServerPortForClient,
                                         Proto    => 'tcp',
                                         Timeout  => $timeout);
        return $sock if $sock;
        $err = $!;

        # do not wait for a server that is gone
        my $pid = Test::Nginx::Util::read_pid_quietly();
        last if $NoNginxManager ? 0 : !($pid && is_running($pid));
        last if time >= $deadline;
        sleep min(0.5, sleep_time() * $tries);
    }

    # (upstream bails out of the whole run after 3 of these; we fail fast
    # instead, so there is no need to)
    $TotalConnectingTimeouts++;
    extra_fail("$name - Can't connect to $addr:$ServerPortForClient: "
               . "$err (aborted)\n");
    Test::More::diag("--- tail of error.log:\n"
        . Test::Nginx::Util::file_tail($Test::Nginx::Util::ErrLogFile, 20));
    return undef;
}

# Writes the packets of one request and reads the response until the
# server closes the connection; returns ($raw_response, $is_head_request).
sub send_request ($$$$) {
    my ($req, $middle_delay, $timeout, $block) = @_;
    my $name = $block->name;
    my @bits = @$req;

    my $head_req = (join '', map { $_->{value} } @bits) =~ /^\s*HEAD\s+/
                   ? 1 : 0;

    # nginx failed to start for this block: that is already reported
    return ('', $head_req) if defined $NginxStartError;

    my $addr = $block->server_addr_for_client // $ServerAddr;
    my $sock = connect_to_server($block, $addr, $timeout)
        or return (undef, $head_req);
    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';

    my $resp = '';
    my $wbuf = (shift @bits)->{value};
    my $woff = 0;
    my ($writing, $reading) = (1, 1);
    my $sel = IO::Select->new($sock);

    while ($writing || $reading) {
        $! = 0;
        my ($r, $w) = IO::Select->select($reading ? $sel : undef,
                                         $writing ? $sel : undef,
                                         undef, $timeout);
        if (!$r && !$w) {
            if ($! == EINTR) {
                next;
            }
            if (!defined $block->abort) {
                extra_fail("ERROR: client socket timed out - $name\n");
            } else {
                sleep 0.005;
            }
            last;
        }

        if ($w && @$w) {
            while (1) {
                my $rest = length($wbuf) - $woff;
                if ($rest > 0) {
                    my $n = syswrite $sock, $wbuf, $rest, $woff;
                    if (!defined $n) {
                        last if $! == EAGAIN || $! == EWOULDBLOCK;
                        warn "write failed: $!\n";
                        $resp = "write failed: $!" if $resp eq '';
                        ($writing, $reading) = (0, 0);
                        last;
                    }
                    $woff += $n;
                    next;
                }
                my $next = shift @bits;
                if (!$next) {
                    $writing = 0;
                    my $shutdown = $block->shutdown;
                    if (defined $shutdown) {
                        $shutdown = 1 if $shutdown =~ /^\s*$/s;
                        shutdown $sock, $shutdown;
                    }
                    last;
                }
                my $delay = $next->{delay_before} // $middle_delay;
                sleep parse_time($delay) if $delay;
                ($wbuf, $woff) = ($next->{value}, 0);
            }
        }

        if ($reading && $r && @$r) {
            while (1) {
                my $n = sysread $sock, my $buf, 4096;
                if (!defined $n) {
                    last if $! == EAGAIN || $! == EWOULDBLOCK;
                    warn "WARNING: $name - HTTP response read failure: $!\n";
                    ($writing, $reading) = (0, 0);
                    last;
                }
                if ($n == 0) {    # connection closed
                    ($writing, $reading) = (0, 0);
                    last;
                }
                $resp .= $buf;
            }
        }
    }

    close $sock;
    return ($resp, $head_req);
}

# Returns ($res, $raw_headers, $left_over_bytes); an empty list after a
# malformed chunked body (reported as a failure).
sub parse_response ($$$) {
    my ($name, $raw_resp, $head_req) = @_;
    my $left;
    my $raw_headers = $raw_resp =~ /(.*?\r\n)\r\n/s ? $1 : '';

    my $res = HTTP::Response->parse($raw_resp);
    my $code = $res->code;
    if (defined $code && $code !~ /^\d+$/) {
        undef $code;
        $res->code(undef);
    }
    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $enc = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');

    if (defined $enc && $enc eq 'chunked') {
        my $raw = $res->content // '';
        my ($decoded, $pos) = ('', 0);
        while (1) {
            pos($raw) = $pos;
            if ($raw =~ /\G0[ \t]*\r\n\r\n/gc) {
                $left = $1 if $raw =~ /\G(.+)/gcs;
                last;
            }
            if ($raw =~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc) {
                my $size = hex $1;
                $pos = pos $raw;
                if (length($raw) - $pos < $size) {
                    extra_fail("$name - invalid chunked data received "
                        . "(not enought octets for the data section)");
                    return;
                }
                $decoded .= substr $raw, $pos, $size;
                $pos += $size;
                if (substr($raw, $pos, 2) ne "\r\n") {
                    extra_fail("$name - invalid chunked data received "
                               . "(expected CRLF).");
                    return;
                }
                $pos += 2;
                next;
            }
            if ($raw =~ /\G(.+)/gcs) {
                extra_fail("$name - invalid chunked body received: $1");
            } else {
                extra_fail("$name - no last chunk found - $raw");
            }
            return;
        }
        $res->content($decoded);

    } elsif (defined $len && $len =~ /^\d+$/) {
        my $raw = $res->content // '';
        if (length $raw < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got " . length($raw) . "\n" if !$head_req;
        } elsif (length $raw > $len) {
            $left = substr $raw, $len;
            $res->content(substr $raw, 0, $len);
        }
    }

    return ($res, $raw_headers, $left);
}

# ---------------------------------------------------------------------------
# Running one block
# ---------------------------------------------------------------------------

sub run_test_helper ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;
    my $name = $block->name;

    my $req_list = get_req_from_block($block);
    bail_out("$name - request empty") if !@$req_list;

    my $timeout = parse_time($block->timeout) // timeout();
    my $wait = parse_time($block->wait);

    my ($res, $need_array);
    my $req_idx = 0;

    for my $one_req (@$req_list) {
        my ($raw_resp, $head_req);
        if ($dry_run) {
            $raw_resp = "200 OK HTTP/1.0\r\nContent-Length: 0\r\n\r\n";
        } else {
            ($raw_resp, $head_req) = send_request($one_req,
                $block->raw_request_middle_delay, $timeout, $block);
        }

        # pipelined responses arrive on one connection: split them
        my $n = 0;
        if ($block->pipelined_requests) {
            $n = @{ $block->pipelined_requests };
            $need_array = 1;
        } else {
            $need_array = @$req_list > 1;
        }

        while (1) {
            $raw_resp //= '';
            my ($raw_headers, $left);
            if (!defined $block->ignore_response) {
                if (defined $block->http09) {
                    $res = HTTP::Response->new(200, 'OK', [], $raw_resp);
                    $raw_headers = '';
                } else {
                    ($res, $raw_headers, $left) =
                        parse_response($name, $raw_resp, $head_req);
                }
            }

            if (!$n) {
                if (defined $left && length $left) {
                    $left =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                    warn "WARNING: $name - unexpected extra bytes after last "
                         . "chunk in response: \"$left\"\n";
                }
            } else {
                $raw_resp = $left;
                $n--;
            }

            if (!defined $block->ignore_response) {
                check_error_code($block, $res, $dry_run, $req_idx, $need_array);
                check_raw_response_headers($block, $raw_headers, $dry_run,
                                           $req_idx, $need_array);
                check_response_headers($block, $res, $raw_headers, $dry_run,
                                       $req_idx, $need_array);
                transform_response_body($block, $res, $req_idx);
                check_response_body($block, $res, $dry_run, $req_idx,
                                    $repeated_req_idx, $need_array);
            }

            # logs are checked after every request, not only the last one
            if ($n || $req_idx < @$req_list - 1) {
                sleep $wait if $wait;
                check_error_log($block, $res, $dry_run, $repeated_req_idx,
                                $need_array);
                check_access_log($block, $dry_run, $repeated_req_idx)
                    if !defined $block->ignore_response;
            }

            $req_idx++;
            last if !$n;
        }
    }

    sleep $wait if $wait;

    if ($block->stap) {
        SKIP: {
            Test::More::skip("$name - stap_out - tests skipped due to env "
                             . "TEST_NGINX_USE_STAP is not set", 1);
        }
    }

    check_error_log($block, $res, $dry_run, $repeated_req_idx, $need_array);
    check_access_log($block, $dry_run, $repeated_req_idx)
        if !defined $block->ignore_response;
}

# Picks the element for the current request out of an array expectation.
sub get_indexed_value ($$$$) {
    my ($name, $value, $req_idx, $need_array) = @_;
    if ($need_array) {
        return $value->[$req_idx] if ref $value eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected results "
                 . "should be arrays as well.");
    }
    if (ref $value eq 'ARRAY') {
        bail_out("$name - SHOULD NOT HAPPEN: idx != 0 and don't need array.")
            if $req_idx != 0;
        return $value->[0];
    }
    return $value;
}

sub check_error_code ($$$$$) {
    my ($block, $res, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;
    my $code = ($res && $res->code) || '';
    SKIP: {
        Test::More::skip("$name - tests skipped due to $dry_run", 1) if $dry_run;
        if (defined $block->error_code_like) {
            my $val = get_indexed_value($name, $block->error_code_like,
                                        $req_idx, $need_array);
            Test::More::like($code, qr/$val/sm, "$name - status code ok");
        } elsif (defined $block->error_code) {
            Test::More::is($code, get_indexed_value($name, $block->error_code,
                                                    $req_idx, $need_array),
                           "$name - status code ok");
        } else {
            Test::More::is($code, 200, "$name - status code ok");
        }
    }
}

sub check_raw_response_headers ($$$$$) {
    my ($block, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;
    for my $type (qw(like unlike)) {
        my $spec = $type eq 'like' ? $block->raw_response_headers_like
                                   : $block->raw_response_headers_unlike;
        next if !defined $spec;
        SKIP: {
            Test::More::skip("$name - raw_response_headers_$type - tests "
                             . "skipped due to $dry_run", 1) if $dry_run;
            my $expected = get_indexed_value($name, $spec, $req_idx,
                                             $need_array);
            my $cmp = $type eq 'like' ? \&Test::More::like
                                      : \&Test::More::unlike;
            $cmp->($raw_headers // '', qr/$expected/s,
                   "$name - raw resp headers $type");
        }
    }
}

sub check_response_headers ($$$$$$) {
    my ($block, $res, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->response_headers) {
        my $headers = parse_headers(get_indexed_value($name,
            $block->response_headers, $req_idx, $need_array));
        while (my ($key, $val) = each %$headers) {
            SKIP: {
                Test::More::skip("$name - response_headers - tests skipped "
                                 . "due to $dry_run", 1) if $dry_run;
                if (!defined $val) {
                    Test::More::unlike($raw_headers // '',
                        qr/^\s*\Q$key\E\s*:/ms,
                        "$name - header $key not present in the raw headers");
                } else {
                    $val =~ s/\$ServerPort\b/$ServerPort/g;
                    $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
                    my $actual = $res ? scalar $res->header($key) : undef;
                    Test::More::is($actual // '', $val,
                                   "$name - header $key ok");
                }
            }
        }

    } elsif (defined $block->response_headers_like) {
        my $headers = parse_headers(get_indexed_value($name,
            $block->response_headers_like, $req_idx, $need_array));
        while (my ($key, $val) = each %$headers) {
            $val //= '';
            my $actual = $res ? scalar $res->header($key) : undef;
            SKIP: {
                Test::More::skip("$name - response_headers_like - tests "
                                 . "skipped due to $dry_run", 1) if $dry_run;
                Test::More::like($actual // '', qr/^$val$/,
                                 "$name - header $key like ok");
            }
        }
    }
}

sub run_filter_helper ($$$) {
    my ($block, $filter, $content) = @_;
    my $name = $block->name;
    return $filter->($content) if ref $filter eq 'CODE';
    bail_out("$name - the --- response_body_filters section only supports "
             . "subroutine reference values and string values") if ref $filter;
    my %builtin = (
        md5_hex  => sub { Digest::MD5::md5_hex($_[0]) },
        sha1_hex => sub { Digest::SHA::sha1_hex($_[0]) },
        uc       => sub { uc $_[0] },
        lc       => sub { lc $_[0] },
        ucfirst  => sub { ucfirst $_[0] },
        lcfirst  => sub { lcfirst $_[0] },
        length   => sub { length $_[0] },
    );
    my $f = $builtin{$filter}
        or bail_out("$name - unknown filter, \"$filter\", specified in the "
                    . "--- response_body_filters section");
    return $f->($content);
}

sub transform_response_body ($$$) {
    my ($block, $res, $req_idx) = @_;
    return if !defined $res || !defined $res->content;
    my $filters = $block->response_body_filters;
    return if !defined $filters;
    my $name = $block->name;

    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//gs;
        $filters = [split /\s+/, $filters];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }
    if (ref $filters->[0] eq 'ARRAY') {
        # two-dimensional: one filter list per request
        $filters = $filters->[$req_idx];
        bail_out("$name - the ---response_body_filters two-dimensional array "
                 . "unmatch the specified request($req_idx)")
            if !defined $filters;
    }
    my $new = $res->content;
    for my $f (ref $filters eq 'ARRAY' ? @$filters : $filters) {
        $new = run_filter_helper($block, $f, $new);
    }
    $res->content($new);
}

sub check_response_body ($$$$$$) {
    my ($block, $res, $dry_run, $req_idx, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;

    my $content = $res ? $res->content : undef;
    if (defined $content) {
        $content =~ s/^TE: deflate,gzip;q=0\.3\r\n//gms;
        $content =~ s/^Connection: TE, close\r\n//gms;
    }

    if (defined $block->response_body || defined $block->response_body_eval) {
        my $expected;
        if ($block->response_body_eval) {
            Test::More::diag("$name - response_body_eval is DEPRECATED. Use "
                             . "response_body eval instead.");
            $expected = eval get_indexed_value($name,
                $block->response_body_eval, $req_idx, $need_array);
            warn $@ if $@;
        } else {
            $expected = get_indexed_value($name, $block->response_body,
                                          $req_idx, $need_array);
        }
        Encode::from_to($expected, 'UTF-8', $block->charset)
            if $block->charset;
        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        }

        SKIP: {
            Test::More::skip("$name - response_body - tests skipped due to "
                             . "$dry_run", 1) if $dry_run;
            if (ref $expected) {
                Test::More::like($content, $expected, "$name - response_body "
                    . "- like (repeated req $repeated_req_idx, req $req_idx)");
            } else {
                Test::Nginx::Util::compare_strings($content, $expected,
                    "$name - response_body - response is expected (repeated "
                    . "req $repeated_req_idx, req $req_idx)");
            }
        }

    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $patterns = $type eq 'like' ? $block->response_body_like
                                       : $block->response_body_unlike;
        my $pat = get_indexed_value($name, $patterns, $req_idx, $need_array);
        $pat //= '';
        $pat =~ s/\$ServerPort\b/$ServerPort/g;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        my $summary = trim($content) // '';
        my $cmp = $type eq 'like' ? \&Test::More::like : \&Test::More::unlike;
        SKIP: {
            Test::More::skip("$name - response_body_$type - tests skipped due "
                             . "to $dry_run", 1) if $dry_run;
            $cmp->($content, qr/$pat/s,
                   "$name - response_body_$type - response is expected "
                   . "($summary)");
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $res ? $res->content : undef, $req_idx,
                 $repeated_req_idx, $dry_run);
    }
}

# ---------------------------------------------------------------------------
# Log checks
# ---------------------------------------------------------------------------

sub fmt_str ($) {
    my $str = shift;
    chomp $str;
    $str =~ s/"/\\"/g;
    $str =~ s/\r/\\r/g;
    $str =~ s/\n/\\n/g;
    return $str;
}

sub value_contains ($$) {
    my ($val, $pat) = @_;
    return 0 if !defined $val;
    return $val =~ /\Q$pat\E/ ? 1 : 0 if !ref $val || ref $val eq 'Regexp';
    if (ref $val eq 'ARRAY') {
        for my $v (@$val) {
            return 1 if value_contains($v, $pat);
        }
    }
    return 0;
}

# Section value -> fresh list of patterns (strings are split into lines).
sub pattern_list ($) {
    my $pats = shift;
    if (!ref $pats) {
        chomp $pats;
        return [split /\n+/, $pats];
    }
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats];
}

sub line_matches ($$) {
    my ($line, $pat) = @_;
    return (ref $pat && $line =~ /$pat/) || $line =~ /\Q$pat\E/;
}

# One test per pattern: pass if some line matches it.
sub check_patterns_present ($$$$$) {
    my ($name, $section, $what, $lines, $dry_run) = @_;
    my ($pats, $req_note) = @$section;
    for my $line (@$lines) {
        for my $pat (@$pats) {
            next if !defined $pat;
            next if !line_matches($line, $pat);
            SKIP: {
                Test::More::skip("$name - $what - tests skipped due to "
                                 . "$dry_run", 1) if $dry_run;
                Test::More::pass("$name - pattern \"$pat\" matches a line in "
                                 . "$what.log$req_note");
            }
            undef $pat;
        }
    }
    for my $pat (@$pats) {
        next if !defined $pat;
        SKIP: {
            Test::More::skip("$name - $what - tests skipped due to $dry_run",
                             1) if $dry_run;
            Test::More::fail("$name - pattern \"$pat\" should match a line "
                             . "in $what.log$req_note");
        }
    }
}

# One failing test per matching line, else one passing test per pattern.
sub check_patterns_absent ($$$$$$) {
    my ($name, $section, $what, $file, $lines, $dry_run) = @_;
    my ($pats, $req_note, $more_context) = @$section;
    my %found;
    for my $i (0 .. $#$lines) {
        my $line = $lines->[$i];
        for my $pat (@$pats) {
            next if !defined $pat;
            next if !line_matches($line, $pat);
            no_ending() if $found{$pat}++;
            SKIP: {
                Test::More::skip("$name - $what - tests skipped due to "
                                 . "$dry_run ($line)", 1) if $dry_run;
                my ($ln, $p) = (fmt_str($line), fmt_str($pat));
                my $more = '';
                if ($more_context) {
                    $more = "\n" . join '', @$lines[$i + 1 ..
                                   min($i + 10, @$lines - 1) - 1];
                }
                Test::More::fail("$name - pattern \"$p\" should not match any "
                    . "line in $file but matches line \"$ln\"$req_note$more");
            }
        }
    }
    for my $pat (@$pats) {
        next if !defined $pat || $found{$pat};
        SKIP: {
            Test::More::skip("$name - $what - tests skipped due to $dry_run",
                             1) if $dry_run;
            my $p = fmt_str($pat);
            Test::More::pass("$name - pattern \"$p\" does not match a line in "
                             . "$file$req_note");
        }
    }
}

sub check_error_log ($$$$$) {
    my ($block, $res, $dry_run, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;
    my $lines;
    my %warn_about = map { $_ => 1 } ('[alert]', '[crit]', '[emerg]');

    my $grep_pat;
    my $grep_pats = $block->grep_error_log;
    if (defined $grep_pats) {
        $grep_pat = ref $grep_pats eq 'ARRAY'
                    ? $grep_pats->[$repeated_req_idx] : $grep_pats;
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but "
                 . "--- grep_error_log_out is defined");
    }

    if (defined $grep_pat) {
        my $expected = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but "
                 . "--- grep_error_log is defined") if !defined $expected;
        $expected = $expected->[$repeated_req_idx]
            if ref $expected eq 'ARRAY';

        SKIP: {
            Test::More::skip("$name - error_log - tests skipped due to "
                             . "$dry_run", 1) if $dry_run;
            $lines ||= error_log_data();
            my $matched_lines = '';
            for my $line (@$lines) {
                my $matched;
                if (ref $grep_pat && $line =~ /$grep_pat/) {
                    $matched = $&;
                } elsif ($line =~ /\Q$grep_pat\E/) {
                    $matched = $&;
                }
                $matched_lines .= "$matched\n"
                    if defined $matched && $matched !~ /\n/;
            }
            my $desc = "$name - grep_error_log_out (req $repeated_req_idx)";
            if (ref $expected eq 'Regexp') {
                Test::More::like($matched_lines, $expected, $desc);
            } else {
                Test::Nginx::Util::compare_strings($matched_lines, $expected,
                                                   $desc);
            }
        }
    }

    my $req_note = " (req $repeated_req_idx)";
    for my $section (qw(error_log no_error_log)) {
        my $pats = $block->$section;
        next if !defined $pats;
        for my $level (keys %warn_about) {
            (my $partial = $level) =~ s/\]$//;
            delete $warn_about{$level} if value_contains($pats, $partial);
        }
        $lines ||= error_log_data();
        if ($section eq 'error_log') {
            check_patterns_present($name, [pattern_list($pats), $req_note],
                                   'error', $lines, $dry_run);
        } else {
            check_patterns_absent($name, [pattern_list($pats), $req_note, 1],
                                  'no_error_log', 'error.log', $lines,
                                  $dry_run);
        }
    }

    if (!$dry_run) {
        $lines ||= error_log_data();
        for my $line (@$lines) {
            for my $level (keys %warn_about) {
                warn "WARNING: $name - " . fmt_str($line) . "\n"
                    if index($line, $level) >= 0;
            }
        }
    }

    for my $line (@{ $lines || [] }) {
        if ($line =~ /\bAssertion .*?failed\b/) {
            chomp(my $l = $line);
            extra_fail("$name - $l\n");
        }
    }
}

sub check_access_log ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;
    my $name = $block->name;
    my $lines;
    my $req_note = " (req $repeated_req_idx)";

    if (defined(my $pats = $block->access_log)) {
        $lines ||= access_log_data() || [];
        check_patterns_present($name, [pattern_list($pats), $req_note],
                               'access', $lines, $dry_run);
    }
    if (defined(my $pats = $block->no_access_log)) {
        $lines ||= access_log_data() || [];
        check_patterns_absent($name, [pattern_list($pats), $req_note, 1],
                              'no_access_log', 'access.log', $lines, $dry_run);
    }
}

# "--- shutdown_error_log" / "--- no_shutdown_error_log": checked once the
# nginx of the block has been stopped.
sub check_shutdown_error_log ($$) {
    my ($block, $dry_run) = @_;
    my $name = $block->name;
    my $lines;

    if (defined(my $pats = $block->no_shutdown_error_log)) {
        $lines ||= error_log_data();
        check_patterns_absent($name, [pattern_list($pats), '', 0],
                              'no_shutdown_error_log', 'error.log', $lines,
                              $dry_run);
    }

    $lines ||= error_log_data();
    my $pats = pattern_list($block->shutdown_error_log);
    for my $line (@$lines) {
        for my $pat (@$pats) {
            next if !defined $pat || !line_matches($line, $pat);
            SKIP: {
                Test::More::skip("$name - shutdown_error_log - tests skipped "
                                 . "due to dry_run", 1) if $dry_run;
                Test::More::pass("$name - pattern \"$pat\" matches a line in "
                                 . "error.log");
            }
            undef $pat;
        }
    }
    for my $pat (grep { defined } @$pats) {
        SKIP: {
            Test::More::skip("$name - shutdown_error_log - tests skipped due "
                             . "to dry_run", 1) if $dry_run;
            Test::More::fail("$name - pattern \"$pat\" should match a line in "
                             . "error.log");
        }
    }
}

1;
__END__

=encoding utf-8

=head1 NAME

Test::Nginx::Socket - compatible subset of openresty's Test::Nginx::Socket

=head1 SYNOPSIS

    use Test::Nginx::Socket;

    repeat_each(2);
    plan tests => repeat_each() * 2 * blocks();
    run_tests();

    __DATA__

    === TEST 1: sanity
    --- config
        location = /t { return 200 "hello\n"; }
    --- request
        GET /t
    --- response_body
    hello

Run with C<prove -I t/compat -r t/>.

=head1 DESCRIPTION

Debian does not package L<Test::Nginx|https://github.com/openresty/test-nginx>,
so the project carries this subset of it, built on Debian's L<Test::Base>
and L<HTTP::Response>.  It follows upstream's F<lib/Test/Nginx/Socket.pm>
and F<lib/Test/Nginx/Util.pm> (version 0.29) so that a C<.t> file written for
the real module runs unchanged with the same number of tests, the same test
names and the same pass/fail results:

=over

=item * every request gives a C<"... - status code ok"> test (200 unless
C<error_code> / C<error_code_like>), then one test per C<response_headers>
(or C<response_headers_like>) line, one for C<response_body> /
C<response_body_like> / C<response_body_unlike>;

=item * log checks (C<error_log>, C<no_error_log>, C<grep_error_log>,
C<access_log>, C<no_access_log>) run after every request of the block
(a multi-request or pipelined block checks them once per request), each
time over the error.log lines written since the previous check; every
C<error_log> pattern gives one test, every C<no_error_log> pattern gives a
passing test or one failing test per matching line;

=item * C<[alert]>, C<[crit]> and C<[emerg]> lines only produce warnings on
stderr (unless a log section mentions them), "Assertion ... failed" lines
produce an extra failing test;

=item * test names are C<"$0 TEST n: title - ...">; blocks are shuffled unless
C<no_shuffle()> or C<TEST_NGINX_NO_SHUFFLE=1>.

=back

=head2 Supported sections

C<config>, C<http_config>, C<main_config>, C<post_main_config>,
C<server_name>, C<request> (C<METHOD [URI [VERSION]]> plus body lines;
with C<eval> an array of requests, a request may be an array of packets with
optional C<delay_before>), C<request_eval>, C<more_headers> (string or
per-request array), C<pipelined_requests>, C<raw_request>,
C<raw_request_middle_delay>, C<error_code>, C<error_code_like>,
C<response_body>, C<response_body_eval>, C<response_body_like>,
C<response_body_unlike>, C<response_body_filters>, C<charset>,
C<response_headers> (C<Name: value>, C<!Name> for absent),
C<response_headers_like>, C<raw_response_headers_like>,
C<raw_response_headers_unlike>, C<error_log>, C<no_error_log>,
C<grep_error_log>, C<grep_error_log_out>, C<access_log>, C<no_access_log>,
C<shutdown_error_log>, C<no_shutdown_error_log>, C<user_files>,
C<timeout>, C<abort>, C<wait>, C<shutdown>, C<ignore_response>, C<http09>,
C<log_level>, C<error_log_file>, C<init>, C<must_die>, C<reload_fails>,
C<server_addr_for_client>, C<skip_eval>, C<skip_nginx>, C<skip_nginx2>,
C<skip_openssl>, C<todo>, and Test::Base's C<ONLY>, C<SKIP>, C<LAST> and
filters (C<eval>, C<chomp>, C<chop>, ...).

=head2 Exported functions

C<run_tests>, C<plan> and C<blocks> (Test::Base, also C<no_plan> in the
C<use> line), C<repeat_each>, C<no_shuffle>, C<master_on>, C<master_off>,
C<master_process_enabled>, C<workers>, C<worker_connections>,
C<log_level>, C<no_long_string>, C<env_to_nginx>, C<no_root_location>,
C<config_preamble>, C<server_name>, C<server_addr>, C<server_port>,
C<server_port_for_client>, C<server_root>, C<html_dir>, C<timeout>,
C<use_hup>, C<no_nginx_manager>, C<check_accum_error_log>,
C<add_block_preprocessor>, C<add_cleanup_handler>,
C<add_response_body_check>, C<bail_out>, C<is_str>, and the variables
C<$ServerPort>, C<$ServerPortForClient>, C<$ServRoot>, C<$ServerAddr>,
C<$ServerName>, C<$NoLongString>.

=head2 Environment

C<TEST_NGINX_BINARY> (default C<nginx> in C<PATH>), C<TEST_NGINX_PORT>,
C<TEST_NGINX_SERVER_PORT>, C<TEST_NGINX_CLIENT_PORT> (default 1984),
C<TEST_NGINX_SERVROOT> (default F<t/servroot>), C<TEST_NGINX_LOAD_MODULES>,
C<TEST_NGINX_USE_HUP>, C<TEST_NGINX_USE_VALGRIND>, C<TEST_NGINX_NO_CLEAN>,
C<TEST_NGINX_SLEEP>, C<TEST_NGINX_TIMEOUT>, C<TEST_NGINX_LOG_LEVEL>,
C<TEST_NGINX_MASTER_PROCESS>, C<TEST_NGINX_NO_SHUFFLE>,
C<TEST_NGINX_RANDOMIZE>, C<TEST_NGINX_REUSE_PORT>,
C<TEST_NGINX_EVENT_TYPE>, C<TEST_NGINX_POSTPONE_OUTPUT>,
C<TEST_NGINX_WORKER_USER>, C<TEST_NGINX_ERROR_LOG>,
C<TEST_NGINX_CHECK_ACCUM_ERR_LOG>, C<TEST_NGINX_FORCE_RESTART_ON_TEST>,
C<TEST_NGINX_NO_NGINX_MANAGER>, C<TEST_NGINX_IGNORE_MISSING_DIRECTIVES>,
C<TEST_NGINX_VERBOSE>.  C<$TEST_NGINX_*> variables are expanded from
C<%ENV> in C<config>, C<http_config>, C<main_config>, C<post_main_config>
and C<user_files> (an undefined one aborts the run, as upstream), and
C<$TEST_NGINX_RAND_PORT_N> gives a free port.  The whole process
environment (e.g. C<GLIBC_TUNABLES>) is passed on to nginx.

=head2 Differences from upstream

Not implemented: HTTP/2 and HTTP/3 (C<http2>, C<http3>, C<curl*>),
systemtap (a C<stap> section counts as one skipped test), the embedded
C<tcp_listen> / C<udp_listen> servers, C<TEST_NGINX_CHECK_LEAK>,
C<TEST_NGINX_BENCHMARK>, C<TEST_NGINX_USE_RR>, C<skip_slave>,
C<todo_nginx>.  Test::LongString is not packaged in Debian, so failed string
comparisons show a diff of our own (the verdict is the same).

Additions: C<$TEST_NGINX_*> variables defined in C<%ENV> are also expanded in
C<request>, C<pipelined_requests>, C<raw_request> and C<more_headers>;
C<TEST_NGINX_HTML_DIR> defaults to the server root's F<html> directory.
See L<Test::Nginx::Util> for the server-management differences (127.0.0.1
only, temp paths, start-up failure handling).

=cut
