
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <sys/random.h>
#include <lua.h>
#include <lualib.h>
#include <lauxlib.h>
#include <luajit.h>
#include "ngx_http_coinhunt_module.h"
#include "ngx_http_coinhunt_alloc.h"
#include "ngx_http_coinhunt_lua.h"


/*
 * One LuaJIT VM per worker.  Rules run in a sandbox (no ffi, io, os.execute,
 * debug, loadfile) and in the interpreter, so that a count hook can cut off
 * a rule that runs away.  A hook sees its session through a proxy whose
 * backing table C refills before each call: core fields read-only, declared
 * fields read-write numbers; no table is made per call.
 */


#define NGX_HTTP_COINHUNT_HOOK_COUNT   10000
#define NGX_HTTP_COINHUNT_HOOK_BUDGET  100      /* x HOOK_COUNT instructions */
#define NGX_HTTP_COINHUNT_STOP                                                \
    "the rule ran over its budget of 1000000 VM instructions"


typedef struct {
    lua_State                     *L;
    ngx_http_coinhunt_rules_t     *rules;       /* of the running call */
    ngx_http_coinhunt_session_t   *session;
    ngx_uint_t                     hooks;
    ngx_log_t                     *log;
    uint64_t                       rng[4];
    int                            traceback;   /* registry refs */
    int                            tap;
    int                            ctx;
    int                            keys;        /* core and field names */
} ngx_http_coinhunt_lua_t;


static lua_State *ngx_http_coinhunt_lua_new(lua_Alloc alloc, u_char *err,
    size_t len);
static int ngx_http_coinhunt_lua_load(lua_State *L,
    ngx_http_coinhunt_rules_t *rules, ngx_pool_t *pool, u_char *err,
    size_t len);
static int ngx_http_coinhunt_lua_random(lua_State *L);
static int ngx_http_coinhunt_lua_now_ms(lua_State *L);
static int ngx_http_coinhunt_lua_log(lua_State *L);
static int ngx_http_coinhunt_lua_name(lua_State *L);
static void ngx_http_coinhunt_lua_hook(lua_State *L, lua_Debug *ar);
static ngx_int_t ngx_http_coinhunt_lua_call(ngx_http_coinhunt_rules_t *rules,
    int fn, ngx_http_coinhunt_session_t *s, int arg, int nresults,
    const char *hook);
static void ngx_http_coinhunt_lua_fill(ngx_http_coinhunt_rules_t *rules,
    ngx_http_coinhunt_session_t *s);
static ngx_int_t ngx_http_coinhunt_lua_fields(
    ngx_http_coinhunt_rules_t *rules, ngx_http_coinhunt_session_t *s);
static double ngx_http_coinhunt_lua_uniform(void);
static const char *ngx_http_coinhunt_lua_error(lua_State *L);


static ngx_http_coinhunt_lua_t  ngx_http_coinhunt_lua;


static const char *ngx_http_coinhunt_core_fields[] = {
    "score", "taps", "coins", "last_tap_ms", "created_ms", NULL
};


/*
 * Runs once in a new VM with the coinhunt module table as its argument;
 * returns the sandbox maker and the view maker.
 */
static const char  ngx_http_coinhunt_lua_prelude[] =
    "local coinhunt, STOP = ...\n"
    "local type, error, rawset, setmetatable = type, error, rawset, setmetatable\n"
    "local pcall, xpcall = pcall, xpcall\n"
    "local huge = math.huge\n"
    "local core = { score = true, taps = true, coins = true,\n"
    "               last_tap_ms = true, created_ms = true,\n"
    "               player = true, hunt = true }\n"
    "package.loaded.coinhunt = coinhunt\n"
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
    "local function view(fields, name)\n"
    "  local data = {}\n"
    "  local writable = {}\n"
    "  for _, f in ipairs(fields) do writable[f] = true end\n"
    "  setmetatable(data, { __index = function(_, k)\n"
    "    if k == 'player' or k == 'hunt' then return name(k) end\n"
    "    error(\"the session has no field '\" .. tostring(k) .. \"'\", 2)\n"
    "  end })\n"
    "  local proxy = setmetatable({}, {\n"
    "    __index = data,\n"
    "    __newindex = function(_, k, v)\n"
    "      if not writable[k] then\n"
    "        if core[k] then\n"
    "          error(\"session field '\" .. k .. \"' is read-only\", 2)\n"
    "        end\n"
    "        error(\"session field '\" .. tostring(k) .. \"' is not \"\n"
    "              .. 'declared in rules.fields', 2)\n"
    "      end\n"
    "      if type(v) ~= 'number' or v ~= v or v == huge or v == -huge then\n"
    "        error(\"session field '\" .. k .. \"' must be a finite number\",\n"
    "              2)\n"
    "      end\n"
    "      rawset(data, k, v)\n"
    "    end,\n"
    "    __metatable = false })\n"
    "  return proxy, data\n"
    "end\n"
    "return sandbox, view\n";


