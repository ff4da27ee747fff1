
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_TREE_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_TREE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"


/* nodes are slot + 1: a board's top runs first, next, next ... */
void ngx_http_coinhunt_tree_insert(ngx_http_coinhunt_shctx_t *sh,
    uint32_t *root, uint32_t x);
void ngx_http_coinhunt_tree_remove(ngx_http_coinhunt_shctx_t *sh,
    uint32_t *root, uint32_t x);
void ngx_http_coinhunt_tree_moved(ngx_http_coinhunt_shctx_t *sh,
    uint32_t *root, uint32_t x);
uint32_t ngx_http_coinhunt_tree_first(ngx_http_coinhunt_shctx_t *sh,
    uint32_t root);
uint32_t ngx_http_coinhunt_tree_next(ngx_http_coinhunt_shctx_t *sh,
    uint32_t x);
int64_t ngx_http_coinhunt_tree_rank(ngx_http_coinhunt_shctx_t *sh,
    uint32_t root, uint32_t x);
uint32_t ngx_http_coinhunt_tree_size(ngx_http_coinhunt_shctx_t *sh,
    uint32_t root);


#endif /* _NGX_HTTP_COINHUNT_TREE_H_INCLUDED_ */
