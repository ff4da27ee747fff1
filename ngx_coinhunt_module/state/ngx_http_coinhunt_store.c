
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_journal.h"
#include "ngx_http_coinhunt_index.h"
#include "ngx_http_coinhunt_slots.h"
#include "ngx_http_coinhunt_board.h"
#include "ngx_http_coinhunt_store.h"


/*
 * The session store: sessions in fixed-size slots (ngx_http_coinhunt_slots.c
 * hands them out), found by (hunt, player) through the index
 * (ngx_http_coinhunt_index.c).  Each slot has its own lock; the index has
 * striped locks taken before a slot lock.  Every section that writes more
 * than one word logs its stores in the process's journal first
 * (shm/ngx_http_coinhunt_journal.c), each tagged with the locks that guard
 * the word, so that a process killed inside it leaves nothing half-written:
 * the index chains under their stripe, a slot under its lock (its hunt and
 * player under both), the retired FIFO under its lock.
 *
 * Lock order: index stripe, slot, the retired FIFO's lock, a hunt's board
 * lock or the Redis dirty list's lock.  The free lock is taken alone.
 */


static void ngx_http_coinhunt_slot_start(ngx_http_coinhunt_shctx_t *sh,
    ngx_uint_t tag, ngx_http_coinhunt_slot_t *slot,
    ngx_http_coinhunt_session_t *s, int64_t score);
static ngx_inline void ngx_http_coinhunt_session_commit(
    ngx_http_coinhunt_shctx_t *sh, ngx_http_coinhunt_slot_t *slot,
    uint32_t index, double *fields, uint32_t taps, uint32_t coins,
    int64_t score, int64_t now, int64_t excess, int64_t seq);
static void ngx_http_coinhunt_revive(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, ngx_http_coinhunt_session_t *s);


NGX_HTTP_COINHUNT_HOT
int64_t
ngx_http_coinhunt_session_active_ms(ngx_http_coinhunt_slot_t *slot)
{
    return ngx_max(slot->created_ms, slot->last_tap_ms);
}


NGX_HTTP_COINHUNT_HOT
void
ngx_http_coinhunt_session_copy(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, uint32_t index,
    ngx_http_coinhunt_session_t *s)
{
    s->index = index;
    s->gen = slot->gen;
    s->hunt = slot->hunt;
    s->taps = slot->taps;
    s->coins = slot->coins;
    s->rules = slot->rules;
    s->score = slot->score;
    s->created_ms = slot->created_ms;
    s->last_tap_ms = slot->last_tap_ms;
    s->seq = slot->seq;
    s->excess = slot->excess;

    ngx_memcpy(s->player_data, slot->player, slot->player_len);
    s->player.data = s->player_data;
    s->player.len = slot->player_len;

    ngx_memcpy(s->fields, ngx_http_coinhunt_slot_fields(slot),
               sh->nfields * sizeof(double));
}


/*
 * NGX_OK: "s" is the live session of (hunt, player), with a new generation.
 * NGX_DECLINED: none is live; s->score is the score of the retired one, if
 * any (a join revives it with that score), else left as it was.
 */
ngx_int_t
ngx_http_coinhunt_session_find(ngx_http_coinhunt_shctx_t *sh, uint16_t hunt,
    ngx_str_t *player, ngx_http_coinhunt_session_t *s)
{
    uint32_t                   b, found, *stripe;
    ngx_int_t                  rc;
    ngx_http_coinhunt_slot_t  *slot;

    b = ngx_http_coinhunt_bucket(sh, hunt, player->data, player->len);
    stripe = ngx_http_coinhunt_stripe(sh, b);

    rc = NGX_DECLINED;

    ngx_http_coinhunt_lock(stripe);

    slot = ngx_http_coinhunt_lookup(sh, b, hunt, player, &found);

    if (slot) {
        ngx_http_coinhunt_lock(&slot->lock);

        if (slot->state == NGX_HTTP_COINHUNT_SLOT_LIVE) {
            /* a join revokes the tokens handed out before */
            ngx_http_coinhunt_slot_renew(slot);
            ngx_http_coinhunt_session_copy(sh, slot, found, s);
            rc = NGX_OK;

        } else {
            s->score = slot->score;
        }

        ngx_http_coinhunt_unlock(&slot->lock);
    }

    ngx_http_coinhunt_unlock(stripe);

    return rc;
}


