
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_fuzz.h"
#include "ngx_http_coinhunt_token.h"


/*
 * Session tokens: the input is a token as a client sends it.  A token the
 * decoder accepts must be exactly the one the module issues for its slot and
 * generation; and the first bytes, taken as a slot and a generation, must
 * make a token that decodes back to them and that no one-character change
 * keeps valid.
 */


static u_char  ngx_fuzz_key[NGX_HTTP_COINHUNT_KEY_LEN] = "coinhunt-fuzzkey";


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_fuzz_init();
    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char      issued[NGX_HTTP_COINHUNT_TOKEN_LEN], *copy;
    uint32_t    slot, gen, slot2, gen2;
    ngx_str_t   token;
    ngx_uint_t  i, at;

    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        return 0;
    }

    ngx_memcpy(copy, data, size);
    token.data = copy;
    token.len = size;

    if (ngx_http_coinhunt_token_decode(ngx_fuzz_key, &token, &slot, &gen)
        == NGX_OK)
    {
        ngx_http_coinhunt_token_encode(ngx_fuzz_key, slot, gen, issued);
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

    ngx_http_coinhunt_token_encode(ngx_fuzz_key, slot, gen, issued);

    for (i = 0; i < NGX_HTTP_COINHUNT_TOKEN_LEN; i++) {
        ngx_fuzz_assert(isalnum(issued[i]) || issued[i] == '-'
                        || issued[i] == '_', "a token not in base64url");
    }

    token.data = issued;
    token.len = NGX_HTTP_COINHUNT_TOKEN_LEN;

    ngx_fuzz_assert(ngx_http_coinhunt_token_decode(ngx_fuzz_key, &token,
                                                   &slot2, &gen2)
                    == NGX_OK && slot2 == slot && gen2 == gen,
                    "an issued token does not decode to its slot");

    /* one character changed to another byte: refused */
    at = data[8] % NGX_HTTP_COINHUNT_TOKEN_LEN;
    issued[at] = (size > 9 && data[9] != issued[at]) ? data[9]
                                                     : issued[at] ^ 1;

    ngx_fuzz_assert(ngx_http_coinhunt_token_decode(ngx_fuzz_key, &token,
                                                   &slot2, &gen2)
                    != NGX_OK, "an altered token accepted");

    return 0;
}
