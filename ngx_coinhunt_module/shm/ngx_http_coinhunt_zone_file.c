
/*
 * Copyright (C) coinhunt developers
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <dirent.h>
#include <sys/file.h>
#include "ngx_http_coinhunt_zone_file.h"


/*
 * "coinhunt_zone name size file=path": the zone's pages past nginx's slab
 * header are the file, mapped shared over the anonymous zone in the master
 * before the workers are forked, so every process sees the file.  The
 * master holds an flock() on it for as long as it runs: a second nginx is
 * refused; a binary upgrade's new master inherits the old one's descriptor
 * (nginx execs it without closing it), shares the lock through it and maps
 * the same file while the old workers still run.  The kernel's page cache
 * keeps every store of a killed process; a timer in worker 0 starts the
 * write-back to disk every "coinhunt_zone_sync", never on the tap path.
 */


/* a pid no process can have (pid_max <= 2^22): its locks are taken over */
#define NGX_HTTP_COINHUNT_PID_GONE   0x40000000


static ngx_int_t ngx_http_coinhunt_zone_file_size(ngx_file_info_t *fi,
    size_t size, u_char *where, ngx_log_t *log);
static ngx_int_t ngx_http_coinhunt_zone_file_lock(ngx_fd_t *fd, u_char *where,
    ngx_log_t *log, ngx_uint_t *found);
static ngx_fd_t ngx_http_coinhunt_zone_file_inherited(ngx_fd_t fd);
static void ngx_http_coinhunt_zone_file_gone(uint32_t *word);
static void ngx_http_coinhunt_zone_file_sync(ngx_event_t *ev);


static ngx_fd_t     ngx_http_coinhunt_zone_fd = NGX_INVALID_FILE;
static u_char      *ngx_http_coinhunt_zone_addr;
static size_t       ngx_http_coinhunt_zone_size;
static u_char       ngx_http_coinhunt_zone_path[NGX_MAX_PATH + 1];
static ngx_event_t  ngx_http_coinhunt_zone_sync_event;


/*
 * Maps "path" at "addr" ("size" bytes, page-aligned): NGX_OK and in *found
 * whether it was empty, a kept zone, or one the running old binary shares.
 */
ngx_int_t
ngx_http_coinhunt_zone_file_map(ngx_str_t *path, u_char *addr, size_t size,
    u_char *where, ngx_log_t *log, ngx_uint_t *found)
{
    ngx_fd_t          fd;
    ngx_file_info_t   fi;

    if (path->len >= NGX_MAX_PATH) {
        ngx_log_error(NGX_LOG_EMERG, log, 0, "%s: the file's path is too "
                      "long", where);
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_http_coinhunt_zone_path, path->data, path->len);
    ngx_http_coinhunt_zone_path[path->len] = '\0';

    /* "nginx -t" beside a running nginx: the size is checked, no more */
    if (ngx_test_config) {
        *found = NGX_HTTP_COINHUNT_FILE_NEW;

        if (ngx_file_info(ngx_http_coinhunt_zone_path, &fi) == NGX_FILE_ERROR)
        {
            return NGX_OK;
        }

        return ngx_http_coinhunt_zone_file_size(&fi, size, where, log);
    }

    fd = ngx_open_file(ngx_http_coinhunt_zone_path, NGX_FILE_RDWR,
                       NGX_FILE_CREATE_OR_OPEN, 0600);

    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      "%s: cannot open the file \"%s\"", where,
                      ngx_http_coinhunt_zone_path);
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno, "%s: fstat(\"%s\") "
                      "failed", where, ngx_http_coinhunt_zone_path);
        goto failed;
    }

    if (ngx_http_coinhunt_zone_file_size(&fi, size, where, log) != NGX_OK) {
        goto failed;
    }

    if (ngx_http_coinhunt_zone_file_lock(&fd, where, log, found) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_file_size(&fi) == 0 && *found != NGX_HTTP_COINHUNT_FILE_SHARED) {
        if (ftruncate(fd, (off_t) size) == -1) {
            ngx_log_error(NGX_LOG_EMERG, log, ngx_errno, "%s: ftruncate("
                          "\"%s\", %uz) failed", where,
                          ngx_http_coinhunt_zone_path, size);
            goto failed;
        }

        *found = NGX_HTTP_COINHUNT_FILE_NEW;
    }

    if (mmap(addr, size, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_FIXED, fd, 0)
        == MAP_FAILED)
    {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno, "%s: mmap(\"%s\") "
                      "failed", where, ngx_http_coinhunt_zone_path);
        goto failed;
    }

    /*
     * A reload to a zone of another name and file keeps the old file's
     * descriptor, and so its lock, while the old workers may still use it.
     */
    ngx_http_coinhunt_zone_fd = fd;
    ngx_http_coinhunt_zone_addr = addr;
    ngx_http_coinhunt_zone_size = size;

    ngx_log_debug3(NGX_LOG_DEBUG_CORE, log, 0,
                   "coinhunt: zone file \"%s\" mapped at %p, found %ui",
                   ngx_http_coinhunt_zone_path, addr, *found);

    return NGX_OK;

