
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_CONF_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_CONF_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * What every layer knows: the limits of names and fields, the hot-path
 * attribute, and the configuration the directives fill (types only).
 */


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
    int                            on_query;
    int                            view;       /* the session's userdata */
} ngx_http_coinhunt_rules_t;


typedef struct {
    ngx_cycle_t                   *cycle;      /* the one configured */
    ngx_shm_zone_t                *shm_zone;
    ngx_str_t                      zone_file;  /* where coinhunt_zone is */
    ngx_uint_t                     zone_line;
    ngx_str_t                      zone_path;  /* file=, "": anonymous */
    ngx_msec_t                     zone_sync;
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
    const struct ngx_http_coinhunt_endpoint_s  *endpoint;  /* NULL: none */
    ngx_uint_t                     action;     /* the endpoint's index */
    ngx_http_coinhunt_rules_t     *rules;
    ngx_uint_t                     tap_rate;   /* 1/1000 taps a minute */
    ngx_uint_t                     tap_burst;  /* in 1/1000 taps */
    ngx_str_t                      file;       /* where "coinhunt" is */
    ngx_uint_t                     line;
} ngx_http_coinhunt_loc_conf_t;


#endif /* _NGX_HTTP_COINHUNT_CONF_H_INCLUDED_ */
