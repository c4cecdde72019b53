/*
 * mhd_constant.c: bench-mhd-constant, libmicrohttpd answering every request
 * with one constant reply, started exactly as forest-serve starts it (the
 * same daemon flags: epoll, an internal polling thread per core, turbo; the
 * same per-connection memory and idle timeout, MAX_HEADER_BYTES and
 * CONNECTION_TIMEOUT_SECONDS' defaults). It is the library's own ceiling
 * on this machine: bench/ceiling.sh puts it between nginx and forest-serve,
 * so the gap to nginx splits into what libmicrohttpd costs and what
 * forest-serve's request path (parsing, validation, the trees, drift,
 * stats, printing) adds.
 *
 *   bench-mhd-constant PORT BODY [THREADS [MEMORY]]
 *
 * It listens on 127.0.0.1 only. BODY is sent with Content-Type:
 * application/json to any request, after its upload, if any, is read and
 * dropped. THREADS 0 (the default) is one per core, as forest-serve's
 * THREADS=0; MEMORY is the connection memory in bytes (16384). Runs until
 * SIGINT or SIGTERM, then exits 0; exits 1 with a message when it cannot
 * start.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

/* Every call for a request: the first sees the headers, the next ones
 * the upload in pieces, the last (upload_data_size 0 after the first)
 * queues the reply. */
static enum MHD_Result answer(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
    static int seen_headers;

    (void)url, (void)method, (void)version, (void)upload_data;
    if (*req_cls == NULL) {
        *req_cls = &seen_headers;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    return MHD_queue_response(c, MHD_HTTP_OK, cls);
}

/* Parses a whole non-negative decimal; returns it, or -1. */
static long parse_count(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);

    return *s == '\0' || *end != '\0' || v < 0 ? -1 : v;
}

int main(int argc, char **argv)
{
    struct MHD_Response *reply = NULL;
    struct MHD_Daemon *d = NULL;
    struct sockaddr_in addr;
    long port, threads = 0, memory = 16384;
    sigset_t stop;
    int sig, rc = 1;

    if (argc < 3 || argc > 5 || (port = parse_count(argv[1])) < 1 ||
        port > 65535 || (argc > 3 && (threads = parse_count(argv[3])) < 0) ||
        (argc > 4 && (memory = parse_count(argv[4])) < 1024)) {
        fprintf(stderr, "usage: bench-mhd-constant PORT BODY [THREADS "
                        "[MEMORY >= 1024]]\n");
        return 1;
    }
    if (threads == 0)
        threads = sysconf(_SC_NPROCESSORS_ONLN) > 0
                      ? sysconf(_SC_NPROCESSORS_ONLN) : 1;
    reply = MHD_create_response_from_buffer(strlen(argv[2]), argv[2],
                                            MHD_RESPMEM_PERSISTENT);
    if (reply == NULL ||
        MHD_add_response_header(reply, "Content-Type", "application/json") !=
            MHD_YES) {
        fprintf(stderr, "bench-mhd-constant: error: cannot build the reply\n");
        goto out;
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* The signals are waited for below, not delivered to any thread. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_INTERNAL_POLLING_THREAD |
                             MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_USE_TURBO,
                         (uint16_t)port, NULL, NULL, answer, reply,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                         MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
                         MHD_OPTION_CONNECTION_TIMEOUT, 15u,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)memory,
                         MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
                         MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "bench-mhd-constant: error: cannot listen on port "
                        "%ld\n", port);
        goto out;
    }
    sigwait(&stop, &sig);
    rc = 0;
out:
    if (d != NULL)
        MHD_stop_daemon(d);
    if (reply != NULL)
        MHD_destroy_response(reply);
    return rc;
}
