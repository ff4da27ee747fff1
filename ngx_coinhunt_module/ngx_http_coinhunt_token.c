
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_token.h"


/*
 * A token is base64url(slot | generation | mac), 16 bytes in 22 characters:
 * the slot gives O(1) lookup, the generation refuses a reused or re-joined
 * slot, and the MAC is SipHash-2-4 keyed by the zone's key.
 */


#define ngx_coinhunt_rotl(x, b)  (uint64_t) (((x) << (b)) | ((x) >> (64 - (b))))

#define ngx_coinhunt_sipround(v0, v1, v2, v3)                                \
    v0 += v1; v1 = ngx_coinhunt_rotl(v1, 13); v1 ^= v0;                      \
    v0 = ngx_coinhunt_rotl(v0, 32);                                          \
    v2 += v3; v3 = ngx_coinhunt_rotl(v3, 16); v3 ^= v2;                      \
    v0 += v3; v3 = ngx_coinhunt_rotl(v3, 21); v3 ^= v0;                      \
    v2 += v1; v1 = ngx_coinhunt_rotl(v1, 17); v1 ^= v2;                      \
    v2 = ngx_coinhunt_rotl(v2, 32)


static uint64_t
ngx_http_coinhunt_le64(const u_char *p)
{
    return (uint64_t) p[0] | (uint64_t) p[1] << 8 | (uint64_t) p[2] << 16
           | (uint64_t) p[3] << 24 | (uint64_t) p[4] << 32
           | (uint64_t) p[5] << 40 | (uint64_t) p[6] << 48
           | (uint64_t) p[7] << 56;
}


uint64_t
ngx_http_coinhunt_siphash(const u_char *key, const u_char *in, size_t len)
{
    size_t     i, left;
    uint64_t   k0, k1, v0, v1, v2, v3, m, b;

    k0 = ngx_http_coinhunt_le64(key);
    k1 = ngx_http_coinhunt_le64(key + 8);

    v0 = k0 ^ 0x736f6d6570736575ULL;
    v1 = k1 ^ 0x646f72616e646f6dULL;
    v2 = k0 ^ 0x6c7967656e657261ULL;
    v3 = k1 ^ 0x7465646279746573ULL;

    for (i = 0; i + 8 <= len; i += 8) {
        m = ngx_http_coinhunt_le64(in + i);
        v3 ^= m;
        ngx_coinhunt_sipround(v0, v1, v2, v3);
        ngx_coinhunt_sipround(v0, v1, v2, v3);
        v0 ^= m;
    }

    b = (uint64_t) len << 56;
    left = len - i;

    while (left--) {
        b |= (uint64_t) in[i + left] << (8 * left);
    }

    v3 ^= b;
    ngx_coinhunt_sipround(v0, v1, v2, v3);
    ngx_coinhunt_sipround(v0, v1, v2, v3);
    v0 ^= b;

    v2 ^= 0xff;
    ngx_coinhunt_sipround(v0, v1, v2, v3);
    ngx_coinhunt_sipround(v0, v1, v2, v3);
    ngx_coinhunt_sipround(v0, v1, v2, v3);
    ngx_coinhunt_sipround(v0, v1, v2, v3);

    return v0 ^ v1 ^ v2 ^ v3;
}


static void
ngx_http_coinhunt_token_raw(const u_char *key, uint32_t slot, uint32_t gen,
    u_char *raw)
{
    int       i;
    uint64_t  mac;

    for (i = 0; i < 4; i++) {
        raw[i] = (u_char) (slot >> (8 * i));
        raw[4 + i] = (u_char) (gen >> (8 * i));
    }

    mac = ngx_http_coinhunt_siphash(key, raw, 8);

    for (i = 0; i < 8; i++) {
        raw[8 + i] = (u_char) (mac >> (8 * i));
    }
}


void
ngx_http_coinhunt_token_encode(const u_char *key, uint32_t slot, uint32_t gen,
    u_char *out)
{
    u_char     raw[16], buf[NGX_HTTP_COINHUNT_TOKEN_LEN + 2];
    ngx_str_t  src, dst;

    ngx_http_coinhunt_token_raw(key, slot, gen, raw);

    src.data = raw;
    src.len = sizeof(raw);
    dst.data = buf;

    ngx_encode_base64url(&dst, &src);

    ngx_memcpy(out, buf, NGX_HTTP_COINHUNT_TOKEN_LEN);
}


ngx_int_t
ngx_http_coinhunt_token_decode(const u_char *key, ngx_str_t *token,
    uint32_t *slot, uint32_t *gen)
{
    u_char     raw[18], expect[16], diff;
    ngx_str_t  dst;
    ngx_int_t  i;

    if (token->len != NGX_HTTP_COINHUNT_TOKEN_LEN) {
        return NGX_DECLINED;
    }

    /* the last character holds 2 bits: refuse the 15 aliases of each token */
    switch (token->data[NGX_HTTP_COINHUNT_TOKEN_LEN - 1]) {
    case 'A':
    case 'Q':
    case 'g':
    case 'w':
        break;
    default:
        return NGX_DECLINED;
    }

    dst.data = raw;

    if (ngx_decode_base64url(&dst, token) != NGX_OK || dst.len != 16) {
        return NGX_DECLINED;
    }

    *slot = (uint32_t) raw[0] | (uint32_t) raw[1] << 8
            | (uint32_t) raw[2] << 16 | (uint32_t) raw[3] << 24;
    *gen = (uint32_t) raw[4] | (uint32_t) raw[5] << 8
           | (uint32_t) raw[6] << 16 | (uint32_t) raw[7] << 24;

    ngx_http_coinhunt_token_raw(key, *slot, *gen, expect);

    /* constant time: no early exit on the first differing byte */
    diff = 0;

    for (i = 8; i < 16; i++) {
        diff |= raw[i] ^ expect[i];
    }

    return diff == 0 ? NGX_OK : NGX_DECLINED;
}