static const luaL_Reg  ngx_http_coinhunt_lua_api[] = {
    { "random", ngx_http_coinhunt_lua_random },
    { "now_ms", ngx_http_coinhunt_lua_now_ms },
    { "log", ngx_http_coinhunt_lua_log },
    { NULL, NULL }
};


static lua_State *
ngx_http_coinhunt_lua_new(lua_Alloc alloc, u_char *err, size_t len)
{
    lua_State  *L;

    L = alloc ? lua_newstate(alloc, NULL) : luaL_newstate();

    if (L == NULL) {
        ngx_cpystrn(err, (u_char *) "cannot create a Lua VM", len);
        return NULL;
    }

    luaL_openlibs(L);

    /* the interpreter honours the count hook; traces would not */
    luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE|LUAJIT_MODE_OFF);

    /* stack: traceback, sandbox maker, view maker */
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

    lua_newtable(L);
    luaL_register(L, NULL, ngx_http_coinhunt_lua_api);
    lua_pushliteral(L, NGX_HTTP_COINHUNT_STOP);

    if (lua_pcall(L, 2, 2, 0) != 0) {
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

    return L;

failed:

    ngx_cpystrn(err, (u_char *) ngx_http_coinhunt_lua_error(L), len);
    lua_close(L);

    return NULL;
}


/*
 * Loads a rules file into the sandbox and checks what it returns.  Leaves
 * the rules table on the stack, above the traceback and the two makers.
 */
static int
ngx_http_coinhunt_lua_load(lua_State *L, ngx_http_coinhunt_rules_t *rules,
    ngx_pool_t *pool, u_char *err, size_t len)
{
    u_char       *p;
    size_t        n;
    ngx_uint_t    i, k;
    const char   *name, *msg;
    const char  **core;

    /* "@path" makes Lua's messages and tracebacks name the file */
    name = lua_pushfstring(L, "@%s", rules->path.data);

    if (luaL_loadbuffer(L, (char *) rules->source.data, rules->source.len,
                        name)
        != 0)
    {
        ngx_cpystrn(err, (u_char *) ngx_http_coinhunt_lua_error(L), len);
        return NGX_ERROR;
    }

    lua_remove(L, -2);

    lua_pushvalue(L, 2);

    if (lua_pcall(L, 0, 1, 0) != 0) {
        ngx_cpystrn(err, (u_char *) ngx_http_coinhunt_lua_error(L), len);
        return NGX_ERROR;
    }

    lua_setfenv(L, -2);

    if (lua_pcall(L, 0, 1, 1) != 0) {
        ngx_cpystrn(err, (u_char *) ngx_http_coinhunt_lua_error(L), len);
        return NGX_ERROR;
    }

    msg = NULL;

    if (!lua_istable(L, -1)) {
        msg = "does not return a table";
        goto invalid;
    }

    lua_getfield(L, -1, "on_tap");

    if (!lua_isfunction(L, -1)) {
        msg = "returns a table without an on_tap function";
        goto invalid;
    }

    lua_pop(L, 1);

    lua_getfield(L, -1, "on_join");

    if (!lua_isnil(L, -1) && !lua_isfunction(L, -1)) {
        msg = "has an on_join that is not a function";
        goto invalid;
    }

    lua_pop(L, 1);

    lua_getfield(L, -1, "on_expire");

    if (!lua_isnil(L, -1) && !lua_isfunction(L, -1)) {
        msg = "has an on_expire that is not a function";
        goto invalid;
    }

    lua_pop(L, 1);

    lua_getfield(L, -1, "fields");

    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        rules->nfields = 0;
        return NGX_OK;
    }

    if (!lua_istable(L, -1) || lua_objlen(L, -1) > NGX_HTTP_COINHUNT_FIELDS_MAX)
    {
        msg = "has \"fields\" that is not a list of at most 8 names";
        goto invalid;
    }

    n = lua_objlen(L, -1);

    for (i = 0; i < n; i++) {
        lua_rawgeti(L, -1, i + 1);

        name = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";

        for (k = 0; name[k]; k++) {
            if (!(name[k] == '_' || (name[k] >= 'a' && name[k] <= 'z')
                  || (name[k] >= 'A' && name[k] <= 'Z')
                  || (k && name[k] >= '0' && name[k] <= '9')))
            {
                break;
            }
        }

        if (k == 0 || name[k] || k > 32) {
            msg = "has a field name that is not an identifier of at most "
                  "32 characters";
            goto invalid;
        }

        for (core = ngx_http_coinhunt_core_fields; *core; core++) {
            if (ngx_strcmp(*core, name) == 0) {
                break;
            }
        }

        if (*core || ngx_strcmp(name, "player") == 0
            || ngx_strcmp(name, "hunt") == 0)
        {
            msg = "declares a field with the name of a core field";
            goto invalid;
        }

        for (k = 0; k < i; k++) {
            if (ngx_strcmp(rules->fields[k].data, name) == 0) {
                msg = "declares a field twice";
                goto invalid;
            }
        }

        if (pool) {
            rules->fields[i].len = ngx_strlen(name);
            p = ngx_pnalloc(pool, rules->fields[i].len + 1);
            if (p == NULL) {
                msg = "cannot copy a field name";
                goto invalid;
            }

            ngx_cpystrn(p, (u_char *) name, rules->fields[i].len + 1);
            rules->fields[i].data = p;
        }

        lua_pop(L, 1);
    }

    lua_pop(L, 1);
    rules->nfields = n;

    return NGX_OK;

