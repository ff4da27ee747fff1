
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <math.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_lua.h"


/*
 * The table on_query returns, as JSON: an object of string keys (1 to 64
 * bytes) or a list 1..n, at most 4 deep and 256 entries in all; values
 * finite numbers, booleans, strings of at most 256 bytes or such tables.
 * A first pass checks it and counts its bytes, the second writes them in
 * one allocation from the request's pool.  The kit checks the same, in the
 * same order, with the same messages (lua/coinhunt/query.lua).
 */


#define NGX_HTTP_COINHUNT_QUERY_BAD_VALUE                                     \
    "returned a value that is not a finite number, a boolean, a string of "   \
    "at most 256 bytes or a table"


typedef struct {
    lua_State                     *L;
    u_char                        *p;          /* NULL: counting */
    size_t                         len;
    ngx_uint_t                     entries;
    const void                    *path[NGX_HTTP_COINHUNT_QUERY_DEPTH];
    u_char                         scratch[6 * NGX_HTTP_COINHUNT_QUERY_STRING
                                           + 32];
} ngx_http_coinhunt_answer_t;


static const char *ngx_http_coinhunt_lua_answer_table(
    ngx_http_coinhunt_answer_t *a, int idx, ngx_uint_t depth);
static const char *ngx_http_coinhunt_lua_answer_keys(
    ngx_http_coinhunt_answer_t *a, int idx, ngx_uint_t *list);
static const char *ngx_http_coinhunt_lua_answer_value(
    ngx_http_coinhunt_answer_t *a, int idx, ngx_uint_t depth);
static void ngx_http_coinhunt_lua_answer_put(ngx_http_coinhunt_answer_t *a,
    const u_char *s, size_t len);
static void ngx_http_coinhunt_lua_answer_string(
    ngx_http_coinhunt_answer_t *a, const u_char *s, size_t len);


/* the value at "idx" as JSON into "json" (the pool's): NULL, or why not */
const char *
ngx_http_coinhunt_lua_answer(lua_State *L, int idx, ngx_pool_t *pool,
    ngx_str_t *json)
{
    const char                  *msg;
    ngx_http_coinhunt_answer_t   a;

    if (!lua_istable(L, idx)) {
        return "returned something other than a table";
    }

    if (!lua_checkstack(L, 4 * NGX_HTTP_COINHUNT_QUERY_DEPTH + 8)) {
        return "returned a table the Lua stack cannot hold";
    }

    a.L = L;
    a.p = NULL;
    a.len = 0;
    a.entries = 0;

    msg = ngx_http_coinhunt_lua_answer_table(&a, idx, 1);

    if (msg) {
        return msg;
    }

    json->len = a.len;
    json->data = ngx_pnalloc(pool, a.len);

    if (json->data == NULL) {
        return "returned a table with no memory for its JSON";
    }

    a.p = json->data;
    a.len = 0;
    a.entries = 0;

    return ngx_http_coinhunt_lua_answer_table(&a, idx, 1);
}


static const char *
ngx_http_coinhunt_lua_answer_table(ngx_http_coinhunt_answer_t *a, int idx,
    ngx_uint_t depth)
{
    size_t        len;
    lua_State    *L;
    ngx_uint_t    i, n, list;
    const char   *msg, *key;
    const void   *me;

    L = a->L;
    me = lua_topointer(L, idx);

    for (i = 0; i + 1 < depth; i++) {
        if (a->path[i] == me) {
            return "returned a cyclic table";
        }
    }

    if (depth > NGX_HTTP_COINHUNT_QUERY_DEPTH) {
        return "returned a table deeper than 4";
    }

    a->path[depth - 1] = me;

    msg = ngx_http_coinhunt_lua_answer_keys(a, idx, &list);

    if (msg) {
        return msg;
    }

    ngx_http_coinhunt_lua_answer_put(a, (u_char *) (list ? "[" : "{"), 1);

    n = list ? lua_objlen(L, idx) : 0;

    for (i = 1; i <= n; i++) {
        if (++a->entries > NGX_HTTP_COINHUNT_QUERY_ENTRIES) {
            return "returned a table of more than 256 entries";
        }

        if (i > 1) {
            ngx_http_coinhunt_lua_answer_put(a, (u_char *) ",", 1);
        }

        lua_rawgeti(L, idx, (int) i);
        msg = ngx_http_coinhunt_lua_answer_value(a, lua_gettop(L), depth);
        lua_pop(L, 1);

        if (msg) {
            return msg;
        }
    }

    if (!list) {
        lua_pushnil(L);
    }

    for (i = 0; !list && lua_next(L, idx); i++) {
        if (++a->entries > NGX_HTTP_COINHUNT_QUERY_ENTRIES) {
            return "returned a table of more than 256 entries";
        }

        key = lua_tolstring(L, -2, &len);

        if (len == 0 || len > NGX_HTTP_COINHUNT_QUERY_KEY) {
            return "returned a key that is not a string of 1 to 64 bytes";
        }

        if (i) {
            ngx_http_coinhunt_lua_answer_put(a, (u_char *) ",", 1);
        }

        ngx_http_coinhunt_lua_answer_string(a, (u_char *) key, len);
        ngx_http_coinhunt_lua_answer_put(a, (u_char *) ":", 1);

        msg = ngx_http_coinhunt_lua_answer_value(a, lua_gettop(L), depth);

        if (msg) {
            return msg;
        }

        lua_pop(L, 1);
    }

    ngx_http_coinhunt_lua_answer_put(a, (u_char *) (list ? "]" : "}"), 1);

    return NULL;
}


