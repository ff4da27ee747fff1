
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_http.h"


/*
 * A request's context (its parameters' body, its rejection, its log
 * variables), found by the module's index among the http modules.
 */


ngx_uint_t  ngx_http_coinhunt_http_index;


NGX_HTTP_COINHUNT_HOT
ngx_http_coinhunt_ctx_t *
ngx_http_coinhunt_get_ctx(ngx_http_request_t *r)
{
    ngx_http_coinhunt_ctx_t  *ctx;

    ctx = ngx_http_coinhunt_ctx(r);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_coinhunt_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        r->ctx[ngx_http_coinhunt_http_index] = ctx;
    }

    return ctx;
}
