
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_alloc.h"

#if (NGX_COINHUNT_JEMALLOC)
#include <jemalloc/jemalloc.h>
#elif defined(__SANITIZE_ADDRESS__)
/* libasan's allocator interface; gcc ships no header of it */
size_t __sanitizer_get_heap_size(void);
#else
#include <malloc.h>
#endif


/*
 * Every long-lived worker-private byte of the module comes from here: with
 * jemalloc, an arena and a tcache of the worker's own (mallocx/sdallocx);
 * with libc, malloc.  Small Lua blocks are recycled through size-class free
 * lists, so a rule that makes a table per tap costs no heap call once warm.
 */


#define NGX_HTTP_COINHUNT_CLASS_SHIFT   4
#define NGX_HTTP_COINHUNT_CLASSES       32          /* 16 .. 512 bytes */
#define NGX_HTTP_COINHUNT_CLASS_MAX                                           \
    (NGX_HTTP_COINHUNT_CLASSES << NGX_HTTP_COINHUNT_CLASS_SHIFT)
#define NGX_HTTP_COINHUNT_CACHE_MAX     (4 * 1024 * 1024)
/* a rule that hoards memory fails with "not enough memory" */
#define NGX_HTTP_COINHUNT_LUA_MAX       (256 * 1024 * 1024)


typedef struct ngx_http_coinhunt_block_s  ngx_http_coinhunt_block_t;

struct ngx_http_coinhunt_block_s {
    ngx_http_coinhunt_block_t     *next;
};


static ngx_http_coinhunt_block_t  *ngx_http_coinhunt_classes[
                                       NGX_HTTP_COINHUNT_CLASSES];
static size_t                      ngx_http_coinhunt_cached;
static size_t                      ngx_http_coinhunt_allocated;
static uint64_t                    ngx_http_coinhunt_allocations;
static size_t                      ngx_http_coinhunt_lua_live;

#if (NGX_COINHUNT_JEMALLOC)
static unsigned                    ngx_http_coinhunt_arena;
static unsigned                    ngx_http_coinhunt_tcache;
static int                         ngx_http_coinhunt_flags;
#endif


ngx_int_t
ngx_http_coinhunt_alloc_init(ngx_log_t *log)
{
#if (NGX_COINHUNT_JEMALLOC)
    int      err;
    char     name[64];
    bool     off;
    size_t   len;
    ssize_t  decay;

    len = sizeof(unsigned);
    err = mallctl("arenas.create", &ngx_http_coinhunt_arena, &len, NULL, 0);

    if (err) {
        ngx_log_error(NGX_LOG_EMERG, log, err,
                      "coinhunt: mallctl(\"arenas.create\") failed");
        return NGX_ERROR;
    }

    len = sizeof(unsigned);
    err = mallctl("tcache.create", &ngx_http_coinhunt_tcache, &len, NULL, 0);

    if (err) {
        ngx_log_error(NGX_LOG_EMERG, log, err,
                      "coinhunt: mallctl(\"tcache.create\") failed");
        return NGX_ERROR;
    }

    /* freed pages go back within a second, by the worker's own calls */
    decay = 1000;
    ngx_sprintf((u_char *) name, "arena.%uD.dirty_decay_ms%Z",
                ngx_http_coinhunt_arena);
    (void) mallctl(name, NULL, NULL, &decay, sizeof(decay));

    decay = 0;
    ngx_sprintf((u_char *) name, "arena.%uD.muzzy_decay_ms%Z",
                ngx_http_coinhunt_arena);
    (void) mallctl(name, NULL, NULL, &decay, sizeof(decay));

    /* no background thread may ever pause a worker */
    off = false;
    (void) mallctl("background_thread", NULL, NULL, &off, sizeof(off));

    ngx_http_coinhunt_flags = MALLOCX_ARENA(ngx_http_coinhunt_arena)
                              | MALLOCX_TCACHE(ngx_http_coinhunt_tcache);
#else
    (void) log;
#endif

    return NGX_OK;
}


void
ngx_http_coinhunt_alloc_done(void)
{
    ngx_uint_t                  i;
    ngx_http_coinhunt_block_t  *b;
#if (NGX_COINHUNT_JEMALLOC)
    char                        name[64];
#endif

    for (i = 0; i < NGX_HTTP_COINHUNT_CLASSES; i++) {
        while (ngx_http_coinhunt_classes[i]) {
            b = ngx_http_coinhunt_classes[i];
            ngx_http_coinhunt_classes[i] = b->next;
            ngx_http_coinhunt_free(b, (i + 1) << NGX_HTTP_COINHUNT_CLASS_SHIFT);
        }
    }

    ngx_http_coinhunt_cached = 0;

#if (NGX_COINHUNT_JEMALLOC)
    if (ngx_http_coinhunt_flags == 0) {
        return;
    }

    (void) mallctl("tcache.destroy", NULL, NULL, &ngx_http_coinhunt_tcache,
                   sizeof(unsigned));

    ngx_sprintf((u_char *) name, "arena.%uD.destroy%Z",
                ngx_http_coinhunt_arena);
    (void) mallctl(name, NULL, NULL, NULL, 0);

    ngx_http_coinhunt_flags = 0;
#endif
}


