
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_rate.h"
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_counters.h"
#include "ngx_http_coinhunt_hunts.h"
#include "ngx_http_coinhunt_store.h"
#include "ngx_http_coinhunt_pending.h"
#include "ngx_http_coinhunt_lua.h"
#include "ngx_http_coinhunt_redis_read.h"
#include "ngx_http_coinhunt_join.h"


/*
 * A join, whatever the transport: the player's live session of the hunt
 * with a new generation (the tokens handed out before die), else a new or
 * revived one that on_join shapes, of at least the score the player had:
 * in its retired session, and in Redis mode the score Redis holds, which
 * is read first.
 */


/* a join waiting for the score Redis holds */
typedef struct {
    ngx_http_coinhunt_join_in_t      in;
    ngx_http_coinhunt_join_out_t     out;
    uint16_t                         hunt;
    int64_t                          score;
    ngx_http_coinhunt_joined_pt      handler;
    void                            *data;
} ngx_http_coinhunt_join_wait_t;


static ngx_int_t ngx_http_coinhunt_join_seed(ngx_http_coinhunt_join_in_t *in,
    ngx_http_coinhunt_join_out_t *out, uint16_t hunt,
    ngx_http_coinhunt_joined_pt handler, void *data);
static void ngx_http_coinhunt_join_seeded(void *data, ngx_int_t rc,
    int64_t seed);
static ngx_int_t ngx_http_coinhunt_join_create(
    ngx_http_coinhunt_join_in_t *in, ngx_http_coinhunt_join_out_t *out,
    uint16_t hunt, int64_t score, int64_t seed);
static void ngx_http_coinhunt_join_answer(ngx_http_coinhunt_join_in_t *in,
    ngx_http_coinhunt_join_out_t *out, int64_t now);


/*
 * NGX_OK: "out" holds the session; NGX_DECLINED: out->fail; NGX_ERROR;
 * NGX_AGAIN: the join waits for Redis, "handler" is called with the result
 * (in an "out" of its own).
 */
ngx_int_t
ngx_http_coinhunt_game_join(ngx_http_coinhunt_join_in_t *in,
    ngx_http_coinhunt_join_out_t *out, ngx_http_coinhunt_joined_pt handler,
    void *data)
{
    uint16_t                    hunt;
    ngx_http_coinhunt_shctx_t  *sh;

    sh = ngx_http_coinhunt_sh;

    if (ngx_http_coinhunt_hunt_find(sh, &in->hunt, 1, &hunt) != NGX_OK) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, in->log, 0,
                       "coinhunt join: 503, no room for hunt \"%V\"",
                       &in->hunt);

        out->fail = ngx_http_coinhunt_fail(HUNTS);
        return NGX_DECLINED;
    }

    ngx_memzero(&out->s, sizeof(ngx_http_coinhunt_session_t));

    if (ngx_http_coinhunt_session_find(sh, hunt, &in->player, &out->s)
        == NGX_OK)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, in->log, 0,
                       "coinhunt join: \"%V\" plays on, a new generation",
                       &in->player);

        ngx_http_coinhunt_join_answer(in, out, ngx_http_coinhunt_now_ms());
        return NGX_OK;
    }

    /* out->s.score: the player's retired session's, if any */
    if (in->cmcf->redis) {
        return ngx_http_coinhunt_join_seed(in, out, hunt, handler, data);
    }

    return ngx_http_coinhunt_join_create(in, out, hunt, out->s.score, -1);
}


static ngx_int_t
ngx_http_coinhunt_join_seed(ngx_http_coinhunt_join_in_t *in,
    ngx_http_coinhunt_join_out_t *out, uint16_t hunt,
    ngx_http_coinhunt_joined_pt handler, void *data)
{
    ngx_int_t                       rc;
    ngx_str_t                       name;
    ngx_http_coinhunt_join_wait_t  *w;

    w = ngx_palloc(in->pool, sizeof(ngx_http_coinhunt_join_wait_t));
    if (w == NULL) {
        return NGX_ERROR;
    }

    w->in = *in;
    w->hunt = hunt;
    w->score = out->s.score;
    w->handler = handler;
    w->data = data;

    name = ngx_http_coinhunt_hunt_name(ngx_http_coinhunt_sh, hunt);

    rc = ngx_http_coinhunt_redis_seed(in->pool, &name, &in->player,
                                      ngx_http_coinhunt_join_seeded, w);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, in->log, 0,
                   "coinhunt join: \"%V\" asks Redis for a seed: %i",
                   &in->player, rc);

    if (rc == NGX_DECLINED) {
        out->fail = ngx_http_coinhunt_fail(UNAVAILABLE);
    }

    return rc;
}


