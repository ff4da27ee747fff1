
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_coinhunt_module.h"
#include "ngx_http_coinhunt_alloc.h"
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_http.h"
#include "ngx_http_coinhunt_session.h"
#include "ngx_http_coinhunt_leaderboard.h"
#include "ngx_http_coinhunt_redis.h"


/*
 * Redis mode's reads, each waiting asynchronously (r->main->count++,
 * NGX_DONE, finalized by the reply's callback; the connection's timeout
 * bounds the wait, and a Redis that is down answers 503 at once): a join's
 * seed (ZSCORE), the top of a board from a per-worker snapshot refreshed at
 * most once per coinhunt_flush (ZRANGE 0 99 WITHSCORES, one fetch however
 * many reads wait for it), and "me" (ZRANK, ZSCORE).
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


/* a leaderboard read waiting for Redis */
typedef struct {
    ngx_queue_t                    queue;
    ngx_http_request_t            *request;
    ngx_str_t                      hunt;
    ngx_uint_t                     top;
    ngx_uint_t                     n;
    ngx_uint_t                     pending;
    ngx_http_coinhunt_entry_t     *entries;
    ngx_http_coinhunt_me_t         me;
    ngx_http_coinhunt_redis_wait_t wait;
    unsigned                       failed:1;
} ngx_http_coinhunt_read_t;


/* a join waiting for the score Redis holds */
typedef struct {
    ngx_http_request_t            *request;
    ngx_str_t                      player;
    int64_t                        score;
    uint16_t                       hunt;
    ngx_http_coinhunt_redis_wait_t wait;
} ngx_http_coinhunt_join_t;


typedef struct {
    ngx_msec_t                     interval;
    ngx_queue_t                    snapshots;  /* most recently used first */
    ngx_uint_t                     nsnapshots;
} ngx_http_coinhunt_reads_t;


static ngx_int_t ngx_http_coinhunt_seed_retry(void *data);
static void ngx_http_coinhunt_seed_reply(redisAsyncContext *ac, void *reply,
    void *data);
static ngx_int_t ngx_http_coinhunt_read_wait(ngx_http_request_t *r,
    ngx_str_t *hunt, ngx_uint_t top, ngx_http_coinhunt_me_t *me);
static ngx_int_t ngx_http_coinhunt_read_retry(void *data);
static ngx_http_coinhunt_snapshot_t *ngx_http_coinhunt_snapshot(
    ngx_str_t *hunt);
static void ngx_http_coinhunt_snapshot_reply(redisAsyncContext *ac,
    void *reply, void *data);
static void ngx_http_coinhunt_rank_reply(redisAsyncContext *ac, void *reply,
    void *data);
static void ngx_http_coinhunt_me_reply(redisAsyncContext *ac, void *reply,
    void *data);
static void ngx_http_coinhunt_read_done(ngx_http_coinhunt_read_t *rq);
static void ngx_http_coinhunt_finalize(ngx_http_request_t *r, ngx_int_t rc);
static ngx_int_t ngx_http_coinhunt_unavailable(ngx_http_request_t *r);


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


