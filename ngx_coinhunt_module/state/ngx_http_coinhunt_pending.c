
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_journal.h"
#include "ngx_http_coinhunt_pending.h"


/*
 * Redis mode's pending scores live in the zone, so a crashed worker loses
 * none: per slot the score Redis acknowledged ("flushed") and a mark (0:
 * clean, 1: queued on the zone's dirty list, else the pid of the worker
 * whose batch carries it).  A score change queues its slot once, so Redis
 * traffic follows flushes x changed players, not taps.  A flush takes up to
 * a batch of slots off the list (redis/ngx_http_coinhunt_redis_flush.c
 * writes them) and settles each after its reply: a slot whose score did not
 * change meanwhile is clean, any other (or the whole batch, if a write
 * failed) is queued again.  A mark keeps a retired slot from being
 * reclaimed before its score is written.  Slots carried by a worker that
 * died are queued again by the recovery scan of the others.  The list's
 * changes are logged in the process's journal first, so a process killed
 * in the middle of one leaves no half-linked list; whoever takes the list's
 * lock over from a dead process gives every slot on the list its queued
 * mark back (the dead one may have been marking a batch).
 */


#define NGX_HTTP_COINHUNT_RECOVER_CHUNK   4096
#define NGX_HTTP_COINHUNT_QUEUED          1


static void ngx_http_coinhunt_dirty_push(ngx_http_coinhunt_shctx_t *sh,
    ngx_uint_t tag, uint32_t index);


/* logs the append of a slot to the dirty list, the list locked */
static void
ngx_http_coinhunt_dirty_push(ngx_http_coinhunt_shctx_t *sh, ngx_uint_t tag,
    uint32_t index)
{
    uint32_t  entry[2], *link;

    /* the pending entry's "next" and "mark" are adjacent: one store */
    entry[0] = 0;
    entry[1] = NGX_HTTP_COINHUNT_QUEUED;
    ngx_http_coinhunt_journal_put(tag,
                                  &ngx_http_coinhunt_pending(sh, index)->next,
                                  entry, sizeof(entry));

    link = sh->dirty_tail
           ? &ngx_http_coinhunt_pending(sh, sh->dirty_tail - 1)->next : NULL;

    ngx_http_coinhunt_journal_append(tag, &sh->dirty_head, &sh->dirty_tail,
                                     link, index + 1);
}


/* a score changed under the slot's lock: queue the slot for the flush */
void
ngx_http_coinhunt_pending_dirty(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot)
{
    uint32_t                      index;
    ngx_uint_t                    d;
    ngx_http_coinhunt_pending_t  *pd;
    ngx_http_coinhunt_journal_t  *j;

    index = ngx_http_coinhunt_slot_index(sh, slot);
    pd = &ngx_http_coinhunt_pendings(sh)[index];

    if (__atomic_load_n(&pd->mark, __ATOMIC_RELAXED) != 0
        || pd->flushed == slot->score)
    {
        return;
    }

    ngx_http_coinhunt_lock(&sh->dirty_lock);

    /* a lock taken over from a dead process may have queued it meanwhile */
    if (pd->mark == 0) {
        j = ngx_http_coinhunt_journal;

        ngx_http_coinhunt_journal_begin();
        d = ngx_http_coinhunt_journal_lock(&sh->dirty_lock);
        ngx_http_coinhunt_dirty_push(sh, d, index);
        ngx_http_coinhunt_journal_set(d, &j->dirty, j->dirty + 1);
        ngx_http_coinhunt_journal_done();
    }

    ngx_http_coinhunt_unlock(&sh->dirty_lock);
}


/*
 * A session joined with the score Redis holds for the player ("seed", -1:
 * none), its slot locked: what Redis holds needs no write.
 */
void
ngx_http_coinhunt_pending_seeded(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, int64_t seed)
{
    ngx_http_coinhunt_pending_t  *pd;

    pd = ngx_http_coinhunt_pending(sh, ngx_http_coinhunt_slot_index(sh, slot));

    /* one store, whole or not at all */
    if (seed > pd->flushed) {
        pd->flushed = seed;
    }

    ngx_http_coinhunt_pending_dirty(sh, slot);
}


/* the dirty list taken over from a dead process: its slots are queued */
void
ngx_http_coinhunt_pending_repair(ngx_http_coinhunt_shctx_t *sh)
{
    uint32_t    x;
    ngx_uint_t  n;

    for (x = sh->dirty_head, n = 0; x && n < sh->capacity;
         x = ngx_http_coinhunt_pendings(sh)[x - 1].next, n++)
    {
        ngx_http_coinhunt_pendings(sh)[x - 1].mark = NGX_HTTP_COINHUNT_QUEUED;
    }
}


/*
 * Takes up to "max" slots off the dirty list into "batch", each marked with
 * this process's pid: how many.
 */
