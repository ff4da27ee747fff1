
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_REDIS_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_redis_reply.h"


#define NGX_HTTP_COINHUNT_KEY_PREFIX      "coinhunt:lb:"
#define NGX_HTTP_COINHUNT_KEY_MAX                                             \
    (sizeof(NGX_HTTP_COINHUNT_KEY_PREFIX) - 1 + NGX_HTTP_COINHUNT_NAME_MAX)


typedef struct ngx_http_coinhunt_redis_conf_s {
    u_char                         addr[NGX_SOCKADDR_STRLEN + 1];
    int                            port;
    ngx_str_t                      password;   /* empty: no AUTH */
    ngx_int_t                      db;         /* -1: no SELECT */
} ngx_http_coinhunt_redis_conf_t;


/* called once the connection is up ("ready"), or failed to come up */
typedef void (*ngx_http_coinhunt_waited_pt)(void *data, ngx_uint_t ready);

/* a read waiting for the worker's connection to come up */
typedef struct {
    ngx_queue_t                    queue;
    ngx_http_coinhunt_waited_pt    handler;
    void                          *data;
} ngx_http_coinhunt_redis_wait_t;


char *ngx_http_coinhunt_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_coinhunt_check_flush(ngx_conf_t *cf, void *post, void *data);

ngx_int_t ngx_http_coinhunt_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_coinhunt_main_conf_t *cmcf);
void ngx_http_coinhunt_redis_exit_process(void);

ngx_uint_t ngx_http_coinhunt_redis_ready(void);
ngx_int_t ngx_http_coinhunt_redis_wait(ngx_http_coinhunt_redis_wait_t *w,
    ngx_http_coinhunt_waited_pt handler, void *data);
ngx_int_t ngx_http_coinhunt_redis_send(redisCallbackFn *fn, void *data,
    int argc, const char **argv, const size_t *argvlen);
void ngx_http_coinhunt_redis_replied(void);
void ngx_http_coinhunt_redis_error(char *what, redisReply *reply);
size_t ngx_http_coinhunt_redis_key(u_char *buf, ngx_str_t *hunt);


#endif /* _NGX_HTTP_COINHUNT_REDIS_H_INCLUDED_ */
