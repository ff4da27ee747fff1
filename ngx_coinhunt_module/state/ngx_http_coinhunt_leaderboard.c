
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_coinhunt_module.h"
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_http.h"
#include "ngx_http_coinhunt_session.h"
#include "ngx_http_coinhunt_redis.h"
#include "ngx_http_coinhunt_leaderboard.h"


/*
 * Local leaderboards: per hunt, a treap over the session slots of the hunt
 * (live and retired), whose nodes sit in an array parallel to the slots and
 * whose priorities are a hash of the slot index.  Each node counts its
 * subtree, so an update, a rank and the start of the top list are
 * O(log n).  The order: score descending, then player name ascending
 * bytewise (a prefix first), the order of Redis mode's ZRANGE on negated
 * scores.  A hunt's board lock is held only for a tree operation and the
 * slot stores that go with it, innermost.  A slot is on its hunt's board
 * exactly while it is not free: a join and a reclaim change its state with
 * the board locked, so a board can always be rebuilt from the slots.
 */


#define ngx_http_coinhunt_node(sh, x)  (&(sh)->nodes[(x) - 1])
#define ngx_http_coinhunt_size(sh, x)                                         \
    ((x) ? ngx_http_coinhunt_node(sh, x)->size : 0)


static uint32_t ngx_http_coinhunt_priority(uint32_t x);
static ngx_int_t ngx_http_coinhunt_before(ngx_http_coinhunt_shctx_t *sh,
    uint32_t a, uint32_t b);
static void ngx_http_coinhunt_rotate_up(ngx_http_coinhunt_shctx_t *sh,
    uint32_t *root, uint32_t x);
static void ngx_http_coinhunt_tree_insert(ngx_http_coinhunt_shctx_t *sh,
    uint32_t *root, uint32_t x);
static void ngx_http_coinhunt_tree_remove(ngx_http_coinhunt_shctx_t *sh,
    uint32_t *root, uint32_t x);
static uint32_t ngx_http_coinhunt_tree_prev(ngx_http_coinhunt_shctx_t *sh,
    uint32_t x);
static uint32_t ngx_http_coinhunt_tree_next(ngx_http_coinhunt_shctx_t *sh,
    uint32_t x);
static int64_t ngx_http_coinhunt_tree_rank(ngx_http_coinhunt_shctx_t *sh,
    uint32_t root, uint32_t x);
static ngx_int_t ngx_http_coinhunt_leaderboard(ngx_http_request_t *r);
static ngx_int_t ngx_http_coinhunt_local_board(ngx_http_request_t *r,
    ngx_str_t *hunt, ngx_uint_t top, ngx_http_coinhunt_me_t *me,
    uint32_t index);


static ngx_str_t  ngx_http_coinhunt_default_board = ngx_string("default");


/* a bijection of 32-bit words (murmur3's finalizer): distinct priorities */
static uint32_t
ngx_http_coinhunt_priority(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x85ebca6b;
    x ^= x >> 13;
    x *= 0xc2b2ae35;
    x ^= x >> 16;

    return x;
}


/* whether slot a - 1 ranks before slot b - 1 */
NGX_HTTP_COINHUNT_HOT
static ngx_int_t
ngx_http_coinhunt_before(ngx_http_coinhunt_shctx_t *sh, uint32_t a,
    uint32_t b)
{
    ngx_int_t                  rc;
    ngx_http_coinhunt_slot_t  *sa, *sb;

    sa = ngx_http_coinhunt_slot(sh, a - 1);
    sb = ngx_http_coinhunt_slot(sh, b - 1);

    if (sa->score != sb->score) {
        return sa->score > sb->score;
    }

    rc = ngx_memcmp(sa->player, sb->player,
                    ngx_min(sa->player_len, sb->player_len));

    if (rc != 0) {
        return rc < 0;
    }

    return sa->player_len < sb->player_len;
}


