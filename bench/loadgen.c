/*
 * loadgen.c -- a small constant-rate (open-loop) HTTP/1.1 load generator for
 * the coinhunt benchmark (bench/run builds it with gcc).
 *
 * Requests are scheduled at fixed intervals (1/RATE s) from the start; each
 * one is sent on an idle keep-alive connection as soon as it is due (if all
 * CONNS connections are busy it waits in line).  Latency is measured from the
 * request's INTENDED send time to the end of its response, so time spent
 * queueing behind a slow response counts (no coordinated omission, unlike a
 * closed loop such as wrk).  Requests of the first WARMUP seconds are sent
 * but not recorded.
 *
 *   loadgen -p PORT -r RATE -d SECONDS [-c CONNS] [-w WARMUP] [-u PATH]
 *           [-m METHOD] [-f TOKENFILE] [-a ADDR]
 *
 * With -f, request i carries "Authorization: Bearer <token i mod n>" (the
 * token file has one token a line), exactly as bench/wrk/tap.lua builds them.
 * With -R, one more connection sends "GET READPATH" (with -T's token as a
 * Bearer) once a second, half a second into each second, and its answers'
 * latencies are kept apart from the taps' (bench/lb-impact).
 * Prints one line:  LOADGEN rate=.. sent=.. recorded=.. achieved=.. errors=..
 *                   non2xx=.. p50=.. p90=.. p99=.. p999=.. max=.. (us)
 *                   [reads=.. read_errors=.. read_p50=.. read_max=..]
 * Only connects to ADDR (default 127.0.0.1).
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF 16384

typedef struct {
    int        fd;
    int        busy;          /* a request is in flight */
    int        connected;
    uint64_t   intended;      /* ns, intended send time of the request */
    int        record;
    int        reader;        /* the once-a-second reader of -R */
    const char *wbuf;
    size_t     wlen, woff;
    char       rbuf[RBUF];
    size_t     rlen;
} conn_t;

static struct sockaddr_in  addr;
static int                 epfd;
static uint64_t           *lat;          /* ns */
static size_t              nlat, errors, non2xx, reconnects;
static uint64_t            last_done;    /* ns, end of the last recorded response */
static uint64_t            rlat[4096];   /* ns, the reader's answers */
static size_t              nrlat, read_errors;

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

static void
die(const char *msg)
{
    perror(msg);
    exit(1);
}

static void
conn_open(conn_t *c)
{
    int one = 1;
    struct epoll_event ev;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        die("socket");
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *) &addr, sizeof(addr)) < 0
        && errno != EINPROGRESS)
    {
        die("connect");
    }
    c->connected = 0;
    c->busy = 0;
    c->rlen = 0;
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;
    ev.data.ptr = c;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        die("epoll_ctl");
    }
}

static void
conn_reset(conn_t *c)
{
    if (c->busy) {
        if (c->reader) {
            read_errors++;
        } else {
            errors++;
        }
    }
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    reconnects++;
    conn_open(c);
}

static void
conn_flush(conn_t *c)
{
    ssize_t n;

    while (c->woff < c->wlen) {
        n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
        if (n < 0) {
            if (errno == EAGAIN) {
                return;
            }
            conn_reset(c);
            return;
        }
        c->woff += (size_t) n;
    }
}

/* returns 1 when a whole response is in rbuf */
static int
response_done(conn_t *c, int *status)
{
    char       *end, *p;
    size_t      hlen;
    long        clen = 0;

    c->rbuf[c->rlen] = '\0';
    end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
    if (end == NULL) {
        return 0;
    }
    hlen = (size_t) (end - c->rbuf) + 4;
    p = strcasestr(c->rbuf, "\r\ncontent-length:");
    if (p && p < end) {
        clen = strtol(p + 17, NULL, 10);
    }
    if (c->rlen < hlen + (size_t) clen) {
        return 0;
    }
    *status = (c->rlen > 12) ? atoi(c->rbuf + 9) : 0;
    return 1;
}

static void
conn_read(conn_t *c)
{
    ssize_t n;
    int     status;

    for ( ;; ) {
        if (c->rlen >= RBUF - 1) {
            conn_reset(c);
            return;
        }
        n = read(c->fd, c->rbuf + c->rlen, RBUF - 1 - c->rlen);
        if (n > 0) {
            c->rlen += (size_t) n;
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            break;
        }
        conn_reset(c);            /* closed by the server or failed */
        return;
    }

    if (c->busy && response_done(c, &status)) {
        uint64_t t = now_ns();
        if (c->reader) {
            if (nrlat < sizeof(rlat) / sizeof(rlat[0])) {
                rlat[nrlat++] = t - c->intended;
            }
            if (status < 200 || status > 299) {
                read_errors++;
            }
        } else if (c->record) {
            lat[nlat++] = t - c->intended;
            last_done = t;
            if (status < 200 || status > 299) {
                non2xx++;
            }
        }
        c->busy = 0;
        c->rlen = 0;
    }
}

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

