
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_coinhunt_conf.h"
#include "ngx_http_coinhunt_lock.h"


/*
 * The zone's locks: a word that holds the owner's pid, so that the lock of
 * a killed worker is taken over, and what it guards repaired by the hook
 * the state layer installs (ngx_http_coinhunt_recovery.c).
 */


#define NGX_HTTP_COINHUNT_SPINS   2048


ngx_http_coinhunt_repair_pt  ngx_http_coinhunt_lock_repair;


NGX_HTTP_COINHUNT_HOT
void
ngx_http_coinhunt_lock(uint32_t *lock)
{
    uint32_t    pid, holder;
    ngx_uint_t  spins;

    pid = (uint32_t) ngx_pid;

    for ( ;; ) {

        for (spins = 0; spins < NGX_HTTP_COINHUNT_SPINS; spins++) {
            holder = __atomic_load_n(lock, __ATOMIC_RELAXED);

            if (holder == 0
                && __atomic_compare_exchange_n(lock, &holder, pid, 0,
                                               __ATOMIC_ACQUIRE,
                                               __ATOMIC_RELAXED))
            {
                return;
            }

            ngx_cpu_pause();
        }

        holder = __atomic_load_n(lock, __ATOMIC_RELAXED);

        /* the holder died inside its critical section: take the lock over */
        if (holder != 0
            && kill((pid_t) holder, 0) == -1 && ngx_errno == NGX_ESRCH
            && __atomic_compare_exchange_n(lock, &holder, pid, 0,
                                           __ATOMIC_ACQUIRE,
                                           __ATOMIC_RELAXED))
        {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                          "coinhunt: took over a lock held by dead "
                          "process %uD", holder);

            /* what it left half-written under the lock is finished */
            if (ngx_http_coinhunt_lock_repair) {
                ngx_http_coinhunt_lock_repair(lock, holder);
            }

            return;
        }

        ngx_sched_yield();
    }
}


NGX_HTTP_COINHUNT_HOT
void
ngx_http_coinhunt_unlock(uint32_t *lock)
{
    __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}
