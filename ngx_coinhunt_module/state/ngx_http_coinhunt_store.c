
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_journal.h"
#include "ngx_http_coinhunt_leaderboard.h"


/*
 * The session store: fixed-size slots handed out from a free list, else
 * from the never-used tail, so start-up touches no slot page, else by
 * reclaiming the oldest retired slot.  Each slot has its own lock; the
 * (hunt, player) index has striped locks taken before a slot lock.  Every
 * section that writes more than one word logs its stores in the process's
 * journal first (ngx_http_coinhunt_journal.c), each tagged with the locks
 * that guard the word, so that a process killed inside it leaves nothing
 * half-written: the free list and the tail under the free lock, the index
 * chains under their stripe, a slot under its lock (its hunt and player
 * under both), the retired FIFO under its lock.  A slot taken from the free
 * slots is noted in the journal until it is placed.
 *
 * Lock order: index stripe, slot, the retired FIFO's lock, a hunt's board
 * lock or the Redis dirty list's lock.  The free lock is taken alone.
 */


static uint32_t ngx_http_coinhunt_bucket(ngx_http_coinhunt_shctx_t *sh,
    uint16_t hunt, u_char *player, size_t len);
static uint32_t ngx_http_coinhunt_slot_alloc(ngx_http_coinhunt_shctx_t *sh);
static uint32_t ngx_http_coinhunt_slot_reclaim(ngx_http_coinhunt_shctx_t *sh);
static void ngx_http_coinhunt_retired_link(ngx_http_coinhunt_shctx_t *sh,
    ngx_uint_t tag, ngx_http_coinhunt_slot_t *slot, uint32_t index);
static void ngx_http_coinhunt_retired_unlink(ngx_http_coinhunt_shctx_t *sh,
    ngx_uint_t tag, ngx_http_coinhunt_slot_t *slot);
static ngx_http_coinhunt_slot_t *ngx_http_coinhunt_lookup(
    ngx_http_coinhunt_shctx_t *sh, uint32_t b, uint16_t hunt,
    ngx_str_t *player, uint32_t *index);
static void ngx_http_coinhunt_slot_start(ngx_http_coinhunt_shctx_t *sh,
    ngx_uint_t tag, ngx_http_coinhunt_slot_t *slot,
    ngx_http_coinhunt_session_t *s, int64_t score);
static void ngx_http_coinhunt_revive(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, ngx_http_coinhunt_session_t *s);
static void ngx_http_coinhunt_unlink(ngx_http_coinhunt_shctx_t *sh,
    ngx_uint_t tag, uint32_t index, uint32_t b);


ngx_str_t
ngx_http_coinhunt_hunt_name(ngx_http_coinhunt_shctx_t *sh, uint16_t id)
{
    ngx_str_t  name;

    name.data = sh->hunts[id].name;
    name.len = __atomic_load_n(&sh->hunts[id].len, __ATOMIC_ACQUIRE);

    return name;
}


static uint32_t
ngx_http_coinhunt_bucket(ngx_http_coinhunt_shctx_t *sh, uint16_t hunt,
    u_char *player, size_t len)
{
    u_char  buf[2 + NGX_HTTP_COINHUNT_NAME_MAX];

    /* keyed: players cannot pick names that all land in one chain */
    buf[0] = (u_char) hunt;
    buf[1] = (u_char) (hunt >> 8);
    ngx_memcpy(buf + 2, player, len);

    return (uint32_t) (ngx_http_coinhunt_siphash(sh->key, buf, len + 2)
                       % sh->nbuckets);
}


static uint32_t
ngx_http_coinhunt_slot_alloc(ngx_http_coinhunt_shctx_t *sh)
{
    uint32_t                      index;
    ngx_uint_t                    f;
    ngx_http_coinhunt_journal_t  *j;

    j = ngx_http_coinhunt_journal;
    index = (uint32_t) -1;

    ngx_http_coinhunt_lock(&sh->free_lock);

    if (sh->free_head || sh->unused < sh->capacity) {
        ngx_http_coinhunt_journal_begin();
        f = ngx_http_coinhunt_journal_lock(&sh->free_lock);

        if (sh->free_head) {
            index = sh->free_head - 1;
            ngx_http_coinhunt_journal_set(f, &sh->free_head,
                                   ngx_http_coinhunt_slot(sh, index)->next);

        } else {
            index = (uint32_t) sh->unused;
            ngx_http_coinhunt_journal_set(f, (ngx_atomic_uint_t *) &sh->unused,
                                          index + 1);
        }

        /* the slot is this process's until it is placed */
        ngx_http_coinhunt_journal_set(f, &j->alloc, index + 1);

        ngx_http_coinhunt_journal_done();
    }

    ngx_http_coinhunt_unlock(&sh->free_lock);

    if (index != (uint32_t) -1) {
        return index;
    }

    return ngx_http_coinhunt_slot_reclaim(sh);
}


