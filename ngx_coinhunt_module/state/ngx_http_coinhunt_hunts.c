
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_hunts.h"


/*
 * The registry of hunts: up to NGX_HTTP_COINHUNT_HUNTS_MAX names in the
 * zone, a hunt's id its place; entries are never removed.
 */


ngx_int_t
ngx_http_coinhunt_hunt_find(ngx_http_coinhunt_shctx_t *sh, ngx_str_t *name,
    ngx_uint_t create, uint16_t *id)
{
    ngx_uint_t                 i, len;
    ngx_http_coinhunt_hunt_t  *hunt;

    /* entries are never removed and "len" is published last */
    for (i = 0; i < NGX_HTTP_COINHUNT_HUNTS_MAX; i++) {
        hunt = &sh->hunts[i];
        len = __atomic_load_n(&hunt->len, __ATOMIC_ACQUIRE);

        if (len == 0) {
            break;
        }

        if (len == name->len && ngx_memcmp(hunt->name, name->data, len) == 0)
        {
            *id = (uint16_t) i;
            return NGX_OK;
        }
    }

    if (!create || i == NGX_HTTP_COINHUNT_HUNTS_MAX) {
        return NGX_DECLINED;
    }

    ngx_http_coinhunt_lock(&sh->hunts_lock);

    for ( /* void */ ; i < NGX_HTTP_COINHUNT_HUNTS_MAX; i++) {
        hunt = &sh->hunts[i];

        if (hunt->len == 0) {
            ngx_memcpy(hunt->name, name->data, name->len);
            __atomic_store_n(&hunt->len, name->len, __ATOMIC_RELEASE);
            break;
        }

        if (hunt->len == name->len
            && ngx_memcmp(hunt->name, name->data, name->len) == 0)
        {
            break;
        }
    }

    ngx_http_coinhunt_unlock(&sh->hunts_lock);

    if (i == NGX_HTTP_COINHUNT_HUNTS_MAX) {
        return NGX_DECLINED;
    }

    *id = (uint16_t) i;

    return NGX_OK;
}


ngx_str_t
ngx_http_coinhunt_hunt_name(ngx_http_coinhunt_shctx_t *sh, uint16_t id)
{
    ngx_str_t  name;

    name.data = sh->hunts[id].name;
    name.len = __atomic_load_n(&sh->hunts[id].len, __ATOMIC_ACQUIRE);

    return name;
}
