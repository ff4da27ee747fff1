
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <sys/syscall.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_lua.h"


/*
 * A worker's budget for a hook call, at no cost per VM instruction: a timer
 * on the worker thread's own CPU clock signals it every WATCH_EVERY ms of
 * CPU it uses (an idle worker gets no signal).  A signal that finds one
 * call running since an earlier signal at least BUDGET ms of CPU before
 * sets a count hook of 1, which stops the call at its next instruction; the
 * caller takes the hook away when lua_pcall() returns.  LuaJIT allows
 * lua_sethook() in a signal handler (its luajit.c stops a script so).
 */


/* glibc before 2.37 names the field only through its union */
#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id  _sigev_un._tid
#endif

/* realtime: nginx and LuaJIT use none, glibc keeps its own below SIGRTMIN */
#define NGX_HTTP_COINHUNT_WATCH_SIGNAL  (SIGRTMIN + 7)


static void ngx_http_coinhunt_lua_watch_handler(int signo);
static void ngx_http_coinhunt_lua_watch_default(void);


static ngx_uint_t  ngx_http_coinhunt_lua_watching;
static timer_t     ngx_http_coinhunt_lua_timer;

/* the handler's own: the call it last saw and the CPU time it first did */
static ngx_uint_t  ngx_http_coinhunt_lua_seen;
static int64_t     ngx_http_coinhunt_lua_seen_at;


/*
 * Takes the count hook away for the watchdog; without a timer, the hook
 * stays and keeps the same budget, at its cost per instruction.
 */
void
ngx_http_coinhunt_lua_watch_start(ngx_log_t *log)
{
    struct sigevent    sev;
    struct sigaction   sa;
    struct itimerspec  its;

    ngx_memzero(&sa, sizeof(struct sigaction));
    sa.sa_handler = ngx_http_coinhunt_lua_watch_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);

    if (sigaction(NGX_HTTP_COINHUNT_WATCH_SIGNAL, &sa, NULL) == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "coinhunt: sigaction(SIGRTMIN+7) failed: rules keep "
                      "the count hook");
        return;
    }

    ngx_memzero(&sev, sizeof(struct sigevent));
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = NGX_HTTP_COINHUNT_WATCH_SIGNAL;
    sev.sigev_notify_thread_id = (pid_t) syscall(SYS_gettid);

    if (timer_create(CLOCK_THREAD_CPUTIME_ID, &sev,
                     &ngx_http_coinhunt_lua_timer)
        == -1)
    {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "coinhunt: timer_create() failed: rules keep the "
                      "count hook");
        ngx_http_coinhunt_lua_watch_default();
        return;
    }

    its.it_interval.tv_sec = 0;
    its.it_interval.tv_nsec = NGX_HTTP_COINHUNT_WATCH_EVERY * 1000000;
    its.it_value = its.it_interval;

    if (timer_settime(ngx_http_coinhunt_lua_timer, 0, &its, NULL) == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "coinhunt: timer_settime() failed: rules keep the "
                      "count hook");
        (void) timer_delete(ngx_http_coinhunt_lua_timer);
        ngx_http_coinhunt_lua_watch_default();
        return;
    }

    ngx_http_coinhunt_lua_watching = 1;

    lua_sethook(ngx_http_coinhunt_lua.L, NULL, 0, 0);
}


void
ngx_http_coinhunt_lua_watch_stop(void)
{
    if (!ngx_http_coinhunt_lua_watching) {
        return;
    }

    /* the kernel drops a signal of the timer that is still pending */
    (void) timer_delete(ngx_http_coinhunt_lua_timer);
    ngx_http_coinhunt_lua_watch_default();

    ngx_http_coinhunt_lua_watching = 0;
}


static void
ngx_http_coinhunt_lua_watch_default(void)
{
    struct sigaction  sa;

    ngx_memzero(&sa, sizeof(struct sigaction));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);

    (void) sigaction(NGX_HTTP_COINHUNT_WATCH_SIGNAL, &sa, NULL);
}


static void
ngx_http_coinhunt_lua_watch_handler(int signo)
{
    int64_t                   now;
    ngx_err_t                 err;
    ngx_http_coinhunt_lua_t  *lua;

    /* an epoll_wait() this interrupts returns quietly, as for SIGALRM */
    ngx_event_timer_alarm = 1;

    lua = &ngx_http_coinhunt_lua;

    if (!lua->in_call || lua->stopping) {
        return;
    }

    err = ngx_errno;
    now = ngx_http_coinhunt_lua_cpu();

    if (ngx_http_coinhunt_lua_seen != lua->call) {
        /* the call began before now: it has run at least what follows */
        ngx_http_coinhunt_lua_seen = lua->call;
        ngx_http_coinhunt_lua_seen_at = now;

    } else if (now - ngx_http_coinhunt_lua_seen_at
               >= NGX_HTTP_COINHUNT_BUDGET * 1000000LL)
    {
        lua->stopping = 1;
        lua_sethook(lua->L, ngx_http_coinhunt_lua_stop, LUA_MASKCOUNT, 1);
    }

    ngx_set_errno(err);
}
