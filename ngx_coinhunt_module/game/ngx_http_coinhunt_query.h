
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_QUERY_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_QUERY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_token.h"
#include "ngx_http_coinhunt_store.h"
#include "ngx_http_coinhunt_game.h"


/* a query as a transport parsed it: valid names, the other arguments */
typedef struct {
    ngx_http_coinhunt_main_conf_t   *cmcf;
    ngx_http_coinhunt_rules_t       *rules;    /* NULL: none */
    ngx_log_t                       *log;
    ngx_pool_t                      *pool;     /* holds the answer */
    ngx_http_coinhunt_token_t       *token;    /* NULL: no session */
    ngx_str_t                        hunt;     /* len 0: none given */
    ngx_keyval_t                    *args;
    ngx_uint_t                       nargs;
} ngx_http_coinhunt_query_in_t;


/* its result: on_query's answer, or why it failed */
typedef struct {
    ngx_http_coinhunt_session_t      s;        /* player.len 0: none */
    ngx_str_t                        json;
    const ngx_http_coinhunt_fail_t  *fail;
} ngx_http_coinhunt_query_out_t;


ngx_int_t ngx_http_coinhunt_game_query(ngx_http_coinhunt_query_in_t *in,
    ngx_http_coinhunt_query_out_t *out);


#endif /* _NGX_HTTP_COINHUNT_QUERY_H_INCLUDED_ */
