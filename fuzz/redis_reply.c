
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_fuzz.h"
#include "ngx_http_coinhunt_module.h"
#include "ngx_http_coinhunt_parse.h"
#include "ngx_http_coinhunt_redis.h"


/*
 * Redis replies: the input is what a Redis server sends.  hiredis's own
 * reader turns it into reply trees, as it does on the module's connection,
 * and every tree goes to each check the module's reply callbacks make:
 * ZRANGE's top, ZRANK's rank, ZSCORE's score, the handshake's status.
 */


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_fuzz_init();
    return 0;
}


static void
ngx_fuzz_reply(redisReply *reply)
{
    int64_t                    score, rank;
    ngx_uint_t                 i, n;
    ngx_http_coinhunt_entry_t  top[NGX_HTTP_COINHUNT_TOP_MAX];

    if (ngx_http_coinhunt_redis_top(reply, top, &n) == NGX_OK) {
        ngx_fuzz_assert(n <= NGX_HTTP_COINHUNT_TOP_MAX
                        && n * 2 == reply->elements, "a top of bad size");

        for (i = 0; i < n; i++) {
            ngx_fuzz_assert(ngx_http_coinhunt_valid_name(top[i].player,
                                                         top[i].len, 64),
                            "a top member that is not a player name");
            ngx_fuzz_assert(top[i].score >= 0, "a negative top score");
        }
    }

    if (ngx_http_coinhunt_redis_score(reply, &score) == NGX_OK) {
        ngx_fuzz_assert(score >= 0 && score <= 99999999999999999LL,
                        "a score out of range");
    }

    if (ngx_http_coinhunt_redis_rank(reply, &rank) == NGX_OK) {
        ngx_fuzz_assert(rank >= 1, "a rank below 1");
    }

    if (ngx_http_coinhunt_redis_status(reply, "PONG") == NGX_OK) {
        ngx_fuzz_assert(reply->len == 4 && ngx_memcmp(reply->str, "PONG", 4)
                                           == 0, "a status taken for PONG");
    }

    if (ngx_http_coinhunt_redis_status(reply, "OK") == NGX_OK) {
        ngx_fuzz_assert(reply->len == 2 && ngx_memcmp(reply->str, "OK", 2)
                                           == 0, "a status taken for OK");
    }

    if (reply->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i < reply->elements; i++) {
            ngx_fuzz_reply(reply->element[i]);
        }
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    void         *reply;
    redisReader  *reader;

    reader = redisReaderCreate();
    if (reader == NULL) {
        return 0;
    }

    if (redisReaderFeed(reader, (const char *) data, size) == REDIS_OK) {

        while (redisReaderGetReply(reader, &reply) == REDIS_OK
               && reply != NULL)
        {
            ngx_fuzz_reply(reply);
            freeReplyObject(reply);
        }
    }

    redisReaderFree(reader);

    return 0;
}