/* logs the state a session starts with, for a new and a revived slot */
static void
ngx_http_coinhunt_slot_start(ngx_http_coinhunt_shctx_t *sh, ngx_uint_t tag,
    ngx_http_coinhunt_slot_t *slot, ngx_http_coinhunt_session_t *s,
    int64_t score)
{
    ngx_http_coinhunt_slot_t  start;

    start.taps = 0;
    start.coins = 0;
    start.excess = 0;
    start.rules = s->rules;
    start.score = score;
    start.created_ms = s->created_ms;
    start.last_tap_ms = 0;
    start.seq = 0;

    /* the words from taps to seq are adjacent: one store */
    ngx_http_coinhunt_journal_put(tag, &slot->taps, &start.taps,
                                  offsetof(ngx_http_coinhunt_slot_t, player)
                                  - offsetof(ngx_http_coinhunt_slot_t, taps));

    if (sh->nfields) {
        ngx_http_coinhunt_journal_put(tag, ngx_http_coinhunt_slot_fields(slot),
                                      s->fields, sh->nfields * sizeof(double));
    }
}


/* a retired slot, locked with its stripe, becomes the session "s" shapes */
static void
ngx_http_coinhunt_revive(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, ngx_http_coinhunt_session_t *s)
{
    int64_t                       score;
    uint32_t                     *board;
    ngx_uint_t                    l, r;
    ngx_http_coinhunt_journal_t  *j;

    j = ngx_http_coinhunt_journal;

    /* scores only grow: a seed from Redis may be above the retired one */
    score = ngx_max(s->score, slot->score);

    ngx_http_coinhunt_lock(&sh->retired_lock);
    board = (score != slot->score)
            ? ngx_http_coinhunt_board_lock(sh, slot->hunt) : NULL;

    ngx_http_coinhunt_journal_begin();
    l = ngx_http_coinhunt_journal_lock(&slot->lock);
    r = ngx_http_coinhunt_journal_lock(&sh->retired_lock);

    ngx_http_coinhunt_retired_unlink(sh, r, slot);
    ngx_http_coinhunt_journal_set(l, &slot->mac, 0);
    ngx_http_coinhunt_journal_set(l, &slot->gen, slot->gen + 1);
    ngx_http_coinhunt_slot_start(sh, l, slot, s, score);
    ngx_http_coinhunt_journal_set(l, &j->sessions, j->sessions + 1);
    ngx_http_coinhunt_journal_set(l, &slot->state,
                                  NGX_HTTP_COINHUNT_SLOT_LIVE);

    ngx_http_coinhunt_journal_commit();
    ngx_http_coinhunt_journal_apply(NGX_HTTP_COINHUNT_LOG_ALL);

    if (board) {
        ngx_http_coinhunt_board_moved(sh, slot);
    }

    ngx_http_coinhunt_journal_end();

    if (board) {
        ngx_http_coinhunt_unlock(board);
    }

    ngx_http_coinhunt_unlock(&sh->retired_lock);
}


/*
 * Inserts the session "s" describes, or revives the retired one of the same
 * (hunt, player), unless the player joined meanwhile: then "s" gets that
 * session and NGX_DECLINED is returned.  NGX_BUSY: every slot is live.
 */
