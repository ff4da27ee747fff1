
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_COUNTERS_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_COUNTERS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_HTTP_COINHUNT_WORKERS_MAX  64

/* the answers by endpoint (its "coinhunt NAME") and by status */
#define NGX_HTTP_COINHUNT_ACTIONS      6
#define NGX_HTTP_COINHUNT_STATUSES     12      /* the last: any other */

/* the rules' hooks, timed into a histogram of fixed buckets each */
#define NGX_HTTP_COINHUNT_ON_JOIN      0
#define NGX_HTTP_COINHUNT_ON_TAP       1
#define NGX_HTTP_COINHUNT_ON_EXPIRE    2
#define NGX_HTTP_COINHUNT_ON_QUERY     3
#define NGX_HTTP_COINHUNT_HOOKS        4
#define NGX_HTTP_COINHUNT_RULE_BUCKETS 12      /* the last: +Inf */


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
    ngx_atomic_t                   joins;
    ngx_atomic_t                   expiries;
    ngx_atomic_t                   responses[NGX_HTTP_COINHUNT_ACTIONS]
                                            [NGX_HTTP_COINHUNT_STATUSES];
    /* each bucket counts its own calls only; the metrics add them up */
    ngx_atomic_t                   rule_calls[NGX_HTTP_COINHUNT_HOOKS]
                                             [NGX_HTTP_COINHUNT_RULE_BUCKETS];
    ngx_atomic_t                   rule_ns[NGX_HTTP_COINHUNT_HOOKS];
    /* gauges the worker publishes about itself */
    ngx_atomic_t                   pid;
    ngx_atomic_t                   heap_allocated;
    ngx_atomic_t                   heap_resident;
    ngx_atomic_t                   heap_allocations;
    ngx_atomic_t                   lua_bytes;
    ngx_atomic_t                   pad[4];     /* whole cache lines */
} ngx_http_coinhunt_counters_t;


#define ngx_http_coinhunt_count(row, name, n)                                 \
    (void) ngx_atomic_fetch_add(&(row)->name, (ngx_atomic_int_t) (n))


extern const char *const  ngx_http_coinhunt_actions[];
extern const char *const  ngx_http_coinhunt_hooks[];
extern const ngx_uint_t  ngx_http_coinhunt_statuses[];
extern const uint64_t    ngx_http_coinhunt_rule_bounds[];


ngx_http_coinhunt_counters_t *ngx_http_coinhunt_counters(void);
void ngx_http_coinhunt_count_response(ngx_uint_t action, ngx_uint_t status);
void ngx_http_coinhunt_count_rule(ngx_uint_t hook, uint64_t ns);


#endif /* _NGX_HTTP_COINHUNT_COUNTERS_H_INCLUDED_ */
