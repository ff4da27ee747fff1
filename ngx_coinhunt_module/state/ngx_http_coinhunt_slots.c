
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_journal.h"
#include "ngx_http_coinhunt_index.h"
#include "ngx_http_coinhunt_board.h"
#include "ngx_http_coinhunt_slots.h"


/*
 * Where a session's slot comes from: the free list, else the never-used
 * tail, so start-up touches no slot page, else the oldest retired slot,
 * reclaimed; and the FIFO of retired slots.  The free list and the tail
 * change under the free lock, taken alone; the FIFO under its lock.  A slot
 * taken from the free slots is noted in the journal until it is placed.
 */


static uint32_t ngx_http_coinhunt_slot_reclaim(ngx_http_coinhunt_shctx_t *sh);


uint32_t
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

        stripe = ngx_http_coinhunt_stripe(sh, b);

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

        pd = sh->region[NGX_HTTP_COINHUNT_R_PENDING]
             ? ngx_http_coinhunt_pending(sh, index) : NULL;

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
void
ngx_http_coinhunt_retired_link(ngx_http_coinhunt_shctx_t *sh, ngx_uint_t tag,
    ngx_http_coinhunt_slot_t *slot, uint32_t index)
{
    uint32_t  tail, links[2], *link;

    tail = sh->retired_tail;
    links[0] = tail;
    links[1] = 0;

    ngx_http_coinhunt_journal_put(tag, &slot->retired, links, sizeof(links));

    link = tail ? &ngx_http_coinhunt_slot(sh, tail - 1)->retired.next : NULL;

    ngx_http_coinhunt_journal_append(tag, &sh->retired_head,
                                     &sh->retired_tail, link, index + 1);
}


/* logs the removal of a slot, not the tail if a link follows, from the FIFO */
void
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
