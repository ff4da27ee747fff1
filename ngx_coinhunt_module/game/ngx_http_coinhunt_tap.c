
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <math.h>
#include "ngx_http_coinhunt_module.h"
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_journal.h"
#include "ngx_http_coinhunt_http.h"
#include "ngx_http_coinhunt_lua.h"
#include "ngx_http_coinhunt_session.h"
#include "ngx_http_coinhunt_store.h"
#include "ngx_http_coinhunt_metrics.h"
#include "ngx_http_coinhunt_tap.h"


/*
 * A tap: check the token, then under the slot's lock the seq and the rate;
 * copy the session out, unlock, run on_tap on the copy, and commit under the
 * lock if no other tap committed meanwhile (else run again).  No lock is held
 * across Lua, and nothing here touches the heap.
 */


#define NGX_HTTP_COINHUNT_TAP_TRIES    8
#define NGX_HTTP_COINHUNT_SEQ_MAX      9007199254740991LL    /* 2^53 - 1 */


static ngx_int_t ngx_http_coinhunt_tap(ngx_http_request_t *r);
static ngx_int_t ngx_http_coinhunt_coord_param(ngx_http_request_t *r,
    char *name, double *value);
static ngx_int_t ngx_http_coinhunt_too_many(ngx_http_request_t *r,
    int64_t wait, char *message);


NGX_HTTP_COINHUNT_HOT
ngx_int_t
ngx_http_coinhunt_tap_handler(ngx_http_request_t *r)
{
    if (ngx_http_coinhunt_allow(r, NGX_HTTP_POST, "POST") != NGX_OK) {
        return ngx_http_coinhunt_rejected(r);
    }

    return ngx_http_coinhunt_with_params(r, ngx_http_coinhunt_tap);
}


NGX_HTTP_COINHUNT_HOT
static ngx_int_t
ngx_http_coinhunt_tap(ngx_http_request_t *r)
{
    u_char                         *p, *last;
    int64_t                         now, seq, excess, elapsed, wait;
    ngx_int_t                       rc;
    ngx_uint_t                      tries;
    ngx_http_coinhunt_tap_t         tap;
    ngx_http_coinhunt_ctx_t        *ctx;
    ngx_http_coinhunt_coin_t        coin;
    ngx_http_coinhunt_slot_t       *slot;
    ngx_http_coinhunt_token_t       t;
    ngx_http_coinhunt_shctx_t      *sh;
    ngx_http_coinhunt_session_t     s;
    ngx_http_coinhunt_counters_t   *row;
    ngx_http_coinhunt_loc_conf_t   *clcf;
    ngx_http_coinhunt_main_conf_t  *cmcf;

    if (ngx_http_coinhunt_authorize(r, &t) != NGX_OK) {
        return ngx_http_coinhunt_rejected(r);
    }

    ngx_http_coinhunt_session_prefetch(ngx_http_coinhunt_sh, t.slot);

    seq = 0;
    tap.x = 0;
    tap.y = 0;

    /* most taps carry neither query nor body: no lookups at all */
    if (ngx_http_coinhunt_has_params(r)) {
        rc = ngx_http_coinhunt_int_param(r, "seq", 1,
                                         NGX_HTTP_COINHUNT_SEQ_MAX, &seq);

        if (rc != NGX_OK && rc != NGX_DECLINED) {
            return ngx_http_coinhunt_rejected(r);
        }

        if (ngx_http_coinhunt_coord_param(r, "x", &tap.x) != NGX_OK
            || ngx_http_coinhunt_coord_param(r, "y", &tap.y) != NGX_OK)
        {
            return ngx_http_coinhunt_rejected(r);
        }
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_coinhunt_module);
    cmcf = ngx_http_get_module_main_conf(r, ngx_http_coinhunt_module);
    sh = ngx_http_coinhunt_sh;
    row = ngx_http_coinhunt_counters();

    now = ngx_http_coinhunt_now_ms();
    tap.now_ms = (double) now;
    tap.seq = (double) seq;
    excess = 0;

    for (tries = 0; tries < NGX_HTTP_COINHUNT_TAP_TRIES; tries++) {

        slot = ngx_http_coinhunt_authorized_lock(r, &t,
                                                 now - (int64_t)
                                                       cmcf->session_ttl);
        if (slot == NULL) {
            return ngx_http_coinhunt_rejected(r);
        }

        if (seq && seq <= slot->seq) {
            ngx_http_coinhunt_unlock(&slot->lock);

            return ngx_http_coinhunt_error(r, NGX_HTTP_CONFLICT, "replay",
                                           "seq must increase with every "
                                           "tap of the session");
        }

        if (clcf->tap_rate) {
            /* limit_req's leaky bucket, in 1/1000 taps */
            /* a day refills any bucket; the bound keeps the product small */
            elapsed = slot->last_tap_ms ? now - slot->last_tap_ms
                                        : 86400000;
            elapsed = ngx_min(ngx_max(elapsed, 0), 86400000);

            excess = (int64_t) slot->excess
                     - (int64_t) clcf->tap_rate * elapsed / 60000;
            excess = ngx_max(excess, 0) + 1000;

            if (excess > (int64_t) clcf->tap_burst + 1000) {
                ngx_http_coinhunt_unlock(&slot->lock);

                /* ms until the bucket has room for one more tap */
                wait = (excess - (int64_t) clcf->tap_burst - 1000) * 60000
                       / (int64_t) clcf->tap_rate;

                return ngx_http_coinhunt_too_many(r, (wait + 999) / 1000,
                                                  "the session taps faster "
                                                  "than coinhunt_tap_rate "
                                                  "allows");
            }
        }

        ngx_http_coinhunt_session_copy(sh, slot, t.slot, &s);
        ngx_http_coinhunt_unlock(&slot->lock);

        if (ngx_http_coinhunt_lua_on_tap(clcf->rules, &s, &tap, &coin,
                                         r->connection->log)
            != NGX_OK)
        {
            ngx_http_coinhunt_count(row, rule_errors, 1);

            return ngx_http_coinhunt_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                           "rule_error",
                                           "the hunt's on_tap rule failed");
        }

        slot = ngx_http_coinhunt_session_lock(sh, t.slot, t.gen,
                                              now - (int64_t)
                                                    cmcf->session_ttl);
        if (slot == NULL) {
            goto gone;
        }

        /* another tap of this session committed while the rule ran */
        if (slot->taps != s.taps || slot->seq != s.seq) {
            ngx_http_coinhunt_unlock(&slot->lock);
            continue;
        }

        /* crash-consistent: journaled before it is stored */
        ngx_http_coinhunt_journal_tap(sh, slot, t.slot, s.fields, now, excess,
                                      seq, coin.value);

        s.score = slot->score;
        s.taps = slot->taps;
        s.coins = slot->coins;

        ngx_http_coinhunt_unlock(&slot->lock);

        goto done;
    }

    /* other taps of the session committed while each try's rule ran */
    return ngx_http_coinhunt_too_many(r, 1, "too many simultaneous taps of "
                                            "one session");

