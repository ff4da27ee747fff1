
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_MODULE_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_coinhunt_conf.h"


/* what "coinhunt NAME" serves: the endpoint table's rows */
typedef struct ngx_http_coinhunt_endpoint_s {
    ngx_str_t                      name;
    ngx_uint_t                     methods;    /* NGX_HTTP_GET|... */
    ngx_str_t                      allow;      /* the same, for Allow */
    ngx_http_handler_pt            handler;
    unsigned                       body:1;     /* a form body may carry
                                                  the parameters */
    unsigned                       rules:1;    /* needs coinhunt_rules */
} ngx_http_coinhunt_endpoint_t;


extern ngx_module_t  ngx_http_coinhunt_module;


#endif /* _NGX_HTTP_COINHUNT_MODULE_H_INCLUDED_ */
