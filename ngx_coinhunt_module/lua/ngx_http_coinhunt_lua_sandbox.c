
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <sys/random.h>
#include <math.h>
#include <lualib.h>
#include <luajit.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_parse.h"
#include "ngx_http_coinhunt_lua.h"


/*
 * What a rules file runs in, and the checks of what it gives back: the
 * sandboxed VM with the "coinhunt" module, the load and check of a rules
 * file's source, and the check of a coin that on_tap returns.  Nothing here
 * needs a request, a pool or the zone, so fuzz/ drives this very code.
 */


static void ngx_http_coinhunt_lua_api_open(lua_State *L);
static int ngx_http_coinhunt_lua_random(lua_State *L);
static double ngx_http_coinhunt_lua_uniform(void);
static int ngx_http_coinhunt_lua_now_ms(lua_State *L);
static int ngx_http_coinhunt_lua_log(lua_State *L);
static const char *ngx_http_coinhunt_lua_fields(lua_State *L,
    ngx_str_t *fields, ngx_uint_t *nfields);
static void ngx_http_coinhunt_lua_message(u_char *err, size_t len,
    const char *msg);


ngx_http_coinhunt_lua_t  ngx_http_coinhunt_lua;


static const luaL_Reg  ngx_http_coinhunt_lua_api[] = {
    { "random", ngx_http_coinhunt_lua_random },
    { "now_ms", ngx_http_coinhunt_lua_now_ms },
    { "refuse", ngx_http_coinhunt_lua_refuse },
    { NULL, NULL }
};


/* the error log's levels of coinhunt.log(...), .warn(...), .err(...) */
static const struct {
    const char                    *name;
    ngx_uint_t                     level;
} ngx_http_coinhunt_lua_levels[] = {
    { "log", NGX_LOG_NOTICE },
    { "warn", NGX_LOG_WARN },
    { "err", NGX_LOG_ERR },
    { NULL, 0 }
};


static const char *ngx_http_coinhunt_core_fields[] = {
    "score", "taps", "coins", "last_tap_ms", "created_ms", NULL
};


/*
 * Runs once in a new VM with the coinhunt module table and the budget error
 * as its arguments; returns the function that makes a rules file's sandbox.
 */
static const char  ngx_http_coinhunt_lua_prelude[] =
    "local coinhunt, STOP = ...\n"
    "local error, pcall, xpcall = error, pcall, xpcall\n"
    "package.loaded.coinhunt = coinhunt\n"
    "-- every file's strings share one metatable: getmetatable('') is false\n"
    "getmetatable('').__metatable = false\n"
    "local safe = { 'assert', 'error', 'ipairs', 'next', 'pairs', 'pcall',\n"
    "  'select', 'tonumber', 'tostring', 'type', 'unpack', 'xpcall',\n"
    "  'rawequal', 'rawget', 'rawset', 'rawlen', 'setmetatable',\n"
    "  'getmetatable', '_VERSION' }\n"
    "local libs = { 'math', 'string', 'table', 'bit', 'coroutine' }\n"
    "-- a rule may not catch the error that ends a runaway call\n"
    "local function rethrow(ok, ...)\n"
    "  if not ok and (...) == STOP then error(STOP, 0) end\n"
    "  return ok, ...\n"
    "end\n"
    "local function guarded_pcall(f, ...) return rethrow(pcall(f, ...)) end\n"
    "local function guarded_xpcall(f, h)\n"
    "  return rethrow(xpcall(f, function(e)\n"
    "    if e == STOP then return STOP end\n"
    "    return h(e)\n"
    "  end))\n"
    "end\n"
    "local function sandbox()\n"
    "  local env = {}\n"
    "  for _, k in ipairs(safe) do env[k] = _G[k] end\n"
    "  for _, k in ipairs(libs) do\n"
    "    local t = {}\n"
    "    for n, f in pairs(_G[k]) do t[n] = f end\n"
    "    env[k] = t\n"
    "  end\n"
    "  env.os = { time = os.time, clock = os.clock, date = os.date }\n"
    "  env.pcall, env.xpcall = guarded_pcall, guarded_xpcall\n"
    "  env.require = function(name)\n"
    "    if name == 'coinhunt' then return coinhunt end\n"
    "    if env[name] and name ~= 'require' then return env[name] end\n"
    "    error(\"module '\" .. tostring(name) .. \"' is not available to \"\n"
    "          .. 'rules (coinhunt and the standard math, string, table, '\n"
    "          .. 'bit, coroutine)', 2)\n"
    "  end\n"
    "  env._G = env\n"
    "  return env\n"
    "end\n"
    "return sandbox\n";


