
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_SESSION_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_SESSION_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_coinhunt_zone.h"


ngx_int_t ngx_http_coinhunt_session_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_coinhunt_end_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_coinhunt_authorize(ngx_http_request_t *r,
    ngx_http_coinhunt_token_t *t);
ngx_http_coinhunt_slot_t *ngx_http_coinhunt_authorized_lock(
    ngx_http_request_t *r, ngx_http_coinhunt_token_t *t, int64_t idle_before);
ngx_http_coinhunt_ctx_t *ngx_http_coinhunt_log_session(ngx_http_request_t *r,
    ngx_http_coinhunt_session_t *s);
u_char *ngx_http_coinhunt_state_json(u_char *p, ngx_http_coinhunt_session_t *s);
ngx_int_t ngx_http_coinhunt_join_create(ngx_http_request_t *r,
    uint16_t hunt_id, ngx_str_t *player, int64_t score, int64_t seed);


#endif /* _NGX_HTTP_COINHUNT_SESSION_H_INCLUDED_ */
