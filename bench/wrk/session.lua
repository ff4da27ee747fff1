-- bench/wrk/session.lua -- wrk script of the coinhunt benchmark: POST
-- /hunt/session?player=<PREFIX><n>&hunt=<HUNT>, a new player on every request
-- (so every request creates a session).  Same requests for coinhunt and the
-- peer.  With LIMIT, requests after the LIMIT-th are cheap GETs of a missing
-- path (404), so the caller can stop wrk once the server holds LIMIT sessions.
--   wrk -s session.lua URL -- PREFIX [HUNT [LIMIT]]
-- done() prints one machine-readable "BENCH ..." line (bench/run parses it).
local prefix, hunt, n, limit = "p", "bench", 0, math.huge
local head, tail, idle

function init(args)
    prefix, hunt = args[1] or prefix, args[2] or hunt
    limit = tonumber(args[3]) or limit
    -- split a formatted request around a marker to reuse its header block
    local tmpl = wrk.format("POST", "/hunt/session?player=@@&hunt=" .. hunt,
                            { ["Content-Length"] = "0" })
    local a, b = tmpl:find("@@", 1, true)
    head, tail = tmpl:sub(1, a - 1) .. prefix, tmpl:sub(b + 1)
    idle = wrk.format("GET", "/hunt/_none")
end

function request()
    -- wrk discards the result of one request() call per thread (measured with
    -- -t1: LIMIT calls gave LIMIT - 1 sessions), hence the + 1
    if n >= limit + 1 then return idle end
    n = n + 1
    return head .. n .. tail
end

-- done(): bench/wrk/report.lua, beside this script
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
