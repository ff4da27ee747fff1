
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_counters.h"


/* the row of this worker's number: the metrics sum the rows */
NGX_HTTP_COINHUNT_HOT
ngx_http_coinhunt_counters_t *
ngx_http_coinhunt_counters(void)
{
    return &ngx_http_coinhunt_sh->counters[ngx_worker
                                           % NGX_HTTP_COINHUNT_WORKERS_MAX];
}