/*
 * Takes the oldest retired slot off its board, the index and the FIFO.  In
 * Redis mode a slot whose score is not written yet is passed over (moved to
 * the FIFO's tail): reclaiming it would lose the score.
 */
static uint32_t
ngx_http_coinhunt_slot_reclaim(ngx_http_coinhunt_shctx_t *sh)
{
    uint32_t                      b, head, index, *stripe, *board;
    ngx_uint_t                    k, l, r, tries;
    ngx_http_coinhunt_slot_t     *slot;
    ngx_http_coinhunt_pending_t  *pd;
    ngx_http_coinhunt_journal_t  *j;

    j = ngx_http_coinhunt_journal;

    for (tries = 0; tries < 64; tries++) {

        head = __atomic_load_n(&sh->retired_head, __ATOMIC_ACQUIRE);

        if (head == 0) {
            break;
        }

        index = head - 1;
        slot = ngx_http_coinhunt_slot(sh, index);

        ngx_http_coinhunt_lock(&slot->lock);
        b = ngx_http_coinhunt_bucket(sh, slot->hunt, slot->player,
                                     slot->player_len);
        ngx_http_coinhunt_unlock(&slot->lock);

        stripe = &sh->index_locks[b % NGX_HTTP_COINHUNT_INDEX_LOCKS];

        ngx_http_coinhunt_lock(stripe);
        ngx_http_coinhunt_lock(&slot->lock);

        /* revived, reclaimed or reused meanwhile: look again */
        if (slot->state != NGX_HTTP_COINHUNT_SLOT_RETIRED
            || ngx_http_coinhunt_bucket(sh, slot->hunt, slot->player,
                                        slot->player_len) != b)
        {
            ngx_http_coinhunt_unlock(&slot->lock);
            ngx_http_coinhunt_unlock(stripe);
            continue;
        }

        pd = sh->pending ? &sh->pending[index] : NULL;

        ngx_http_coinhunt_lock(&sh->retired_lock);

        if (pd && (pd->mark || pd->flushed != slot->score)) {

            if (slot->retired.next) {
                ngx_http_coinhunt_journal_begin();
                r = ngx_http_coinhunt_journal_lock(&sh->retired_lock);
                ngx_http_coinhunt_retired_unlink(sh, r, slot);
                ngx_http_coinhunt_retired_link(sh, r, slot, index);
                ngx_http_coinhunt_journal_done();
            }

            ngx_http_coinhunt_unlock(&sh->retired_lock);
            ngx_http_coinhunt_unlock(&slot->lock);
            ngx_http_coinhunt_unlock(stripe);
            continue;
        }

        board = ngx_http_coinhunt_board_lock(sh, slot->hunt);

        ngx_http_coinhunt_journal_begin();
        k = ngx_http_coinhunt_journal_lock(stripe);
        l = ngx_http_coinhunt_journal_lock(&slot->lock);
        r = ngx_http_coinhunt_journal_lock(&sh->retired_lock);

        ngx_http_coinhunt_retired_unlink(sh, r, slot);
        ngx_http_coinhunt_unlink(sh, k, index, b);
        ngx_http_coinhunt_journal_set(l, &slot->mac, 0);
        ngx_http_coinhunt_journal_set(l, &slot->gen, slot->gen + 1);
        ngx_http_coinhunt_journal_set(l, &slot->state,
                                      NGX_HTTP_COINHUNT_SLOT_FREE);
        ngx_http_coinhunt_journal_set(l, &j->alloc, index + 1);

        ngx_http_coinhunt_journal_commit();
        ngx_http_coinhunt_journal_apply(NGX_HTTP_COINHUNT_LOG_ALL);
        ngx_http_coinhunt_board_member(sh, slot, index, 0);
        ngx_http_coinhunt_journal_end();

        if (board) {
            ngx_http_coinhunt_unlock(board);
        }

        ngx_http_coinhunt_unlock(&sh->retired_lock);
        ngx_http_coinhunt_unlock(&slot->lock);
        ngx_http_coinhunt_unlock(stripe);

        return index;
    }

    return (uint32_t) -1;
}


