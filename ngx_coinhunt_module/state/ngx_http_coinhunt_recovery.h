
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_RECOVERY_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_RECOVERY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"


ngx_int_t ngx_http_coinhunt_recovery_init(ngx_log_t *log);
void ngx_http_coinhunt_recovery_sweep(void);
void ngx_http_coinhunt_recovery_exit(void);


#endif /* _NGX_HTTP_COINHUNT_RECOVERY_H_INCLUDED_ */