failed:

    (void) ngx_close_file(fd);
    return NGX_ERROR;
}


/* a file that is empty, or of the zone's size */
static ngx_int_t
ngx_http_coinhunt_zone_file_size(ngx_file_info_t *fi, size_t size,
    u_char *where, ngx_log_t *log)
{
    if (ngx_file_size(fi) == 0 || (size_t) ngx_file_size(fi) == size) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_EMERG, log, 0,
                  "%s: the file \"%s\" holds a zone of %O bytes, this "
                  "size makes one of %uz: set the size back, or remove "
                  "the file to start afresh (its sessions are lost)",
                  where, ngx_http_coinhunt_zone_path, ngx_file_size(fi),
                  size);

    return NGX_ERROR;
}


/*
 * The file's lock: taken, or held already through a descriptor this
 * process inherited from the old binary's master (a binary upgrade).
 */
static ngx_int_t
ngx_http_coinhunt_zone_file_lock(ngx_fd_t *fd, u_char *where, ngx_log_t *log,
    ngx_uint_t *found)
{
    ngx_fd_t  old;

    *found = NGX_HTTP_COINHUNT_FILE_KEPT;

    if (flock(*fd, LOCK_EX|LOCK_NB) == 0) {
        return NGX_OK;
    }

    if (ngx_errno == NGX_EAGAIN) {
        old = ngx_http_coinhunt_zone_file_inherited(*fd);

        if (old != NGX_INVALID_FILE) {
            (void) ngx_close_file(*fd);
            *fd = old;
            *found = NGX_HTTP_COINHUNT_FILE_SHARED;
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "%s: the file \"%s\" is in use by another running "
                      "nginx (it holds the file's lock): stop that one, or "
                      "give this one a file of its own", where,
                      ngx_http_coinhunt_zone_path);

    } else {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno, "%s: flock(\"%s\") "
                      "failed", where, ngx_http_coinhunt_zone_path);
    }

    (void) ngx_close_file(*fd);
    return NGX_ERROR;
}


/* a descriptor of the same file whose open file holds the lock, if any */
static ngx_fd_t
ngx_http_coinhunt_zone_file_inherited(ngx_fd_t fd)
{
    DIR              *dir;
    ngx_fd_t          other;
    ngx_int_t         n;
    struct dirent    *de;
    ngx_file_info_t   mine, fi;

    if (ngx_fd_info(fd, &mine) == NGX_FILE_ERROR) {
        return NGX_INVALID_FILE;
    }

    dir = opendir("/proc/self/fd");
    if (dir == NULL) {
        return NGX_INVALID_FILE;
    }

    other = NGX_INVALID_FILE;

    while ((de = readdir(dir)) != NULL) {
        n = ngx_atoi((u_char *) de->d_name, ngx_strlen(de->d_name));

        if (n == NGX_ERROR || (ngx_fd_t) n == fd || n == dirfd(dir)
            || ngx_fd_info((ngx_fd_t) n, &fi) == NGX_FILE_ERROR
            || fi.st_dev != mine.st_dev || fi.st_ino != mine.st_ino)
        {
            continue;
        }

        /* the same open file as the holder's: taking it again succeeds */
        if (flock((ngx_fd_t) n, LOCK_EX|LOCK_NB) == 0) {
            other = (ngx_fd_t) n;
            break;
        }
    }

    (void) closedir(dir);

    return other;
}


