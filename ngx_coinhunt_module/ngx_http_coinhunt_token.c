
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
    u_char      raw[16];
    uint32_t    bits;
    ngx_uint_t  i;

    static const u_char  alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    ngx_http_coinhunt_token_raw(key, slot, gen, raw);

    /* base64url without padding: 5 groups of 3 bytes, then 1 byte */
    for (i = 0; i < 15; i += 3) {
        bits = (uint32_t) raw[i] << 16 | (uint32_t) raw[i + 1] << 8
               | raw[i + 2];

        *out++ = alphabet[bits >> 18];
        *out++ = alphabet[(bits >> 12) & 0x3f];
        *out++ = alphabet[(bits >> 6) & 0x3f];
        *out++ = alphabet[bits & 0x3f];
    }

    *out++ = alphabet[raw[15] >> 2];
    *out = alphabet[(raw[15] & 0x03) << 4];
}


ngx_int_t
ngx_http_coinhunt_token_decode(const u_char *key, ngx_str_t *token,
    uint32_t *slot, uint32_t *gen)
{
    u_char       raw[16], expect[16], diff, bad, *p;
    uint32_t     bits;
    ngx_uint_t   i;

    static const u_char  value[256] = {
        64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
        64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
        64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 62, 64, 64,
        52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 64, 64, 64, 64, 64, 64,
        64,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
        15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 64, 64, 64, 64, 63,
        64, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
        41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 64, 64, 64, 64, 64,

        64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
        64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
        64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
        64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
        64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
        64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
        64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64,
        64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64
    };

    if (token->len != NGX_HTTP_COINHUNT_TOKEN_LEN) {
        return NGX_DECLINED;
    }

    /* 22 characters of 6 bits: 16 bytes, and 4 bits that must be zero */
    p = token->data;
    bad = 0;

    for (i = 0; i < 15; i += 3, p += 4) {
        bits = (uint32_t) value[p[0]] << 18 | (uint32_t) value[p[1]] << 12
               | (uint32_t) value[p[2]] << 6 | value[p[3]];
        bad |= value[p[0]] | value[p[1]] | value[p[2]] | value[p[3]];

        raw[i] = (u_char) (bits >> 16);
        raw[i + 1] = (u_char) (bits >> 8);
        raw[i + 2] = (u_char) bits;
    }

    bits = (uint32_t) value[p[0]] << 6 | value[p[1]];
    bad |= value[p[0]] | value[p[1]];
    raw[15] = (u_char) (bits >> 4);

    /* an invalid character has bit 6 set */
    if ((bad & 0x40) || (bits & 0x0f)) {
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
