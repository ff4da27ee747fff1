
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_sha1.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_token.h"


/*
 * The tokens' MAC key: derived from coinhunt_secret when one is configured,
 * else the zone's random key; and the mask of the MACs slots keep.  Apart
 * from the codec: fuzz/ links the codec without nginx's SHA-1.
 */
void
ngx_http_coinhunt_token_key(ngx_str_t *secret, const u_char *zone_key,
    u_char *key, uint64_t *mask)
{
    u_char      digest[20];
    ngx_sha1_t  sha1;

    if (secret->len) {
        ngx_sha1_init(&sha1);
        ngx_sha1_update(&sha1, "coinhunt token key:", 19);
        ngx_sha1_update(&sha1, secret->data, secret->len);
        ngx_sha1_final(digest, &sha1);

        ngx_memcpy(key, digest, NGX_HTTP_COINHUNT_KEY_LEN);

    } else {
        ngx_memcpy(key, zone_key, NGX_HTTP_COINHUNT_KEY_LEN);
    }

    *mask = ngx_http_coinhunt_siphash(key, (u_char *) "kept MAC", 8);
}
