
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_alloc.h"
#include "ngx_http_coinhunt_rate.h"
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_zone_file.h"
#include "ngx_http_coinhunt_counters.h"
#include "ngx_http_coinhunt_store.h"
#include "ngx_http_coinhunt_recovery.h"
#include "ngx_http_coinhunt_lua.h"
#include "ngx_http_coinhunt_worker.h"


/*
 * What a worker does over time: every NGX_HTTP_COINHUNT_SWEEP_EVERY ms it
 * expires a share of the idle sessions (their on_expire runs), recovers the
 * journals of dead processes, and publishes its gauges in its row.
 */


#define NGX_HTTP_COINHUNT_SWEEP_EVERY  250      /* ms */


static void ngx_http_coinhunt_sweep_handler(ngx_event_t *ev);
static void ngx_http_coinhunt_expired(void *data,
    ngx_http_coinhunt_session_t *s);


static ngx_event_t  ngx_http_coinhunt_sweep_event;


void
ngx_http_coinhunt_worker_init(ngx_cycle_t *cycle,
    ngx_http_coinhunt_main_conf_t *cmcf)
{
    ngx_http_coinhunt_worker_publish();

    ngx_http_coinhunt_sweep_event.handler = ngx_http_coinhunt_sweep_handler;
    ngx_http_coinhunt_sweep_event.log = cycle->log;
    ngx_http_coinhunt_sweep_event.data = cmcf;
    ngx_http_coinhunt_sweep_event.cancelable = 1;

    ngx_add_timer(&ngx_http_coinhunt_sweep_event,
                  NGX_HTTP_COINHUNT_SWEEP_EVERY);

    /* one worker writes a file-backed zone back to disk */
    if (ngx_worker == 0) {
        ngx_http_coinhunt_zone_file_sync_start(cycle->log, cmcf->zone_sync);
    }
}


/* the worker's gauges: its pid, its heap, its Lua VM */
void
ngx_http_coinhunt_worker_publish(void)
{
    ngx_http_coinhunt_counters_t    *row;
    ngx_http_coinhunt_heap_stats_t   heap;

    /*
     * an exiting worker of the previous generation leaves the row to its
     * successor: written now, it would be cleared at its exit
     */
    if (ngx_http_coinhunt_sh == NULL || ngx_exiting) {
        return;
    }

    ngx_http_coinhunt_heap_stats(&heap);

    row = ngx_http_coinhunt_counters();
    row->pid = ngx_pid;
    row->heap_allocated = heap.allocated;
    row->heap_resident = heap.resident;
    row->heap_allocations = heap.allocations;
    row->lua_bytes = ngx_http_coinhunt_lua_memory();
}


/*
 * Each tick examines a share of the slots sized so that the workers together
 * pass over the whole table within half a TTL: no stop-the-world scan.
 */
static void
ngx_http_coinhunt_sweep_handler(ngx_event_t *ev)
{
    ngx_uint_t                      count, n;
    ngx_http_coinhunt_shctx_t      *sh;
    ngx_http_coinhunt_main_conf_t  *cmcf;

    cmcf = ev->data;
    sh = ngx_http_coinhunt_sh;

    count = (ngx_uint_t) ((uint64_t) sh->capacity
                          * NGX_HTTP_COINHUNT_SWEEP_EVERY * 2
                          / cmcf->session_ttl) + 1024;

    n = ngx_http_coinhunt_sweep(sh, count,
                                ngx_http_coinhunt_now_ms()
                                - (int64_t) cmcf->session_ttl,
                                ngx_http_coinhunt_expired, cmcf);

    if (n) {
        ngx_log_debug1(NGX_LOG_DEBUG_CORE, ev->log, 0,
                       "coinhunt sweep: %ui session(s) expired", n);
    }

    ngx_http_coinhunt_recovery_sweep();

    ngx_http_coinhunt_worker_publish();

    if (!ngx_exiting) {
        ngx_add_timer(ev, NGX_HTTP_COINHUNT_SWEEP_EVERY);
    }
}


static void
ngx_http_coinhunt_expired(void *data, ngx_http_coinhunt_session_t *s)
{
    ngx_http_coinhunt_count(ngx_http_coinhunt_counters(), expiries, 1);
    ngx_http_coinhunt_lua_on_expire(data, s, ngx_cycle->log);
}
