
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_coinhunt_module.h"
#include "ngx_http_coinhunt_http.h"


/*
 * The request side: parameters come from the query string, else from an
 * urlencoded body; every reply is JSON.  A validator that refuses input
 * records the status, code and message in the request's context; the action
 * sends it with ngx_http_coinhunt_rejected().  Also the access log variables.
 */


static void ngx_http_coinhunt_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_coinhunt_body_param(ngx_http_request_t *r,
    char *name, ngx_str_t *value);
static ngx_int_t ngx_http_coinhunt_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


#define ngx_http_coinhunt_hex(c)                                              \
    (((c) >= '0' && (c) <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'))


static ngx_http_variable_t  ngx_http_coinhunt_vars[] = {

    { ngx_string("coinhunt_player"), NULL, ngx_http_coinhunt_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("coinhunt_score"), NULL, ngx_http_coinhunt_variable,
      1, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("coinhunt_coin"), NULL, ngx_http_coinhunt_variable,
      2, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_coinhunt_json_type = ngx_string("application/json");
static ngx_str_t  ngx_http_coinhunt_form_type =
    ngx_string("application/x-www-form-urlencoded");


NGX_HTTP_COINHUNT_HOT
ngx_int_t
ngx_http_coinhunt_with_params(ngx_http_request_t *r,
    ngx_http_coinhunt_action_pt action)
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
                                       "body_too_large",
                                       "the request body is over 4096 bytes");
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
                                    "body_too_large",
                                    "the request body is over 4096 bytes"));
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
            ngx_http_coinhunt_error(r, NGX_HTTP_BAD_REQUEST, "bad_request",
                                    "a request body must be "
                                    "application/x-www-form-urlencoded"));
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

    ctx = ngx_http_get_module_ctx(r, ngx_http_coinhunt_module);

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

    ctx = ngx_http_get_module_ctx(r, ngx_http_coinhunt_module);

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
                                            "bad_request",
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
                                        "bad_request",
                                        "the \"%s\" parameter is required",
                                        name);
    }

    if (ngx_http_coinhunt_valid_name(value->data, value->len,
                                     NGX_HTTP_COINHUNT_NAME_MAX))
    {
        return NGX_OK;
    }

    return ngx_http_coinhunt_reject(r, NGX_HTTP_BAD_REQUEST, "bad_request",
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

    (void) ngx_http_coinhunt_reject(r, NGX_HTTP_BAD_REQUEST, "bad_request",
                                    "\"%s\" must be an integer from %L "
                                    "to %L", name, min, max);
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
                                            "unauthorized",
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

    return ngx_http_coinhunt_reject(r, NGX_HTTP_UNAUTHORIZED, "unauthorized",
                                    "a session token is required "
                                    "(Authorization: Bearer or ?session=)");
}


NGX_HTTP_COINHUNT_HOT
ngx_int_t
ngx_http_coinhunt_allow(ngx_http_request_t *r, ngx_uint_t methods,
    char *allow)
{
    ngx_table_elt_t  *h;

    if (r->method & methods) {
        return NGX_OK;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Allow");
    h->value.data = (u_char *) allow;
    h->value.len = ngx_strlen(allow);

    return ngx_http_coinhunt_reject(r, NGX_HTTP_NOT_ALLOWED,
                                    "method_not_allowed",
                                    "this endpoint takes %s", allow);
}


ngx_int_t
ngx_http_coinhunt_reject(ngx_http_request_t *r, ngx_uint_t status, char *code,
    const char *fmt, ...)
{
    u_char                   *p;
    va_list                   args;
    ngx_http_coinhunt_ctx_t  *ctx;

    ctx = ngx_http_coinhunt_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, 256);
    if (p == NULL) {
        return NGX_ERROR;
    }

    va_start(args, fmt);
    ctx->message.len = ngx_vslprintf(p, p + 256, fmt, args) - p;
    va_end(args);

    ctx->message.data = p;
    ctx->status = status;
    ctx->code = code;

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_coinhunt_rejected(ngx_http_request_t *r)
{
    ngx_http_coinhunt_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_coinhunt_module);

    if (ctx == NULL || ctx->status == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_coinhunt_error(r, ctx->status, ctx->code,
                                   (char *) ctx->message.data);
}


ngx_int_t
ngx_http_coinhunt_error(ngx_http_request_t *r, ngx_uint_t status, char *code,
    char *message)
{
    u_char                   *p, *last;
    size_t                    len, mlen;
    ngx_http_coinhunt_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_coinhunt_module);

    /* a rejection's message is a pool string of known length */
    if (ctx && ctx->status && (u_char *) message == ctx->message.data) {
        mlen = ctx->message.len;

    } else {
        mlen = ngx_strlen(message);
    }

    len = sizeof("{\"error\":\"\",\"message\":\"\"}\n") - 1
          + ngx_strlen(code) + mlen * 6;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = ngx_sprintf(p, "{\"error\":\"%s\",\"message\":\"", code);
    last = (u_char *) ngx_escape_json(last, (u_char *) message, mlen);
    last = ngx_cpymem(last, "\"}\n", 3);

    return ngx_http_coinhunt_send(r, status, p, last - p);
}


NGX_HTTP_COINHUNT_HOT
u_char *
ngx_http_coinhunt_json_int(u_char *p, int64_t n)
{
    u_char    *last;
    uint64_t   u, t;

    static const u_char  pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233"
        "34353637383940414243444546474849505152535455565758596061626364656667"
        "6869707172737475767778798081828384858687888990919293949596979899";

    if (n < 0) {
        *p++ = '-';
        u = (uint64_t) -(n + 1) + 1;

    } else {
        u = (uint64_t) n;
    }

    /* count the digits, then write them from the end, two at a time */
    last = p + 1;

    for (t = u; t >= 100; t /= 100) {
        last += 2;
    }

    if (t >= 10) {
        last++;
    }

    p = last;

    while (u >= 100) {
        t = u % 100 * 2;
        u /= 100;
        *--p = pairs[t + 1];
        *--p = pairs[t];
    }

    if (u >= 10) {
        *--p = pairs[u * 2 + 1];
        *--p = pairs[u * 2];

    } else {
        *--p = (u_char) ('0' + u);
    }

    return last;
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


NGX_HTTP_COINHUNT_HOT
ngx_http_coinhunt_ctx_t *
ngx_http_coinhunt_get_ctx(ngx_http_request_t *r)
{
    ngx_http_coinhunt_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_coinhunt_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_coinhunt_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_coinhunt_module);
    }

    return ctx;
}


NGX_HTTP_COINHUNT_HOT
int64_t
ngx_http_coinhunt_now_ms(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000 + tp->msec;
}


ngx_int_t
ngx_http_coinhunt_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_coinhunt_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_coinhunt_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                   *p;
    ngx_http_coinhunt_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_coinhunt_module);

    if (ctx == NULL
        || (data == 0 && ctx->player.len == 0)
        || (data == 1 && !ctx->has_score)
        || (data == 2 && !ctx->has_coin))
    {
        v->not_found = 1;
        return NGX_OK;
    }

    if (data == 0) {
        v->data = ctx->player.data;
        v->len = ctx->player.len;

    } else {
        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->data = p;
        v->len = ngx_sprintf(p, "%L", data == 1 ? ctx->score : ctx->coin)
                 - p;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
