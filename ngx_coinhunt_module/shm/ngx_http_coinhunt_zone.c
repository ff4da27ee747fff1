
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <sys/random.h>
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_zone_file.h"


/*
 * The zone: a header, the (hunt, player) index buckets, the leaderboard
 * nodes (local mode) or the pending Redis scores (Redis mode), then
 * fixed-size session slots (state/ngx_http_coinhunt_store.c keeps them).
 * Here: its layout, made once and kept over reloads that keep it.
 */


/* changes with the zone's layout: a reload cannot take over another one */
#define NGX_HTTP_COINHUNT_MAGIC   0x36746e75686e696fULL


ngx_http_coinhunt_shctx_t  *ngx_http_coinhunt_sh;


static ngx_int_t ngx_http_coinhunt_zone_reuse(ngx_http_coinhunt_shctx_t *osh,
    ngx_http_coinhunt_main_conf_t *cmcf, uint32_t njournals, u_char *where,
    ngx_log_t *log);
static ngx_int_t ngx_http_coinhunt_zone_layout(ngx_http_coinhunt_shctx_t *sh,
    size_t size, ngx_str_t *name, ngx_http_coinhunt_main_conf_t *cmcf,
    uint32_t njournals, u_char *where, ngx_log_t *log);
static ngx_int_t ngx_http_coinhunt_zone_adopt(ngx_http_coinhunt_shctx_t *sh,
    size_t size, ngx_str_t *name, ngx_http_coinhunt_main_conf_t *cmcf,
    ngx_uint_t found, u_char *where, ngx_log_t *log);
static ngx_int_t ngx_http_coinhunt_zone_fits(ngx_http_coinhunt_shctx_t *osh,
    ngx_http_coinhunt_main_conf_t *cmcf, u_char *where, char *afresh,
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

    size_t                          size;
    u_char                         *p, where[NGX_MAX_PATH + 128];
    uint32_t                        njournals;
    ngx_uint_t                      found;
    ngx_slab_pool_t                *shpool;
    ngx_http_coinhunt_shctx_t      *sh;
    ngx_http_coinhunt_main_conf_t  *cmcf;

    cmcf = shm_zone->data;
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

    if (p == NULL) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "%s has no room for its context", where);
        return NGX_ERROR;
    }

    sh = (ngx_http_coinhunt_shctx_t *) p;
    found = NGX_HTTP_COINHUNT_FILE_NEW;

    if (cmcf->zone_path.len
        && ngx_http_coinhunt_zone_file_map(&cmcf->zone_path, p, size, where,
                                           shm_zone->shm.log, &found)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (found == NGX_HTTP_COINHUNT_FILE_NEW) {
        if (ngx_http_coinhunt_zone_layout(sh, size, &shm_zone->shm.name,
                                          cmcf, njournals, where,
                                          shm_zone->shm.log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (ngx_http_coinhunt_zone_adopt(sh, size, &shm_zone->shm.name,
                                            cmcf, found, where,
                                            shm_zone->shm.log)
               != NGX_OK)
    {
        return NGX_ERROR;
    }

    shpool->data = sh;
    ngx_http_coinhunt_sh = sh;
    shm_zone->data = sh;

    return NGX_OK;
}


/* a new zone's context and the offsets of its regions */
static ngx_int_t
ngx_http_coinhunt_zone_layout(ngx_http_coinhunt_shctx_t *sh, size_t size,
    ngx_str_t *name, ngx_http_coinhunt_main_conf_t *cmcf, uint32_t njournals,
    u_char *where, ngx_log_t *log)
{
    size_t      head, off;
    ngx_uint_t  nfields;

    nfields = cmcf->max_fields;

    /* the context, the journal, and room to align the arrays after it */
    head = sizeof(ngx_http_coinhunt_shctx_t)
           + njournals * sizeof(ngx_http_coinhunt_journal_t) + 3 * 64;

    if (size < head || name->len > NGX_HTTP_COINHUNT_NAME_MAX) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "%s is too small for its context and the journal "
                      "records of %uD processes", where, njournals);
        return NGX_ERROR;
    }

    ngx_memzero(sh, sizeof(ngx_http_coinhunt_shctx_t));

    sh->size = size;
    sh->name_len = name->len;
    ngx_memcpy(sh->name, name->data, name->len);
    sh->stride = sizeof(ngx_http_coinhunt_slot_t) + nfields * sizeof(double);
    sh->nfields = nfields;
    sh->redis = (cmcf->redis != NULL);
    sh->njournals = njournals;
    sh->capacity = (size - head)
                   / ngx_http_coinhunt_zone_per_session(nfields);
    sh->nbuckets = sh->capacity;

    if (sh->capacity == 0) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "%s is too small for one session", where);
        return NGX_ERROR;
    }

    off = ngx_align(sizeof(ngx_http_coinhunt_shctx_t), 64);
    sh->region[NGX_HTTP_COINHUNT_R_JOURNALS] = off;
    ngx_memzero(ngx_http_coinhunt_journals(sh),
                njournals * sizeof(ngx_http_coinhunt_journal_t));

    off += njournals * sizeof(ngx_http_coinhunt_journal_t);
    sh->region[NGX_HTTP_COINHUNT_R_BUCKETS] = off;

    /* the board nodes or the pending scores, by the mode */
    off = ngx_align(off + sh->nbuckets * sizeof(uint32_t), 64);
    sh->region[sh->redis ? NGX_HTTP_COINHUNT_R_PENDING
                         : NGX_HTTP_COINHUNT_R_NODES] = off;

    off = ngx_align(off + sh->capacity * sizeof(ngx_http_coinhunt_node_t), 64);
    sh->region[NGX_HTTP_COINHUNT_R_SLOTS] = off;

    if (getrandom(sh->key, sizeof(sh->key), 0) != sizeof(sh->key)) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      "coinhunt_zone: getrandom() failed");
        return NGX_ERROR;
    }

    sh->magic = NGX_HTTP_COINHUNT_MAGIC;

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "coinhunt_zone \"%V\": %uD sessions of %uz bytes "
                  "(%ui designer fields, %s leaderboards, %uD journal "
                  "records)", name, sh->capacity,
                  ngx_http_coinhunt_zone_per_session(nfields), nfields,
                  sh->redis ? "Redis" : "local", sh->njournals);

    return NGX_OK;
}


