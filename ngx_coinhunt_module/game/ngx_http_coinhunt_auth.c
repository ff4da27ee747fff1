
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_hunts.h"
#include "ngx_http_coinhunt_store.h"
#include "ngx_http_coinhunt_auth.h"


/*
 * A session token, from whatever transport: its words (auth.h), then the
 * slot it names, locked, if the session is live and the token's MAC is its
 * own.
 */


/*
 * The slot of the session a decoded token names, locked, if the session is
 * live, active since "idle_before" and the token's MAC is its own;
 * otherwise NULL and *fail.
 */
NGX_HTTP_COINHUNT_HOT
ngx_http_coinhunt_slot_t *
ngx_http_coinhunt_auth_lock(ngx_http_coinhunt_main_conf_t *cmcf,
    ngx_http_coinhunt_token_t *t, int64_t idle_before,
    const ngx_http_coinhunt_fail_t **fail, ngx_log_t *log)
{
    ngx_str_t                   hunt, player;
    ngx_http_coinhunt_slot_t   *slot;
    ngx_http_coinhunt_shctx_t  *sh;

    sh = ngx_http_coinhunt_sh;

    slot = ngx_http_coinhunt_session_lock(sh, t->slot, t->gen, idle_before);

    if (slot == NULL) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                       "coinhunt auth: slot %uD generation %uD is not live",
                       t->slot, t->gen);
        *fail = ngx_http_coinhunt_fail(GONE);
        return NULL;
    }

    /* a MAC verified once is kept: later taps compare, not compute */
    if (slot->mac != 0 && (t->mac ^ cmcf->key_mask) == slot->mac) {
        return slot;
    }

    hunt = ngx_http_coinhunt_hunt_name(sh, slot->hunt);
    player.data = slot->player;
    player.len = slot->player_len;

    if (ngx_http_coinhunt_token_verify(cmcf->key, t, &hunt, &player)
        != NGX_OK)
    {
        ngx_http_coinhunt_unlock(&slot->lock);

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                       "coinhunt auth: the MAC is not slot %uD's", t->slot);
        *fail = ngx_http_coinhunt_fail(TOKEN);
        return NULL;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "coinhunt auth: MAC of slot %uD verified, kept", t->slot);

    /* masked: a worker with another key does not take it for its own */
    slot->mac = t->mac ^ cmcf->key_mask;

    return slot;
}
