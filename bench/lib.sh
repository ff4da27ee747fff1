# bench/lib.sh -- shared by bench/run and bench/sessions (sourced, not run):
# process bookkeeping (everything started is stopped by pid on exit), free
# loopback ports, server start/stop (bare nginx, coinhunt, the OpenResty peer
# via its run-peer, redis-server), wrk runs with server CPU accounting, token
# capture, metrics, medians, progress/ETA lines.
#
# Everything listens on 127.0.0.1 only.  nginx workers are pinned to
# SERVER_CPU, wrk / redis / the scripts themselves to CLIENT_CPU.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
PEER_DIR=${PEER_DIR:-$(cd "$TOP/../shared/peer" 2>/dev/null && pwd || echo /work/shared/peer)}
NGINX=${NGINX:-/usr/sbin/nginx}
WRK=${WRK:-/usr/bin/wrk}
REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
REDIS_CLI=${REDIS_CLI:-/usr/bin/redis-cli}
MODULE=${MODULE:-$TOP/build/ngx_http_coinhunt_module.so}
FLOOR=${FLOOR:-$TOP/build/ngx_http_bench_floor_module.so}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
CONNS=${CONNS:-50}
WRK_TIMEOUT=${WRK_TIMEOUT:-30s}
TCK=$(getconf CLK_TCK)
# Debian's libjemalloc uses initial-exec TLS: dlopen() needs this headroom
export GLIBC_TUNABLES=glibc.rtld.optional_static_tls=4096

# the bare-nginx body: the size of a typical tap answer
BARE_BODY='{"coin":null,"score":1205,"taps":2412,"coins":241}'

BENCH_T0=$(date +%s)
ETA_TOTAL=0       # planned seconds of the whole run (set by the caller)
ETA_DONE=0        # planned seconds of the steps already started