ngx_int_t
ngx_http_coinhunt_session_insert(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_session_t *s)
{
    uint32_t                      b, index, found, *stripe, *board;
    ngx_int_t                     rc;
    ngx_uint_t                    k, l;
    ngx_http_coinhunt_slot_t     *slot;
    ngx_http_coinhunt_journal_t  *j;
    ngx_http_coinhunt_pending_t   pd;

    j = ngx_http_coinhunt_journal;
    b = ngx_http_coinhunt_bucket(sh, s->hunt, s->player.data, s->player.len);
    stripe = ngx_http_coinhunt_stripe(sh, b);
    index = (uint32_t) -1;

    for ( ;; ) {
        ngx_http_coinhunt_lock(stripe);

        slot = ngx_http_coinhunt_lookup(sh, b, s->hunt, &s->player,
                                      &found);

        if (slot || index != (uint32_t) -1) {
            break;
        }

        /* no lock is held while a slot is found: reclaiming takes others */
        ngx_http_coinhunt_unlock(stripe);

        index = ngx_http_coinhunt_slot_alloc(sh);

        if (index == (uint32_t) -1) {
            return NGX_BUSY;
        }
    }

    if (slot) {
        ngx_http_coinhunt_lock(&slot->lock);

        if (slot->state == NGX_HTTP_COINHUNT_SLOT_LIVE) {
            ngx_http_coinhunt_slot_renew(slot);
            rc = NGX_DECLINED;

        } else {
            ngx_http_coinhunt_revive(sh, slot, s);
            rc = NGX_OK;
        }

        ngx_http_coinhunt_session_copy(sh, slot, found, s);
        ngx_http_coinhunt_unlock(&slot->lock);
        ngx_http_coinhunt_unlock(stripe);

        if (index != (uint32_t) -1) {
            ngx_http_coinhunt_slot_release(sh, j);
        }

        return rc;
    }

    slot = ngx_http_coinhunt_slot(sh, index);

    ngx_http_coinhunt_lock(&slot->lock);
    board = ngx_http_coinhunt_board_lock(sh, s->hunt);

    ngx_http_coinhunt_journal_begin();
    k = ngx_http_coinhunt_journal_lock(stripe);
    l = ngx_http_coinhunt_journal_lock(&slot->lock);

    /* the name is read under either lock: it is stored under both */
    ngx_http_coinhunt_journal_set(l, &slot->mac, 0);
    ngx_http_coinhunt_journal_set(l, &slot->gen, slot->gen + 1);
    ngx_http_coinhunt_journal_set(k|l, &slot->hunt, s->hunt);
    ngx_http_coinhunt_journal_set(k|l, &slot->player_len,
                                  (uint8_t) s->player.len);
    ngx_http_coinhunt_journal_put(k|l, slot->player, s->player.data,
                                  s->player.len);
    ngx_http_coinhunt_slot_start(sh, l, slot, s, s->score);

    if (sh->region[NGX_HTTP_COINHUNT_R_PENDING]) {
        pd.flushed = -1;
        pd.next = 0;
        pd.mark = 0;
        ngx_http_coinhunt_journal_put(l, ngx_http_coinhunt_pending(sh, index),
                                      &pd,
                                      sizeof(ngx_http_coinhunt_pending_t));
    }

    ngx_http_coinhunt_journal_set(l, &j->sessions, j->sessions + 1);
    ngx_http_coinhunt_journal_set(l, &j->alloc, 0);
    ngx_http_coinhunt_journal_set(l, &slot->state,
                                  NGX_HTTP_COINHUNT_SLOT_LIVE);
    ngx_http_coinhunt_journal_set(k, &slot->next,
                                  ngx_http_coinhunt_buckets(sh)[b]);
    ngx_http_coinhunt_journal_set(k, &ngx_http_coinhunt_buckets(sh)[b],
                                  index + 1);

    ngx_http_coinhunt_journal_commit();

    /* the index's stores, then the slot's (its state last), then the board */
    ngx_http_coinhunt_journal_apply(k);
    ngx_http_coinhunt_journal_apply(l);
    ngx_http_coinhunt_board_member(sh, slot, index, 1);

    ngx_http_coinhunt_journal_end();

    if (board) {
        ngx_http_coinhunt_unlock(board);
    }

    ngx_http_coinhunt_session_copy(sh, slot, index, s);

    ngx_http_coinhunt_unlock(&slot->lock);
    ngx_http_coinhunt_unlock(stripe);

    return NGX_OK;
}


/*
 * Asks for all of a slot's cache lines at once: among a million sessions
 * they are rarely cached, and the lock's atomic would wait for each in turn.
 */
