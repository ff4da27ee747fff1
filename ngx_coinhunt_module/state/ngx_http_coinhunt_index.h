
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_INDEX_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_INDEX_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"


/* the index stripe that guards bucket b */
#define ngx_http_coinhunt_stripe(sh, b)                                       \
    (&(sh)->index_locks[(b) % NGX_HTTP_COINHUNT_INDEX_LOCKS])


uint32_t ngx_http_coinhunt_bucket(ngx_http_coinhunt_shctx_t *sh,
    uint16_t hunt, u_char *player, size_t len);
ngx_http_coinhunt_slot_t *ngx_http_coinhunt_lookup(
    ngx_http_coinhunt_shctx_t *sh, uint32_t b, uint16_t hunt,
    ngx_str_t *player, uint32_t *index);
void ngx_http_coinhunt_unlink(ngx_http_coinhunt_shctx_t *sh, ngx_uint_t tag,
    uint32_t index, uint32_t b);


#endif /* _NGX_HTTP_COINHUNT_INDEX_H_INCLUDED_ */