/* whether "path" is the file this process mapped (a reload keeps a zone) */
ngx_int_t
ngx_http_coinhunt_zone_file_same(ngx_str_t *path)
{
    if (ngx_http_coinhunt_zone_fd == NGX_INVALID_FILE) {
        return path->len == 0;
    }

    return path->len == ngx_strlen(ngx_http_coinhunt_zone_path)
           && ngx_strncmp(path->data, ngx_http_coinhunt_zone_path, path->len)
              == 0;
}


/*
 * A kept zone's processes are all dead, and a new process may have the
 * pid of one of them: every pid it left in a lock, a journal record or a
 * Redis batch's mark becomes one no process has, so that the usual
 * takeover and journal recovery of dead processes finish their work.
 */
void
ngx_http_coinhunt_zone_file_orphan(ngx_http_coinhunt_shctx_t *sh)
{
    uint32_t                      i;
    ngx_http_coinhunt_journal_t  *j;
    ngx_http_coinhunt_pending_t  *pd;

    ngx_http_coinhunt_zone_file_gone(&sh->hunts_lock);
    ngx_http_coinhunt_zone_file_gone(&sh->journal_lock);
    ngx_http_coinhunt_zone_file_gone(&sh->free_lock);
    ngx_http_coinhunt_zone_file_gone(&sh->retired_lock);
    ngx_http_coinhunt_zone_file_gone(&sh->dirty_lock);

    for (i = 0; i < NGX_HTTP_COINHUNT_INDEX_LOCKS; i++) {
        ngx_http_coinhunt_zone_file_gone(&sh->index_locks[i]);
    }

    for (i = 0; i < NGX_HTTP_COINHUNT_HUNTS_MAX; i++) {
        ngx_http_coinhunt_zone_file_gone(&sh->hunts[i].board_lock);
    }

    j = ngx_http_coinhunt_journals(sh);

    for (i = 0; i < sh->njournals; i++) {
        ngx_http_coinhunt_zone_file_gone(&j[i].owner);
        ngx_http_coinhunt_zone_file_gone(&j[i].repairing);
    }

    pd = ngx_http_coinhunt_pendings(sh);

    for (i = 0; i < sh->capacity; i++) {
        ngx_http_coinhunt_zone_file_gone(&ngx_http_coinhunt_slot(sh, i)->lock);

        /* a mark of 1 is "queued", not a pid */
        if (pd && pd[i].mark > 1) {
            ngx_http_coinhunt_zone_file_gone(&pd[i].mark);
        }
    }
}


static void
ngx_http_coinhunt_zone_file_gone(uint32_t *word)
{
    if (*word) {
        *word |= NGX_HTTP_COINHUNT_PID_GONE;
    }
}


/* in one worker: the file written back every "every" ms */
void
ngx_http_coinhunt_zone_file_sync_start(ngx_log_t *log, ngx_msec_t every)
{
    ngx_event_t  *ev;

    if (ngx_http_coinhunt_zone_fd == NGX_INVALID_FILE || every == 0) {
        return;
    }

    ev = &ngx_http_coinhunt_zone_sync_event;
    ev->handler = ngx_http_coinhunt_zone_file_sync;
    ev->log = log;
    ev->data = (void *) (uintptr_t) every;
    ev->cancelable = 1;

    ngx_add_timer(ev, every);
}


static void
ngx_http_coinhunt_zone_file_sync(ngx_event_t *ev)
{
    /* both start the write-back and return: the worker does not wait */
    if (msync(ngx_http_coinhunt_zone_addr, ngx_http_coinhunt_zone_size,
              MS_ASYNC)
        == -1
        || sync_file_range(ngx_http_coinhunt_zone_fd, 0, 0,
                           SYNC_FILE_RANGE_WRITE)
           == -1)
    {
        ngx_log_error(NGX_LOG_ALERT, ev->log, ngx_errno,
                      "coinhunt: writing the zone file \"%s\" back failed",
                      ngx_http_coinhunt_zone_path);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_CORE, ev->log, 0,
                   "coinhunt: zone file \"%s\" written back",
                   ngx_http_coinhunt_zone_path);

    if (!ngx_exiting) {
        ngx_add_timer(ev, (ngx_msec_t) (uintptr_t) ev->data);
    }
}
