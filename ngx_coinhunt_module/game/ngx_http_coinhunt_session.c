
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_coinhunt_module.h"
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_http.h"
#include "ngx_http_coinhunt_lua.h"
#include "ngx_http_coinhunt_session.h"
#include "ngx_http_coinhunt_redis.h"


static ngx_int_t ngx_http_coinhunt_join(ngx_http_request_t *r);
static ngx_int_t ngx_http_coinhunt_join_reply(ngx_http_request_t *r,
    ngx_http_coinhunt_session_t *s, int64_t now);
static ngx_int_t ngx_http_coinhunt_end(ngx_http_request_t *r);
static int64_t ngx_http_coinhunt_session_expires(
    ngx_http_coinhunt_main_conf_t *cmcf, ngx_http_coinhunt_session_t *s,
    int64_t now);


static ngx_str_t  ngx_http_coinhunt_default_hunt = ngx_string("default");


ngx_int_t
ngx_http_coinhunt_session_handler(ngx_http_request_t *r)
{
    if (ngx_http_coinhunt_allow(r, NGX_HTTP_POST, "POST") != NGX_OK) {
        return ngx_http_coinhunt_rejected(r);
    }

    return ngx_http_coinhunt_with_params(r, ngx_http_coinhunt_join);
}


ngx_int_t
ngx_http_coinhunt_end_handler(ngx_http_request_t *r)
{
    if (ngx_http_coinhunt_allow(r, NGX_HTTP_POST|NGX_HTTP_DELETE,
                                "POST, DELETE")
        != NGX_OK)
    {
        return ngx_http_coinhunt_rejected(r);
    }

    return ngx_http_coinhunt_with_params(r, ngx_http_coinhunt_end);
}


/* what the access log variables show of the request's session */
NGX_HTTP_COINHUNT_HOT
ngx_http_coinhunt_ctx_t *
ngx_http_coinhunt_log_session(ngx_http_request_t *r,
    ngx_http_coinhunt_session_t *s)
{
    ngx_http_coinhunt_ctx_t  *ctx;

    ctx = ngx_http_coinhunt_get_ctx(r);
    if (ctx == NULL) {
        return NULL;
    }

    ctx->player.len = s->player.len;
    ctx->player.data = ngx_pstrdup(r->pool, &s->player);
    ctx->score = s->score;
    ctx->has_score = 1;

    return ctx;
}


/* the core fields every session reply carries, from "player" on */
u_char *
ngx_http_coinhunt_state_json(u_char *p, ngx_http_coinhunt_session_t *s)
{
    ngx_str_t  hunt;

    hunt = ngx_http_coinhunt_hunt_name(ngx_http_coinhunt_sh, s->hunt);

    return ngx_sprintf(p, "\"player\":\"%V\",\"hunt\":\"%V\",\"score\":%L,"
                       "\"taps\":%uD,\"coins\":%uD",
                       &s->player, &hunt, s->score, s->taps, s->coins);
}


static int64_t
ngx_http_coinhunt_session_expires(ngx_http_coinhunt_main_conf_t *cmcf,
    ngx_http_coinhunt_session_t *s, int64_t now)
{
    int64_t  left;

    left = ngx_max(s->created_ms, s->last_tap_ms)
           + (int64_t) cmcf->session_ttl - now;

    return left > 0 ? (left + 999) / 1000 : 0;
}


