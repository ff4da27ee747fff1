
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_ALLOC_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_ALLOC_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


typedef struct {
    size_t                         allocated;   /* bytes in live blocks */
    size_t                         resident;    /* pages the heap holds */
    uint64_t                       allocations; /* calls into the heap */
} ngx_http_coinhunt_heap_stats_t;


ngx_int_t ngx_http_coinhunt_alloc_init(ngx_log_t *log);
void ngx_http_coinhunt_alloc_done(void);

void *ngx_http_coinhunt_alloc(size_t size);
void ngx_http_coinhunt_free(void *p, size_t size);
void *ngx_http_coinhunt_lua_alloc(void *ud, void *p, size_t osize,
    size_t nsize);

void ngx_http_coinhunt_heap_stats(ngx_http_coinhunt_heap_stats_t *stats);
const char *ngx_http_coinhunt_allocator_name(void);


#endif /* _NGX_HTTP_COINHUNT_ALLOC_H_INCLUDED_ */
