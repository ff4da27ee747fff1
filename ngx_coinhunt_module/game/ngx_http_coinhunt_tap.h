
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_TAP_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_TAP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_lua.h"
#include "ngx_http_coinhunt_game.h"


#define NGX_HTTP_COINHUNT_SEQ_MAX      9007199254740991LL    /* 2^53 - 1 */


/* a tap as a transport parsed it */
typedef struct {
    ngx_http_coinhunt_main_conf_t   *cmcf;
    ngx_http_coinhunt_loc_conf_t    *clcf;     /* the rules, the rate */
    ngx_log_t                       *log;
    ngx_http_coinhunt_token_t        token;
    int64_t                          seq;      /* 0: none */
    ngx_http_coinhunt_tap_t          tap;      /* x and y given */
} ngx_http_coinhunt_tap_in_t;


/* its result: the session after it, or why it failed */
typedef struct {
    ngx_http_coinhunt_session_t      s;
    ngx_http_coinhunt_coin_t         coin;
    const ngx_http_coinhunt_fail_t  *fail;
    int64_t                          retry;    /* 429: seconds, else 0 */
    ngx_http_coinhunt_fail_t         refusal;  /* "fail" of a refusal */
    ngx_http_coinhunt_verdict_t      verdict;
} ngx_http_coinhunt_tap_out_t;


ngx_int_t ngx_http_coinhunt_game_tap(ngx_http_coinhunt_tap_in_t *in,
    ngx_http_coinhunt_tap_out_t *out);


#endif /* _NGX_HTTP_COINHUNT_TAP_H_INCLUDED_ */
