
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <math.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_hunts.h"
#include "ngx_http_coinhunt_lua.h"


/*
 * What a rule sees: the session view, the tap and on_join's context are
 * userdata made once per worker whose __index and __newindex read and write
 * the C copy of the running call's session.  Keys are matched by the address
 * of their interned string, so a field access costs a pointer compare and
 * nothing is allocated per call.
 */


enum {
    NGX_HTTP_COINHUNT_SCORE = 0,
    NGX_HTTP_COINHUNT_TAPS,
    NGX_HTTP_COINHUNT_COINS,
    NGX_HTTP_COINHUNT_LAST_TAP_MS,
    NGX_HTTP_COINHUNT_CREATED_MS,
    NGX_HTTP_COINHUNT_PLAYER,
    NGX_HTTP_COINHUNT_HUNT,
    NGX_HTTP_COINHUNT_X,
    NGX_HTTP_COINHUNT_Y,
    NGX_HTTP_COINHUNT_NOW_MS,
    NGX_HTTP_COINHUNT_SEQ
};


static const char  *ngx_http_coinhunt_names[NGX_HTTP_COINHUNT_NAMES] = {
    "score", "taps", "coins", "last_tap_ms", "created_ms", "player", "hunt",
    "x", "y", "now_ms", "seq"
};


static ngx_int_t ngx_http_coinhunt_lua_key(lua_State *L, ngx_uint_t from,
    ngx_uint_t to);
static int ngx_http_coinhunt_lua_view_index(lua_State *L);
static int ngx_http_coinhunt_lua_view_newindex(lua_State *L);
static int ngx_http_coinhunt_lua_tap_index(lua_State *L);
static int ngx_http_coinhunt_lua_ctx_index(lua_State *L);
static int ngx_http_coinhunt_lua_read_only(lua_State *L);
static void ngx_http_coinhunt_lua_object(lua_State *L, const char *name,
    lua_CFunction index, lua_CFunction newindex);


/*
 * Interns the names, anchored in a registry table, makes the per-rules views
 * and the tap and context objects.
 */
ngx_int_t
ngx_http_coinhunt_lua_views(ngx_http_coinhunt_main_conf_t *cmcf)
{
    ngx_uint_t                   i, k;
    lua_State                   *L;
    ngx_http_coinhunt_lua_t     *lua;
    ngx_http_coinhunt_rules_t  **rules;

    lua = &ngx_http_coinhunt_lua;
    L = lua->L;

    lua_newtable(L);

    for (k = 0; k < NGX_HTTP_COINHUNT_NAMES; k++) {
        lua_pushstring(L, ngx_http_coinhunt_names[k]);
        lua->names[k] = lua_tostring(L, -1);
        lua_rawseti(L, -2, k + 1);
    }

    rules = cmcf->rules.elts;

    for (i = 0; i < cmcf->rules.nelts; i++) {

        for (k = 0; k < rules[i]->nfields; k++) {
            lua_pushlstring(L, (char *) rules[i]->fields[k].data,
                            rules[i]->fields[k].len);
            lua->fields[i][k] = lua_tostring(L, -1);
            lua_rawseti(L, -2, NGX_HTTP_COINHUNT_NAMES + 1
                               + i * NGX_HTTP_COINHUNT_FIELDS_MAX + k);
        }

        ngx_http_coinhunt_lua_object(L, "coinhunt session view",
                                     ngx_http_coinhunt_lua_view_index,
                                     ngx_http_coinhunt_lua_view_newindex);
        rules[i]->view = luaL_ref(L, LUA_REGISTRYINDEX);
    }

    (void) luaL_ref(L, LUA_REGISTRYINDEX);

    ngx_http_coinhunt_lua_object(L, "coinhunt tap",
                                 ngx_http_coinhunt_lua_tap_index,
                                 ngx_http_coinhunt_lua_read_only);
    lua->tap_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    ngx_http_coinhunt_lua_object(L, "coinhunt join context",
                                 ngx_http_coinhunt_lua_ctx_index,
                                 ngx_http_coinhunt_lua_read_only);
    lua->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    return NGX_OK;
}