void *
ngx_http_coinhunt_alloc(size_t size)
{
    void  *p;

    ngx_http_coinhunt_allocations++;

#if (NGX_COINHUNT_JEMALLOC)
    p = mallocx(size ? size : 1, ngx_http_coinhunt_flags);
#else
    p = malloc(size);
#endif

    if (p) {
        ngx_http_coinhunt_allocated += size;
    }

    return p;
}


void
ngx_http_coinhunt_free(void *p, size_t size)
{
    if (p == NULL) {
        return;
    }

    ngx_http_coinhunt_allocated -= size;

#if (NGX_COINHUNT_JEMALLOC)
    sdallocx(p, size ? size : 1, ngx_http_coinhunt_flags);
#else
    free(p);
#endif
}


void *
ngx_http_coinhunt_lua_alloc(void *ud, void *p, size_t osize, size_t nsize)
{
    void                       *n;
    ngx_uint_t                  oc, nc;
    ngx_http_coinhunt_block_t  *b;

    /* osize is meaningful only when p is set */
    oc = (p && osize && osize <= NGX_HTTP_COINHUNT_CLASS_MAX)
         ? (osize - 1) >> NGX_HTTP_COINHUNT_CLASS_SHIFT
         : NGX_HTTP_COINHUNT_CLASSES;
    nc = (nsize && nsize <= NGX_HTTP_COINHUNT_CLASS_MAX)
         ? (nsize - 1) >> NGX_HTTP_COINHUNT_CLASS_SHIFT
         : NGX_HTTP_COINHUNT_CLASSES;

    if (p && oc == nc && nc < NGX_HTTP_COINHUNT_CLASSES) {
        ngx_http_coinhunt_lua_live += nsize - osize;
        return p;
    }

    if (nsize == 0) {
        n = NULL;
        ngx_http_coinhunt_lua_live -= osize;
        goto release;
    }

    if (nsize > (p ? osize : 0)
        && ngx_http_coinhunt_lua_live + nsize - (p ? osize : 0)
           > NGX_HTTP_COINHUNT_LUA_MAX)
    {
        return NULL;
    }

    ngx_http_coinhunt_lua_live += nsize - (p ? osize : 0);

    if (nc < NGX_HTTP_COINHUNT_CLASSES && ngx_http_coinhunt_classes[nc]) {
        b = ngx_http_coinhunt_classes[nc];
        ngx_http_coinhunt_classes[nc] = b->next;
        ngx_http_coinhunt_cached -= (nc + 1) << NGX_HTTP_COINHUNT_CLASS_SHIFT;
        n = b;

    } else {
        n = ngx_http_coinhunt_alloc(nc < NGX_HTTP_COINHUNT_CLASSES
                                    ? (nc + 1) << NGX_HTTP_COINHUNT_CLASS_SHIFT
                                    : nsize);
        if (n == NULL) {
            return NULL;
        }
    }

    if (p) {
        ngx_memcpy(n, p, ngx_min(osize, nsize));
    }

release:

    if (p == NULL) {
        return n;
    }

    if (oc < NGX_HTTP_COINHUNT_CLASSES
        && ngx_http_coinhunt_cached < NGX_HTTP_COINHUNT_CACHE_MAX)
    {
        b = p;
        b->next = ngx_http_coinhunt_classes[oc];
        ngx_http_coinhunt_classes[oc] = b;
        ngx_http_coinhunt_cached += (oc + 1) << NGX_HTTP_COINHUNT_CLASS_SHIFT;

    } else {
        ngx_http_coinhunt_free(p, oc < NGX_HTTP_COINHUNT_CLASSES
                                  ? (oc + 1) << NGX_HTTP_COINHUNT_CLASS_SHIFT
                                  : osize);
    }

    return n;
}


void
ngx_http_coinhunt_heap_stats(ngx_http_coinhunt_heap_stats_t *stats)
{
#if (NGX_COINHUNT_JEMALLOC)
    char      name[64];
    size_t    len, resident;
    uint64_t  epoch;

    epoch = 1;
    len = sizeof(epoch);
    (void) mallctl("epoch", &epoch, &len, &epoch, len);

    resident = 0;
    len = sizeof(size_t);
    ngx_sprintf((u_char *) name, "stats.arenas.%uD.resident%Z",
                ngx_http_coinhunt_arena);

    if (mallctl(name, &resident, &len, NULL, 0) != 0) {
        resident = 0;
    }

    stats->resident = resident;
#elif defined(__SANITIZE_ADDRESS__)
    /* ASan's allocator replaces glibc's, whose mallinfo2() would say 0 */
    stats->resident = __sanitizer_get_heap_size();
#else
    struct mallinfo2  mi;

    mi = mallinfo2();
    stats->resident = mi.arena + mi.hblkhd;
#endif

    stats->allocated = ngx_http_coinhunt_allocated;
    stats->allocations = ngx_http_coinhunt_allocations;
}


const char *
ngx_http_coinhunt_allocator_name(void)
{
#if (NGX_COINHUNT_JEMALLOC)
    return "jemalloc";
#else
    return "libc";
#endif
}
