-- bench/wrk/report.lua -- the done() of the benchmark's wrk scripts: one
-- machine-readable "BENCH ..." line (bench/run and bench/lib.sh parse it).
-- A script loads it with dofile() from its own directory.

function done(s, lat)
    local e = s.errors
    io.write(string.format(
        "BENCH requests=%d duration_us=%d p50=%d p90=%d p99=%d p999=%d max=%d " ..
        "non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
        s.requests, s.duration, lat:percentile(50), lat:percentile(90),
        lat:percentile(99), lat:percentile(99.9), lat.max,
        e.status, e.connect, e.read, e.write, e.timeout))
end
