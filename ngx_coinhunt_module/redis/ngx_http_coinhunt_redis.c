
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_counters.h"
#include "ngx_http_coinhunt_redis.h"
#include "ngx_http_coinhunt_redis_adapter.h"


/*
 * Redis mode: the directives and each worker's connection.  One hiredis
 * async connection per worker, on nginx's event loop (see the adapter),
 * resolved at configuration time, with AUTH and SELECT, and a timeout on
 * nginx timers for the connect with its handshake and for every command: a
 * Redis that does not answer within it is dropped, which fails the waiting
 * callbacks at once, and reconnected with exponential backoff.  Every reply
 * is checked for type and shape by its callback.
 *
 * A hunt's board is the sorted set "coinhunt:lb:<hunt>" of negated scores,
 * so ZRANGE lists it by score descending, then player ascending bytewise:
 * the local boards' order.
 */


#define NGX_HTTP_COINHUNT_REDIS_TIMEOUT   1000
#define NGX_HTTP_COINHUNT_BACKOFF_MIN     100
#define NGX_HTTP_COINHUNT_BACKOFF_MAX     2000


typedef struct {
    ngx_http_coinhunt_redis_conf_t   *conf;
    ngx_log_t                        *log;
    ngx_http_coinhunt_redis_events_t  events;
    ngx_uint_t                        handshake;   /* replies before ready */
    ngx_uint_t                        outstanding;
    ngx_msec_t                        backoff;
    ngx_event_t                       reconnect;
    ngx_event_t                       timeout;
    ngx_connection_t                  dumb;    /* debug logs read ev->data */
    ngx_queue_t                       waiting;     /* until ready */
    ngx_uint_t                        ready;
} ngx_http_coinhunt_redis_t;


static void ngx_http_coinhunt_redis_connect(ngx_event_t *ev);
static void ngx_http_coinhunt_redis_lost(void);
static void ngx_http_coinhunt_redis_wake(ngx_uint_t ready);
static void ngx_http_coinhunt_redis_timeout(ngx_event_t *ev);
static void ngx_http_coinhunt_redis_on_connect(const redisAsyncContext *ac,
    int status);
static void ngx_http_coinhunt_redis_on_disconnect(const redisAsyncContext *ac,
    int status);
static void ngx_http_coinhunt_redis_handshake(redisAsyncContext *ac,
    void *reply, void *data);
static ngx_int_t ngx_http_coinhunt_redis_command(redisCallbackFn *fn,
    void *data, int argc, const char **argv, const size_t *argvlen);


static ngx_http_coinhunt_redis_t  ngx_http_coinhunt_redis;


char *
ngx_http_coinhunt_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_coinhunt_main_conf_t *cmcf = conf;

    ngx_url_t                        u;
    ngx_str_t                       *value;
    ngx_uint_t                       i;
    ngx_http_coinhunt_redis_conf_t  *rcf;

    if (cmcf->redis) {
        return "is duplicate";
    }

    value = cf->args->elts;

    rcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_coinhunt_redis_conf_t));
    if (rcf == NULL) {
        return NGX_CONF_ERROR;
    }

    rcf->db = -1;

    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url = value[1];

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"coinhunt_redis\" address \"%V\": %s",
                           &value[1], u.err ? u.err : "host not found");
        return NGX_CONF_ERROR;
    }

    if (u.no_port || u.family == AF_UNIX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"coinhunt_redis\" address \"%V\": "
                           "\"host:port\" expected", &value[1]);
        return NGX_CONF_ERROR;
    }

    /* resolved now: a worker never waits for DNS */
    (void) ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, rcf->addr,
                         NGX_SOCKADDR_STRLEN, 0);
    rcf->port = u.port;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "password=", 9) == 0
            && value[i].len > 9 && rcf->password.len == 0)
        {
            rcf->password.data = value[i].data + 9;
            rcf->password.len = value[i].len - 9;
            continue;
        }

        if (ngx_strncmp(value[i].data, "db=", 3) == 0 && rcf->db == -1) {
            rcf->db = ngx_atoi(value[i].data + 3, value[i].len - 3);

            if (rcf->db == NGX_ERROR || rcf->db > 65535) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"coinhunt_redis\" database "
                                   "\"%V\": 0 to 65535 expected", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"coinhunt_redis\" parameter \"%V\": "
                           "one \"password=...\" and one \"db=N\" expected",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    cmcf->redis = rcf;

    return NGX_CONF_OK;
}


