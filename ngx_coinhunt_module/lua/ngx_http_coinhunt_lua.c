
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <lualib.h>
#include <luajit.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_alloc.h"
#include "ngx_http_coinhunt_lua.h"


/*
 * One LuaJIT VM per worker.  Rules run in a sandbox (no ffi, io, os.execute,
 * debug, loadfile) and in the interpreter, so that a hook set by the
 * watchdog (lua_watchdog.c) can stop a rule that runs away.  A hook sees
 * its session through a view made once per worker (lua_view.c) whose
 * metamethods read and write the C copy of the session: core fields
 * read-only, declared fields read-write numbers; nothing is made per call.
 */


static void ngx_http_coinhunt_lua_pin(lua_State *L, int *ref);
static ngx_int_t ngx_http_coinhunt_lua_call(ngx_http_coinhunt_rules_t *rules,
    int fn, ngx_http_coinhunt_session_t *s, int arg, int arg2, int nresults,
    const char *hook);
static ngx_int_t ngx_http_coinhunt_lua_verdict(lua_State *L,
    ngx_http_coinhunt_verdict_t *verdict);


/*
 * The master reads and checks each rules file; workers compile the source it
 * read, so they need no access to the file and run exactly what was checked.
 */
char *
ngx_http_coinhunt_lua_check(ngx_conf_t *cf, ngx_http_coinhunt_rules_t *rules)
{
    u_char           err[1024], *p;
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_int_t        rc;
    ngx_uint_t       i;
    lua_State       *L;
    ngx_file_info_t  fi;

    fd = ngx_open_file(rules->path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"coinhunt_rules\" directive cannot open rules "
                           "file \"%V\"", &rules->path);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > 16 * 1024 * 1024)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"coinhunt_rules\" directive: rules file \"%V\" "
                           "is not a readable file of at most 16 MiB",
                           &rules->path);
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
                           "\"coinhunt_rules\" directive cannot read rules "
                           "file \"%V\"", &rules->path);
        return NGX_CONF_ERROR;
    }

    L = ngx_http_coinhunt_lua_new(NULL, err, sizeof(err));

    if (L == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"coinhunt_rules\" directive: %s", err);
        return NGX_CONF_ERROR;
    }

    rc = ngx_http_coinhunt_lua_load(L, &rules->path, &rules->source,
                                    rules->fields, &rules->nfields, err,
                                    sizeof(err));

    /* the names point into the VM's strings: copy them before it closes */
    for (i = 0; rc == NGX_OK && i < rules->nfields; i++) {
        p = ngx_pnalloc(cf->pool, rules->fields[i].len + 1);
        if (p == NULL) {
            rc = NGX_ERROR;
            ngx_cpystrn(err, (u_char *) "cannot copy a field name",
                        sizeof(err));
            break;
        }

        ngx_cpystrn(p, rules->fields[i].data, rules->fields[i].len + 1);
        rules->fields[i].data = p;
    }

    lua_close(L);

    if (rc != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"coinhunt_rules\" directive: %s", err);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_coinhunt_lua_init(ngx_cycle_t *cycle,
    ngx_http_coinhunt_main_conf_t *cmcf)
{
    u_char                       err[1024];
    ngx_str_t                    fields[NGX_HTTP_COINHUNT_FIELDS_MAX];
    ngx_uint_t                   i, nfields;
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

        /* the same source as the master checked: its names are kept */
        if (ngx_http_coinhunt_lua_load(L, &rules[i]->path, &rules[i]->source,
                                       fields, &nfields, err, sizeof(err))
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
        ngx_http_coinhunt_lua_rawfield(L, -1, "on_query");
        rules[i]->on_query = luaL_ref(L, LUA_REGISTRYINDEX);

        lua_pop(L, 1);
    }

    if (ngx_http_coinhunt_lua_views(cmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the traceback function stays at index 1, then what calls push */
    lua_settop(L, 1);

    if (!lua_checkstack(L, 5 + 5 * cmcf->rules.nelts + LUA_MINSTACK)) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "coinhunt: no Lua stack for %ui rules files",
                      cmcf->rules.nelts);
        return NGX_ERROR;
    }

    lua_pushliteral(L, "value");
    lua->value_key = lua_gettop(L);
    lua_pushliteral(L, "kind");
    lua->kind_key = lua_gettop(L);
    lua_pushliteral(L, "data");
    lua->data_key = lua_gettop(L);

    ngx_http_coinhunt_lua_pin(L, &lua->tap_ref);
    ngx_http_coinhunt_lua_pin(L, &lua->ctx_ref);

    for (i = 0; i < cmcf->rules.nelts; i++) {
        ngx_http_coinhunt_lua_pin(L, &rules[i]->on_tap);
        ngx_http_coinhunt_lua_pin(L, &rules[i]->on_join);
        ngx_http_coinhunt_lua_pin(L, &rules[i]->on_expire);
        ngx_http_coinhunt_lua_pin(L, &rules[i]->on_query);
        ngx_http_coinhunt_lua_pin(L, &rules[i]->view);
    }

    lua->top = lua_gettop(L);
    lua_gc(L, LUA_GCCOLLECT, 0);

    ngx_http_coinhunt_lua_watch_start(cycle->log);

    return NGX_OK;
}


