/*
 * server.h: the HTTP side of forest-serve, on GNU libmicrohttpd.
 *
 * MHD parses HTTP and runs a pool of THREADS threads, each with its own
 * epoll set; a request is answered entirely on the thread that read it.
 * Bodies are collected into a buffer that belongs to the connection and is
 * reused by its next request, then handed to handlers_dispatch().
 */
#ifndef FS_SERVER_H
#define FS_SERVER_H

#include <stdatomic.h>
#include <stddef.h>

#include "error.h"
#include "handlers.h"

struct server_config {
    const char *host;          /* address to listen on: IPv4, IPv6 or name */
    unsigned port;             /* 0 = any free port (see server_port) */
    unsigned threads;          /* MHD's thread pool; 0 = one per core */
    size_t max_body;           /* bytes; larger bodies get 413 */
    size_t max_body_memory;    /* bytes all request bodies may hold at
                                  once; >= max_body + 1 */
    unsigned max_connections;  /* open connections at once */
    unsigned timeout;          /* seconds a connection may stay idle */
    size_t header_memory;      /* bytes per connection for the request line
                                  and headers (MHD's memory limit) */
    int log_requests;          /* a log line per request (LOG_LEVEL=debug) */
};

struct MHD_Daemon;

struct server {
    struct MHD_Daemon *daemon;
    struct app *app;
    struct server_config cfg;
    unsigned port;      /* the port bound */
    int quiesced_fd;    /* listening socket after server_quiesce, or -1 */
    atomic_int trim_due; /* body memory passed BODY_TRIM_AFTER since the
                            budget was last empty */
    atomic_long connections; /* open now, for MAX_CONNECTIONS */
};

/* Binds and starts serving. Returns 0, or -1 with err set (bad HOST,
 * port in use, ...). */
int server_start(struct server *s, struct app *app,
                 const struct server_config *cfg, struct fr_error *err);

/* Stops accepting new connections; open ones keep being served. */
void server_quiesce(struct server *s);

/* Closes every connection and joins the threads. Safe to call once after
 * server_start succeeded. */
void server_stop(struct server *s);

#endif
