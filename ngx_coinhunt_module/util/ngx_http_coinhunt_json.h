
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_JSON_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* copies a string literal: its length is the compiler's */
#define ngx_http_coinhunt_json_put(p, literal)                                \
    ngx_cpymem(p, literal, sizeof(literal) - 1)


u_char *ngx_http_coinhunt_json_int(u_char *p, int64_t n);


#endif /* _NGX_HTTP_COINHUNT_JSON_H_INCLUDED_ */
