/*
 * LD_PRELOAD shim for t/031-heap-preload.t: counts every heap allocation a
 * process makes, through libc's malloc family and jemalloc's mallocx
 * family.  SIGRTMIN+9 writes "libc N jemalloc M" to $MALLOC_COUNT_FILE.PID,
 * the path taken from the environment at load (nginx's workers get none).
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);


static volatile unsigned long  libc_allocs, jemalloc_allocs;
static char                    path[512];


static char *
put_number(char *p, unsigned long n)
{
    char  digits[32], *d;

    d = digits;

    do {
        *d++ = (char) ('0' + n % 10);
        n /= 10;
    } while (n);

    while (d > digits) {
        *p++ = *--d;
    }

    return p;
}


static void
report(int signo)
{
    int    fd, err;
    char   name[600], line[100], *p;
    pid_t  pid;

    (void) signo;
    err = errno;

    p = name;
    memcpy(p, path, strlen(path));
    p += strlen(path);
    *p++ = '.';
    pid = getpid();
    p = put_number(p, (unsigned long) pid);
    *p = '\0';

    p = line;
    memcpy(p, "libc ", 5);
    p = put_number(p + 5, libc_allocs);
    memcpy(p, " jemalloc ", 10);
    p = put_number(p + 10, jemalloc_allocs);
    *p++ = '\n';

    fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd != -1) {
        (void) write(fd, line, p - line);
        (void) close(fd);
    }

    errno = err;
}


__attribute__((constructor))
static void
init(void)
{
    struct sigaction  sa;
    const char       *file;

    file = getenv("MALLOC_COUNT_FILE");
    if (file == NULL || strlen(file) >= sizeof(path)) {
        return;
    }

    strcpy(path, file);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = report;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    (void) sigaction(SIGRTMIN + 9, &sa, NULL);
}


void *
malloc(size_t size)
{
    libc_allocs++;
    return __libc_malloc(size);
}


void *
calloc(size_t n, size_t size)
{
    libc_allocs++;
    return __libc_calloc(n, size);
}


void *
realloc(void *p, size_t size)
{
    libc_allocs++;
    return __libc_realloc(p, size);
}


void *
memalign(size_t align, size_t size)
{
    libc_allocs++;
    return __libc_memalign(align, size);
}


void *
aligned_alloc(size_t align, size_t size)
{
    libc_allocs++;
    return __libc_memalign(align, size);
}


int
posix_memalign(void **out, size_t align, size_t size)
{
    void  *p;

    libc_allocs++;

    p = __libc_memalign(align, size);
    if (p == NULL) {
        return ENOMEM;
    }

    *out = p;

    return 0;
}


/* jemalloc's own entry points, for the module's arena in the jemalloc build */

void *
mallocx(size_t size, int flags)
{
    static void  *(*real)(size_t, int);

    if (real == NULL) {
        real = (void *(*)(size_t, int)) dlsym(RTLD_NEXT, "mallocx");
    }

    jemalloc_allocs++;
    return real(size, flags);
}


void *
rallocx(void *p, size_t size, int flags)
{
    static void  *(*real)(void *, size_t, int);

    if (real == NULL) {
        real = (void *(*)(void *, size_t, int)) dlsym(RTLD_NEXT, "rallocx");
    }

    jemalloc_allocs++;
    return real(p, size, flags);
}