char *
ngx_http_coinhunt_check_flush(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t  *flush = data;

    if (*flush < 1 || *flush > 60000) {
        return "must be from 1ms to 60s";
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_coinhunt_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_coinhunt_main_conf_t *cmcf)
{
    ngx_http_coinhunt_redis_t  *rd;

    rd = &ngx_http_coinhunt_redis;

    rd->conf = cmcf->redis;
    rd->log = cycle->log;
    rd->backoff = NGX_HTTP_COINHUNT_BACKOFF_MIN;

    ngx_queue_init(&rd->waiting);

    rd->dumb.fd = (ngx_socket_t) -1;
    rd->reconnect.handler = ngx_http_coinhunt_redis_connect;
    rd->reconnect.data = &rd->dumb;
    rd->reconnect.log = cycle->log;
    rd->reconnect.cancelable = 1;

    /* a pending command delays a graceful exit, by the timeout at most */
    rd->timeout.handler = ngx_http_coinhunt_redis_timeout;
    rd->timeout.data = &rd->dumb;
    rd->timeout.log = cycle->log;

    ngx_http_coinhunt_redis_connect(&rd->reconnect);

    return NGX_OK;
}


void
ngx_http_coinhunt_redis_exit_process(void)
{
    ngx_http_coinhunt_redis_t  *rd;

    rd = &ngx_http_coinhunt_redis;

    if (rd->conf == NULL) {
        return;
    }

    /* callbacks run with no reply: batches are requeued in the zone */
    if (rd->events.ac) {
        redisAsyncFree(rd->events.ac);
    }

    rd->conf = NULL;
}


ngx_uint_t
ngx_http_coinhunt_redis_ready(void)
{
    return ngx_http_coinhunt_redis.ready;
}


/*
 * A request that needs Redis while the worker's connection is on its way (a
 * worker just started, or reconnects) waits for it, within the timeout of
 * the connect and handshake; between attempts it is answered at once.
 */
ngx_int_t
ngx_http_coinhunt_redis_wait(ngx_http_coinhunt_redis_wait_t *w,
    ngx_http_coinhunt_waited_pt handler, void *data)
{
    ngx_http_coinhunt_redis_t  *rd;

    rd = &ngx_http_coinhunt_redis;

    if (rd->ready || rd->events.ac == NULL) {
        ngx_log_debug0(NGX_LOG_DEBUG_EVENT, rd->log, 0,
                       "coinhunt redis: down between attempts, no wait");
        return NGX_DECLINED;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_EVENT, rd->log, 0,
                   "coinhunt redis: waiting for the connection");

    w->handler = handler;
    w->data = data;

    ngx_queue_insert_tail(&rd->waiting, &w->queue);

    return NGX_OK;
}


static void
ngx_http_coinhunt_redis_wake(ngx_uint_t ready)
{
    ngx_queue_t                     *q;
    ngx_http_coinhunt_redis_t       *rd;
    ngx_http_coinhunt_redis_wait_t  *w;

    rd = &ngx_http_coinhunt_redis;

    while (!ngx_queue_empty(&rd->waiting)) {
        q = ngx_queue_head(&rd->waiting);
        ngx_queue_remove(q);
        w = ngx_queue_data(q, ngx_http_coinhunt_redis_wait_t, queue);
        w->handler(w->data, ready);
    }
}


/* a command of the worker's, once the connection is ready */
ngx_int_t
ngx_http_coinhunt_redis_send(redisCallbackFn *fn, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    if (!ngx_http_coinhunt_redis.ready) {
        ngx_log_debug2(NGX_LOG_DEBUG_EVENT, ngx_http_coinhunt_redis.log, 0,
                       "coinhunt redis: %*s refused, not connected",
                       argvlen[0], argv[0]);
        return NGX_ERROR;
    }

    return ngx_http_coinhunt_redis_command(fn, data, argc, argv, argvlen);
}


static void
ngx_http_coinhunt_redis_connect(ngx_event_t *ev)
{
    u_char                           db[NGX_INT_T_LEN];
    size_t                           len[2];
    const char                      *argv[2];
    redisAsyncContext               *ac;
    ngx_http_coinhunt_redis_t       *rd;
    ngx_http_coinhunt_redis_conf_t  *rcf;

    rd = &ngx_http_coinhunt_redis;
    rcf = rd->conf;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, rd->log, 0,
                   "coinhunt redis: connecting to %s:%d", rcf->addr,
                   rcf->port);

    ac = redisAsyncConnect((char *) rcf->addr, rcf->port);

    if (ac == NULL || ac->err) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "coinhunt: cannot connect to redis %s:%d: %s",
                      rcf->addr, rcf->port, ac ? ac->errstr : "no memory");
        if (ac) {
            redisAsyncFree(ac);
        }

        ngx_http_coinhunt_redis_lost();
        return;
    }

    if (ngx_http_coinhunt_redis_attach(ac, &rd->events, rd->log) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "coinhunt: cannot watch the redis connection");
        redisAsyncFree(ac);
        ngx_http_coinhunt_redis_lost();
        return;
    }

    (void) redisAsyncSetConnectCallback(ac,
                                        ngx_http_coinhunt_redis_on_connect);
    (void) redisAsyncSetDisconnectCallback(ac,
                                        ngx_http_coinhunt_redis_on_disconnect);

    rd->handshake = 0;

    if (rcf->password.len) {
        argv[0] = "AUTH";
        len[0] = 4;
        argv[1] = (char *) rcf->password.data;
        len[1] = rcf->password.len;

        if (ngx_http_coinhunt_redis_command(ngx_http_coinhunt_redis_handshake,
                                            "AUTH", 2, argv, len)
            == NGX_OK)
        {
            rd->handshake++;
        }
    }

    if (rcf->db >= 0) {
        argv[0] = "SELECT";
        len[0] = 6;
        argv[1] = (char *) db;
        len[1] = ngx_sprintf(db, "%i", rcf->db) - db;

        if (ngx_http_coinhunt_redis_command(ngx_http_coinhunt_redis_handshake,
                                            "SELECT", 2, argv, len)
            == NGX_OK)
        {
            rd->handshake++;
        }
    }

    argv[0] = "PING";
    len[0] = 4;

    if (ngx_http_coinhunt_redis_command(ngx_http_coinhunt_redis_handshake,
                                        "PING", 1, argv, len)
        == NGX_OK)
    {
        rd->handshake++;
    }

    /* the connect and the handshake share the timeout */
    ngx_add_timer(&rd->timeout, NGX_HTTP_COINHUNT_REDIS_TIMEOUT);
}


