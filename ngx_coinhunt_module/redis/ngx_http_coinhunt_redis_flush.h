
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_REDIS_FLUSH_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_REDIS_FLUSH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"


ngx_int_t ngx_http_coinhunt_redis_flush_init(ngx_cycle_t *cycle,
    ngx_http_coinhunt_main_conf_t *cmcf);
void ngx_http_coinhunt_redis_flush_exit(void);


#endif /* _NGX_HTTP_COINHUNT_REDIS_FLUSH_H_INCLUDED_ */