gone:

    return ngx_http_coinhunt_error(r, NGX_HTTP_UNAUTHORIZED, "unauthorized",
                                   "the session has ended or expired");

done:

    ngx_http_coinhunt_count(row, taps, 1);

    ctx = ngx_http_coinhunt_log_session(r, &s);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_pnalloc(r->pool, 160 + NGX_HTTP_COINHUNT_KIND_MAX);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (coin.value >= 0) {
        ngx_http_coinhunt_count(row, coins, 1);
        ngx_http_coinhunt_count(row, coin_value, coin.value);

        ctx->coin = coin.value;
        ctx->has_coin = 1;

        last = ngx_cpymem(p, "{\"coin\":{\"value\":", 17);
        last = ngx_http_coinhunt_json_int(last, coin.value);
        last = ngx_cpymem(last, ",\"kind\":\"", 9);
        last = ngx_cpymem(last, coin.kind.data, coin.kind.len);
        last = ngx_cpymem(last, "\"},", 3);

    } else {
        last = ngx_cpymem(p, "{\"coin\":null,", 13);
    }

    /* by hand: ngx_sprintf() was a tenth of the tap's instructions */
    last = ngx_cpymem(last, "\"score\":", 8);
    last = ngx_http_coinhunt_json_int(last, s.score);
    last = ngx_cpymem(last, ",\"taps\":", 8);
    last = ngx_http_coinhunt_json_int(last, s.taps);
    last = ngx_cpymem(last, ",\"coins\":", 9);
    last = ngx_http_coinhunt_json_int(last, s.coins);
    last = ngx_cpymem(last, "}\n", 2);

    return ngx_http_coinhunt_send(r, NGX_HTTP_OK, p, last - p);
}


static ngx_int_t
ngx_http_coinhunt_coord_param(ngx_http_request_t *r, char *name,
    double *value)
{
    ngx_str_t  s;
    ngx_int_t  rc;

    *value = 0;

    rc = ngx_http_coinhunt_param(r, name, &s);

    if (rc == NGX_DECLINED) {
        return NGX_OK;
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_coinhunt_parse_coord(s.data, s.len, value) == NGX_OK) {
        return NGX_OK;
    }

    (void) ngx_http_coinhunt_reject(r, NGX_HTTP_BAD_REQUEST, "bad_request",
                                    "\"%s\" must be a finite decimal number",
                                    name);
    return NGX_ERROR;
}


/* a 429 rate_limited, with the seconds to wait in Retry-After */
static ngx_int_t
ngx_http_coinhunt_too_many(ngx_http_request_t *r, int64_t wait,
    char *message)
{
    ngx_table_elt_t  *h;

    ngx_http_coinhunt_count(ngx_http_coinhunt_counters(), rate_limited, 1);

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->value.data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (h->value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Retry-After");
    h->value.len = ngx_sprintf(h->value.data, "%L", ngx_max(wait, 1))
                   - h->value.data;

    return ngx_http_coinhunt_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                   "rate_limited", message);
}
