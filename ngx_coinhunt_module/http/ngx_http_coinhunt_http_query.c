
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_lua.h"
#include "ngx_http_coinhunt_query.h"
#include "ngx_http_coinhunt_http.h"
#include "ngx_http_coinhunt_reply.h"
#include "ngx_http_coinhunt_endpoints.h"


/*
 * GET /query?hunt=H&...: the session if the request has one, the hunt,
 * every other parameter of the query string for on_query's "args"; the
 * game's query (game/ngx_http_coinhunt_query.c); its JSON.
 */


static ngx_int_t ngx_http_coinhunt_query_args(ngx_http_request_t *r,
    ngx_http_coinhunt_query_in_t *in);
static ngx_int_t ngx_http_coinhunt_query_arg(ngx_http_request_t *r,
    ngx_http_coinhunt_query_in_t *in, u_char *name, size_t len);


ngx_int_t
ngx_http_coinhunt_http_query(ngx_http_request_t *r)
{
    u_char                         *p;
    ngx_str_t                       token;
    ngx_http_coinhunt_token_t       t;
    ngx_http_coinhunt_query_in_t    in;
    ngx_http_coinhunt_query_out_t   out;

    in.token = NULL;

    if (r->headers_in.authorization
        || ngx_http_coinhunt_param(r, "session", &token) != NGX_DECLINED)
    {
        if (ngx_http_coinhunt_authorize(r, &t) != NGX_OK) {
            return ngx_http_coinhunt_rejected(r);
        }

        in.token = &t;
    }

    /* no hunt: the session's, else "default" */
    in.hunt.len = 0;

    if ((ngx_http_coinhunt_param(r, "hunt", &token) != NGX_DECLINED
         && ngx_http_coinhunt_name_param(r, "hunt", NULL, &in.hunt)
            != NGX_OK)
        || ngx_http_coinhunt_query_args(r, &in) != NGX_OK)
    {
        return ngx_http_coinhunt_rejected(r);
    }

    in.cmcf = ngx_http_coinhunt_main_conf(r);
    in.rules = ngx_http_coinhunt_loc_conf(r)->rules;
    in.log = r->connection->log;
    in.pool = r->pool;

    if (ngx_http_coinhunt_game_query(&in, &out) != NGX_OK) {

        if (out.s.player.len
            && ngx_http_coinhunt_log_session(r, &out.s) == NULL)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_coinhunt_failed(r, out.fail, 0);
    }

    if (out.s.player.len && ngx_http_coinhunt_log_session(r, &out.s) == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_pnalloc(r->pool, out.json.len + 1);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(p, out.json.data, out.json.len);
    p[out.json.len] = '\n';

    return ngx_http_coinhunt_send(r, NGX_HTTP_OK, p, out.json.len + 1);
}


/*
 * The query string's parameters but hunt and session, by their names in
 * lower case, each once (its first value, as every parameter's)
 */
static ngx_int_t
ngx_http_coinhunt_query_args(ngx_http_request_t *r,
    ngx_http_coinhunt_query_in_t *in)
{
    u_char  *p, *end, *name, *last;

    in->args = ngx_palloc(r->pool,
                          NGX_HTTP_COINHUNT_QUERY_ARGS * sizeof(ngx_keyval_t));
    if (in->args == NULL) {
        return NGX_ERROR;
    }

    in->nargs = 0;
    p = r->args.data;
    end = r->args.data + r->args.len;

    while (p < end) {
        name = p;
        last = ngx_strlchr(p, end, '&');
        last = last ? last : end;
        p = ngx_strlchr(name, last, '=');
        p = p ? p : last;

        if (p > name
            && ngx_http_coinhunt_query_arg(r, in, name, p - name) != NGX_OK)
        {
            return NGX_ERROR;
        }

        p = last + 1;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_coinhunt_query_arg(ngx_http_request_t *r,
    ngx_http_coinhunt_query_in_t *in, u_char *name, size_t len)
{
    u_char        *key;
    ngx_uint_t     i;
    ngx_keyval_t  *kv;

    key = ngx_pnalloc(r->pool, len + 1);
    if (key == NULL) {
        return NGX_ERROR;
    }

    ngx_strlow(key, name, len);
    key[len] = '\0';

    if (len > NGX_HTTP_COINHUNT_NAME_MAX
        || !ngx_http_coinhunt_valid_name(key, len, len))
    {
        return ngx_http_coinhunt_reject(r, NGX_HTTP_BAD_REQUEST,
                                        &ngx_http_coinhunt_code_bad_request,
                                        "a parameter name must be 1 to 64 "
                                        "characters of A-Z a-z 0-9 _ . -");
    }

    if ((len == 4 && ngx_strcmp(key, "hunt") == 0)
        || (len == 7 && ngx_strcmp(key, "session") == 0))
    {
        return NGX_OK;
    }

    for (i = 0; i < in->nargs; i++) {
        if (in->args[i].key.len == len
            && ngx_memcmp(in->args[i].key.data, key, len) == 0)
        {
            return NGX_OK;
        }
    }

    if (in->nargs == NGX_HTTP_COINHUNT_QUERY_ARGS) {
        return ngx_http_coinhunt_reject(r, NGX_HTTP_BAD_REQUEST,
                                        &ngx_http_coinhunt_code_bad_request,
                                        "a query has at most 32 parameters "
                                        "besides hunt and session");
    }

    kv = &in->args[in->nargs++];
    kv->key.data = key;
    kv->key.len = len;

    return ngx_http_coinhunt_param(r, (char *) key, &kv->value) == NGX_ERROR
           ? NGX_ERROR : NGX_OK;
}
