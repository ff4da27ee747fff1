
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_http.h"
#include "ngx_http_coinhunt_variables.h"


/* the access log's $coinhunt_player, $coinhunt_score and $coinhunt_coin */


static ngx_int_t ngx_http_coinhunt_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_coinhunt_vars[] = {

    { ngx_string("coinhunt_player"), NULL, ngx_http_coinhunt_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("coinhunt_score"), NULL, ngx_http_coinhunt_variable,
      1, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("coinhunt_coin"), NULL, ngx_http_coinhunt_variable,
      2, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


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

    ctx = ngx_http_coinhunt_ctx(r);

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
