
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_coinhunt_module.h"
#include "ngx_http_coinhunt_alloc.h"
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_journal.h"
#include "ngx_http_coinhunt_metrics.h"
#include "ngx_http_coinhunt_redis.h"


/*
 * Pending scores live in the zone, so a crashed worker loses none: per slot
 * the score Redis acknowledged ("flushed") and a mark (0: clean, 1: queued
 * on the zone's dirty list, else the pid of the worker whose batch carries
 * it).  A score change queues its slot once, so Redis traffic follows
 * flushes x changed players, not taps.  Every coinhunt_flush one worker of
 * the node takes up to NGX_HTTP_COINHUNT_FLUSH_MAX slots off the list and
 * writes one pipelined "ZADD key LT -score player ..." per hunt: absolute,
 * idempotent writes.  The replies settle the batch: a slot whose score did
 * not change meanwhile is clean, any other (or the whole batch, if a write
 * failed) is queued again.  A mark keeps a retired slot from being
 * reclaimed before its score is written.  Slots carried by a worker that
 * died are queued again by the recovery scan of the others.  The list's
 * changes are logged in the process's journal first, so a process killed
 * in the middle of one leaves no half-linked list; whoever takes the list's
 * lock over from a dead process gives every slot on the list its queued
 * mark back (the dead one may have been marking a batch).
 */


#define NGX_HTTP_COINHUNT_FLUSH_MAX       4096
#define NGX_HTTP_COINHUNT_RECOVER_CHUNK   4096
#define NGX_HTTP_COINHUNT_QUEUED          1


typedef struct {
    uint32_t                       index;
    uint16_t                       hunt;
    int64_t                        score;
    size_t                         len;
    u_char                         arg[NGX_INT64_LEN];
} ngx_http_coinhunt_flushed_t;


/* the worker's flush: one batch in flight at most */
typedef struct {
    ngx_msec_t                     interval;
    ngx_event_t                    event;
    ngx_connection_t               dumb;       /* debug logs read ev->data */
    ngx_uint_t                     replies;
    ngx_uint_t                     failed;
    ngx_uint_t                     nflushed;
    ngx_http_coinhunt_flushed_t   *flushed;
    const char                   **argv;
    size_t                        *argvlen;
} ngx_http_coinhunt_flush_t;


static void ngx_http_coinhunt_dirty_push(ngx_http_coinhunt_shctx_t *sh,
    ngx_uint_t tag, uint32_t index);
static void ngx_http_coinhunt_flush_handler(ngx_event_t *ev);
static void ngx_http_coinhunt_flush_start(ngx_http_coinhunt_shctx_t *sh);
static int ngx_http_coinhunt_flushed_cmp(const void *a, const void *b);
static void ngx_http_coinhunt_flush_reply(redisAsyncContext *ac, void *reply,
    void *data);
static void ngx_http_coinhunt_flush_done(ngx_http_coinhunt_shctx_t *sh);
static void ngx_http_coinhunt_recover(ngx_http_coinhunt_shctx_t *sh);


static ngx_http_coinhunt_flush_t  ngx_http_coinhunt_flush;


#define NGX_HTTP_COINHUNT_ARGS_MAX   (NGX_HTTP_COINHUNT_FLUSH_MAX * 2 + 3)


ngx_int_t
ngx_http_coinhunt_redis_flush_init(ngx_cycle_t *cycle,
    ngx_http_coinhunt_main_conf_t *cmcf)
{
    ngx_http_coinhunt_flush_t  *fl;

    fl = &ngx_http_coinhunt_flush;

    /* the batch is allocated once, for the worker's life */
    fl->flushed = ngx_http_coinhunt_alloc(NGX_HTTP_COINHUNT_FLUSH_MAX
                                        * sizeof(ngx_http_coinhunt_flushed_t));
    fl->argv = ngx_http_coinhunt_alloc(NGX_HTTP_COINHUNT_ARGS_MAX
                                       * sizeof(char *));
    fl->argvlen = ngx_http_coinhunt_alloc(NGX_HTTP_COINHUNT_ARGS_MAX
                                          * sizeof(size_t));

    if (fl->flushed == NULL || fl->argv == NULL || fl->argvlen == NULL) {
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
                                        * sizeof(ngx_http_coinhunt_flushed_t));
    ngx_http_coinhunt_free(fl->argv, NGX_HTTP_COINHUNT_ARGS_MAX
                                     * sizeof(char *));
    ngx_http_coinhunt_free(fl->argvlen, NGX_HTTP_COINHUNT_ARGS_MAX
                                        * sizeof(size_t));

    fl->flushed = NULL;
    fl->argv = NULL;
    fl->argvlen = NULL;
}


