
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_LUA_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_LUA_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_module.h"
#include "ngx_http_coinhunt_zone.h"


#define NGX_HTTP_COINHUNT_KIND_MAX     32
#define NGX_HTTP_COINHUNT_COIN_MAX     1000000000


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
} ngx_http_coinhunt_coin_t;


char *ngx_http_coinhunt_lua_check(ngx_conf_t *cf,
    ngx_http_coinhunt_rules_t *rules);
ngx_int_t ngx_http_coinhunt_lua_init(ngx_cycle_t *cycle,
    ngx_http_coinhunt_main_conf_t *cmcf);
void ngx_http_coinhunt_lua_done(void);
size_t ngx_http_coinhunt_lua_memory(void);

ngx_int_t ngx_http_coinhunt_lua_on_join(ngx_http_coinhunt_rules_t *rules,
    ngx_http_coinhunt_session_t *s, ngx_log_t *log);
ngx_int_t ngx_http_coinhunt_lua_on_tap(ngx_http_coinhunt_rules_t *rules,
    ngx_http_coinhunt_session_t *s, ngx_http_coinhunt_tap_t *tap,
    ngx_http_coinhunt_coin_t *coin, ngx_log_t *log);
void ngx_http_coinhunt_lua_on_expire(ngx_http_coinhunt_rules_t *rules,
    ngx_http_coinhunt_session_t *s, ngx_log_t *log);


#endif /* _NGX_HTTP_COINHUNT_LUA_H_INCLUDED_ */