ngx_uint_t
ngx_http_coinhunt_pending_take(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_pending_score_t *batch, ngx_uint_t max)
{
    uint32_t                   x;
    ngx_uint_t                 n, d;
    ngx_http_coinhunt_slot_t  *slot;

    n = 0;

    ngx_http_coinhunt_lock(&sh->dirty_lock);

    for (x = sh->dirty_head; x && n < max;
         x = ngx_http_coinhunt_pending(sh, x - 1)->next)
    {
        /* the mark keeps the slot from being reclaimed while in flight */
        __atomic_store_n(&ngx_http_coinhunt_pending(sh, x - 1)->mark,
                         (uint32_t) ngx_pid, __ATOMIC_RELAXED);

        slot = ngx_http_coinhunt_slot(sh, x - 1);

        batch[n].index = x - 1;
        batch[n].hunt = slot->hunt;
        batch[n].score = __atomic_load_n(&slot->score, __ATOMIC_RELAXED);
        n++;
    }

    /* the batch leaves the list: marked first, so that a recovery finds it */
    ngx_http_coinhunt_journal_begin();
    d = ngx_http_coinhunt_journal_lock(&sh->dirty_lock);
    ngx_http_coinhunt_journal_set(d, &sh->dirty_head, x);

    if (x == 0) {
        ngx_http_coinhunt_journal_set(d, &sh->dirty_tail, 0);
    }

    ngx_http_coinhunt_journal_done();

    ngx_http_coinhunt_unlock(&sh->dirty_lock);

    ngx_log_debug1(NGX_LOG_DEBUG_CORE, ngx_cycle->log, 0,
                   "coinhunt: took %ui pending score(s) to flush", n);

    return n;
}


/*
 * A slot of a batch whose write was answered ("written": Redis holds the
 * batch's score): clean if its score did not change meanwhile, else queued
 * again.
 */
void
ngx_http_coinhunt_pending_settle(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_pending_score_t *p, ngx_uint_t written)
{
    int64_t                       flushed;
    ngx_uint_t                    l, d, requeue;
    ngx_http_coinhunt_slot_t     *slot;
    ngx_http_coinhunt_pending_t  *pd;
    ngx_http_coinhunt_journal_t  *jr;

    jr = ngx_http_coinhunt_journal;
    slot = ngx_http_coinhunt_slot(sh, p->index);
    pd = &ngx_http_coinhunt_pendings(sh)[p->index];

    ngx_http_coinhunt_lock(&slot->lock);

    flushed = (written && p->score > pd->flushed) ? p->score : pd->flushed;
    requeue = (flushed != slot->score);

    if (requeue) {
        ngx_http_coinhunt_lock(&sh->dirty_lock);
    }

    ngx_http_coinhunt_journal_begin();
    l = ngx_http_coinhunt_journal_lock(&slot->lock);
    ngx_http_coinhunt_journal_set(l, &pd->flushed, flushed);

    if (requeue) {
        d = ngx_http_coinhunt_journal_lock(&sh->dirty_lock);
        ngx_http_coinhunt_dirty_push(sh, d, p->index);

    } else {
        ngx_http_coinhunt_journal_set(l, &pd->mark, 0);
        ngx_http_coinhunt_journal_set(l, &jr->dirty, jr->dirty - 1);
    }

    ngx_http_coinhunt_journal_done();

    if (requeue) {
        ngx_http_coinhunt_unlock(&sh->dirty_lock);
    }

    ngx_http_coinhunt_unlock(&slot->lock);

    ngx_log_debug3(NGX_LOG_DEBUG_CORE, ngx_cycle->log, 0,
                   "coinhunt: slot %uD flushed at %L%s", p->index, flushed,
                   requeue ? ", queued again" : "");
}


/* requeues a share of the slots whose batch died with its worker */
void
ngx_http_coinhunt_pending_recover(ngx_http_coinhunt_shctx_t *sh)
{
    uint32_t                      index, used, mark, dead, alive;
    ngx_uint_t                    i, d, count;
    ngx_http_coinhunt_slot_t     *slot;
    ngx_http_coinhunt_pending_t  *pd;

    used = (uint32_t) ngx_min(__atomic_load_n(&sh->unused, __ATOMIC_RELAXED),
                              sh->capacity);

    if (used == 0) {
        return;
    }

    count = ngx_min(NGX_HTTP_COINHUNT_RECOVER_CHUNK, used);
    index = (uint32_t) (ngx_atomic_fetch_add(&sh->recover, count) % used);
    dead = 0;
    alive = 0;

    for (i = 0; i < count; i++, index = (index + 1) % used) {
        pd = &ngx_http_coinhunt_pendings(sh)[index];
        mark = __atomic_load_n(&pd->mark, __ATOMIC_RELAXED);

        if (mark <= NGX_HTTP_COINHUNT_QUEUED || mark == (uint32_t) ngx_pid
            || mark == alive)
        {
            continue;
        }

        if (mark != dead) {
            if (kill((pid_t) mark, 0) == 0 || ngx_errno != NGX_ESRCH) {
                alive = mark;
                continue;
            }

            dead = mark;
        }

        slot = ngx_http_coinhunt_slot(sh, index);

        ngx_http_coinhunt_lock(&slot->lock);
        ngx_http_coinhunt_lock(&sh->dirty_lock);

        if (pd->mark == mark) {
            ngx_http_coinhunt_journal_begin();
            d = ngx_http_coinhunt_journal_lock(&sh->dirty_lock);
            ngx_http_coinhunt_dirty_push(sh, d, index);
            ngx_http_coinhunt_journal_done();
        }

        ngx_http_coinhunt_unlock(&sh->dirty_lock);
        ngx_http_coinhunt_unlock(&slot->lock);
    }
}
