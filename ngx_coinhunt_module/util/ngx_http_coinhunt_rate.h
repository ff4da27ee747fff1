
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_RATE_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_RATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


int64_t ngx_http_coinhunt_now_ms(void);
ngx_int_t ngx_http_coinhunt_rate_take(uint32_t excess, int64_t last_ms,
    int64_t now, ngx_uint_t rate, ngx_uint_t burst, int64_t *out);


#endif /* _NGX_HTTP_COINHUNT_RATE_H_INCLUDED_ */
