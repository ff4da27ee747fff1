
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_HTTP_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_HTTP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_parse.h"
#include "ngx_http_coinhunt_token.h"


#define NGX_HTTP_COINHUNT_BODY_MAX     4096


/* a request's parameters, its rejection if any, and its log variables */
typedef struct {
    ngx_http_handler_pt            action;
    ngx_str_t                      body;
    ngx_uint_t                     status;     /* of a rejection */
    ngx_str_t                      code;
    ngx_str_t                      message;
    ngx_str_t                      player;
    int64_t                        score;
    int64_t                        coin;
    unsigned                       has_score:1;
    unsigned                       has_coin:1;
} ngx_http_coinhunt_ctx_t;


/*
 * The module's index among the http modules, which the module sets at
 * configuration: the HTTP side finds its configuration and context with it.
 */
extern ngx_uint_t  ngx_http_coinhunt_http_index;

#define ngx_http_coinhunt_main_conf(r)                                        \
    ((ngx_http_coinhunt_main_conf_t *)                                        \
     (r)->main_conf[ngx_http_coinhunt_http_index])
#define ngx_http_coinhunt_loc_conf(r)                                         \
    ((ngx_http_coinhunt_loc_conf_t *)                                         \
     (r)->loc_conf[ngx_http_coinhunt_http_index])
#define ngx_http_coinhunt_ctx(r)                                              \
    ((ngx_http_coinhunt_ctx_t *) (r)->ctx[ngx_http_coinhunt_http_index])


ngx_http_coinhunt_ctx_t *ngx_http_coinhunt_get_ctx(ngx_http_request_t *r);
ngx_int_t ngx_http_coinhunt_with_params(ngx_http_request_t *r,
    ngx_http_handler_pt action);
ngx_uint_t ngx_http_coinhunt_has_params(ngx_http_request_t *r);
ngx_int_t ngx_http_coinhunt_param(ngx_http_request_t *r, char *name,
    ngx_str_t *value);
ngx_int_t ngx_http_coinhunt_name_param(ngx_http_request_t *r, char *name,
    ngx_str_t *deflt, ngx_str_t *value);
ngx_int_t ngx_http_coinhunt_int_param(ngx_http_request_t *r, char *name,
    int64_t min, int64_t max, int64_t *value);
ngx_int_t ngx_http_coinhunt_coord_param(ngx_http_request_t *r, char *name,
    double *value);
ngx_int_t ngx_http_coinhunt_token_param(ngx_http_request_t *r,
    ngx_str_t *token);
ngx_int_t ngx_http_coinhunt_authorize(ngx_http_request_t *r,
    ngx_http_coinhunt_token_t *t);


#endif /* _NGX_HTTP_COINHUNT_HTTP_H_INCLUDED_ */
