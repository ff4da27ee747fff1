
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_journal.h"


/*
 * Crash consistency, the journal's primitives; what a takeover does with
 * them is state/ngx_http_coinhunt_recovery.c's.  A worker killed inside a
 * critical section leaves its locks held by a dead pid;
 * ngx_http_coinhunt_lock() takes such a lock over and calls the repair
 * hook, which finishes what the dead process had begun under that lock.
 * Each process owns a journal record in the zone.  A critical section takes
 * all its locks, writes into the record the absolute values it is about to
 * store (the tap: its own fields; any other section: a log of stores, each
 * tagged with the locks that guard the word), commits, applies them and
 * clears the commit, all before unlocking.  Whoever takes a lock over from
 * a dead process redoes the dead process's committed stores tagged with
 * that lock (redoing an absolute store is harmless).  A process that dies
 * while redoing leaves "repairing" set, so its own taker redoes the same
 * work.  The model is process death, not power loss: every store a killed
 * process executed is visible, so compiler barriers suffice.
 */


/* an entry of the log: where in the zone (an offset, see zone.h), then what */
typedef struct {
    uint64_t                       off;
    uint16_t                       len;
    uint16_t                       tags;
    uint32_t                       reserved;
} ngx_http_coinhunt_logged_t;


#define NGX_HTTP_COINHUNT_REDO_DEPTH   4

#define ngx_http_coinhunt_barrier()  __atomic_signal_fence(__ATOMIC_SEQ_CST)


static ngx_http_coinhunt_journal_t *ngx_http_coinhunt_journal_free(
    ngx_http_coinhunt_shctx_t *sh);
static ngx_int_t ngx_http_coinhunt_journal_find(
    ngx_http_coinhunt_shctx_t *sh, uint32_t pid,
    ngx_http_coinhunt_journal_t *copy);
static ngx_uint_t ngx_http_coinhunt_journal_redo_for(
    ngx_http_coinhunt_shctx_t *sh, uint32_t *lock, uint32_t dead,
    ngx_uint_t depth);
static void ngx_http_coinhunt_log_apply(ngx_http_coinhunt_journal_t *j,
    ngx_uint_t tags);


ngx_http_coinhunt_journal_t  *ngx_http_coinhunt_journal;


/*
 * Claims a free record for this process, the journal lock held: NGX_BUSY
 * while every record is taken.
 */
ngx_int_t
ngx_http_coinhunt_journal_claim(ngx_http_coinhunt_shctx_t *sh)
{
    ngx_http_coinhunt_journal_t  *r;

    r = ngx_http_coinhunt_journal_free(sh);

    if (r == NULL) {
        return NGX_BUSY;
    }

    r->committed = 0;
    r->tap = 0;
    r->repairing = 0;
    __atomic_store_n(&r->owner, (uint32_t) ngx_pid, __ATOMIC_RELEASE);
    ngx_http_coinhunt_journal = r;

    return NGX_OK;
}


/*
 * A free record, else one of a dead process that left nothing to finish (it
 * can only be recovered by a process that has a record of its own).
 */
static ngx_http_coinhunt_journal_t *
ngx_http_coinhunt_journal_free(ngx_http_coinhunt_shctx_t *sh)
{
    ngx_uint_t                    i;
    ngx_http_coinhunt_journal_t  *r;

    for (i = 0; i < sh->njournals; i++) {
        if (ngx_http_coinhunt_journals(sh)[i].owner == 0) {
            return &ngx_http_coinhunt_journals(sh)[i];
        }
    }

    for (i = 0; i < sh->njournals; i++) {
        r = &ngx_http_coinhunt_journals(sh)[i];

        if (r->committed == 0 && r->tap == 0 && r->alloc == 0
            && r->repairing == 0 && ngx_http_coinhunt_journal_dead(r))
        {
            return r;
        }
    }

    return NULL;
}


/* whether the record is of a process that died */
ngx_int_t
ngx_http_coinhunt_journal_dead(ngx_http_coinhunt_journal_t *r)
{
    uint32_t  owner;

    owner = __atomic_load_n(&r->owner, __ATOMIC_ACQUIRE);

    return owner != 0 && owner != (uint32_t) ngx_pid
           && kill((pid_t) owner, 0) == -1 && ngx_errno == NGX_ESRCH;
}