/*
 * The keys of the table at "idx": all strings (an object, also when there
 * are none) or exactly 1..n (*list = 1), else the complaint.
 */
static const char *
ngx_http_coinhunt_lua_answer_keys(ngx_http_coinhunt_answer_t *a, int idx,
    ngx_uint_t *list)
{
    double      k;
    size_t      n;
    lua_State  *L;
    ngx_uint_t  count, strings, others;

    L = a->L;
    n = lua_objlen(L, idx);
    count = 0;
    strings = 0;
    others = 0;

    lua_pushnil(L);

    while (lua_next(L, idx)) {
        count++;

        if (lua_type(L, -2) == LUA_TSTRING) {
            strings++;

        } else if (lua_type(L, -2) == LUA_TNUMBER) {
            k = lua_tonumber(L, -2);

            if (!(k >= 1 && k <= (double) n) || k != floor(k)) {
                others++;
            }

        } else {
            others++;
        }

        lua_pop(L, 1);
    }

    *list = (strings == 0 && count > 0);

    if ((strings && strings != count) || (*list && (others || count != n))) {
        return "returned a table whose keys are neither all strings nor a "
               "list";
    }

    return NULL;
}


static const char *
ngx_http_coinhunt_lua_answer_value(ngx_http_coinhunt_answer_t *a, int idx,
    ngx_uint_t depth)
{
    size_t       len;
    double       v;
    u_char      *last;
    const char  *s;

    switch (lua_type(a->L, idx)) {

    case LUA_TBOOLEAN:
        if (lua_toboolean(a->L, idx)) {
            ngx_http_coinhunt_lua_answer_put(a, (u_char *) "true", 4);

        } else {
            ngx_http_coinhunt_lua_answer_put(a, (u_char *) "false", 5);
        }

        return NULL;

    case LUA_TNUMBER:
        v = lua_tonumber(a->L, idx);

        if (!isfinite(v)) {
            return NGX_HTTP_COINHUNT_QUERY_BAD_VALUE;
        }

        last = ngx_http_coinhunt_lua_json_number(a->scratch, v);
        ngx_http_coinhunt_lua_answer_put(a, a->scratch, last - a->scratch);

        return NULL;

    case LUA_TSTRING:
        s = lua_tolstring(a->L, idx, &len);

        if (len > NGX_HTTP_COINHUNT_QUERY_STRING) {
            return NGX_HTTP_COINHUNT_QUERY_BAD_VALUE;
        }

        ngx_http_coinhunt_lua_answer_string(a, (u_char *) s, len);

        return NULL;

    case LUA_TTABLE:
        return ngx_http_coinhunt_lua_answer_table(a, idx, depth + 1);

    default:
        return NGX_HTTP_COINHUNT_QUERY_BAD_VALUE;
    }
}


static void
ngx_http_coinhunt_lua_answer_string(ngx_http_coinhunt_answer_t *a,
    const u_char *s, size_t len)
{
    u_char  *last;

    last = ngx_http_coinhunt_lua_json_string(a->scratch, s, len);
    ngx_http_coinhunt_lua_answer_put(a, a->scratch, last - a->scratch);
}


/* bytes of the answer: written in the second pass, counted in both */
static void
ngx_http_coinhunt_lua_answer_put(ngx_http_coinhunt_answer_t *a,
    const u_char *s, size_t len)
{
    if (a->p) {
        ngx_memcpy(a->p + a->len, s, len);
    }

    a->len += len;
}
