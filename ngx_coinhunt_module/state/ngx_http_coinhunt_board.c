
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_tree.h"
#include "ngx_http_coinhunt_hunts.h"
#include "ngx_http_coinhunt_pending.h"
#include "ngx_http_coinhunt_board.h"


/*
 * A hunt's board.  Local mode: an order-statistics tree over the session
 * slots of the hunt, live and retired (shm/ngx_http_coinhunt_tree.c).  A
 * hunt's board lock is held only for a tree operation and the slot stores
 * that go with it, innermost.  A slot is on its hunt's board exactly while
 * it is not free: a join and a reclaim change its state with the board
 * locked, so a board can always be rebuilt from the slots.  Redis mode: a
 * changed score is queued for the flush (ngx_http_coinhunt_pending.c).
 */


/* the board of "hunt" locked, in local mode: a slot joins or leaves it */
uint32_t *
ngx_http_coinhunt_board_lock(ngx_http_coinhunt_shctx_t *sh, uint16_t hunt)
{
    uint32_t  *lock;

    if (sh->region[NGX_HTTP_COINHUNT_R_NODES] == 0) {
        return NULL;
    }

    lock = &sh->hunts[hunt].board_lock;
    ngx_http_coinhunt_lock(lock);

    return lock;
}


/* the slot joins its hunt's board, or leaves it; the caller holds its lock */
void
ngx_http_coinhunt_board_member(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, uint32_t index, ngx_uint_t on)
{
    uint32_t  *root;

    if (sh->region[NGX_HTTP_COINHUNT_R_NODES] == 0) {
        return;
    }

    root = &sh->hunts[slot->hunt].board_root;

    if (on) {
        ngx_http_coinhunt_tree_insert(sh, root, index + 1);

    } else {
        ngx_http_coinhunt_tree_remove(sh, root, index + 1);
    }
}


/* the slot's score changed, its board locked: it moves if it passed anyone */
NGX_HTTP_COINHUNT_HOT
void
ngx_http_coinhunt_board_moved(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot)
{
    uint32_t  x;

    if (sh->region[NGX_HTTP_COINHUNT_R_NODES] == 0) {
        return;
    }

    x = ngx_http_coinhunt_slot_index(sh, slot) + 1;

    ngx_http_coinhunt_tree_moved(sh, &sh->hunts[slot->hunt].board_root, x);
}


/*
 * Sets the score of a slot locked by the caller: moves it on its local
 * board, or in Redis mode marks it for the next flush.
 */
NGX_HTTP_COINHUNT_HOT
void
ngx_http_coinhunt_board_score(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, int64_t score)
{
    ngx_http_coinhunt_hunt_t  *hunt;

    if (score == slot->score) {
        return;
    }

    if (sh->region[NGX_HTTP_COINHUNT_R_NODES] == 0) {
        slot->score = score;
        ngx_http_coinhunt_pending_dirty(sh, slot);
        return;
    }

    hunt = &sh->hunts[slot->hunt];

    ngx_http_coinhunt_lock(&hunt->board_lock);

    slot->score = score;
    ngx_http_coinhunt_board_moved(sh, slot);

    ngx_http_coinhunt_unlock(&hunt->board_lock);
}


/*
 * The board of a hunt, its lock held, made anew from the slots: every used
 * slot of the hunt that is not free is on it.  For a board a killed process
 * left in the middle of a tree update; O(slots + n log n).  A slot joins or
 * leaves a board only with the board's lock held, its hunt written before
 * its state, so the slots of other hunts read here without their locks are
 * never taken for this hunt's.
 */
void
ngx_http_coinhunt_board_rebuild(ngx_http_coinhunt_shctx_t *sh, uint16_t h)
{
    uint32_t                   i, used, root;
    ngx_str_t                  name;
    ngx_http_coinhunt_slot_t  *slot;

    used = (uint32_t) ngx_min(__atomic_load_n(&sh->unused, __ATOMIC_RELAXED),
                              sh->capacity);
    root = 0;

    for (i = 0; i < used; i++) {
        slot = ngx_http_coinhunt_slot(sh, i);

        if (__atomic_load_n(&slot->state, __ATOMIC_ACQUIRE)
            == NGX_HTTP_COINHUNT_SLOT_FREE
            || slot->hunt != h)
        {
            continue;
        }

        ngx_http_coinhunt_tree_insert(sh, &root, i + 1);
    }

    sh->hunts[h].board_root = root;

    name = ngx_http_coinhunt_hunt_name(sh, h);

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "coinhunt: rebuilt the board of hunt \"%V\" (%uD players)",
                  &name, ngx_http_coinhunt_tree_size(sh, root));
}


/*
 * The top of a local board, and the rank and score of the session in slot
 * "index" if b->me is wanted; the board's lock is held for the walk.
 */
void
ngx_http_coinhunt_board_top(ngx_http_coinhunt_shctx_t *sh, uint16_t id,
    ngx_http_coinhunt_board_read_t *b, uint32_t index)
{
    uint32_t                   x;
    ngx_uint_t                 n;
    ngx_http_coinhunt_hunt_t  *h;
    ngx_http_coinhunt_slot_t  *slot;
    ngx_http_coinhunt_me_t    *me;

    h = &sh->hunts[id];
    me = &b->me;
    n = 0;

    ngx_http_coinhunt_lock(&h->board_lock);

    for (x = ngx_http_coinhunt_tree_first(sh, h->board_root);
         x && n < b->top;
         x = ngx_http_coinhunt_tree_next(sh, x))
    {
        slot = ngx_http_coinhunt_slot(sh, x - 1);

        b->entries[n].score = slot->score;
        b->entries[n].len = slot->player_len;
        ngx_memcpy(b->entries[n].player, slot->player, slot->player_len);
        n++;
    }

    /* the session's slot, unless it was reclaimed meanwhile */
    if (me->wanted) {
        slot = ngx_http_coinhunt_slot(sh, index);
        me->rank = ngx_http_coinhunt_tree_rank(sh, h->board_root, index + 1);

        if (me->rank
            && slot->player_len == me->player.len
            && ngx_memcmp(slot->player, me->player.data, me->player.len) == 0)
        {
            me->score = slot->score;
            me->found = 1;
        }
    }

    ngx_http_coinhunt_unlock(&h->board_lock);

    b->n = n;
}