ngx_int_t
ngx_http_coinhunt_redis_seed(ngx_http_request_t *r, uint16_t hunt_id,
    ngx_str_t *player, int64_t score)
{
    u_char                     key[NGX_HTTP_COINHUNT_KEY_MAX];
    size_t                     len[3];
    ngx_str_t                  hunt;
    const char                *argv[3];
    ngx_http_coinhunt_join_t  *join;

    join = ngx_palloc(r->pool, sizeof(ngx_http_coinhunt_join_t));
    if (join == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    join->request = r;
    join->player = *player;
    join->score = score;
    join->hunt = hunt_id;

    hunt = ngx_http_coinhunt_hunt_name(ngx_http_coinhunt_sh, hunt_id);

    argv[0] = "ZSCORE";
    len[0] = 6;
    argv[1] = (char *) key;
    len[1] = ngx_http_coinhunt_redis_key(key, &hunt);
    argv[2] = (char *) player->data;
    len[2] = player->len;

    if (!ngx_http_coinhunt_redis_ready()) {
        if (ngx_http_coinhunt_redis_wait(&join->wait, r,
                                         ngx_http_coinhunt_seed_retry, join)
            != NGX_OK)
        {
            return ngx_http_coinhunt_unavailable(r);
        }

    } else if (ngx_http_coinhunt_redis_send(ngx_http_coinhunt_seed_reply,
                                            join, 3, argv, len)
               != NGX_OK)
    {
        return ngx_http_coinhunt_unavailable(r);
    }

    r->main->count++;

    return NGX_DONE;
}


/* the join again, now that the connection is up */
static ngx_int_t
ngx_http_coinhunt_seed_retry(void *data)
{
    ngx_http_coinhunt_join_t  *join = data;

    return ngx_http_coinhunt_redis_seed(join->request, join->hunt,
                                        &join->player, join->score);
}


static void
ngx_http_coinhunt_seed_reply(redisAsyncContext *ac, void *reply, void *data)
{
    redisReply                *rep = reply;
    ngx_http_coinhunt_join_t  *join = data;

    int64_t              seed;
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    ngx_http_coinhunt_redis_replied();

    r = join->request;
    seed = -1;

    if (rep == NULL) {
        rc = ngx_http_coinhunt_unavailable(r);

    } else if (rep->type != REDIS_REPLY_NIL
               && ngx_http_coinhunt_redis_score(rep, &seed) != NGX_OK)
    {
        ngx_http_coinhunt_redis_error("ZSCORE", rep);
        rc = ngx_http_coinhunt_unavailable(r);

    } else {
        rc = ngx_http_coinhunt_join_create(r, join->hunt, &join->player,
                                           join->score, seed);
    }

    ngx_http_coinhunt_finalize(r, rc);
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


ngx_int_t
ngx_http_coinhunt_redis_leaderboard(ngx_http_request_t *r, ngx_str_t *hunt,
    ngx_uint_t top, ngx_http_coinhunt_me_t *me)
{
    u_char                         key[NGX_HTTP_COINHUNT_KEY_MAX];
    size_t                         len[5];
    ngx_uint_t                     stale;
    const char                    *argv[5];
    ngx_http_coinhunt_read_t      *rq;
    ngx_http_coinhunt_snapshot_t  *snap;

    snap = ngx_http_coinhunt_snapshot(hunt);
    if (snap == NULL) {
        return ngx_http_coinhunt_unavailable(r);
    }

    stale = !snap->valid
            || ngx_current_msec - snap->fetched
               >= ngx_http_coinhunt_reads.interval;

    if ((stale || me->wanted) && !ngx_http_coinhunt_redis_ready()) {
        return ngx_http_coinhunt_read_wait(r, hunt, top, me);
    }

    rq = ngx_pcalloc(r->pool, sizeof(ngx_http_coinhunt_read_t));
    if (rq == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rq->entries = ngx_palloc(r->pool,
                             top * sizeof(ngx_http_coinhunt_entry_t));
    if (rq->entries == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rq->request = r;
    rq->hunt = *hunt;
    rq->top = top;
    rq->me = *me;

    argv[1] = (char *) key;
    len[1] = ngx_http_coinhunt_redis_key(key, hunt);

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
                return ngx_http_coinhunt_unavailable(r);
            }

            snap->fetching = 1;
        }

        ngx_queue_insert_tail(&snap->waiters, &rq->queue);
        rq->pending++;

    } else {
        rq->n = ngx_min(top, snap->n);
        ngx_memcpy(rq->entries, snap->top,
                   rq->n * sizeof(ngx_http_coinhunt_entry_t));
    }

    if (me->wanted) {
        argv[2] = (char *) me->player.data;
        len[2] = me->player.len;

        argv[0] = "ZRANK";
        len[0] = 5;

        if (ngx_http_coinhunt_redis_send(ngx_http_coinhunt_rank_reply, rq,
                                         3, argv, len)
            == NGX_OK)
        {
            rq->pending++;

        } else {
            rq->failed = 1;
        }

        argv[0] = "ZSCORE";
        len[0] = 6;

        if (ngx_http_coinhunt_redis_send(ngx_http_coinhunt_me_reply, rq,
                                         3, argv, len)
            == NGX_OK)
        {
            rq->pending++;

        } else {
            rq->failed = 1;
        }
    }

    if (rq->pending == 0) {
        return rq->failed ? ngx_http_coinhunt_unavailable(r)
                          : ngx_http_coinhunt_leaderboard_send(r, hunt,
                                                               rq->entries,
                                                               rq->n,
                                                               &rq->me);
    }

    r->main->count++;

    return NGX_DONE;
}


/* a read that needs Redis while the worker's connection is on its way */
static ngx_int_t
ngx_http_coinhunt_read_wait(ngx_http_request_t *r, ngx_str_t *hunt,
    ngx_uint_t top, ngx_http_coinhunt_me_t *me)
{
    ngx_http_coinhunt_read_t  *rq;

    rq = ngx_pcalloc(r->pool, sizeof(ngx_http_coinhunt_read_t));
    if (rq == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rq->request = r;
    rq->hunt = *hunt;
    rq->top = top;
    rq->me = *me;

    if (ngx_http_coinhunt_redis_wait(&rq->wait, r,
                                     ngx_http_coinhunt_read_retry, rq)
        != NGX_OK)
    {
        return ngx_http_coinhunt_unavailable(r);
    }

    r->main->count++;

    return NGX_DONE;
}


/* the read again, now that the connection is up */
static ngx_int_t
ngx_http_coinhunt_read_retry(void *data)
{
    ngx_http_coinhunt_read_t  *rq = data;

    return ngx_http_coinhunt_redis_leaderboard(rq->request, &rq->hunt,
                                               rq->top, &rq->me);
}


/*
 * The connection came up, or failed, while the request waited for it: the
 * request runs again, or is answered 503.
 */
void
ngx_http_coinhunt_redis_waited(ngx_http_coinhunt_redis_wait_t *w,
    ngx_uint_t ready)
{
    ngx_int_t  rc;

    rc = ready ? w->retry(w->data)
               : ngx_http_coinhunt_unavailable(w->request);

    /* NGX_DONE: a new wait or command holds the request, this one lets go */
    ngx_http_coinhunt_finalize(w->request, rc);
}


static void
ngx_http_coinhunt_snapshot_reply(redisAsyncContext *ac, void *reply,
    void *data)
{
    redisReply                    *rep = reply;
    ngx_http_coinhunt_snapshot_t  *snap = data;

    ngx_uint_t                 ok;
    ngx_queue_t               *q;
    ngx_http_coinhunt_read_t  *rq;

    ngx_http_coinhunt_redis_replied();

    snap->fetching = 0;

    ok = (rep && ngx_http_coinhunt_redis_top(rep, snap->top, &snap->n)
                 == NGX_OK);

    snap->valid = ok;
    snap->fetched = ngx_current_msec;

    if (!ok && rep) {
        ngx_http_coinhunt_redis_error("ZRANGE", rep);
    }

    while (!ngx_queue_empty(&snap->waiters)) {
        q = ngx_queue_head(&snap->waiters);
        ngx_queue_remove(q);
        rq = ngx_queue_data(q, ngx_http_coinhunt_read_t, queue);

        if (ok) {
            rq->n = ngx_min(rq->top, snap->n);
            ngx_memcpy(rq->entries, snap->top,
                       rq->n * sizeof(ngx_http_coinhunt_entry_t));

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
        rc = ngx_http_coinhunt_redis_rank(rep, &rq->me.rank);

        if (rc == NGX_OK) {
            rq->me.found = 1;

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
        rq->me.score = score;

    } else {
        ngx_http_coinhunt_redis_error("ZSCORE", rep);
        rq->failed = 1;
    }

    ngx_http_coinhunt_read_done(rq);
}


static void
ngx_http_coinhunt_read_done(ngx_http_coinhunt_read_t *rq)
{
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    if (--rq->pending) {
        return;
    }

    r = rq->request;

    if (rq->failed) {
        rc = ngx_http_coinhunt_unavailable(r);

    } else {
        rc = ngx_http_coinhunt_leaderboard_send(r, &rq->hunt, rq->entries,
                                                rq->n, &rq->me);
    }

    ngx_http_coinhunt_finalize(r, rc);
}


static void
ngx_http_coinhunt_finalize(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_connection_t  *c;

    c = r->connection;

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_coinhunt_unavailable(ngx_http_request_t *r)
{
    return ngx_http_coinhunt_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   "unavailable",
                                   "the leaderboard backend (Redis) is "
                                   "unavailable; try again later");
}
