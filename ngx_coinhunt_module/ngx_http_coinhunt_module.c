
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_sha1.h>
#include "ngx_http_coinhunt_module.h"
#include "ngx_http_coinhunt_alloc.h"
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_journal.h"
#include "ngx_http_coinhunt_http.h"
#include "ngx_http_coinhunt_lua.h"
#include "ngx_http_coinhunt_session.h"
#include "ngx_http_coinhunt_tap.h"
#include "ngx_http_coinhunt_metrics.h"
#include "ngx_http_coinhunt_leaderboard.h"
#include "ngx_http_coinhunt_redis.h"


#define NGX_HTTP_COINHUNT_SWEEP_EVERY  250      /* ms */
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
static void ngx_http_coinhunt_sweep_handler(ngx_event_t *ev);
static void ngx_http_coinhunt_expired(void *data,
    ngx_http_coinhunt_session_t *s);


static ngx_conf_post_t  ngx_http_coinhunt_ttl_post = {
    ngx_http_coinhunt_check_ttl
};


static ngx_conf_post_t  ngx_http_coinhunt_flush_post = {
    ngx_http_coinhunt_check_flush
};


static ngx_command_t  ngx_http_coinhunt_commands[] = {

    { ngx_string("coinhunt_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_coinhunt_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
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


static ngx_str_t  ngx_http_coinhunt_actions[] = {
    ngx_null_string,
    ngx_string("session"),
    ngx_string("tap"),
    ngx_string("leaderboard"),
    ngx_string("end"),
    ngx_string("metrics"),
    ngx_null_string
};


static ngx_event_t  ngx_http_coinhunt_sweep_event;


NGX_HTTP_COINHUNT_HOT
static ngx_int_t
ngx_http_coinhunt_handler(ngx_http_request_t *r)
{
    ngx_http_coinhunt_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_coinhunt_module);

    switch (clcf->action) {

    case NGX_HTTP_COINHUNT_SESSION:
        return ngx_http_coinhunt_session_handler(r);

    case NGX_HTTP_COINHUNT_TAP:
        return ngx_http_coinhunt_tap_handler(r);

    case NGX_HTTP_COINHUNT_LEADERBOARD:
        return ngx_http_coinhunt_leaderboard_handler(r);

    case NGX_HTTP_COINHUNT_END:
        return ngx_http_coinhunt_end_handler(r);

    case NGX_HTTP_COINHUNT_METRICS:
        return ngx_http_coinhunt_metrics_handler(r);

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
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

    cmcf->cycle = cf->cycle;
    cmcf->session_ttl = NGX_CONF_UNSET_MSEC;
    cmcf->flush = NGX_CONF_UNSET_MSEC;

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
     *     clcf->action = NGX_HTTP_COINHUNT_NONE;
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

    if (conf->action == NGX_HTTP_COINHUNT_NONE) {
        return NGX_CONF_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_coinhunt_module);

    if (cmcf->shm_zone == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"coinhunt %V\" in %V:%ui needs \"coinhunt_zone\" "
                      "in the http block",
                      &ngx_http_coinhunt_actions[conf->action],
                      &conf->file, conf->line);
        return NGX_CONF_ERROR;
    }

    if (conf->action == NGX_HTTP_COINHUNT_TAP && conf->rules == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"coinhunt tap\" in %V:%ui needs \"coinhunt_rules\" "
                      "in its location, server or http block",
                      &conf->file, conf->line);
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

    ngx_str_t                 *value;
    ngx_uint_t                 i;
    ngx_http_core_loc_conf_t  *core;

    if (clcf->action != NGX_HTTP_COINHUNT_NONE) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; ngx_http_coinhunt_actions[i].len; i++) {
        if (ngx_http_coinhunt_actions[i].len == value[1].len
            && ngx_strcmp(ngx_http_coinhunt_actions[i].data, value[1].data)
               == 0)
        {
            break;
        }
    }

    if (ngx_http_coinhunt_actions[i].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"coinhunt\" directive unknown action \"%V\": "
                           "session, tap, leaderboard, end or metrics "
                           "expected", &value[1]);
        return NGX_CONF_ERROR;
    }

    clcf->action = i;
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


static ngx_int_t
ngx_http_coinhunt_init_process(ngx_cycle_t *cycle)
{
    u_char                          digest[20];
    ngx_sha1_t                      sha1;
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
    if (cmcf->secret.len) {
        ngx_sha1_init(&sha1);
        ngx_sha1_update(&sha1, "coinhunt token key:", 19);
        ngx_sha1_update(&sha1, cmcf->secret.data, cmcf->secret.len);
        ngx_sha1_final(digest, &sha1);

        ngx_memcpy(cmcf->key, digest, NGX_HTTP_COINHUNT_KEY_LEN);

    } else {
        ngx_memcpy(cmcf->key, ngx_http_coinhunt_sh->key,
                   NGX_HTTP_COINHUNT_KEY_LEN);
    }

    cmcf->key_mask = ngx_http_coinhunt_siphash(cmcf->key,
                                               (u_char *) "kept MAC", 8);

    /* before any lock: what killed workers left half-done is finished */
    if (ngx_http_coinhunt_journal_init(cycle->log) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_coinhunt_alloc_init(cycle->log) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_coinhunt_lua_init(cycle, cmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (cmcf->redis
        && ngx_http_coinhunt_redis_init_process(cycle, cmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_coinhunt_metrics_publish();

    ngx_http_coinhunt_sweep_event.handler = ngx_http_coinhunt_sweep_handler;
    ngx_http_coinhunt_sweep_event.log = cycle->log;
    ngx_http_coinhunt_sweep_event.data = cmcf;
    ngx_http_coinhunt_sweep_event.cancelable = 1;

    ngx_add_timer(&ngx_http_coinhunt_sweep_event,
                  NGX_HTTP_COINHUNT_SWEEP_EVERY);

    return NGX_OK;
}


static void
ngx_http_coinhunt_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_coinhunt_counters_t  *row;

    if (ngx_http_coinhunt_sh == NULL || ngx_process == NGX_PROCESS_HELPER) {
        return;
    }

    row = ngx_http_coinhunt_counters();

    if (row->pid == (ngx_atomic_uint_t) ngx_pid) {
        row->pid = 0;
    }

    ngx_http_coinhunt_redis_exit_process();
    ngx_http_coinhunt_lua_done();
    ngx_http_coinhunt_alloc_done();
    ngx_http_coinhunt_journal_exit();
}


/*
 * Each tick examines a share of the slots sized so that the workers together
 * pass over the whole table within half a TTL: no stop-the-world scan.
 */
static void
ngx_http_coinhunt_sweep_handler(ngx_event_t *ev)
{
    ngx_uint_t                      count;
    ngx_http_coinhunt_shctx_t      *sh;
    ngx_http_coinhunt_main_conf_t  *cmcf;

    cmcf = ev->data;
    sh = ngx_http_coinhunt_sh;

    count = (ngx_uint_t) ((uint64_t) sh->capacity
                          * NGX_HTTP_COINHUNT_SWEEP_EVERY * 2
                          / cmcf->session_ttl) + 1024;

    ngx_http_coinhunt_sweep(sh, count,
                            ngx_http_coinhunt_now_ms()
                            - (int64_t) cmcf->session_ttl,
                            ngx_http_coinhunt_expired, cmcf);

    ngx_http_coinhunt_journal_sweep();

    ngx_http_coinhunt_metrics_publish();

    if (!ngx_exiting) {
        ngx_add_timer(ev, NGX_HTTP_COINHUNT_SWEEP_EVERY);
    }
}


static void
ngx_http_coinhunt_expired(void *data, ngx_http_coinhunt_session_t *s)
{
    ngx_http_coinhunt_lua_on_expire(data, s, ngx_cycle->log);
}
