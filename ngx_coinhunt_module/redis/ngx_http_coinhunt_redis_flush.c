
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_alloc.h"
#include "ngx_http_coinhunt_rate.h"
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_counters.h"
#include "ngx_http_coinhunt_hunts.h"
#include "ngx_http_coinhunt_pending.h"
#include "ngx_http_coinhunt_redis.h"
#include "ngx_http_coinhunt_redis_flush.h"


/*
 * The flush of pending scores (state/ngx_http_coinhunt_pending.c keeps
 * them): every coinhunt_flush one worker of the node takes up to
 * NGX_HTTP_COINHUNT_FLUSH_MAX slots off the zone's dirty list and writes
 * one pipelined "ZADD key LT -score player ..." per hunt: absolute,
 * idempotent writes.  The replies settle the batch; a failed write leaves
 * every slot of the batch queued again.
 */


#define NGX_HTTP_COINHUNT_FLUSH_MAX       4096
#define NGX_HTTP_COINHUNT_ARGS_MAX   (NGX_HTTP_COINHUNT_FLUSH_MAX * 2 + 3)


/* a ZADD's score argument */
typedef struct {
    size_t                         len;
    u_char                         data[NGX_INT64_LEN];
} ngx_http_coinhunt_flush_arg_t;


/* the worker's flush: one batch in flight at most */
typedef struct {
    ngx_msec_t                          interval;
    ngx_event_t                         event;
    ngx_connection_t                    dumb;  /* debug logs read ev->data */
    ngx_uint_t                          replies;
    ngx_uint_t                          failed;
    ngx_uint_t                          nflushed;
    ngx_http_coinhunt_pending_score_t  *flushed;
    ngx_http_coinhunt_flush_arg_t      *args;
    const char                        **argv;
    size_t                             *argvlen;
} ngx_http_coinhunt_flush_t;


static void ngx_http_coinhunt_flush_handler(ngx_event_t *ev);
static void ngx_http_coinhunt_flush_start(ngx_http_coinhunt_shctx_t *sh);
static ngx_uint_t ngx_http_coinhunt_flush_hunt(ngx_http_coinhunt_shctx_t *sh,
    ngx_uint_t i);
static int ngx_http_coinhunt_flushed_cmp(const void *a, const void *b);
static void ngx_http_coinhunt_flush_reply(redisAsyncContext *ac, void *reply,
    void *data);
static void ngx_http_coinhunt_flush_done(ngx_http_coinhunt_shctx_t *sh);


static ngx_http_coinhunt_flush_t  ngx_http_coinhunt_flush;


ngx_int_t
ngx_http_coinhunt_redis_flush_init(ngx_cycle_t *cycle,
    ngx_http_coinhunt_main_conf_t *cmcf)
{
    ngx_http_coinhunt_flush_t  *fl;

    fl = &ngx_http_coinhunt_flush;

    /* the batch is allocated once, for the worker's life */
    fl->flushed = ngx_http_coinhunt_alloc(NGX_HTTP_COINHUNT_FLUSH_MAX
                                  * sizeof(ngx_http_coinhunt_pending_score_t));
    fl->args = ngx_http_coinhunt_alloc(NGX_HTTP_COINHUNT_FLUSH_MAX
                                       * sizeof(ngx_http_coinhunt_flush_arg_t));
    fl->argv = ngx_http_coinhunt_alloc(NGX_HTTP_COINHUNT_ARGS_MAX
                                       * sizeof(char *));
    fl->argvlen = ngx_http_coinhunt_alloc(NGX_HTTP_COINHUNT_ARGS_MAX
                                          * sizeof(size_t));

    if (fl->flushed == NULL || fl->args == NULL || fl->argv == NULL
        || fl->argvlen == NULL)
    {
        ngx_http_coinhunt_redis_flush_exit();
        return NGX_ERROR;
    }

    fl->interval = cmcf->flush;
    fl->dumb.fd = (ngx_socket_t) -1;
    fl->event.handler = ngx_http_coinhunt_flush_handler;
    fl->event.data = &fl->dumb;
    fl->event.log = cycle->log;
    fl->event.cancelable = 1;

    ngx_add_timer(&fl->event, fl->interval);

    return NGX_OK;
}


void
ngx_http_coinhunt_redis_flush_exit(void)
{
    ngx_http_coinhunt_flush_t  *fl;

    fl = &ngx_http_coinhunt_flush;

    ngx_http_coinhunt_free(fl->flushed, NGX_HTTP_COINHUNT_FLUSH_MAX
                                  * sizeof(ngx_http_coinhunt_pending_score_t));
    ngx_http_coinhunt_free(fl->args, NGX_HTTP_COINHUNT_FLUSH_MAX
                                     * sizeof(ngx_http_coinhunt_flush_arg_t));
    ngx_http_coinhunt_free(fl->argv, NGX_HTTP_COINHUNT_ARGS_MAX
                                     * sizeof(char *));
    ngx_http_coinhunt_free(fl->argvlen, NGX_HTTP_COINHUNT_ARGS_MAX
                                        * sizeof(size_t));

    fl->flushed = NULL;
    fl->args = NULL;
    fl->argv = NULL;
    fl->argvlen = NULL;
}


