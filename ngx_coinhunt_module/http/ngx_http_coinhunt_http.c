
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_http.h"
#include "ngx_http_coinhunt_auth.h"
#include "ngx_http_coinhunt_reply.h"


/*
 * The request side: parameters come from the query string, else from an
 * urlencoded body.  A validator that refuses input records the status, code
 * and message in the request's context; the endpoint sends it with
 * ngx_http_coinhunt_rejected().
 */


static void ngx_http_coinhunt_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_coinhunt_body_param(ngx_http_request_t *r,
    char *name, ngx_str_t *value);


#define ngx_http_coinhunt_hex(c)                                              \
    (((c) >= '0' && (c) <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'))


static ngx_str_t  ngx_http_coinhunt_form_type =
    ngx_string("application/x-www-form-urlencoded");
static ngx_str_t  ngx_http_coinhunt_too_large =
    ngx_string("the request body is over 4096 bytes");
static ngx_str_t  ngx_http_coinhunt_not_form =
    ngx_string("a request body must be application/x-www-form-urlencoded");


NGX_HTTP_COINHUNT_HOT
ngx_int_t
ngx_http_coinhunt_with_params(ngx_http_request_t *r,
    ngx_http_handler_pt action)
{
    ngx_int_t                 rc;
    ngx_http_coinhunt_ctx_t  *ctx;

    if (r->headers_in.content_length_n <= 0 && !r->headers_in.chunked) {

        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return action(r);
    }

    if (r->headers_in.content_length_n > NGX_HTTP_COINHUNT_BODY_MAX) {

        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_coinhunt_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                       &ngx_http_coinhunt_code_too_large,
                                       &ngx_http_coinhunt_too_large);
    }

    ctx = ngx_http_coinhunt_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the post handler finds the action in the context */
    ctx->action = action;

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_coinhunt_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_coinhunt_body_handler(ngx_http_request_t *r)
{
    u_char                   *p;
    size_t                    len;
    ngx_str_t                *type;
    ngx_chain_t              *cl;
    ngx_http_coinhunt_ctx_t  *ctx;

    ctx = ngx_http_coinhunt_get_ctx(r);
    if (ctx == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    len = 0;

    for (cl = r->request_body ? r->request_body->bufs : NULL;
         cl;
         cl = cl->next)
    {
        if (cl->buf->in_file || cl->buf->last - cl->buf->pos < 0) {
            len = NGX_HTTP_COINHUNT_BODY_MAX + 1;
            break;
        }

        len += cl->buf->last - cl->buf->pos;
    }

    if (len > NGX_HTTP_COINHUNT_BODY_MAX) {
        ngx_http_finalize_request(r,
            ngx_http_coinhunt_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                    &ngx_http_coinhunt_code_too_large,
                                    &ngx_http_coinhunt_too_large));
        return;
    }

    type = r->headers_in.content_type ? &r->headers_in.content_type->value
                                      : NULL;

    if (len && (type == NULL || type->len < ngx_http_coinhunt_form_type.len
                || ngx_strncasecmp(type->data,
                                   ngx_http_coinhunt_form_type.data,
                                   ngx_http_coinhunt_form_type.len)
                   != 0))
    {
        ngx_http_finalize_request(r,
            ngx_http_coinhunt_error(r, NGX_HTTP_BAD_REQUEST,
                                    &ngx_http_coinhunt_code_bad_request,
                                    &ngx_http_coinhunt_not_form));
        return;
    }

    p = ngx_pnalloc(r->pool, len ? len : 1);
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->body.data = p;
    ctx->body.len = len;

    for (cl = r->request_body ? r->request_body->bufs : NULL;
         cl;
         cl = cl->next)
    {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    ngx_http_finalize_request(r, ctx->action(r));
}


static ngx_int_t
ngx_http_coinhunt_body_param(ngx_http_request_t *r, char *name,
    ngx_str_t *value)
{
    ngx_http_coinhunt_ctx_t  *ctx;

    ctx = ngx_http_coinhunt_ctx(r);

    if (ctx == NULL || ctx->body.len == 0) {
        return NGX_DECLINED;
    }

    return ngx_http_coinhunt_form_arg(ctx->body.data, ctx->body.len, name,
                                      value);
}


/* a query string or a form body: somewhere a parameter could be */
NGX_HTTP_COINHUNT_HOT
ngx_uint_t
ngx_http_coinhunt_has_params(ngx_http_request_t *r)
{
    ngx_http_coinhunt_ctx_t  *ctx;

    if (r->args.len) {
        return 1;
    }

    ctx = ngx_http_coinhunt_ctx(r);

    return ctx != NULL && ctx->body.len != 0;
}


ngx_int_t
ngx_http_coinhunt_param(ngx_http_request_t *r, char *name, ngx_str_t *value)
{
    u_char     *dst, *src;
    ngx_str_t   raw;

    if (!ngx_http_coinhunt_has_params(r)) {
        return NGX_DECLINED;
    }

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &raw) != NGX_OK
        && ngx_http_coinhunt_body_param(r, name, &raw) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (ngx_strlchr(raw.data, raw.data + raw.len, '%') == NULL
        && ngx_strlchr(raw.data, raw.data + raw.len, '+') == NULL)
    {
        *value = raw;
        return NGX_OK;
    }

    /* ngx_unescape_uri() drops a bad escape: "a%zz" would be "azz" */
    for (src = raw.data; src < raw.data + raw.len; src++) {
        if (*src == '%'
            && (raw.data + raw.len - src < 3
                || !ngx_http_coinhunt_hex(src[1])
                || !ngx_http_coinhunt_hex(src[2])))
        {
            (void) ngx_http_coinhunt_reject(r, NGX_HTTP_BAD_REQUEST,
                                            &ngx_http_coinhunt_code_bad_request,
                                            "\"%s\" has a bad %%-escape",
                                            name);
            return NGX_ERROR;
        }
    }

    dst = ngx_pnalloc(r->pool, raw.len);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    value->data = dst;
    src = raw.data;

    ngx_unescape_uri(&dst, &src, raw.len, NGX_UNESCAPE_URI);

    value->len = dst - value->data;

    for (dst = value->data; dst < value->data + value->len; dst++) {
        if (*dst == '+') {
            *dst = ' ';
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_coinhunt_name_param(ngx_http_request_t *r, char *name,
    ngx_str_t *deflt, ngx_str_t *value)
{
    ngx_int_t  rc;

    rc = ngx_http_coinhunt_param(r, name, value);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        if (deflt) {
            *value = *deflt;
            return NGX_OK;
        }

        return ngx_http_coinhunt_reject(r, NGX_HTTP_BAD_REQUEST,
                                        &ngx_http_coinhunt_code_bad_request,
                                        "the \"%s\" parameter is required",
                                        name);
    }

    if (ngx_http_coinhunt_valid_name(value->data, value->len,
                                     NGX_HTTP_COINHUNT_NAME_MAX))
    {
        return NGX_OK;
    }

    return ngx_http_coinhunt_reject(r, NGX_HTTP_BAD_REQUEST,
                                    &ngx_http_coinhunt_code_bad_request,
                                    "\"%s\" must be 1 to 64 characters of "
                                    "A-Z a-z 0-9 _ . -", name);
}


ngx_int_t
ngx_http_coinhunt_int_param(ngx_http_request_t *r, char *name, int64_t min,
    int64_t max, int64_t *value)
{
    ngx_int_t  rc;
    ngx_str_t  s;

    rc = ngx_http_coinhunt_param(r, name, &s);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_coinhunt_parse_int(s.data, s.len, min, max, value)
        == NGX_OK)
    {
        return NGX_OK;
    }

    (void) ngx_http_coinhunt_reject(r, NGX_HTTP_BAD_REQUEST,
                                    &ngx_http_coinhunt_code_bad_request,
                                    "\"%s\" must be an integer from %L "
                                    "to %L", name, min, max);
    return NGX_ERROR;
}


ngx_int_t
ngx_http_coinhunt_coord_param(ngx_http_request_t *r, char *name,
    double *value)
{
    ngx_str_t  s;
    ngx_int_t  rc;

    *value = 0;

    rc = ngx_http_coinhunt_param(r, name, &s);

    if (rc == NGX_DECLINED) {
        return NGX_OK;
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_coinhunt_parse_coord(s.data, s.len, value) == NGX_OK) {
        return NGX_OK;
    }

    (void) ngx_http_coinhunt_reject(r, NGX_HTTP_BAD_REQUEST,
                                    &ngx_http_coinhunt_code_bad_request,
                                    "\"%s\" must be a finite decimal number",
                                    name);
    return NGX_ERROR;
}


NGX_HTTP_COINHUNT_HOT
ngx_int_t
ngx_http_coinhunt_token_param(ngx_http_request_t *r, ngx_str_t *token)
{
    ngx_int_t   rc;
    ngx_str_t  *auth;

    if (r->headers_in.authorization) {
        auth = &r->headers_in.authorization->value;

        if (ngx_http_coinhunt_bearer(auth->data, auth->len, token) != NGX_OK)
        {
            return ngx_http_coinhunt_reject(r, NGX_HTTP_UNAUTHORIZED,
                                        &ngx_http_coinhunt_code_unauthorized,
                                            "the Authorization header must "
                                            "be \"Bearer <session token>\"");
        }

        return NGX_OK;
    }

    rc = ngx_http_coinhunt_param(r, "session", token);

    if (rc != NGX_DECLINED) {
        /* NGX_ERROR: a bad escape, already rejected */
        return rc;
    }

    return ngx_http_coinhunt_reject(r, NGX_HTTP_UNAUTHORIZED,
                                    &ngx_http_coinhunt_code_unauthorized,
                                    "a session token is required "
                                    "(Authorization: Bearer or ?session=)");
}


/*
 * The slot and generation the request's token names, if it has a
 * well-formed one (the slot's lines asked for); otherwise a rejection is
 * recorded.
 */
NGX_HTTP_COINHUNT_HOT
ngx_int_t
ngx_http_coinhunt_authorize(ngx_http_request_t *r,
    ngx_http_coinhunt_token_t *t)
{
    ngx_str_t                        token;
    const ngx_http_coinhunt_fail_t  *fail;

    if (ngx_http_coinhunt_token_param(r, &token) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (ngx_http_coinhunt_auth_token(&token, t, r->connection->log)
        != NGX_OK)
    {
        fail = ngx_http_coinhunt_fail(TOKEN);

        return ngx_http_coinhunt_reject(r, fail->status,
                                        (ngx_str_t *) &fail->code, "%V",
                                        &fail->message);
    }

    return NGX_OK;
}