die() { echo "bench: error: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

fmt_s() { printf '%d:%02d' $(($1 / 60)) $(($1 % 60)); }

# step "what" planned_seconds: progress line with elapsed time and time left
step() {
    local elapsed left
    elapsed=$(( $(date +%s) - BENCH_T0 ))
    left=$(( ETA_TOTAL - ETA_DONE ))
    [ "$left" -lt 0 ] && left=0
    printf '[%s] == %s   (elapsed %s, ~%s left)\n' "$(date +%H:%M:%S)" "$1" \
        "$(fmt_s "$elapsed")" "$(fmt_s "$left")" >&2
    ETA_DONE=$(( ETA_DONE + $2 ))
}

# --- process bookkeeping --------------------------------------------------------
NGINX_PREFIXES=()     # our nginx instances (prefix dirs)
PEER_PREFIXES=()      # run-peer instances
REDIS_PIDFILES=()
BG_PIDS=()

stop_pidfile() {      # pidfile signal
    local pid i
    [ -s "$1" ] || return 0
    pid=$(cat "$1")
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill "-$2" "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    set +e
    local p
    for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    for p in "${NGINX_PREFIXES[@]}"; do stop_pidfile "$p/logs/nginx.pid" QUIT; done
    for p in "${PEER_PREFIXES[@]}"; do [ -d "$p" ] && "$PEER_DIR/run-peer" stop "$p" >/dev/null 2>&1; done
    for p in "${REDIS_PIDFILES[@]}"; do stop_pidfile "$p" TERM; done
    [ -n "${WORK:-}" ] && rm -rf -- "$WORK"
}

bg_forget() {         # pid: drop from BG_PIDS once waited for
    local p keep=()
    for p in "${BG_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    BG_PIDS=("${keep[@]}")
}

# --- ports, processes, /proc ----------------------------------------------------
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# below the ephemeral range: a client's local port there would fail a bind
read -r EPHEMERAL_LO _ 2>/dev/null < /proc/sys/net/ipv4/ip_local_port_range ||
    EPHEMERAL_LO=32768
NEXT_PORT=$((10000 + RANDOM % (EPHEMERAL_LO > 12000 ? EPHEMERAL_LO - 11000 : 1000)))
free_port() {         # -> FREE_PORT (no subshell, so NEXT_PORT advances)
    while port_busy "$NEXT_PORT" || ss -Htln "sport = :$NEXT_PORT" 2>/dev/null | grep -q .; do
        NEXT_PORT=$((NEXT_PORT + 1))
    done
    FREE_PORT=$NEXT_PORT
    NEXT_PORT=$((NEXT_PORT + 1))
}

wait_port() {
    local i
    for ((i = 0; i < 200; i++)); do port_busy "$1" && return 0; sleep 0.05; done
    return 1
}

worker_of() {         # master pid -> its (single) worker pid
    local w i
    for ((i = 0; i < 100; i++)); do
        w=$(ps -o pid= --ppid "$1" | head -1 | tr -d ' ')
        [ -n "$w" ] && { echo "$w"; return 0; }
        sleep 0.05
    done
    die "no worker process under master $1"
}

# utime+stime of a pid, in clock ticks (no fork: bash builtins only)
ticks() {
    local f
    read -r -a f < "/proc/$1/stat" 2>/dev/null || { echo 0; return; }
    echo $(( f[13] + f[14] ))
}
# CPU of the main shell's waited-for children (cutime+cstime), in clock ticks
# ($$, not $BASHPID: this runs in a $(...) subshell)
child_ticks() {
    local f
    read -r -a f < "/proc/$$/stat"
    echo $(( f[15] + f[16] ))
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
shm_kb() { awk '/^RssShmem:/ {print $2}' "/proc/$1/status"; }

# --- servers ----------------------------------------------------------------------
http_common() {       # the http{} settings every contender shares
    cat <<EOF
    access_log off;
    server_tokens off;
    default_type application/json;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    client_max_body_size 4k;
    client_body_buffer_size 4k;
    client_body_temp_path temp/body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;
EOF
}

new_prefix() {        # name -> PREFIX (fresh dir under WORK)
    PREFIX=$WORK/srv-$1
    rm -rf -- "$PREFIX"
    mkdir -p "$PREFIX/conf" "$PREFIX/logs" "$PREFIX/temp"
}

# start_nginx name port: run the config in $WORK/srv-name, pinned; sets
# <name>_URL <name>_PORT <name>_MASTER <name>_WORKER <name>_PREFIX
start_nginx() {
    local name=$1 port=$2 prefix=$WORK/srv-$1 master
    if ! "$NGINX" -t -q -p "$prefix/" -c conf/nginx.conf -e logs/error.log 2>"$prefix/logs/nginx-t.log"; then
        cat "$prefix/logs/nginx-t.log" >&2
        die "nginx -t failed for $name"
    fi
    taskset -c "$SERVER_CPU" "$NGINX" -p "$prefix/" -c conf/nginx.conf -e logs/error.log
    NGINX_PREFIXES+=("$prefix")
    wait_port "$port" || { tail -5 "$prefix/logs/error.log" >&2; die "$name did not start"; }
    local i
    for ((i = 0; i < 100; i++)); do [ -s "$prefix/logs/nginx.pid" ] && break; sleep 0.05; done
    master=$(cat "$prefix/logs/nginx.pid")
    printf -v "${name}_URL" '%s' "http://127.0.0.1:$port"
    printf -v "${name}_PORT" '%s' "$port"
    printf -v "${name}_MASTER" '%s' "$master"
    printf -v "${name}_WORKER" '%s' "$(worker_of "$master")"
    printf -v "${name}_PREFIX" '%s' "$prefix"
}

stop_nginx() {        # name
    local prefix=$WORK/srv-$1 keep=() p
    stop_pidfile "$prefix/logs/nginx.pid" QUIT
    for p in "${NGINX_PREFIXES[@]}"; do [ "$p" = "$prefix" ] || keep+=("$p"); done
    NGINX_PREFIXES=("${keep[@]}")
    rm -rf -- "$prefix"
}

# bare nginx: "return 200" with a tap-sized JSON body at the tap's path
start_bare() {        # name
    start_plain "$1" "# bare nginx: the ceiling (generated by bench/lib.sh)" \
        "return 200 '$BARE_BODY';"
}

# the floor: bench/floor's content handler answers the same body and does
# nothing else (what nginx's access and content phases cost any module)
start_floor() {       # name
    start_plain "$1" "load_module $FLOOR;
# the content-handler floor (generated by bench/lib.sh)" "bench_floor;"
}

start_plain() {       # name header tap-location-body
    local name=$1
    new_prefix "$name"
    free_port
    cat > "$PREFIX/conf/nginx.conf" <<EOF
$2
worker_processes 1;
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 16384; }
http {
$(http_common)
    server {
        listen 127.0.0.1:$FREE_PORT backlog=4096;
        location = /hunt/tap { $3 }
        location / { return 404 '{"error":"not_found","message":"no such endpoint"}'; }
    }
}
EOF
    start_nginx "$name" "$FREE_PORT"
}

# coinhunt config: write_ch_conf prefix port zone redis(addr|"") lb(0|1)
# fill(0|1) [pair(0|1)]; "pair" adds bare nginx at /bare and the floor at
# /floor, so the tap and its references run in one worker
write_ch_conf() {
    local prefix=$1 port=$2 zone=$3 redis=$4 lb=$5 fill=$6 pair=${7:-0}
    cp "$BENCH_DIR/rules.lua" "$BENCH_DIR/fill.lua" "$prefix/conf/"
    {
        echo "# coinhunt under benchmark (generated by bench/lib.sh)"
        echo "load_module $MODULE;"
        [ "$pair" = 1 ] && echo "load_module $FLOOR;"
        echo "worker_processes 1;"
        echo "error_log logs/error.log notice;"
        echo "pid logs/nginx.pid;"
        echo "env GLIBC_TUNABLES;"
        echo "events { worker_connections 16384; }"
        echo "http {"
        http_common
        echo "    coinhunt_zone bench $zone;"
        echo "    coinhunt_session_ttl 30m;"
        echo "    coinhunt_rules rules.lua;"
        [ -n "$redis" ] && echo "    coinhunt_redis $redis;"
        echo "    server {"
        echo "        listen 127.0.0.1:$port backlog=4096;"
        echo "        location = /hunt/session { coinhunt session; }"
        echo "        location = /hunt/tap { coinhunt tap; }"
        echo "        location = /hunt/end { coinhunt end; }"
        echo "        location = /hunt/metrics { coinhunt metrics; }"
        [ "$lb" = 1 ] && echo "        location = /hunt/leaderboard { coinhunt leaderboard; }"
        [ "$fill" = 1 ] && echo "        location = /hunt/tap-fill { coinhunt_rules fill.lua; coinhunt tap; }"
        [ "$pair" = 1 ] && echo "        location = /bare { return 200 '$BARE_BODY'; }"
        [ "$pair" = 1 ] && echo "        location = /floor { bench_floor; }"
        echo "        location / { return 404 '{\"error\":\"not_found\",\"message\":\"no such endpoint\"}'; }"
        echo "    }"
        echo "}"
    } > "$prefix/conf/nginx.conf"
}

# start_ch name zone [redis-addr] [lb 0|1] [fill 0|1] [pair 0|1]
start_ch() {
    local name=$1 zone=$2 redis=${3:-} lb=${4:-0} fill=${5:-0} pair=${6:-0}
    new_prefix "$name"
    free_port
    write_ch_conf "$PREFIX" "$FREE_PORT" "$zone" "$redis" "$lb" "$fill" "$pair"
    start_nginx "$name" "$FREE_PORT"
}

# nginx -t of a coinhunt config; prints "capacity bytes" of the zone
ch_probe() {          # zone [redis-addr] [lb] [fill] -> "N B" or fails
    local p=$WORK/probe
    rm -rf -- "$p"; mkdir -p "$p/conf" "$p/logs" "$p/temp"
    write_ch_conf "$p" 1 "$1" "${2:-}" "${3:-0}" "${4:-0}"
    "$NGINX" -t -p "$p/" -c conf/nginx.conf -e logs/error.log >"$p/logs/t.out" 2>&1 || return 1
    sed -n 's/.*coinhunt_zone "bench": \([0-9]*\) sessions of \([0-9]*\) bytes.*/\1 \2/p' \
        "$p/logs/error.log" "$p/logs/t.out" | head -1
}

# smallest zone (whole MiB) that holds N sessions, from the startup log line
# "N sessions of B bytes": estimate from two probes, then verify with nginx -t
zone_for() {          # sessions -> ZONE_MB ZONE_CAP ZONE_SLOT
    local n=$1 a b c1 c2 mb cap
    read -r c1 ZONE_SLOT < <(ch_probe 16m) || die "nginx -t of a 16m zone failed"
    read -r c2 _ < <(ch_probe 32m)
    # MiB per session from the slope, fixed overhead from the intercept
    mb=$(awk -v n="$n" -v c1="$c1" -v c2="$c2" 'BEGIN {
        per = 16 / (c2 - c1); fixed = 16 - c1 * per
        m = int(n * per + fixed); if (m < 1) m = 1; print m }')
    [ "$mb" -gt 2 ] && mb=$((mb - 1))
    for ((a = 0; a < 50; a++)); do
        read -r cap b < <(ch_probe "${mb}m") || die "nginx -t of a ${mb}m zone failed"
        [ "$cap" -ge "$n" ] && break
        mb=$((mb + 1))
    done
    ZONE_MB=$mb
    ZONE_CAP=$cap
}

# the OpenResty peer through its own run-peer; sets <name>_URL/_MASTER/_WORKER/_PREFIX
start_peer() {        # name sessions redis(off|on) [debug]
    local name=$1 sessions=$2 redis=$3 debug=${4:-0} out prefix url master rport=""
    free_port
    local port=$FREE_PORT
    if [ "$redis" = on ]; then free_port; rport=$FREE_PORT; fi
    out=$(PEER_CPU=$SERVER_CPU PEER_REDIS_CPU=$CLIENT_CPU PEER_REDIS_PORT=${rport:-6390} \
          PEER_SESSIONS=$sessions PEER_DEBUG=$debug \
          "$PEER_DIR/run-peer" start "$port" 1 "$redis") || die "run-peer failed for $name"
    prefix=$(sed -n 's/^PREFIX=//p' <<<"$out")
    url=$(sed -n 's/^URL=//p' <<<"$out")
    master=$(sed -n 's/^MASTER_PID=//p' <<<"$out")
    PEER_PREFIXES+=("$prefix")
    printf -v "${name}_URL" '%s' "$url"
    printf -v "${name}_PORT" '%s' "$port"
    printf -v "${name}_MASTER" '%s' "$master"
    printf -v "${name}_WORKER" '%s' "$(worker_of "$master")"
    printf -v "${name}_PREFIX" '%s' "$prefix"
    printf -v "${name}_REDIS_PORT" '%s' "$rport"
}

stop_peer() {         # name
    local var="${1}_PREFIX" keep=() p
    local prefix=${!var}
    "$PEER_DIR/run-peer" stop "$prefix" >/dev/null 2>&1 || true
    for p in "${PEER_PREFIXES[@]}"; do [ "$p" = "$prefix" ] || keep+=("$p"); done
    PEER_PREFIXES=("${keep[@]}")
}

# our own redis-server for coinhunt's Redis mode, pinned with wrk
start_redis() {       # -> REDIS_PORT REDIS_ADDR
    local dir=$WORK/redis
    mkdir -p "$dir"
    free_port
    REDIS_PORT=$FREE_PORT
    taskset -c "$CLIENT_CPU" "$REDIS_SERVER" --bind 127.0.0.1 --port "$REDIS_PORT" \
        --save '' --appendonly no --dir "$dir" --daemonize yes \
        --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
    REDIS_PIDFILES+=("$dir/redis.pid")
    wait_port "$REDIS_PORT" || die "redis-server did not start (see $dir/redis.log)"
    REDIS_ADDR=127.0.0.1:$REDIS_PORT
}

redis_calls() {       # port -> total commands processed
    "$REDIS_CLI" -p "$1" INFO stats | sed -n 's/^total_commands_processed:\([0-9]*\).*/\1/p'
}

# --- metrics and tokens -------------------------------------------------------------
metric() {            # url name -> sum over all label sets
    curl -s "$1/hunt/metrics" | awk -v m="$2" '$1 == m || index($1, m "{") == 1 { s += $2 } END { printf "%.0f", s }'
}

# capture_tokens url prefix hunt file n: create n sessions, keep their tokens;
# prints the seconds it took
capture_tokens() {
    local url=$1 prefix=$2 hunt=$3 file=$4 n=$5 pid i t0 t1 ok=0
    rm -f "$file"
    t0=$(date +%s.%N)
    taskset -c "$CLIENT_CPU" "$WRK" -t1 -c"$CONNS" -d3600s --timeout "$WRK_TIMEOUT" \
        -s "$BENCH_DIR/wrk/capture.lua" "$url" -- "$prefix" "$hunt" "$file" "$n" \
        > "$file.wrk" 2>&1 &
    pid=$!
    BG_PIDS+=("$pid")
    for ((i = 0; i < 36000; i++)); do
        if [ -f "$file" ] && [ "$(wc -l < "$file")" -ge "$n" ]; then ok=1; break; fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    t1=$(date +%s.%N)
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    bg_forget "$pid"
    [ "$ok" = 1 ] || { cat "$file.wrk" >&2; die "could not create $n sessions at $url"; }
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}

# --- wrk runs ------------------------------------------------------------------------
# results.tsv columns
TSV_HEADER='scenario	rep	req_s	p50_us	p99_us	p999_us	max_us	requests	non2xx	srv_us_per_req	srv_util	wrk_util	conns'

# run_wrk scenario rep worker-pid duration conns script url [-- args...]
run_wrk() {
    local scen=$1 rep=$2 wpid=$3 dur=$4 conns=$5 script=$6 url=$7
    shift 7
    local raw="$RAW/$scen-$rep.txt" s0 s1 c0 c1 line
    s0=$(ticks "$wpid"); c0=$(child_ticks)
    taskset -c "$CLIENT_CPU" "$WRK" -t1 -c"$conns" -d"${dur}s" --timeout "$WRK_TIMEOUT" \
        -s "$BENCH_DIR/wrk/$script" "$url" "$@" > "$raw" 2>&1 || true
    s1=$(ticks "$wpid"); c1=$(child_ticks)
    line=$(grep '^BENCH ' "$raw" | tail -1)
    [ -n "$line" ] || { cat "$raw" >&2; die "wrk gave no result for $scen"; }
    awk -v scen="$scen" -v rep="$rep" -v s="$((s1 - s0))" -v c="$((c1 - c0))" \
        -v tck="$TCK" -v conns="$conns" -v line="$line" 'BEGIN {
        n = split(line, kv, " ")
        for (i = 2; i <= n; i++) { split(kv[i], p, "="); v[p[1]] = p[2] }
        d = v["duration_us"] / 1e6; r = v["requests"]
        err = v["non2xx"] + v["connect"] + v["read"] + v["write"] + v["timeout"]
        if (r == 0) {
            # no answer within the run: its length is a lower bound of the
            # latency, and all the CPU it used a lower bound of one request
            v["p50"] = v["p99"] = v["p999"] = v["max"] = v["duration_us"]
        }
        printf "%s\t%s\t%.0f\t%d\t%d\t%d\t%d\t%d\t%d\t%.2f\t%.0f\t%.0f\t%d\n",
            scen, rep, r / d, v["p50"], v["p99"], v["p999"], v["max"], r, err,
            s / tck * 1e6 / (r ? r : 1), s / tck / d * 100, c / tck / d * 100, conns
    }' >> "$TSV"
    tail -1 "$TSV" | awk -F'\t' '{ printf "     %-18s rep %-2s %9.0f req/s  p50 %6d  p99 %7d  p99.9 %7d us  srv %6.2f us/req (%s%%)  wrk %s%%%s\n",
        $1, $2, $3, $4, $5, $6, $10, $11, $12, ($9 > 0 ? "  errors/non-2xx " $9 : "") }' >&2
}