static void
ngx_http_coinhunt_flush_handler(ngx_event_t *ev)
{
    int64_t                     now, last;
    ngx_http_coinhunt_shctx_t  *sh;
    ngx_http_coinhunt_flush_t  *fl;

    fl = &ngx_http_coinhunt_flush;
    sh = ngx_http_coinhunt_sh;

    ngx_http_coinhunt_pending_recover(sh);

    /* one worker of the node flushes per interval */
    now = ngx_http_coinhunt_now_ms();
    last = (int64_t) sh->flush_ms;

    if (!ngx_http_coinhunt_redis_ready() || fl->replies) {
        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ev->log, 0,
                       "coinhunt flush: skipped, %s",
                       fl->replies ? "a batch is in flight" : "not connected");

    } else if (__atomic_load_n(&sh->dirty_head, __ATOMIC_RELAXED)
               && now - last >= (int64_t) fl->interval
               && ngx_atomic_cmp_set(&sh->flush_ms, (ngx_atomic_uint_t) last,
                                     (ngx_atomic_uint_t) now))
    {
        ngx_http_coinhunt_flush_start(sh);
    }

    if (!ngx_exiting) {
        ngx_add_timer(ev, fl->interval);
    }
}


static void
ngx_http_coinhunt_flush_start(ngx_http_coinhunt_shctx_t *sh)
{
    ngx_uint_t                  i, n;
    ngx_http_coinhunt_flush_t  *fl;

    fl = &ngx_http_coinhunt_flush;

    n = ngx_http_coinhunt_pending_take(sh, fl->flushed,
                                       NGX_HTTP_COINHUNT_FLUSH_MAX);

    fl->nflushed = n;
    fl->failed = 0;
    fl->replies = 1;          /* held until every ZADD is sent */

    ngx_qsort(fl->flushed, n, sizeof(ngx_http_coinhunt_pending_score_t),
              ngx_http_coinhunt_flushed_cmp);

    for (i = 0; i < n; i++) {
        fl->args[i].len = ngx_sprintf(fl->args[i].data, "%L",
                                      -fl->flushed[i].score)
                          - fl->args[i].data;
    }

    /* one "ZADD key LT -score player ..." per hunt, pipelined */
    for (i = 0; i < n; /* void */ ) {
        i = ngx_http_coinhunt_flush_hunt(sh, i);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "coinhunt flush: %ui score(s) in %ui ZADD(s)%s", n,
                   fl->replies - 1, fl->failed ? ", some not sent" : "");

    if (--fl->replies == 0) {
        ngx_http_coinhunt_flush_done(sh);
    }
}


/* the ZADD of the batch's entries from "i" on of one hunt: the next hunt's */
static ngx_uint_t
ngx_http_coinhunt_flush_hunt(ngx_http_coinhunt_shctx_t *sh, ngx_uint_t i)
{
    u_char                              key[NGX_HTTP_COINHUNT_KEY_MAX];
    ngx_str_t                           hunt;
    ngx_uint_t                          j, argc;
    ngx_http_coinhunt_slot_t           *slot;
    ngx_http_coinhunt_flush_t          *fl;
    ngx_http_coinhunt_pending_score_t  *f;

    fl = &ngx_http_coinhunt_flush;
    f = fl->flushed;

    hunt = ngx_http_coinhunt_hunt_name(sh, f[i].hunt);

    fl->argv[0] = "ZADD";
    fl->argvlen[0] = 4;
    fl->argv[1] = (char *) key;
    fl->argvlen[1] = ngx_http_coinhunt_redis_key(key, &hunt);
    fl->argv[2] = "LT";
    fl->argvlen[2] = 2;
    argc = 3;

    for (j = i; j < fl->nflushed && f[j].hunt == f[i].hunt; j++) {
        slot = ngx_http_coinhunt_slot(sh, f[j].index);

        fl->argv[argc] = (char *) fl->args[j].data;
        fl->argvlen[argc++] = fl->args[j].len;
        fl->argv[argc] = (char *) slot->player;
        fl->argvlen[argc++] = slot->player_len;
    }

    if (ngx_http_coinhunt_redis_send(ngx_http_coinhunt_flush_reply, fl,
                                     (int) argc, fl->argv, fl->argvlen)
        == NGX_OK)
    {
        fl->replies++;

    } else {
        fl->failed = 1;
    }

    return j;
}


static int
ngx_http_coinhunt_flushed_cmp(const void *a, const void *b)
{
    const ngx_http_coinhunt_pending_score_t  *fa = a, *fb = b;

    return (int) fa->hunt - (int) fb->hunt;
}


static void
ngx_http_coinhunt_flush_reply(redisAsyncContext *ac, void *reply, void *data)
{
    redisReply                 *rep = reply;
    ngx_http_coinhunt_flush_t  *fl = data;

    ngx_http_coinhunt_redis_replied();

    if (rep == NULL) {
        ngx_log_debug0(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                       "coinhunt flush: ZADD got no reply");
        fl->failed = 1;

    } else if (rep->type != REDIS_REPLY_INTEGER) {
        ngx_http_coinhunt_redis_error("ZADD", rep);
        fl->failed = 1;
    }

    if (--fl->replies == 0) {
        ngx_http_coinhunt_flush_done(ngx_http_coinhunt_sh);
    }
}


/* settles the batch: clean slots are unmarked, the others requeued */
static void
ngx_http_coinhunt_flush_done(ngx_http_coinhunt_shctx_t *sh)
{
    ngx_uint_t                  i;
    ngx_http_coinhunt_flush_t  *fl;

    fl = &ngx_http_coinhunt_flush;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "coinhunt flush: batch of %ui %s", fl->nflushed,
                   fl->failed ? "failed, queued again" : "written");

    for (i = 0; i < fl->nflushed; i++) {
        ngx_http_coinhunt_pending_settle(sh, &fl->flushed[i], !fl->failed);
    }

    if (fl->nflushed && !fl->failed) {
        ngx_http_coinhunt_count(ngx_http_coinhunt_counters(), redis_flushes,
                                1);
    }

    fl->nflushed = 0;
}
