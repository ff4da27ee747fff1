
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_PARSE_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_PARSE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


ngx_uint_t ngx_http_coinhunt_valid_name(u_char *p, size_t len, size_t max);
ngx_int_t ngx_http_coinhunt_form_arg(u_char *p, size_t len, char *name,
    ngx_str_t *value);
ngx_int_t ngx_http_coinhunt_parse_int(u_char *p, size_t len, int64_t min,
    int64_t max, int64_t *value);
ngx_int_t ngx_http_coinhunt_parse_coord(u_char *p, size_t len,
    double *value);
ngx_int_t ngx_http_coinhunt_bearer(u_char *p, size_t len, ngx_str_t *token);
ngx_int_t ngx_http_coinhunt_parse_seed(u_char *p, size_t len,
    uint64_t *seed);


#endif /* _NGX_HTTP_COINHUNT_PARSE_H_INCLUDED_ */
