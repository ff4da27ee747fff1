
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <sys/random.h>
#include "ngx_http_coinhunt_zone.h"


/*
 * The zone: a header, the (hunt, player) index buckets, then fixed-size
 * session slots.  Slots are handed out from a lock-free free list, else from
 * the never-used tail, so start-up touches no slot page.  Each slot has its
 * own lock; the index has striped locks taken before a slot lock.  Locks hold
 * the owner's pid, so a lock of a killed worker is taken over.
 */


#define NGX_HTTP_COINHUNT_MAGIC   0x31746e75686e696fULL
#define NGX_HTTP_COINHUNT_SPINS   2048


ngx_http_coinhunt_shctx_t  *ngx_http_coinhunt_sh;


static uint32_t ngx_http_coinhunt_bucket(ngx_http_coinhunt_shctx_t *sh,
    uint16_t hunt, u_char *player, size_t len);
static uint32_t ngx_http_coinhunt_slot_alloc(ngx_http_coinhunt_shctx_t *sh);
static void ngx_http_coinhunt_slot_free(ngx_http_coinhunt_shctx_t *sh,
    uint32_t index);
static void ngx_http_coinhunt_unlink(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, uint32_t index);


size_t
ngx_http_coinhunt_zone_per_session(ngx_uint_t nfields)
{
    return sizeof(ngx_http_coinhunt_slot_t) + nfields * sizeof(double)
           + sizeof(uint32_t);
}


ngx_int_t
ngx_http_coinhunt_zone_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_coinhunt_shctx_t  *osh = data;

    size_t                          size, stride;
    u_char                         *p;
    ngx_uint_t                      nfields;
    ngx_slab_pool_t                *shpool;
    ngx_http_coinhunt_shctx_t      *sh;
    ngx_http_coinhunt_main_conf_t  *cmcf;

    cmcf = shm_zone->data;
    nfields = cmcf->max_fields;
    stride = sizeof(ngx_http_coinhunt_slot_t) + nfields * sizeof(double);

    if (osh) {
        if (osh->nfields < nfields) {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "coinhunt_zone \"%V\" holds %uD designer fields a "
                          "session, the rules now declare %ui: restart "
                          "nginx or resize the zone to start afresh",
                          &shm_zone->shm.name, osh->nfields, nfields);
            return NGX_ERROR;
        }

        ngx_http_coinhunt_sh = osh;
        shm_zone->data = osh;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    /* the whole zone is ours: one allocation of every free page */
    size = shpool->pfree * ngx_pagesize;
    p = ngx_slab_alloc(shpool, size);

    if (p == NULL || size < sizeof(ngx_http_coinhunt_shctx_t)) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "coinhunt_zone \"%V\" is too small",
                      &shm_zone->shm.name);
        return NGX_ERROR;
    }

    sh = (ngx_http_coinhunt_shctx_t *) p;
    ngx_memzero(sh, sizeof(ngx_http_coinhunt_shctx_t));

    sh->stride = stride;
    sh->nfields = nfields;
    sh->capacity = (size - sizeof(ngx_http_coinhunt_shctx_t) - 64)
                   / (stride + sizeof(uint32_t));
    sh->nbuckets = sh->capacity;

    if (sh->capacity == 0) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "coinhunt_zone \"%V\" is too small for one session",
                      &shm_zone->shm.name);
        return NGX_ERROR;
    }

    sh->buckets = (uint32_t *) (p + sizeof(ngx_http_coinhunt_shctx_t));
    sh->slots = ngx_align_ptr(sh->buckets + sh->nbuckets, 64);

    if (getrandom(sh->key, sizeof(sh->key), 0) != sizeof(sh->key)) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, ngx_errno,
                      "coinhunt_zone: getrandom() failed");
        return NGX_ERROR;
    }

    sh->magic = NGX_HTTP_COINHUNT_MAGIC;
    shpool->data = sh;

    ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                  "coinhunt_zone \"%V\": %uD sessions of %uz bytes "
                  "(%ui designer fields)", &shm_zone->shm.name,
                  sh->capacity, stride + sizeof(uint32_t), nfields);

    ngx_http_coinhunt_sh = sh;
    shm_zone->data = sh;

    return NGX_OK;
}


