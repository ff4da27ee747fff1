
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_REDIS_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_coinhunt_module.h"
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_leaderboard.h"
#include <hiredis/hiredis.h>
#include <hiredis/async.h>


#define NGX_HTTP_COINHUNT_KEY_PREFIX      "coinhunt:lb:"
#define NGX_HTTP_COINHUNT_KEY_MAX                                             \
    (sizeof(NGX_HTTP_COINHUNT_KEY_PREFIX) - 1 + NGX_HTTP_COINHUNT_NAME_MAX)


typedef struct ngx_http_coinhunt_redis_conf_s {
    u_char                         addr[NGX_SOCKADDR_STRLEN + 1];
    int                            port;
    ngx_str_t                      password;   /* empty: no AUTH */
    ngx_int_t                      db;         /* -1: no SELECT */
} ngx_http_coinhunt_redis_conf_t;


/* a request waiting for the worker's connection to come up */
typedef struct {
    ngx_queue_t                    queue;
    ngx_http_request_t            *request;
    ngx_int_t                    (*retry)(void *data);    /* once it is up */
    void                          *data;
} ngx_http_coinhunt_redis_wait_t;


char *ngx_http_coinhunt_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_coinhunt_check_flush(ngx_conf_t *cf, void *post, void *data);

ngx_int_t ngx_http_coinhunt_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_coinhunt_main_conf_t *cmcf);
void ngx_http_coinhunt_redis_exit_process(void);

/* redis.c: the worker's connection */
ngx_uint_t ngx_http_coinhunt_redis_ready(void);
ngx_int_t ngx_http_coinhunt_redis_wait(ngx_http_coinhunt_redis_wait_t *w,
    ngx_http_request_t *r, ngx_int_t (*retry)(void *data), void *data);
ngx_int_t ngx_http_coinhunt_redis_send(redisCallbackFn *fn, void *data,
    int argc, const char **argv, const size_t *argvlen);
void ngx_http_coinhunt_redis_replied(void);
void ngx_http_coinhunt_redis_error(char *what, redisReply *reply);
size_t ngx_http_coinhunt_redis_key(u_char *buf, ngx_str_t *hunt);

/* redis_reply.c: the shape of replies */
ngx_int_t ngx_http_coinhunt_redis_score(redisReply *reply, int64_t *score);
ngx_int_t ngx_http_coinhunt_redis_top(redisReply *reply,
    ngx_http_coinhunt_entry_t *top, ngx_uint_t *n);
ngx_int_t ngx_http_coinhunt_redis_rank(redisReply *reply, int64_t *rank);
ngx_int_t ngx_http_coinhunt_redis_status(redisReply *reply, char *expect);

/* redis_flush.c: pending scores and their flush */
ngx_int_t ngx_http_coinhunt_redis_flush_init(ngx_cycle_t *cycle,
    ngx_http_coinhunt_main_conf_t *cmcf);
void ngx_http_coinhunt_redis_flush_exit(void);
void ngx_http_coinhunt_redis_dirty(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot);
void ngx_http_coinhunt_redis_dirty_repair(ngx_http_coinhunt_shctx_t *sh);
void ngx_http_coinhunt_redis_joined(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_session_t *s, int64_t seed);

/* redis_read.c: seeds, top snapshots and ranks */
void ngx_http_coinhunt_redis_read_init(ngx_http_coinhunt_main_conf_t *cmcf);
void ngx_http_coinhunt_redis_read_exit(void);
ngx_int_t ngx_http_coinhunt_redis_seed(ngx_http_request_t *r,
    uint16_t hunt_id, ngx_str_t *player, int64_t score);
ngx_int_t ngx_http_coinhunt_redis_leaderboard(ngx_http_request_t *r,
    ngx_str_t *hunt, ngx_uint_t top, ngx_http_coinhunt_me_t *me);
void ngx_http_coinhunt_redis_waited(ngx_http_coinhunt_redis_wait_t *w,
    ngx_uint_t ready);


#endif /* _NGX_HTTP_COINHUNT_REDIS_H_INCLUDED_ */
