/*
 * tcp_workload.c - deterministic TCP workloads for lightfoot tests.
 *
 * Build: cc -O2 -Wall -Wextra -Werror -o tcp_workload tcp_workload.c
 * (pthreads live in glibc >= 2.34, so no -pthread is needed on Debian 12.)
 *
 * Subcommands:
 *   server          --port P [--bind ADDR] [--max-conns N]
 *   client          --host H --port P --conns K --bytes B [--reply-bytes R]
 *                   [--reset] [--hold-ms M]
 *   pingpong-server --port P [--bind ADDR]
 *   pingpong        --host H --port P --conns C --msg-bytes S --duration-ms D
 * Common options:   --comm NAME (prctl PR_SET_NAME at start, max 15 chars)
 *                   --io-timeout-ms T (SO_RCVTIMEO/SO_SNDTIMEO, default 30000)
 *
 * server/client protocol, per connection:
 *   client -> server : 8-byte big-endian uint64 R, then exactly B payload
 *                      bytes, then FIN (shutdown(SHUT_WR)).
 *   server -> client : after reading to EOF, exactly R bytes, then FIN.
 *   => client sends 8+B bytes and receives R bytes per connection.
 *   With --reset the client waits until its send queue is fully ACKed
 *   (SIOCOUTQ == 0), so the server really receives all 8+B bytes, then
 *   closes with SO_LINGER {1,0} (RST). The server sees ECONNRESET and sends
 *   nothing back: client received 0, server sent 0 on that connection.
 *
 * Output lines (stdout, flushed):
 *   server:   LISTENING <port>
 *             CONN <n> peer=<ip>:<port> received=<bytes> sent=<bytes> status=<ok|reset|error>
 *             SERVER_DONE conns=<n> received=<total> sent=<total>
 *   client:   PLAN conns=<K> per_conn_sent=<8+B> per_conn_reply=<R|0>
 *             DONE conns=<K> sent=<K*(8+B)> received=<K*R or 0 with --reset>
 *   pingpong: RESULT requests=<n> seconds=<s> rps=<r>
 *             CPU client_us=<the client's own CPU time, all threads>
 *             BYTES sent=<n*S> received=<n*S>
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define HDR_LEN 8
#define CHUNK 65536

static volatile sig_atomic_t g_stop = 0;
static int g_io_timeout_ms = 30000;

struct opts {
    const char *host;
    const char *bind_addr;
    const char *comm;
    long port;
    long conns;
    long long bytes;
    long long reply_bytes;
    long max_conns;
    long hold_ms;
    long msg_bytes;
    long duration_ms;
    int reset;
};

static void usage(void)
{
    fprintf(stderr,
            "usage:\n"
            "  tcp_workload server --port P [--bind ADDR] [--max-conns N]\n"
            "  tcp_workload client --host H --port P --conns K --bytes B [--reply-bytes R]\n"
            "                      [--reset] [--hold-ms M]\n"
            "  tcp_workload pingpong-server --port P [--bind ADDR]\n"
            "  tcp_workload pingpong --host H --port P --conns C --msg-bytes S --duration-ms D\n"
            "common: [--comm NAME] [--io-timeout-ms T]\n"
            "client sends 8+B bytes per connection (8-byte big-endian reply size R, then B bytes)\n"
            "and receives exactly R bytes (default R = B).\n");
    exit(2);
}

static void on_term(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term; /* no SA_RESTART: accept()/poll() return EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !g_stop) {
    }
}

static void set_timeouts(int fd)
{
    if (g_io_timeout_ms <= 0)
        return;
    struct timeval tv = { g_io_timeout_ms / 1000, (g_io_timeout_ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* write all; returns 0 or -errno */
static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* read exactly len bytes; returns bytes read (< len on EOF) or -errno */
static long long read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = recv(fd, p + got, len - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (long long)got;
}

