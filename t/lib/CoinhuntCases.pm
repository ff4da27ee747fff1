package CoinhuntCases;

# The shared cases of the designer's test kit (t/cases/README.md): each
# case is a rules file, requests and the answers and log lines expected.
# t/061-kit-cases.t runs them against the kit (lua/coinhunt/cases.lua),
# t/062-kit-cases-nginx.t against a real nginx (nginx_run here); both
# check the results with check(), so a case the two answer differently
# fails one of them.
#   files()                      the case files, t/cases/*.json
#   cases_of($file)              its cases
#   check($file, $case, $result) one test per step (or load error)
#   count($cases)                how many tests check() makes of them
#   planned()                    (files, their cases), the tests planned
#   nginx_run($case)             the case's result from a fresh nginx

use strict;
use warnings;

use File::Temp ();
use JSON::PP ();
use Test::More;
use Time::HiRes qw(sleep);
use URI::Escape qw(uri_escape);
use Coinhunt ();

my $JSON = JSON::PP->new->canonical->allow_nonref;

# the nginx side's coinhunt_secret (conf() has the rest of its setup)
my $SECRET = 'coinhunt-cases-secret-0001';
# the sweeper looks every 250 ms: after an advance that expects log lines
# (on_expire's), they are waited for this long at most
my $SWEEP_WAIT = 2;

sub files { return sort glob 't/cases/*.json' }

sub cases_of {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!";
    my $data = $JSON->decode(do { local $/; <$fh> });
    return $data->{cases};
}

# every case file and its cases, the tests they make planned
sub planned {
    my @files = files() or BAIL_OUT('no t/cases/*.json');
    my %cases = map { $_ => cases_of($_) } @files;
    my $n = 0;
    $n += count($_) for values %cases;
    plan tests => $n;
    return (\@files, \%cases);
}

sub count {
    my ($cases) = @_;
    my $n = 0;
    $n += defined $_->{load_error} ? 1 : scalar @{ $_->{steps} }
        for @$cases;
    return $n;
}

