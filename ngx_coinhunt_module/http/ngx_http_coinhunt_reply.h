
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_REPLY_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_REPLY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_store.h"
#include "ngx_http_coinhunt_game.h"
#include "ngx_http_coinhunt_http.h"


/* the longest a rejection's message gets */
#define NGX_HTTP_COINHUNT_MESSAGE_MAX  256

/* what ngx_http_coinhunt_state_json() writes, at most */
#define NGX_HTTP_COINHUNT_STATE_LEN                                           \
    (sizeof("\"player\":\"\",\"hunt\":\"\",\"score\":,\"taps\":,"              \
            "\"coins\":") - 1                                                 \
     + 2 * NGX_HTTP_COINHUNT_NAME_MAX + NGX_INT64_LEN + 2 * NGX_INT32_LEN)


extern ngx_str_t  ngx_http_coinhunt_code_bad_request;
extern ngx_str_t  ngx_http_coinhunt_code_unauthorized;
extern ngx_str_t  ngx_http_coinhunt_code_too_large;


ngx_int_t ngx_http_coinhunt_reject(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *code, const char *fmt, ...);
ngx_int_t ngx_http_coinhunt_rejected(ngx_http_request_t *r);
ngx_int_t ngx_http_coinhunt_not_allowed(ngx_http_request_t *r,
    ngx_str_t *allow);
ngx_int_t ngx_http_coinhunt_failed(ngx_http_request_t *r,
    const ngx_http_coinhunt_fail_t *fail, int64_t retry);
ngx_int_t ngx_http_coinhunt_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *code, ngx_str_t *message);
ngx_int_t ngx_http_coinhunt_send(ngx_http_request_t *r, ngx_uint_t status,
    u_char *data, size_t len);
ngx_int_t ngx_http_coinhunt_output(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, u_char *data, size_t len);
void ngx_http_coinhunt_finalize(ngx_http_request_t *r, ngx_int_t rc);

ngx_http_coinhunt_ctx_t *ngx_http_coinhunt_log_session(ngx_http_request_t *r,
    ngx_http_coinhunt_session_t *s);
u_char *ngx_http_coinhunt_state_json(u_char *p,
    ngx_http_coinhunt_session_t *s);


#endif /* _NGX_HTTP_COINHUNT_REPLY_H_INCLUDED_ */