invalid:

    ngx_snprintf(err, len, "%V: the rules module %s%Z", &rules->path, msg);

    return NGX_ERROR;
}


/*
 * The master reads and checks each rules file; workers compile the source it
 * read, so they need no access to the file and run exactly what was checked.
 */
char *
ngx_http_coinhunt_lua_check(ngx_conf_t *cf, ngx_http_coinhunt_rules_t *rules)
{
    u_char           err[1024];
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_int_t        rc;
    lua_State       *L;
    ngx_file_info_t  fi;

    fd = ngx_open_file(rules->path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot open rules file \"%V\"", &rules->path);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > 16 * 1024 * 1024)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "rules file \"%V\" is not a readable file "
                           "of at most 16 MiB", &rules->path);
        (void) ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    rules->source.len = ngx_file_size(&fi);
    rules->source.data = ngx_pnalloc(cf->pool, rules->source.len + 1);

    if (rules->source.data == NULL) {
        (void) ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_fd(fd, rules->source.data, rules->source.len);
    (void) ngx_close_file(fd);

    if (n != (ssize_t) rules->source.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot read rules file \"%V\"", &rules->path);
        return NGX_CONF_ERROR;
    }

    L = ngx_http_coinhunt_lua_new(NULL, err, sizeof(err));

    if (L == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", err);
        return NGX_CONF_ERROR;
    }

    rc = ngx_http_coinhunt_lua_load(L, rules, cf->pool, err, sizeof(err));

    lua_close(L);

    if (rc != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", err);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_coinhunt_lua_init(ngx_cycle_t *cycle,
    ngx_http_coinhunt_main_conf_t *cmcf)
{
    u_char                      err[1024];
    uint64_t                    seed;
    ngx_uint_t                  i, k;
    lua_State                  *L;
    const char                **core;
    ngx_http_coinhunt_lua_t    *lua;
    ngx_http_coinhunt_rules_t **rules;

    lua = &ngx_http_coinhunt_lua;
    lua->log = cycle->log;

    /* splitmix64 spreads one seed over the xoshiro256** state */
    if (cmcf->seed_set) {
        seed = cmcf->seed + (uint64_t) ngx_worker;

    } else if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) {
        seed = (uint64_t) ngx_pid ^ (uint64_t) ngx_time() << 20;
    }

    for (i = 0; i < 4; i++) {
        uint64_t  z;

        seed += 0x9e3779b97f4a7c15ULL;
        z = seed;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        lua->rng[i] = z ^ (z >> 31);
    }

    L = ngx_http_coinhunt_lua_new(ngx_http_coinhunt_lua_alloc, err,
                                  sizeof(err));
    if (L == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0, "coinhunt: %s", err);
        return NGX_ERROR;
    }

    lua->L = L;

    /* the names C writes into the view tables, as registry refs */
    lua_newtable(L);

    for (k = 0, core = ngx_http_coinhunt_core_fields; *core; core++, k++) {
        lua_pushstring(L, *core);
        lua_rawseti(L, -2, k + 1);
    }

    lua->keys = luaL_ref(L, LUA_REGISTRYINDEX);

    rules = cmcf->rules.elts;

    for (i = 0; i < cmcf->rules.nelts; i++) {

        if (ngx_http_coinhunt_lua_load(L, rules[i], NULL, err, sizeof(err))
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0, "coinhunt: %s", err);
            return NGX_ERROR;
        }

        lua_getfield(L, -1, "on_tap");
        rules[i]->on_tap = luaL_ref(L, LUA_REGISTRYINDEX);
        lua_getfield(L, -1, "on_join");
        rules[i]->on_join = luaL_ref(L, LUA_REGISTRYINDEX);
        lua_getfield(L, -1, "on_expire");
        rules[i]->on_expire = luaL_ref(L, LUA_REGISTRYINDEX);

        /* view(fields, name) -> proxy, data */
        lua_pushvalue(L, 3);
        lua_getfield(L, -2, "fields");

        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_newtable(L);
        }

        lua_pushcfunction(L, ngx_http_coinhunt_lua_name);

        if (lua_pcall(L, 2, 2, 0) != 0) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0, "coinhunt: %s",
                          ngx_http_coinhunt_lua_error(L));
            return NGX_ERROR;
        }

        rules[i]->data = luaL_ref(L, LUA_REGISTRYINDEX);
        rules[i]->view = luaL_ref(L, LUA_REGISTRYINDEX);

        /* the field names, after the core ones, for the copy in and out */
        lua_rawgeti(L, LUA_REGISTRYINDEX, lua->keys);

        for (k = 0; k < rules[i]->nfields; k++) {
            lua_pushlstring(L, (char *) rules[i]->fields[k].data,
                            rules[i]->fields[k].len);
            lua_rawseti(L, -2, 6 + i * NGX_HTTP_COINHUNT_FIELDS_MAX + k);
        }

        lua_pop(L, 2);
    }

    /* the traceback function, and the reused tap and join arguments */
    lua_pushvalue(L, 1);
    lua->traceback = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    lua->tap = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    lua->ctx = luaL_ref(L, LUA_REGISTRYINDEX);

    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);

    return NGX_OK;
}


