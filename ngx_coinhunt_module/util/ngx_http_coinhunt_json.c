
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_json.h"


/*
 * The JSON writer of the replies a tap sends: by hand, since ngx_sprintf()
 * was a tenth of the tap's instructions.
 */


/* n in decimal, at most NGX_INT64_LEN bytes; returns the end */
NGX_HTTP_COINHUNT_HOT
u_char *
ngx_http_coinhunt_json_int(u_char *p, int64_t n)
{
    u_char    *last;
    uint64_t   u, t;

    static const u_char  pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233"
        "34353637383940414243444546474849505152535455565758596061626364656667"
        "6869707172737475767778798081828384858687888990919293949596979899";

    if (n < 0) {
        *p++ = '-';
        u = (uint64_t) -(n + 1) + 1;

    } else {
        u = (uint64_t) n;
    }

    /* count the digits, then write them from the end, two at a time */
    last = p + 1;

    for (t = u; t >= 100; t /= 100) {
        last += 2;
    }

    if (t >= 10) {
        last++;
    }

    p = last;

    while (u >= 100) {
        t = u % 100 * 2;
        u /= 100;
        *--p = pairs[t + 1];
        *--p = pairs[t];
    }

    if (u >= 10) {
        *--p = pairs[u * 2 + 1];
        *--p = pairs[u * 2];

    } else {
        *--p = (u_char) ('0' + u);
    }

    return last;
}
