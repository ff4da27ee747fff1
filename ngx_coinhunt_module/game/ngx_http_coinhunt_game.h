
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_GAME_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_GAME_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_lua.h"


/*
 * Why a player's call failed, as the API tells it: the HTTP status (a
 * transport maps it), the error code and the message.
 */
typedef struct {
    ngx_uint_t                     status;
    ngx_str_t                      code;
    ngx_str_t                      message;
} ngx_http_coinhunt_fail_t;


/* the API's failures of game calls (ngx_http_coinhunt_game.c) */
typedef enum {
    NGX_HTTP_COINHUNT_FAIL_TOKEN,
    NGX_HTTP_COINHUNT_FAIL_GONE,
    NGX_HTTP_COINHUNT_FAIL_REPLAY,
    NGX_HTTP_COINHUNT_FAIL_RATE,
    NGX_HTTP_COINHUNT_FAIL_TAPS,
    NGX_HTTP_COINHUNT_FAIL_TAP_RULE,
    NGX_HTTP_COINHUNT_FAIL_JOIN_RULE,
    NGX_HTTP_COINHUNT_FAIL_HUNTS,
    NGX_HTTP_COINHUNT_FAIL_SESSIONS,
    NGX_HTTP_COINHUNT_FAIL_UNAVAILABLE,
    NGX_HTTP_COINHUNT_FAIL_OTHER_HUNT,
    NGX_HTTP_COINHUNT_FAIL_NO_QUERY,
    NGX_HTTP_COINHUNT_FAIL_QUERY_RULE
} ngx_http_coinhunt_fail_e;


extern const ngx_http_coinhunt_fail_t  ngx_http_coinhunt_fails[];

#define ngx_http_coinhunt_fail(name)                                          \
    (&ngx_http_coinhunt_fails[NGX_HTTP_COINHUNT_FAIL_ ## name])


const ngx_http_coinhunt_fail_t *ngx_http_coinhunt_game_refused(
    ngx_http_coinhunt_fail_t *fail, ngx_http_coinhunt_verdict_t *verdict);


#endif /* _NGX_HTTP_COINHUNT_GAME_H_INCLUDED_ */
