
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_rate.h"
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_hunts.h"
#include "ngx_http_coinhunt_board.h"
#include "ngx_http_coinhunt_redis_read.h"
#include "ngx_http_coinhunt_auth.h"
#include "ngx_http_coinhunt_leaderboard.h"


/*
 * A read of a board, whatever the transport: its top, and with a session
 * the session's rank and score ("me"), from the local board or Redis.
 */


/*
 * The "me" of a read, from the session a decoded token names: NGX_OK, and
 * *hunt is the session's hunt; NGX_DECLINED: *fail; NGX_ERROR.
 */
ngx_int_t
ngx_http_coinhunt_game_me(ngx_http_coinhunt_main_conf_t *cmcf,
    ngx_pool_t *pool, ngx_http_coinhunt_token_t *t,
    ngx_http_coinhunt_board_read_t *b, ngx_str_t *hunt,
    const ngx_http_coinhunt_fail_t **fail, ngx_log_t *log)
{
    ngx_http_coinhunt_me_t    *me;
    ngx_http_coinhunt_slot_t  *slot;

    slot = ngx_http_coinhunt_auth_lock(cmcf, t, ngx_http_coinhunt_now_ms()
                                                - (int64_t) cmcf->session_ttl,
                                       fail, log);
    if (slot == NULL) {
        return NGX_DECLINED;
    }

    *hunt = ngx_http_coinhunt_hunt_name(ngx_http_coinhunt_sh, slot->hunt);

    me = &b->me;
    me->wanted = 1;
    me->score = slot->score;
    me->player.len = slot->player_len;
    me->player.data = ngx_pnalloc(pool, slot->player_len);

    if (me->player.data) {
        ngx_memcpy(me->player.data, slot->player, slot->player_len);
    }

    ngx_http_coinhunt_unlock(&slot->lock);

    if (me->player.data == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The top of b->hunt, and b->me if wanted (the session's hunt is "mine",
 * its slot "index"): NGX_OK, "b" is filled; NGX_AGAIN, "handler" is called
 * once it is (NGX_DECLINED: ngx_http_coinhunt_fail(UNAVAILABLE));
 * NGX_DECLINED: *fail; NGX_ERROR.
 */
ngx_int_t
ngx_http_coinhunt_game_board(ngx_http_coinhunt_main_conf_t *cmcf,
    ngx_pool_t *pool, ngx_http_coinhunt_board_read_t *b, ngx_str_t *mine,
    uint32_t index, const ngx_http_coinhunt_fail_t **fail,
    ngx_http_coinhunt_read_pt handler, void *data)
{
    uint16_t   id;
    ngx_int_t  rc;

    if (b->me.wanted
        && (b->hunt.len != mine->len
            || ngx_memcmp(b->hunt.data, mine->data, b->hunt.len) != 0))
    {
        *fail = ngx_http_coinhunt_fail(OTHER_HUNT);
        return NGX_DECLINED;
    }

    b->n = 0;

    if (cmcf->redis) {
        b->entries = ngx_palloc(pool,
                                b->top * sizeof(ngx_http_coinhunt_entry_t));
        if (b->entries == NULL) {
            return NGX_ERROR;
        }

        rc = ngx_http_coinhunt_redis_board(pool, b, handler, data);

        if (rc == NGX_DECLINED) {
            *fail = ngx_http_coinhunt_fail(UNAVAILABLE);
        }

        return rc;
    }

    if (ngx_http_coinhunt_hunt_find(ngx_http_coinhunt_sh, &b->hunt, 0, &id)
        != NGX_OK)
    {
        return NGX_OK;
    }

    b->entries = ngx_palloc(pool, b->top * sizeof(ngx_http_coinhunt_entry_t));
    if (b->entries == NULL) {
        return NGX_ERROR;
    }

    ngx_http_coinhunt_board_top(ngx_http_coinhunt_sh, id, b, index);

    return NGX_OK;
}
