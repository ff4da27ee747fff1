
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_STORE_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"


ngx_int_t ngx_http_coinhunt_session_find(ngx_http_coinhunt_shctx_t *sh,
    uint16_t hunt, ngx_str_t *player, ngx_http_coinhunt_session_t *s);
ngx_int_t ngx_http_coinhunt_session_insert(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_session_t *s);
ngx_int_t ngx_http_coinhunt_session_retire(ngx_http_coinhunt_shctx_t *sh,
    uint32_t index, uint32_t gen, int64_t idle_before,
    ngx_http_coinhunt_session_t *s);
void ngx_http_coinhunt_slot_release(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_journal_t *owner);
void ngx_http_coinhunt_session_prefetch(ngx_http_coinhunt_shctx_t *sh,
    uint32_t index);
ngx_http_coinhunt_slot_t *ngx_http_coinhunt_session_lock(
    ngx_http_coinhunt_shctx_t *sh, uint32_t index, uint32_t gen,
    int64_t idle_before);
void ngx_http_coinhunt_session_copy(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, uint32_t index,
    ngx_http_coinhunt_session_t *s);
int64_t ngx_http_coinhunt_session_active_ms(ngx_http_coinhunt_slot_t *slot);

typedef void (*ngx_http_coinhunt_expired_pt)(void *data,
    ngx_http_coinhunt_session_t *s);

ngx_uint_t ngx_http_coinhunt_sweep(ngx_http_coinhunt_shctx_t *sh,
    ngx_uint_t count, int64_t idle_before,
    ngx_http_coinhunt_expired_pt handler, void *data);


#endif /* _NGX_HTTP_COINHUNT_STORE_H_INCLUDED_ */
