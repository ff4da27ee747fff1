
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_HTTP_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_HTTP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_coinhunt_parse.h"


#define NGX_HTTP_COINHUNT_BODY_MAX     4096


ngx_int_t ngx_http_coinhunt_add_variables(ngx_conf_t *cf);
ngx_int_t ngx_http_coinhunt_with_params(ngx_http_request_t *r,
    ngx_http_coinhunt_action_pt action);
ngx_uint_t ngx_http_coinhunt_has_params(ngx_http_request_t *r);
ngx_int_t ngx_http_coinhunt_param(ngx_http_request_t *r, char *name,
    ngx_str_t *value);
ngx_int_t ngx_http_coinhunt_name_param(ngx_http_request_t *r, char *name,
    ngx_str_t *deflt, ngx_str_t *value);
ngx_int_t ngx_http_coinhunt_int_param(ngx_http_request_t *r, char *name,
    int64_t min, int64_t max, int64_t *value);
ngx_int_t ngx_http_coinhunt_token_param(ngx_http_request_t *r,
    ngx_str_t *token);
ngx_int_t ngx_http_coinhunt_allow(ngx_http_request_t *r, ngx_uint_t methods,
    char *allow);

ngx_int_t ngx_http_coinhunt_reject(ngx_http_request_t *r, ngx_uint_t status,
    char *code, const char *fmt, ...);
ngx_int_t ngx_http_coinhunt_rejected(ngx_http_request_t *r);

u_char *ngx_http_coinhunt_json_int(u_char *p, int64_t n);
ngx_int_t ngx_http_coinhunt_send(ngx_http_request_t *r, ngx_uint_t status,
    u_char *data, size_t len);
ngx_int_t ngx_http_coinhunt_output(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, u_char *data, size_t len);
ngx_int_t ngx_http_coinhunt_error(ngx_http_request_t *r, ngx_uint_t status,
    char *code, char *message);


#endif /* _NGX_HTTP_COINHUNT_HTTP_H_INCLUDED_ */
