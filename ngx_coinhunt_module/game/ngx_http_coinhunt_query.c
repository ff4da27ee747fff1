
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_rate.h"
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_counters.h"
#include "ngx_http_coinhunt_hunts.h"
#include "ngx_http_coinhunt_store.h"
#include "ngx_http_coinhunt_lua.h"
#include "ngx_http_coinhunt_auth.h"
#include "ngx_http_coinhunt_query.h"


/*
 * A question to the hunt, whatever the transport: the rules' on_query with
 * a copy of the asking session (if any), its arguments and the hunt's
 * name; it changes nothing.  With a session the hunt is the session's.
 */


static ngx_str_t  ngx_http_coinhunt_query_default = ngx_string("default");


/* NGX_OK: out->json; NGX_DECLINED: out->fail */
ngx_int_t
ngx_http_coinhunt_game_query(ngx_http_coinhunt_query_in_t *in,
    ngx_http_coinhunt_query_out_t *out)
{
    ngx_int_t                    rc;
    ngx_str_t                    hunt;
    ngx_http_coinhunt_slot_t    *slot;
    ngx_http_coinhunt_shctx_t   *sh;

    sh = ngx_http_coinhunt_sh;
    out->s.player.len = 0;
    hunt = in->hunt.len ? in->hunt : ngx_http_coinhunt_query_default;

    if (in->token) {
        slot = ngx_http_coinhunt_auth_lock(in->cmcf, in->token,
                                           ngx_http_coinhunt_now_ms()
                                           - (int64_t) in->cmcf->session_ttl,
                                           &out->fail, in->log);
        if (slot == NULL) {
            return NGX_DECLINED;
        }

        ngx_http_coinhunt_session_copy(sh, slot, in->token->slot, &out->s);
        ngx_http_coinhunt_unlock(&slot->lock);

        hunt = ngx_http_coinhunt_hunt_name(sh, out->s.hunt);

        if (in->hunt.len
            && (in->hunt.len != hunt.len
                || ngx_memcmp(in->hunt.data, hunt.data, hunt.len) != 0))
        {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, in->log, 0,
                           "coinhunt query: 400, the session plays another "
                           "hunt");

            out->fail = ngx_http_coinhunt_fail(OTHER_HUNT);
            return NGX_DECLINED;
        }
    }

    rc = ngx_http_coinhunt_lua_on_query(in->rules,
                                        in->token ? &out->s : NULL,
                                        in->args, in->nargs, &hunt, in->pool,
                                        &out->json, in->log);

    if (rc == NGX_DECLINED) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, in->log, 0,
                       "coinhunt query: 404, the rules have no on_query");

        out->fail = ngx_http_coinhunt_fail(NO_QUERY);
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, in->log, 0,
                       "coinhunt query: 500, on_query failed");

        ngx_http_coinhunt_count(ngx_http_coinhunt_counters(), rule_errors, 1);
        out->fail = ngx_http_coinhunt_fail(QUERY_RULE);
        return NGX_DECLINED;
    }

    return NGX_OK;
}
