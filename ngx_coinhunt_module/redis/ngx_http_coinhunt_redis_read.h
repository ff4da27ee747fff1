
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_REDIS_READ_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_REDIS_READ_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_board.h"


/*
 * A read's answer, once: rc NGX_OK (the seed, -1: the player has none; the
 * board read filled), NGX_DECLINED (Redis is unavailable).
 */
typedef void (*ngx_http_coinhunt_seed_pt)(void *data, ngx_int_t rc,
    int64_t seed);
typedef void (*ngx_http_coinhunt_read_pt)(void *data, ngx_int_t rc);


void ngx_http_coinhunt_redis_read_init(ngx_http_coinhunt_main_conf_t *cmcf);
void ngx_http_coinhunt_redis_read_exit(void);
ngx_int_t ngx_http_coinhunt_redis_seed(ngx_pool_t *pool, ngx_str_t *hunt,
    ngx_str_t *player, ngx_http_coinhunt_seed_pt handler, void *data);
ngx_int_t ngx_http_coinhunt_redis_board(ngx_pool_t *pool,
    ngx_http_coinhunt_board_read_t *b, ngx_http_coinhunt_read_pt handler,
    void *data);


#endif /* _NGX_HTTP_COINHUNT_REDIS_READ_H_INCLUDED_ */
