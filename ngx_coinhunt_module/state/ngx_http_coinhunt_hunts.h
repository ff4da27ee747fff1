
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_HUNTS_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_HUNTS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"


ngx_int_t ngx_http_coinhunt_hunt_find(ngx_http_coinhunt_shctx_t *sh,
    ngx_str_t *name, ngx_uint_t create, uint16_t *id);
ngx_str_t ngx_http_coinhunt_hunt_name(ngx_http_coinhunt_shctx_t *sh,
    uint16_t id);


#endif /* _NGX_HTTP_COINHUNT_HUNTS_H_INCLUDED_ */