lua_State *
ngx_http_coinhunt_lua_new(lua_Alloc alloc, u_char *err, size_t len)
{
    lua_State  *L;

    L = alloc ? lua_newstate(alloc, NULL) : luaL_newstate();

    if (L == NULL) {
        ngx_http_coinhunt_lua_message(err, len, "cannot create a Lua VM");
        return NULL;
    }

    luaL_openlibs(L);

    /* the interpreter honours hooks, the budget's; traces would not */
    luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE|LUAJIT_MODE_OFF);

    /* stack: traceback, sandbox maker */
    lua_getglobal(L, "debug");
    lua_getfield(L, -1, "traceback");
    lua_remove(L, -2);

    if (luaL_loadbuffer(L, ngx_http_coinhunt_lua_prelude,
                        sizeof(ngx_http_coinhunt_lua_prelude) - 1,
                        "=coinhunt")
        != 0)
    {
        goto failed;
    }

    ngx_http_coinhunt_lua_api_open(L);
    lua_pushliteral(L, NGX_HTTP_COINHUNT_STOP);

    if (lua_pcall(L, 2, 1, 0) != 0) {
        goto failed;
    }

    /* what the sandbox copies is saved; now take the dangerous ones away */
    lua_pushnil(L);
    lua_setglobal(L, "ffi");
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_pushnil(L);
    lua_setfield(L, -2, "ffi");
    lua_pop(L, 1);
    lua_getfield(L, -1, "preload");
    lua_pushnil(L);
    lua_setfield(L, -2, "ffi");
    lua_pop(L, 2);

    /*
     * the budget of a rules file's top level, and of every call until a
     * worker's watchdog takes over: "nginx -t" cannot hang
     */
    lua_sethook(L, ngx_http_coinhunt_lua_hook, LUA_MASKCOUNT,
                NGX_HTTP_COINHUNT_HOOK_COUNT);

    return L;

failed:

    ngx_http_coinhunt_lua_message(err, len, ngx_http_coinhunt_lua_error(L));
    lua_close(L);

    return NULL;
}


/*
 * Loads a rules file's source into the sandbox and checks what it returns.
 * Leaves the rules table on the stack, above the traceback and the sandbox
 * maker; the field names point into that table's strings.
 */
