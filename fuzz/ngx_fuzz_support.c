
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_fuzz.h"


/*
 * The harnesses link the module's parsers without nginx's core, which is
 * not installed (only its headers are).  These are the nginx globals those
 * parsers read, set as a freshly started master has them, and the log
 * call: the log level below keeps ngx_log_error() from ever reaching it.
 */


static ngx_log_t      ngx_fuzz_log;
static ngx_cycle_t    ngx_fuzz_cycle;
static ngx_time_t     ngx_fuzz_time;

volatile ngx_cycle_t  *ngx_cycle;
volatile ngx_time_t   *ngx_cached_time;
ngx_pid_t              ngx_pid;
ngx_uint_t             ngx_worker;


void
ngx_fuzz_init(void)
{
    ngx_fuzz_log.log_level = NGX_LOG_STDERR;
    ngx_fuzz_cycle.log = &ngx_fuzz_log;
    ngx_fuzz_time.sec = 1700000000;

    ngx_cycle = &ngx_fuzz_cycle;
    ngx_cached_time = &ngx_fuzz_time;
    ngx_pid = getpid();
}


void
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
    const char *fmt, ...)
{
    /* unreachable at NGX_LOG_STDERR: a call means a harness is wrong */
    abort();
}