/*
 * A zone kept in its file: taken as it is if it fits this configuration;
 * unless the old binary still runs on it, its processes are all dead.
 */
static ngx_int_t
ngx_http_coinhunt_zone_adopt(ngx_http_coinhunt_shctx_t *sh, size_t size,
    ngx_str_t *name, ngx_http_coinhunt_main_conf_t *cmcf, ngx_uint_t found,
    u_char *where, ngx_log_t *log)
{
    int64_t                       live;
    uint32_t                      i;
    ngx_http_coinhunt_journal_t  *j;

    if (sh->magic != NGX_HTTP_COINHUNT_MAGIC || sh->size != size) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "%s: the file \"%V\" holds no zone of this layout "
                      "version and size: remove it to start afresh (its "
                      "sessions are lost), or go back to the module that "
                      "wrote it", where, &cmcf->zone_path);
        return NGX_ERROR;
    }

    if (sh->name_len != name->len
        || ngx_strncmp(sh->name, name->data, name->len) != 0)
    {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "%s: the file \"%V\" holds the zone \"%*s\": name "
                      "the zone so, or give it a file of its own", where,
                      &cmcf->zone_path, ngx_min(sh->name_len,
                                                NGX_HTTP_COINHUNT_NAME_MAX),
                      sh->name);
        return NGX_ERROR;
    }

    if (ngx_http_coinhunt_zone_fits(sh, cmcf, where, "remove the file",
                                    log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (found == NGX_HTTP_COINHUNT_FILE_KEPT) {
        ngx_http_coinhunt_zone_file_orphan(sh);
    }

    /* the sessions gauge, in shares of the journal records */
    live = 0;
    j = ngx_http_coinhunt_journals(sh);

    for (i = 0; i < sh->njournals; i++) {
        live += j[i].sessions;
    }

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "coinhunt_zone \"%V\": %L sessions kept in \"%V\"%s",
                  name, live,
                  &cmcf->zone_path,
                  found == NGX_HTTP_COINHUNT_FILE_SHARED
                  ? ", shared with the old binary" : "");

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

    if (!ngx_http_coinhunt_zone_file_same(&cmcf->zone_path)) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "%s names another file than the zone was mapped "
                      "from: restart nginx to switch", where);
        return NGX_ERROR;
    }

    if (ngx_http_coinhunt_zone_fits(osh, cmcf, where, cmcf->zone_path.len
                                    ? "remove the zone's file and restart "
                                      "nginx"
                                    : "restart nginx", log)
        != NGX_OK)
    {
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


/* the zone's mode and designer fields fit the configuration's */
static ngx_int_t
ngx_http_coinhunt_zone_fits(ngx_http_coinhunt_shctx_t *osh,
    ngx_http_coinhunt_main_conf_t *cmcf, u_char *where, char *afresh,
    ngx_log_t *log)
{
    if (osh->redis != (cmcf->redis != NULL)) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "%s holds %s leaderboards, the configuration now "
                      "asks for %s ones: %s to switch", where,
                      osh->redis ? "Redis" : "local",
                      cmcf->redis ? "Redis" : "local", afresh);
        return NGX_ERROR;
    }

    if (osh->nfields < cmcf->max_fields) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "%s holds %uD designer fields a session, the "
                      "rules now declare %ui: %s or resize the zone to "
                      "start afresh",
                      where, osh->nfields, cmcf->max_fields, afresh);
        return NGX_ERROR;
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
