
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_END_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_END_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_store.h"
#include "ngx_http_coinhunt_game.h"


ngx_int_t ngx_http_coinhunt_game_end(ngx_http_coinhunt_main_conf_t *cmcf,
    ngx_http_coinhunt_token_t *t, ngx_http_coinhunt_session_t *s,
    const ngx_http_coinhunt_fail_t **fail, ngx_log_t *log);


#endif /* _NGX_HTTP_COINHUNT_END_H_INCLUDED_ */
