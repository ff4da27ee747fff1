
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_coinhunt_module.h"
#include "ngx_http_coinhunt_alloc.h"
#include "ngx_http_coinhunt_token.h"
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_counters.h"
#include "ngx_http_coinhunt_recovery.h"
#include "ngx_http_coinhunt_lua.h"
#include "ngx_http_coinhunt_redis.h"
#include "ngx_http_coinhunt_redis_flush.h"
#include "ngx_http_coinhunt_redis_read.h"
#include "ngx_http_coinhunt_worker.h"
#include "ngx_http_coinhunt_http.h"
#include "ngx_http_coinhunt_reply.h"
#include "ngx_http_coinhunt_variables.h"
#include "ngx_http_coinhunt_endpoints.h"


/*
 * The module: its directives, the endpoint table that "coinhunt NAME"
 * picks a row of, and the wiring of the layers at a worker's start (the
 * source map is in README.md).
 */


#define NGX_HTTP_COINHUNT_ZONE_MIN     (512 * 1024)


static ngx_int_t ngx_http_coinhunt_handler(ngx_http_request_t *r);
static void *ngx_http_coinhunt_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_coinhunt_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_coinhunt_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_coinhunt_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_coinhunt_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_coinhunt_rules(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_coinhunt_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_coinhunt_seed(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_coinhunt_tap_rate(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_coinhunt_action(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_coinhunt_check_ttl(ngx_conf_t *cf, void *post,
    void *data);
static ngx_int_t ngx_http_coinhunt_init_process(ngx_cycle_t *cycle);
static void ngx_http_coinhunt_exit_process(ngx_cycle_t *cycle);


static ngx_conf_post_t  ngx_http_coinhunt_ttl_post = {
    ngx_http_coinhunt_check_ttl
};


static ngx_conf_post_t  ngx_http_coinhunt_flush_post = {
    ngx_http_coinhunt_check_flush
};


static ngx_command_t  ngx_http_coinhunt_commands[] = {

    { ngx_string("coinhunt_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE23,
      ngx_http_coinhunt_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("coinhunt_zone_sync"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_coinhunt_main_conf_t, zone_sync),
      NULL },

    { ngx_string("coinhunt_rules"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_coinhunt_rules,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("coinhunt_secret"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_coinhunt_secret,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("coinhunt_session_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_coinhunt_main_conf_t, session_ttl),
      &ngx_http_coinhunt_ttl_post },

    { ngx_string("coinhunt_tap_rate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_coinhunt_tap_rate,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("coinhunt_seed"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_coinhunt_seed,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("coinhunt_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE123,
      ngx_http_coinhunt_redis_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("coinhunt_flush"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_coinhunt_main_conf_t, flush),
      &ngx_http_coinhunt_flush_post },

    { ngx_string("coinhunt"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_coinhunt_action,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_coinhunt_module_ctx = {
    ngx_http_coinhunt_add_variables,       /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_coinhunt_create_main_conf,    /* create main configuration */
    ngx_http_coinhunt_init_main_conf,      /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_coinhunt_create_loc_conf,     /* create location configuration */
    ngx_http_coinhunt_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_http_coinhunt_module = {
    NGX_MODULE_V1,
    &ngx_http_coinhunt_module_ctx,         /* module context */
    ngx_http_coinhunt_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_coinhunt_init_process,        /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_coinhunt_exit_process,        /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * what "coinhunt NAME" serves; "body": a form body may carry parameters;
 * in the order of ngx_http_coinhunt_actions[], the metrics' labels
 */
static const ngx_http_coinhunt_endpoint_t  ngx_http_coinhunt_endpoints[] = {

    { ngx_string("session"), NGX_HTTP_POST, ngx_string("POST"),
      ngx_http_coinhunt_http_session, 1, 0 },

    { ngx_string("tap"), NGX_HTTP_POST, ngx_string("POST"),
      ngx_http_coinhunt_http_tap, 1, 1 },

    { ngx_string("leaderboard"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"), ngx_http_coinhunt_http_leaderboard, 1, 0 },

    { ngx_string("end"), NGX_HTTP_POST|NGX_HTTP_DELETE,
      ngx_string("POST, DELETE"), ngx_http_coinhunt_http_end, 1, 0 },

    { ngx_string("metrics"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"), ngx_http_coinhunt_http_metrics, 0, 0 },

    { ngx_string("query"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"), ngx_http_coinhunt_http_query, 0, 1 },

    { ngx_null_string, 0, ngx_null_string, NULL, 0, 0 }
};


/* the location's endpoint: its methods, then its parameters, then it */
NGX_HTTP_COINHUNT_HOT
static ngx_int_t
ngx_http_coinhunt_handler(ngx_http_request_t *r)
{
    ngx_http_coinhunt_loc_conf_t        *clcf;
    const ngx_http_coinhunt_endpoint_t  *ep;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_coinhunt_module);
    ep = clcf->endpoint;

    if (!(r->method & ep->methods)) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "coinhunt %V: method not allowed", &ep->name);

        return ngx_http_coinhunt_not_allowed(r, (ngx_str_t *) &ep->allow);
    }

    if (ep->body) {
        return ngx_http_coinhunt_with_params(r, ep->handler);
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ep->handler(r);
}


static void *
ngx_http_coinhunt_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_coinhunt_main_conf_t  *cmcf;

    cmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_coinhunt_main_conf_t));
    if (cmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     cmcf->shm_zone = NULL;
     *     cmcf->secret = { 0, NULL };
     *     cmcf->seed_set = 0;
     *     cmcf->max_fields = 0;
     *     cmcf->redis = NULL;
     */

    /* the HTTP side finds its configuration and context by this index */
    ngx_http_coinhunt_http_index = ngx_http_coinhunt_module.ctx_index;

    cmcf->cycle = cf->cycle;
    cmcf->session_ttl = NGX_CONF_UNSET_MSEC;
    cmcf->flush = NGX_CONF_UNSET_MSEC;
    cmcf->zone_sync = NGX_CONF_UNSET_MSEC;

    if (ngx_array_init(&cmcf->rules, cf->pool, 4,
                       sizeof(ngx_http_coinhunt_rules_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return cmcf;
}


static char *
ngx_http_coinhunt_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_coinhunt_main_conf_t  *cmcf = conf;

    ngx_conf_init_msec_value(cmcf->session_ttl, 30 * 60 * 1000);
    ngx_conf_init_msec_value(cmcf->flush, 50);
    ngx_conf_init_msec_value(cmcf->zone_sync, 1000);

    return NGX_CONF_OK;
}


static void *
ngx_http_coinhunt_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_coinhunt_loc_conf_t  *clcf;

    clcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_coinhunt_loc_conf_t));
    if (clcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     clcf->endpoint = NULL;
     *     clcf->action = 0;
     */

    clcf->rules = NGX_CONF_UNSET_PTR;
    clcf->tap_rate = NGX_CONF_UNSET_UINT;
    clcf->tap_burst = NGX_CONF_UNSET_UINT;

    return clcf;
}


static char *
ngx_http_coinhunt_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_coinhunt_loc_conf_t *prev = parent;
    ngx_http_coinhunt_loc_conf_t *conf = child;

    ngx_http_coinhunt_main_conf_t  *cmcf;

    ngx_conf_merge_ptr_value(conf->rules, prev->rules, NULL);
    ngx_conf_merge_uint_value(conf->tap_rate, prev->tap_rate, 0);
    ngx_conf_merge_uint_value(conf->tap_burst, prev->tap_burst, 0);

    if (conf->endpoint == NULL) {
        return NGX_CONF_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_coinhunt_module);

    if (cmcf->shm_zone == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"coinhunt %V\" in %V:%ui needs \"coinhunt_zone\" "
                      "in the http block",
                      &conf->endpoint->name, &conf->file, conf->line);
        return NGX_CONF_ERROR;
    }

    if (conf->endpoint->rules && conf->rules == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"coinhunt %V\" in %V:%ui needs \"coinhunt_rules\" "
                      "in its location, server or http block",
                      &conf->endpoint->name, &conf->file, conf->line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_coinhunt_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_coinhunt_main_conf_t *cmcf = conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (cmcf->shm_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "needs a zone name";
    }

    size = ngx_parse_size(&value[2]);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"coinhunt_zone\" directive invalid size \"%V\"",
                           &value[2]);
        return NGX_CONF_ERROR;
    }

    if (size < NGX_HTTP_COINHUNT_ZONE_MIN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"coinhunt_zone\" directive: zone \"%V\" is too "
                           "small: %V, the least is 512k",
                           &value[1], &value[2]);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 4) {
        if (ngx_strncmp(value[3].data, "file=", 5) != 0 || value[3].len == 5) {
            return "takes \"file=path\" after the size";
        }

        cmcf->zone_path.data = value[3].data + 5;
        cmcf->zone_path.len = value[3].len - 5;

        if (ngx_conf_full_name(cf->cycle, &cmcf->zone_path, 0) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    cmcf->shm_zone = ngx_shared_memory_add(cf, &value[1], size,
                                           &ngx_http_coinhunt_module);
    if (cmcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (cmcf->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"coinhunt_zone\" directive: shared zone \"%V\" "
                           "is already used by another module", &value[1]);
        return NGX_CONF_ERROR;
    }

    cmcf->shm_zone->init = ngx_http_coinhunt_zone_init;
    cmcf->shm_zone->data = cmcf;
    cmcf->zone_file = cf->conf_file->file.name;
    cmcf->zone_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


static char *
ngx_http_coinhunt_rules(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_coinhunt_loc_conf_t *clcf = conf;

    char                            *rv;
    uint32_t                         id;
    ngx_str_t                       *value, path;
    ngx_uint_t                       i;
    ngx_http_coinhunt_rules_t       *rules, **known;
    ngx_http_coinhunt_main_conf_t   *cmcf;

    if (clcf->rules != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_coinhunt_module);

    /* a session keeps its rules by this id, the same after any reload */
    id = ngx_murmur_hash2(path.data, path.len);

    if (id == 0) {
        id = 1;             /* 0 is a session without rules */
    }

    /* each file is loaded once per worker, however often it is named */
    known = cmcf->rules.elts;

    for (i = 0; i < cmcf->rules.nelts; i++) {
        if (known[i]->id != id) {
            continue;
        }

        if (known[i]->path.len == path.len
            && ngx_strncmp(known[i]->path.data, path.data, path.len) == 0)
        {
            clcf->rules = known[i];
            return NGX_CONF_OK;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"coinhunt_rules\" directive: the paths \"%V\" "
                           "and \"%V\" hash alike, rename one",
                           &known[i]->path, &path);
        return NGX_CONF_ERROR;
    }

    if (cmcf->rules.nelts == NGX_HTTP_COINHUNT_RULES_MAX) {
        return "names too many rules files";
    }

    rules = ngx_pcalloc(cf->pool, sizeof(ngx_http_coinhunt_rules_t));
    if (rules == NULL) {
        return NGX_CONF_ERROR;
    }

    rules->path = path;
    rules->index = cmcf->rules.nelts;
    rules->id = id;

    rv = ngx_http_coinhunt_lua_check(cf, rules);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    known = ngx_array_push(&cmcf->rules);
    if (known == NULL) {
        return NGX_CONF_ERROR;
    }

    *known = rules;
    cmcf->max_fields = ngx_max(cmcf->max_fields, rules->nfields);
    clcf->rules = rules;

    return NGX_CONF_OK;
}


static char *
ngx_http_coinhunt_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_coinhunt_main_conf_t *cmcf = conf;

    ngx_str_t  *value;

    if (cmcf->secret.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len < 16) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"coinhunt_secret\" directive: the secret must "
                           "be at least 16 characters");
        return NGX_CONF_ERROR;
    }

    cmcf->secret = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_http_coinhunt_seed(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_coinhunt_main_conf_t *cmcf = conf;

    uint64_t    seed;
    ngx_int_t   rc;
    ngx_str_t  *value;

    if (cmcf->seed_set) {
        return "is duplicate";
    }

    value = cf->args->elts;

    rc = ngx_http_coinhunt_parse_seed(value[1].data, value[1].len, &seed);

    if (rc == NGX_DECLINED) {
        return "needs a number";
    }

    if (rc != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"coinhunt_seed\" directive invalid seed \"%V\": "
                           "a decimal number from 0 to %uL is expected",
                           &value[1], (uint64_t) UINT64_MAX);
        return NGX_CONF_ERROR;
    }

    cmcf->seed = seed;
    cmcf->seed_set = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_coinhunt_tap_rate(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_coinhunt_loc_conf_t *clcf = conf;

    u_char     *p;
    size_t      len;
    ngx_int_t   rate, scale, burst;
    ngx_str_t  *value, s;

    if (clcf->tap_rate != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        clcf->tap_rate = 0;
        clcf->tap_burst = 0;
        return NGX_CONF_OK;
    }

    p = value[1].data;
    len = value[1].len;
    scale = 1;

    if (len > 3 && ngx_strcmp(p + len - 3, "r/s") == 0) {
        len -= 3;

    } else if (len > 3 && ngx_strcmp(p + len - 3, "r/m") == 0) {
        len -= 3;
        scale = 60;

    } else {
        goto invalid;
    }

    rate = ngx_atoi(p, len);

    if (rate <= 0 || rate > 1000000) {
        goto invalid;
    }

    clcf->tap_rate = rate * 60000 / scale;
    clcf->tap_burst = 0;

    if (cf->args->nelts == 3) {
        s = value[2];

        if (ngx_strncmp(s.data, "burst=", 6) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"coinhunt_tap_rate\" directive invalid "
                               "parameter \"%V\", \"burst=N\" expected",
                               &s);
            return NGX_CONF_ERROR;
        }

        burst = ngx_atoi(s.data + 6, s.len - 6);

        if (burst < 0 || burst > 1000000) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"coinhunt_tap_rate\" directive invalid "
                               "burst \"%V\": 0 to 1000000 taps", &s);
            return NGX_CONF_ERROR;
        }

        clcf->tap_burst = burst * 1000;
    }

    if (clcf->tap_rate == 0) {
        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"coinhunt_tap_rate\" directive invalid rate \"%V\": "
                       "\"off\", \"Nr/s\" or \"Nr/m\" expected", &value[1]);

    return NGX_CONF_ERROR;
}


static char *
ngx_http_coinhunt_action(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_coinhunt_loc_conf_t *clcf = conf;

    ngx_str_t                           *value;
    ngx_http_core_loc_conf_t            *core;
    const ngx_http_coinhunt_endpoint_t  *ep;

    if (clcf->endpoint) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (ep = ngx_http_coinhunt_endpoints; ep->name.len; ep++) {
        if (ep->name.len == value[1].len
            && ngx_strcmp(ep->name.data, value[1].data) == 0)
        {
            break;
        }
    }

    if (ep->name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"coinhunt\" directive unknown action \"%V\": "
                           "session, tap, leaderboard, end, metrics or "
                           "query expected", &value[1]);
        return NGX_CONF_ERROR;
    }

    clcf->endpoint = ep;
    clcf->action = ep - ngx_http_coinhunt_endpoints;
    clcf->file = cf->conf_file->file.name;
    clcf->line = cf->conf_file->line;

    core = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    core->handler = ngx_http_coinhunt_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_coinhunt_check_ttl(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t  *ttl = data;

    if (*ttl < 1000) {
        return "must be at least 1s";
    }

    return NGX_CONF_OK;
}


/* a worker's start: each layer's, from the bottom up, and their hooks */
static ngx_int_t
ngx_http_coinhunt_init_process(ngx_cycle_t *cycle)
{
    ngx_http_coinhunt_main_conf_t  *cmcf;

    cmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_coinhunt_module);

    /* the cache manager and loader serve no request: none of this for them */
    if (cmcf == NULL || cmcf->shm_zone == NULL
        || ngx_process == NGX_PROCESS_HELPER)
    {
        return NGX_OK;
    }

    ngx_http_coinhunt_sh = cmcf->shm_zone->data;

    /* a configured secret replaces the zone's random key */
    ngx_http_coinhunt_token_key(&cmcf->secret, ngx_http_coinhunt_sh->key,
                                cmcf->key, &cmcf->key_mask);

    /* before any lock: what killed workers left half-done is finished */
    if (ngx_http_coinhunt_recovery_init(cycle->log) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_coinhunt_alloc_init(cycle->log) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_coinhunt_lua_init(cycle, cmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (cmcf->redis) {
        if (ngx_http_coinhunt_redis_flush_init(cycle, cmcf) != NGX_OK) {
            return NGX_ERROR;
        }

        ngx_http_coinhunt_redis_read_init(cmcf);

        if (ngx_http_coinhunt_redis_init_process(cycle, cmcf) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    ngx_http_coinhunt_worker_init(cycle, cmcf);

    return NGX_OK;
}


static void
ngx_http_coinhunt_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_coinhunt_counters_t   *row;
    ngx_http_coinhunt_main_conf_t  *cmcf;

    if (ngx_http_coinhunt_sh == NULL || ngx_process == NGX_PROCESS_HELPER) {
        return;
    }

    row = ngx_http_coinhunt_counters();

    if (row->pid == (ngx_atomic_uint_t) ngx_pid) {
        row->pid = 0;
    }

    cmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_coinhunt_module);

    /* the connection first: its callbacks requeue a batch in flight */
    if (cmcf && cmcf->redis) {
        ngx_http_coinhunt_redis_exit_process();
        ngx_http_coinhunt_redis_read_exit();
        ngx_http_coinhunt_redis_flush_exit();
    }

    ngx_http_coinhunt_lua_done();
    ngx_http_coinhunt_alloc_done();
    ngx_http_coinhunt_recovery_exit();
}
