
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <lualib.h>
#include <luajit.h>
#include "ngx_http_coinhunt_module.h"
#include "ngx_http_coinhunt_alloc.h"
#include "ngx_http_coinhunt_http.h"
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




static lua_State *ngx_http_coinhunt_lua_new(lua_Alloc alloc, u_char *err,
    size_t len);
static int ngx_http_coinhunt_lua_load(lua_State *L,
    ngx_http_coinhunt_rules_t *rules, ngx_pool_t *pool, u_char *err,
    size_t len);
static void ngx_http_coinhunt_lua_hook(lua_State *L, lua_Debug *ar);
static ngx_int_t ngx_http_coinhunt_lua_call(ngx_http_coinhunt_rules_t *rules,
    int fn, ngx_http_coinhunt_session_t *s, int arg, int nresults,
    const char *hook);
static const char *ngx_http_coinhunt_lua_error(lua_State *L);
static void ngx_http_coinhunt_lua_rawfield(lua_State *L, int index,
    const char *name);


ngx_http_coinhunt_lua_t  ngx_http_coinhunt_lua;


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

    return L;

failed:

    ngx_cpystrn(err, (u_char *) ngx_http_coinhunt_lua_error(L), len);
    lua_close(L);

    return NULL;
}


/*
 * Loads a rules file into the sandbox and checks what it returns.  Leaves
 * the rules table on the stack, above the traceback and the sandbox maker.
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

    ngx_http_coinhunt_lua_rawfield(L, -1, "fields");

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
    u_char                       err[1024];
    ngx_uint_t                   i;
    lua_State                   *L;
    ngx_http_coinhunt_lua_t     *lua;
    ngx_http_coinhunt_rules_t  **rules;

    lua = &ngx_http_coinhunt_lua;
    lua->log = cycle->log;

    ngx_http_coinhunt_lua_seed(cmcf);

    L = ngx_http_coinhunt_lua_new(ngx_http_coinhunt_lua_alloc, err,
                                  sizeof(err));
    if (L == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0, "coinhunt: %s", err);
        return NGX_ERROR;
    }

    lua->L = L;

    rules = cmcf->rules.elts;

    for (i = 0; i < cmcf->rules.nelts; i++) {

        if (ngx_http_coinhunt_lua_load(L, rules[i], NULL, err, sizeof(err))
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0, "coinhunt: %s", err);
            return NGX_ERROR;
        }

        ngx_http_coinhunt_lua_rawfield(L, -1, "on_tap");
        rules[i]->on_tap = luaL_ref(L, LUA_REGISTRYINDEX);
        ngx_http_coinhunt_lua_rawfield(L, -1, "on_join");
        rules[i]->on_join = luaL_ref(L, LUA_REGISTRYINDEX);
        ngx_http_coinhunt_lua_rawfield(L, -1, "on_expire");
        rules[i]->on_expire = luaL_ref(L, LUA_REGISTRYINDEX);

        lua_pop(L, 1);
    }

    if (ngx_http_coinhunt_lua_views(cmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    /* for good: cheaper per bytecode than setting it around every call */
    lua_sethook(L, ngx_http_coinhunt_lua_hook, LUA_MASKCOUNT,
                NGX_HTTP_COINHUNT_HOOK_COUNT);

    /* the traceback function stays at index 1 */
    lua_settop(L, 1);
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


/*
 * Calls hook "fn" with the session's view and the object at registry "arg"
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

    /* the traceback function stays at index 1 between calls */
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

    rc = lua_pcall(L, nargs, nresults, 1);

    lua->session = NULL;
    lua->tap = NULL;

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, lua->log, 0,
                      "coinhunt: %V: %s failed: %s", &rules->path, hook,
                      ngx_http_coinhunt_lua_error(L));
        lua_settop(L, 1);
        return NGX_ERROR;
    }

    return NGX_OK;
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
    ngx_http_coinhunt_lua.now_ms = (double) s->created_ms;

    if (ngx_http_coinhunt_lua_call(rules, rules->on_join, s,
                                   ngx_http_coinhunt_lua.ctx_ref, 0,
                                   "on_join")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    lua_settop(L, 1);

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

    ngx_http_coinhunt_lua.tap = tap;

    if (ngx_http_coinhunt_lua_call(rules, rules->on_tap, s,
                                   ngx_http_coinhunt_lua.tap_ref, 1, "on_tap")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    coin->value = -1;
    msg = NULL;

    switch (lua_type(L, 2)) {

    case LUA_TNIL:
        goto done;

    case LUA_TBOOLEAN:
        if (lua_toboolean(L, 2)) {
            msg = "returned true, not a coin table or nil";
        }

        goto done;

    case LUA_TNUMBER:
        value = lua_tonumber(L, 2);
        kind = NULL;
        len = 0;
        break;

    case LUA_TTABLE:
        ngx_http_coinhunt_lua_rawfield(L, 2, "value");

        if (lua_type(L, -1) != LUA_TNUMBER) {
            msg = "returned a coin whose value is not a number";
            goto done;
        }

        value = lua_tonumber(L, -1);

        ngx_http_coinhunt_lua_rawfield(L, 2, "kind");

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

    if (!ngx_http_coinhunt_valid_name((u_char *) kind, len, len)) {
        msg = "returned a coin kind with characters other than "
              "A-Z a-z 0-9 _ - .";
        goto done;
    }

    coin->kind.len = len;
    coin->kind.data = ngx_cpymem(coin->kind_data, kind, len) - len;
    coin->value = (int64_t) value;

done:

    lua_settop(L, 1);

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

    lua_settop(ngx_http_coinhunt_lua.L, 1);
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


/*
 * t[name] without metamethods: outside lua_pcall() an __index that raises
 * would panic the VM and abort the worker.
 */
static void
ngx_http_coinhunt_lua_rawfield(lua_State *L, int index, const char *name)
{
    if (index < 0) {
        index = lua_gettop(L) + index + 1;
    }

    lua_pushstring(L, name);
    lua_rawget(L, index);
}
