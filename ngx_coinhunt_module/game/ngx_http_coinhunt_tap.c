
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_rate.h"
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_counters.h"
#include "ngx_http_coinhunt_store.h"
#include "ngx_http_coinhunt_lua.h"
#include "ngx_http_coinhunt_auth.h"
#include "ngx_http_coinhunt_tap.h"


/*
 * A tap, whatever the transport: under the slot's lock the seq and the
 * rate; copy the session out, unlock, run on_tap on the copy, and commit
 * under the lock if no other tap committed meanwhile (else try again).  No
 * lock is held across Lua, and nothing here touches the heap.
 */


#define NGX_HTTP_COINHUNT_TAP_TRIES    8


static ngx_int_t ngx_http_coinhunt_tap_try(ngx_http_coinhunt_tap_in_t *in,
    ngx_http_coinhunt_tap_out_t *out, int64_t now);
static ngx_int_t ngx_http_coinhunt_tap_admit(ngx_http_coinhunt_tap_in_t *in,
    ngx_http_coinhunt_slot_t *slot, int64_t now, int64_t *excess,
    ngx_http_coinhunt_tap_out_t *out);
static void ngx_http_coinhunt_tap_count(ngx_http_coinhunt_tap_out_t *out);


/*
 * NGX_OK: out->s is the session after the tap; else out->fail, and out->s
 * the session before it if the token was valid (out->s.player.len 0: not)
 */
NGX_HTTP_COINHUNT_HOT
ngx_int_t
ngx_http_coinhunt_game_tap(ngx_http_coinhunt_tap_in_t *in,
    ngx_http_coinhunt_tap_out_t *out)
{
    int64_t     now;
    ngx_int_t   rc;
    ngx_uint_t  tries;

    now = ngx_http_coinhunt_now_ms();
    in->tap.now_ms = (double) now;
    in->tap.seq = (double) in->seq;
    out->retry = 0;
    out->s.player.len = 0;

    for (tries = 0; tries < NGX_HTTP_COINHUNT_TAP_TRIES; tries++) {

        rc = ngx_http_coinhunt_tap_try(in, out, now);

        if (rc == NGX_OK) {
            ngx_http_coinhunt_tap_count(out);
            return NGX_OK;
        }

        if (rc != NGX_AGAIN) {
            return rc;
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, in->log, 0,
                       "coinhunt tap: another tap committed while the rule "
                       "ran, try %ui again", tries + 1);
    }

    /* other taps of the session committed while each try's rule ran */
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, in->log, 0,
                   "coinhunt tap: 429, every try lost to another tap");

    ngx_http_coinhunt_count(ngx_http_coinhunt_counters(), rate_limited, 1);

    out->fail = ngx_http_coinhunt_fail(TAPS);
    out->retry = 1;

    return NGX_DECLINED;
}


/*
 * One try: NGX_OK, committed; NGX_AGAIN, another tap committed while the
 * rule ran; NGX_DECLINED, out->fail.
 */
