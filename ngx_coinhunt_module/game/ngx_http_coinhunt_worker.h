
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_WORKER_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_WORKER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"


void ngx_http_coinhunt_worker_init(ngx_cycle_t *cycle,
    ngx_http_coinhunt_main_conf_t *cmcf);
void ngx_http_coinhunt_worker_publish(void);


#endif /* _NGX_HTTP_COINHUNT_WORKER_H_INCLUDED_ */