void
ngx_http_coinhunt_journal_exit(void)
{
    if (ngx_http_coinhunt_journal) {
        __atomic_store_n(&ngx_http_coinhunt_journal->owner, 0,
                         __ATOMIC_RELEASE);
        ngx_http_coinhunt_journal = NULL;
    }
}


void
ngx_http_coinhunt_journal_begin(void)
{
    ngx_http_coinhunt_journal->len = 0;
    ngx_http_coinhunt_journal->nlocks = 0;
}


/* a lock the section holds: the tag bit for the words it guards */
ngx_uint_t
ngx_http_coinhunt_journal_lock(uint32_t *lock)
{
    ngx_http_coinhunt_journal_t  *j;

    j = ngx_http_coinhunt_journal;
    j->locks[j->nlocks] = ngx_http_coinhunt_zone_off(ngx_http_coinhunt_sh,
                                                     lock);

    return (ngx_uint_t) 1 << j->nlocks++;
}


void
ngx_http_coinhunt_journal_put(ngx_uint_t tags, void *addr, const void *data,
    size_t len)
{
    ngx_http_coinhunt_logged_t   *e;
    ngx_http_coinhunt_journal_t  *j;

    j = ngx_http_coinhunt_journal;

    /* sections log at most a slot's words: 448 bytes, a join's */
    e = (ngx_http_coinhunt_logged_t *) (j->log + j->len);
    e->off = ngx_http_coinhunt_zone_off(ngx_http_coinhunt_sh, addr);
    e->len = (uint16_t) len;
    e->tags = (uint16_t) tags;
    ngx_memcpy(e + 1, data, len);

    j->len += sizeof(ngx_http_coinhunt_logged_t) + ngx_align(len, 8);
}


void
ngx_http_coinhunt_journal_commit(void)
{
    ngx_http_coinhunt_journal_t  *j;

    j = ngx_http_coinhunt_journal;

    ngx_http_coinhunt_barrier();
    __atomic_store_n(&j->committed, j->len, __ATOMIC_RELEASE);
    ngx_http_coinhunt_barrier();
}


void
ngx_http_coinhunt_journal_apply(ngx_uint_t tags)
{
    ngx_http_coinhunt_log_apply(ngx_http_coinhunt_journal, tags);
}


void
ngx_http_coinhunt_journal_end(void)
{
    ngx_http_coinhunt_barrier();
    __atomic_store_n(&ngx_http_coinhunt_journal->committed, 0,
                     __ATOMIC_RELEASE);
}


/*
 * Logs the append of "x" to the list of "head" and "tail" whose tail's link
 * is "link" (NULL: the list is empty): the link, or the head, then the tail.
 */
void
ngx_http_coinhunt_journal_append(ngx_uint_t tags, uint32_t *head,
    uint32_t *tail, uint32_t *link, uint32_t x)
{
    ngx_http_coinhunt_journal_set(tags, link ? link : head, x);
    ngx_http_coinhunt_journal_set(tags, tail, x);
}


/* a section that applies its stores at once: commit, apply, end */
void
ngx_http_coinhunt_journal_done(void)
{
    ngx_http_coinhunt_journal_commit();
    ngx_http_coinhunt_log_apply(ngx_http_coinhunt_journal,
                                NGX_HTTP_COINHUNT_LOG_ALL);
    ngx_http_coinhunt_journal_end();
}


/* the stores of entries tagged with any of "tags", in the logged order */
static void
ngx_http_coinhunt_log_apply(ngx_http_coinhunt_journal_t *j, ngx_uint_t tags)
{
    u_char                      *p, *last, *zone;
    ngx_http_coinhunt_logged_t  *e;

    zone = (u_char *) ngx_http_coinhunt_sh;
    p = j->log;
    last = p + ngx_min(j->committed, NGX_HTTP_COINHUNT_LOG_SIZE);

    while (p + sizeof(ngx_http_coinhunt_logged_t) <= last) {
        e = (ngx_http_coinhunt_logged_t *) p;

        if (e->tags & tags) {
            ngx_memcpy(zone + e->off, e + 1, e->len);

            /* racy readers see a slot's state after the words before it */
            ngx_http_coinhunt_barrier();
        }

        p += sizeof(ngx_http_coinhunt_logged_t) + ngx_align(e->len, 8);
    }
}


/*
 * Redoes the committed stores of the dead process "dead" under "lock", a
 * lock just taken over from it: how many sections were redone.  This
 * process's record says for whom it redoes, in case it dies doing so.
 */