static void
ngx_http_coinhunt_join_seeded(void *data, ngx_int_t rc, int64_t seed)
{
    ngx_http_coinhunt_join_wait_t  *w = data;

    if (rc == NGX_OK) {
        rc = ngx_http_coinhunt_join_create(&w->in, &w->out, w->hunt,
                                           w->score, seed);

    } else {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, w->in.log, 0,
                       "coinhunt join: 503, no seed from Redis");

        w->out.fail = ngx_http_coinhunt_fail(UNAVAILABLE);
    }

    w->handler(w->data, rc, &w->out);
}


/*
 * A new (or revived) session of at least "score"; "seed" is the score Redis
 * holds for the player (-1: none, or local mode).
 */
static ngx_int_t
ngx_http_coinhunt_join_create(ngx_http_coinhunt_join_in_t *in,
    ngx_http_coinhunt_join_out_t *out, uint16_t hunt, int64_t score,
    int64_t seed)
{
    int64_t                       now;
    ngx_int_t                     rc;
    ngx_http_coinhunt_slot_t     *slot;
    ngx_http_coinhunt_shctx_t    *sh;
    ngx_http_coinhunt_session_t  *s;

    sh = ngx_http_coinhunt_sh;
    s = &out->s;
    now = ngx_http_coinhunt_now_ms();

    ngx_memzero(s, sizeof(ngx_http_coinhunt_session_t));

    s->hunt = hunt;
    s->player = in->player;
    s->score = ngx_max(score, seed);
    s->created_ms = now;
    s->rules = in->rules ? in->rules->id : 0;

    /* on_join shapes the new session before anyone can see it */
    rc = ngx_http_coinhunt_lua_on_join(in->rules, s, &out->verdict, in->log);

    if (rc == NGX_DECLINED) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, in->log, 0,
                       "coinhunt join: on_join refused the player");

        out->fail = ngx_http_coinhunt_game_refused(&out->refusal,
                                                   &out->verdict);
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, in->log, 0,
                       "coinhunt join: 500, on_join failed");

        ngx_http_coinhunt_count(ngx_http_coinhunt_counters(), rule_errors, 1);
        out->fail = ngx_http_coinhunt_fail(JOIN_RULE);
        return NGX_DECLINED;
    }

    rc = ngx_http_coinhunt_session_insert(sh, s);

    if (rc == NGX_BUSY) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, in->log, 0,
                       "coinhunt join: 503, every slot is live");

        out->fail = ngx_http_coinhunt_fail(SESSIONS);
        return NGX_DECLINED;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, in->log, 0,
                   "coinhunt join: \"%V\" in slot %uD, %s", &in->player,
                   s->index, rc == NGX_OK ? "new or revived"
                                          : "joined meanwhile");

    if (rc == NGX_OK && in->cmcf->redis) {
        slot = ngx_http_coinhunt_session_lock(sh, s->index, s->gen, 0);

        if (slot) {
            ngx_http_coinhunt_pending_seeded(sh, slot, seed);
            ngx_http_coinhunt_unlock(&slot->lock);
        }
    }

    ngx_http_coinhunt_join_answer(in, out, now);

    return NGX_OK;
}


/* the session's token, and the seconds it has left */
static void
ngx_http_coinhunt_join_answer(ngx_http_coinhunt_join_in_t *in,
    ngx_http_coinhunt_join_out_t *out, int64_t now)
{
    int64_t                       left;
    ngx_http_coinhunt_session_t  *s;

    s = &out->s;
    out->hunt = ngx_http_coinhunt_hunt_name(ngx_http_coinhunt_sh, s->hunt);

    ngx_http_coinhunt_token_encode(in->cmcf->key, s->index, s->gen,
                                   &out->hunt, &s->player, out->token);

    left = ngx_max(s->created_ms, s->last_tap_ms)
           + (int64_t) in->cmcf->session_ttl - now;

    out->expires_in = left > 0 ? (left + 999) / 1000 : 0;
}
