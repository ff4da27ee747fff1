-- bench/wrk/tap.lua -- wrk script of the coinhunt benchmark: METHOD PATH with
-- "Authorization: Bearer <token>", rotating over the tokens of TOKENFILE (one
-- a line).  Requests are built once in init(), so a request costs wrk nothing
-- but the send.  Used for taps (POST /hunt/tap), for bare nginx with the very
-- same request bytes, and for leaderboard "me" reads (GET ...).
--   wrk -s tap.lua URL -- TOKENFILE [PATH [METHOD [START [LIMIT]]]]
--   START: "random" (default, each wrk thread starts at a random token) or
--          "first" (go through the tokens in file order, e.g. one tap each)
--   LIMIT: after LIMIT requests, only cheap 404 GETs (the caller stops wrk)
-- done() prints one machine-readable "BENCH ..." line (bench/run parses it).
local reqs, n, i, sent, limit, idle = {}, 0, 0, 0, math.huge, nil

function init(args)
    local file = assert(args[1], "TOKENFILE missing")
    local path, method = args[2] or "/hunt/tap", args[3] or "POST"
    -- wrk.format() once, then split around a marker: the same bytes as
    -- wrk.format() per token, but 1M tokens load in seconds
    local tmpl = wrk.format(method, path, {
        ["Authorization"] = "Bearer @@",
        ["Content-Length"] = "0",
    })
    local a, b = tmpl:find("@@", 1, true)
    local head, tail = tmpl:sub(1, a - 1), tmpl:sub(b + 1)
    for line in io.lines(file) do
        if #line > 0 then
            n = n + 1
            reqs[n] = head .. line .. tail
        end
    end
    assert(n > 0, "no tokens in " .. file)
    if (args[4] or "random") == "first" then i = 0 else i = math.random(n) - 1 end
    limit = tonumber(args[5]) or limit
    idle = wrk.format("GET", "/hunt/_none")
end

function request()
    -- wrk discards the result of one request() call per thread (measured with
    -- -t1: LIMIT calls gave LIMIT - 1 requests), hence the + 1
    if sent >= limit + 1 then return idle end
    sent = sent + 1
    i = i % n + 1
    return reqs[i]
end

-- done(): bench/wrk/report.lua, beside this script
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
