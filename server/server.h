/* `ecrup serve`: the HTTP side of the local ECR endpoint, on libmicrohttpd.
 *
 * POST / carries the ECR API (api.h) after SigV4 checking (auth.h) and fault injection
 * (faults.h); GET and HEAD under /v2/ are the registry API's read path (v2.h), the layers
 * GetDownloadUrlForLayer points at included. In sink mode without faults one epoll thread serves
 * every connection (at most one core); otherwise each connection has its thread. */
#ifndef ECRUP_SERVER_SERVER_H
#define ECRUP_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* What one client can hold (docs/server.md, "Connections"): seconds a connection may send
 * nothing (while its headers or its body arrive) before it is closed; connections in all, and
 * from one client address. */
#define SERVER_IDLE_TIMEOUT               30
#define SERVER_MAX_CONNECTIONS            512
#define SERVER_MAX_CONNECTIONS_PER_CLIENT 128

struct server_config {
    const char *listen;   /* "HOST:PORT"; NULL = 127.0.0.1:5000; port 0 picks a free one */
    const char *data_dir; /* NULL: a temporary directory removed by server_stop() */
    bool sink;            /* keep nothing (see docs/server.md) */
    const char *faults;   /* SPEC (faults.h) or NULL */
    const char *tls_cert; /* PEM files for HTTPS, both or neither */
    const char *tls_key;
    uint64_t part_size;              /* 0 = 10485760 */
    uint32_t upload_expiry;          /* idle seconds before an upload is dropped; 0 = 24 h */
    const char *const *repositories; /* created at start when missing */
    size_t n_repositories;
    const char *access_key_id; /* the accepted key pair (copied); NULL: only keys_file */
    const char *secret_access_key;
    const char *session_token; /* NULL when none */
    const char *keys_file;     /* more accepted pairs, read at start (auth.h); NULL: none */
    struct quotas *quotas;     /* request quotas (quotas.h), borrowed until server_stop();
                                  NULL: nothing is throttled */
};

struct server;
struct quotas;

/* Bind, load the data directory and start serving. NULL with a message in err. */
struct server *server_start(const struct server_config *cfg, struct ebuf *err);
/* "http://127.0.0.1:PORT" (https with TLS), the actual port. Borrowed. */
const char *server_url(const struct server *s);
/* Stop serving, wait for requests in flight, free everything (the temporary data directory
 * included). NULL is a no-op. */
void server_stop(struct server *s);

#endif