/* moves a registry ref's object to the stack, where calls copy it from */
static void
ngx_http_coinhunt_lua_pin(lua_State *L, int *ref)
{
    if (*ref == LUA_REFNIL) {
        return;
    }

    lua_rawgeti(L, LUA_REGISTRYINDEX, *ref);
    luaL_unref(L, LUA_REGISTRYINDEX, *ref);
    *ref = lua_gettop(L);
}


void
ngx_http_coinhunt_lua_done(void)
{
    ngx_http_coinhunt_lua_watch_stop();

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
 * Calls hook "fn" with the session's view (nil: no session) and the objects
 * at stack slots "arg" and "arg2" (LUA_NOREF: none); on success leaves
 * "nresults" values on the stack.
 */
NGX_HTTP_COINHUNT_HOT
static ngx_int_t
ngx_http_coinhunt_lua_call(ngx_http_coinhunt_rules_t *rules, int fn,
    ngx_http_coinhunt_session_t *s, int arg, int arg2, int nresults,
    const char *hook)
{
    int                       rc, nargs;
    lua_State                *L;
    ngx_http_coinhunt_lua_t  *lua;

    lua = &ngx_http_coinhunt_lua;
    L = lua->L;

    lua_pushvalue(L, fn);

    if (s) {
        lua_pushvalue(L, rules->view);

    } else {
        lua_pushnil(L);
    }

    nargs = 1;

    if (arg != LUA_NOREF) {
        lua_pushvalue(L, arg);
        nargs++;
    }

    if (arg2 != LUA_NOREF) {
        lua_pushvalue(L, arg2);
        nargs++;
    }

    lua->rules = rules;
    lua->session = s;
    lua->hook_since = 0;

    /* a new number first: a look at the last call cannot count for this */
    lua->call++;
    lua->in_call = 1;

    rc = lua_pcall(L, nargs, nresults, 1);

    lua->in_call = 0;

    if (lua->stopping) {
        lua_sethook(L, NULL, 0, 0);
        lua->stopping = 0;
    }

    lua->session = NULL;
    lua->tap = NULL;

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, lua->log, 0,
                      "coinhunt: %V: %s failed: %s", &rules->path, hook,
                      ngx_http_coinhunt_lua_error(L));
        lua_settop(L, lua->top);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * NGX_OK: on_join let the player in; NGX_DECLINED: it refused, "verdict"
 * says how; NGX_ERROR: it failed.
 */
ngx_int_t
ngx_http_coinhunt_lua_on_join(ngx_http_coinhunt_rules_t *rules,
    ngx_http_coinhunt_session_t *s, ngx_http_coinhunt_verdict_t *verdict,
    ngx_log_t *log)
{
    ngx_int_t   rc;
    lua_State  *L;

    if (rules == NULL || rules->on_join == LUA_REFNIL) {
        return NGX_OK;
    }

    L = ngx_http_coinhunt_lua.L;
    ngx_http_coinhunt_lua.log = log;
    ngx_http_coinhunt_lua.now_ms = (double) s->created_ms;

    if (ngx_http_coinhunt_lua_call(rules, rules->on_join, s,
                                   ngx_http_coinhunt_lua.ctx_ref, LUA_NOREF,
                                   1, "on_join")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_http_coinhunt_lua_verdict(L, verdict);

    lua_settop(L, ngx_http_coinhunt_lua.top);

    return rc;
}


/*
 * NGX_OK: "coin" is what on_tap found (value -1: nothing); NGX_DECLINED:
 * it refused the tap, "verdict" says how; NGX_ERROR: it failed.
 */
NGX_HTTP_COINHUNT_HOT
ngx_int_t
ngx_http_coinhunt_lua_on_tap(ngx_http_coinhunt_rules_t *rules,
    ngx_http_coinhunt_session_t *s, ngx_http_coinhunt_tap_t *tap,
    ngx_http_coinhunt_coin_t *coin, ngx_http_coinhunt_verdict_t *verdict,
    ngx_log_t *log)
{
    lua_State   *L;
    const char  *msg;

    L = ngx_http_coinhunt_lua.L;
    ngx_http_coinhunt_lua.log = log;

    ngx_http_coinhunt_lua.tap = tap;

    if (ngx_http_coinhunt_lua_call(rules, rules->on_tap, s,
                                   ngx_http_coinhunt_lua.tap_ref, LUA_NOREF,
                                   1, "on_tap")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_coinhunt_lua_verdict(L, verdict) == NGX_DECLINED) {
        coin->value = -1;
        coin->data_len = 0;
        lua_settop(L, ngx_http_coinhunt_lua.top);
        return NGX_DECLINED;
    }

    msg = ngx_http_coinhunt_lua_coin(L, ngx_http_coinhunt_lua.top + 1,
                                     coin);

    lua_settop(L, ngx_http_coinhunt_lua.top);

    if (msg) {
        ngx_log_error(NGX_LOG_ERR, log, 0, "coinhunt: %V: on_tap %s",
                      &rules->path, msg);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the hook's result, a refusal: copied out, NGX_DECLINED */
NGX_HTTP_COINHUNT_HOT
static ngx_int_t
ngx_http_coinhunt_lua_verdict(lua_State *L,
    ngx_http_coinhunt_verdict_t *verdict)
{
    ngx_http_coinhunt_verdict_t  *v;

    v = ngx_http_coinhunt_lua_refusal(L, ngx_http_coinhunt_lua.top + 1);

    if (v == NULL) {
        return NGX_OK;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_http_coinhunt_lua.log, 0,
                   "coinhunt: the rule refused: %ui %*s", v->status,
                   v->code_len, v->code);

    *verdict = *v;

    return NGX_DECLINED;
}


/*
 * A query of the hunt "hunt" with the request's "args", by the session "s"
 * (NULL: none): NGX_OK, "json" is on_query's answer (the pool's);
 * NGX_DECLINED: the rules have no on_query; NGX_ERROR: it failed.  The
 * session view is read-only meanwhile.
 */
ngx_int_t
ngx_http_coinhunt_lua_on_query(ngx_http_coinhunt_rules_t *rules,
    ngx_http_coinhunt_session_t *s, ngx_keyval_t *args, ngx_uint_t nargs,
    ngx_str_t *hunt, ngx_pool_t *pool, ngx_str_t *json, ngx_log_t *log)
{
    int                       targs, thunt;
    ngx_int_t                 rc;
    lua_State                *L;
    ngx_uint_t                i;
    const char               *msg;
    ngx_http_coinhunt_lua_t  *lua;

    if (rules == NULL || rules->on_query == LUA_REFNIL) {
        return NGX_DECLINED;
    }

    lua = &ngx_http_coinhunt_lua;
    L = lua->L;
    lua->log = log;

    lua_createtable(L, 0, (int) nargs);

    for (i = 0; i < nargs; i++) {
        lua_pushlstring(L, (char *) args[i].key.data, args[i].key.len);
        lua_pushlstring(L, (char *) args[i].value.data, args[i].value.len);
        lua_rawset(L, -3);
    }

    targs = lua_gettop(L);
    lua_pushlstring(L, (char *) hunt->data, hunt->len);
    thunt = lua_gettop(L);

    lua->read_only = 1;

    rc = ngx_http_coinhunt_lua_call(rules, rules->on_query, s, targs, thunt,
                                    1, "on_query");

    lua->read_only = 0;

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    msg = ngx_http_coinhunt_lua_answer(L, lua_gettop(L), pool, json);

    lua_settop(L, lua->top);

    if (msg) {
        ngx_log_error(NGX_LOG_ERR, log, 0, "coinhunt: %V: on_query %s",
                      &rules->path, msg);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* an expired session, told to the rules it joined with if they still run */
void
ngx_http_coinhunt_lua_on_expire(ngx_http_coinhunt_main_conf_t *cmcf,
    ngx_http_coinhunt_session_t *s, ngx_log_t *log)
{
    ngx_uint_t                   i;
    ngx_http_coinhunt_rules_t  **rules;

    rules = cmcf->rules.elts;

    /* by the path's id: a reload may name the files in another order */
    for (i = 0; i < cmcf->rules.nelts; i++) {
        if (rules[i]->id == s->rules) {
            break;
        }
    }

    if (i == cmcf->rules.nelts || rules[i]->on_expire == LUA_REFNIL) {
        return;
    }

    ngx_http_coinhunt_lua.log = log;

    (void) ngx_http_coinhunt_lua_call(rules[i], rules[i]->on_expire, s,
                                      LUA_NOREF, LUA_NOREF, 0, "on_expire");

    lua_settop(ngx_http_coinhunt_lua.L, ngx_http_coinhunt_lua.top);
}
