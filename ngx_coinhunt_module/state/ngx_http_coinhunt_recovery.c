
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_journal.h"
#include "ngx_http_coinhunt_slots.h"
#include "ngx_http_coinhunt_board.h"
#include "ngx_http_coinhunt_pending.h"
#include "ngx_http_coinhunt_recovery.h"


/*
 * Crash recovery over the journal's primitives (shm/ngx_http_coinhunt_
 * journal.c).  The lock's repair hook, installed here, redoes what a dead
 * holder had committed under the lock, then re-derives what depends on the
 * data: a board taken over is rebuilt from its slots; a slot whose tap or
 * section was redone is put back in its place on the board, or queued for
 * the Redis flush; the Redis dirty list gets its marks back.  A new worker
 * at start, and every worker at each sweep, passes through the locks of
 * every dead process's committed sections (taking them over if still
 * held), frees the slot it had taken and not placed, and frees its record.
 */


static void ngx_http_coinhunt_recover_dead(ngx_http_coinhunt_shctx_t *sh);
static void ngx_http_coinhunt_recover(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_journal_t *r);
static void ngx_http_coinhunt_recovery_pass(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_journal_t *r);
static void ngx_http_coinhunt_recovery_repair(uint32_t *lock, uint32_t dead);
static void ngx_http_coinhunt_slot_repaired(ngx_http_coinhunt_shctx_t *sh,
    uint32_t index);


/*
 * Claims a free journal record, then recovers those of dead processes,
 * before any lock of this process: what killed workers left half-done is
 * finished.  From now on a lock taken over is repaired.
 */
ngx_int_t
ngx_http_coinhunt_recovery_init(ngx_log_t *log)
{
    ngx_uint_t                  waited;
    ngx_http_coinhunt_shctx_t  *sh;

    sh = ngx_http_coinhunt_sh;

    ngx_http_coinhunt_lock_repair = ngx_http_coinhunt_recovery_repair;

    for (waited = 0; /* void */ ; waited++) {

        ngx_http_coinhunt_lock(&sh->journal_lock);

        if (ngx_http_coinhunt_journal_claim(sh) == NGX_OK) {
            break;
        }

        ngx_http_coinhunt_unlock(&sh->journal_lock);

        /* more processes than records: old workers free theirs as they exit */
        if (waited == 0) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "coinhunt: all %uD journal records are taken, "
                          "waiting for an exiting worker's", sh->njournals);
        }

        ngx_msleep(100);
    }

    ngx_http_coinhunt_recover_dead(sh);

    ngx_http_coinhunt_unlock(&sh->journal_lock);

    return NGX_OK;
}


void
ngx_http_coinhunt_recovery_exit(void)
{
    ngx_http_coinhunt_journal_exit();
}


/*
 * Called every sweep: the records of dead processes are recovered, so that
 * the work of an old worker killed while exiting (no one replaces it) is
 * finished too, and a worker waiting for a record gets one.
 */
void
ngx_http_coinhunt_recovery_sweep(void)
{
    ngx_uint_t                  i;
    ngx_http_coinhunt_shctx_t  *sh;

    sh = ngx_http_coinhunt_sh;

    for (i = 0; i < sh->njournals; i++) {
        if (ngx_http_coinhunt_journal_dead(ngx_http_coinhunt_journal_at(sh, i)))
        {
            ngx_http_coinhunt_lock(&sh->journal_lock);
            ngx_http_coinhunt_recover_dead(sh);
            ngx_http_coinhunt_unlock(&sh->journal_lock);
            return;
        }
    }
}


/* the journal lock held */
static void
ngx_http_coinhunt_recover_dead(ngx_http_coinhunt_shctx_t *sh)
{
    ngx_uint_t  i;

    for (i = 0; i < sh->njournals; i++) {
        if (ngx_http_coinhunt_journal_dead(ngx_http_coinhunt_journal_at(sh, i)))
        {
            ngx_http_coinhunt_recover(sh, ngx_http_coinhunt_journal_at(sh, i));
        }
    }
}


