
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_json.h"
#include "ngx_http_coinhunt_board.h"
#include "ngx_http_coinhunt_leaderboard.h"
#include "ngx_http_coinhunt_http.h"
#include "ngx_http_coinhunt_reply.h"
#include "ngx_http_coinhunt_endpoints.h"


/*
 * GET /leaderboard: top, and with a session its "me" and its hunt by
 * default, else hunt; the game's read of the board (game/ngx_http_coinhunt_
 * leaderboard.c), which in Redis mode may wait; the board.
 */


#define NGX_HTTP_COINHUNT_BOARD_HEAD                                          \
    "{\"hunt\":\"\",\"top\":[],\"me\":{\"rank\":null,\"score\":}}\n"
#define NGX_HTTP_COINHUNT_BOARD_LINE                                          \
    ",{\"rank\":,\"player\":\"\",\"score\":}"

#define NGX_HTTP_COINHUNT_BOARD_LEN(n)                                        \
    (sizeof(NGX_HTTP_COINHUNT_BOARD_HEAD) - 1 + NGX_HTTP_COINHUNT_NAME_MAX    \
     + 2 * NGX_INT64_LEN                                                      \
     + (n) * (sizeof(NGX_HTTP_COINHUNT_BOARD_LINE) - 1                        \
              + NGX_HTTP_COINHUNT_NAME_MAX + NGX_INT_T_LEN + NGX_INT64_LEN))


/* a read of the board, as long as the request */
typedef struct {
    ngx_http_request_t              *request;
    ngx_http_coinhunt_board_read_t   board;
} ngx_http_coinhunt_board_wait_t;


static ngx_int_t ngx_http_coinhunt_board_me(ngx_http_request_t *r,
    ngx_http_coinhunt_board_read_t *b, ngx_str_t *deflt, uint32_t *index);
static void ngx_http_coinhunt_board_done(void *data, ngx_int_t rc);
static ngx_int_t ngx_http_coinhunt_board_reply(ngx_http_request_t *r,
    ngx_http_coinhunt_board_read_t *b);


static ngx_str_t  ngx_http_coinhunt_default_board = ngx_string("default");


ngx_int_t
ngx_http_coinhunt_http_leaderboard(ngx_http_request_t *r)
{
    int64_t                          top;
    uint32_t                         index;
    ngx_int_t                        rc;
    ngx_str_t                        deflt;
    ngx_http_coinhunt_board_read_t  *b;
    ngx_http_coinhunt_board_wait_t  *w;
    const ngx_http_coinhunt_fail_t  *fail;

    rc = ngx_http_coinhunt_int_param(r, "top", 1, NGX_HTTP_COINHUNT_TOP_MAX,
                                     &top);
    if (rc == NGX_DECLINED) {
        top = NGX_HTTP_COINHUNT_TOP_DEFAULT;

    } else if (rc != NGX_OK) {
        return ngx_http_coinhunt_rejected(r);
    }

    /* the answer may come later: the read lives as long as the request */
    w = ngx_pcalloc(r->pool, sizeof(ngx_http_coinhunt_board_wait_t));
    if (w == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    w->request = r;
    b = &w->board;
    b->top = (ngx_uint_t) top;

    rc = ngx_http_coinhunt_board_me(r, b, &deflt, &index);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK
        || ngx_http_coinhunt_name_param(r, "hunt", &deflt, &b->hunt)
           != NGX_OK)
    {
        return ngx_http_coinhunt_rejected(r);
    }

    rc = ngx_http_coinhunt_game_board(ngx_http_coinhunt_main_conf(r), r->pool,
                                      b, &deflt, index, &fail,
                                      ngx_http_coinhunt_board_done, w);

    switch (rc) {

    case NGX_OK:
        return ngx_http_coinhunt_board_reply(r, b);

    case NGX_AGAIN:
        r->main->count++;
        return NGX_DONE;

    case NGX_DECLINED:
        return ngx_http_coinhunt_failed(r, fail, 0);

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


/*
 * With a session: "me", and the session's hunt as the default one, else
 * "default": NGX_OK; NGX_DECLINED, a rejection recorded; NGX_ERROR.
 */
static ngx_int_t
ngx_http_coinhunt_board_me(ngx_http_request_t *r,
    ngx_http_coinhunt_board_read_t *b, ngx_str_t *deflt, uint32_t *index)
{
    ngx_int_t                        rc;
    ngx_str_t                        token;
    ngx_http_coinhunt_ctx_t         *ctx;
    ngx_http_coinhunt_token_t        t;
    const ngx_http_coinhunt_fail_t  *fail;

    *deflt = ngx_http_coinhunt_default_board;
    *index = 0;

    if (r->headers_in.authorization == NULL
        && ngx_http_coinhunt_param(r, "session", &token) == NGX_DECLINED)
    {
        return NGX_OK;
    }

    if (ngx_http_coinhunt_authorize(r, &t) != NGX_OK) {
        return NGX_DECLINED;
    }

    rc = ngx_http_coinhunt_game_me(ngx_http_coinhunt_main_conf(r), r->pool,
                                   &t, b, deflt, &fail, r->connection->log);

    if (rc == NGX_DECLINED) {
        return ngx_http_coinhunt_reject(r, fail->status,
                                        (ngx_str_t *) &fail->code, "%V",
                                        &fail->message);
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    /* whatever the read answers, the access log names the player */
    ctx = ngx_http_coinhunt_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ctx->player = b->me.player;

    *index = t.slot;

    return NGX_OK;
}


/* the read waited for Redis */
static void
ngx_http_coinhunt_board_done(void *data, ngx_int_t rc)
{
    ngx_http_coinhunt_board_wait_t  *w = data;

    ngx_http_request_t  *r;

    r = w->request;

    if (rc == NGX_OK) {
        rc = ngx_http_coinhunt_board_reply(r, &w->board);

    } else if (rc == NGX_DECLINED) {
        rc = ngx_http_coinhunt_failed(r, ngx_http_coinhunt_fail(UNAVAILABLE),
                                      0);

    } else {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_coinhunt_finalize(r, rc);
}


static ngx_int_t
ngx_http_coinhunt_board_reply(ngx_http_request_t *r,
    ngx_http_coinhunt_board_read_t *b)
{
    u_char                  *p, *last;
    ngx_str_t                player;
    ngx_uint_t               i;
    ngx_http_coinhunt_me_t  *me;

    p = ngx_pnalloc(r->pool, NGX_HTTP_COINHUNT_BOARD_LEN(b->n));
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* names are of [A-Za-z0-9_.-]: nothing to escape */
    last = ngx_sprintf(p, "{\"hunt\":\"%V\",\"top\":[", &b->hunt);

    for (i = 0; i < b->n; i++) {
        player.data = b->entries[i].player;
        player.len = b->entries[i].len;

        last = ngx_sprintf(last, "%s{\"rank\":%ui,\"player\":\"%V\","
                           "\"score\":%L}",
                           i ? "," : "", i + 1, &player, b->entries[i].score);
    }

    *last++ = ']';

    me = &b->me;

    if (me->wanted && me->found) {
        last = ngx_sprintf(last, ",\"me\":{\"rank\":%L,\"score\":%L}",
                           me->rank, me->score);

    } else if (me->wanted) {
        last = ngx_sprintf(last, ",\"me\":{\"rank\":null,\"score\":%L}",
                           me->score);
    }

    last = ngx_http_coinhunt_json_put(last, "}\n");

    return ngx_http_coinhunt_send(r, NGX_HTTP_OK, p, last - p);
}
