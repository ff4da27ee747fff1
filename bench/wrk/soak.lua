-- wrk script for bench/soak: every connection joins a new player, taps it
-- TAPS times, and moves on; players left behind expire (coinhunt_session_ttl),
-- so the live session count settles at joins/s x ttl.  Run with one
-- connection per thread (-tN -cN) so each thread's state follows its socket.
--   wrk -t4 -c4 -s soak.lua URL -- TAPS
local taps_per_player, taps, token, n, id = 20, 0, nil, 0, 0
local counter = 0

function setup(thread)
    thread:set("id", counter)
    counter = counter + 1
end

function init(args)
    taps_per_player = tonumber(args[1]) or 20
end

function request()
    if token == nil then
        n = n + 1
        return wrk.format("POST", "/hunt/session?hunt=soak&player=s" .. id
                                  .. "-" .. n .. "-" .. math.random(1e9))
    end
    taps = taps + 1
    return wrk.format("POST", "/hunt/tap", {
        ["Authorization"] = "Bearer " .. token,
        ["Content-Length"] = "0",
    })
end

function response(status, headers, body)
    if token == nil then
        token = body:match('"session":"([^"]+)"')
        taps = 0
    elseif taps >= taps_per_player or status ~= 200 then
        token = nil
    end
end
