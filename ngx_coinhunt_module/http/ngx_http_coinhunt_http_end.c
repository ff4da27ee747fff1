
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_json.h"
#include "ngx_http_coinhunt_end.h"
#include "ngx_http_coinhunt_http.h"
#include "ngx_http_coinhunt_reply.h"
#include "ngx_http_coinhunt_endpoints.h"


/* POST or DELETE /end: the token; the game's end; the ended session */


#define NGX_HTTP_COINHUNT_END_LEN                                             \
    (sizeof("{\"ended\":true,}\n") - 1 + NGX_HTTP_COINHUNT_STATE_LEN)


ngx_int_t
ngx_http_coinhunt_http_end(ngx_http_request_t *r)
{
    u_char                          *p, *last;
    ngx_http_coinhunt_token_t        t;
    ngx_http_coinhunt_session_t      s;
    const ngx_http_coinhunt_fail_t  *fail;

    if (ngx_http_coinhunt_authorize(r, &t) != NGX_OK) {
        return ngx_http_coinhunt_rejected(r);
    }

    if (ngx_http_coinhunt_game_end(ngx_http_coinhunt_main_conf(r), &t, &s,
                                   &fail, r->connection->log)
        != NGX_OK)
    {
        return ngx_http_coinhunt_failed(r, fail, 0);
    }

    if (ngx_http_coinhunt_log_session(r, &s) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_pnalloc(r->pool, NGX_HTTP_COINHUNT_END_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = ngx_http_coinhunt_json_put(p, "{\"ended\":true,");
    last = ngx_http_coinhunt_state_json(last, &s);
    last = ngx_http_coinhunt_json_put(last, "}\n");

    return ngx_http_coinhunt_send(r, NGX_HTTP_OK, p, last - p);
}
