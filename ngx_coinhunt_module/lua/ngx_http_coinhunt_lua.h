
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_LUA_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_LUA_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <lua.h>
#include <lauxlib.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_store.h"


#define NGX_HTTP_COINHUNT_KIND_MAX     32
#define NGX_HTTP_COINHUNT_COIN_MAX     1000000000
#define NGX_HTTP_COINHUNT_NAMES        11

/* a refusal's code and message, a coin's data (DESIGN.md) */
#define NGX_HTTP_COINHUNT_CODE_MAX     32
#define NGX_HTTP_COINHUNT_MESSAGE_MAX  256
#define NGX_HTTP_COINHUNT_DATA_KEYS    8
#define NGX_HTTP_COINHUNT_DATA_STRING  64
/* {"key":value,...}: a key of 32 and its 4 bytes, a string escaped */
#define NGX_HTTP_COINHUNT_DATA_LEN                                            \
    (2 + NGX_HTTP_COINHUNT_DATA_KEYS                                          \
         * (32 + 4 + 6 * NGX_HTTP_COINHUNT_DATA_STRING + 2 + 1))

/* a hook call, or a rules file's top level, may use this much CPU */
#define NGX_HTTP_COINHUNT_BUDGET       20       /* ms of the worker's CPU */
#define NGX_HTTP_COINHUNT_WATCH_EVERY  5        /* ms of CPU between looks */
#define NGX_HTTP_COINHUNT_HOOK_COUNT   10000    /* instructions, at load */
#define NGX_HTTP_COINHUNT_STOP                                                \
    "the rule ran over its budget of "                                        \
    ngx_value(NGX_HTTP_COINHUNT_BUDGET) " ms of CPU"


typedef struct {
    double                         x;
    double                         y;
    double                         now_ms;
    double                         seq;
} ngx_http_coinhunt_tap_t;


typedef struct {
    int64_t                        value;      /* -1: no coin */
    ngx_str_t                      kind;
    u_char                         kind_data[NGX_HTTP_COINHUNT_KIND_MAX];
    size_t                         data_len;   /* 0: no data */
    u_char                         data[NGX_HTTP_COINHUNT_DATA_LEN];
} ngx_http_coinhunt_coin_t;


/* what coinhunt.refuse() asked the request to answer */
typedef struct {
    ngx_uint_t                     status;
    size_t                         code_len;
    size_t                         message_len;
    u_char                         code[NGX_HTTP_COINHUNT_CODE_MAX];
    u_char                         message[NGX_HTTP_COINHUNT_MESSAGE_MAX];
} ngx_http_coinhunt_verdict_t;


/* the worker's VM and what the running hook works on */
typedef struct {
    lua_State                     *L;
    ngx_log_t                     *log;
    ngx_http_coinhunt_rules_t     *rules;
    ngx_http_coinhunt_session_t   *session;
    ngx_http_coinhunt_tap_t       *tap;
    double                         now_ms;      /* on_join's ctx.now_ms */
    int64_t                        hook_since;  /* count hook: CPU ns at
                                                   its first look, 0: none */
    volatile ngx_uint_t            call;        /* watchdog: one per call */
    volatile sig_atomic_t          in_call;
    volatile sig_atomic_t          stopping;    /* the stop hook is set */
    ngx_uint_t                     read_only;   /* on_query runs */
    uint64_t                       rng[4];
    int                            tap_ref;     /* stack slots, */
    int                            ctx_ref;     /* as are the rules' hooks */
    int                            value_key;
    int                            kind_key;
    int                            data_key;
    int                            top;         /* the last pinned slot */
    const char                    *names[NGX_HTTP_COINHUNT_NAMES];
    const char                    *fields[NGX_HTTP_COINHUNT_RULES_MAX]
                                         [NGX_HTTP_COINHUNT_FIELDS_MAX];
} ngx_http_coinhunt_lua_t;


extern ngx_http_coinhunt_lua_t  ngx_http_coinhunt_lua;


/* lua_sandbox.c: the VM, the rules file's load and check, a coin's check */
lua_State *ngx_http_coinhunt_lua_new(lua_Alloc alloc, u_char *err,
    size_t len);
ngx_int_t ngx_http_coinhunt_lua_load(lua_State *L, ngx_str_t *path,
    ngx_str_t *source, ngx_str_t *fields, ngx_uint_t *nfields, u_char *err,
    size_t len);
