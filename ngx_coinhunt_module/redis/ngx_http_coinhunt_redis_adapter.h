
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_REDIS_ADAPTER_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_REDIS_ADAPTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/sds.h>


/*
 * hiredis 0.14 <-> nginx's event loop, in the spirit of hiredis's
 * adapters/ headers: the hiredis socket becomes an ngx_connection_t registered
 * edge-triggered (epoll EPOLLET, kqueue EV_CLEAR).  hiredis reads and
 * writes once per call, so the handlers call it until the socket is
 * drained (read) or makes no progress (write), and a write hiredis asks for
 * is posted, since an idle writable socket gives no new edge.  The caller
 * owns the ngx_http_coinhunt_redis_events_t; "ac" turns NULL once hiredis
 * has cleaned up (the context is freed then).
 */


#define NGX_HTTP_COINHUNT_REDIS_DRAIN  64     /* reads per event, then post */


typedef struct {
    redisAsyncContext             *ac;
    ngx_connection_t              *conn;
    unsigned                       writing:1;
} ngx_http_coinhunt_redis_events_t;


static void
ngx_http_coinhunt_redis_read_handler(ngx_event_t *rev)
{
    char                               byte;
    ssize_t                            n;
    ngx_uint_t                         i;
    ngx_connection_t                  *c;
    ngx_http_coinhunt_redis_events_t  *e;

    c = rev->data;
    e = c->data;

    for (i = 0; i < NGX_HTTP_COINHUNT_REDIS_DRAIN; i++) {
        redisAsyncHandleRead(e->ac);

        /* freed, or still connecting */
        if (e->ac == NULL || !(e->ac->c.flags & REDIS_CONNECTED)) {
            return;
        }

        n = recv(c->fd, &byte, 1, MSG_PEEK|MSG_DONTWAIT);

        if (n == -1 && (ngx_socket_errno == NGX_EAGAIN
                        || ngx_socket_errno == NGX_EINTR))
        {
            return;
        }

        /* more data, the peer's close or an error: hiredis handles them */
    }

    /* a busy socket shares the worker with the other events */
    ngx_post_event(rev, &ngx_posted_events);
}


static void
ngx_http_coinhunt_redis_write_handler(ngx_event_t *wev)
{
    size_t                             before;
    ngx_connection_t                  *c;
    ngx_http_coinhunt_redis_events_t  *e;

    c = wev->data;
    e = c->data;

    if (!(e->ac->c.flags & REDIS_CONNECTED)) {
        redisAsyncHandleWrite(e->ac);

        if (e->ac == NULL || !(e->ac->c.flags & REDIS_CONNECTED)) {
            return;
        }
    }

    while (e->writing) {
        before = sdslen(e->ac->c.obuf);

        redisAsyncHandleWrite(e->ac);

        /* no progress: EAGAIN, the next edge resumes */
        if (e->ac == NULL || sdslen(e->ac->c.obuf) == before) {
            return;
        }
    }
}


static void
ngx_http_coinhunt_redis_add_read(void *data)
{
    /* the socket is always registered for reading */
}


static void
ngx_http_coinhunt_redis_del_read(void *data)
{
}


static void
ngx_http_coinhunt_redis_add_write(void *data)
{
    ngx_http_coinhunt_redis_events_t *e = data;

    e->writing = 1;

    if (!e->conn->write->posted) {
        ngx_post_event(e->conn->write, &ngx_posted_events);
    }
}


static void
ngx_http_coinhunt_redis_del_write(void *data)
{
    ngx_http_coinhunt_redis_events_t *e = data;

    e->writing = 0;
}


static void
ngx_http_coinhunt_redis_cleanup(void *data)
{
    ngx_http_coinhunt_redis_events_t *e = data;

    ngx_connection_t  *c;

    c = e->conn;

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    /* hiredis closes the socket right after: no epoll_ctl() needed */
    if (ngx_del_conn) {
        (void) ngx_del_conn(c, NGX_CLOSE_EVENT);

    } else {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
    }

    /* stale events of this fd in the current epoll batch are ignored */
    c->fd = (ngx_socket_t) -1;
    ngx_free_connection(c);

    e->conn = NULL;
    e->ac = NULL;
    e->writing = 0;
}


static ngx_int_t
ngx_http_coinhunt_redis_attach(redisAsyncContext *ac,
    ngx_http_coinhunt_redis_events_t *e, ngx_log_t *log)
{
    ngx_connection_t  *c;

    if (ac->ev.data != NULL || !(ngx_event_flags & NGX_USE_CLEAR_EVENT)) {
        return NGX_ERROR;
    }

    c = ngx_get_connection(ac->c.fd, log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = e;
    c->log = log;
    c->read->log = log;
    c->write->log = log;
    c->read->handler = ngx_http_coinhunt_redis_read_handler;
    c->write->handler = ngx_http_coinhunt_redis_write_handler;

    e->ac = ac;
    e->conn = c;
    e->writing = 1;         /* the connect completes with a write event */

    if (ngx_add_conn) {
        if (ngx_add_conn(c) != NGX_OK) {
            goto failed;
        }

    } else if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_CLEAR_EVENT)
               != NGX_OK
               || ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_CLEAR_EVENT)
                  != NGX_OK)
    {
        goto failed;
    }

    ac->ev.addRead = ngx_http_coinhunt_redis_add_read;
    ac->ev.delRead = ngx_http_coinhunt_redis_del_read;
    ac->ev.addWrite = ngx_http_coinhunt_redis_add_write;
    ac->ev.delWrite = ngx_http_coinhunt_redis_del_write;
    ac->ev.cleanup = ngx_http_coinhunt_redis_cleanup;
    ac->ev.data = e;

    return NGX_OK;

failed:

    ngx_free_connection(c);
    e->conn = NULL;
    e->ac = NULL;

    return NGX_ERROR;
}


#endif /* _NGX_HTTP_COINHUNT_REDIS_ADAPTER_H_INCLUDED_ */
