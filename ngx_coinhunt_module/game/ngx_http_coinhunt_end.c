
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_rate.h"
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_store.h"
#include "ngx_http_coinhunt_auth.h"
#include "ngx_http_coinhunt_end.h"


/*
 * The end of the session a decoded token names: its tokens die, its score
 * stays on the board until its slot is reclaimed.  NGX_OK: "s" is the
 * ended session; NGX_DECLINED: *fail.
 */
ngx_int_t
ngx_http_coinhunt_game_end(ngx_http_coinhunt_main_conf_t *cmcf,
    ngx_http_coinhunt_token_t *t, ngx_http_coinhunt_session_t *s,
    const ngx_http_coinhunt_fail_t **fail, ngx_log_t *log)
{
    int64_t                    now;
    ngx_http_coinhunt_slot_t  *slot;

    now = ngx_http_coinhunt_now_ms();

    /* an expired session the sweeper has not reached yet is gone too */
    slot = ngx_http_coinhunt_auth_lock(cmcf, t,
                                       now - (int64_t) cmcf->session_ttl,
                                       fail, log);
    if (slot == NULL) {
        return NGX_DECLINED;
    }

    ngx_http_coinhunt_unlock(&slot->lock);

    if (ngx_http_coinhunt_session_retire(ngx_http_coinhunt_sh, t->slot,
                                         t->gen, INT64_MAX, s)
        != NGX_OK)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                       "coinhunt end: 401, slot %uD ended meanwhile",
                       t->slot);

        *fail = ngx_http_coinhunt_fail(GONE);
        return NGX_DECLINED;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                   "coinhunt end: \"%V\" ended in slot %uD", &s->player,
                   t->slot);

    return NGX_OK;
}
