
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_counters.h"
#include "ngx_http_coinhunt_journal.h"
#include "ngx_http_coinhunt_worker.h"
#include "ngx_http_coinhunt_reply.h"
#include "ngx_http_coinhunt_endpoints.h"


/*
 * GET /metrics: the Prometheus text of the module's build, the counters
 * summed over the workers' rows, the zone's gauges, and each worker's own
 * gauges.
 */


/* counters summed over the rows of all workers */
typedef struct {
    char                          *name;
    char                          *help;
    size_t                         offset;
} ngx_http_coinhunt_metric_t;


static ngx_http_coinhunt_metric_t  ngx_http_coinhunt_counter_metrics[] = {
    { "coinhunt_taps_total", "Taps credited.",
      offsetof(ngx_http_coinhunt_counters_t, taps) },
    { "coinhunt_coins_total", "Coins found.",
      offsetof(ngx_http_coinhunt_counters_t, coins) },
    { "coinhunt_coin_value_total", "Sum of the values of the coins found.",
      offsetof(ngx_http_coinhunt_counters_t, coin_value) },
    { "coinhunt_rule_errors_total", "Rule calls that failed.",
      offsetof(ngx_http_coinhunt_counters_t, rule_errors) },
    { "coinhunt_rate_limited_total", "Taps answered 429 rate_limited.",
      offsetof(ngx_http_coinhunt_counters_t, rate_limited) },
    { "coinhunt_refused_total",
      "Taps and joins the rules refused (coinhunt.refuse).",
      offsetof(ngx_http_coinhunt_counters_t, refused) },
    { "coinhunt_redis_flushes_total", "Batches of scores written to Redis.",
      offsetof(ngx_http_coinhunt_counters_t, redis_flushes) },
    { "coinhunt_redis_errors_total", "Failed Redis connections or commands.",
      offsetof(ngx_http_coinhunt_counters_t, redis_errors) },
    { NULL, NULL, 0 }
};


/* gauges each worker publishes about itself */
static ngx_http_coinhunt_metric_t  ngx_http_coinhunt_worker_metrics[] = {
    { "coinhunt_heap_allocated_bytes",
      "Bytes the worker's module data holds in its heap.",
      offsetof(ngx_http_coinhunt_counters_t, heap_allocated) },
    { "coinhunt_heap_resident_bytes",
      "Resident bytes of the worker's heap (its jemalloc arena, or malloc).",
      offsetof(ngx_http_coinhunt_counters_t, heap_resident) },
    { "coinhunt_heap_allocations_total",
      "Calls the worker's module made into its heap allocator.",
      offsetof(ngx_http_coinhunt_counters_t, heap_allocations) },
    { "coinhunt_lua_memory_bytes", "Size of the worker's Lua VM.",
      offsetof(ngx_http_coinhunt_counters_t, lua_bytes) },
    { NULL, NULL, 0 }
};


#if (NGX_COINHUNT_JEMALLOC)
#define NGX_HTTP_COINHUNT_ALLOCATOR  "jemalloc"
#else
#define NGX_HTTP_COINHUNT_ALLOCATOR  "libc"
#endif


/* NGX_COINHUNT_VERSION: the VERSION file, defined by config */
static ngx_str_t  ngx_http_coinhunt_build_info = ngx_string(
    "# HELP coinhunt_build_info The module's version and allocator.\n"
    "# TYPE coinhunt_build_info gauge\n"
    "coinhunt_build_info{version=\"" NGX_COINHUNT_VERSION "\",allocator=\""
    NGX_HTTP_COINHUNT_ALLOCATOR "\"} 1\n");


/* the lines written, with their numbers left out */
#define NGX_HTTP_COINHUNT_COUNTER_LINES  "# HELP  \n# TYPE  counter\n \n"
#define NGX_HTTP_COINHUNT_WORKER_HEAD    "# HELP  \n# TYPE  counter\n"
#define NGX_HTTP_COINHUNT_WORKER_LINE    "{worker=\"\"} \n"

#define NGX_HTTP_COINHUNT_ZONE_GAUGES                                         \
    "# HELP coinhunt_sessions Live sessions.\n"                               \
    "# TYPE coinhunt_sessions gauge\n"                                        \
    "coinhunt_sessions %L\n"                                                  \
    "# HELP coinhunt_sessions_capacity Sessions the zone can hold.\n"         \
    "# TYPE coinhunt_sessions_capacity gauge\n"                               \
    "coinhunt_sessions_capacity %uD\n"

/* in Redis mode only: without Redis, no "Redis down" */
#define NGX_HTTP_COINHUNT_REDIS_UP                                            \
    "# HELP coinhunt_redis_up 1 when every worker is connected to Redis.\n"   \
    "# TYPE coinhunt_redis_up gauge\n"                                        \
    "coinhunt_redis_up %ui\n"

#define NGX_HTTP_COINHUNT_PENDING                                             \
    "# HELP coinhunt_redis_pending_scores Changed scores not yet written "     \
    "to Redis.\n"                                                             \
    "# TYPE coinhunt_redis_pending_scores gauge\n"                            \
    "coinhunt_redis_pending_scores %L\n"


static size_t ngx_http_coinhunt_metrics_len(void);
static ngx_uint_t ngx_http_coinhunt_redis_up(ngx_http_coinhunt_shctx_t *sh);
static u_char *ngx_http_coinhunt_worker_lines(u_char *p,
    ngx_http_coinhunt_shctx_t *sh);


static ngx_str_t  ngx_http_coinhunt_text =
    ngx_string("text/plain; version=0.0.4; charset=utf-8");


#define ngx_http_coinhunt_field(row, offset)                                  \
    (*(ngx_atomic_t *) ((u_char *) (row) + (offset)))


