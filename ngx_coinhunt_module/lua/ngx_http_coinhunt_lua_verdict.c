
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_lua.h"


/*
 * What a hook answers besides a coin: coinhunt.refuse(code, message
 * [, status]), a userdata of a metatable of its own that the request
 * answers with; and a coin's "data", checked and written as a JSON object
 * into the coin while its table is still on the stack (no heap: the
 * object's room is the coin's).  The same checks and messages as the
 * kit's (lua/coinhunt/verdict.lua).
 */


static u_char *ngx_http_coinhunt_lua_datum(lua_State *L, u_char *p);


/* the registry key of the refusals' metatable */
static char  ngx_http_coinhunt_lua_verdict_key;


static const char  *ngx_http_coinhunt_coin_keys[] = {
    "value", "kind", "data", NULL
};


/* makes the refusals' metatable, once per VM */
void
ngx_http_coinhunt_lua_verdict_open(lua_State *L)
{
    lua_pushlightuserdata(L, &ngx_http_coinhunt_lua_verdict_key);
    lua_newtable(L);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_rawset(L, LUA_REGISTRYINDEX);
}


/* an identifier of at most 32 characters, whole */
ngx_int_t
ngx_http_coinhunt_lua_identifier(const char *name, size_t size)
{
    size_t  k;

    if (size == 0 || size > 32) {
        return NGX_DECLINED;
    }

    for (k = 0; k < size; k++) {
        if (!(name[k] == '_' || (name[k] >= 'a' && name[k] <= 'z')
              || (name[k] >= 'A' && name[k] <= 'Z')
              || (k && name[k] >= '0' && name[k] <= '9')))
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* coinhunt.refuse(code, message [, status]) */
int
ngx_http_coinhunt_lua_refuse(lua_State *L)
{
    size_t                        len, mlen, k;
    double                        status;
    const char                   *code, *message;
    ngx_http_coinhunt_verdict_t  *v;

    code = NULL;
    len = 0;

    if (lua_type(L, 1) == LUA_TSTRING) {
        code = lua_tolstring(L, 1, &len);
    }

    for (k = 0; code && k < len; k++) {
        if (!(code[k] == '_' || (code[k] >= 'a' && code[k] <= 'z')
              || (code[k] >= '0' && code[k] <= '9')))
        {
            break;
        }
    }

    if (code == NULL || len == 0 || len > NGX_HTTP_COINHUNT_CODE_MAX
        || k < len)
    {
        return luaL_error(L, "coinhunt.refuse: the code must be 1 to 32 "
                          "characters of a-z 0-9 _");
    }

    message = NULL;
    mlen = 0;

    if (lua_type(L, 2) == LUA_TSTRING) {
        message = lua_tolstring(L, 2, &mlen);
    }

    if (message == NULL || mlen > NGX_HTTP_COINHUNT_MESSAGE_MAX) {
        return luaL_error(L, "coinhunt.refuse: the message must be a string "
                          "of at most 256 bytes");
    }

    status = 403;

    if (!lua_isnoneornil(L, 3)) {
        status = lua_type(L, 3) == LUA_TNUMBER ? lua_tonumber(L, 3) : 0;
    }

    if (!(status >= 400 && status <= 499) || status != floor(status)) {
        return luaL_error(L, "coinhunt.refuse: the status must be an "
                          "integer from 400 to 499");
    }

    v = lua_newuserdata(L, sizeof(ngx_http_coinhunt_verdict_t));

    v->status = (ngx_uint_t) status;
    v->code_len = len;
    v->message_len = mlen;
    ngx_memcpy(v->code, code, len);
    ngx_memcpy(v->message, message, mlen);

    lua_pushlightuserdata(L, &ngx_http_coinhunt_lua_verdict_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_setmetatable(L, -2);

    return 1;
}


/* the refusal at stack index "idx", or NULL: it is something else */
ngx_http_coinhunt_verdict_t *
ngx_http_coinhunt_lua_refusal(lua_State *L, int idx)
{
    int    same;
    void  *v;

    if (lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx)) {
        return NULL;
    }

    v = lua_touserdata(L, idx);

    lua_pushlightuserdata(L, &ngx_http_coinhunt_lua_verdict_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);

    return same ? v : NULL;
}


/* the coin table at "idx" has no key but value, kind and data: NULL */
NGX_HTTP_COINHUNT_HOT
const char *
ngx_http_coinhunt_lua_coin_keys(lua_State *L, int idx)
{
    size_t        len;
    const char   *key, **known;

    lua_pushnil(L);

    while (lua_next(L, idx)) {
        /* the list's end, NULL: an unknown key */
        known = &ngx_http_coinhunt_coin_keys[3];

        if (lua_type(L, -2) == LUA_TSTRING) {
            key = lua_tolstring(L, -2, &len);

            for (known = ngx_http_coinhunt_coin_keys; *known; known++) {
                if (ngx_strlen(*known) == len
                    && ngx_memcmp(*known, key, len) == 0)
                {
                    break;
                }
            }
        }

        lua_pop(L, 1);

        if (*known == NULL) {
            lua_pop(L, 1);
            return "returned a coin with a key other than value, kind and "
                   "data";
        }
    }

    return NULL;
}


/*
 * Checks the coin's data at the top of the stack (nil: none) and writes it
 * into coin->data as a JSON object; NULL, or the complaint.
 */
NGX_HTTP_COINHUNT_HOT
const char *
ngx_http_coinhunt_lua_data(lua_State *L, ngx_http_coinhunt_coin_t *coin)
{
    int          t;
    size_t       len;
    u_char      *p;
    ngx_uint_t   n;
    const char  *key;

    coin->data_len = 0;

    t = lua_gettop(L);

    if (lua_isnil(L, t)) {
        return NULL;
    }

    if (!lua_istable(L, t)) {
        return "returned a coin whose data is not a table";
    }

    p = coin->data;
    *p++ = '{';
    n = 0;

    lua_pushnil(L);

    while (lua_next(L, t)) {

        if (++n > NGX_HTTP_COINHUNT_DATA_KEYS) {
            return "returned a coin whose data has more than 8 keys";
        }

        key = NULL;
        len = 0;

        if (lua_type(L, -2) == LUA_TSTRING) {
            key = lua_tolstring(L, -2, &len);
        }

        if (key == NULL
            || ngx_http_coinhunt_lua_identifier(key, len) != NGX_OK)
        {
            return "returned a coin data key that is not an identifier of "
                   "at most 32 characters";
        }

        if (n > 1) {
            *p++ = ',';
        }

        *p++ = '"';
        p = ngx_cpymem(p, key, len);
        *p++ = '"';
        *p++ = ':';

        p = ngx_http_coinhunt_lua_datum(L, p);

        if (p == NULL) {
            return "returned a coin data value that is not a finite "
                   "number, a boolean or a string of at most 64 bytes";
        }

        lua_pop(L, 1);
    }

    *p++ = '}';
    coin->data_len = p - coin->data;

    return NULL;
}


/* the value at the top of the stack as JSON, or NULL: no datum */
static u_char *
ngx_http_coinhunt_lua_datum(lua_State *L, u_char *p)
{
    size_t       len;
    double       v;
    const char  *s;

    switch (lua_type(L, -1)) {

    case LUA_TBOOLEAN:
        return lua_toboolean(L, -1) ? ngx_cpymem(p, "true", 4)
                                    : ngx_cpymem(p, "false", 5);

    case LUA_TSTRING:
        s = lua_tolstring(L, -1, &len);

        if (len > NGX_HTTP_COINHUNT_DATA_STRING) {
            return NULL;
        }

        return ngx_http_coinhunt_lua_json_string(p, (u_char *) s, len);

    case LUA_TNUMBER:
        v = lua_tonumber(L, -1);

        if (!isfinite(v)) {
            return NULL;
        }

        return ngx_http_coinhunt_lua_json_number(p, v);

    default:
        return NULL;
    }
}


/* a JSON string: at most 6 bytes ("\u001f") for each byte, and 2 */
u_char *
ngx_http_coinhunt_lua_json_string(u_char *p, const u_char *s, size_t len)
{
    u_char      c;
    size_t      i;

    static const u_char  hex[] = "0123456789abcdef";

    *p++ = '"';

    for (i = 0; i < len; i++) {
        c = s[i];

        switch (c) {

        case '"':
        case '\\':
            *p++ = '\\';
            *p++ = c;
            break;

        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;

        case '\r':
            *p++ = '\\';
            *p++ = 'r';
            break;

        case '\t':
            *p++ = '\\';
            *p++ = 't';
            break;

        default:
            if (c < 0x20 || c == 0x7f) {
                p = ngx_cpymem(p, "\\u00", 4);
                *p++ = hex[c >> 4];
                *p++ = hex[c & 0xf];

            } else {
                *p++ = c;
            }
        }
    }

    *p++ = '"';

    return p;
}


/*
 * A finite number: the shortest of 15 or 17 digits that reads back the
 * same, so 0.1 is "0.1" and every double survives; at most 24 bytes.
 */
u_char *
ngx_http_coinhunt_lua_json_number(u_char *p, double v)
{
    int   n;
    char  buf[32];

    n = snprintf(buf, sizeof(buf), "%.15g", v);

    if (strtod(buf, NULL) != v) {
        n = snprintf(buf, sizeof(buf), "%.17g", v);
    }

    return ngx_cpymem(p, buf, n);
}
