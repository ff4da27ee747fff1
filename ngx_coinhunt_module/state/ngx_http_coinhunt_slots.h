
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_SLOTS_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_SLOTS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"


uint32_t ngx_http_coinhunt_slot_alloc(ngx_http_coinhunt_shctx_t *sh);
void ngx_http_coinhunt_slot_release(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_journal_t *owner);
void ngx_http_coinhunt_retired_link(ngx_http_coinhunt_shctx_t *sh,
    ngx_uint_t tag, ngx_http_coinhunt_slot_t *slot, uint32_t index);
void ngx_http_coinhunt_retired_unlink(ngx_http_coinhunt_shctx_t *sh,
    ngx_uint_t tag, ngx_http_coinhunt_slot_t *slot);


#endif /* _NGX_HTTP_COINHUNT_SLOTS_H_INCLUDED_ */
