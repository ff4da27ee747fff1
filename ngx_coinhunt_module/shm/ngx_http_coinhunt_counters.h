
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_COUNTERS_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_COUNTERS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_HTTP_COINHUNT_WORKERS_MAX  64


/*
 * One row per worker number in the shared zone, a cache line apart so
 * workers do not contend; counters are atomic because an exiting worker of
 * the previous generation may still write the row its successor uses.
 */
typedef struct {
    ngx_atomic_t                   taps;
    ngx_atomic_t                   coins;
    ngx_atomic_t                   coin_value;
    ngx_atomic_t                   rule_errors;
    ngx_atomic_t                   rate_limited;
    ngx_atomic_t                   refused;
    ngx_atomic_t                   redis_flushes;
    ngx_atomic_t                   redis_errors;
    ngx_atomic_t                   redis_up;
    /* gauges the worker publishes about itself */
    ngx_atomic_t                   pid;
    ngx_atomic_t                   heap_allocated;
    ngx_atomic_t                   heap_resident;
    ngx_atomic_t                   heap_allocations;
    ngx_atomic_t                   lua_bytes;
    ngx_atomic_t                   pad[2];
} ngx_http_coinhunt_counters_t;


#define ngx_http_coinhunt_count(row, name, n)                                 \
    (void) ngx_atomic_fetch_add(&(row)->name, (ngx_atomic_int_t) (n))


ngx_http_coinhunt_counters_t *ngx_http_coinhunt_counters(void);


#endif /* _NGX_HTTP_COINHUNT_COUNTERS_H_INCLUDED_ */
