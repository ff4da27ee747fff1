
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * The benchmark's floor for a content handler: "bench_floor;" answers a POST
 * with a tap-sized JSON body and does nothing else.  What it costs over a
 * rewrite-phase "return 200" is what nginx charges any content-phase module
 * (the access and content phases, the handler call); what coinhunt's tap
 * costs over it is the tap's own work.  Built for bench/run only.
 */


static ngx_int_t ngx_http_bench_floor_handler(ngx_http_request_t *r);
static char *ngx_http_bench_floor(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_http_bench_floor_commands[] = {

    { ngx_string("bench_floor"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_bench_floor,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_bench_floor_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_bench_floor_module = {
    NGX_MODULE_V1,
    &ngx_http_bench_floor_module_ctx,      /* module context */
    ngx_http_bench_floor_commands,         /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* bare nginx's body in bench/lib.sh (BARE_BODY): a typical tap answer */
static u_char  ngx_http_bench_floor_body[] =
    "{\"coin\":null,\"score\":1205,\"taps\":2412,\"coins\":241}";


static ngx_int_t
ngx_http_bench_floor_handler(ngx_http_request_t *r)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    if (!(r->method & NGX_HTTP_POST)) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = ngx_http_bench_floor_body;
    b->last = b->pos + sizeof(ngx_http_bench_floor_body) - 1;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static char *
ngx_http_bench_floor(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_bench_floor_handler;

    return NGX_CONF_OK;
}
