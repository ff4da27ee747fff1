-- bench/wrk/get.lua -- wrk script of the coinhunt benchmark: the same GET of
-- PATH on every request (leaderboard top-N reads).
--   wrk -s get.lua URL -- PATH
-- done() prints one machine-readable "BENCH ..." line (bench/run parses it).
local req

function init(args)
    local path = assert(args[1], "PATH missing")
    req = wrk.format("GET", path)
end

function request()
    return req
end

function done(s, lat)
    local e = s.errors
    io.write(string.format(
        "BENCH requests=%d duration_us=%d p50=%d p90=%d p99=%d p999=%d max=%d " ..
        "non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
        s.requests, s.duration, lat:percentile(50), lat:percentile(90),
        lat:percentile(99), lat:percentile(99.9), lat.max,
        e.status, e.connect, e.read, e.write, e.timeout))
end
