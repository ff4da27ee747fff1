# contrib/: the Prometheus alert rules pass "promtool check rules", and every
# expression of the alerts and of the Grafana dashboard names only metrics
# the module exports, as read from real /hunt/metrics answers in local and
# in Redis mode.

use strict;
use warnings;
use lib 't/lib';
use Coinhunt qw(http metric wait_for);
use CoinhuntRedis;
use JSON::PP qw(decode_json);
use Test::More;

my $promtool = $ENV{PROMTOOL} // 'build/prometheus/usr/bin/promtool';
my $alerts = 'contrib/prometheus/alerts.yml';
my $dashboard = 'contrib/grafana/coinhunt.json';

if (!-x $promtool) {
    fail "promtool is at $promtool";
    diag "make deps unpacks Debian's prometheus package into build/prometheus";
    done_testing;
    exit;
}

my $out = `'$promtool' check rules '$alerts' 2>&1`;
is $?, 0, "promtool check rules $alerts" or diag $out;
my ($nrules) = $out =~ /SUCCESS: (\d+) rules found/;
is $nrules, 5, '  five rules';

# the metric names of a PromQL expression: what is left without strings,
# label matchers, ranges, grouping labels, functions, keywords and numbers
sub metric_names {
    my ($expr) = @_;
    $expr =~ s/"(?:[^"\\]|\\.)*"//g;
    $expr =~ s/\{[^}]*\}//g;
    $expr =~ s/\[[^\]]*\]//g;
    $expr =~ s/\blabel_values\(\s*([a-zA-Z_:][\w:]*)\s*,\s*\w+\s*\)/$1/g;
    $expr =~ s/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)//g;
    $expr =~ s/\b[a-zA-Z_]\w*\s*\(/(/g;
    $expr =~ s/\b(?:and|or|unless|bool|offset)\b//g;
    $expr =~ s/\$\w+//g;
    $expr =~ s/\b\d+(?:\.\d+)?(?:e[-+]?\d+)?\b//gi;
    return $expr =~ /([a-zA-Z_:][\w:]*)/g;
}

is_deeply [ metric_names('sum by (hook, le) (rate(coinhunt_rule_seconds_bucket'
                         . '{instance=~"$instance"}[5m])) / up > 0.9') ],
          [ 'coinhunt_rule_seconds_bucket', 'up' ],
          'the names of an expression are found (a foreign one too)';

# the alerts' expressions: "expr: X", or "expr: >-" and its indented lines
my @exprs;
open my $fh, '<', $alerts or die "$alerts: $!";
my $in;
while (my $line = <$fh>) {
    if (defined $in) {
        if ($line =~ /^(\s+)(\S.*)$/ && length($1) > $in) {
            $exprs[-1][1] .= " $2";
            next;
        }
        undef $in;
    }
    if ($line =~ /^(\s*)expr:\s*(.*?)\s*$/) {
        my ($indent, $rest) = (length $1, $2);
        push @exprs, [ "$alerts expr", $rest =~ /^[>|]/ ? '' : $rest ];
        $in = $indent if $rest =~ /^[>|]/;
    }
}
close $fh;
is scalar(@exprs), $nrules, 'each alert rule has its expression';

my $json = do { local $/; open my $j, '<', $dashboard or die $!; <$j> };
my $dash = decode_json($json);
for my $p (@{ $dash->{panels} }) {
    push @exprs, [ "$dashboard \"$p->{title}\"", $_->{expr} ]
        for @{ $p->{targets} };
}
push @exprs, map { [ "$dashboard \$$_->{name}", $_->{definition} ] }
             grep { $_->{type} eq 'query' } @{ $dash->{templating}{list} };
my %titles = map { $_->{title} => 1 } @{ $dash->{panels} };
ok $titles{$_}, "the dashboard has \"$_\""
    for 'Taps/s', 'Coins/s', 'Answers by status', 'Rule p99',
        'Sessions vs capacity', 'Heap per worker', 'Redis';

# what the module exports, after a game, in local and in Redis mode
my $rules = "return { on_tap = function(s, t) return { value = 3 } end }\n";
my $server = <<'CONF';
    server {
        listen 127.0.0.1:$PORT;
        hunt_locations;
    }
CONF
my $conf = "coinhunt_zone contrib 1m;\ncoinhunt_rules rules.lua;\n$server";

sub exported {
    my ($n) = @_;
    my (undef, $body) = http(POST => $n->url('/hunt/session?player=cat'));
    my ($token) = ($body // '') =~ /"session":"([^"]+)"/;
    http(POST => $n->url("/hunt/tap?session=$token"));
    my $text;
    wait_for(10, sub { (undef, $text) = http(GET => $n->url('/hunt/metrics'));
                       ($text // '') =~ /\{worker="0"\}/ });
    return map { /^([a-zA-Z_:][\w:]*)[{ ]/ ? ($1 => 1) : () }
           grep { !/^#/ } split /\n/, $text // '';
}

my $n = Coinhunt::Nginx->start(files => { 'rules.lua' => $rules },
                               conf => $conf);
my %local = exported($n);
$n->stop;

my $redis = CoinhuntRedis->start;
my $port = $redis->port;
$n = Coinhunt::Nginx->start(files => { 'rules.lua' => $rules },
    conf => "$conf\ncoinhunt_redis 127.0.0.1:$port;\n");
wait_for(10, sub { (metric($n, 'coinhunt_redis_up') // 0) == 1 });
my %redis = exported($n);
$n->stop;
$redis->stop;

ok !$local{coinhunt_redis_up} && $redis{coinhunt_redis_up},
   'coinhunt_redis_up: in Redis mode only';
ok $local{coinhunt_responses_total} && $local{coinhunt_rule_seconds_bucket},
   'the answers and the rule histogram are exported';

my %known = (%local, %redis);
for my $e (@exprs) {
    my ($where, $expr) = @$e;
    my @names = metric_names($expr);
    my @unknown = grep { !$known{$_} } @names;
    ok @names && !@unknown, "$where: " . (join(', ', @names) || 'no metric')
        or diag "not exported: @unknown in: $expr";
}

done_testing;
