
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <math.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_parse.h"


/*
 * The parsers of untrusted bytes (parameters, the Authorization header,
 * directive values): pure functions of bytes, with no request, pool or log,
 * so that fuzz/ drives the very code the module runs.
 */


/* players, hunts and coin kinds: 1 to "max" of A-Z a-z 0-9 _ . - */
NGX_HTTP_COINHUNT_HOT
ngx_uint_t
ngx_http_coinhunt_valid_name(u_char *p, size_t len, size_t max)
{
    u_char  *last;

    if (len == 0 || len > max) {
        return 0;
    }

    for (last = p + len; p < last; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9')
              || *p == '_' || *p == '.' || *p == '-'))
        {
            return 0;
        }
    }

    return 1;
}


/* the raw value of "name" in an urlencoded body, not yet unescaped */
ngx_int_t
ngx_http_coinhunt_form_arg(u_char *p, size_t len, char *name,
    ngx_str_t *value)
{
    u_char  *last, *start;
    size_t   nlen, i;

    nlen = ngx_strlen(name);
    last = p + len;

    while (p < last) {
        start = p;

        while (p < last && *p != '&') {
            p++;
        }

        if ((size_t) (p - start) <= nlen || start[nlen] != '=') {
            p++;
            continue;
        }

        /* names as ngx_http_arg() matches them in the query: any case */
        for (i = 0; i < nlen; i++) {
            if (ngx_tolower(start[i]) != ngx_tolower((u_char) name[i])) {
                break;
            }
        }

        if (i == nlen) {
            value->data = start + nlen + 1;
            value->len = p - value->data;
            return NGX_OK;
        }

        p++;
    }

    return NGX_DECLINED;
}


/* a decimal integer from "min" to "max", an optional "-" first */
ngx_int_t
ngx_http_coinhunt_parse_int(u_char *p, size_t len, int64_t min, int64_t max,
    int64_t *value)
{
    u_char     *last;
    int64_t     n, d;
    ngx_uint_t  neg;

    last = p + len;
    neg = (len > 1 && *p == '-');
    p += neg;

    if (p == last || len > 19) {
        return NGX_ERROR;
    }

    for (n = 0; p < last; p++) {
        if (*p < '0' || *p > '9') {
            return NGX_ERROR;
        }

        /* 19 digits can pass 2^63 - 1 */
        d = *p - '0';

        if (n > (INT64_MAX - d) / 10) {
            return NGX_ERROR;
        }

        n = n * 10 + d;
    }

    n = neg ? -n : n;

    if (n < min || n > max) {
        return NGX_ERROR;
    }

    *value = n;

    return NGX_OK;
}


/*
 * A finite decimal number: only digits, sign, point and exponent reach
 * strtod(), so no NUL, space, hex or "inf" is read as a number.
 */
ngx_int_t
ngx_http_coinhunt_parse_coord(u_char *p, size_t len, double *value)
{
    u_char   buf[32];
    char    *end;
    size_t   i;

    *value = 0;

    if (len == 0 || len >= sizeof(buf)) {
        return NGX_ERROR;
    }

    for (i = 0; i < len; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || p[i] == '.' || p[i] == '-'
              || p[i] == '+' || p[i] == 'e' || p[i] == 'E'))
        {
            return NGX_ERROR;
        }

        buf[i] = p[i];
    }

    buf[len] = '\0';

    *value = strtod((char *) buf, &end);

    if (end != (char *) buf + len || !isfinite(*value)) {
        *value = 0;
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* "Bearer <token>", the scheme in any case, spaces before the token */
NGX_HTTP_COINHUNT_HOT
ngx_int_t
ngx_http_coinhunt_bearer(u_char *p, size_t len, ngx_str_t *token)
{
    size_t         i;
    static u_char  scheme[] = "bearer ";

    if (len < sizeof(scheme) - 1) {
        return NGX_DECLINED;
    }

    /* the exact spelling first: it is what every client sends */
    if (ngx_memcmp(p, "Bearer ", sizeof(scheme) - 1) != 0) {

        for (i = 0; i < sizeof(scheme) - 1; i++) {
            if (ngx_tolower(p[i]) != scheme[i]) {
                return NGX_DECLINED;
            }
        }
    }

    token->data = p + sizeof(scheme) - 1;
    token->len = len - (sizeof(scheme) - 1);

    while (token->len && token->data[0] == ' ') {
        token->data++;
        token->len--;
    }

    return NGX_OK;
}


/* coinhunt_seed: a decimal number that fits 64 bits */
ngx_int_t
ngx_http_coinhunt_parse_seed(u_char *p, size_t len, uint64_t *seed)
{
    u_char    *last;
    uint64_t   n, d;

    if (len == 0) {
        return NGX_DECLINED;
    }

    n = 0;

    for (last = p + len; p < last; p++) {
        if (*p < '0' || *p > '9') {
            return NGX_ERROR;
        }

        d = *p - '0';

        if (n > (UINT64_MAX - d) / 10) {
            return NGX_ERROR;
        }

        n = n * 10 + d;
    }

    *seed = n;

    return NGX_OK;
}
