
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <math.h>
#include "ngx_fuzz.h"
#include "ngx_http_coinhunt_parse.h"


/*
 * Request parameters: the input is an urlencoded body (and, whole, an
 * Authorization header value and a directive's value).  Each parameter the
 * handlers read is looked up with the module's body parser and handed to
 * the parser its handler uses; so is the whole input, which may hold any
 * byte an unescaped query value can.
 */


static char  *ngx_fuzz_names[] = {
    "player", "hunt", "session", "seq", "x", "y", "top", NULL
};


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_fuzz_init();
    return 0;
}


static void
ngx_fuzz_int(u_char *p, size_t len, int64_t min, int64_t max)
{
    char     buf[32];
    int64_t  n;

    if (ngx_http_coinhunt_parse_int(p, len, min, max, &n) != NGX_OK) {
        return;
    }

    ngx_fuzz_assert(n >= min && n <= max, "an integer out of its range");

    /* what was accepted is the decimal it reads as */
    ngx_memcpy(buf, p, len);
    buf[len] = '\0';
    ngx_fuzz_assert(strtoll(buf, NULL, 10) == n, "an integer misread");
}


static void
ngx_fuzz_coord(u_char *p, size_t len)
{
    size_t  i;
    double  v;

    if (ngx_http_coinhunt_parse_coord(p, len, &v) != NGX_OK) {
        ngx_fuzz_assert(v == 0, "a refused coordinate left a value");
        return;
    }

    ngx_fuzz_assert(isfinite(v), "an infinite coordinate");

    for (i = 0; i < len; i++) {
        ngx_fuzz_assert((p[i] >= '0' && p[i] <= '9') || p[i] == '.'
                        || p[i] == '-' || p[i] == '+' || p[i] == 'e'
                        || p[i] == 'E',
                        "a coordinate accepted with a byte that is not "
                        "part of a decimal number");
    }
}


static void
ngx_fuzz_name(u_char *p, size_t len)
{
    size_t  i;

    if (!ngx_http_coinhunt_valid_name(p, len, 64)) {
        return;
    }

    ngx_fuzz_assert(len >= 1 && len <= 64, "a name of a bad length");

    for (i = 0; i < len; i++) {
        ngx_fuzz_assert(isalnum(p[i]) || p[i] == '_' || p[i] == '.'
                        || p[i] == '-', "a name with a bad byte");
    }
}


static void
ngx_fuzz_bearer(u_char *p, size_t len)
{
    ngx_str_t  token;

    if (ngx_http_coinhunt_bearer(p, len, &token) != NGX_OK) {
        return;
    }

    ngx_fuzz_assert(len >= 7 && strncasecmp((char *) p, "Bearer ", 7) == 0,
                    "a token without the Bearer scheme");
    ngx_fuzz_assert(token.data >= p + 7 && token.data + token.len == p + len,
                    "a token outside the header");
    ngx_fuzz_assert(token.len == 0 || token.data[0] != ' ',
                    "a token with a leading space");
}


/* a seed is read exactly when it is all digits and fits 64 bits */
static void
ngx_fuzz_seed(u_char *p, size_t len)
{
    char                *buf;
    size_t               i;
    uint64_t             seed;
    ngx_int_t            rc;
    unsigned long long   ref;

    rc = ngx_http_coinhunt_parse_seed(p, len, &seed);

    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            ngx_fuzz_assert(rc != NGX_OK, "a seed with a non-digit taken");
            return;
        }
    }

    if (len == 0) {
        ngx_fuzz_assert(rc == NGX_DECLINED, "an empty seed taken");
        return;
    }

    buf = malloc(len + 1);
    if (buf == NULL) {
        return;
    }

    ngx_memcpy(buf, p, len);
    buf[len] = '\0';
    errno = 0;
    ref = strtoull(buf, NULL, 10);

    if (errno == ERANGE) {
        ngx_fuzz_assert(rc != NGX_OK, "a seed over 2^64 - 1 taken");

    } else {
        ngx_fuzz_assert(rc == NGX_OK && seed == ref, "a seed misread");
    }

    free(buf);
}


static void
ngx_fuzz_value(char *name, u_char *p, size_t len)
{
    if (ngx_strcmp(name, "player") == 0 || ngx_strcmp(name, "hunt") == 0) {
        ngx_fuzz_name(p, len);

    } else if (ngx_strcmp(name, "seq") == 0) {
        ngx_fuzz_int(p, len, 1, 9007199254740991LL);

    } else if (ngx_strcmp(name, "top") == 0) {
        ngx_fuzz_int(p, len, 1, 100);

    } else if (ngx_strcmp(name, "x") == 0 || ngx_strcmp(name, "y") == 0) {
        ngx_fuzz_coord(p, len);
    }
}


/* names match in any case, as ngx_http_arg() matches them in the query */
static ngx_uint_t
ngx_fuzz_same_name(u_char *p, char *name, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (ngx_tolower(p[i]) != ngx_tolower((u_char) name[i])) {
            return 0;
        }
    }

    return 1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char     *body;
    char      **name;
    size_t      nlen;
    ngx_str_t   value;

    /* a copy of the exact size: ASan sees any read past the end */
    body = malloc(size ? size : 1);
    if (body == NULL) {
        return 0;
    }

    ngx_memcpy(body, data, size);

    for (name = ngx_fuzz_names; *name; name++) {
        if (ngx_http_coinhunt_form_arg(body, size, *name, &value) != NGX_OK) {
            continue;
        }

        nlen = ngx_strlen(*name);

        ngx_fuzz_assert(value.data >= body + nlen + 1
                        && value.data + value.len <= body + size,
                        "a value outside the body");
        ngx_fuzz_assert(value.data[-1] == '='
                        && ngx_fuzz_same_name(value.data - 1 - nlen, *name,
                                              nlen),
                        "a value not after its name");
        ngx_fuzz_assert(value.data - 1 - nlen == body
                        || value.data[-2 - (ssize_t) nlen] == '&',
                        "a name not at the start of a pair");
        ngx_fuzz_assert(value.data + value.len == body + size
                        || value.data[value.len] == '&',
                        "a value not ending at its pair");
        ngx_fuzz_assert(memchr(value.data, '&', value.len) == NULL,
                        "a value across pairs");

        ngx_fuzz_value(*name, value.data, value.len);
    }

    ngx_fuzz_int(body, size, 1, 9007199254740991LL);
    ngx_fuzz_int(body, size, 1, 100);
    ngx_fuzz_coord(body, size);
    ngx_fuzz_name(body, size);
    ngx_fuzz_bearer(body, size);
    ngx_fuzz_seed(body, size);

    free(body);

    return 0;
}
