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

-- done(): bench/wrk/report.lua, beside this script
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
