
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_JOURNAL_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_JOURNAL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_zone.h"
#include "ngx_http_coinhunt_leaderboard.h"


#define NGX_HTTP_COINHUNT_LOG_ALL      ((ngx_uint_t) -1)


/* logs the store of "value" into *addr, of addr's own type */
#define ngx_http_coinhunt_journal_set(tags, addr, value)                      \
    do {                                                                      \
        __typeof__(*(addr))  ngx_http_coinhunt_v = (value);                   \
        ngx_http_coinhunt_journal_put(tags, addr, &ngx_http_coinhunt_v,       \
                                      sizeof(ngx_http_coinhunt_v));           \
    } while (0)


extern ngx_http_coinhunt_journal_t  *ngx_http_coinhunt_journal;


ngx_int_t ngx_http_coinhunt_journal_init(ngx_log_t *log);
void ngx_http_coinhunt_journal_exit(void);
void ngx_http_coinhunt_journal_sweep(void);

void ngx_http_coinhunt_journal_begin(void);
ngx_uint_t ngx_http_coinhunt_journal_lock(uint32_t *lock);
void ngx_http_coinhunt_journal_put(ngx_uint_t tags, void *addr,
    const void *data, size_t len);
void ngx_http_coinhunt_journal_commit(void);
void ngx_http_coinhunt_journal_apply(ngx_uint_t tags);
void ngx_http_coinhunt_journal_end(void);
void ngx_http_coinhunt_journal_done(void);

void ngx_http_coinhunt_journal_repair(uint32_t *lock, uint32_t dead);
int64_t ngx_http_coinhunt_journal_sum(ngx_http_coinhunt_shctx_t *sh,
    size_t offset);


/*
 * A tap's commit, under the slot's lock: its outcome in absolute values in
 * the journal, committed, then stored; inline, a few dozen instructions
 * more than the stores themselves.
 */
static ngx_inline void
ngx_http_coinhunt_journal_tap(ngx_http_coinhunt_shctx_t *sh,
    ngx_http_coinhunt_slot_t *slot, uint32_t index, double *fields,
    int64_t now, int64_t excess, int64_t seq, int64_t value)
{
    int64_t                       score;
    uint32_t                      taps, coins, i;
    ngx_http_coinhunt_journal_t  *j;

    j = ngx_http_coinhunt_journal;

    taps = slot->taps + 1;
    coins = slot->coins;
    score = slot->score;

    if (value >= 0) {
        coins++;
        score += value;
    }

    if (seq == 0) {
        seq = slot->seq;
    }

    j->taps = taps;
    j->coins = coins;
    j->excess = (uint32_t) excess;
    j->score = score;
    j->last_tap_ms = now;
    j->seq = seq;

    /* a few doubles: a loop costs less than a call of memcpy */
    for (i = 0; i < sh->nfields; i++) {
        j->fields[i] = fields[i];
    }

    __atomic_store_n(&j->tap, index + 1, __ATOMIC_RELEASE);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);

    slot->taps = taps;
    slot->last_tap_ms = now;
    slot->excess = (uint32_t) excess;
    slot->seq = seq;

    if (score != slot->score) {
        /* the board lock nests in the slot lock, for a tree update */
        ngx_http_coinhunt_board_score(sh, slot, score);
    }

    slot->coins = coins;

    for (i = 0; i < sh->nfields; i++) {
        ngx_http_coinhunt_slot_fields(slot)[i] = fields[i];
    }

    __atomic_store_n(&j->tap, 0, __ATOMIC_RELEASE);
}


#endif /* _NGX_HTTP_COINHUNT_JOURNAL_H_INCLUDED_ */