static ngx_int_t
ngx_http_coinhunt_join(ngx_http_request_t *r)
{
    uint16_t                        hunt_id;
    ngx_str_t                       player, hunt;
    ngx_http_coinhunt_shctx_t      *sh;
    ngx_http_coinhunt_session_t     s;
    ngx_http_coinhunt_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_coinhunt_module);
    sh = ngx_http_coinhunt_sh;

    if (ngx_http_coinhunt_name_param(r, "player", NULL, &player) != NGX_OK
        || ngx_http_coinhunt_name_param(r, "hunt",
                                        &ngx_http_coinhunt_default_hunt,
                                        &hunt)
           != NGX_OK)
    {
        return ngx_http_coinhunt_rejected(r);
    }

    if (ngx_http_coinhunt_hunt_find(sh, &hunt, 1, &hunt_id) != NGX_OK) {
        return ngx_http_coinhunt_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                       "sessions_full",
                                       "the zone holds as many hunts as it "
                                       "can (1024)");
    }

    ngx_memzero(&s, sizeof(ngx_http_coinhunt_session_t));

    if (ngx_http_coinhunt_session_find(sh, hunt_id, &player, &s) == NGX_OK) {
        return ngx_http_coinhunt_join_reply(r, &s,
                                            ngx_http_coinhunt_now_ms());
    }

    /* s.score: the player's retired session's, if any */
    if (cmcf->redis) {
        return ngx_http_coinhunt_redis_seed(r, hunt_id, &player, s.score);
    }

    return ngx_http_coinhunt_join_create(r, hunt_id, &player, s.score, -1);
}


/*
 * A new (or revived) session of at least "score"; "seed" is the score Redis
 * holds for the player (-1: none, or local mode).
 */
ngx_int_t
ngx_http_coinhunt_join_create(ngx_http_request_t *r, uint16_t hunt_id,
    ngx_str_t *player, int64_t score, int64_t seed)
{
    int64_t                         now;
    ngx_int_t                       rc;
    ngx_http_coinhunt_shctx_t      *sh;
    ngx_http_coinhunt_session_t     s;
    ngx_http_coinhunt_loc_conf_t   *clcf;
    ngx_http_coinhunt_main_conf_t  *cmcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_coinhunt_module);
    cmcf = ngx_http_get_module_main_conf(r, ngx_http_coinhunt_module);
    sh = ngx_http_coinhunt_sh;

    now = ngx_http_coinhunt_now_ms();

    ngx_memzero(&s, sizeof(ngx_http_coinhunt_session_t));

    s.hunt = hunt_id;
    s.player = *player;
    s.score = ngx_max(score, seed);
    s.created_ms = now;
    s.rules = clcf->rules ? clcf->rules->id : 0;

    /* on_join shapes the new session before anyone can see it */
    if (ngx_http_coinhunt_lua_on_join(clcf->rules, &s, r->connection->log)
        != NGX_OK)
    {
        ngx_http_coinhunt_count(ngx_http_coinhunt_counters(), rule_errors, 1);

        return ngx_http_coinhunt_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                       "rule_error",
                                       "the hunt's on_join rule failed");
    }

    rc = ngx_http_coinhunt_session_insert(sh, &s);

    if (rc == NGX_BUSY) {
        return ngx_http_coinhunt_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                       "sessions_full",
                                       "every session slot is taken; "
                                       "try again later");
    }

    if (rc == NGX_OK && cmcf->redis) {
        ngx_http_coinhunt_redis_joined(sh, &s, seed);
    }

    return ngx_http_coinhunt_join_reply(r, &s, now);
}


static ngx_int_t
ngx_http_coinhunt_join_reply(ngx_http_request_t *r,
    ngx_http_coinhunt_session_t *s, int64_t now)
{
    u_char                         *p, *last;
    int64_t                         ttl;
    ngx_str_t                       hunt;
    ngx_http_coinhunt_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_coinhunt_module);
    hunt = ngx_http_coinhunt_hunt_name(ngx_http_coinhunt_sh, s->hunt);

    if (ngx_http_coinhunt_log_session(r, s) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_pnalloc(r->pool, 512);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ttl = ngx_http_coinhunt_session_expires(cmcf, s, now);

    last = ngx_cpymem(p, "{\"session\":\"", 12);
    ngx_http_coinhunt_token_encode(cmcf->key, s->index, s->gen, &hunt,
                                   &s->player, last);
    last += NGX_HTTP_COINHUNT_TOKEN_LEN;
    last = ngx_cpymem(last, "\",", 2);
    last = ngx_http_coinhunt_state_json(last, s);
    last = ngx_sprintf(last, ",\"expires_in\":%L}\n", ttl);

    return ngx_http_coinhunt_send(r, NGX_HTTP_CREATED, p, last - p);
}


