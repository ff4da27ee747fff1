
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_TOKEN_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_TOKEN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_HTTP_COINHUNT_KEY_LEN      16
/* base64url of slot (4), generation (4) and MAC (8), unpadded */
#define NGX_HTTP_COINHUNT_TOKEN_LEN    22


/* a decoded token; its MAC also covers the session's hunt and player */
typedef struct {
    uint32_t                       slot;
    uint32_t                       gen;
    uint64_t                       mac;
} ngx_http_coinhunt_token_t;


uint64_t ngx_http_coinhunt_siphash(const u_char *key, const u_char *in,
    size_t len);
void ngx_http_coinhunt_token_encode(const u_char *key, uint32_t slot,
    uint32_t gen, ngx_str_t *hunt, ngx_str_t *player, u_char *out);
ngx_int_t ngx_http_coinhunt_token_decode(ngx_str_t *token,
    ngx_http_coinhunt_token_t *t);
void ngx_http_coinhunt_token_key(ngx_str_t *secret, const u_char *zone_key,
    u_char *key, uint64_t *mask);
ngx_int_t ngx_http_coinhunt_token_verify(const u_char *key,
    ngx_http_coinhunt_token_t *t, ngx_str_t *hunt, ngx_str_t *player);


#endif /* _NGX_HTTP_COINHUNT_TOKEN_H_INCLUDED_ */
