
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_alloc.h"
#include "ngx_http_coinhunt_redis.h"
#include "ngx_http_coinhunt_redis_read.h"


/*
 * Redis mode's reads, each answered through its caller's handler, once,
 * unless it is answered at once: a join's seed (ZSCORE), the top of a board
 * from a per-worker snapshot refreshed at most once per coinhunt_flush
 * (ZRANGE 0 99 WITHSCORES, one fetch however many reads wait for it), and
 * "me" (ZRANK, ZSCORE).  The connection's timeout bounds the wait; a Redis
 * that is down between attempts is unavailable at once, one that is on its
 * way is waited for.  The caller's pool holds the read until its answer.
 */


#define NGX_HTTP_COINHUNT_SNAPSHOTS_MAX   64


/* a worker's cached top of one hunt, and the reads waiting for it */
typedef struct {
    ngx_queue_t                    queue;
    ngx_queue_t                    waiters;
    ngx_msec_t                     fetched;
    ngx_uint_t                     n;
    unsigned                       valid:1;
    unsigned                       fetching:1;
    ngx_str_t                      hunt;
    u_char                         hunt_data[NGX_HTTP_COINHUNT_NAME_MAX];
    ngx_http_coinhunt_entry_t      top[NGX_HTTP_COINHUNT_TOP_MAX];
} ngx_http_coinhunt_snapshot_t;


/* a board read waiting for Redis */
typedef struct {
    ngx_queue_t                      queue;
    ngx_http_coinhunt_board_read_t  *board;
    ngx_http_coinhunt_read_pt        handler;
    void                            *data;
    ngx_uint_t                       pending;
    ngx_http_coinhunt_redis_wait_t   wait;
    unsigned                         failed:1;
} ngx_http_coinhunt_read_t;


/* a join waiting for the score Redis holds */
typedef struct {
    ngx_str_t                      hunt;
    ngx_str_t                      player;
    ngx_http_coinhunt_seed_pt      handler;
    void                          *data;
    ngx_http_coinhunt_redis_wait_t wait;
} ngx_http_coinhunt_join_t;


typedef struct {
    ngx_msec_t                     interval;
    ngx_queue_t                    snapshots;  /* most recently used first */
    ngx_uint_t                     nsnapshots;
} ngx_http_coinhunt_reads_t;


static ngx_int_t ngx_http_coinhunt_seed_send(ngx_http_coinhunt_join_t *join);
static void ngx_http_coinhunt_seed_waited(void *data, ngx_uint_t ready);
static void ngx_http_coinhunt_seed_reply(redisAsyncContext *ac, void *reply,
    void *data);
static ngx_int_t ngx_http_coinhunt_read_send(ngx_http_coinhunt_read_t *rq);
static void ngx_http_coinhunt_read_waited(void *data, ngx_uint_t ready);
static void ngx_http_coinhunt_read_me(ngx_http_coinhunt_read_t *rq,
    u_char *key, size_t len);
static ngx_http_coinhunt_snapshot_t *ngx_http_coinhunt_snapshot(
    ngx_str_t *hunt);
static void ngx_http_coinhunt_snapshot_reply(redisAsyncContext *ac,
    void *reply, void *data);
static void ngx_http_coinhunt_rank_reply(redisAsyncContext *ac, void *reply,
    void *data);
static void ngx_http_coinhunt_me_reply(redisAsyncContext *ac, void *reply,
    void *data);
static void ngx_http_coinhunt_read_done(ngx_http_coinhunt_read_t *rq);


static ngx_http_coinhunt_reads_t  ngx_http_coinhunt_reads;


void
ngx_http_coinhunt_redis_read_init(ngx_http_coinhunt_main_conf_t *cmcf)
{
    ngx_http_coinhunt_reads.interval = cmcf->flush;
    ngx_queue_init(&ngx_http_coinhunt_reads.snapshots);
}


void
ngx_http_coinhunt_redis_read_exit(void)
{
    ngx_queue_t                   *q;
    ngx_http_coinhunt_snapshot_t  *snap;

    while (!ngx_queue_empty(&ngx_http_coinhunt_reads.snapshots)) {
        q = ngx_queue_head(&ngx_http_coinhunt_reads.snapshots);
        ngx_queue_remove(q);
        snap = ngx_queue_data(q, ngx_http_coinhunt_snapshot_t, queue);
        ngx_http_coinhunt_free(snap, sizeof(ngx_http_coinhunt_snapshot_t));
    }

    ngx_http_coinhunt_reads.nsnapshots = 0;
}


