
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_JOIN_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_JOIN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_token.h"
#include "ngx_http_coinhunt_store.h"
#include "ngx_http_coinhunt_game.h"


/* a join as a transport parsed it: valid names */
typedef struct {
    ngx_http_coinhunt_main_conf_t   *cmcf;
    ngx_http_coinhunt_rules_t       *rules;    /* NULL: none */
    ngx_log_t                       *log;
    ngx_pool_t                      *pool;     /* holds a join that waits */
    ngx_str_t                        player;
    ngx_str_t                        hunt;
} ngx_http_coinhunt_join_in_t;


/* its result: the session and its token, or why it failed */
typedef struct {
    ngx_http_coinhunt_session_t      s;
    ngx_str_t                        hunt;     /* the session's */
    u_char                           token[NGX_HTTP_COINHUNT_TOKEN_LEN];
    int64_t                          expires_in;   /* seconds */
    const ngx_http_coinhunt_fail_t  *fail;
    ngx_http_coinhunt_fail_t         refusal;  /* "fail" of a refusal */
    ngx_http_coinhunt_verdict_t      verdict;
} ngx_http_coinhunt_join_out_t;


/* a join that waited for Redis is done: rc as ngx_http_coinhunt_game_join's */
typedef void (*ngx_http_coinhunt_joined_pt)(void *data, ngx_int_t rc,
    ngx_http_coinhunt_join_out_t *out);


ngx_int_t ngx_http_coinhunt_game_join(ngx_http_coinhunt_join_in_t *in,
    ngx_http_coinhunt_join_out_t *out, ngx_http_coinhunt_joined_pt handler,
    void *data);


#endif /* _NGX_HTTP_COINHUNT_JOIN_H_INCLUDED_ */
