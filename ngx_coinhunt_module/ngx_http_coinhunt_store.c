
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_leaderboard.h"


/*
 * The session store: fixed-size slots handed out from a lock-free free
 * list, else from the never-used tail, so start-up touches no slot page,
 * else by reclaiming the oldest retired slot.  Each slot has its own lock;
 * the (hunt, player) index has striped locks taken before a slot lock.
 *
 * Lock order: index stripe, slot, then one of: a hunt's board lock, the
 * retired FIFO's lock, the Redis dirty list's lock.
 */


static uint32_t ngx_http_coinhunt_bucket(ngx_http_coinhunt_shctx_t *sh,
    uint16_t hunt, u_char *player, size_t len);
static uint32_t ngx_http_coinhunt_slot_alloc(ngx_http_coinhunt_shctx_t *sh);
static uint32_t ngx_http_coinhunt_slot_reclaim(ngx_http_coinhunt_shctx_t *sh);
static void ngx_http_coinhunt_retired_link(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, uint32_t index);
static void ngx_http_coinhunt_retired_unlink(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot);
static ngx_http_coinhunt_slot_t *ngx_http_coinhunt_lookup(
    ngx_http_coinhunt_shctx_t *sh, uint32_t b, uint16_t hunt,
    ngx_str_t *player);
static void ngx_http_coinhunt_slot_start(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, ngx_http_coinhunt_session_t *s);
static void ngx_http_coinhunt_revive(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, ngx_http_coinhunt_session_t *s);
static void ngx_http_coinhunt_slot_free(ngx_http_coinhunt_shctx_t *sh,
    uint32_t index);
static void ngx_http_coinhunt_unlink(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, uint32_t index);


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
    uint32_t                   index;
    ngx_atomic_uint_t          head, next;
    ngx_http_coinhunt_slot_t  *slot;

    for ( ;; ) {
        head = __atomic_load_n(&sh->free_head, __ATOMIC_ACQUIRE);
        index = (uint32_t) head;

        if (index == 0) {
            break;
        }

        slot = ngx_http_coinhunt_slot(sh, index - 1);

        /* the tag in the high half defeats ABA */
        next = ((head >> 32) + 1) << 32
               | __atomic_load_n(&slot->next, __ATOMIC_RELAXED);

        if (ngx_atomic_cmp_set(&sh->free_head, head, next)) {
            return index - 1;
        }
    }

    index = (uint32_t) ngx_atomic_fetch_add(&sh->unused, 1);

    if (index < sh->capacity) {
        return index;
    }

    (void) ngx_atomic_fetch_add(&sh->unused, -1);

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
    uint32_t                      b, head, index, *stripe;
    ngx_uint_t                    tries;
    ngx_http_coinhunt_slot_t     *slot;
    ngx_http_coinhunt_pending_t  *pd;

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

        ngx_http_coinhunt_retired_unlink(sh, slot);

        if (pd && (pd->mark || pd->flushed != slot->score)) {
            ngx_http_coinhunt_retired_link(sh, slot, index);
            ngx_http_coinhunt_unlock(&slot->lock);
            ngx_http_coinhunt_unlock(stripe);
            continue;
        }

        ngx_http_coinhunt_unlink(sh, slot, index);
        ngx_http_coinhunt_board_remove(sh, slot, index);

        slot->state = NGX_HTTP_COINHUNT_SLOT_FREE;
        ngx_http_coinhunt_slot_renew(slot);

        ngx_http_coinhunt_unlock(&slot->lock);
        ngx_http_coinhunt_unlock(stripe);

        return index;
    }

    return (uint32_t) -1;
}


/* appends a retired slot, locked by the caller, to the FIFO */
static void
ngx_http_coinhunt_retired_link(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, uint32_t index)
{
    ngx_http_coinhunt_lock(&sh->retired_lock);

    slot->retired.prev = sh->retired_tail;
    slot->retired.next = 0;

    if (sh->retired_tail) {
        ngx_http_coinhunt_slot(sh, sh->retired_tail - 1)->retired.next =
                                                                    index + 1;

    } else {
        __atomic_store_n(&sh->retired_head, index + 1, __ATOMIC_RELEASE);
    }

    sh->retired_tail = index + 1;

    ngx_http_coinhunt_unlock(&sh->retired_lock);
}


