
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_json.h"
#include "ngx_http_coinhunt_join.h"
#include "ngx_http_coinhunt_http.h"
#include "ngx_http_coinhunt_reply.h"
#include "ngx_http_coinhunt_endpoints.h"


/*
 * POST /session: player and hunt; the game's join (game/ngx_http_coinhunt_
 * join.c), which in Redis mode may wait for the player's score there; the
 * session's token and state.
 */


#define NGX_HTTP_COINHUNT_JOIN_LEN                                            \
    (sizeof("{\"session\":\"\",,\"expires_in\":}\n") - 1                      \
     + NGX_HTTP_COINHUNT_TOKEN_LEN + NGX_HTTP_COINHUNT_STATE_LEN              \
     + NGX_INT64_LEN)


static void ngx_http_coinhunt_session_joined(void *data, ngx_int_t rc,
    ngx_http_coinhunt_join_out_t *out);
static ngx_int_t ngx_http_coinhunt_session_reply(ngx_http_request_t *r,
    ngx_int_t rc, ngx_http_coinhunt_join_out_t *out);


static ngx_str_t  ngx_http_coinhunt_default_hunt = ngx_string("default");


ngx_int_t
ngx_http_coinhunt_http_session(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_http_coinhunt_join_in_t    in;
    ngx_http_coinhunt_join_out_t   out;
    ngx_http_coinhunt_loc_conf_t  *clcf;

    if (ngx_http_coinhunt_name_param(r, "player", NULL, &in.player) != NGX_OK
        || ngx_http_coinhunt_name_param(r, "hunt",
                                        &ngx_http_coinhunt_default_hunt,
                                        &in.hunt)
           != NGX_OK)
    {
        return ngx_http_coinhunt_rejected(r);
    }

    clcf = ngx_http_coinhunt_loc_conf(r);

    in.cmcf = ngx_http_coinhunt_main_conf(r);
    in.rules = clcf->rules;
    in.log = r->connection->log;
    in.pool = r->pool;

    rc = ngx_http_coinhunt_game_join(&in, &out,
                                     ngx_http_coinhunt_session_joined, r);

    if (rc == NGX_AGAIN) {
        r->main->count++;
        return NGX_DONE;
    }

    return ngx_http_coinhunt_session_reply(r, rc, &out);
}


/* the join waited for Redis */
static void
ngx_http_coinhunt_session_joined(void *data, ngx_int_t rc,
    ngx_http_coinhunt_join_out_t *out)
{
    ngx_http_request_t  *r = data;

    ngx_http_coinhunt_finalize(r, ngx_http_coinhunt_session_reply(r, rc, out));
}


static ngx_int_t
ngx_http_coinhunt_session_reply(ngx_http_request_t *r, ngx_int_t rc,
    ngx_http_coinhunt_join_out_t *out)
{
    u_char  *p, *last;

    if (rc == NGX_DECLINED) {
        return ngx_http_coinhunt_failed(r, out->fail, 0);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_coinhunt_log_session(r, &out->s) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_pnalloc(r->pool, NGX_HTTP_COINHUNT_JOIN_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = ngx_http_coinhunt_json_put(p, "{\"session\":\"");
    last = ngx_cpymem(last, out->token, NGX_HTTP_COINHUNT_TOKEN_LEN);
    last = ngx_http_coinhunt_json_put(last, "\",");
    last = ngx_http_coinhunt_state_json(last, &out->s);
    last = ngx_sprintf(last, ",\"expires_in\":%L}\n", out->expires_in);

    return ngx_http_coinhunt_send(r, NGX_HTTP_CREATED, p, last - p);
}
