
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_json.h"
#include "ngx_http_coinhunt_tap.h"
#include "ngx_http_coinhunt_http.h"
#include "ngx_http_coinhunt_reply.h"
#include "ngx_http_coinhunt_endpoints.h"


/*
 * POST /tap: the token, then seq, x and y if the request has parameters;
 * the game's tap (game/ngx_http_coinhunt_tap.c); its answer.
 */


#define NGX_HTTP_COINHUNT_TAP_REPLY                                           \
    "{\"coin\":{\"value\":,\"kind\":\"\"},\"score\":,\"taps\":,\"coins\":}\n"

#define NGX_HTTP_COINHUNT_TAP_LEN                                             \
    (sizeof(NGX_HTTP_COINHUNT_TAP_REPLY) - 1 + NGX_HTTP_COINHUNT_KIND_MAX     \
     + 4 * NGX_INT64_LEN)


static ngx_int_t ngx_http_coinhunt_tap_params(ngx_http_request_t *r,
    ngx_http_coinhunt_tap_in_t *in);
static ngx_int_t ngx_http_coinhunt_tap_reply(ngx_http_request_t *r,
    ngx_http_coinhunt_tap_out_t *out);


NGX_HTTP_COINHUNT_HOT
ngx_int_t
ngx_http_coinhunt_http_tap(ngx_http_request_t *r)
{
    ngx_http_coinhunt_tap_in_t   in;
    ngx_http_coinhunt_tap_out_t  out;

    if (ngx_http_coinhunt_authorize(r, &in.token) != NGX_OK
        || ngx_http_coinhunt_tap_params(r, &in) != NGX_OK)
    {
        return ngx_http_coinhunt_rejected(r);
    }

    in.log = r->connection->log;
    in.cmcf = ngx_http_coinhunt_main_conf(r);
    in.clcf = ngx_http_coinhunt_loc_conf(r);

    if (ngx_http_coinhunt_game_tap(&in, &out) != NGX_OK) {

        /* the token was valid: the access log names its player */
        if (out.s.player.len
            && ngx_http_coinhunt_log_session(r, &out.s) == NULL)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_coinhunt_failed(r, out.fail, out.retry);
    }

    return ngx_http_coinhunt_tap_reply(r, &out);
}


/* seq, x and y: most taps carry neither query nor body, no lookups at all */
NGX_HTTP_COINHUNT_HOT
static ngx_int_t
ngx_http_coinhunt_tap_params(ngx_http_request_t *r,
    ngx_http_coinhunt_tap_in_t *in)
{
    ngx_int_t  rc;

    in->seq = 0;
    in->tap.x = 0;
    in->tap.y = 0;

    if (!ngx_http_coinhunt_has_params(r)) {
        return NGX_OK;
    }

    rc = ngx_http_coinhunt_int_param(r, "seq", 1, NGX_HTTP_COINHUNT_SEQ_MAX,
                                     &in->seq);

    if (rc != NGX_OK && rc != NGX_DECLINED) {
        return NGX_ERROR;
    }

    if (ngx_http_coinhunt_coord_param(r, "x", &in->tap.x) != NGX_OK
        || ngx_http_coinhunt_coord_param(r, "y", &in->tap.y) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the coin, if any, and the session's score, taps and coins after the tap */
NGX_HTTP_COINHUNT_HOT
static ngx_int_t
ngx_http_coinhunt_tap_reply(ngx_http_request_t *r,
    ngx_http_coinhunt_tap_out_t *out)
{
    u_char                   *p, *last;
    ngx_http_coinhunt_ctx_t  *ctx;

    ctx = ngx_http_coinhunt_log_session(r, &out->s);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_pnalloc(r->pool, NGX_HTTP_COINHUNT_TAP_LEN
                             + sizeof(",\"data\":") - 1 + out->coin.data_len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (out->coin.value >= 0) {
        ctx->coin = out->coin.value;
        ctx->has_coin = 1;

        last = ngx_http_coinhunt_json_put(p, "{\"coin\":{\"value\":");
        last = ngx_http_coinhunt_json_int(last, out->coin.value);
        last = ngx_http_coinhunt_json_put(last, ",\"kind\":\"");
        last = ngx_cpymem(last, out->coin.kind.data, out->coin.kind.len);
        last = ngx_http_coinhunt_json_put(last, "\"");

        if (out->coin.data_len) {
            last = ngx_http_coinhunt_json_put(last, ",\"data\":");
            last = ngx_cpymem(last, out->coin.data, out->coin.data_len);
        }

        last = ngx_http_coinhunt_json_put(last, "},");

    } else {
        last = ngx_http_coinhunt_json_put(p, "{\"coin\":null,");
    }

    last = ngx_http_coinhunt_json_put(last, "\"score\":");
    last = ngx_http_coinhunt_json_int(last, out->s.score);
    last = ngx_http_coinhunt_json_put(last, ",\"taps\":");
    last = ngx_http_coinhunt_json_int(last, out->s.taps);
    last = ngx_http_coinhunt_json_put(last, ",\"coins\":");
    last = ngx_http_coinhunt_json_int(last, out->s.coins);
    last = ngx_http_coinhunt_json_put(last, "}\n");

    return ngx_http_coinhunt_send(r, NGX_HTTP_OK, p, last - p);
}