ngx_uint_t
ngx_http_coinhunt_journal_redo(ngx_http_coinhunt_shctx_t *sh, uint32_t *lock,
    uint32_t dead)
{
    ngx_uint_t                    redone;
    ngx_http_coinhunt_journal_t  *me;

    me = ngx_http_coinhunt_journal;

    if (me) {
        __atomic_store_n(&me->repairing, dead, __ATOMIC_RELEASE);
        ngx_http_coinhunt_barrier();
    }

    redone = ngx_http_coinhunt_journal_redo_for(sh, lock, dead, 0);

    if (me) {
        ngx_http_coinhunt_barrier();
        __atomic_store_n(&me->repairing, 0, __ATOMIC_RELEASE);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_CORE, ngx_cycle->log, 0,
                   "coinhunt: redid %ui section(s) of dead process %uD",
                   redone, dead);

    return redone;
}


/* the dead process's committed stores under "lock": how many sections */
static ngx_uint_t
ngx_http_coinhunt_journal_redo_for(ngx_http_coinhunt_shctx_t *sh,
    uint32_t *lock, uint32_t dead, ngx_uint_t depth)
{
    ngx_uint_t                    i, n;
    ngx_http_coinhunt_slot_t     *slot;
    ngx_http_coinhunt_journal_t   copy;

    if (ngx_http_coinhunt_journal_find(sh, dead, &copy) != NGX_OK) {
        return 0;
    }

    n = 0;

    /* it died redoing another's work under this lock: that first */
    if (copy.repairing && depth < NGX_HTTP_COINHUNT_REDO_DEPTH) {
        n += ngx_http_coinhunt_journal_redo_for(sh, lock, copy.repairing,
                                                depth + 1);
    }

    if (copy.tap && copy.tap <= sh->capacity) {
        slot = ngx_http_coinhunt_slot(sh, copy.tap - 1);

        if (&slot->lock == lock) {
            slot->taps = copy.taps;
            slot->last_tap_ms = copy.last_tap_ms;
            slot->excess = copy.excess;
            slot->seq = copy.seq;
            slot->score = copy.score;
            slot->coins = copy.coins;
            ngx_memcpy(ngx_http_coinhunt_slot_fields(slot), copy.fields,
                       sh->nfields * sizeof(double));
            n++;
        }
    }

    if (copy.committed) {
        for (i = 0; i < copy.nlocks && i < NGX_HTTP_COINHUNT_LOG_LOCKS; i++) {
            if (copy.locks[i] == ngx_http_coinhunt_zone_off(sh, lock)) {
                ngx_http_coinhunt_log_apply(&copy, (ngx_uint_t) 1 << i);
                n++;
            }
        }
    }

    return n;
}


/* a copy of the record "pid" owns, unless it was freed meanwhile */
static ngx_int_t
ngx_http_coinhunt_journal_find(ngx_http_coinhunt_shctx_t *sh, uint32_t pid,
    ngx_http_coinhunt_journal_t *copy)
{
    ngx_uint_t                    i;
    ngx_http_coinhunt_journal_t  *r;

    for (i = 0; i < sh->njournals; i++) {
        r = &ngx_http_coinhunt_journals(sh)[i];

        if (__atomic_load_n(&r->owner, __ATOMIC_ACQUIRE) != pid) {
            continue;
        }

        ngx_memcpy(copy, r, sizeof(ngx_http_coinhunt_journal_t));
        __atomic_thread_fence(__ATOMIC_ACQUIRE);

        /* a new owner writes only after its pid: the copy is the dead's */
        return __atomic_load_n(&r->owner, __ATOMIC_ACQUIRE) == pid
               ? NGX_OK : NGX_DECLINED;
    }

    return NGX_DECLINED;
}


/* a gauge kept in shares, one a record: sessions, Redis pending scores */
/* a gauge kept in shares, one a record: sessions, Redis pending scores */
int64_t
ngx_http_coinhunt_journal_sum(ngx_http_coinhunt_shctx_t *sh, size_t offset)
{
    int64_t     sum;
    ngx_uint_t  i;

    sum = 0;

    for (i = 0; i < sh->njournals; i++) {
        sum += *(int64_t *) ((u_char *) ngx_http_coinhunt_journal_at(sh, i)
                             + offset);
    }

    return sum;
}
