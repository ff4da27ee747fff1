
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_counters.h"
#include "ngx_http_coinhunt_hunts.h"
#include "ngx_http_coinhunt_http.h"
#include "ngx_http_coinhunt_reply.h"


/*
 * The answers: every reply is JSON but the metrics'; an error is
 * {"error":code,"message":...}; what the access log variables show of the
 * request's session.
 */


ngx_str_t  ngx_http_coinhunt_code_bad_request = ngx_string("bad_request");
ngx_str_t  ngx_http_coinhunt_code_unauthorized = ngx_string("unauthorized");
ngx_str_t  ngx_http_coinhunt_code_too_large = ngx_string("body_too_large");


static ngx_str_t  ngx_http_coinhunt_json_type = ngx_string("application/json");
static ngx_str_t  ngx_http_coinhunt_code_not_allowed =
    ngx_string("method_not_allowed");


/* records a rejection in the request's context: NGX_DECLINED */
ngx_int_t
ngx_http_coinhunt_reject(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *code, const char *fmt, ...)
{
    u_char                   *p;
    va_list                   args;
    ngx_http_coinhunt_ctx_t  *ctx;

    ctx = ngx_http_coinhunt_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, NGX_HTTP_COINHUNT_MESSAGE_MAX);
    if (p == NULL) {
        return NGX_ERROR;
    }

    va_start(args, fmt);
    ctx->message.len = ngx_vslprintf(p, p + NGX_HTTP_COINHUNT_MESSAGE_MAX,
                                     fmt, args)
                       - p;
    va_end(args);

    ctx->message.data = p;
    ctx->status = status;
    ctx->code = *code;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "coinhunt: %ui %V: %V", status, code, &ctx->message);

    return NGX_DECLINED;
}


/* the error reply of the rejection the request's context holds */
ngx_int_t
ngx_http_coinhunt_rejected(ngx_http_request_t *r)
{
    ngx_http_coinhunt_ctx_t  *ctx;

    ctx = ngx_http_coinhunt_ctx(r);

    if (ctx == NULL || ctx->status == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_coinhunt_error(r, ctx->status, &ctx->code,
                                   &ctx->message);
}


/* 405, with the endpoint's methods in Allow */
ngx_int_t
ngx_http_coinhunt_not_allowed(ngx_http_request_t *r, ngx_str_t *allow)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Allow");
    h->value = *allow;

    if (ngx_http_coinhunt_reject(r, NGX_HTTP_NOT_ALLOWED,
                                 &ngx_http_coinhunt_code_not_allowed,
                                 "this endpoint takes %V", allow)
        == NGX_ERROR)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_coinhunt_rejected(r);
}


/* the error reply of a failed game call; a 429 waits "retry" seconds */
ngx_int_t
ngx_http_coinhunt_failed(ngx_http_request_t *r,
    const ngx_http_coinhunt_fail_t *fail, int64_t retry)
{
    ngx_table_elt_t  *h;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "coinhunt: %ui %V: %V", fail->status, &fail->code,
                   &fail->message);

    if (retry) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->value.data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (h->value.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Retry-After");
        h->value.len = ngx_sprintf(h->value.data, "%L", retry)
                       - h->value.data;
    }

    return ngx_http_coinhunt_error(r, fail->status,
                                   (ngx_str_t *) &fail->code,
                                   (ngx_str_t *) &fail->message);
}


ngx_int_t
ngx_http_coinhunt_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *code, ngx_str_t *message)
{
    u_char  *p, *last;
    size_t   len;

    /* an escaped byte is at most 6 ("\u001f") */
    len = sizeof("{\"error\":\"\",\"message\":\"\"}\n") - 1
          + code->len + message->len * 6;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = ngx_sprintf(p, "{\"error\":\"%V\",\"message\":\"", code);
    last = (u_char *) ngx_escape_json(last, message->data, message->len);
    last = ngx_cpymem(last, "\"}\n", 3);

    return ngx_http_coinhunt_send(r, status, p, last - p);
}


NGX_HTTP_COINHUNT_HOT
ngx_int_t
ngx_http_coinhunt_send(ngx_http_request_t *r, ngx_uint_t status, u_char *data,
    size_t len)
{
    return ngx_http_coinhunt_output(r, status, &ngx_http_coinhunt_json_type,
                                    data, len);
}


NGX_HTTP_COINHUNT_HOT
ngx_int_t
ngx_http_coinhunt_output(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, u_char *data, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    /* every answer of the module passes here: counted by endpoint, status */
    ngx_http_coinhunt_count_response(ngx_http_coinhunt_loc_conf(r)->action,
                                     status);

    r->headers_out.status = status;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_length_n = len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = data;
    b->last = data + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}



/* the answer of a request that waited: it runs the requests it posted */
void
ngx_http_coinhunt_finalize(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_connection_t  *c;

    c = r->connection;

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* what the access log variables show of the request's session */
NGX_HTTP_COINHUNT_HOT
ngx_http_coinhunt_ctx_t *
ngx_http_coinhunt_log_session(ngx_http_request_t *r,
    ngx_http_coinhunt_session_t *s)
{
    ngx_http_coinhunt_ctx_t  *ctx;

    ctx = ngx_http_coinhunt_get_ctx(r);
    if (ctx == NULL) {
        return NULL;
    }

    ctx->player.len = s->player.len;
    ctx->player.data = ngx_pstrdup(r->pool, &s->player);
    ctx->score = s->score;
    ctx->has_score = 1;

    return ctx;
}


/* the core fields every session reply carries, from "player" on */
u_char *
ngx_http_coinhunt_state_json(u_char *p, ngx_http_coinhunt_session_t *s)
{
    ngx_str_t  hunt;

    hunt = ngx_http_coinhunt_hunt_name(ngx_http_coinhunt_sh, s->hunt);

    return ngx_sprintf(p, "\"player\":\"%V\",\"hunt\":\"%V\",\"score\":%L,"
                       "\"taps\":%uD,\"coins\":%uD",
                       &s->player, &hunt, s->score, s->taps, s->coins);
}
