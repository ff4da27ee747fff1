
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_REDIS_REPLY_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_REDIS_REPLY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <hiredis/hiredis.h>
#include "ngx_http_coinhunt_board.h"


ngx_int_t ngx_http_coinhunt_redis_score(redisReply *reply, int64_t *score);
ngx_int_t ngx_http_coinhunt_redis_top(redisReply *reply,
    ngx_http_coinhunt_entry_t *top, ngx_uint_t *n);
ngx_int_t ngx_http_coinhunt_redis_rank(redisReply *reply, int64_t *rank);
ngx_int_t ngx_http_coinhunt_redis_status(redisReply *reply, char *expect);


#endif /* _NGX_HTTP_COINHUNT_REDIS_REPLY_H_INCLUDED_ */