const char *ngx_http_coinhunt_lua_coin(lua_State *L, int idx,
    ngx_http_coinhunt_coin_t *coin);
void ngx_http_coinhunt_lua_rawfield(lua_State *L, int idx, const char *name);
void ngx_http_coinhunt_lua_hook(lua_State *L, lua_Debug *ar);
void ngx_http_coinhunt_lua_stop(lua_State *L, lua_Debug *ar);
int64_t ngx_http_coinhunt_lua_cpu(void);
const char *ngx_http_coinhunt_lua_error(lua_State *L);
void ngx_http_coinhunt_lua_seed(ngx_http_coinhunt_main_conf_t *cmcf);

/* lua_verdict.c: refusals and a coin's data */
void ngx_http_coinhunt_lua_verdict_open(lua_State *L);
ngx_int_t ngx_http_coinhunt_lua_identifier(const char *name, size_t size);
int ngx_http_coinhunt_lua_refuse(lua_State *L);
ngx_http_coinhunt_verdict_t *ngx_http_coinhunt_lua_refusal(lua_State *L,
    int idx);
const char *ngx_http_coinhunt_lua_coin_keys(lua_State *L, int idx);
const char *ngx_http_coinhunt_lua_data(lua_State *L,
    ngx_http_coinhunt_coin_t *coin);
u_char *ngx_http_coinhunt_lua_json_string(u_char *p, const u_char *s,
    size_t len);
u_char *ngx_http_coinhunt_lua_json_number(u_char *p, double v);

/* lua_query.c: on_query's answer as JSON */
#define NGX_HTTP_COINHUNT_QUERY_DEPTH    4
#define NGX_HTTP_COINHUNT_QUERY_ENTRIES  256
#define NGX_HTTP_COINHUNT_QUERY_KEY      64
#define NGX_HTTP_COINHUNT_QUERY_STRING   256
#define NGX_HTTP_COINHUNT_QUERY_ARGS     32

const char *ngx_http_coinhunt_lua_answer(lua_State *L, int idx,
    ngx_pool_t *pool, ngx_str_t *json);

/* lua_view.c: what a hook sees of its session, tap and join */
ngx_int_t ngx_http_coinhunt_lua_views(ngx_http_coinhunt_main_conf_t *cmcf);

/* lua_watchdog.c: the worker's budget for a call, without a count hook */
void ngx_http_coinhunt_lua_watch_start(ngx_log_t *log);
void ngx_http_coinhunt_lua_watch_stop(void);

/* lua.c: the worker's VM and the hooks' calls */

char *ngx_http_coinhunt_lua_check(ngx_conf_t *cf,
    ngx_http_coinhunt_rules_t *rules);
ngx_int_t ngx_http_coinhunt_lua_init(ngx_cycle_t *cycle,
    ngx_http_coinhunt_main_conf_t *cmcf);
void ngx_http_coinhunt_lua_done(void);
size_t ngx_http_coinhunt_lua_memory(void);

ngx_int_t ngx_http_coinhunt_lua_on_join(ngx_http_coinhunt_rules_t *rules,
    ngx_http_coinhunt_session_t *s, ngx_http_coinhunt_verdict_t *verdict,
    ngx_log_t *log);
ngx_int_t ngx_http_coinhunt_lua_on_tap(ngx_http_coinhunt_rules_t *rules,
    ngx_http_coinhunt_session_t *s, ngx_http_coinhunt_tap_t *tap,
    ngx_http_coinhunt_coin_t *coin, ngx_http_coinhunt_verdict_t *verdict,
    ngx_log_t *log);
ngx_int_t ngx_http_coinhunt_lua_on_query(ngx_http_coinhunt_rules_t *rules,
    ngx_http_coinhunt_session_t *s, ngx_keyval_t *args, ngx_uint_t nargs,
    ngx_str_t *hunt, ngx_pool_t *pool, ngx_str_t *json, ngx_log_t *log);
void ngx_http_coinhunt_lua_on_expire(ngx_http_coinhunt_main_conf_t *cmcf,
    ngx_http_coinhunt_session_t *s, ngx_log_t *log);


#endif /* _NGX_HTTP_COINHUNT_LUA_H_INCLUDED_ */
