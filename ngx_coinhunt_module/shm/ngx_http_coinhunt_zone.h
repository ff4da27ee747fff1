
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_ZONE_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_ZONE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_counters.h"
#include "ngx_http_coinhunt_token.h"
#include "ngx_http_coinhunt_lock.h"


#define NGX_HTTP_COINHUNT_HUNTS_MAX       1024
#define NGX_HTTP_COINHUNT_INDEX_LOCKS     1024
#define NGX_HTTP_COINHUNT_JOURNALS_MIN    64
#define NGX_HTTP_COINHUNT_LOG_SIZE        512
#define NGX_HTTP_COINHUNT_LOG_LOCKS       4

#define NGX_HTTP_COINHUNT_SLOT_FREE       0
#define NGX_HTTP_COINHUNT_SLOT_LIVE       1
#define NGX_HTTP_COINHUNT_SLOT_RETIRED    2


/*
 * A session slot: 136 bytes, followed in the zone by the designer fields
 * (one double each).  Every field but "lock" is read and written with the
 * slot locked, except the racy pre-checks of the sweeper.  A retired slot
 * (an ended or expired session) keeps its hunt, player and score, so it
 * stays on the leaderboard and in the index until it is reclaimed; its
 * tap-rate and rules words link it into the FIFO of retired slots.  While a
 * slot is on a local leaderboard, "score" changes only under the board lock
 * too.
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
    union {
        struct {
            uint32_t               excess;     /* tap rate, 1/1000 taps */
            uint32_t               rules;      /* the rules' id, 0: none */
        };
        struct {
            uint32_t               prev;       /* slot + 1, 0: none */
            uint32_t               next;
        }                          retired;
    };
    int64_t                        score;
    int64_t                        created_ms;
    int64_t                        last_tap_ms;
    int64_t                        seq;
    uint64_t                       mac;        /* verified, masked; 0: none */
    u_char                         player[NGX_HTTP_COINHUNT_NAME_MAX];
} ngx_http_coinhunt_slot_t;


typedef struct {
    ngx_atomic_t                   len;        /* 0: unused; set last */
    u_char                         name[NGX_HTTP_COINHUNT_NAME_MAX];
    uint32_t                       board_lock; /* the local leaderboard's */
    uint32_t                       board_root; /* slot + 1, 0: empty */
} ngx_http_coinhunt_hunt_t;


/* a slot's node in its hunt's local leaderboard (links are slot + 1) */
typedef struct {
    uint32_t                       left;
    uint32_t                       right;
    uint32_t                       parent;
    uint32_t                       size;       /* of the subtree */
} ngx_http_coinhunt_node_t;


/* Redis mode: a slot's score as Redis last acknowledged it, and its mark */
typedef struct {
    int64_t                        flushed;    /* -1: never written */
    uint32_t                       next;       /* dirty list, slot + 1 */
    uint32_t                       mark;       /* 0, queued or flusher pid */
} ngx_http_coinhunt_pending_t;


/*
 * A process's journal (ngx_http_coinhunt_journal.c, its recovery in
 * state/ngx_http_coinhunt_recovery.c): what its critical
 * section is about to write, so that whoever takes over a lock it died
 * holding finishes the writes.  A tap has its own record; any other section
 * logs its stores, each tagged with the locks that guard the word.
 */
typedef struct {
    uint32_t                       owner;      /* pid, 0: free */
    uint32_t                       repairing;  /* the dead pid redone for */
    uint32_t                       tap;        /* slot + 1: a tap commits */
    uint32_t                       taps;
    uint32_t                       coins;
    uint32_t                       excess;
    int64_t                        score;
    int64_t                        last_tap_ms;
    int64_t                        seq;
    double                         fields[NGX_HTTP_COINHUNT_FIELDS_MAX];
    uint32_t                       alloc;      /* slot + 1 taken, unplaced */
    uint32_t                       committed;  /* log bytes, 0: none */
    uint32_t                       len;
    uint32_t                       nlocks;
    uint64_t                       locks[NGX_HTTP_COINHUNT_LOG_LOCKS];
                                               /* offsets in the zone */
    int64_t                        sessions;   /* shares of the gauges */
    int64_t                        dirty;
    u_char                         log[NGX_HTTP_COINHUNT_LOG_SIZE];
} ngx_http_coinhunt_journal_t;


/*
 * The zone's arrays after its context, by their offsets from the context:
 * a zone in a file (shm/ngx_http_coinhunt_zone_file.c) is mapped at another
 * address in each nginx that opens it, even two at once (a binary upgrade),
 * so nothing in the zone holds a pointer.  A new array is a new region.
 */
enum {
    NGX_HTTP_COINHUNT_R_JOURNALS = 0,
    NGX_HTTP_COINHUNT_R_BUCKETS,
    NGX_HTTP_COINHUNT_R_NODES,                 /* local mode, else 0 */
    NGX_HTTP_COINHUNT_R_PENDING,               /* Redis mode, else 0 */
    NGX_HTTP_COINHUNT_R_SLOTS,
    NGX_HTTP_COINHUNT_REGIONS
};


