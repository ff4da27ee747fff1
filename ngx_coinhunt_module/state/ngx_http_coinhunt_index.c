
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_journal.h"
#include "ngx_http_coinhunt_index.h"


/*
 * The (hunt, player) index: chains of slots in keyed buckets, each chain
 * under its stripe of NGX_HTTP_COINHUNT_INDEX_LOCKS locks, taken before a
 * slot's lock.
 */


uint32_t
ngx_http_coinhunt_bucket(ngx_http_coinhunt_shctx_t *sh, uint16_t hunt,
    u_char *player, size_t len)
{
    u_char  buf[2 + NGX_HTTP_COINHUNT_NAME_MAX];

    /* keyed: players cannot pick names that all land in one chain */
    buf[0] = (u_char) hunt;
    buf[1] = (u_char) (hunt >> 8);
    ngx_memcpy(buf + 2, player, len);

    return (uint32_t) (ngx_http_coinhunt_siphash(sh->key, buf, len + 2)
                       % sh->nbuckets);
}


ngx_http_coinhunt_slot_t *
ngx_http_coinhunt_lookup(ngx_http_coinhunt_shctx_t *sh, uint32_t b,
    uint16_t hunt, ngx_str_t *player, uint32_t *index)
{
    uint32_t                   x;
    ngx_http_coinhunt_slot_t  *slot;

    for (x = ngx_http_coinhunt_buckets(sh)[b]; x; x = slot->next) {
        slot = ngx_http_coinhunt_slot(sh, x - 1);

        if (slot->hunt == hunt
            && slot->player_len == player->len
            && ngx_memcmp(slot->player, player->data, player->len) == 0)
        {
            *index = x - 1;
            return slot;
        }
    }

    return NULL;
}


/* logs the removal of a slot from its index chain, the stripe locked */
void
ngx_http_coinhunt_unlink(ngx_http_coinhunt_shctx_t *sh, ngx_uint_t tag,
    uint32_t index, uint32_t b)
{
    uint32_t                  *link;
    ngx_http_coinhunt_slot_t  *s;

    for (link = &ngx_http_coinhunt_buckets(sh)[b]; *link; link = &s->next) {
        s = ngx_http_coinhunt_slot(sh, *link - 1);

        if (*link == index + 1) {
            ngx_http_coinhunt_journal_set(tag, link, s->next);
            return;
        }
    }
}