# what the step expects, in the form the runners report
sub want {
    my ($step) = @_;
    return $JSON->encode({ answer => $step->{expect}, log => $step->{log}
                                                             // [] });
}

sub check {
    my ($file, $case, $result) = @_;
    my $name = "$file: $case->{name}";
    my $error = $result->{error};
    $error //= "refused the rules: $result->{load_error}"
        if defined $result->{load_error} && !defined $case->{load_error};
    if (defined $error) {
        fail("$name: $error") for 1 .. count([$case]);
        return;
    }
    if (defined $case->{load_error}) {
        is($result->{load_error}, $case->{load_error}, "$name: refused");
        return;
    }
    my $i = 0;
    for my $step (@{ $case->{steps} }) {
        my $got = $result->{steps}[$i];
        $i++;
        is($got ? $JSON->encode($got) : '(no answer)', want($step),
           "$name: step $i");
    }
}

# the case's rules: (file name, source)
sub rules {
    my ($case) = @_;
    if (my $file = $case->{rules_file}) {
        open my $fh, '<', $file or die "$file: $!";
        my ($base) = $file =~ m{([^/]+)$};
        return ($base, do { local $/; <$fh> });
    }
    my $src = $case->{rules};
    return ('rules.lua', ref $src ? join("\n", @$src) . "\n" : $src);
}

sub conf {
    my ($case, $file) = @_;
    my $rate = $case->{tap_rate} ? "coinhunt_tap_rate $case->{tap_rate};" : '';
    return join "\n",
        "coinhunt_zone cases 1m;",
        "coinhunt_secret $SECRET;",
        (defined $case->{seed} ? "coinhunt_seed $case->{seed};" : ()),
        (defined $case->{session_ttl}
            ? "coinhunt_session_ttl $case->{session_ttl};" : ()),
        "coinhunt_rules $file;",
        "server {",
        "    listen 127.0.0.1:\$PORT;",
        "    location = /hunt/session { coinhunt session; }",
        "    location = /hunt/tap { coinhunt tap; $rate }",
        "    location = /hunt/end { coinhunt end; }",
        "    location = /hunt/leaderboard { coinhunt leaderboard; }",
        "    location = /hunt/metrics { coinhunt metrics; }",
        "    location = /hunt/query { coinhunt query; }",
        "}";
}

# the rules' lines nginx logged since offset $from: "[level] text" with
# the rules file named as the kit names it, first lines only
sub log_lines {
    my ($n, $from) = @_;
    my $log = $n->error_log;
    my $conf = "$n->{prefix}/conf/";
    my @lines;
    for my $line (split /\n/, substr($log, $from)) {
        my ($level, $text) =
            $line =~ /^\S+ \S+ \[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*)$/ or next;
        $text =~ s/\Q$conf\E//g;
        next unless $text =~ /^coinhunt rules: |^coinhunt: [^\s:]+\.lua: /;
        $text =~ s/, client: \S+, server: .*$//;
        push @lines, "[$level] $text";
    }
    return (\@lines, length $log);
}

sub query {
    my (%p) = @_;
    my @q = map { "$_=" . uri_escape($p{$_}) } grep { defined $p{$_} }
            sort keys %p;
    return @q ? '?' . join('&', @q) : '';
}

# one request; its JSON answer with the status (and Retry-After)
sub request {
    my ($n, $method, $path, $token) = @_;
    my %h = defined $token ? (Authorization => "Bearer $token") : ();
    return answer(Coinhunt::http($method, $n->url($path), headers => \%h));
}

# an answer as the kit gives one: the JSON, its status and Retry-After
sub answer {
    my ($status, $body, $headers) = @_;
    my $answer = eval { $JSON->decode($body // '') }
        // { unparsed => $body // '' };
    $answer->{status} = 0 + $status;
    $answer->{retry_after} = 0 + $headers->{'retry-after'}
        if $status == 429 && defined $headers->{'retry-after'};
    # tokens differ between the kit and nginx: only that there is one
    $answer->{session} = '<token>'
        if defined $answer->{session} && $answer->{session} =~ /^[\w-]{22}$/;
    return $answer;
}

sub metrics {
    my ($n) = @_;
    my (undef, $body) = Coinhunt::http(GET => $n->url('/hunt/metrics'));
    my %m;
    for my $name (qw(taps_total coins_total coin_value_total
                     rule_errors_total rate_limited_total refused_total
                     sessions)) {
        $m{"coinhunt_$name"} = 0 + $1
            if ($body // '') =~ /^coinhunt_\Q$name\E (\d+)$/m;
    }
    return \%m;
}

sub token {
    my ($step, $tokens, $name) = @_;
    return length $step->{token} ? $step->{token} : undef
        if defined $step->{token};
    return defined $name && length $name ? $tokens->{$name} : undef;
}

my %ACTIONS = (
    join => sub {
        my ($n, $s, $t) = @_;
        my @res = Coinhunt::http(POST => $n->url('/hunt/session'
            . query(player => $s->{join}, hunt => $s->{hunt})));
        my ($token) = ($res[1] // '') =~ /"session":"([^"]+)"/;
        $t->{ $s->{as} // $s->{join} } = $token if $token;
        return answer(@res);
    },
    tap => sub {
        my ($n, $s, $t) = @_;
        return request($n, POST => '/hunt/tap' . query(seq => $s->{seq},
                                 x => $s->{x}, y => $s->{y}),
                       token($s, $t, $s->{tap}));
    },
    end => sub {
        my ($n, $s, $t) = @_;
        return request($n, DELETE => '/hunt/end', token($s, $t, $s->{end}));
    },
    leaderboard => sub {
        my ($n, $s, $t) = @_;
        return request($n, GET => '/hunt/leaderboard'
                           . query(hunt => $s->{hunt}, top => $s->{top}),
                       token($s, $t, $s->{leaderboard}));
    },
    query => sub {
        my ($n, $s, $t) = @_;
        my %args = (%{ $s->{args} // {} }, hunt => $s->{hunt});
        my ($status, $body, $headers) = Coinhunt::http(GET =>
            $n->url('/hunt/query' . query(%args)),
            headers => { map { (Authorization => "Bearer $_") }
                         grep { defined } token($s, $t, $s->{query}) });
        # a success is on_query's JSON, whatever its shape, under "json"
        return answer($status, $body, $headers) if $status != 200;
        return { status => 200, json => $JSON->decode($body) };
    },
    advance => sub {
        my ($n, $s, $t, $seen) = @_;
        my ($v, $unit) = $s->{advance} =~ /^(\d+)(ms|s)$/
            or die "the nginx side advances ms or s only: $s->{advance}\n";
        sleep($v / ($unit eq 'ms' ? 1000 : 1));
        my $lines = @{ $s->{log} // [] };
        Coinhunt::wait_for($SWEEP_WAIT,
                           sub { @{ (log_lines($n, $seen))[0] } >= $lines });
        return undef;
    },
    metrics => sub { metrics($_[0]) },
);

sub action {
    my ($step) = @_;
    for (sort keys %ACTIONS) { return $_ if exists $step->{$_} }
    die "a step with no action\n";
}

# nginx -t's refusal of the rules, as the kit words it
sub refusal {
    my ($case, $file, $source) = @_;
    my $n = bless { port => Coinhunt::free_port() }, 'Coinhunt::Nginx';
    $n->{prefix} = File::Temp::tempdir('coinhunt-cases-XXXXXX', TMPDIR => 1,
                                       CLEANUP => 1);
    mkdir "$n->{prefix}/$_" for qw(conf logs);
    open my $fh, '>', "$n->{prefix}/conf/$file" or die $!;
    print $fh $source;
    close $fh;
    $n->write_conf(conf => conf($case, $file));
    my ($ok, $out) = Coinhunt::nginx_t($n->{prefix});
    delete $n->{port};
    return { load_error => "nginx -t passed" } if $ok;
    my ($msg) = $out =~
        /"coinhunt_rules" directive: (.*?)(?: in \S+nginx\.conf:\d+)?$/m;
    $msg //= $out;
    $msg =~ s/\Q$n->{prefix}\/conf\/\E//g;
    return { load_error => $msg };
}

sub nginx_run {
    my ($case) = @_;
    my ($file, $source) = rules($case);
    return refusal($case, $file, $source) if defined $case->{load_error};
    my $n = Coinhunt::Nginx->start(conf => conf($case, $file),
                                   files => { $file => $source });
    my (%tokens, @steps);
    my (undef, $seen) = log_lines($n, 0);
    for my $step (@{ $case->{steps} }) {
        my $answer = $ACTIONS{ action($step) }->($n, $step, \%tokens, $seen);
        my $log;
        ($log, $seen) = log_lines($n, $seen);
        push @steps, { answer => $answer, log => $log };
    }
    $n->stop;
    return { steps => \@steps };
}

1;
