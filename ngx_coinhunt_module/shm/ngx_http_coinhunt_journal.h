
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_JOURNAL_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_JOURNAL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"


#define NGX_HTTP_COINHUNT_LOG_ALL      ((ngx_uint_t) -1)


/* logs the store of "value" into *addr, of addr's own type */
#define ngx_http_coinhunt_journal_set(tags, addr, value)                      \
    do {                                                                      \
        __typeof__(*(addr))  ngx_http_coinhunt_v = (value);                   \
        ngx_http_coinhunt_journal_put(tags, addr, &ngx_http_coinhunt_v,       \
                                      sizeof(ngx_http_coinhunt_v));           \
    } while (0)


extern ngx_http_coinhunt_journal_t  *ngx_http_coinhunt_journal;


ngx_int_t ngx_http_coinhunt_journal_claim(ngx_http_coinhunt_shctx_t *sh);
ngx_int_t ngx_http_coinhunt_journal_dead(ngx_http_coinhunt_journal_t *r);
void ngx_http_coinhunt_journal_exit(void);

void ngx_http_coinhunt_journal_begin(void);
ngx_uint_t ngx_http_coinhunt_journal_lock(uint32_t *lock);
void ngx_http_coinhunt_journal_put(ngx_uint_t tags, void *addr,
    const void *data, size_t len);
void ngx_http_coinhunt_journal_append(ngx_uint_t tags, uint32_t *head,
    uint32_t *tail, uint32_t *link, uint32_t x);
void ngx_http_coinhunt_journal_commit(void);
void ngx_http_coinhunt_journal_apply(ngx_uint_t tags);
void ngx_http_coinhunt_journal_end(void);
void ngx_http_coinhunt_journal_done(void);

ngx_uint_t ngx_http_coinhunt_journal_redo(ngx_http_coinhunt_shctx_t *sh,
    uint32_t *lock, uint32_t dead);
int64_t ngx_http_coinhunt_journal_sum(ngx_http_coinhunt_shctx_t *sh,
    size_t offset);


#endif /* _NGX_HTTP_COINHUNT_JOURNAL_H_INCLUDED_ */