static long long parse_ll(const char *s, const char *name)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < 0) {
        fprintf(stderr, "bad value for --%s: %s\n", name, s);
        usage();
    }
    return v;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
    enum { O_PORT = 1, O_BIND, O_HOST, O_CONNS, O_BYTES, O_REPLY, O_RESET, O_HOLD,
           O_MAXC, O_MSG, O_DUR, O_COMM, O_IOTO };
    static const struct option lo[] = {
        { "port", required_argument, 0, O_PORT },
        { "bind", required_argument, 0, O_BIND },
        { "host", required_argument, 0, O_HOST },
        { "conns", required_argument, 0, O_CONNS },
        { "bytes", required_argument, 0, O_BYTES },
        { "reply-bytes", required_argument, 0, O_REPLY },
        { "reset", no_argument, 0, O_RESET },
        { "hold-ms", required_argument, 0, O_HOLD },
        { "max-conns", required_argument, 0, O_MAXC },
        { "msg-bytes", required_argument, 0, O_MSG },
        { "duration-ms", required_argument, 0, O_DUR },
        { "comm", required_argument, 0, O_COMM },
        { "io-timeout-ms", required_argument, 0, O_IOTO },
        { 0, 0, 0, 0 },
    };
    memset(o, 0, sizeof(*o));
    o->port = -1;
    o->conns = -1;
    o->bytes = -1;
    o->reply_bytes = -1;
    o->msg_bytes = -1;
    o->duration_ms = -1;
    o->bind_addr = "127.0.0.1";
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case O_PORT: o->port = parse_ll(optarg, "port"); break;
        case O_BIND: o->bind_addr = optarg; break;
        case O_HOST: o->host = optarg; break;
        case O_CONNS: o->conns = parse_ll(optarg, "conns"); break;
        case O_BYTES: o->bytes = parse_ll(optarg, "bytes"); break;
        case O_REPLY: o->reply_bytes = parse_ll(optarg, "reply-bytes"); break;
        case O_RESET: o->reset = 1; break;
        case O_HOLD: o->hold_ms = parse_ll(optarg, "hold-ms"); break;
        case O_MAXC: o->max_conns = parse_ll(optarg, "max-conns"); break;
        case O_MSG: o->msg_bytes = parse_ll(optarg, "msg-bytes"); break;
        case O_DUR: o->duration_ms = parse_ll(optarg, "duration-ms"); break;
        case O_COMM: o->comm = optarg; break;
        case O_IOTO: g_io_timeout_ms = (int)parse_ll(optarg, "io-timeout-ms"); break;
        default: usage();
        }
    }
    if (optind != argc)
        usage();
    if (o->port > 65535)
        usage();
}

static void apply_comm(const struct opts *o)
{
    if (!o->comm)
        return;
    char name[16];
    snprintf(name, sizeof(name), "%s", o->comm);
    if (prctl(PR_SET_NAME, name, 0, 0, 0) != 0) {
        perror("prctl(PR_SET_NAME)");
        exit(1);
    }
}

/* ------------------------------------------------------------------ */
/* listening socket (IPv4 or IPv6 literal)                             */

static int make_listener(const char *addr, int port, int *bound_port)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    int family;
    if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
        family = AF_INET;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        sl = sizeof(*s4);
    } else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
        family = AF_INET6;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        sl = sizeof(*s6);
    } else {
        fprintf(stderr, "bad --bind address: %s\n", addr);
        exit(2);
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("socket");
        exit(1);
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
        perror("bind");
        exit(1);
    }
    if (listen(fd, 1024) != 0) {
        perror("listen");
        exit(1);
    }
    sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *bound_port = ntohs(family == AF_INET ? s4->sin_port : s6->sin6_port);
    return fd;
}

static void peer_str(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
        port = ntohs(s->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
        port = ntohs(s->sin6_port);
    }
    snprintf(out, outlen, "%s:%d", ip, port);
}

