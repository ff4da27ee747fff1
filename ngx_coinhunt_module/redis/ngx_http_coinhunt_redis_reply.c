
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_parse.h"
#include "ngx_http_coinhunt_redis_reply.h"


/*
 * What a Redis reply must look like before anything is taken from it: pure
 * functions of hiredis reply trees, with no connection, request or log, so
 * that fuzz/ drives them with the trees hiredis's own reader builds.
 */


/* a board score as Redis returns it: a negated integer, 2^53 at most */
ngx_int_t
ngx_http_coinhunt_redis_score(redisReply *reply, int64_t *score)
{
    char     *p, *last;
    int64_t   n;

    if (reply->type != REDIS_REPLY_STRING || reply->len == 0
        || reply->len > 17)
    {
        return NGX_ERROR;
    }

    p = reply->str;
    last = p + reply->len;

    if (*p == '-') {
        p++;
    }

    if (p == last) {
        return NGX_ERROR;
    }

    for (n = 0; p < last; p++) {
        if (*p < '0' || *p > '9') {
            return NGX_ERROR;
        }

        n = n * 10 + (*p - '0');
    }

    *score = (reply->str[0] == '-') ? n : -n;

    return *score >= 0 ? NGX_OK : NGX_ERROR;
}


/* ZRANGE ... WITHSCORES: member and score pairs, valid names, at most 100 */
ngx_int_t
ngx_http_coinhunt_redis_top(redisReply *reply, ngx_http_coinhunt_entry_t *top,
    ngx_uint_t *n)
{
    size_t       i, pairs;
    redisReply  *member;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2
        || reply->elements > 2 * NGX_HTTP_COINHUNT_TOP_MAX)
    {
        return NGX_ERROR;
    }

    pairs = reply->elements / 2;

    for (i = 0; i < pairs; i++) {
        member = reply->element[2 * i];

        /* a board member is a player name: the replies embed it unescaped */
        if (member->type != REDIS_REPLY_STRING
            || !ngx_http_coinhunt_valid_name((u_char *) member->str,
                                             member->len,
                                             NGX_HTTP_COINHUNT_NAME_MAX)
            || ngx_http_coinhunt_redis_score(reply->element[2 * i + 1],
                                             &top[i].score)
               != NGX_OK)
        {
            *n = i;
            return NGX_ERROR;
        }

        top[i].len = member->len;
        ngx_memcpy(top[i].player, member->str, member->len);
    }

    *n = pairs;

    return NGX_OK;
}


/* ZRANK: the 1-based rank, NGX_DECLINED for a player not on the board */
ngx_int_t
ngx_http_coinhunt_redis_rank(redisReply *reply, int64_t *rank)
{
    if (reply->type == REDIS_REPLY_INTEGER && reply->integer >= 0) {
        *rank = reply->integer + 1;
        return NGX_OK;
    }

    return reply->type == REDIS_REPLY_NIL ? NGX_DECLINED : NGX_ERROR;
}


/* a handshake's answer: the status "expect" (PONG, OK), all of it */
ngx_int_t
ngx_http_coinhunt_redis_status(redisReply *reply, char *expect)
{
    if (reply->type != REDIS_REPLY_STATUS
        || reply->len != ngx_strlen(expect)
        || ngx_memcmp(reply->str, expect, reply->len) != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}
