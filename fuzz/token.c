
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_fuzz.h"
#include "ngx_http_coinhunt_token.h"


/*
 * Session tokens: the input is a token as a client sends it.  A token the
 * decoder and the MAC check accept must be exactly the one the module issues
 * for its slot, generation, hunt and player; and the first bytes, taken as a
 * slot and a generation, must make a token that decodes back to them, that
 * another player's session refuses, and that no one-character change keeps
 * valid.
 */


static u_char     ngx_fuzz_key[NGX_HTTP_COINHUNT_KEY_LEN] = "coinhunt-fuzzkey";
static ngx_str_t  ngx_fuzz_hunt = ngx_string("default");
static ngx_str_t  ngx_fuzz_player = ngx_string("alice");
static ngx_str_t  ngx_fuzz_other = ngx_string("alicf");


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_fuzz_init();
    return 0;
}


static ngx_int_t
ngx_fuzz_accepted(ngx_str_t *token, ngx_http_coinhunt_token_t *t,
    ngx_str_t *player)
{
    return ngx_http_coinhunt_token_decode(token, t) == NGX_OK
           && ngx_http_coinhunt_token_verify(ngx_fuzz_key, t, &ngx_fuzz_hunt,
                                             player)
              == NGX_OK;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                     issued[NGX_HTTP_COINHUNT_TOKEN_LEN], *copy;
    uint32_t                   slot, gen;
    ngx_str_t                  token;
    ngx_uint_t                 i, at;
    ngx_http_coinhunt_token_t  t;

    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        return 0;
    }

    ngx_memcpy(copy, data, size);
    token.data = copy;
    token.len = size;

    if (ngx_fuzz_accepted(&token, &t, &ngx_fuzz_player)) {
        ngx_http_coinhunt_token_encode(ngx_fuzz_key, t.slot, t.gen,
                                       &ngx_fuzz_hunt, &ngx_fuzz_player,
                                       issued);
        ngx_fuzz_assert(size == NGX_HTTP_COINHUNT_TOKEN_LEN
                        && ngx_memcmp(issued, data, size) == 0,
                        "a token accepted that the module would not issue");
    }

    free(copy);

    if (size < 9) {
        return 0;
    }

    ngx_memcpy(&slot, data, 4);
    ngx_memcpy(&gen, data + 4, 4);

    ngx_http_coinhunt_token_encode(ngx_fuzz_key, slot, gen, &ngx_fuzz_hunt,
                                   &ngx_fuzz_player, issued);

    for (i = 0; i < NGX_HTTP_COINHUNT_TOKEN_LEN; i++) {
        ngx_fuzz_assert(isalnum(issued[i]) || issued[i] == '-'
                        || issued[i] == '_', "a token not in base64url");
    }

    token.data = issued;
    token.len = NGX_HTTP_COINHUNT_TOKEN_LEN;

    ngx_fuzz_assert(ngx_fuzz_accepted(&token, &t, &ngx_fuzz_player)
                    && t.slot == slot && t.gen == gen,
                    "an issued token does not decode to its slot");

    ngx_fuzz_assert(!ngx_fuzz_accepted(&token, &t, &ngx_fuzz_other),
                    "a token accepted by another player's session");

    /* one character changed to another byte: refused */
    at = data[8] % NGX_HTTP_COINHUNT_TOKEN_LEN;
    issued[at] = (size > 9 && data[9] != issued[at]) ? data[9]
                                                     : issued[at] ^ 1;

    ngx_fuzz_assert(!ngx_fuzz_accepted(&token, &t, &ngx_fuzz_player),
                    "an altered token accepted");

    return 0;
}