/* pushes an empty userdata whose metatable is locked */
static void
ngx_http_coinhunt_lua_object(lua_State *L, const char *name,
    lua_CFunction index, lua_CFunction newindex)
{
    (void) lua_newuserdata(L, 0);

    lua_createtable(L, 0, 4);
    lua_pushcfunction(L, index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
    lua_setmetatable(L, -2);
}


/* the index of key 2 among names[from..to), or -1 */
NGX_HTTP_COINHUNT_HOT
static ngx_int_t
ngx_http_coinhunt_lua_key(lua_State *L, ngx_uint_t from, ngx_uint_t to)
{
    ngx_uint_t   k;
    const char  *key;

    key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;

    for (k = from; k < to; k++) {
        if (key == ngx_http_coinhunt_lua.names[k]) {
            return k;
        }
    }

    return -1;
}


NGX_HTTP_COINHUNT_HOT
static int
ngx_http_coinhunt_lua_view_index(lua_State *L)
{
    ngx_int_t                     k;
    ngx_uint_t                    i;
    ngx_str_t                     name;
    const char                   *key;
    ngx_http_coinhunt_lua_t      *lua;
    ngx_http_coinhunt_session_t  *s;

    lua = &ngx_http_coinhunt_lua;
    s = lua->session;

    if (s == NULL) {
        return luaL_error(L, "the session view is only valid in its hook");
    }

    key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;

    for (i = 0; i < lua->rules->nfields; i++) {
        if (key == lua->fields[lua->rules->index][i]) {
            lua_pushnumber(L, s->fields[i]);
            return 1;
        }
    }

    k = ngx_http_coinhunt_lua_key(L, NGX_HTTP_COINHUNT_SCORE,
                                  NGX_HTTP_COINHUNT_HUNT + 1);

    switch (k) {

    case NGX_HTTP_COINHUNT_SCORE:
        lua_pushnumber(L, (double) s->score);
        break;

    case NGX_HTTP_COINHUNT_TAPS:
        lua_pushnumber(L, s->taps);
        break;

    case NGX_HTTP_COINHUNT_COINS:
        lua_pushnumber(L, s->coins);
        break;

    case NGX_HTTP_COINHUNT_LAST_TAP_MS:
        lua_pushnumber(L, (double) s->last_tap_ms);
        break;

    case NGX_HTTP_COINHUNT_CREATED_MS:
        lua_pushnumber(L, (double) s->created_ms);
        break;

    case NGX_HTTP_COINHUNT_PLAYER:
        lua_pushlstring(L, (char *) s->player.data, s->player.len);
        break;

    case NGX_HTTP_COINHUNT_HUNT:
        name = ngx_http_coinhunt_hunt_name(ngx_http_coinhunt_sh, s->hunt);
        lua_pushlstring(L, (char *) name.data, name.len);
        break;

    default:
        return luaL_error(L, "the session has no field '%s'",
                          key ? key : "?");
    }

    return 1;
}


NGX_HTTP_COINHUNT_HOT
static int
ngx_http_coinhunt_lua_view_newindex(lua_State *L)
{
    double                    v;
    ngx_uint_t                i;
    const char               *key;
    ngx_http_coinhunt_lua_t  *lua;

    lua = &ngx_http_coinhunt_lua;

    if (lua->session == NULL) {
        return luaL_error(L, "the session view is only valid in its hook");
    }

    if (lua->read_only) {
        return luaL_error(L, "the session view is read-only in on_query");
    }

    key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;

    for (i = 0; i < lua->rules->nfields; i++) {
        if (key != lua->fields[lua->rules->index][i]) {
            continue;
        }

        v = lua_tonumber(L, 3);

        if (lua_type(L, 3) != LUA_TNUMBER || !isfinite(v)) {
            return luaL_error(L, "session field '%s' must be a finite "
                              "number", key);
        }

        lua->session->fields[i] = v;

        return 0;
    }

    if (ngx_http_coinhunt_lua_key(L, NGX_HTTP_COINHUNT_SCORE,
                                  NGX_HTTP_COINHUNT_HUNT + 1)
        >= 0)
    {
        return luaL_error(L, "session field '%s' is read-only", key);
    }

    return luaL_error(L, "session field '%s' is not declared in "
                      "rules.fields", key ? key : "?");
}


NGX_HTTP_COINHUNT_HOT
static int
ngx_http_coinhunt_lua_tap_index(lua_State *L)
{
    ngx_http_coinhunt_tap_t  *tap;

    tap = ngx_http_coinhunt_lua.tap;

    if (tap == NULL) {
        return luaL_error(L, "the tap is only valid in on_tap");
    }

    switch (ngx_http_coinhunt_lua_key(L, NGX_HTTP_COINHUNT_X,
                                      NGX_HTTP_COINHUNT_SEQ + 1))
    {
    case NGX_HTTP_COINHUNT_X:
        lua_pushnumber(L, tap->x);
        break;

    case NGX_HTTP_COINHUNT_Y:
        lua_pushnumber(L, tap->y);
        break;

    case NGX_HTTP_COINHUNT_NOW_MS:
        lua_pushnumber(L, tap->now_ms);
        break;

    case NGX_HTTP_COINHUNT_SEQ:
        lua_pushnumber(L, tap->seq);
        break;

    default:
        lua_pushnil(L);
        break;
    }

    return 1;
}


static int
ngx_http_coinhunt_lua_ctx_index(lua_State *L)
{
    if (ngx_http_coinhunt_lua_key(L, NGX_HTTP_COINHUNT_NOW_MS,
                                  NGX_HTTP_COINHUNT_NOW_MS + 1)
        < 0)
    {
        lua_pushnil(L);
        return 1;
    }

    lua_pushnumber(L, ngx_http_coinhunt_lua.now_ms);

    return 1;
}


static int
ngx_http_coinhunt_lua_read_only(lua_State *L)
{
    return luaL_error(L, "the tap and the join context are read-only");
}