ngx_int_t
ngx_http_coinhunt_http_metrics(ngx_http_request_t *r)
{
    u_char                      *p, *last;
    ngx_uint_t                   w;
    ngx_atomic_uint_t            sum;
    ngx_http_coinhunt_metric_t  *m;
    ngx_http_coinhunt_shctx_t   *sh;

    sh = ngx_http_coinhunt_sh;

    ngx_http_coinhunt_worker_publish();

    p = ngx_pnalloc(r->pool, ngx_http_coinhunt_metrics_len());
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = ngx_cpymem(p, ngx_http_coinhunt_build_info.data,
                      ngx_http_coinhunt_build_info.len);

    for (m = ngx_http_coinhunt_counter_metrics; m->name; m++) {
        sum = 0;

        for (w = 0; w < NGX_HTTP_COINHUNT_WORKERS_MAX; w++) {
            sum += ngx_http_coinhunt_field(&sh->counters[w], m->offset);
        }

        last = ngx_sprintf(last, "# HELP %s %s\n# TYPE %s counter\n%s %uA\n",
                           m->name, m->help, m->name, m->name, sum);
    }

    last = ngx_sprintf(last, NGX_HTTP_COINHUNT_ZONE_GAUGES,
                       ngx_http_coinhunt_journal_sum(sh,
                           offsetof(ngx_http_coinhunt_journal_t, sessions)),
                       sh->capacity);

    if (sh->redis) {
        last = ngx_sprintf(last, NGX_HTTP_COINHUNT_REDIS_UP,
                           ngx_http_coinhunt_redis_up(sh));
    }

    last = ngx_sprintf(last, NGX_HTTP_COINHUNT_PENDING,
                       ngx_http_coinhunt_journal_sum(sh,
                           offsetof(ngx_http_coinhunt_journal_t, dirty)));

    last = ngx_http_coinhunt_worker_lines(last, sh);

    return ngx_http_coinhunt_output(r, NGX_HTTP_OK, &ngx_http_coinhunt_text,
                                    p, last - p);
}


/* the most the metrics take, from the lines' templates */
static size_t
ngx_http_coinhunt_metrics_len(void)
{
    size_t                       len, name;
    ngx_http_coinhunt_metric_t  *m;

    len = ngx_http_coinhunt_build_info.len
          + sizeof(NGX_HTTP_COINHUNT_ZONE_GAUGES) + 2 * NGX_INT64_LEN
          + sizeof(NGX_HTTP_COINHUNT_REDIS_UP) + NGX_INT_T_LEN
          + sizeof(NGX_HTTP_COINHUNT_PENDING) + NGX_INT64_LEN;

    for (m = ngx_http_coinhunt_counter_metrics; m->name; m++) {
        len += sizeof(NGX_HTTP_COINHUNT_COUNTER_LINES) - 1
               + 3 * ngx_strlen(m->name) + ngx_strlen(m->help)
               + NGX_ATOMIC_T_LEN;
    }

    for (m = ngx_http_coinhunt_worker_metrics; m->name; m++) {
        name = ngx_strlen(m->name);

        len += sizeof(NGX_HTTP_COINHUNT_WORKER_HEAD) - 1 + 2 * name
               + ngx_strlen(m->help)
               + NGX_HTTP_COINHUNT_WORKERS_MAX
                 * (sizeof(NGX_HTTP_COINHUNT_WORKER_LINE) - 1 + name
                    + NGX_INT_T_LEN + NGX_ATOMIC_T_LEN);
    }

    return len;
}


/*
 * no live worker without its connection, and as many connected as there
 * are workers (one may not have started yet); the zone is in Redis mode
 */
static ngx_uint_t
ngx_http_coinhunt_redis_up(ngx_http_coinhunt_shctx_t *sh)
{
    ngx_uint_t        w, connected, expected;
    ngx_core_conf_t  *ccf;

    ccf = (ngx_core_conf_t *) ngx_get_conf(ngx_cycle->conf_ctx,
                                           ngx_core_module);
    expected = (ngx_process == NGX_PROCESS_SINGLE)
               ? 1 : (ngx_uint_t) ccf->worker_processes;
    connected = 0;

    for (w = 0; w < NGX_HTTP_COINHUNT_WORKERS_MAX; w++) {
        if (sh->counters[w].pid == 0) {
            continue;
        }

        if (!sh->counters[w].redis_up) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                           "coinhunt metrics: worker %ui has no Redis", w);
            return 0;
        }

        connected++;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "coinhunt metrics: %ui of %ui workers on Redis",
                   connected, expected);

    return connected >= ngx_min(expected, NGX_HTTP_COINHUNT_WORKERS_MAX);
}


/*
 * each live worker's gauges, labelled by its worker number (its row), which
 * a reload keeps, unlike its pid
 */
static u_char *
ngx_http_coinhunt_worker_lines(u_char *p, ngx_http_coinhunt_shctx_t *sh)
{
    ngx_uint_t                     w;
    ngx_http_coinhunt_metric_t    *m;
    ngx_http_coinhunt_counters_t  *row;

    for (m = ngx_http_coinhunt_worker_metrics; m->name; m++) {
        p = ngx_sprintf(p, "# HELP %s %s\n# TYPE %s %s\n",
                        m->name, m->help, m->name,
                        ngx_strstr(m->name, "_total") ? "counter" : "gauge");

        for (w = 0; w < NGX_HTTP_COINHUNT_WORKERS_MAX; w++) {
            row = &sh->counters[w];

            if (row->pid == 0) {
                continue;
            }

            p = ngx_sprintf(p, "%s{worker=\"%ui\"} %uA\n",
                            m->name, w,
                            ngx_http_coinhunt_field(row, m->offset));
        }
    }

    return p;
}