void
ngx_http_coinhunt_lock(uint32_t *lock)
{
    uint32_t    pid, holder;
    ngx_uint_t  spins;

    pid = (uint32_t) ngx_pid;

    for ( ;; ) {

        for (spins = 0; spins < NGX_HTTP_COINHUNT_SPINS; spins++) {
            holder = __atomic_load_n(lock, __ATOMIC_RELAXED);

            if (holder == 0
                && __atomic_compare_exchange_n(lock, &holder, pid, 0,
                                               __ATOMIC_ACQUIRE,
                                               __ATOMIC_RELAXED))
            {
                return;
            }

            ngx_cpu_pause();
        }

        holder = __atomic_load_n(lock, __ATOMIC_RELAXED);

        /* the holder died inside its critical section: take the lock over */
        if (holder != 0
            && kill((pid_t) holder, 0) == -1 && ngx_errno == NGX_ESRCH
            && __atomic_compare_exchange_n(lock, &holder, pid, 0,
                                           __ATOMIC_ACQUIRE,
                                           __ATOMIC_RELAXED))
        {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                          "coinhunt: took over a lock held by dead "
                          "process %uD", holder);
            return;
        }

        ngx_sched_yield();
    }
}


void
ngx_http_coinhunt_unlock(uint32_t *lock)
{
    __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}


ngx_int_t
ngx_http_coinhunt_hunt_find(ngx_http_coinhunt_shctx_t *sh, ngx_str_t *name,
    ngx_uint_t create, uint16_t *id)
{
    ngx_uint_t                 i, len;
    ngx_http_coinhunt_hunt_t  *hunt;

    /* entries are never removed and "len" is published last */
    for (i = 0; i < NGX_HTTP_COINHUNT_HUNTS_MAX; i++) {
        hunt = &sh->hunts[i];
        len = __atomic_load_n(&hunt->len, __ATOMIC_ACQUIRE);

        if (len == 0) {
            break;
        }

        if (len == name->len && ngx_memcmp(hunt->name, name->data, len) == 0)
        {
            *id = (uint16_t) i;
            return NGX_OK;
        }
    }

    if (!create || i == NGX_HTTP_COINHUNT_HUNTS_MAX) {
        return NGX_DECLINED;
    }

    ngx_http_coinhunt_lock(&sh->hunts_lock);

    for ( /* void */ ; i < NGX_HTTP_COINHUNT_HUNTS_MAX; i++) {
        hunt = &sh->hunts[i];

        if (hunt->len == 0) {
            ngx_memcpy(hunt->name, name->data, name->len);
            __atomic_store_n(&hunt->len, name->len, __ATOMIC_RELEASE);
            break;
        }

        if (hunt->len == name->len
            && ngx_memcmp(hunt->name, name->data, name->len) == 0)
        {
            break;
        }
    }

    ngx_http_coinhunt_unlock(&sh->hunts_lock);

    if (i == NGX_HTTP_COINHUNT_HUNTS_MAX) {
        return NGX_DECLINED;
    }

    *id = (uint16_t) i;

    return NGX_OK;
}


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

    return (uint32_t) -1;
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


ngx_int_t
ngx_http_coinhunt_session_find(ngx_http_coinhunt_shctx_t *sh, uint16_t hunt,
    ngx_str_t *player, ngx_http_coinhunt_session_t *s)
{
    uint32_t                   b, index, *stripe;
    ngx_int_t                  rc;
    ngx_http_coinhunt_slot_t  *slot;

    b = ngx_http_coinhunt_bucket(sh, hunt, player->data, player->len);
    stripe = &sh->index_locks[b % NGX_HTTP_COINHUNT_INDEX_LOCKS];

    rc = NGX_DECLINED;

    ngx_http_coinhunt_lock(stripe);

    for (index = sh->buckets[b]; index; index = slot->next) {
        slot = ngx_http_coinhunt_slot(sh, index - 1);

        if (slot->hunt != hunt
            || slot->player_len != player->len
            || ngx_memcmp(slot->player, player->data, player->len) != 0)
        {
            continue;
        }

        /* a join revokes the tokens handed out before */
        ngx_http_coinhunt_lock(&slot->lock);
        slot->gen++;
        ngx_http_coinhunt_session_copy(sh, slot, s);
        ngx_http_coinhunt_unlock(&slot->lock);

        rc = NGX_OK;
        break;
    }

    ngx_http_coinhunt_unlock(stripe);

    return rc;
}


