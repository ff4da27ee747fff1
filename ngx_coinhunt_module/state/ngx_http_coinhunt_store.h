
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_STORE_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"


/* a copy of a session taken under its lock, for replies and Lua */
typedef struct {
    uint32_t                       index;
    uint32_t                       gen;
    uint32_t                       taps;
    uint32_t                       coins;
    uint32_t                       rules;
    uint16_t                       hunt;
    int64_t                        score;
    int64_t                        created_ms;
    int64_t                        last_tap_ms;
    int64_t                        seq;
    uint32_t                       excess;
    ngx_str_t                      player;
    u_char                         player_data[NGX_HTTP_COINHUNT_NAME_MAX];
    double                         fields[NGX_HTTP_COINHUNT_FIELDS_MAX];
} ngx_http_coinhunt_session_t;


typedef void (*ngx_http_coinhunt_expired_pt)(void *data,
    ngx_http_coinhunt_session_t *s);


ngx_int_t ngx_http_coinhunt_session_find(ngx_http_coinhunt_shctx_t *sh,
    uint16_t hunt, ngx_str_t *player, ngx_http_coinhunt_session_t *s);
ngx_int_t ngx_http_coinhunt_session_insert(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_session_t *s);
ngx_int_t ngx_http_coinhunt_session_retire(ngx_http_coinhunt_shctx_t *sh,
    uint32_t index, uint32_t gen, int64_t idle_before,
    ngx_http_coinhunt_session_t *s);
void ngx_http_coinhunt_session_prefetch(ngx_http_coinhunt_shctx_t *sh,
    uint32_t index);
ngx_http_coinhunt_slot_t *ngx_http_coinhunt_session_lock(
    ngx_http_coinhunt_shctx_t *sh, uint32_t index, uint32_t gen,
    int64_t idle_before);
void ngx_http_coinhunt_session_copy(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, uint32_t index,
    ngx_http_coinhunt_session_t *s);
int64_t ngx_http_coinhunt_session_active_ms(ngx_http_coinhunt_slot_t *slot);
void ngx_http_coinhunt_session_tap(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, uint32_t index, double *fields,
    int64_t now, int64_t excess, int64_t seq, int64_t value);
void ngx_http_coinhunt_session_refused(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, uint32_t index, double *fields,
    int64_t seq);

ngx_uint_t ngx_http_coinhunt_sweep(ngx_http_coinhunt_shctx_t *sh,
    ngx_uint_t count, int64_t idle_before,
    ngx_http_coinhunt_expired_pt handler, void *data);


#endif /* _NGX_HTTP_COINHUNT_STORE_H_INCLUDED_ */
