
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_fuzz.h"
#include "ngx_http_coinhunt_module.h"
#include "ngx_http_coinhunt_parse.h"
#include "ngx_http_coinhunt_lua.h"


/*
 * Rules files: the input is a rules file's source.  It is loaded and checked
 * in a new sandboxed VM, as "nginx -t" does; a file that passes has its
 * declared fields compared with what it wrote, and its on_tap is called, as
 * a worker calls it (under the budget, kept here by the count hook), with
 * empty tables for the session and the tap; what it returns goes to the
 * module's coin check.
 */


static ngx_str_t  ngx_fuzz_path = ngx_string("fuzz.lua");


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_fuzz_init();
    return 0;
}


static void
ngx_fuzz_fields(lua_State *L, ngx_str_t *fields, ngx_uint_t n)
{
    size_t      len;
    ngx_uint_t  i;
    const char  *s;

    lua_pushliteral(L, "fields");
    lua_rawget(L, -2);

    for (i = 0; n && lua_istable(L, -1) && i < n; i++) {
        lua_rawgeti(L, -1, i + 1);
        s = lua_tolstring(L, -1, &len);

        ngx_fuzz_assert(s && len == fields[i].len
                        && ngx_memcmp(s, fields[i].data, len) == 0,
                        "a declared field is not the name the file wrote");
        ngx_fuzz_assert(len >= 1 && len <= 32, "a field name's length");

        lua_pop(L, 1);
    }

    lua_pop(L, 1);
}


static void
ngx_fuzz_on_tap(lua_State *L)
{
    const char                *msg;
    ngx_http_coinhunt_coin_t   coin;

    lua_pushliteral(L, "on_tap");
    lua_rawget(L, -2);
    lua_newtable(L);
    lua_newtable(L);

    /* as ngx_http_coinhunt_lua_call() does: a new budget for the call */
    ngx_http_coinhunt_lua.hook_since = 0;

    if (lua_pcall(L, 2, 1, 1) != 0) {
        return;
    }

    msg = ngx_http_coinhunt_lua_coin(L, lua_gettop(L), &coin);

    if (msg == NULL && coin.value != -1) {
        ngx_fuzz_assert(coin.value >= 0 && coin.value <= 1000000000,
                        "a coin value out of range");
        ngx_fuzz_assert(ngx_http_coinhunt_valid_name(coin.kind.data,
                                                     coin.kind.len, 32),
                        "a coin kind that is not a name");
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char      err[1024];
    ngx_str_t   source, fields[NGX_HTTP_COINHUNT_FIELDS_MAX];
    ngx_uint_t  nfields;
    lua_State  *L;

    L = ngx_http_coinhunt_lua_new(NULL, err, sizeof(err));
    ngx_fuzz_assert(L != NULL, "no VM");

    source.data = (u_char *) data;
    source.len = size;

    if (ngx_http_coinhunt_lua_load(L, &ngx_fuzz_path, &source, fields,
                                   &nfields, err, sizeof(err))
        == NGX_OK)
    {
        ngx_fuzz_assert(nfields <= NGX_HTTP_COINHUNT_FIELDS_MAX,
                        "too many fields");
        ngx_fuzz_fields(L, fields, nfields);
        ngx_fuzz_on_tap(L);

    } else {
        ngx_fuzz_assert(err[0] != '\0', "a refusal without a message");
    }

    lua_close(L);

    return 0;
}
