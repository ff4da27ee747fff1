
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_BOARD_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_BOARD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"


#define NGX_HTTP_COINHUNT_TOP_MAX      100
#define NGX_HTTP_COINHUNT_TOP_DEFAULT  10


/* one line of a leaderboard reply */
typedef struct {
    int64_t                        score;
    size_t                         len;
    u_char                         player[NGX_HTTP_COINHUNT_NAME_MAX];
} ngx_http_coinhunt_entry_t;


/* the "me" of a reply: rank 0 is not ranked (yet) */
typedef struct {
    int64_t                        rank;
    int64_t                        score;
    ngx_str_t                      player;
    unsigned                       wanted:1;
    unsigned                       found:1;
} ngx_http_coinhunt_me_t;


/* a read of a board: what is asked, and the answer */
typedef struct {
    ngx_str_t                      hunt;
    ngx_uint_t                     top;        /* lines asked for */
    ngx_uint_t                     n;          /* lines found */
    ngx_http_coinhunt_entry_t     *entries;    /* "top" of them */
    ngx_http_coinhunt_me_t         me;
} ngx_http_coinhunt_board_read_t;


uint32_t *ngx_http_coinhunt_board_lock(ngx_http_coinhunt_shctx_t *sh,
    uint16_t hunt);
void ngx_http_coinhunt_board_member(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, uint32_t index, ngx_uint_t on);
void ngx_http_coinhunt_board_moved(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot);
void ngx_http_coinhunt_board_score(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, int64_t score);
void ngx_http_coinhunt_board_rebuild(ngx_http_coinhunt_shctx_t *sh,
    uint16_t h);
void ngx_http_coinhunt_board_top(ngx_http_coinhunt_shctx_t *sh, uint16_t id,
    ngx_http_coinhunt_board_read_t *b, uint32_t index);


#endif /* _NGX_HTTP_COINHUNT_BOARD_H_INCLUDED_ */