typedef struct {
    uint64_t                       magic;
    uint64_t                       size;       /* from the context on */
    u_char                         name[NGX_HTTP_COINHUNT_NAME_MAX];
    size_t                         name_len;
    size_t                         stride;
    uint32_t                       capacity;
    uint32_t                       nbuckets;
    uint32_t                       nfields;
    uint32_t                       njournals;
    u_char                         key[NGX_HTTP_COINHUNT_KEY_LEN];
    ngx_atomic_t                   unused;     /* slots never handed out */
    ngx_atomic_t                   sweep;      /* sweeper's cursor */
    ngx_atomic_t                   flush_ms;   /* Redis: last flush */
    ngx_atomic_t                   recover;    /* Redis: recovery cursor */
    uint32_t                       redis;      /* the zone's mode */
    uint32_t                       hunts_lock;
    uint32_t                       journal_lock;
    uint32_t                       free_lock;
    uint32_t                       free_head;      /* slot + 1 */
    uint32_t                       retired_lock;
    uint32_t                       retired_head;   /* slot + 1, oldest */
    uint32_t                       retired_tail;
    uint32_t                       dirty_lock;
    uint32_t                       dirty_head;     /* slot + 1 */
    uint32_t                       dirty_tail;
    uint32_t                       index_locks[NGX_HTTP_COINHUNT_INDEX_LOCKS];
    ngx_http_coinhunt_counters_t   counters[NGX_HTTP_COINHUNT_WORKERS_MAX];
    ngx_http_coinhunt_hunt_t       hunts[NGX_HTTP_COINHUNT_HUNTS_MAX];
    uint64_t                       region[NGX_HTTP_COINHUNT_REGIONS];
} ngx_http_coinhunt_shctx_t;


extern ngx_http_coinhunt_shctx_t  *ngx_http_coinhunt_sh;


/* a region's start; NULL for one this zone's mode has not */
#define ngx_http_coinhunt_region(sh, r)                                       \
    ((sh)->region[r] ? (void *) ((u_char *) (sh) + (sh)->region[r]) : NULL)

#define ngx_http_coinhunt_journals(sh)                                        \
    ((ngx_http_coinhunt_journal_t *)                                          \
     ((u_char *) (sh) + (sh)->region[NGX_HTTP_COINHUNT_R_JOURNALS]))
#define ngx_http_coinhunt_buckets(sh)                                         \
    ((uint32_t *) ((u_char *) (sh) + (sh)->region[NGX_HTTP_COINHUNT_R_BUCKETS]))
#define ngx_http_coinhunt_nodes(sh)                                           \
    ((ngx_http_coinhunt_node_t *)                                             \
     ngx_http_coinhunt_region(sh, NGX_HTTP_COINHUNT_R_NODES))
#define ngx_http_coinhunt_pendings(sh)                                        \
    ((ngx_http_coinhunt_pending_t *)                                          \
     ngx_http_coinhunt_region(sh, NGX_HTTP_COINHUNT_R_PENDING))
#define ngx_http_coinhunt_slots(sh)                                           \
    ((u_char *) (sh) + (sh)->region[NGX_HTTP_COINHUNT_R_SLOTS])

/* a word of the zone and its offset, as the journal keeps it */
#define ngx_http_coinhunt_zone_off(sh, p)                                     \
    ((uint64_t) ((u_char *) (p) - (u_char *) (sh)))
#define ngx_http_coinhunt_zone_at(sh, off)  ((u_char *) (sh) + (off))

#define ngx_http_coinhunt_slot_index(sh, slot)                                \
    ((uint32_t) (((u_char *) (slot) - ngx_http_coinhunt_slots(sh))            \
                 / (sh)->stride))
#define ngx_http_coinhunt_pending(sh, i)                                      \
    (&ngx_http_coinhunt_pendings(sh)[i])
#define ngx_http_coinhunt_journal_at(sh, i)                                   \
    (&ngx_http_coinhunt_journals(sh)[i])

#define ngx_http_coinhunt_slot(sh, i)                                         \
    ((ngx_http_coinhunt_slot_t *) (ngx_http_coinhunt_slots(sh)               \
                                   + (size_t) (i) * (sh)->stride))
#define ngx_http_coinhunt_slot_fields(slot)                                   \
    ((double *) ((u_char *) (slot) + sizeof(ngx_http_coinhunt_slot_t)))


/*
 * A new generation: the old one's tokens, and the MAC kept for them, die.
 * The MAC first: killed in between, the old MAC never meets the new one.
 */
static ngx_inline void
ngx_http_coinhunt_slot_renew(ngx_http_coinhunt_slot_t *slot)
{
    slot->mac = 0;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    slot->gen++;
}


ngx_int_t ngx_http_coinhunt_zone_init(ngx_shm_zone_t *shm_zone, void *data);
size_t ngx_http_coinhunt_zone_per_session(ngx_uint_t nfields);


#endif /* _NGX_HTTP_COINHUNT_ZONE_H_INCLUDED_ */
