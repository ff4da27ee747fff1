
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_tree.h"


/*
 * The order-statistics tree of a local leaderboard: a treap over session
 * slots, whose nodes sit in an array parallel to the slots and whose
 * priorities are a hash of the slot index.  Each node counts its subtree,
 * so an update, a rank and the start of the top list are O(log n).  The
 * order: score descending, then player name ascending bytewise (a prefix
 * first), the order of Redis mode's ZRANGE on negated scores.  Links are
 * slot + 1, 0: none.  The caller holds the board's lock.
 */


#define ngx_http_coinhunt_node(sh, x)                                         \
    ((ngx_http_coinhunt_node_t *) ngx_http_coinhunt_zone_at(sh,             \
        (sh)->region[NGX_HTTP_COINHUNT_R_NODES]) + (x) - 1)
#define ngx_http_coinhunt_size(sh, x)                                         \
    ((x) ? ngx_http_coinhunt_node(sh, x)->size : 0)


static uint32_t ngx_http_coinhunt_priority(uint32_t x);
static ngx_int_t ngx_http_coinhunt_before(ngx_http_coinhunt_shctx_t *sh,
    uint32_t a, uint32_t b);
static void ngx_http_coinhunt_rotate_up(ngx_http_coinhunt_shctx_t *sh,
    uint32_t *root, uint32_t x);
static uint32_t ngx_http_coinhunt_tree_prev(ngx_http_coinhunt_shctx_t *sh,
    uint32_t x);


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
void
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
void
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
uint32_t
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



/* the first node of the tree at "root" in rank order, 0: empty */
uint32_t
ngx_http_coinhunt_tree_first(ngx_http_coinhunt_shctx_t *sh, uint32_t root)
{
    uint32_t  x;

    x = root;

    while (x && ngx_http_coinhunt_node(sh, x)->left) {
        x = ngx_http_coinhunt_node(sh, x)->left;
    }

    return x;
}


/* x's rank on the board of "root", 0 if x is not on that board */
int64_t
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



/* x's key changed: it moves if it passed a neighbour */
NGX_HTTP_COINHUNT_HOT
void
ngx_http_coinhunt_tree_moved(ngx_http_coinhunt_shctx_t *sh, uint32_t *root,
    uint32_t x)
{
    uint32_t  prev, next;

    prev = ngx_http_coinhunt_tree_prev(sh, x);
    next = ngx_http_coinhunt_tree_next(sh, x);

    /* most coins do not pass anyone: the node stays where it is */
    if ((prev && !ngx_http_coinhunt_before(sh, prev, x))
        || (next && !ngx_http_coinhunt_before(sh, x, next)))
    {
        ngx_http_coinhunt_tree_remove(sh, root, x);
        ngx_http_coinhunt_tree_insert(sh, root, x);
    }
}


/* the number of nodes of the tree at "root" */
uint32_t
ngx_http_coinhunt_tree_size(ngx_http_coinhunt_shctx_t *sh, uint32_t root)
{
    return ngx_http_coinhunt_size(sh, root);
}