ngx_int_t
ngx_http_coinhunt_lua_load(lua_State *L, ngx_str_t *path, ngx_str_t *source,
    ngx_str_t *fields, ngx_uint_t *nfields, u_char *err, size_t len)
{
    const char  *name, *msg;

    /* "@path" makes Lua's messages and tracebacks name the file */
    name = lua_pushfstring(L, "@%s", path->data);

    if (luaL_loadbuffer(L, (char *) source->data, source->len, name)
        != 0)
    {
        ngx_http_coinhunt_lua_message(err, len,
                                      ngx_http_coinhunt_lua_error(L));
        return NGX_ERROR;
    }

    lua_remove(L, -2);

    /* the top level has the budget of a hook call */
    ngx_http_coinhunt_lua.hook_since = 0;

    lua_pushvalue(L, 2);

    if (lua_pcall(L, 0, 1, 0) != 0) {
        ngx_http_coinhunt_lua_message(err, len,
                                      ngx_http_coinhunt_lua_error(L));
        return NGX_ERROR;
    }

    lua_setfenv(L, -2);

    if (lua_pcall(L, 0, 1, 1) != 0) {
        ngx_http_coinhunt_lua_message(err, len,
                                      ngx_http_coinhunt_lua_error(L));
        return NGX_ERROR;
    }

    msg = NULL;

    if (!lua_istable(L, -1)) {
        msg = "does not return a table";
        goto invalid;
    }

    ngx_http_coinhunt_lua_rawfield(L, -1, "on_tap");

    if (!lua_isfunction(L, -1)) {
        msg = "returns a table without an on_tap function";
        goto invalid;
    }

    lua_pop(L, 1);

    ngx_http_coinhunt_lua_rawfield(L, -1, "on_join");

    if (!lua_isnil(L, -1) && !lua_isfunction(L, -1)) {
        msg = "has an on_join that is not a function";
        goto invalid;
    }

    lua_pop(L, 1);

    ngx_http_coinhunt_lua_rawfield(L, -1, "on_expire");

    if (!lua_isnil(L, -1) && !lua_isfunction(L, -1)) {
        msg = "has an on_expire that is not a function";
        goto invalid;
    }

    lua_pop(L, 1);

    ngx_http_coinhunt_lua_rawfield(L, -1, "on_query");

    if (!lua_isnil(L, -1) && !lua_isfunction(L, -1)) {
        msg = "has an on_query that is not a function";
        goto invalid;
    }

    lua_pop(L, 1);

    msg = ngx_http_coinhunt_lua_fields(L, fields, nfields);

    if (msg == NULL) {
        return NGX_OK;
    }

invalid:

    ngx_http_coinhunt_lua_message(err, len,
                                  lua_pushfstring(L, "%s: the rules module %s",
                                                  path->data, msg));

    return NGX_ERROR;
}


/* the rules table's "fields": NULL and the names, or the complaint */
static const char *
ngx_http_coinhunt_lua_fields(lua_State *L, ngx_str_t *fields,
    ngx_uint_t *nfields)
{
    size_t        n, size;
    ngx_uint_t    i, k;
    const char   *name;
    const char  **core;

    ngx_http_coinhunt_lua_rawfield(L, -1, "fields");

    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        *nfields = 0;
        return NULL;
    }

    if (!lua_istable(L, -1) || lua_objlen(L, -1) > NGX_HTTP_COINHUNT_FIELDS_MAX)
    {
        return "has \"fields\" that is not a list of at most 8 names";
    }

    n = lua_objlen(L, -1);

    for (i = 0; i < n; i++) {
        lua_rawgeti(L, -1, i + 1);

        /* the whole string: a NUL inside must not cut the name short */
        if (lua_type(L, -1) == LUA_TSTRING) {
            name = lua_tolstring(L, -1, &size);

        } else {
            name = "";
            size = 0;
        }

        if (ngx_http_coinhunt_lua_identifier(name, size) != NGX_OK) {
            return "has a field name that is not an identifier of at most "
                   "32 characters";
        }

        for (core = ngx_http_coinhunt_core_fields; *core; core++) {
            if (ngx_strcmp(*core, name) == 0) {
                break;
            }
        }

        if (*core || ngx_strcmp(name, "player") == 0
            || ngx_strcmp(name, "hunt") == 0)
        {
            return "declares a field with the name of a core field";
        }

        for (k = 0; k < i; k++) {
            if (ngx_strcmp(fields[k].data, name) == 0) {
                return "declares a field twice";
            }
        }

        fields[i].data = (u_char *) name;
        fields[i].len = ngx_strlen(name);

        lua_pop(L, 1);
    }

    lua_pop(L, 1);
    *nfields = n;

    return NULL;
}


/*
 * Checks what on_tap left at stack index "idx": nil, false, a number or a
 * {value, kind} table; returns NULL and fills "coin", or the complaint.
 */