# loadgen run -> a row in the same TSV (p50/p99/p99.9 from the open loop)
run_loadgen() {       # scenario rep worker-pid port rate duration tokenfile
    local scen=$1 rep=$2 wpid=$3 port=$4 rate=$5 dur=$6 tokens=$7
    local raw="$RAW/$scen-$rep.txt" s0 s1 c0 c1 line
    s0=$(ticks "$wpid"); c0=$(child_ticks)
    taskset -c "$CLIENT_CPU" "$LOADGEN" -p "$port" -r "$rate" -d "$dur" -w 1 \
        -c "$CONNS" -f "$tokens" -u /hunt/tap > "$raw" 2>&1 || true
    s1=$(ticks "$wpid"); c1=$(child_ticks)
    line=$(grep '^LOADGEN ' "$raw" | tail -1)
    [ -n "$line" ] || { cat "$raw" >&2; die "loadgen gave no result for $scen"; }
    awk -v scen="$scen" -v rep="$rep" -v s="$((s1 - s0))" -v c="$((c1 - c0))" \
        -v tck="$TCK" -v conns="$CONNS" -v line="$line" -v dur="$dur" 'BEGIN {
        n = split(line, kv, " ")
        for (i = 2; i <= n; i++) { split(kv[i], p, "="); v[p[1]] = p[2] }
        r = v["recorded"]; d = dur + 1
        printf "%s\t%s\t%.0f\t%d\t%d\t%d\t%d\t%d\t%d\t%.2f\t%.0f\t%.0f\t%d\n",
            scen, rep, v["achieved"], v["p50"], v["p99"], v["p999"], v["max"], r,
            v["errors"] + v["non2xx"], v["sent"] ? s / tck * 1e6 / v["sent"] : 0,
            s / tck / d * 100, c / tck / d * 100, conns
    }' >> "$TSV"
    tail -1 "$TSV" | awk -F'\t' '{ printf "     %-18s rep %-2s %9.0f req/s  p50 %6d  p99 %7d  p99.9 %7d us  (open loop)%s\n",
        $1, $2, $3, $4, $5, $6, ($9 > 0 ? "  errors/non-2xx " $9 : "") }' >&2
}

# medians over the reps of a scenario (column numbers as in TSV_HEADER)
median_of() {         # scenario column
    awk -F'\t' -v s="$1" -v c="$2" '$1 == s { print $c }' "$TSV" | sort -g |
        awk '{ a[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
range_of() {          # scenario column -> "min-max"
    awk -F'\t' -v s="$1" -v c="$2" '$1 == s { print $c }' "$TSV" | sort -g |
        awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%.0f-%.0f", lo, hi }'
}
has_rows() { awk -F'\t' -v s="$1" '$1 == s { f = 1 } END { exit !f }' "$TSV"; }
