-- bench/wrk/capture.lua -- wrk script of the coinhunt benchmark: creates
-- sessions like session.lua (a new player per request) and writes the first
-- LIMIT session tokens to OUTFILE; after that it only sends cheap 404 GETs
-- (the caller stops wrk once OUTFILE has LIMIT lines).  Works for coinhunt and
-- the peer alike (both answer {"session":"<token>",...}).
--   wrk -t1 -s capture.lua URL -- PREFIX HUNT OUTFILE LIMIT
local prefix, hunt, n, limit = "p", "bench", 0, 1000000
local head, tail, idle, out, seen = nil, nil, nil, nil, 0

function init(args)
    prefix, hunt = args[1] or prefix, args[2] or hunt
    out = assert(io.open(assert(args[3], "OUTFILE missing"), "w"))
    out:setvbuf("full")
    limit = tonumber(args[4]) or limit
    local tmpl = wrk.format("POST", "/hunt/session?player=@@&hunt=" .. hunt,
                            { ["Content-Length"] = "0" })
    local a, b = tmpl:find("@@", 1, true)
    head, tail = tmpl:sub(1, a - 1) .. prefix, tmpl:sub(b + 1)
    idle = wrk.format("GET", "/hunt/_none")
end

function request()
    -- count answers, not requests, so a failed request cannot leave the
    -- file short (up to CONNS extra sessions may be created at the end)
    if seen >= limit then return idle end
    n = n + 1
    return head .. n .. tail
end

function response(status, headers, body)
    if status == 201 and seen < limit then
        local t = body:match('"session":"([^"]+)"')
        if t then
            seen = seen + 1
            out:write(t, "\n")
            if seen == limit or seen % 4096 == 0 then out:flush() end
        end
    end
end