/* logs the append of a slot to the dirty list, the list locked */
static void
ngx_http_coinhunt_dirty_push(ngx_http_coinhunt_shctx_t *sh, ngx_uint_t tag,
    uint32_t index)
{
    uint32_t  link[2];

    /* the pending entry's "next" and "mark" are adjacent: one store */
    link[0] = 0;
    link[1] = NGX_HTTP_COINHUNT_QUEUED;
    ngx_http_coinhunt_journal_put(tag, &sh->pending[index].next, link,
                                  sizeof(link));

    if (sh->dirty_tail) {
        ngx_http_coinhunt_journal_set(tag,
                                      &sh->pending[sh->dirty_tail - 1].next,
                                      index + 1);

    } else {
        ngx_http_coinhunt_journal_set(tag, &sh->dirty_head, index + 1);
    }

    ngx_http_coinhunt_journal_set(tag, &sh->dirty_tail, index + 1);
}


/* a score changed under the slot's lock: queue the slot for the flush */
void
ngx_http_coinhunt_redis_dirty(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot)
{
    uint32_t                      index;
    ngx_uint_t                    d;
    ngx_http_coinhunt_pending_t  *pd;
    ngx_http_coinhunt_journal_t  *j;

    index = (uint32_t) (((u_char *) slot - sh->slots) / sh->stride);
    pd = &sh->pending[index];

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


/* the dirty list taken over from a dead process: its slots are queued */
void
ngx_http_coinhunt_redis_dirty_repair(ngx_http_coinhunt_shctx_t *sh)
{
    uint32_t    x;
    ngx_uint_t  n;

    for (x = sh->dirty_head, n = 0; x && n < sh->capacity;
         x = sh->pending[x - 1].next, n++)
    {
        sh->pending[x - 1].mark = NGX_HTTP_COINHUNT_QUEUED;
    }
}


void
ngx_http_coinhunt_redis_joined(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_session_t *s, int64_t seed)
{
    ngx_http_coinhunt_slot_t     *slot;
    ngx_http_coinhunt_pending_t  *pd;

    slot = ngx_http_coinhunt_session_lock(sh, s->index, s->gen, 0);

    if (slot == NULL) {
        return;
    }

    pd = &sh->pending[s->index];

    /* what Redis holds needs no write; one store, whole or not at all */
    if (seed > pd->flushed) {
        pd->flushed = seed;
    }

    ngx_http_coinhunt_redis_dirty(sh, slot);

    ngx_http_coinhunt_unlock(&slot->lock);
}


static void
ngx_http_coinhunt_flush_handler(ngx_event_t *ev)
{
    int64_t                     now, last;
    ngx_http_coinhunt_shctx_t  *sh;
    ngx_http_coinhunt_flush_t  *fl;

    fl = &ngx_http_coinhunt_flush;
    sh = ngx_http_coinhunt_sh;

    ngx_http_coinhunt_recover(sh);

    /* one worker of the node flushes per interval */
    now = ngx_http_coinhunt_now_ms();
    last = (int64_t) sh->flush_ms;

    if (ngx_http_coinhunt_redis_ready() && fl->replies == 0
        && __atomic_load_n(&sh->dirty_head, __ATOMIC_RELAXED)
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
    u_char                        key[NGX_HTTP_COINHUNT_KEY_MAX];
    uint32_t                      x;
    ngx_str_t                     hunt;
    ngx_uint_t                    i, j, n, d, argc;
    ngx_http_coinhunt_slot_t     *slot;
    ngx_http_coinhunt_flush_t    *fl;
    ngx_http_coinhunt_flushed_t  *f;

    fl = &ngx_http_coinhunt_flush;
    f = fl->flushed;
    n = 0;

    ngx_http_coinhunt_lock(&sh->dirty_lock);

    for (x = sh->dirty_head; x && n < NGX_HTTP_COINHUNT_FLUSH_MAX;
         x = sh->pending[x - 1].next)
    {
        /* the mark keeps the slot from being reclaimed while in flight */
        __atomic_store_n(&sh->pending[x - 1].mark, (uint32_t) ngx_pid,
                         __ATOMIC_RELAXED);

        slot = ngx_http_coinhunt_slot(sh, x - 1);

        f[n].index = x - 1;
        f[n].hunt = slot->hunt;
        f[n].score = __atomic_load_n(&slot->score, __ATOMIC_RELAXED);
        f[n].len = ngx_sprintf(f[n].arg, "%L", -f[n].score) - f[n].arg;
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

    fl->nflushed = n;
    fl->failed = 0;
    fl->replies = 1;          /* held until every ZADD is sent */

    ngx_qsort(f, n, sizeof(ngx_http_coinhunt_flushed_t),
              ngx_http_coinhunt_flushed_cmp);

    /* one "ZADD key LT -score player ..." per hunt, pipelined */
    for (i = 0; i < n; i = j) {
        hunt = ngx_http_coinhunt_hunt_name(sh, f[i].hunt);

        fl->argv[0] = "ZADD";
        fl->argvlen[0] = 4;
        fl->argv[1] = (char *) key;
        fl->argvlen[1] = ngx_http_coinhunt_redis_key(key, &hunt);
        fl->argv[2] = "LT";
        fl->argvlen[2] = 2;
        argc = 3;

        for (j = i; j < n && f[j].hunt == f[i].hunt; j++) {
            slot = ngx_http_coinhunt_slot(sh, f[j].index);

            fl->argv[argc] = (char *) f[j].arg;
            fl->argvlen[argc++] = f[j].len;
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
    }

    if (--fl->replies == 0) {
        ngx_http_coinhunt_flush_done(sh);
    }
}


static int
ngx_http_coinhunt_flushed_cmp(const void *a, const void *b)
{
    const ngx_http_coinhunt_flushed_t  *fa = a, *fb = b;

    return (int) fa->hunt - (int) fb->hunt;
}


static void
ngx_http_coinhunt_flush_reply(redisAsyncContext *ac, void *reply, void *data)
{
    redisReply                 *rep = reply;
    ngx_http_coinhunt_flush_t  *fl = data;

    ngx_http_coinhunt_redis_replied();

    if (rep == NULL) {
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
    int64_t                       flushed;
    ngx_uint_t                    i, l, d, requeue;
    ngx_http_coinhunt_slot_t     *slot;
    ngx_http_coinhunt_flush_t    *fl;
    ngx_http_coinhunt_pending_t  *pd;
    ngx_http_coinhunt_flushed_t  *f;
    ngx_http_coinhunt_journal_t  *jr;

    fl = &ngx_http_coinhunt_flush;
    jr = ngx_http_coinhunt_journal;

    for (i = 0; i < fl->nflushed; i++) {
        f = &fl->flushed[i];
        slot = ngx_http_coinhunt_slot(sh, f->index);
        pd = &sh->pending[f->index];

        ngx_http_coinhunt_lock(&slot->lock);

        flushed = (!fl->failed && f->score > pd->flushed) ? f->score
                                                          : pd->flushed;
        requeue = (flushed != slot->score);

        if (requeue) {
            ngx_http_coinhunt_lock(&sh->dirty_lock);
        }

        ngx_http_coinhunt_journal_begin();
        l = ngx_http_coinhunt_journal_lock(&slot->lock);
        ngx_http_coinhunt_journal_set(l, &pd->flushed, flushed);

        if (requeue) {
            d = ngx_http_coinhunt_journal_lock(&sh->dirty_lock);
            ngx_http_coinhunt_dirty_push(sh, d, f->index);

        } else {
            ngx_http_coinhunt_journal_set(l, &pd->mark, 0);
            ngx_http_coinhunt_journal_set(l, &jr->dirty, jr->dirty - 1);
        }

        ngx_http_coinhunt_journal_done();

        if (requeue) {
            ngx_http_coinhunt_unlock(&sh->dirty_lock);
        }

        ngx_http_coinhunt_unlock(&slot->lock);
    }

    if (fl->nflushed && !fl->failed) {
        ngx_http_coinhunt_count(ngx_http_coinhunt_counters(), redis_flushes,
                                1);
    }

    fl->nflushed = 0;
}


/* requeues a share of the slots whose batch died with its worker */
static void
ngx_http_coinhunt_recover(ngx_http_coinhunt_shctx_t *sh)
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
        pd = &sh->pending[index];
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