/* logs the append of a retired slot to the FIFO, both locked */
static void
ngx_http_coinhunt_retired_link(ngx_http_coinhunt_shctx_t *sh, ngx_uint_t tag,
    ngx_http_coinhunt_slot_t *slot, uint32_t index)
{
    uint32_t  tail, links[2];

    tail = sh->retired_tail;
    links[0] = tail;
    links[1] = 0;

    ngx_http_coinhunt_journal_put(tag, &slot->retired, links, sizeof(links));

    if (tail) {
        ngx_http_coinhunt_journal_set(tag,
                    &ngx_http_coinhunt_slot(sh, tail - 1)->retired.next,
                    index + 1);

    } else {
        ngx_http_coinhunt_journal_set(tag, &sh->retired_head, index + 1);
    }

    ngx_http_coinhunt_journal_set(tag, &sh->retired_tail, index + 1);
}


/* logs the removal of a slot, not the tail if a link follows, from the FIFO */
static void
ngx_http_coinhunt_retired_unlink(ngx_http_coinhunt_shctx_t *sh,
    ngx_uint_t tag, ngx_http_coinhunt_slot_t *slot)
{
    uint32_t  prev, next;

    prev = slot->retired.prev;
    next = slot->retired.next;

    if (prev) {
        ngx_http_coinhunt_journal_set(tag,
                    &ngx_http_coinhunt_slot(sh, prev - 1)->retired.next,
                    next);

    } else {
        ngx_http_coinhunt_journal_set(tag, &sh->retired_head, next);
    }

    if (next) {
        ngx_http_coinhunt_journal_set(tag,
                    &ngx_http_coinhunt_slot(sh, next - 1)->retired.prev,
                    prev);

    } else {
        ngx_http_coinhunt_journal_set(tag, &sh->retired_tail, prev);
    }
}


/* a slot a process took and did not place goes back to the free list */
void
ngx_http_coinhunt_slot_release(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_journal_t *owner)
{
    uint32_t                   index;
    ngx_uint_t                 f;
    ngx_http_coinhunt_slot_t  *slot;

    ngx_http_coinhunt_lock(&sh->free_lock);

    index = owner->alloc;

    if (index) {
        slot = ngx_http_coinhunt_slot(sh, index - 1);

        ngx_http_coinhunt_journal_begin();
        f = ngx_http_coinhunt_journal_lock(&sh->free_lock);

        ngx_http_coinhunt_journal_set(f, &slot->next, sh->free_head);
        ngx_http_coinhunt_journal_set(f, &sh->free_head, index);
        ngx_http_coinhunt_journal_set(f, &owner->alloc, 0);

        ngx_http_coinhunt_journal_done();
    }

    ngx_http_coinhunt_unlock(&sh->free_lock);
}


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


static ngx_http_coinhunt_slot_t *
ngx_http_coinhunt_lookup(ngx_http_coinhunt_shctx_t *sh, uint32_t b,
    uint16_t hunt, ngx_str_t *player, uint32_t *index)
{
    uint32_t                   x;
    ngx_http_coinhunt_slot_t  *slot;

    for (x = sh->buckets[b]; x; x = slot->next) {
        slot = ngx_http_coinhunt_slot(sh, x - 1);

        if (slot->hunt == hunt
            && slot->player_len == player->len
            && ngx_memcmp(slot->player, player->data, player->len) == 0)
        {
            *index = x - 1;
            return slot;
        }
    }

    return NULL;
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
    stripe = &sh->index_locks[b % NGX_HTTP_COINHUNT_INDEX_LOCKS];

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
    stripe = &sh->index_locks[b % NGX_HTTP_COINHUNT_INDEX_LOCKS];
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

    if (sh->pending) {
        pd.flushed = -1;
        pd.next = 0;
        pd.mark = 0;
        ngx_http_coinhunt_journal_put(l, &sh->pending[index], &pd,
                                      sizeof(ngx_http_coinhunt_pending_t));
    }

    ngx_http_coinhunt_journal_set(l, &j->sessions, j->sessions + 1);
    ngx_http_coinhunt_journal_set(l, &j->alloc, 0);
    ngx_http_coinhunt_journal_set(l, &slot->state,
                                  NGX_HTTP_COINHUNT_SLOT_LIVE);
    ngx_http_coinhunt_journal_set(k, &slot->next, sh->buckets[b]);
    ngx_http_coinhunt_journal_set(k, &sh->buckets[b], index + 1);

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


/* logs the removal of a slot from its index chain, the stripe locked */
static void
ngx_http_coinhunt_unlink(ngx_http_coinhunt_shctx_t *sh, ngx_uint_t tag,
    uint32_t index, uint32_t b)
{
    uint32_t                  *link;
    ngx_http_coinhunt_slot_t  *s;

    for (link = &sh->buckets[b]; *link; link = &s->next) {
        s = ngx_http_coinhunt_slot(sh, *link - 1);

        if (*link == index + 1) {
            ngx_http_coinhunt_journal_set(tag, link, s->next);
            return;
        }
    }
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