NGX_HTTP_COINHUNT_HOT
void
ngx_http_coinhunt_session_prefetch(ngx_http_coinhunt_shctx_t *sh,
    uint32_t index)
{
#if (__GNUC__ || __clang__)
    u_char  *p, *last;

    if (index >= sh->capacity) {
        return;
    }

    p = (u_char *) ngx_http_coinhunt_slot(sh, index);
    last = p + sh->stride - 1;

    for ( /* void */ ; p < last; p += NGX_CPU_CACHE_LINE) {
        __builtin_prefetch(p, 1, 3);
    }

    __builtin_prefetch(last, 1, 3);
#endif
}


/*
 * Returns the slot locked if it is live, of generation "gen" and active
 * since "idle_before"; NULL otherwise.
 */
NGX_HTTP_COINHUNT_HOT
ngx_http_coinhunt_slot_t *
ngx_http_coinhunt_session_lock(ngx_http_coinhunt_shctx_t *sh, uint32_t index,
    uint32_t gen, int64_t idle_before)
{
    ngx_http_coinhunt_slot_t  *slot;

    if (index >= sh->capacity) {
        return NULL;
    }

    slot = ngx_http_coinhunt_slot(sh, index);

    ngx_http_coinhunt_lock(&slot->lock);

    if (slot->state == NGX_HTTP_COINHUNT_SLOT_LIVE
        && slot->gen == gen
        && ngx_http_coinhunt_session_active_ms(slot) >= idle_before)
    {
        return slot;
    }

    ngx_http_coinhunt_unlock(&slot->lock);

    return NULL;
}


/*
 * A tap's commit, under the slot's lock: its outcome in absolute values in
 * the journal's tap record, committed, then stored; a few dozen
 * instructions more than the stores themselves.  "value" is the coin's,
 * -1: none; "seq" 0 keeps the session's.
 */
NGX_HTTP_COINHUNT_HOT
void
ngx_http_coinhunt_session_tap(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, uint32_t index, double *fields,
    int64_t now, int64_t excess, int64_t seq, int64_t value)
{
    int64_t   score;
    uint32_t  coins;

    coins = slot->coins;
    score = slot->score;

    if (value >= 0) {
        coins++;
        score += value;
    }

    ngx_http_coinhunt_session_commit(sh, slot, index, fields, slot->taps + 1,
                                     coins, score, now, excess, seq);
}


/*
 * A tap the rule refused, under the slot's lock: its field writes and its
 * seq are kept, nothing else changes (no tap is counted).
 */
void
ngx_http_coinhunt_session_refused(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, uint32_t index, double *fields,
    int64_t seq)
{
    ngx_http_coinhunt_session_commit(sh, slot, index, fields, slot->taps,
                                     slot->coins, slot->score,
                                     slot->last_tap_ms, slot->excess, seq);
}


NGX_HTTP_COINHUNT_HOT
static ngx_inline void
ngx_http_coinhunt_session_commit(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, uint32_t index, double *fields,
    uint32_t taps, uint32_t coins, int64_t score, int64_t now,
    int64_t excess, int64_t seq)
{
    uint32_t                      i;
    ngx_http_coinhunt_journal_t  *j;

    j = ngx_http_coinhunt_journal;

    if (seq == 0) {
        seq = slot->seq;
    }

    j->taps = taps;
    j->coins = coins;
    j->excess = (uint32_t) excess;
    j->score = score;
    j->last_tap_ms = now;
    j->seq = seq;

    /* a few doubles: a loop costs less than a call of memcpy */
    for (i = 0; i < sh->nfields; i++) {
        j->fields[i] = fields[i];
    }

    __atomic_store_n(&j->tap, index + 1, __ATOMIC_RELEASE);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);

    slot->taps = taps;
    slot->last_tap_ms = now;
    slot->excess = (uint32_t) excess;
    slot->seq = seq;

    if (score != slot->score) {
        /* the board lock nests in the slot lock, for a tree update */
        ngx_http_coinhunt_board_score(sh, slot, score);
    }

    slot->coins = coins;

    for (i = 0; i < sh->nfields; i++) {
        ngx_http_coinhunt_slot_fields(slot)[i] = fields[i];
    }

    __atomic_store_n(&j->tap, 0, __ATOMIC_RELEASE);
}