/*
 * The score Redis holds for "player" in "hunt": NGX_AGAIN, "handler" is
 * called with it; NGX_DECLINED: Redis is unavailable; NGX_ERROR.
 */
ngx_int_t
ngx_http_coinhunt_redis_seed(ngx_pool_t *pool, ngx_str_t *hunt,
    ngx_str_t *player, ngx_http_coinhunt_seed_pt handler, void *data)
{
    ngx_http_coinhunt_join_t  *join;

    join = ngx_palloc(pool, sizeof(ngx_http_coinhunt_join_t));
    if (join == NULL) {
        return NGX_ERROR;
    }

    join->hunt = *hunt;
    join->player = *player;
    join->handler = handler;
    join->data = data;

    if (ngx_http_coinhunt_redis_ready()) {
        return ngx_http_coinhunt_seed_send(join);
    }

    if (ngx_http_coinhunt_redis_wait(&join->wait,
                                     ngx_http_coinhunt_seed_waited, join)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    return NGX_AGAIN;
}


static ngx_int_t
ngx_http_coinhunt_seed_send(ngx_http_coinhunt_join_t *join)
{
    u_char       key[NGX_HTTP_COINHUNT_KEY_MAX];
    size_t       len[3];
    const char  *argv[3];

    argv[0] = "ZSCORE";
    len[0] = 6;
    argv[1] = (char *) key;
    len[1] = ngx_http_coinhunt_redis_key(key, &join->hunt);
    argv[2] = (char *) join->player.data;
    len[2] = join->player.len;

    if (ngx_http_coinhunt_redis_send(ngx_http_coinhunt_seed_reply, join, 3,
                                     argv, len)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    return NGX_AGAIN;
}


/* the join's ZSCORE, now that the connection is up, or its failure */
static void
ngx_http_coinhunt_seed_waited(void *data, ngx_uint_t ready)
{
    ngx_http_coinhunt_join_t  *join = data;

    if (!ready || ngx_http_coinhunt_seed_send(join) != NGX_AGAIN) {
        join->handler(join->data, NGX_DECLINED, -1);
    }
}


static void
ngx_http_coinhunt_seed_reply(redisAsyncContext *ac, void *reply, void *data)
{
    redisReply                *rep = reply;
    ngx_http_coinhunt_join_t  *join = data;

    int64_t    seed;
    ngx_int_t  rc;

    ngx_http_coinhunt_redis_replied();

    seed = -1;
    rc = NGX_OK;

    if (rep == NULL) {
        ngx_log_debug0(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                       "coinhunt redis: ZSCORE got no reply");
        rc = NGX_DECLINED;

    } else if (rep->type != REDIS_REPLY_NIL
               && ngx_http_coinhunt_redis_score(rep, &seed) != NGX_OK)
    {
        ngx_http_coinhunt_redis_error("ZSCORE", rep);
        rc = NGX_DECLINED;
        seed = -1;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "coinhunt redis: seed of \"%V\" is %L", &join->player,
                   seed);

    join->handler(join->data, rc, seed);
}


/* the cached top of a hunt; the least recently used one makes room */
static ngx_http_coinhunt_snapshot_t *
ngx_http_coinhunt_snapshot(ngx_str_t *hunt)
{
    ngx_queue_t                   *q;
    ngx_http_coinhunt_reads_t     *rd;
    ngx_http_coinhunt_snapshot_t  *snap;

    rd = &ngx_http_coinhunt_reads;

    for (q = ngx_queue_head(&rd->snapshots);
         q != ngx_queue_sentinel(&rd->snapshots);
         q = ngx_queue_next(q))
    {
        snap = ngx_queue_data(q, ngx_http_coinhunt_snapshot_t, queue);

        if (snap->hunt.len == hunt->len
            && ngx_memcmp(snap->hunt.data, hunt->data, hunt->len) == 0)
        {
            ngx_queue_remove(q);
            ngx_queue_insert_head(&rd->snapshots, q);
            return snap;
        }
    }

    snap = NULL;

    if (rd->nsnapshots == NGX_HTTP_COINHUNT_SNAPSHOTS_MAX) {
        for (q = ngx_queue_last(&rd->snapshots);
             q != ngx_queue_sentinel(&rd->snapshots);
             q = ngx_queue_prev(q))
        {
            snap = ngx_queue_data(q, ngx_http_coinhunt_snapshot_t, queue);

            if (!snap->fetching) {
                ngx_queue_remove(q);
                break;
            }

            snap = NULL;
        }

        if (snap == NULL) {
            return NULL;
        }

    } else {
        snap = ngx_http_coinhunt_alloc(sizeof(ngx_http_coinhunt_snapshot_t));
        if (snap == NULL) {
            return NULL;
        }

        rd->nsnapshots++;
    }

    snap->valid = 0;
    snap->fetching = 0;
    snap->n = 0;
    ngx_queue_init(&snap->waiters);
    snap->hunt.data = snap->hunt_data;
    snap->hunt.len = hunt->len;
    ngx_memcpy(snap->hunt_data, hunt->data, hunt->len);

    ngx_queue_insert_head(&rd->snapshots, &snap->queue);

    return snap;
}


/*
 * The top of b->hunt, and b->me if wanted: NGX_OK, "b" is filled now;
 * NGX_AGAIN, "handler" is called once it is; NGX_DECLINED: Redis is
 * unavailable; NGX_ERROR.
 */
ngx_int_t
ngx_http_coinhunt_redis_board(ngx_pool_t *pool,
    ngx_http_coinhunt_board_read_t *b, ngx_http_coinhunt_read_pt handler,
    void *data)
{
    ngx_http_coinhunt_read_t  *rq;

    rq = ngx_pcalloc(pool, sizeof(ngx_http_coinhunt_read_t));
    if (rq == NULL) {
        return NGX_ERROR;
    }

    rq->board = b;
    rq->handler = handler;
    rq->data = data;

    return ngx_http_coinhunt_read_send(rq);
}


/* the read's commands, or its wait for the connection */
static ngx_int_t
ngx_http_coinhunt_read_send(ngx_http_coinhunt_read_t *rq)
{
    u_char                           key[NGX_HTTP_COINHUNT_KEY_MAX];
    size_t                           len[5];
    ngx_uint_t                       stale;
    const char                      *argv[5];
    ngx_http_coinhunt_snapshot_t    *snap;
    ngx_http_coinhunt_board_read_t  *b;

    b = rq->board;

    snap = ngx_http_coinhunt_snapshot(&b->hunt);
    if (snap == NULL) {
        return NGX_DECLINED;
    }

    stale = !snap->valid
            || ngx_current_msec - snap->fetched
               >= ngx_http_coinhunt_reads.interval;

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "coinhunt redis: board \"%V\", snapshot %s%s", &b->hunt,
                   stale ? "stale" : "fresh",
                   b->me.wanted ? ", with me" : "");

    if ((stale || b->me.wanted) && !ngx_http_coinhunt_redis_ready()) {
        if (ngx_http_coinhunt_redis_wait(&rq->wait,
                                         ngx_http_coinhunt_read_waited, rq)
            != NGX_OK)
        {
            return NGX_DECLINED;
        }

        return NGX_AGAIN;
    }

    len[1] = ngx_http_coinhunt_redis_key(key, &b->hunt);
    argv[1] = (char *) key;

    if (stale) {
        if (!snap->fetching) {
            argv[0] = "ZRANGE";
            len[0] = 6;
            argv[2] = "0";
            len[2] = 1;
            argv[3] = "99";
            len[3] = 2;
            argv[4] = "WITHSCORES";
            len[4] = 10;

            if (ngx_http_coinhunt_redis_send(ngx_http_coinhunt_snapshot_reply,
                                             snap, 5, argv, len)
                != NGX_OK)
            {
                return NGX_DECLINED;
            }

            snap->fetching = 1;
        }

        ngx_queue_insert_tail(&snap->waiters, &rq->queue);
        rq->pending++;

    } else {
        b->n = ngx_min(b->top, snap->n);
        ngx_memcpy(b->entries, snap->top,
                   b->n * sizeof(ngx_http_coinhunt_entry_t));
    }

    if (b->me.wanted) {
        ngx_http_coinhunt_read_me(rq, key, len[1]);
    }

    if (rq->pending) {
        return NGX_AGAIN;
    }

    return rq->failed ? NGX_DECLINED : NGX_OK;
}


/* the session's rank and score: ZRANK and ZSCORE */
static void
ngx_http_coinhunt_read_me(ngx_http_coinhunt_read_t *rq, u_char *key,
    size_t len)
{
    size_t       lens[3];
    const char  *argv[3];

    argv[1] = (char *) key;
    lens[1] = len;
    argv[2] = (char *) rq->board->me.player.data;
    lens[2] = rq->board->me.player.len;

    argv[0] = "ZRANK";
    lens[0] = 5;

    if (ngx_http_coinhunt_redis_send(ngx_http_coinhunt_rank_reply, rq, 3,
                                     argv, lens)
        == NGX_OK)
    {
        rq->pending++;

    } else {
        rq->failed = 1;
    }

    argv[0] = "ZSCORE";
    lens[0] = 6;

    if (ngx_http_coinhunt_redis_send(ngx_http_coinhunt_me_reply, rq, 3,
                                     argv, lens)
        == NGX_OK)
    {
        rq->pending++;

    } else {
        rq->failed = 1;
    }
}


/*
 * The connection came up, or failed, while the read waited for it: the
 * read runs again, or is answered unavailable.
 */
static void
ngx_http_coinhunt_read_waited(void *data, ngx_uint_t ready)
{
    ngx_int_t                  rc;
    ngx_http_coinhunt_read_t  *rq = data;

    rc = ready ? ngx_http_coinhunt_read_send(rq) : NGX_DECLINED;

    if (rc != NGX_AGAIN) {
        rq->handler(rq->data, rc);
    }
}


static void
ngx_http_coinhunt_snapshot_reply(redisAsyncContext *ac, void *reply,
    void *data)
{
    redisReply                    *rep = reply;
    ngx_http_coinhunt_snapshot_t  *snap = data;

    ngx_uint_t                       ok;
    ngx_queue_t                     *q;
    ngx_http_coinhunt_read_t        *rq;
    ngx_http_coinhunt_board_read_t  *b;

    ngx_http_coinhunt_redis_replied();

    snap->fetching = 0;

    ok = (rep && ngx_http_coinhunt_redis_top(rep, snap->top, &snap->n)
                 == NGX_OK);

    snap->valid = ok;
    snap->fetched = ngx_current_msec;

    if (!ok && rep) {
        ngx_http_coinhunt_redis_error("ZRANGE", rep);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "coinhunt redis: snapshot of \"%V\" %s, %ui lines",
                   &snap->hunt, ok ? "fetched" : "failed", snap->n);

    while (!ngx_queue_empty(&snap->waiters)) {
        q = ngx_queue_head(&snap->waiters);
        ngx_queue_remove(q);
        rq = ngx_queue_data(q, ngx_http_coinhunt_read_t, queue);
        b = rq->board;

        if (ok) {
            b->n = ngx_min(b->top, snap->n);
            ngx_memcpy(b->entries, snap->top,
                       b->n * sizeof(ngx_http_coinhunt_entry_t));

        } else {
            rq->failed = 1;
        }

        ngx_http_coinhunt_read_done(rq);
    }
}


static void
ngx_http_coinhunt_rank_reply(redisAsyncContext *ac, void *reply, void *data)
{
    redisReply                *rep = reply;
    ngx_http_coinhunt_read_t  *rq = data;

    ngx_int_t  rc;

    ngx_http_coinhunt_redis_replied();

    if (rep == NULL) {
        rq->failed = 1;

    } else {
        rc = ngx_http_coinhunt_redis_rank(rep, &rq->board->me.rank);

        if (rc == NGX_OK) {
            rq->board->me.found = 1;

        } else if (rc == NGX_ERROR) {
            ngx_http_coinhunt_redis_error("ZRANK", rep);
            rq->failed = 1;
        }
    }

    ngx_http_coinhunt_read_done(rq);
}


static void
ngx_http_coinhunt_me_reply(redisAsyncContext *ac, void *reply, void *data)
{
    redisReply                *rep = reply;
    ngx_http_coinhunt_read_t  *rq = data;

    int64_t  score;

    ngx_http_coinhunt_redis_replied();

    if (rep == NULL) {
        rq->failed = 1;

    } else if (rep->type == REDIS_REPLY_NIL) {
        /* not written yet: the session's own score, unranked */

    } else if (ngx_http_coinhunt_redis_score(rep, &score) == NGX_OK) {
        rq->board->me.score = score;

    } else {
        ngx_http_coinhunt_redis_error("ZSCORE", rep);
        rq->failed = 1;
    }

    ngx_http_coinhunt_read_done(rq);
}


static void
ngx_http_coinhunt_read_done(ngx_http_coinhunt_read_t *rq)
{
    if (--rq->pending) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "coinhunt redis: board read %s",
                   rq->failed ? "failed" : "answered");

    rq->handler(rq->data, rq->failed ? NGX_DECLINED : NGX_OK);
}
