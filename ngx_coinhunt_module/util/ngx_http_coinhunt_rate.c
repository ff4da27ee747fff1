
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_rate.h"


/*
 * Time and the tap rate: the wall clock in ms, and coinhunt_tap_rate's
 * leaky bucket (limit_req's) as a pure function of a session's words.
 */


#define NGX_HTTP_COINHUNT_DAY_MS       86400000


NGX_HTTP_COINHUNT_HOT
int64_t
ngx_http_coinhunt_now_ms(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000 + tp->msec;
}


/*
 * A tap at "now" on a bucket that held "excess" 1/1000 taps after the tap
 * at "last_ms" (0: none), with "rate" 1/1000 taps a minute and "burst"
 * 1/1000 taps: NGX_OK and the bucket's new excess in *out, or NGX_BUSY and
 * in *out the ms until the bucket has room for one more tap.
 */
NGX_HTTP_COINHUNT_HOT
ngx_int_t
ngx_http_coinhunt_rate_take(uint32_t excess, int64_t last_ms, int64_t now,
    ngx_uint_t rate, ngx_uint_t burst, int64_t *out)
{
    int64_t  elapsed, left;

    /* a day refills any bucket; the bound keeps the product small */
    elapsed = last_ms ? now - last_ms : NGX_HTTP_COINHUNT_DAY_MS;
    elapsed = ngx_min(ngx_max(elapsed, 0), NGX_HTTP_COINHUNT_DAY_MS);

    left = (int64_t) excess - (int64_t) rate * elapsed / 60000;
    left = ngx_max(left, 0) + 1000;

    if (left > (int64_t) burst + 1000) {
        *out = (left - (int64_t) burst - 1000) * 60000 / (int64_t) rate;
        return NGX_BUSY;
    }

    *out = left;

    return NGX_OK;
}
