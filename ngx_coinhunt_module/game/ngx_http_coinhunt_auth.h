
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_AUTH_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_AUTH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_store.h"
#include "ngx_http_coinhunt_game.h"


/*
 * The slot and generation a well-formed token names: NGX_OK, the slot's
 * lines asked for, since its lock follows; NGX_DECLINED: not a token
 * (ngx_http_coinhunt_fail(TOKEN)).  Inline: two calls on every tap.
 */
static ngx_inline ngx_int_t
ngx_http_coinhunt_auth_token(ngx_str_t *token, ngx_http_coinhunt_token_t *t,
    ngx_log_t *log)
{
    if (ngx_http_coinhunt_token_decode(token, t) != NGX_OK) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                       "coinhunt auth: \"%V\" is not a token", token);
        return NGX_DECLINED;
    }

    ngx_http_coinhunt_session_prefetch(ngx_http_coinhunt_sh, t->slot);

    return NGX_OK;
}


ngx_http_coinhunt_slot_t *ngx_http_coinhunt_auth_lock(
    ngx_http_coinhunt_main_conf_t *cmcf, ngx_http_coinhunt_token_t *t,
    int64_t idle_before, const ngx_http_coinhunt_fail_t **fail,
    ngx_log_t *log);


#endif /* _NGX_HTTP_COINHUNT_AUTH_H_INCLUDED_ */
