
/*
 * Copyright (C) coinhunt developers
 */


#ifndef _NGX_HTTP_COINHUNT_LOCK_H_INCLUDED_
#define _NGX_HTTP_COINHUNT_LOCK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * What a process does with a lock it took over from "dead", before its own
 * critical section: state/ngx_http_coinhunt_recovery.c installs it at init.
 */
typedef void (*ngx_http_coinhunt_repair_pt)(uint32_t *lock, uint32_t dead);


extern ngx_http_coinhunt_repair_pt  ngx_http_coinhunt_lock_repair;


void ngx_http_coinhunt_lock(uint32_t *lock);
void ngx_http_coinhunt_unlock(uint32_t *lock);


#endif /* _NGX_HTTP_COINHUNT_LOCK_H_INCLUDED_ */