/* the connection is gone (or never came): try again after the backoff */
static void
ngx_http_coinhunt_redis_lost(void)
{
    ngx_http_coinhunt_redis_t  *rd;

    rd = &ngx_http_coinhunt_redis;

    rd->ready = 0;
    ngx_http_coinhunt_counters()->redis_up = 0;

    ngx_http_coinhunt_redis_wake(0);

    if (rd->timeout.timer_set && rd->events.ac == NULL) {
        ngx_del_timer(&rd->timeout);
    }

    if (rd->reconnect.timer_set || ngx_exiting || ngx_terminate
        || ngx_quit || rd->conf == NULL)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_EVENT, rd->log, 0,
                       "coinhunt redis: lost, no reconnect (one is due, "
                       "or the worker exits)");
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, rd->log, 0,
                   "coinhunt redis: lost, reconnecting in %M ms",
                   rd->backoff);

    ngx_http_coinhunt_count(ngx_http_coinhunt_counters(), redis_errors, 1);

    ngx_add_timer(&rd->reconnect, rd->backoff);
    rd->backoff = ngx_min(rd->backoff * 2, NGX_HTTP_COINHUNT_BACKOFF_MAX);
}


static void
ngx_http_coinhunt_redis_timeout(ngx_event_t *ev)
{
    ngx_http_coinhunt_redis_t  *rd;

    rd = &ngx_http_coinhunt_redis;

    if (rd->events.ac == NULL) {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                  "coinhunt: redis %s:%d did not answer within %M ms",
                  rd->conf->addr, rd->conf->port,
                  (ngx_msec_t) NGX_HTTP_COINHUNT_REDIS_TIMEOUT);

    /* every waiting callback runs now, with no reply */
    redisAsyncFree(rd->events.ac);

    ngx_http_coinhunt_redis_lost();
}


static void
ngx_http_coinhunt_redis_on_connect(const redisAsyncContext *ac, int status)
{
    if (status != REDIS_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_http_coinhunt_redis.log, 0,
                      "coinhunt: cannot connect to redis: %s", ac->errstr);
        ngx_http_coinhunt_redis_lost();
    }
}