static int connect_to(const char *host, int port)
{
    struct addrinfo hints, *res = NULL, *ai;
    char portstr[16];
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    snprintf(portstr, sizeof(portstr), "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "getaddrinfo(%s): %s\n", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        set_timeouts(fd); /* SO_SNDTIMEO also bounds connect() on Linux */
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        perror("connect");
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* ------------------------------------------------------------------ */
/* server                                                              */

static int cmd_server(const struct opts *o)
{
    if (o->port < 0)
        usage();
    int port;
    int lfd = make_listener(o->bind_addr, (int)o->port, &port);
    printf("LISTENING %d\n", port);
    fflush(stdout);

    static char buf[CHUNK];
    static char out[CHUNK];
    memset(out, 'R', sizeof(out));
    long served = 0;
    long long tot_rx = 0, tot_tx = 0;

    while (!g_stop && (o->max_conns <= 0 || served < o->max_conns)) {
        struct sockaddr_storage peer;
        socklen_t pl = sizeof(peer);
        int fd = accept4(lfd, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            perror("accept");
            break;
        }
        served++;
        set_timeouts(fd);
        char ps[80];
        peer_str(&peer, ps, sizeof(ps));

        const char *status = "ok";
        long long rx = 0, tx = 0;
        unsigned char hdr[HDR_LEN];
        long long n = read_full(fd, hdr, HDR_LEN);
        uint64_t want = 0;
        if (n < 0) {
            status = (n == -ECONNRESET) ? "reset" : "error";
        } else {
            rx += n;
            if (n < HDR_LEN) {
                status = "error"; /* short header: reply nothing */
            } else {
                for (int i = 0; i < HDR_LEN; i++)
                    want = (want << 8) | hdr[i];
                for (;;) {
                    ssize_t r = recv(fd, buf, sizeof(buf), 0);
                    if (r < 0) {
                        if (errno == EINTR)
                            continue;
                        status = (errno == ECONNRESET) ? "reset" : "error";
                        break;
                    }
                    if (r == 0)
                        break;
                    rx += r;
                }
            }
        }
        if (strcmp(status, "ok") == 0) {
            uint64_t left = want;
            while (left > 0) {
                size_t len = left > sizeof(out) ? sizeof(out) : (size_t)left;
                ssize_t w = send(fd, out, len, MSG_NOSIGNAL);
                if (w < 0) {
                    if (errno == EINTR)
                        continue;
                    status = (errno == ECONNRESET || errno == EPIPE) ? "reset" : "error";
                    break;
                }
                left -= (uint64_t)w;
                tx += w;
            }
        }
        close(fd);
        tot_rx += rx;
        tot_tx += tx;
        printf("CONN %ld peer=%s received=%lld sent=%lld status=%s\n", served, ps, rx, tx, status);
        fflush(stdout);
    }
    close(lfd);
    printf("SERVER_DONE conns=%ld received=%lld sent=%lld\n", served, tot_rx, tot_tx);
    fflush(stdout);
    return 0;
}

/* ------------------------------------------------------------------ */
/* client                                                              */

static int wait_send_queue_empty(int fd, int timeout_ms)
{
    double deadline = now_s() + timeout_ms / 1000.0;
    for (;;) {
        int outq = 0;
        if (ioctl(fd, SIOCOUTQ, &outq) != 0)
            return -1;
        if (outq == 0)
            return 0;
        if (now_s() > deadline)
            return -1;
        sleep_ms(1);
    }
}

static int cmd_client(const struct opts *o)
{
    if (!o->host || o->port <= 0 || o->conns < 0 || o->bytes < 0)
        usage();
    long long reply = o->reply_bytes >= 0 ? o->reply_bytes : o->bytes;
    long long per_sent = HDR_LEN + o->bytes;
    printf("PLAN conns=%ld per_conn_sent=%lld per_conn_reply=%lld\n", o->conns, per_sent,
           o->reset ? 0LL : reply);
    fflush(stdout);

    static char buf[CHUNK];
    static char pay[CHUNK];
    for (size_t i = 0; i < sizeof(pay); i++)
        pay[i] = (char)('a' + i % 26);
    long long tot_tx = 0, tot_rx = 0;

    for (long c = 0; c < o->conns; c++) {
        int fd = connect_to(o->host, (int)o->port);
        if (fd < 0) {
            fprintf(stderr, "conn %ld: connect failed\n", c);
            return 1;
        }
        unsigned char hdr[HDR_LEN];
        uint64_t r = (uint64_t)reply;
        for (int i = HDR_LEN - 1; i >= 0; i--) {
            hdr[i] = (unsigned char)(r & 0xff);
            r >>= 8;
        }
        int e = write_all(fd, hdr, HDR_LEN);
        long long left = o->bytes;
        while (e == 0 && left > 0) {
            size_t len = left > (long long)sizeof(pay) ? sizeof(pay) : (size_t)left;
            e = write_all(fd, pay, len);
            left -= (long long)len;
        }
        if (e != 0) {
            fprintf(stderr, "conn %ld: send: %s\n", c, strerror(-e));
            return 1;
        }
        tot_tx += per_sent;

        if (o->reset) {
            /* make the RST deterministic: all data ACKed by the peer first */
            if (wait_send_queue_empty(fd, g_io_timeout_ms) != 0) {
                fprintf(stderr, "conn %ld: send queue did not drain\n", c);
                return 1;
            }
            if (o->hold_ms > 0)
                sleep_ms(o->hold_ms);
            struct linger lg = { 1, 0 };
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            close(fd);
            continue;
        }

        if (shutdown(fd, SHUT_WR) != 0) {
            perror("shutdown");
            return 1;
        }
        long long got = 0;
        for (;;) {
            ssize_t n = recv(fd, buf, sizeof(buf), 0);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                fprintf(stderr, "conn %ld: recv: %s\n", c, strerror(errno));
                return 1;
            }
            if (n == 0)
                break;
            got += n;
        }
        if (got != reply) {
            fprintf(stderr, "conn %ld: expected %lld reply bytes, got %lld\n", c, reply, got);
            return 1;
        }
        tot_rx += got;
        if (o->hold_ms > 0)
            sleep_ms(o->hold_ms);
        close(fd);
    }
    printf("DONE conns=%ld sent=%lld received=%lld\n", o->conns, tot_tx, tot_rx);
    fflush(stdout);
    return 0;
}

/* ------------------------------------------------------------------ */
/* pingpong                                                            */

static int cmd_pingpong_server(const struct opts *o)
{
    if (o->port < 0)
        usage();
    int port;
    int lfd = make_listener(o->bind_addr, (int)o->port, &port);
    fcntl(lfd, F_SETFL, O_NONBLOCK);
    printf("LISTENING %d\n", port);
    fflush(stdout);

    size_t cap = 64, n = 1;
    struct pollfd *pfd = calloc(cap, sizeof(*pfd));
    if (!pfd)
        return 1;
    pfd[0].fd = lfd;
    pfd[0].events = POLLIN;
    static char buf[CHUNK];

    while (!g_stop) {
        int rc = poll(pfd, n, -1);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            perror("poll");
            break;
        }
        if (pfd[0].revents & POLLIN) {
            for (;;) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                    break;
                set_nodelay(fd);
                set_timeouts(fd);
                if (n == cap) {
                    cap *= 2;
                    struct pollfd *np = realloc(pfd, cap * sizeof(*pfd));
                    if (!np) {
                        close(fd);
                        break;
                    }
                    pfd = np;
                }
                pfd[n].fd = fd;
                pfd[n].events = POLLIN;
                pfd[n].revents = 0;
                n++;
            }
        }
        for (size_t i = 1; i < n; i++) {
            if (!pfd[i].revents)
                continue;
            int closeit = 0;
            ssize_t r = recv(pfd[i].fd, buf, sizeof(buf), 0);
            if (r <= 0) {
                if (!(r < 0 && errno == EINTR))
                    closeit = 1;
            } else if (write_all(pfd[i].fd, buf, (size_t)r) != 0) {
                closeit = 1;
            }
            if (closeit) {
                close(pfd[i].fd);
                pfd[i] = pfd[n - 1];
                n--;
                i--;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        close(pfd[i].fd);
    free(pfd);
    return 0;
}

struct pp_thread {
    pthread_t th;
    int fd;
    long msg;
    double deadline;
    long long requests;
    int failed;
};

static void *pp_run(void *arg)
{
    struct pp_thread *t = arg;
    char *sbuf = malloc((size_t)t->msg);
    char *rbuf = malloc((size_t)t->msg);
    if (!sbuf || !rbuf) {
        t->failed = 1;
        free(sbuf);
        free(rbuf);
        return NULL;
    }
    memset(sbuf, 'p', (size_t)t->msg);
    while (!g_stop && now_s() < t->deadline) {
        if (write_all(t->fd, sbuf, (size_t)t->msg) != 0) {
            t->failed = 1;
            break;
        }
        if (read_full(t->fd, rbuf, (size_t)t->msg) != t->msg) {
            t->failed = 1;
            break;
        }
        t->requests++;
    }
    free(sbuf);
    free(rbuf);
    return NULL;
}

static int cmd_pingpong(const struct opts *o)
{
    if (!o->host || o->port <= 0 || o->conns <= 0 || o->msg_bytes <= 0 || o->duration_ms < 0)
        usage();
    struct pp_thread *t = calloc((size_t)o->conns, sizeof(*t));
    if (!t)
        return 1;
    for (long i = 0; i < o->conns; i++) {
        t[i].fd = connect_to(o->host, (int)o->port);
        if (t[i].fd < 0) {
            fprintf(stderr, "pingpong: connect %ld failed\n", i);
            return 1;
        }
        set_nodelay(t[i].fd);
        t[i].msg = o->msg_bytes;
    }
    double start = now_s();
    double deadline = start + o->duration_ms / 1000.0;
    /* threads inherit the comm set by --comm at creation time */
    for (long i = 0; i < o->conns; i++) {
        t[i].deadline = deadline;
        if (pthread_create(&t[i].th, NULL, pp_run, &t[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }
    long long total = 0;
    int failed = 0;
    for (long i = 0; i < o->conns; i++) {
        pthread_join(t[i].th, NULL);
        total += t[i].requests;
        failed |= t[i].failed;
    }
    double secs = now_s() - start;
    for (long i = 0; i < o->conns; i++)
        close(t[i].fd);
    free(t);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long long cpu_us = (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
    printf("RESULT requests=%lld seconds=%.3f rps=%.1f\n", total, secs, secs > 0 ? total / secs : 0.0);
    printf("CPU client_us=%lld\n", cpu_us);
    printf("BYTES sent=%lld received=%lld\n", total * o->msg_bytes, total * o->msg_bytes);
    fflush(stdout);
    if (failed) {
        fprintf(stderr, "pingpong: a connection failed\n");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    const char *cmd = argv[1];
    struct opts o;
    parse_opts(argc - 1, argv + 1, &o);
    apply_comm(&o);
    install_signals();
    if (strcmp(cmd, "server") == 0)
        return cmd_server(&o);
    if (strcmp(cmd, "client") == 0)
        return cmd_client(&o);
    if (strcmp(cmd, "pingpong-server") == 0)
        return cmd_pingpong_server(&o);
    if (strcmp(cmd, "pingpong") == 0)
        return cmd_pingpong(&o);
    usage();
    return 2;
}