NGX_HTTP_COINHUNT_HOT
const char *
ngx_http_coinhunt_lua_coin(lua_State *L, int idx,
    ngx_http_coinhunt_coin_t *coin)
{
    size_t       len;
    double       value;
    const char  *kind, *msg;

    coin->value = -1;
    coin->data_len = 0;
    msg = NULL;

    switch (lua_type(L, idx)) {

    case LUA_TNIL:
        goto done;

    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx)) {
            msg = "returned true, not a coin table or nil";
        }

        goto done;

    case LUA_TNUMBER:
        value = lua_tonumber(L, idx);
        kind = NULL;
        len = 0;
        break;

    case LUA_TTABLE:
        lua_pushvalue(L, ngx_http_coinhunt_lua.value_key);
        lua_rawget(L, idx);

        if (lua_type(L, -1) != LUA_TNUMBER) {
            msg = "returned a coin whose value is not a number";
            goto done;
        }

        value = lua_tonumber(L, -1);

        lua_pushvalue(L, ngx_http_coinhunt_lua.kind_key);
        lua_rawget(L, idx);

        if (lua_isnil(L, -1)) {
            kind = NULL;
            len = 0;

        } else if (lua_type(L, -1) == LUA_TSTRING) {
            kind = lua_tolstring(L, -1, &len);

        } else {
            msg = "returned a coin whose kind is not a string";
            goto done;
        }

        msg = ngx_http_coinhunt_lua_coin_keys(L, idx);

        if (msg) {
            goto done;
        }

        lua_pushvalue(L, ngx_http_coinhunt_lua.data_key);
        lua_rawget(L, idx);

        msg = ngx_http_coinhunt_lua_data(L, coin);

        if (msg) {
            goto done;
        }

        break;

    default:
        msg = "returned neither a coin table, a number nor nil";
        goto done;
    }

    if (!(value >= 0 && value <= NGX_HTTP_COINHUNT_COIN_MAX)
        || value != (double) (int64_t) value)
    {
        msg = "returned a coin value that is not an integer from 0 to "
              "1000000000";
        goto done;
    }

    if (kind == NULL) {
        kind = "coin";
        len = 4;
    }

    if (len == 0 || len > NGX_HTTP_COINHUNT_KIND_MAX) {
        msg = "returned a coin kind that is empty or over 32 bytes";
        goto done;
    }

    if (!ngx_http_coinhunt_valid_name((u_char *) kind, len, len)) {
        msg = "returned a coin kind with characters other than "
              "A-Z a-z 0-9 _ - .";
        goto done;
    }

    coin->kind.len = len;
    coin->kind.data = ngx_cpymem(coin->kind_data, kind, len) - len;
    coin->value = (int64_t) value;

done:

    return msg;
}


/*
 * The count hook looks at the thread's CPU clock every HOOK_COUNT
 * instructions; its first look in a load or a call starts the budget.
 */
void
ngx_http_coinhunt_lua_hook(lua_State *L, lua_Debug *ar)
{
    int64_t                   now;
    ngx_http_coinhunt_lua_t  *lua;

    lua = &ngx_http_coinhunt_lua;
    now = ngx_http_coinhunt_lua_cpu();

    if (lua->hook_since == 0) {
        lua->hook_since = now;
        return;
    }

    if (now - lua->hook_since >= NGX_HTTP_COINHUNT_BUDGET * 1000000LL) {
        ngx_http_coinhunt_lua_stop(L, ar);
    }
}


/* set with a count of 1, it stops the call at its next instruction */
void
ngx_http_coinhunt_lua_stop(lua_State *L, lua_Debug *ar)
{
    lua_pushliteral(L, NGX_HTTP_COINHUNT_STOP);
    lua_error(L);
}


/* the calling thread's CPU time in ns; async-signal-safe */
int64_t
ngx_http_coinhunt_lua_cpu(void)
{
    struct timespec  ts;

    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == -1) {
        return 0;
    }

    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}


const char *
ngx_http_coinhunt_lua_error(lua_State *L)
{
    const char  *msg;

    msg = lua_tostring(L, -1);

    return msg ? msg : "(the error value is not a string)";
}


/*
 * Pushes t[name] of the table at "idx" without metamethods: out of a hook's
 * pcall, an __index that raised an error would panic the VM, and the process.
 */
void
ngx_http_coinhunt_lua_rawfield(lua_State *L, int idx, const char *name)
{
    if (idx < 0) {
        idx = lua_gettop(L) + idx + 1;
    }

    lua_pushstring(L, name);
    lua_rawget(L, idx);
}