static void
ngx_http_coinhunt_retired_unlink(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot)
{
    uint32_t  prev, next;

    ngx_http_coinhunt_lock(&sh->retired_lock);

    prev = slot->retired.prev;
    next = slot->retired.next;

    if (prev) {
        ngx_http_coinhunt_slot(sh, prev - 1)->retired.next = next;

    } else {
        __atomic_store_n(&sh->retired_head, next, __ATOMIC_RELEASE);
    }

    if (next) {
        ngx_http_coinhunt_slot(sh, next - 1)->retired.prev = prev;

    } else {
        sh->retired_tail = prev;
    }

    ngx_http_coinhunt_unlock(&sh->retired_lock);
}


static void
ngx_http_coinhunt_slot_free(ngx_http_coinhunt_shctx_t *sh, uint32_t index)
{
    ngx_atomic_uint_t          head, next;
    ngx_http_coinhunt_slot_t  *slot;

    slot = ngx_http_coinhunt_slot(sh, index);

    do {
        head = __atomic_load_n(&sh->free_head, __ATOMIC_ACQUIRE);
        __atomic_store_n(&slot->next, (uint32_t) head, __ATOMIC_RELAXED);
        next = ((head >> 32) + 1) << 32 | (index + 1);

    } while (!ngx_atomic_cmp_set(&sh->free_head, head, next));
}


int64_t
ngx_http_coinhunt_session_active_ms(ngx_http_coinhunt_slot_t *slot)
{
    return ngx_max(slot->created_ms, slot->last_tap_ms);
}