void
ngx_http_coinhunt_lua_done(void)
{
    if (ngx_http_coinhunt_lua.L) {
        lua_close(ngx_http_coinhunt_lua.L);
        ngx_http_coinhunt_lua.L = NULL;
    }
}


size_t
ngx_http_coinhunt_lua_memory(void)
{
    lua_State  *L;

    L = ngx_http_coinhunt_lua.L;

    if (L == NULL) {
        return 0;
    }

    return (size_t) lua_gc(L, LUA_GCCOUNT, 0) * 1024
           + lua_gc(L, LUA_GCCOUNTB, 0);
}


static void
ngx_http_coinhunt_lua_fill(ngx_http_coinhunt_rules_t *rules,
    ngx_http_coinhunt_session_t *s)
{
    ngx_uint_t  k;
    lua_State  *L;
    double      core[5];

    L = ngx_http_coinhunt_lua.L;

    core[0] = (double) s->score;
    core[1] = (double) s->taps;
    core[2] = (double) s->coins;
    core[3] = (double) s->last_tap_ms;
    core[4] = (double) s->created_ms;

    lua_rawgeti(L, LUA_REGISTRYINDEX, rules->data);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ngx_http_coinhunt_lua.keys);

    for (k = 0; k < 5; k++) {
        lua_rawgeti(L, -1, k + 1);
        lua_pushnumber(L, core[k]);
        lua_rawset(L, -4);
    }

    for (k = 0; k < rules->nfields; k++) {
        lua_rawgeti(L, -1, 6 + rules->index * NGX_HTTP_COINHUNT_FIELDS_MAX
                           + k);
        lua_pushnumber(L, s->fields[k]);
        lua_rawset(L, -4);
    }

    lua_pop(L, 2);
}