/* lifts x above its parent, keeping the in-order sequence and the sizes */
NGX_HTTP_COINHUNT_HOT
static void
ngx_http_coinhunt_rotate_up(ngx_http_coinhunt_shctx_t *sh, uint32_t *root,
    uint32_t x)
{
    uint32_t                   p, g, c;
    ngx_http_coinhunt_node_t  *nx, *np, *ng;

    nx = ngx_http_coinhunt_node(sh, x);
    p = nx->parent;
    np = ngx_http_coinhunt_node(sh, p);
    g = np->parent;

    if (np->left == x) {
        c = nx->right;
        np->left = c;
        nx->right = p;

    } else {
        c = nx->left;
        np->right = c;
        nx->left = p;
    }

    if (c) {
        ngx_http_coinhunt_node(sh, c)->parent = p;
    }

    np->parent = x;
    nx->parent = g;

    if (g == 0) {
        *root = x;

    } else {
        ng = ngx_http_coinhunt_node(sh, g);

        if (ng->left == p) {
            ng->left = x;

        } else {
            ng->right = x;
        }
    }

    nx->size = np->size;
    np->size = ngx_http_coinhunt_size(sh, np->left)
               + ngx_http_coinhunt_size(sh, np->right) + 1;
}


NGX_HTTP_COINHUNT_HOT
static void
ngx_http_coinhunt_tree_insert(ngx_http_coinhunt_shctx_t *sh, uint32_t *root,
    uint32_t x)
{
    uint32_t                   p, *link, prio;
    ngx_http_coinhunt_node_t  *nx, *np;

    nx = ngx_http_coinhunt_node(sh, x);
    nx->left = 0;
    nx->right = 0;
    nx->size = 1;

    p = 0;
    link = root;

    while (*link) {
        p = *link;
        np = ngx_http_coinhunt_node(sh, p);
        np->size++;
        link = ngx_http_coinhunt_before(sh, x, p) ? &np->left : &np->right;
    }

    *link = x;
    nx->parent = p;

    prio = ngx_http_coinhunt_priority(x);

    while (nx->parent && prio > ngx_http_coinhunt_priority(nx->parent)) {
        ngx_http_coinhunt_rotate_up(sh, root, x);
    }
}


NGX_HTTP_COINHUNT_HOT
static void
ngx_http_coinhunt_tree_remove(ngx_http_coinhunt_shctx_t *sh, uint32_t *root,
    uint32_t x)
{
    uint32_t                   c, p;
    ngx_http_coinhunt_node_t  *nx, *np;

    nx = ngx_http_coinhunt_node(sh, x);

    /* sink x below its children until it has one child at most */
    while (nx->left && nx->right) {
        c = (ngx_http_coinhunt_priority(nx->left)
             > ngx_http_coinhunt_priority(nx->right))
            ? nx->left : nx->right;

        ngx_http_coinhunt_rotate_up(sh, root, c);
    }

    c = nx->left ? nx->left : nx->right;
    p = nx->parent;

    if (c) {
        ngx_http_coinhunt_node(sh, c)->parent = p;
    }

    if (p == 0) {
        *root = c;

    } else {
        np = ngx_http_coinhunt_node(sh, p);

        if (np->left == x) {
            np->left = c;

        } else {
            np->right = c;
        }
    }

    for ( /* void */ ; p; p = ngx_http_coinhunt_node(sh, p)->parent) {
        ngx_http_coinhunt_node(sh, p)->size--;
    }

    nx->left = 0;
    nx->right = 0;
    nx->parent = 0;
    nx->size = 0;
}


static uint32_t
ngx_http_coinhunt_tree_prev(ngx_http_coinhunt_shctx_t *sh, uint32_t x)
{
    uint32_t                   p;
    ngx_http_coinhunt_node_t  *n;

    n = ngx_http_coinhunt_node(sh, x);

    if (n->left) {
        for (x = n->left; ngx_http_coinhunt_node(sh, x)->right;
             x = ngx_http_coinhunt_node(sh, x)->right)
        { /* void */ }

        return x;
    }

    for (p = n->parent; p && ngx_http_coinhunt_node(sh, p)->left == x;
         p = ngx_http_coinhunt_node(sh, p)->parent)
    {
        x = p;
    }

    return p;
}


NGX_HTTP_COINHUNT_HOT
static uint32_t
ngx_http_coinhunt_tree_next(ngx_http_coinhunt_shctx_t *sh, uint32_t x)
{
    uint32_t                   p;
    ngx_http_coinhunt_node_t  *n;

    n = ngx_http_coinhunt_node(sh, x);

    if (n->right) {
        for (x = n->right; ngx_http_coinhunt_node(sh, x)->left;
             x = ngx_http_coinhunt_node(sh, x)->left)
        { /* void */ }

        return x;
    }

    for (p = n->parent; p && ngx_http_coinhunt_node(sh, p)->right == x;
         p = ngx_http_coinhunt_node(sh, p)->parent)
    {
        x = p;
    }

    return p;
}