/* a dead process's record: its sections finished, its loose slot freed */
static void
ngx_http_coinhunt_recover(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_journal_t *r)
{
    ngx_uint_t                   i;
    ngx_http_coinhunt_journal_t  *other;

    /* the process it was redoing for: its locks may be this one's now */
    if (r->repairing) {
        for (i = 0; i < sh->njournals; i++) {
            other = &ngx_http_coinhunt_journals(sh)[i];

            if (other->owner == r->repairing) {
                ngx_http_coinhunt_recovery_pass(sh, other);
            }
        }
    }

    ngx_http_coinhunt_recovery_pass(sh, r);

    if (r->alloc) {
        ngx_http_coinhunt_slot_release(sh, r);
    }

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "coinhunt: recovered the journal of dead process %uD",
                  r->owner);

    r->committed = 0;
    r->tap = 0;
    r->repairing = 0;
    __atomic_store_n(&r->owner, 0, __ATOMIC_RELEASE);
}


/* each lock of a record's committed sections, taken over if still held */
static void
ngx_http_coinhunt_recovery_pass(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_journal_t *r)
{
    uint32_t    *lock;
    ngx_uint_t   i;

    if (r->committed) {
        for (i = 0; i < r->nlocks && i < NGX_HTTP_COINHUNT_LOG_LOCKS; i++) {
            lock = (uint32_t *) ngx_http_coinhunt_zone_at(sh, r->locks[i]);
            ngx_http_coinhunt_lock(lock);
            ngx_http_coinhunt_unlock(lock);
        }
    }

    if (r->tap && r->tap <= sh->capacity) {
        lock = &ngx_http_coinhunt_slot(sh, r->tap - 1)->lock;
        ngx_http_coinhunt_lock(lock);
        ngx_http_coinhunt_unlock(lock);
    }
}


/* the lock's repair hook: "lock" was just taken over from "dead" */
static void
ngx_http_coinhunt_recovery_repair(uint32_t *lock, uint32_t dead)
{
    u_char                     *p, *slots;
    uint16_t                    h;
    ngx_uint_t                  redone;
    ngx_http_coinhunt_shctx_t  *sh;

    sh = ngx_http_coinhunt_sh;

    redone = ngx_http_coinhunt_journal_redo(sh, lock, dead);

    if (redone) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "coinhunt: finished %ui section(s) dead process %uD "
                      "left half-done", redone, dead);
    }

    p = (u_char *) lock;
    slots = ngx_http_coinhunt_slots(sh);

    if (p >= slots && p < slots + (size_t) sh->capacity * sh->stride
        && (size_t) (p - slots) % sh->stride == 0)
    {
        if (redone) {
            ngx_http_coinhunt_slot_repaired(sh, (uint32_t)
                                            ((p - slots) / sh->stride));
        }

    } else if (p >= (u_char *) sh->hunts
               && p < (u_char *) (sh->hunts + NGX_HTTP_COINHUNT_HUNTS_MAX))
    {
        h = (uint16_t) ((p - (u_char *) sh->hunts)
                        / sizeof(ngx_http_coinhunt_hunt_t));

        if (lock == &sh->hunts[h].board_lock
            && sh->region[NGX_HTTP_COINHUNT_R_NODES])
        {
            ngx_http_coinhunt_board_rebuild(sh, h);
        }

    } else if (lock == &sh->dirty_lock
               && sh->region[NGX_HTTP_COINHUNT_R_PENDING])
    {
        ngx_http_coinhunt_pending_repair(sh);
    }
}


/* a slot whose tap or section was redone: its place on the board, or flush */
static void
ngx_http_coinhunt_slot_repaired(ngx_http_coinhunt_shctx_t *sh, uint32_t index)
{
    uint16_t                   h;
    ngx_http_coinhunt_slot_t  *slot;

    slot = ngx_http_coinhunt_slot(sh, index);
    h = slot->hunt;

    if (sh->region[NGX_HTTP_COINHUNT_R_NODES]) {
        if (h < NGX_HTTP_COINHUNT_HUNTS_MAX && sh->hunts[h].len) {
            ngx_http_coinhunt_lock(&sh->hunts[h].board_lock);
            ngx_http_coinhunt_board_rebuild(sh, h);
            ngx_http_coinhunt_unlock(&sh->hunts[h].board_lock);
        }

    } else if (slot->state != NGX_HTTP_COINHUNT_SLOT_FREE) {
        ngx_http_coinhunt_pending_dirty(sh, slot);
    }
}
