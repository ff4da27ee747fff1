
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_ZONE_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_ZONE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_module.h"
#include "ngx_http_coinhunt_metrics.h"
#include "ngx_http_coinhunt_token.h"


#define NGX_HTTP_COINHUNT_HUNTS_MAX       1024
#define NGX_HTTP_COINHUNT_INDEX_LOCKS     1024

#define NGX_HTTP_COINHUNT_SLOT_FREE       0
#define NGX_HTTP_COINHUNT_SLOT_LIVE       1


/*
 * A session slot: 128 bytes, followed in the zone by the designer fields
 * (one double each).  Every field but "lock" is read and written with the
 * slot locked, except the racy pre-checks of the sweeper.
 */
typedef struct {
    uint32_t                       lock;       /* 0, or the holder's pid */
    uint32_t                       gen;        /* bumped at join and free */
    uint32_t                       next;       /* index chain / free list */
    uint16_t                       hunt;
    uint8_t                        player_len;
    uint8_t                        state;
    uint32_t                       taps;
    uint32_t                       coins;
    uint32_t                       excess;     /* tap rate, 1/1000 taps */
    uint32_t                       rules;      /* rules index + 1, 0: none */
    int64_t                        score;
    int64_t                        created_ms;
    int64_t                        last_tap_ms;
    int64_t                        seq;
    u_char                         player[NGX_HTTP_COINHUNT_NAME_MAX];
} ngx_http_coinhunt_slot_t;


typedef struct {
    ngx_atomic_t                   len;        /* 0: unused; set last */
    u_char                         name[NGX_HTTP_COINHUNT_NAME_MAX];
} ngx_http_coinhunt_hunt_t;


typedef struct {
    uint64_t                       magic;
    size_t                         stride;
    uint32_t                       capacity;
    uint32_t                       nbuckets;
    uint32_t                       nfields;
    u_char                         key[NGX_HTTP_COINHUNT_KEY_LEN];
    ngx_atomic_t                   sessions;
    ngx_atomic_t                   free_head;  /* tag << 32 | (slot + 1) */
    ngx_atomic_t                   unused;     /* slots never handed out */
    ngx_atomic_t                   sweep;      /* sweeper's cursor */
    uint32_t                       hunts_lock;
    uint32_t                       index_locks[NGX_HTTP_COINHUNT_INDEX_LOCKS];
    ngx_http_coinhunt_counters_t   counters[NGX_HTTP_COINHUNT_WORKERS_MAX];
    ngx_http_coinhunt_hunt_t       hunts[NGX_HTTP_COINHUNT_HUNTS_MAX];
    uint32_t                      *buckets;
    u_char                        *slots;
} ngx_http_coinhunt_shctx_t;


/* a copy of a session taken under its lock, for replies and Lua */
typedef struct {
    uint32_t                       index;
    uint32_t                       gen;
    uint32_t                       taps;
    uint32_t                       coins;
    uint32_t                       rules;
    uint16_t                       hunt;
    int64_t                        score;
    int64_t                        created_ms;
    int64_t                        last_tap_ms;
    int64_t                        seq;
    uint32_t                       excess;
    ngx_str_t                      player;
    u_char                         player_data[NGX_HTTP_COINHUNT_NAME_MAX];
    double                         fields[NGX_HTTP_COINHUNT_FIELDS_MAX];
} ngx_http_coinhunt_session_t;


extern ngx_http_coinhunt_shctx_t  *ngx_http_coinhunt_sh;


#define ngx_http_coinhunt_slot(sh, i)                                         \
    ((ngx_http_coinhunt_slot_t *) ((sh)->slots + (size_t) (i) * (sh)->stride))
#define ngx_http_coinhunt_slot_fields(slot)                                   \
    ((double *) ((u_char *) (slot) + sizeof(ngx_http_coinhunt_slot_t)))


ngx_int_t ngx_http_coinhunt_zone_init(ngx_shm_zone_t *shm_zone, void *data);
size_t ngx_http_coinhunt_zone_per_session(ngx_uint_t nfields);

void ngx_http_coinhunt_lock(uint32_t *lock);
void ngx_http_coinhunt_unlock(uint32_t *lock);

ngx_int_t ngx_http_coinhunt_hunt_find(ngx_http_coinhunt_shctx_t *sh,
    ngx_str_t *name, ngx_uint_t create, uint16_t *id);
ngx_str_t ngx_http_coinhunt_hunt_name(ngx_http_coinhunt_shctx_t *sh,
    uint16_t id);

ngx_int_t ngx_http_coinhunt_session_find(ngx_http_coinhunt_shctx_t *sh,
    uint16_t hunt, ngx_str_t *player, ngx_http_coinhunt_session_t *s);
ngx_int_t ngx_http_coinhunt_session_insert(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_session_t *s);
ngx_int_t ngx_http_coinhunt_session_remove(ngx_http_coinhunt_shctx_t *sh,
    uint32_t index, uint32_t gen, int64_t idle_before,
    ngx_http_coinhunt_session_t *s);
ngx_http_coinhunt_slot_t *ngx_http_coinhunt_session_lock(
    ngx_http_coinhunt_shctx_t *sh, uint32_t index, uint32_t gen,
    int64_t idle_before);
void ngx_http_coinhunt_session_copy(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, ngx_http_coinhunt_session_t *s);
int64_t ngx_http_coinhunt_session_active_ms(ngx_http_coinhunt_slot_t *slot);

typedef void (*ngx_http_coinhunt_expired_pt)(void *data,
    ngx_http_coinhunt_session_t *s);

ngx_uint_t ngx_http_coinhunt_sweep(ngx_http_coinhunt_shctx_t *sh,
    ngx_uint_t count, int64_t idle_before,
    ngx_http_coinhunt_expired_pt handler, void *data);


#endif /* _NGX_HTTP_COINHUNT_ZONE_H_INCLUDED_ */