void
ngx_http_coinhunt_session_copy(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, ngx_http_coinhunt_session_t *s)
{
    s->index = (uint32_t) (((u_char *) slot - sh->slots) / sh->stride);
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
    uint16_t hunt, ngx_str_t *player)
{
    uint32_t                   index;
    ngx_http_coinhunt_slot_t  *slot;

    for (index = sh->buckets[b]; index; index = slot->next) {
        slot = ngx_http_coinhunt_slot(sh, index - 1);

        if (slot->hunt == hunt
            && slot->player_len == player->len
            && ngx_memcmp(slot->player, player->data, player->len) == 0)
        {
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
    uint32_t                   b, *stripe;
    ngx_int_t                  rc;
    ngx_http_coinhunt_slot_t  *slot;

    b = ngx_http_coinhunt_bucket(sh, hunt, player->data, player->len);
    stripe = &sh->index_locks[b % NGX_HTTP_COINHUNT_INDEX_LOCKS];

    rc = NGX_DECLINED;

    ngx_http_coinhunt_lock(stripe);

    slot = ngx_http_coinhunt_lookup(sh, b, hunt, player);

    if (slot) {
        ngx_http_coinhunt_lock(&slot->lock);

        if (slot->state == NGX_HTTP_COINHUNT_SLOT_LIVE) {
            /* a join revokes the tokens handed out before */
            ngx_http_coinhunt_slot_renew(slot);
            ngx_http_coinhunt_session_copy(sh, slot, s);
            rc = NGX_OK;

        } else {
            s->score = slot->score;
        }

        ngx_http_coinhunt_unlock(&slot->lock);
    }

    ngx_http_coinhunt_unlock(stripe);

    return rc;
}


/* the state a session starts with, the same for a new and a revived slot */
static void
ngx_http_coinhunt_slot_start(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, ngx_http_coinhunt_session_t *s)
{
    slot->taps = 0;
    slot->coins = 0;
    slot->excess = 0;
    slot->rules = s->rules;
    slot->created_ms = s->created_ms;
    slot->last_tap_ms = 0;
    slot->seq = 0;
    ngx_memcpy(ngx_http_coinhunt_slot_fields(slot), s->fields,
               sh->nfields * sizeof(double));
    slot->state = NGX_HTTP_COINHUNT_SLOT_LIVE;
}


/* a retired slot, locked with its stripe, becomes the session "s" shapes */
static void
ngx_http_coinhunt_revive(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, ngx_http_coinhunt_session_t *s)
{
    ngx_http_coinhunt_retired_unlink(sh, slot);

    ngx_http_coinhunt_slot_renew(slot);
    ngx_http_coinhunt_slot_start(sh, slot, s);

    /* scores only grow: a seed from Redis may be above the retired one */
    if (s->score > slot->score) {
        ngx_http_coinhunt_board_score(sh, slot, s->score);
    }
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
    uint32_t                   b, index, *stripe;
    ngx_int_t                  rc;
    ngx_http_coinhunt_slot_t  *slot;

    b = ngx_http_coinhunt_bucket(sh, s->hunt, s->player.data, s->player.len);
    stripe = &sh->index_locks[b % NGX_HTTP_COINHUNT_INDEX_LOCKS];
    index = (uint32_t) -1;

    for ( ;; ) {
        ngx_http_coinhunt_lock(stripe);

        slot = ngx_http_coinhunt_lookup(sh, b, s->hunt, &s->player);

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
            (void) ngx_atomic_fetch_add(&sh->sessions, 1);
            rc = NGX_OK;
        }

        ngx_http_coinhunt_session_copy(sh, slot, s);
        ngx_http_coinhunt_unlock(&slot->lock);
        ngx_http_coinhunt_unlock(stripe);

        if (index != (uint32_t) -1) {
            ngx_http_coinhunt_slot_free(sh, index);
        }

        return rc;
    }

    slot = ngx_http_coinhunt_slot(sh, index);

    ngx_http_coinhunt_lock(&slot->lock);

    ngx_http_coinhunt_slot_renew(slot);
    slot->hunt = s->hunt;
    slot->player_len = (uint8_t) s->player.len;
    ngx_memcpy(slot->player, s->player.data, s->player.len);
    slot->score = s->score;
    ngx_http_coinhunt_slot_start(sh, slot, s);

    if (sh->pending) {
        sh->pending[index].flushed = -1;
        sh->pending[index].next = 0;
        sh->pending[index].mark = 0;
    }

    slot->next = sh->buckets[b];
    sh->buckets[b] = index + 1;

    ngx_http_coinhunt_board_insert(sh, slot, index);

    ngx_http_coinhunt_session_copy(sh, slot, s);

    ngx_http_coinhunt_unlock(&slot->lock);
    ngx_http_coinhunt_unlock(stripe);

    (void) ngx_atomic_fetch_add(&sh->sessions, 1);

    return NGX_OK;
}


/*
 * Asks for all of a slot's cache lines at once: among a million sessions
 * they are rarely cached, and the lock's atomic would wait for each in turn.
 */
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


static void
ngx_http_coinhunt_unlink(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, uint32_t index)
{
    uint32_t                   b, *link;
    ngx_http_coinhunt_slot_t  *s;

    b = ngx_http_coinhunt_bucket(sh, slot->hunt, slot->player,
                                 slot->player_len);

    for (link = &sh->buckets[b]; *link; link = &s->next) {
        s = ngx_http_coinhunt_slot(sh, *link - 1);

        if (*link == index + 1) {
            *link = s->next;
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
    ngx_int_t                  rc;
    ngx_http_coinhunt_slot_t  *slot;

    if (index >= sh->capacity) {
        return NGX_DECLINED;
    }

    slot = ngx_http_coinhunt_slot(sh, index);

    rc = NGX_DECLINED;

    ngx_http_coinhunt_lock(&slot->lock);

    if (slot->state == NGX_HTTP_COINHUNT_SLOT_LIVE
        && (gen == 0 || slot->gen == gen)
        && ngx_http_coinhunt_session_active_ms(slot) < idle_before)
    {
        ngx_http_coinhunt_session_copy(sh, slot, s);

        slot->state = NGX_HTTP_COINHUNT_SLOT_RETIRED;
        ngx_http_coinhunt_slot_renew(slot);
        ngx_http_coinhunt_retired_link(sh, slot, index);

        rc = NGX_OK;
    }

    ngx_http_coinhunt_unlock(&slot->lock);

    if (rc == NGX_OK) {
        (void) ngx_atomic_fetch_add(&sh->sessions, -1);
    }

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
