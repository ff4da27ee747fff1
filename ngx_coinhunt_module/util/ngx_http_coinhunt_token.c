
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_token.h"


/*
 * A token is base64url(slot | generation | mac), 16 bytes in 22 characters:
 * the slot gives O(1) lookup, the generation refuses a reused or re-joined
 * slot, and the MAC is SipHash-2-4, keyed by the zone's key, of the slot,
 * the generation, the hunt and the player.
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


/*
 * The MAC covers the slot and generation and the session's hunt and player:
 * generations start again in a new zone (a restart, another node with the
 * same coinhunt_secret), so slot and generation alone could name another
 * player's session there.
 */
static uint64_t
ngx_http_coinhunt_token_mac(const u_char *key, uint32_t slot, uint32_t gen,
    ngx_str_t *hunt, ngx_str_t *player)
{
    u_char      in[9 + 2 * NGX_HTTP_COINHUNT_NAME_MAX], *p;
    size_t      hlen, plen;
    ngx_uint_t  i;

    hlen = ngx_min(hunt->len, NGX_HTTP_COINHUNT_NAME_MAX);
    plen = ngx_min(player->len, NGX_HTTP_COINHUNT_NAME_MAX);

    for (i = 0; i < 4; i++) {
        in[i] = (u_char) (slot >> (8 * i));
        in[4 + i] = (u_char) (gen >> (8 * i));
    }

    in[8] = (u_char) hlen;
    p = ngx_cpymem(in + 9, hunt->data, hlen);
    p = ngx_cpymem(p, player->data, plen);

    return ngx_http_coinhunt_siphash(key, in, p - in);
}


void
ngx_http_coinhunt_token_encode(const u_char *key, uint32_t slot, uint32_t gen,
    ngx_str_t *hunt, ngx_str_t *player, u_char *out)
{
    u_char      raw[16];
    uint32_t    bits;
    uint64_t    mac;
    ngx_uint_t  i;

    static const u_char  alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    mac = ngx_http_coinhunt_token_mac(key, slot, gen, hunt, player);

    for (i = 0; i < 4; i++) {
        raw[i] = (u_char) (slot >> (8 * i));
        raw[4 + i] = (u_char) (gen >> (8 * i));
    }

    for (i = 0; i < 8; i++) {
        raw[8 + i] = (u_char) (mac >> (8 * i));
    }

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


/* base64 yields the bytes big-endian; the token's words are little-endian */
static uint64_t
ngx_http_coinhunt_swap64(uint64_t w)
{
#if (__GNUC__ || __clang__)
    return __builtin_bswap64(w);
#else
    return (w >> 56) | (w >> 40 & 0xff00) | (w >> 24 & 0xff0000)
           | (w >> 8 & 0xff000000) | (w << 8 & 0xff00000000ULL)
           | (w << 24 & 0xff0000000000ULL) | (w << 40 & 0xff000000000000ULL)
           | (w << 56);
#endif
}


/* base64url: the value of each character, 64 for any other byte */
static const u_char  ngx_http_coinhunt_base64url[256] = {
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


/* appends "n" characters of 6 bits to "w"; a bad one sets bit 6 of "bad" */
static ngx_inline uint64_t
ngx_http_coinhunt_base64url_bits(const u_char *p, ngx_uint_t n, uint64_t w,
    u_char *bad)
{
    u_char  c;

    while (n--) {
        c = ngx_http_coinhunt_base64url[*p++];
        *bad |= c;
        w = w << 6 | c;
    }

    return w;
}


/* the slot, generation and MAC of a well-formed token; NGX_DECLINED if not */
NGX_HTTP_COINHUNT_HOT
ngx_int_t
ngx_http_coinhunt_token_decode(ngx_str_t *token, ngx_http_coinhunt_token_t *t)
{
    u_char     c, bad, *p;
    uint64_t   head, tail;

    if (token->len != NGX_HTTP_COINHUNT_TOKEN_LEN) {
        return NGX_DECLINED;
    }

    /*
     * 22 characters of 6 bits: bytes 0-7 in "head" (10 characters and 4
     * bits), bytes 8-15 in "tail" (2 bits, 10 characters, 2 bits), and 4
     * bits that must be zero
     */
    p = token->data;
    bad = 0;

    head = ngx_http_coinhunt_base64url_bits(p, 10, 0, &bad);

    c = ngx_http_coinhunt_base64url[p[10]];
    bad |= c;
    head = head << 4 | c >> 2;

    tail = ngx_http_coinhunt_base64url_bits(p + 11, 10, c & 0x03, &bad);

    c = ngx_http_coinhunt_base64url[p[21]];
    bad |= c;
    tail = tail << 2 | c >> 4;

    /* an invalid character has bit 6 set */
    if ((bad & 0x40) || (c & 0x0f)) {
        return NGX_DECLINED;
    }

    head = ngx_http_coinhunt_swap64(head);

    t->slot = (uint32_t) head;
    t->gen = (uint32_t) (head >> 32);
    t->mac = ngx_http_coinhunt_swap64(tail);

    return NGX_OK;
}


/* NGX_OK if the token's MAC is that of the session of "hunt" and "player" */
ngx_int_t
ngx_http_coinhunt_token_verify(const u_char *key, ngx_http_coinhunt_token_t *t,
    ngx_str_t *hunt, ngx_str_t *player)
{
    uint64_t  diff;

    /* constant time: no early exit on the first differing bit */
    diff = t->mac ^ ngx_http_coinhunt_token_mac(key, t->slot, t->gen, hunt,
                                                player);

    return diff == 0 ? NGX_OK : NGX_DECLINED;
}

