
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_MODULE_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_COINHUNT_NAME_MAX     64
#define NGX_HTTP_COINHUNT_FIELDS_MAX   8
#define NGX_HTTP_COINHUNT_RULES_MAX    255

/*
 * Marks the functions of a tap: GCC puts them side by side in .text.hot,
 * so a tap runs through three pages of the module's code, not nine.
 */
#if (defined __GNUC__)
#define NGX_HTTP_COINHUNT_HOT          __attribute__((hot))
#else
#define NGX_HTTP_COINHUNT_HOT
#endif


typedef enum {
    NGX_HTTP_COINHUNT_NONE = 0,
    NGX_HTTP_COINHUNT_SESSION,
    NGX_HTTP_COINHUNT_TAP,
    NGX_HTTP_COINHUNT_LEADERBOARD,
    NGX_HTTP_COINHUNT_END,
    NGX_HTTP_COINHUNT_METRICS
} ngx_http_coinhunt_action_e;


/* one rules file; the worker's Lua side fills the slots at worker start */
typedef struct {
    ngx_str_t                      path;
    ngx_str_t                      source;     /* read by the master */
    ngx_uint_t                     index;      /* in this configuration */
    uint32_t                       id;         /* in the zone: the path's */
    ngx_uint_t                     nfields;
    ngx_str_t                      fields[NGX_HTTP_COINHUNT_FIELDS_MAX];
    int                            on_join;    /* VM stack slots, */
    int                            on_tap;     /* LUA_REFNIL: none */
    int                            on_expire;
    int                            view;       /* the session's userdata */
} ngx_http_coinhunt_rules_t;


typedef struct {
    ngx_cycle_t                   *cycle;      /* the one configured */
    ngx_shm_zone_t                *shm_zone;
    ngx_str_t                      zone_file;  /* where coinhunt_zone is */
    ngx_uint_t                     zone_line;
    ngx_str_t                      secret;
    u_char                         key[16];    /* the tokens' MAC key */
    uint64_t                       key_mask;   /* of MACs kept in slots */
    ngx_msec_t                     session_ttl;
    ngx_flag_t                     seed_set;
    uint64_t                       seed;
    ngx_array_t                    rules;      /* ngx_http_coinhunt_rules_t * */
    ngx_uint_t                     max_fields;
    struct ngx_http_coinhunt_redis_conf_s  *redis;  /* NULL: local boards */
    ngx_msec_t                     flush;
} ngx_http_coinhunt_main_conf_t;


typedef struct {
    ngx_http_coinhunt_action_e     action;
    ngx_http_coinhunt_rules_t     *rules;
    ngx_uint_t                     tap_rate;   /* 1/1000 taps a minute */
    ngx_uint_t                     tap_burst;  /* in 1/1000 taps */
    ngx_str_t                      file;       /* where "coinhunt" is */
    ngx_uint_t                     line;
} ngx_http_coinhunt_loc_conf_t;


typedef ngx_int_t (*ngx_http_coinhunt_action_pt)(ngx_http_request_t *r);


/* a request's parameters, its rejection if any, and its log variables */
typedef struct {
    ngx_http_coinhunt_action_pt    action;
    ngx_str_t                      body;
    ngx_uint_t                     status;     /* of a rejection */
    char                          *code;
    ngx_str_t                      message;
    ngx_str_t                      player;
    int64_t                        score;
    int64_t                        coin;
    unsigned                       has_score:1;
    unsigned                       has_coin:1;
} ngx_http_coinhunt_ctx_t;


ngx_http_coinhunt_ctx_t *ngx_http_coinhunt_get_ctx(ngx_http_request_t *r);
int64_t ngx_http_coinhunt_now_ms(void);


extern ngx_module_t  ngx_http_coinhunt_module;


#endif /* _NGX_HTTP_COINHUNT_MODULE_H_INCLUDED_ */