/*
 * Inserts the session "s" describes, unless the player joined meanwhile: then
 * "s" gets that session and NGX_DECLINED is returned.  NGX_BUSY: zone full.
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

    ngx_http_coinhunt_lock(stripe);

    for (index = sh->buckets[b]; index; index = slot->next) {
        slot = ngx_http_coinhunt_slot(sh, index - 1);

        if (slot->hunt == s->hunt
            && slot->player_len == s->player.len
            && ngx_memcmp(slot->player, s->player.data, s->player.len) == 0)
        {
            ngx_http_coinhunt_lock(&slot->lock);
            slot->gen++;
            ngx_http_coinhunt_session_copy(sh, slot, s);
            ngx_http_coinhunt_unlock(&slot->lock);

            rc = NGX_DECLINED;
            goto done;
        }
    }

    index = ngx_http_coinhunt_slot_alloc(sh);

    if (index == (uint32_t) -1) {
        rc = NGX_BUSY;
        goto done;
    }

    slot = ngx_http_coinhunt_slot(sh, index);

    ngx_http_coinhunt_lock(&slot->lock);

    slot->gen++;
    slot->hunt = s->hunt;
    slot->player_len = (uint8_t) s->player.len;
    ngx_memcpy(slot->player, s->player.data, s->player.len);
    slot->taps = 0;
    slot->coins = 0;
    slot->excess = 0;
    slot->rules = s->rules;
    slot->score = s->score;
    slot->created_ms = s->created_ms;
    slot->last_tap_ms = 0;
    slot->seq = 0;
    ngx_memcpy(ngx_http_coinhunt_slot_fields(slot), s->fields,
               sh->nfields * sizeof(double));
    slot->state = NGX_HTTP_COINHUNT_SLOT_LIVE;

    slot->next = sh->buckets[b];
    sh->buckets[b] = index + 1;

    ngx_http_coinhunt_session_copy(sh, slot, s);

    ngx_http_coinhunt_unlock(&slot->lock);

    (void) ngx_atomic_fetch_add(&sh->sessions, 1);

    rc = NGX_OK;

done:

    ngx_http_coinhunt_unlock(stripe);

    return rc;
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
 * Removes a live session of generation "gen" ("gen" 0: any generation) that
 * was active before "idle_before" (INT64_MAX: any), copying it to "s".
 */
ngx_int_t
ngx_http_coinhunt_session_remove(ngx_http_coinhunt_shctx_t *sh,
    uint32_t index, uint32_t gen, int64_t idle_before,
    ngx_http_coinhunt_session_t *s)
{
    uint32_t                   b, *stripe;
    ngx_int_t                  rc;
    ngx_http_coinhunt_slot_t  *slot;

    if (index >= sh->capacity) {
        return NGX_DECLINED;
    }

    slot = ngx_http_coinhunt_slot(sh, index);

    /* racy read of immutable-while-live fields, checked again under locks */
    if (__atomic_load_n(&slot->state, __ATOMIC_RELAXED)
        != NGX_HTTP_COINHUNT_SLOT_LIVE)
    {
        return NGX_DECLINED;
    }

    ngx_http_coinhunt_lock(&slot->lock);
    b = ngx_http_coinhunt_bucket(sh, slot->hunt, slot->player,
                                 slot->player_len);
    ngx_http_coinhunt_unlock(&slot->lock);

    stripe = &sh->index_locks[b % NGX_HTTP_COINHUNT_INDEX_LOCKS];

    rc = NGX_DECLINED;

    ngx_http_coinhunt_lock(stripe);
    ngx_http_coinhunt_lock(&slot->lock);

    if (slot->state == NGX_HTTP_COINHUNT_SLOT_LIVE
        && (gen == 0 || slot->gen == gen)
        && ngx_http_coinhunt_session_active_ms(slot) < idle_before
        && ngx_http_coinhunt_bucket(sh, slot->hunt, slot->player,
                                    slot->player_len) == b)
    {
        ngx_http_coinhunt_session_copy(sh, slot, s);
        ngx_http_coinhunt_unlink(sh, slot, index);

        slot->state = NGX_HTTP_COINHUNT_SLOT_FREE;
        slot->gen++;

        rc = NGX_OK;
    }

    ngx_http_coinhunt_unlock(&slot->lock);
    ngx_http_coinhunt_unlock(stripe);

    if (rc == NGX_OK) {
        (void) ngx_atomic_fetch_add(&sh->sessions, -1);
        ngx_http_coinhunt_slot_free(sh, index);
    }

    return rc;
}


/*
 * Examines the next "count" slots after the shared cursor, so the workers
 * share one pass, and frees those idle since before "idle_before", calling
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

        if (ngx_http_coinhunt_session_remove(sh, index, 0, idle_before, &s)
            == NGX_OK)
        {
            handler(data, &s);
            n++;
        }
    }

    return n;
}