static void
ngx_http_coinhunt_lua_message(u_char *err, size_t len, const char *msg)
{
    size_t  n;

    n = ngx_min(ngx_strlen(msg), len - 1);
    ngx_memcpy(err, msg, n);
    err[n] = '\0';
}


static void
ngx_http_coinhunt_lua_api_open(lua_State *L)
{
    ngx_uint_t  i;

    lua_newtable(L);
    luaL_register(L, NULL, ngx_http_coinhunt_lua_api);

    /* coinhunt.log, .warn and .err: one function, its level an upvalue */
    for (i = 0; ngx_http_coinhunt_lua_levels[i].name; i++) {
        lua_pushinteger(L, ngx_http_coinhunt_lua_levels[i].level);
        lua_pushcclosure(L, ngx_http_coinhunt_lua_log, 1);
        lua_setfield(L, -2, ngx_http_coinhunt_lua_levels[i].name);
    }

    ngx_http_coinhunt_lua_verdict_open(L);
}


void
ngx_http_coinhunt_lua_seed(ngx_http_coinhunt_main_conf_t *cmcf)
{
    uint64_t    seed, z;
    ngx_uint_t  i;

    if (cmcf->seed_set) {
        seed = cmcf->seed + (uint64_t) ngx_worker;

    } else if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) {
        seed = (uint64_t) ngx_pid ^ (uint64_t) ngx_time() << 20;
    }

    /* splitmix64 spreads one seed over the xoshiro256** state */
    for (i = 0; i < 4; i++) {
        seed += 0x9e3779b97f4a7c15ULL;
        z = seed;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        ngx_http_coinhunt_lua.rng[i] = z ^ (z >> 31);
    }
}


NGX_HTTP_COINHUNT_HOT
static double
ngx_http_coinhunt_lua_uniform(void)
{
    uint64_t  *s, result, t;

    /* xoshiro256** */
    s = ngx_http_coinhunt_lua.rng;

    result = s[1] * 5;
    result = ((result << 7) | (result >> 57)) * 9;
    t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);

    return (double) (result >> 11) * 0x1.0p-53;
}


NGX_HTTP_COINHUNT_HOT
static int
ngx_http_coinhunt_lua_random(lua_State *L)
{
    double  r, m, n;

    r = ngx_http_coinhunt_lua_uniform();

    switch (lua_gettop(L)) {

    case 0:
        lua_pushnumber(L, r);
        return 1;

    case 1:
        m = 1;
        n = luaL_checknumber(L, 1);
        break;

    default:
        m = luaL_checknumber(L, 1);
        n = luaL_checknumber(L, 2);
        break;
    }

    /* NaN and infinities would make the cast below undefined */
    if (!isfinite(m) || !isfinite(n) || m > n || n - m > 9007199254740991.0)
    {
        return luaL_error(L, "coinhunt.random: empty or too wide interval");
    }

    lua_pushnumber(L, m + (double) (int64_t) (r * (n - m + 1)));

    return 1;
}


static int
ngx_http_coinhunt_lua_now_ms(lua_State *L)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    lua_pushnumber(L, (double) tp->sec * 1000 + tp->msec);

    return 1;
}


static int
ngx_http_coinhunt_lua_log(lua_State *L)
{
    int          i, n;
    size_t       len;
    u_char       buf[2048], *p, *last;
    const char  *s;

    n = lua_gettop(L);
    p = buf;
    last = buf + sizeof(buf);

    for (i = 1; i <= n; i++) {
        lua_getglobal(L, "tostring");
        lua_pushvalue(L, i);
        lua_call(L, 1, 1);

        s = lua_tolstring(L, -1, &len);

        if (s) {
            p = ngx_cpymem(p, s, ngx_min(len, (size_t) (last - p)));
        }

        lua_pop(L, 1);
    }

    ngx_log_error((ngx_uint_t) lua_tointeger(L, lua_upvalueindex(1)),
                  ngx_http_coinhunt_lua.log ? ngx_http_coinhunt_lua.log
                                            : ngx_cycle->log,
                  0, "coinhunt rules: %*s", p - buf, buf);

    return 0;
}
