
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_ENDPOINTS_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_ENDPOINTS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* the endpoints' handlers, one file each: the module's endpoint table */
ngx_int_t ngx_http_coinhunt_http_session(ngx_http_request_t *r);
ngx_int_t ngx_http_coinhunt_http_tap(ngx_http_request_t *r);
ngx_int_t ngx_http_coinhunt_http_leaderboard(ngx_http_request_t *r);
ngx_int_t ngx_http_coinhunt_http_end(ngx_http_request_t *r);
ngx_int_t ngx_http_coinhunt_http_metrics(ngx_http_request_t *r);
ngx_int_t ngx_http_coinhunt_http_query(ngx_http_request_t *r);


#endif /* _NGX_HTTP_COINHUNT_ENDPOINTS_H_INCLUDED_ */