static void
ngx_http_coinhunt_redis_on_disconnect(const redisAsyncContext *ac,
    int status)
{
    if (status != REDIS_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_http_coinhunt_redis.log, 0,
                      "coinhunt: redis connection lost: %s", ac->errstr);
    }

    ngx_http_coinhunt_redis_lost();
}


static void
ngx_http_coinhunt_redis_handshake(redisAsyncContext *ac, void *reply,
    void *data)
{
    char                       *cmd = data;
    redisReply                 *rep = reply;
    ngx_http_coinhunt_redis_t  *rd;

    rd = &ngx_http_coinhunt_redis;

    ngx_http_coinhunt_redis_replied();

    if (rep == NULL) {
        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, rd->log, 0,
                       "coinhunt redis: %s got no reply", cmd);
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, rd->log, 0,
                   "coinhunt redis: %s answered, %ui more to come", cmd,
                   rd->handshake - 1);

    if (ngx_http_coinhunt_redis_status(rep, ngx_strcmp(cmd, "PING") == 0
                                            ? "PONG" : "OK")
        != NGX_OK)
    {
        ngx_http_coinhunt_redis_error(cmd, rep);
        redisAsyncDisconnect(ac);
        return;
    }

    if (--rd->handshake == 0) {
        rd->ready = 1;
        rd->backoff = NGX_HTTP_COINHUNT_BACKOFF_MIN;
        ngx_http_coinhunt_counters()->redis_up = 1;

        if (rd->outstanding == 0 && rd->timeout.timer_set) {
            ngx_del_timer(&rd->timeout);
        }

        ngx_log_error(NGX_LOG_INFO, rd->log, 0,
                      "coinhunt: connected to redis %s:%d",
                      rd->conf->addr, rd->conf->port);

        ngx_http_coinhunt_redis_wake(1);
    }
}


static ngx_int_t
ngx_http_coinhunt_redis_command(redisCallbackFn *fn, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    ngx_http_coinhunt_redis_t  *rd;

    rd = &ngx_http_coinhunt_redis;

    if (rd->events.ac == NULL
        || redisAsyncCommandArgv(rd->events.ac, fn, data, argc, argv,
                                 argvlen)
           != REDIS_OK)
    {
        ngx_log_debug2(NGX_LOG_DEBUG_EVENT, rd->log, 0,
                       "coinhunt redis: %*s not sent", argvlen[0], argv[0]);
        return NGX_ERROR;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, rd->log, 0,
                   "coinhunt redis: %*s sent, %ui outstanding", argvlen[0],
                   argv[0], rd->outstanding + 1);

    if (rd->outstanding++ == 0) {
        ngx_add_timer(&rd->timeout, NGX_HTTP_COINHUNT_REDIS_TIMEOUT);
    }

    return NGX_OK;
}


/* a reply came: the timeout now measures the wait for the next one */
void
ngx_http_coinhunt_redis_replied(void)
{
    ngx_http_coinhunt_redis_t  *rd;

    rd = &ngx_http_coinhunt_redis;

    rd->outstanding--;

    if (rd->events.ac == NULL) {
        return;
    }

    if (rd->outstanding) {
        ngx_add_timer(&rd->timeout, NGX_HTTP_COINHUNT_REDIS_TIMEOUT);

    } else if (rd->ready && rd->timeout.timer_set) {
        ngx_del_timer(&rd->timeout);
    }
}


void
ngx_http_coinhunt_redis_error(char *what, redisReply *reply)
{
    ngx_str_t  s;

    ngx_http_coinhunt_count(ngx_http_coinhunt_counters(), redis_errors, 1);

    s.len = 0;
    s.data = NULL;

    if (reply->type == REDIS_REPLY_ERROR || reply->type == REDIS_REPLY_STATUS)
    {
        s.data = (u_char *) reply->str;
        s.len = ngx_min(reply->len, 256);
    }

    ngx_log_error(NGX_LOG_ERR, ngx_http_coinhunt_redis.log, 0,
                  "coinhunt: unexpected redis reply to %s: type %d \"%V\"",
                  what, reply->type, &s);
}


size_t
ngx_http_coinhunt_redis_key(u_char *buf, ngx_str_t *hunt)
{
    return ngx_sprintf(buf, NGX_HTTP_COINHUNT_KEY_PREFIX "%V", hunt) - buf;
}