/* x's rank on the board of "root", 0 if x is not on that board */
static int64_t
ngx_http_coinhunt_tree_rank(ngx_http_coinhunt_shctx_t *sh, uint32_t root,
    uint32_t x)
{
    int64_t                    rank;
    uint32_t                   p;
    ngx_http_coinhunt_node_t  *n;

    n = ngx_http_coinhunt_node(sh, x);

    if (n->size == 0) {
        return 0;
    }

    rank = ngx_http_coinhunt_size(sh, n->left) + 1;

    for (p = n->parent; p; p = n->parent) {
        n = ngx_http_coinhunt_node(sh, p);

        if (n->right == x) {
            rank += ngx_http_coinhunt_size(sh, n->left) + 1;
        }

        x = p;
    }

    return x == root ? rank : 0;
}


/* the board of "hunt" locked, in local mode: a slot joins or leaves it */
uint32_t *
ngx_http_coinhunt_board_lock(ngx_http_coinhunt_shctx_t *sh, uint16_t hunt)
{
    uint32_t  *lock;

    if (sh->nodes == NULL) {
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

    if (sh->nodes == NULL) {
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
    uint32_t                   x, prev, next;
    ngx_http_coinhunt_hunt_t  *hunt;

    if (sh->nodes == NULL) {
        return;
    }

    hunt = &sh->hunts[slot->hunt];
    x = (uint32_t) (((u_char *) slot - sh->slots) / sh->stride) + 1;

    prev = ngx_http_coinhunt_tree_prev(sh, x);
    next = ngx_http_coinhunt_tree_next(sh, x);

    /* most coins do not pass anyone: the node stays where it is */
    if ((prev && !ngx_http_coinhunt_before(sh, prev, x))
        || (next && !ngx_http_coinhunt_before(sh, x, next)))
    {
        ngx_http_coinhunt_tree_remove(sh, &hunt->board_root, x);
        ngx_http_coinhunt_tree_insert(sh, &hunt->board_root, x);
    }
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

    if (sh->nodes == NULL) {
        slot->score = score;
        ngx_http_coinhunt_redis_dirty(sh, slot);
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
                  &name, ngx_http_coinhunt_size(sh, root));
}


ngx_int_t
ngx_http_coinhunt_leaderboard_handler(ngx_http_request_t *r)
{
    if (ngx_http_coinhunt_allow(r, NGX_HTTP_GET|NGX_HTTP_HEAD, "GET, HEAD")
        != NGX_OK)
    {
        return ngx_http_coinhunt_rejected(r);
    }

    return ngx_http_coinhunt_with_params(r, ngx_http_coinhunt_leaderboard);
}


static ngx_int_t
ngx_http_coinhunt_leaderboard(ngx_http_request_t *r)
{
    int64_t                         top;
    ngx_int_t                       rc;
    ngx_str_t                       hunt, deflt, token;
    ngx_http_coinhunt_me_t          me;
    ngx_http_coinhunt_slot_t       *slot;
    ngx_http_coinhunt_token_t       t;
    ngx_http_coinhunt_shctx_t      *sh;
    ngx_http_coinhunt_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_coinhunt_module);
    sh = ngx_http_coinhunt_sh;

    rc = ngx_http_coinhunt_int_param(r, "top", 1, NGX_HTTP_COINHUNT_TOP_MAX,
                                     &top);
    if (rc == NGX_DECLINED) {
        top = NGX_HTTP_COINHUNT_TOP_DEFAULT;

    } else if (rc != NGX_OK) {
        return ngx_http_coinhunt_rejected(r);
    }

    ngx_memzero(&me, sizeof(ngx_http_coinhunt_me_t));
    deflt = ngx_http_coinhunt_default_board;
    t.slot = 0;

    /* with a session: "me", and the session's hunt by default */
    if (r->headers_in.authorization
        || ngx_http_coinhunt_param(r, "session", &token) != NGX_DECLINED)
    {
        if (ngx_http_coinhunt_authorize(r, &t) != NGX_OK) {
            return ngx_http_coinhunt_rejected(r);
        }

        slot = ngx_http_coinhunt_authorized_lock(r, &t,
                                                 ngx_http_coinhunt_now_ms()
                                                 - (int64_t)
                                                   cmcf->session_ttl);
        if (slot == NULL) {
            return ngx_http_coinhunt_rejected(r);
        }

        deflt = ngx_http_coinhunt_hunt_name(sh, slot->hunt);

        me.wanted = 1;
        me.score = slot->score;
        me.player.len = slot->player_len;
        me.player.data = ngx_pnalloc(r->pool, slot->player_len);

        if (me.player.data) {
            ngx_memcpy(me.player.data, slot->player, slot->player_len);
        }

        ngx_http_coinhunt_unlock(&slot->lock);

        if (me.player.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (ngx_http_coinhunt_name_param(r, "hunt", &deflt, &hunt) != NGX_OK) {
        return ngx_http_coinhunt_rejected(r);
    }

    if (me.wanted
        && (hunt.len != deflt.len
            || ngx_memcmp(hunt.data, deflt.data, hunt.len) != 0))
    {
        return ngx_http_coinhunt_error(r, NGX_HTTP_BAD_REQUEST,
                                       "bad_request",
                                       "the session plays another hunt");
    }

    if (cmcf->redis) {
        return ngx_http_coinhunt_redis_leaderboard(r, &hunt, (ngx_uint_t) top,
                                                   &me);
    }

    return ngx_http_coinhunt_local_board(r, &hunt, (ngx_uint_t) top, &me,
                                         t.slot);
}


static ngx_int_t
ngx_http_coinhunt_local_board(ngx_http_request_t *r, ngx_str_t *hunt,
    ngx_uint_t top, ngx_http_coinhunt_me_t *me, uint32_t index)
{
    uint16_t                    id;
    uint32_t                    x;
    ngx_uint_t                  n;
    ngx_http_coinhunt_hunt_t   *h;
    ngx_http_coinhunt_slot_t   *slot;
    ngx_http_coinhunt_entry_t  *entries;
    ngx_http_coinhunt_shctx_t  *sh;

    sh = ngx_http_coinhunt_sh;

    if (ngx_http_coinhunt_hunt_find(sh, hunt, 0, &id) != NGX_OK) {
        return ngx_http_coinhunt_leaderboard_send(r, hunt, NULL, 0, me);
    }

    entries = ngx_palloc(r->pool, top * sizeof(ngx_http_coinhunt_entry_t));
    if (entries == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h = &sh->hunts[id];
    n = 0;

    ngx_http_coinhunt_lock(&h->board_lock);

    x = h->board_root;

    while (x && ngx_http_coinhunt_node(sh, x)->left) {
        x = ngx_http_coinhunt_node(sh, x)->left;
    }

    for ( /* void */ ; x && n < top; x = ngx_http_coinhunt_tree_next(sh, x)) {
        slot = ngx_http_coinhunt_slot(sh, x - 1);

        entries[n].score = slot->score;
        entries[n].len = slot->player_len;
        ngx_memcpy(entries[n].player, slot->player, slot->player_len);
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

    return ngx_http_coinhunt_leaderboard_send(r, hunt, entries, n, me);
}


ngx_int_t
ngx_http_coinhunt_leaderboard_send(ngx_http_request_t *r, ngx_str_t *hunt,
    ngx_http_coinhunt_entry_t *top, ngx_uint_t n, ngx_http_coinhunt_me_t *me)
{
    u_char      *p, *last;
    ngx_str_t    player;
    ngx_uint_t   i;

    p = ngx_pnalloc(r->pool, 128 + NGX_HTTP_COINHUNT_NAME_MAX
                             + n * (64 + NGX_HTTP_COINHUNT_NAME_MAX));
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* names are of [A-Za-z0-9_.-]: nothing to escape */
    last = ngx_sprintf(p, "{\"hunt\":\"%V\",\"top\":[", hunt);

    for (i = 0; i < n; i++) {
        player.data = top[i].player;
        player.len = top[i].len;

        last = ngx_sprintf(last, "%s{\"rank\":%ui,\"player\":\"%V\","
                           "\"score\":%L}",
                           i ? "," : "", i + 1, &player, top[i].score);
    }

    *last++ = ']';

    if (me->wanted && me->found) {
        last = ngx_sprintf(last, ",\"me\":{\"rank\":%L,\"score\":%L}",
                           me->rank, me->score);

    } else if (me->wanted) {
        last = ngx_sprintf(last, ",\"me\":{\"rank\":null,\"score\":%L}",
                           me->score);
    }

    last = ngx_cpymem(last, "}\n", 2);

    return ngx_http_coinhunt_send(r, NGX_HTTP_OK, p, last - p);
}