static ngx_int_t
ngx_http_coinhunt_lua_fields(ngx_http_coinhunt_rules_t *rules,
    ngx_http_coinhunt_session_t *s)
{
    ngx_uint_t  k;
    lua_State  *L;

    L = ngx_http_coinhunt_lua.L;

    /* the proxy's setter admits finite numbers only */
    lua_rawgeti(L, LUA_REGISTRYINDEX, rules->data);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ngx_http_coinhunt_lua.keys);

    for (k = 0; k < rules->nfields; k++) {
        lua_rawgeti(L, -1, 6 + rules->index * NGX_HTTP_COINHUNT_FIELDS_MAX
                           + k);
        lua_rawget(L, -3);
        s->fields[k] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }

    lua_pop(L, 2);

    return NGX_OK;
}


/*
 * Calls hook "fn" with the session's view and the table at registry "arg"
 * (LUA_NOREF: none); on success leaves "nresults" values on the stack.
 */
static ngx_int_t
ngx_http_coinhunt_lua_call(ngx_http_coinhunt_rules_t *rules, int fn,
    ngx_http_coinhunt_session_t *s, int arg, int nresults, const char *hook)
{
    int                       rc, nargs;
    lua_State                *L;
    ngx_http_coinhunt_lua_t  *lua;

    lua = &ngx_http_coinhunt_lua;
    L = lua->L;

    ngx_http_coinhunt_lua_fill(rules, s);

    lua_rawgeti(L, LUA_REGISTRYINDEX, lua->traceback);
    lua_rawgeti(L, LUA_REGISTRYINDEX, fn);
    lua_rawgeti(L, LUA_REGISTRYINDEX, rules->view);
    nargs = 1;

    if (arg != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, arg);
        nargs = 2;
    }

    lua->rules = rules;
    lua->session = s;
    lua->hooks = 0;

    lua_sethook(L, ngx_http_coinhunt_lua_hook, LUA_MASKCOUNT,
                NGX_HTTP_COINHUNT_HOOK_COUNT);

    rc = lua_pcall(L, nargs, nresults, 1);

    lua_sethook(L, NULL, 0, 0);

    lua->session = NULL;

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, lua->log, 0,
                      "coinhunt: %V: %s failed: %s", &rules->path, hook,
                      ngx_http_coinhunt_lua_error(L));
        lua_settop(L, 0);
        return NGX_ERROR;
    }

    lua_remove(L, 1);

    return ngx_http_coinhunt_lua_fields(rules, s);
}