static double
pct(double p)
{
    size_t i;
    if (nlat == 0) {
        return 0;
    }
    i = (size_t) (p / 100.0 * (double) nlat);
    if (i >= nlat) {
        i = nlat - 1;
    }
    return (double) lat[i] / 1000.0;
}

static char **
load_requests(const char *file, const char *method, const char *path,
    int port, size_t *n)
{
    char    line[4096], **reqs = NULL;
    size_t  cap = 0, len;
    FILE   *f;

    *n = 0;
    if (file == NULL) {
        reqs = malloc(sizeof(char *));
        if (asprintf(&reqs[0], "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     "Content-Length: 0\r\n\r\n", method, path, port) < 0)
        {
            die("asprintf");
        }
        *n = 1;
        return reqs;
    }
    f = fopen(file, "r");
    if (f == NULL) {
        die(file);
    }
    while (fgets(line, sizeof(line), f)) {
        len = strcspn(line, "\r\n");
        line[len] = '\0';
        if (len == 0) {
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 1024;
            reqs = realloc(reqs, cap * sizeof(char *));
        }
        /* the same bytes as wrk.format() makes in bench/wrk/tap.lua */
        if (asprintf(&reqs[*n], "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     "Authorization: Bearer %s\r\nContent-Length: 0\r\n\r\n",
                     method, path, port, line) < 0)
        {
            die("asprintf");
        }
        (*n)++;
    }
    fclose(f);
    if (*n == 0) {
        fprintf(stderr, "loadgen: no tokens in %s\n", file);
        exit(1);
    }
    return reqs;
}

int
main(int argc, char **argv)
{
    const char  *host = "127.0.0.1", *path = "/hunt/tap", *method = "POST";
    const char  *file = NULL, *read_path = NULL, *read_token = "";
    char        *read_req = NULL;
    conn_t       reader;
    size_t       nread = 0, reads;
    double       rate = 0, duration = 0, warmup = 1;
    int          port = 0, nconns = 50, opt, i, nev, idle;
    size_t       nreqs, next = 0, total, warm, inflight = 0;
    uint64_t     t0, interval_ps, due, now, end;
    char       **reqs;
    conn_t      *conns;
    struct epoll_event  evs[256];
    struct timespec     ts;

    while ((opt = getopt(argc, argv, "a:p:r:d:c:w:u:m:f:R:T:")) != -1) {
        switch (opt) {
        case 'a': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'r': rate = atof(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'c': nconns = atoi(optarg); break;
        case 'w': warmup = atof(optarg); break;
        case 'u': path = optarg; break;
        case 'm': method = optarg; break;
        case 'f': file = optarg; break;
        case 'R': read_path = optarg; break;
        case 'T': read_token = optarg; break;
        default:
            fprintf(stderr, "usage: loadgen -p PORT -r RATE -d SECONDS "
                    "[-c CONNS] [-w WARMUP] [-u PATH] [-m METHOD] "
                    "[-f TOKENFILE] [-a ADDR] [-R READPATH [-T TOKEN]]\n");
            return 2;
        }
    }
    if (port <= 0 || rate <= 0 || duration <= 0 || nconns <= 0) {
        fprintf(stderr, "loadgen: -p, -r and -d are required\n");
        return 2;
    }

    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_TIMERSLACK, 1UL);     /* wake up on time, not 50 us late */

    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t) port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "loadgen: bad address %s\n", host);
        return 2;
    }

    reqs = load_requests(file, method, path, port, &nreqs);

    total = (size_t) (rate * (warmup + duration));
    warm = (size_t) (rate * warmup);
    lat = malloc((total + 1) * sizeof(uint64_t));
    conns = calloc((size_t) nconns, sizeof(conn_t));
    if (lat == NULL || conns == NULL) {
        die("malloc");
    }

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        die("epoll_create1");
    }
    for (i = 0; i < nconns; i++) {
        conn_open(&conns[i]);
    }
    memset(&reader, 0, sizeof(reader));
    reads = 0;
    if (read_path) {
        if (asprintf(&read_req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     "Authorization: Bearer %s\r\n\r\n", read_path, port,
                     read_token) < 0)
        {
            die("asprintf");
        }
        reader.reader = 1;
        conn_open(&reader);
        reads = (size_t) (warmup + duration);
    }

    /* wait for the connections, then start the schedule */
    end = now_ns() + 5000000000ull;
    for (idle = 0; idle < nconns + (read_path != NULL) && now_ns() < end; ) {
        nev = epoll_wait(epfd, evs, 256, 100);
        for (i = 0; i < nev; i++) {
            conn_t *c = evs[i].data.ptr;
            if ((evs[i].events & EPOLLOUT) && !c->connected) {
                c->connected = 1;
                idle++;
            }
        }
    }
    if (idle < nconns + (read_path != NULL)) {
        fprintf(stderr, "loadgen: only %d of %d connections up\n",
                idle, nconns);
        return 1;
    }

    interval_ps = (uint64_t) (1e12 / rate);      /* picoseconds: exact */
    t0 = now_ns() + 1000000;

    while (next < total || inflight > 0) {
        now = now_ns();

        /* send everything that is due, on idle connections */
        while (next < total) {
            due = t0 + (uint64_t) ((unsigned __int128) next * interval_ps
                                   / 1000);
            if (due > now) {
                break;
            }
            for (i = 0; i < nconns; i++) {
                if (!conns[i].busy && conns[i].connected) {
                    break;
                }
            }
            if (i == nconns) {
                break;                     /* all busy: it waits in line */
            }
            conn_t *c = &conns[i];
            c->busy = 1;
            c->intended = due;
            c->record = next >= warm;
            c->wbuf = reqs[next % nreqs];
            c->wlen = strlen(c->wbuf);
            c->woff = 0;
            c->rlen = 0;
            next++;
            conn_flush(c);
        }

        /* the reader: one read a second, half a second into it */
        if (nread < reads && !reader.busy && reader.connected
            && now >= t0 + nread * 1000000000ull + 500000000ull)
        {
            reader.busy = 1;
            reader.intended = t0 + nread * 1000000000ull + 500000000ull;
            reader.wbuf = read_req;
            reader.wlen = strlen(read_req);
            reader.woff = 0;
            reader.rlen = 0;
            nread++;
            conn_flush(&reader);
        }

        /* sleep until the next request is due or a response arrives */
        if (next < total) {
            due = t0 + (uint64_t) ((unsigned __int128) next * interval_ps
                                   / 1000);
            if (nread < reads && !reader.busy) {
                due = min_u64(due, t0 + nread * 1000000000ull
                                       + 500000000ull);
            }
            now = now_ns();
            uint64_t gap = due > now ? due - now : 0;
            ts.tv_sec = (time_t) (gap / 1000000000ull);
            ts.tv_nsec = (long) (gap % 1000000000ull);
        } else {
            ts.tv_sec = 0;
            ts.tv_nsec = 10000000;
        }
        nev = epoll_pwait2(epfd, evs, 256, &ts, NULL);
        if (nev < 0 && errno != EINTR) {
            die("epoll_pwait2");
        }
        for (i = 0; i < nev; i++) {
            conn_t *c = evs[i].data.ptr;
            if ((evs[i].events & EPOLLOUT) && !c->connected) {
                c->connected = 1;
            }
            if (evs[i].events & EPOLLOUT) {
                conn_flush(c);
            }
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
                conn_read(c);
            }
        }

        for (inflight = 0, i = 0; i < nconns; i++) {
            inflight += (size_t) conns[i].busy;
        }
        if (next >= total && inflight > 0 && now_ns() > t0
            + (uint64_t) ((warmup + duration) * 1e9) + 10000000000ull)
        {
            errors += inflight;              /* 10 s after the end: give up */
            break;
        }
    }

    qsort(lat, nlat, sizeof(uint64_t), cmp_u64);

    printf("LOADGEN rate=%.0f sent=%zu recorded=%zu achieved=%.0f "
           "errors=%zu non2xx=%zu reconnects=%zu "
           "p50=%.1f p90=%.1f p99=%.1f p999=%.1f max=%.1f\n",
           rate, next, nlat,
           last_done > t0 + (uint64_t) (warmup * 1e9)
               ? (double) nlat * 1e9
                 / (double) (last_done - t0 - (uint64_t) (warmup * 1e9))
               : 0.0,
           errors, non2xx, reconnects,
           pct(50), pct(90), pct(99), pct(99.9),
           nlat ? (double) lat[nlat - 1] / 1000.0 : 0.0);
    if (read_path) {
        qsort(rlat, nrlat, sizeof(uint64_t), cmp_u64);
        printf("LOADGEN_READS sent=%zu reads=%zu read_errors=%zu "
               "read_p50=%.1f read_max=%.1f\n", nread, nrlat, read_errors,
               nrlat ? (double) rlat[nrlat / 2] / 1000.0 : 0.0,
               nrlat ? (double) rlat[nrlat - 1] / 1000.0 : 0.0);
    }
    return 0;
}