/*
 * Retires a live session of generation "gen" ("gen" 0: any generation) that
 * was active before "idle_before" (INT64_MAX: any), copying it to "s": its
 * tokens die, its score stays on the board until the slot is reclaimed.
 */
ngx_int_t
ngx_http_coinhunt_session_retire(ngx_http_coinhunt_shctx_t *sh,
    uint32_t index, uint32_t gen, int64_t idle_before,
    ngx_http_coinhunt_session_t *s)
{
    ngx_int_t                     rc;
    ngx_uint_t                    l, r;
    ngx_http_coinhunt_slot_t     *slot;
    ngx_http_coinhunt_journal_t  *j;

    if (index >= sh->capacity) {
        return NGX_DECLINED;
    }

    j = ngx_http_coinhunt_journal;
    slot = ngx_http_coinhunt_slot(sh, index);

    rc = NGX_DECLINED;

    ngx_http_coinhunt_lock(&slot->lock);

    if (slot->state == NGX_HTTP_COINHUNT_SLOT_LIVE
        && (gen == 0 || slot->gen == gen)
        && ngx_http_coinhunt_session_active_ms(slot) < idle_before)
    {
        ngx_http_coinhunt_session_copy(sh, slot, index, s);

        ngx_http_coinhunt_lock(&sh->retired_lock);

        ngx_http_coinhunt_journal_begin();
        l = ngx_http_coinhunt_journal_lock(&slot->lock);
        r = ngx_http_coinhunt_journal_lock(&sh->retired_lock);

        ngx_http_coinhunt_journal_set(l, &slot->state,
                                      NGX_HTTP_COINHUNT_SLOT_RETIRED);
        ngx_http_coinhunt_journal_set(l, &slot->mac, 0);
        ngx_http_coinhunt_journal_set(l, &slot->gen, slot->gen + 1);
        ngx_http_coinhunt_journal_set(l, &j->sessions, j->sessions - 1);
        ngx_http_coinhunt_retired_link(sh, r, slot, index);

        ngx_http_coinhunt_journal_done();

        ngx_http_coinhunt_unlock(&sh->retired_lock);

        rc = NGX_OK;
    }

    ngx_http_coinhunt_unlock(&slot->lock);

    return rc;
}


/*
 * Examines the next "count" slots after the shared cursor, so the workers
 * share one pass, and retires those idle since before "idle_before", calling
 * "handler" for each with no lock held.
 */
ngx_uint_t
ngx_http_coinhunt_sweep(ngx_http_coinhunt_shctx_t *sh, ngx_uint_t count,
    int64_t idle_before, ngx_http_coinhunt_expired_pt handler, void *data)
{
    uint32_t                      index, used;
    ngx_uint_t                    i, n;
    ngx_http_coinhunt_slot_t     *slot;
    ngx_http_coinhunt_session_t   s;

    used = (uint32_t) ngx_min(__atomic_load_n(&sh->unused, __ATOMIC_RELAXED),
                              sh->capacity);

    if (used == 0) {
        return 0;
    }

    count = ngx_min(count, used);
    index = (uint32_t) (ngx_atomic_fetch_add(&sh->sweep, count) % used);

    n = 0;

    for (i = 0; i < count; i++, index++) {

        if (index >= used) {
            index = 0;
        }

        slot = ngx_http_coinhunt_slot(sh, index);

        if (__atomic_load_n(&slot->state, __ATOMIC_RELAXED)
            != NGX_HTTP_COINHUNT_SLOT_LIVE
            || ngx_http_coinhunt_session_active_ms(slot) >= idle_before)
        {
            continue;
        }

        if (ngx_http_coinhunt_session_retire(sh, index, 0, idle_before, &s)
            == NGX_OK)
        {
            handler(data, &s);
            n++;
        }
    }

    return n;
}
