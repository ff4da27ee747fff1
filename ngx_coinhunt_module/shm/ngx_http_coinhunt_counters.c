
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_counters.h"


/*
 * The workers' rows of counters, and the two counted with a lookup: the
 * answers by status and the rule calls by duration.
 */


/* the statuses the module answers with, in the rows' order; 0: any other */
const ngx_uint_t  ngx_http_coinhunt_statuses[NGX_HTTP_COINHUNT_STATUSES] = {
    200, 201, 400, 401, 404, 405, 409, 413, 429, 500, 503, 0
};


/* the endpoints' names, in the order of the module's endpoint table */
const char *const  ngx_http_coinhunt_actions[NGX_HTTP_COINHUNT_ACTIONS] = {
    "session", "tap", "leaderboard", "end", "metrics", "query"
};


/* the hooks' names, in the rows' order */
const char *const  ngx_http_coinhunt_hooks[NGX_HTTP_COINHUNT_HOOKS] = {
    "on_join", "on_tap", "on_expire", "on_query"
};


/* the rule histogram's upper bounds in ns, in the rows' order; 0: +Inf */
const uint64_t  ngx_http_coinhunt_rule_bounds[NGX_HTTP_COINHUNT_RULE_BUCKETS] =
{
    5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,
    5000000, 10000000, 0
};


/* a row is whole cache lines, so that two workers never share one */
typedef char  ngx_http_coinhunt_row_lines[
    sizeof(ngx_http_coinhunt_counters_t) % 64 == 0 ? 1 : -1];


/* the row of this worker's number: the metrics sum the rows */
NGX_HTTP_COINHUNT_HOT
ngx_http_coinhunt_counters_t *
ngx_http_coinhunt_counters(void)
{
    return &ngx_http_coinhunt_sh->counters[ngx_worker
                                           % NGX_HTTP_COINHUNT_WORKERS_MAX];
}


/* one answer of endpoint "action" (its index in the endpoint table) */
NGX_HTTP_COINHUNT_HOT
void
ngx_http_coinhunt_count_response(ngx_uint_t action, ngx_uint_t status)
{
    ngx_uint_t  i;

    if (action >= NGX_HTTP_COINHUNT_ACTIONS) {
        return;
    }

    switch (status) {
    case 200: i = 0; break;
    case 201: i = 1; break;
    case 400: i = 2; break;
    case 401: i = 3; break;
    case 404: i = 4; break;
    case 405: i = 5; break;
    case 409: i = 6; break;
    case 413: i = 7; break;
    case 429: i = 8; break;
    case 500: i = 9; break;
    case 503: i = 10; break;
    default:  i = NGX_HTTP_COINHUNT_STATUSES - 1;
    }

    ngx_http_coinhunt_count(ngx_http_coinhunt_counters(), responses[action][i],
                            1);
}


/* one call of rule hook "hook" that took "ns" nanoseconds */
NGX_HTTP_COINHUNT_HOT
void
ngx_http_coinhunt_count_rule(ngx_uint_t hook, uint64_t ns)
{
    ngx_uint_t                     b;
    ngx_http_coinhunt_counters_t  *row;

    for (b = 0; b < NGX_HTTP_COINHUNT_RULE_BUCKETS - 1; b++) {
        if (ns <= ngx_http_coinhunt_rule_bounds[b]) {
            break;
        }
    }

    row = ngx_http_coinhunt_counters();

    ngx_http_coinhunt_count(row, rule_calls[hook][b], 1);
    ngx_http_coinhunt_count(row, rule_ns[hook], ns);
}