/*
 * The slot and generation a request's token names, if it has a well-formed
 * one; otherwise a rejection is recorded.
 */
NGX_HTTP_COINHUNT_HOT
ngx_int_t
ngx_http_coinhunt_authorize(ngx_http_request_t *r,
    ngx_http_coinhunt_token_t *t)
{
    ngx_str_t  token;

    if (ngx_http_coinhunt_token_param(r, &token) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (ngx_http_coinhunt_token_decode(&token, t) != NGX_OK) {
        return ngx_http_coinhunt_reject(r, NGX_HTTP_UNAUTHORIZED,
                                        "unauthorized",
                                        "the session token is not valid");
    }

    return NGX_OK;
}


/*
 * The slot of the session a decoded token names, locked, if the session is
 * live and the token's MAC is its own; otherwise NULL and a rejection.
 */
NGX_HTTP_COINHUNT_HOT
ngx_http_coinhunt_slot_t *
ngx_http_coinhunt_authorized_lock(ngx_http_request_t *r,
    ngx_http_coinhunt_token_t *t, int64_t idle_before)
{
    ngx_str_t                       hunt, player;
    ngx_http_coinhunt_slot_t       *slot;
    ngx_http_coinhunt_shctx_t      *sh;
    ngx_http_coinhunt_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_coinhunt_module);
    sh = ngx_http_coinhunt_sh;

    slot = ngx_http_coinhunt_session_lock(sh, t->slot, t->gen, idle_before);

    if (slot == NULL) {
        (void) ngx_http_coinhunt_reject(r, NGX_HTTP_UNAUTHORIZED,
                                        "unauthorized",
                                        "the session has ended or expired");
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

        (void) ngx_http_coinhunt_reject(r, NGX_HTTP_UNAUTHORIZED,
                                        "unauthorized",
                                        "the session token is not valid");
        return NULL;
    }

    /* masked: a worker with another key does not take it for its own */
    slot->mac = t->mac ^ cmcf->key_mask;

    return slot;
}


static ngx_int_t
ngx_http_coinhunt_end(ngx_http_request_t *r)
{
    u_char                         *p, *last;
    int64_t                         now;
    ngx_http_coinhunt_ctx_t        *ctx;
    ngx_http_coinhunt_token_t       t;
    ngx_http_coinhunt_slot_t       *slot;
    ngx_http_coinhunt_shctx_t      *sh;
    ngx_http_coinhunt_session_t     s;
    ngx_http_coinhunt_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_coinhunt_module);
    sh = ngx_http_coinhunt_sh;

    if (ngx_http_coinhunt_authorize(r, &t) != NGX_OK) {
        return ngx_http_coinhunt_rejected(r);
    }

    now = ngx_http_coinhunt_now_ms();

    /* an expired session the sweeper has not reached yet is gone too */
    slot = ngx_http_coinhunt_authorized_lock(r, &t,
                                             now
                                             - (int64_t) cmcf->session_ttl);
    if (slot == NULL) {
        return ngx_http_coinhunt_rejected(r);
    }

    ngx_http_coinhunt_unlock(&slot->lock);

    if (ngx_http_coinhunt_session_retire(sh, t.slot, t.gen, INT64_MAX, &s)
        != NGX_OK)
    {
        return ngx_http_coinhunt_error(r, NGX_HTTP_UNAUTHORIZED,
                                       "unauthorized",
                                       "the session has ended or expired");
    }

    ctx = ngx_http_coinhunt_log_session(r, &s);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_pnalloc(r->pool, 512);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = ngx_cpymem(p, "{\"ended\":true,", 14);
    last = ngx_http_coinhunt_state_json(last, &s);
    last = ngx_cpymem(last, "}\n", 2);

    return ngx_http_coinhunt_send(r, NGX_HTTP_OK, p, last - p);
}
