
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_LEADERBOARD_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_LEADERBOARD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_board.h"
#include "ngx_http_coinhunt_redis_read.h"
#include "ngx_http_coinhunt_game.h"


ngx_int_t ngx_http_coinhunt_game_me(ngx_http_coinhunt_main_conf_t *cmcf,
    ngx_pool_t *pool, ngx_http_coinhunt_token_t *t,
    ngx_http_coinhunt_board_read_t *b, ngx_str_t *hunt,
    const ngx_http_coinhunt_fail_t **fail, ngx_log_t *log);
ngx_int_t ngx_http_coinhunt_game_board(ngx_http_coinhunt_main_conf_t *cmcf,
    ngx_pool_t *pool, ngx_http_coinhunt_board_read_t *b, ngx_str_t *mine,
    uint32_t index, const ngx_http_coinhunt_fail_t **fail,
    ngx_http_coinhunt_read_pt handler, void *data);


#endif /* _NGX_HTTP_COINHUNT_LEADERBOARD_H_INCLUDED_ */