NGX_HTTP_COINHUNT_HOT
static ngx_int_t
ngx_http_coinhunt_tap_try(ngx_http_coinhunt_tap_in_t *in,
    ngx_http_coinhunt_tap_out_t *out, int64_t now)
{
    int64_t                      idle_before, excess;
    ngx_int_t                    rc;
    ngx_http_coinhunt_slot_t    *slot;
    ngx_http_coinhunt_shctx_t   *sh;
    ngx_http_coinhunt_token_t   *t;
    ngx_http_coinhunt_session_t *s;

    sh = ngx_http_coinhunt_sh;
    t = &in->token;
    s = &out->s;
    idle_before = now - (int64_t) in->cmcf->session_ttl;

    slot = ngx_http_coinhunt_auth_lock(in->cmcf, t, idle_before, &out->fail,
                                       in->log);
    if (slot == NULL) {
        return NGX_DECLINED;
    }

    /* first: a tap that fails from here on has its player in the logs */
    ngx_http_coinhunt_session_copy(sh, slot, t->slot, s);

    if (ngx_http_coinhunt_tap_admit(in, slot, now, &excess, out) != NGX_OK) {
        ngx_http_coinhunt_unlock(&slot->lock);
        return NGX_DECLINED;
    }

    ngx_http_coinhunt_unlock(&slot->lock);

    rc = ngx_http_coinhunt_lua_on_tap(in->clcf->rules, s, &in->tap,
                                      &out->coin, &out->verdict, in->log);

    if (rc == NGX_ERROR) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, in->log, 0,
                       "coinhunt tap: 500, on_tap failed");

        ngx_http_coinhunt_count(ngx_http_coinhunt_counters(), rule_errors, 1);
        out->fail = ngx_http_coinhunt_fail(TAP_RULE);
        return NGX_DECLINED;
    }

    slot = ngx_http_coinhunt_session_lock(sh, t->slot, t->gen, idle_before);

    if (slot == NULL) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, in->log, 0,
                       "coinhunt tap: 401, the session ended while the rule "
                       "ran");

        out->fail = ngx_http_coinhunt_fail(GONE);
        return NGX_DECLINED;
    }

    if (slot->taps != s->taps || slot->seq != s->seq) {
        ngx_http_coinhunt_unlock(&slot->lock);
        return NGX_AGAIN;
    }

    if (rc == NGX_DECLINED) {
        /* refused: the rule's field writes and the seq stay, no tap */
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, in->log, 0,
                       "coinhunt tap: on_tap refused the tap");

        ngx_http_coinhunt_session_refused(sh, slot, t->slot, s->fields,
                                          in->seq);
        ngx_http_coinhunt_unlock(&slot->lock);

        out->fail = ngx_http_coinhunt_game_refused(&out->refusal,
                                                   &out->verdict);
        return NGX_DECLINED;
    }

    /* crash-consistent: journaled before it is stored */
    ngx_http_coinhunt_session_tap(sh, slot, t->slot, s->fields, now, excess,
                                  in->seq, out->coin.value);

    s->score = slot->score;
    s->taps = slot->taps;
    s->coins = slot->coins;

    ngx_http_coinhunt_unlock(&slot->lock);

    return NGX_OK;
}


/* the locked session takes this tap: its seq, then its rate */
NGX_HTTP_COINHUNT_HOT
static ngx_int_t
ngx_http_coinhunt_tap_admit(ngx_http_coinhunt_tap_in_t *in,
    ngx_http_coinhunt_slot_t *slot, int64_t now, int64_t *excess,
    ngx_http_coinhunt_tap_out_t *out)
{
    int64_t                        wait;
    ngx_http_coinhunt_loc_conf_t  *clcf;

    if (in->seq && in->seq <= slot->seq) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, in->log, 0,
                       "coinhunt tap: 409, seq %L is not above %L", in->seq,
                       slot->seq);

        out->fail = ngx_http_coinhunt_fail(REPLAY);
        return NGX_DECLINED;
    }

    clcf = in->clcf;
    *excess = 0;

    if (clcf->tap_rate == 0) {
        return NGX_OK;
    }

    /* limit_req's leaky bucket, in 1/1000 taps */
    if (ngx_http_coinhunt_rate_take(slot->excess, slot->last_tap_ms, now,
                                    clcf->tap_rate, clcf->tap_burst, excess)
        == NGX_OK)
    {
        return NGX_OK;
    }

    /* ms until the bucket has room for one more tap */
    wait = *excess;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, in->log, 0,
                   "coinhunt tap: 429, the bucket has room in %L ms", wait);

    ngx_http_coinhunt_count(ngx_http_coinhunt_counters(), rate_limited, 1);

    out->fail = ngx_http_coinhunt_fail(RATE);
    out->retry = ngx_max((wait + 999) / 1000, 1);

    return NGX_DECLINED;
}


/* the tap's counters, and its coin's */
NGX_HTTP_COINHUNT_HOT
static void
ngx_http_coinhunt_tap_count(ngx_http_coinhunt_tap_out_t *out)
{
    ngx_http_coinhunt_counters_t  *row;

    row = ngx_http_coinhunt_counters();

    ngx_http_coinhunt_count(row, taps, 1);

    if (out->coin.value >= 0) {
        ngx_http_coinhunt_count(row, coins, 1);
        ngx_http_coinhunt_count(row, coin_value, out->coin.value);
    }
}
