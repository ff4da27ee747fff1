
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_PENDING_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_PENDING_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"


/* a slot's score as a flush takes it off the dirty list */
typedef struct {
    uint32_t                       index;
    uint16_t                       hunt;
    int64_t                        score;
} ngx_http_coinhunt_pending_score_t;


void ngx_http_coinhunt_pending_dirty(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot);
void ngx_http_coinhunt_pending_seeded(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, int64_t seed);
void ngx_http_coinhunt_pending_repair(ngx_http_coinhunt_shctx_t *sh);
ngx_uint_t ngx_http_coinhunt_pending_take(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_pending_score_t *batch, ngx_uint_t max);
void ngx_http_coinhunt_pending_settle(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_pending_score_t *p, ngx_uint_t written);
void ngx_http_coinhunt_pending_recover(ngx_http_coinhunt_shctx_t *sh);


#endif /* _NGX_HTTP_COINHUNT_PENDING_H_INCLUDED_ */
