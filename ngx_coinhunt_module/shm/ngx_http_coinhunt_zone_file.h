
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_ZONE_FILE_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_ZONE_FILE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"


/* what ngx_http_coinhunt_zone_file_map() found */
#define NGX_HTTP_COINHUNT_FILE_NEW      0   /* an empty file: lay it out */
#define NGX_HTTP_COINHUNT_FILE_KEPT     1   /* a zone no live nginx uses */
#define NGX_HTTP_COINHUNT_FILE_SHARED   2   /* the old binary's, running */


ngx_int_t ngx_http_coinhunt_zone_file_map(ngx_str_t *path, u_char *addr,
    size_t size, u_char *where, ngx_log_t *log, ngx_uint_t *found);
ngx_int_t ngx_http_coinhunt_zone_file_same(ngx_str_t *path);
void ngx_http_coinhunt_zone_file_orphan(ngx_http_coinhunt_shctx_t *sh);
void ngx_http_coinhunt_zone_file_sync_start(ngx_log_t *log,
    ngx_msec_t every);


#endif /* _NGX_HTTP_COINHUNT_ZONE_FILE_H_INCLUDED_ */