ngx_int_t
ngx_http_coinhunt_lua_on_join(ngx_http_coinhunt_rules_t *rules,
    ngx_http_coinhunt_session_t *s, ngx_log_t *log)
{
    lua_State  *L;

    if (rules == NULL || rules->on_join == LUA_REFNIL) {
        return NGX_OK;
    }

    L = ngx_http_coinhunt_lua.L;
    ngx_http_coinhunt_lua.log = log;

    lua_rawgeti(L, LUA_REGISTRYINDEX, ngx_http_coinhunt_lua.ctx);
    lua_pushnumber(L, (double) s->created_ms);
    lua_setfield(L, -2, "now_ms");
    lua_pop(L, 1);

    if (ngx_http_coinhunt_lua_call(rules, rules->on_join, s,
                                   ngx_http_coinhunt_lua.ctx, 0, "on_join")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    lua_settop(L, 0);

    return NGX_OK;
}


ngx_int_t
ngx_http_coinhunt_lua_on_tap(ngx_http_coinhunt_rules_t *rules,
    ngx_http_coinhunt_session_t *s, ngx_http_coinhunt_tap_t *tap,
    ngx_http_coinhunt_coin_t *coin, ngx_log_t *log)
{
    size_t       len;
    double       value;
    lua_State   *L;
    const char  *kind, *msg;

    L = ngx_http_coinhunt_lua.L;
    ngx_http_coinhunt_lua.log = log;

    lua_rawgeti(L, LUA_REGISTRYINDEX, ngx_http_coinhunt_lua.tap);
    lua_pushnumber(L, tap->x);
    lua_setfield(L, -2, "x");
    lua_pushnumber(L, tap->y);
    lua_setfield(L, -2, "y");
    lua_pushnumber(L, tap->now_ms);
    lua_setfield(L, -2, "now_ms");
    lua_pushnumber(L, tap->seq);
    lua_setfield(L, -2, "seq");
    lua_pop(L, 1);

    if (ngx_http_coinhunt_lua_call(rules, rules->on_tap, s,
                                   ngx_http_coinhunt_lua.tap, 1, "on_tap")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    coin->value = -1;
    msg = NULL;

    switch (lua_type(L, 1)) {

    case LUA_TNIL:
        goto done;

    case LUA_TBOOLEAN:
        if (lua_toboolean(L, 1)) {
            msg = "returned true, not a coin table or nil";
        }

        goto done;

    case LUA_TNUMBER:
        value = lua_tonumber(L, 1);
        kind = NULL;
        len = 0;
        break;

    case LUA_TTABLE:
        lua_getfield(L, 1, "value");

        if (lua_type(L, -1) != LUA_TNUMBER) {
            msg = "returned a coin whose value is not a number";
            goto done;
        }

        value = lua_tonumber(L, -1);

        lua_getfield(L, 1, "kind");

        if (lua_isnil(L, -1)) {
            kind = NULL;
            len = 0;

        } else if (lua_type(L, -1) == LUA_TSTRING) {
            kind = lua_tolstring(L, -1, &len);

        } else {
            msg = "returned a coin whose kind is not a string";
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

    for (coin->kind.len = 0; coin->kind.len < len; coin->kind.len++) {
        u_char  c = kind[coin->kind.len];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'
              || c == '.'))
        {
            msg = "returned a coin kind with characters other than "
                  "A-Z a-z 0-9 _ - .";
            goto done;
        }

        coin->kind_data[coin->kind.len] = c;
    }

    coin->kind.data = coin->kind_data;
    coin->value = (int64_t) value;

done:

    lua_settop(L, 0);

    if (msg) {
        ngx_log_error(NGX_LOG_ERR, log, 0, "coinhunt: %V: on_tap %s",
                      &rules->path, msg);
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_coinhunt_lua_on_expire(ngx_http_coinhunt_rules_t *rules,
    ngx_http_coinhunt_session_t *s, ngx_log_t *log)
{
    if (rules->on_expire == LUA_REFNIL) {
        return;
    }

    ngx_http_coinhunt_lua.log = log;

    (void) ngx_http_coinhunt_lua_call(rules, rules->on_expire, s, LUA_NOREF,
                                      0, "on_expire");

    lua_settop(ngx_http_coinhunt_lua.L, 0);
}


static void
ngx_http_coinhunt_lua_hook(lua_State *L, lua_Debug *ar)
{
    if (++ngx_http_coinhunt_lua.hooks >= NGX_HTTP_COINHUNT_HOOK_BUDGET) {
        lua_pushliteral(L, NGX_HTTP_COINHUNT_STOP);
        lua_error(L);
    }
}


static const char *
ngx_http_coinhunt_lua_error(lua_State *L)
{
    const char  *msg;

    msg = lua_tostring(L, -1);

    return msg ? msg : "(the error value is not a string)";
}


static int
ngx_http_coinhunt_lua_name(lua_State *L)
{
    ngx_str_t                     name;
    ngx_http_coinhunt_session_t  *s;

    s = ngx_http_coinhunt_lua.session;

    if (s == NULL) {
        return luaL_error(L, "the session view is only valid in its hook");
    }

    if (ngx_strcmp(luaL_checkstring(L, 1), "player") == 0) {
        lua_pushlstring(L, (char *) s->player.data, s->player.len);
        return 1;
    }

    name = ngx_http_coinhunt_hunt_name(ngx_http_coinhunt_sh, s->hunt);
    lua_pushlstring(L, (char *) name.data, name.len);

    return 1;
}


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

    if (m > n || n - m > 9007199254740991.0) {
        return luaL_error(L, "coinhunt.random: empty or too wide interval");
    }

    lua_pushnumber(L, m + (double) (int64_t) (r * (n - m + 1)));

    return 1;
}


static int
ngx_http_coinhunt_lua_now_ms(lua_State *L)
{
    lua_pushnumber(L, (double) ngx_http_coinhunt_now_ms());
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

    ngx_log_error(NGX_LOG_NOTICE,
                  ngx_http_coinhunt_lua.log ? ngx_http_coinhunt_lua.log
                                            : ngx_cycle->log,
                  0, "coinhunt rules: %*s", p - buf, buf);

    return 0;
}
