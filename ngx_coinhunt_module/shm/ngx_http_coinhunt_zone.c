
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <sys/random.h>
#include "ngx_http_coinhunt_zone.h"


/*
 * The zone: a header, the (hunt, player) index buckets, the leaderboard
 * nodes (local mode) or the pending Redis scores (Redis mode), then
 * fixed-size session slots (state/ngx_http_coinhunt_store.c keeps them).
 * Here: its layout, made once and kept over reloads that keep it.
 */


/* changes with the zone's layout: a reload cannot take over another one */
#define NGX_HTTP_COINHUNT_MAGIC   0x35746e75686e696fULL


ngx_http_coinhunt_shctx_t  *ngx_http_coinhunt_sh;


static ngx_int_t ngx_http_coinhunt_zone_reuse(ngx_http_coinhunt_shctx_t *osh,
    ngx_http_coinhunt_main_conf_t *cmcf, uint32_t njournals, u_char *where,
    ngx_log_t *log);
static uint32_t ngx_http_coinhunt_zone_journals(
    ngx_http_coinhunt_main_conf_t *cmcf);


size_t
ngx_http_coinhunt_zone_per_session(ngx_uint_t nfields)
{
    /* a slot, its index bucket, and its board node or pending score */
    return sizeof(ngx_http_coinhunt_slot_t) + nfields * sizeof(double)
           + sizeof(uint32_t) + sizeof(ngx_http_coinhunt_node_t);
}


ngx_int_t
ngx_http_coinhunt_zone_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_coinhunt_shctx_t  *osh = data;

    size_t                          size, stride, head;
    u_char                         *p, where[NGX_MAX_PATH + 128];
    uint32_t                        njournals;
    ngx_uint_t                      nfields;
    ngx_slab_pool_t                *shpool;
    ngx_http_coinhunt_shctx_t      *sh;
    ngx_http_coinhunt_main_conf_t  *cmcf;

    cmcf = shm_zone->data;
    nfields = cmcf->max_fields;
    stride = sizeof(ngx_http_coinhunt_slot_t) + nfields * sizeof(double);
    njournals = ngx_http_coinhunt_zone_journals(cmcf);

    /* every refusal names the zone and where it is configured */
    p = ngx_snprintf(where, sizeof(where) - 1, "coinhunt_zone \"%V\" in %V:%ui",
                     &shm_zone->shm.name, &cmcf->zone_file, cmcf->zone_line);
    *p = '\0';

    if (osh) {
        if (ngx_http_coinhunt_zone_reuse(osh, cmcf, njournals, where,
                                         shm_zone->shm.log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_http_coinhunt_sh = osh;
        shm_zone->data = osh;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    /* the whole zone is ours: one allocation of every free page */
    size = shpool->pfree * ngx_pagesize;
    p = ngx_slab_alloc(shpool, size);

    /* the context, the journal, and room to align the arrays after it */
    head = sizeof(ngx_http_coinhunt_shctx_t)
           + njournals * sizeof(ngx_http_coinhunt_journal_t) + 3 * 64;

    if (p == NULL || size < head) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "%s is too small for its context and the journal "
                      "records of %uD processes", where, njournals);
        return NGX_ERROR;
    }

    sh = (ngx_http_coinhunt_shctx_t *) p;
    ngx_memzero(sh, sizeof(ngx_http_coinhunt_shctx_t));

    sh->stride = stride;
    sh->nfields = nfields;
    sh->redis = (cmcf->redis != NULL);
    sh->njournals = njournals;
    sh->capacity = (size - head)
                   / ngx_http_coinhunt_zone_per_session(nfields);
    sh->nbuckets = sh->capacity;

    if (sh->capacity == 0) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "%s is too small for one session", where);
        return NGX_ERROR;
    }

    sh->journals = (ngx_http_coinhunt_journal_t *)
                       ngx_align_ptr(p + sizeof(ngx_http_coinhunt_shctx_t), 64);
    ngx_memzero(sh->journals,
                njournals * sizeof(ngx_http_coinhunt_journal_t));
    sh->buckets = (uint32_t *) (sh->journals + njournals);
    sh->nodes = (ngx_http_coinhunt_node_t *)
                    ngx_align_ptr(sh->buckets + sh->nbuckets, 64);
    sh->slots = ngx_align_ptr(sh->nodes + sh->capacity, 64);

    if (sh->redis) {
        sh->pending = (ngx_http_coinhunt_pending_t *) sh->nodes;
        sh->nodes = NULL;
    }

    if (getrandom(sh->key, sizeof(sh->key), 0) != sizeof(sh->key)) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, ngx_errno,
                      "coinhunt_zone: getrandom() failed");
        return NGX_ERROR;
    }

    sh->magic = NGX_HTTP_COINHUNT_MAGIC;
    shpool->data = sh;

    ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                  "coinhunt_zone \"%V\": %uD sessions of %uz bytes "
                  "(%ui designer fields, %s leaderboards, %uD journal "
                  "records)", &shm_zone->shm.name, sh->capacity,
                  ngx_http_coinhunt_zone_per_session(nfields), nfields,
                  sh->redis ? "Redis" : "local", sh->njournals);

    ngx_http_coinhunt_sh = sh;
    shm_zone->data = sh;

    return NGX_OK;
}


/* a zone of the previous configuration, kept if this one fits it */
static ngx_int_t
ngx_http_coinhunt_zone_reuse(ngx_http_coinhunt_shctx_t *osh,
    ngx_http_coinhunt_main_conf_t *cmcf, uint32_t njournals, u_char *where,
    ngx_log_t *log)
{
    if (osh->magic != NGX_HTTP_COINHUNT_MAGIC) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "%s was laid out by another version of the "
                      "module: restart nginx", where);
        return NGX_ERROR;
    }

    if (osh->redis != (cmcf->redis != NULL)) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "%s holds %s leaderboards, the configuration now "
                      "asks for %s ones: restart nginx to switch", where,
                      osh->redis ? "Redis" : "local",
                      cmcf->redis ? "Redis" : "local");
        return NGX_ERROR;
    }

    if (osh->nfields < cmcf->max_fields) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "%s holds %uD designer fields a session, the "
                      "rules now declare %ui: restart nginx or resize "
                      "the zone to start afresh", where, osh->nfields,
                      cmcf->max_fields);
        return NGX_ERROR;
    }

    if (osh->njournals < njournals) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "%s has %uD journal records, these workers and "
                      "the old ones need up to %uD: a new worker may "
                      "wait for an old one to exit; a restart of nginx "
                      "lays the zone out afresh", where, osh->njournals,
                      njournals);
    }

    return NGX_OK;
}


/*
 * A journal record for each worker of two generations (the old workers
 * still exit while the new ones start), and two spare for replacements of
 * killed workers whose records still wait to be recovered.
 */
static uint32_t
ngx_http_coinhunt_zone_journals(ngx_http_coinhunt_main_conf_t *cmcf)
{
    ngx_core_conf_t  *ccf;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cmcf->cycle->conf_ctx,
                                           ngx_core_module);

    return (uint32_t) ngx_max(NGX_HTTP_COINHUNT_JOURNALS_MIN,
                              2 * (ccf->worker_processes + 2));
}
