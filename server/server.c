/* `ecrup serve`'s HTTP side on libmicrohttpd (server.h): starting and stopping the daemon, each
 * request's SigV4 check and fault draw around the API handler; GET and HEAD go to the registry
 * API's read path (v2.h). */
#include "server/server.h"

#define TLS_PRIORITIES                                                                             \
    "NORMAL:%SERVER_PRECEDENCE:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:"          \
    "+AES-128-CBC:+AES-256-CBC"

#include "util/file.h"
#include "util/hex.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/api.h"
#include "server/auth.h"
#include "server/faults.h"
#include "server/quotas.h"
#include "server/registry.h"
#include "server/v2.h"

struct server {
    struct MHD_Daemon *daemon;
    struct registry *reg;
    struct srv_auth *auth;
    struct faults faults;
    bool have_faults;
    struct quotas *quotas; /* borrowed (server_config) */
    bool sink;
    char *tmpdir; /* ours to remove */
    char *cert, *key;
    char url[128];
    int listen_fd;
    atomic_bool stopping; /* set by server_stop(): stalled connections give up */
};

/* One request; MHD's con_cls. Touched by the thread serving its connection. */
struct request {
    struct srv_call *call;
    EVP_MD_CTX *body_hash; /* NULL when the body is not hashed */
    bool get;
    struct timespec start;
    uint64_t received;
    uint64_t declared; /* Content-Length, 0 when none */
    enum fault fault;  /* drawn when the headers arrive */
};

static int64_t elapsed_ns(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)(now.tv_sec - since->tv_sec) * 1000000000 + (now.tv_nsec - since->tv_nsec);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static enum MHD_Result queue_reply(struct MHD_Connection *c, struct srv_reply *r)
{
    size_t len = r->body.len;
    char *body = ebuf_take(&r->body);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, body ? body : (char *)"", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/x-amz-json-1.1");
    char rid[37];
    uuid4(rid);
    MHD_add_response_header(resp, "x-amzn-RequestId", rid);
    if (r->error_type)
        MHD_add_response_header(resp, "x-amzn-ErrorType", r->error_type);
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result error_reply(struct MHD_Connection *c, int status, const char *type,
                                   const char *msg)
{
    struct srv_reply r = {0, EBUF_INIT, NULL};
    srv_reply_error(&r, status, type, "%s", msg);
    return queue_reply(c, &r);
}

/* Abort the connection with a TCP reset rather than a clean close. */
static enum MHD_Result reset_connection(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci) {
        struct linger l = {1, 0};
        setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    return MHD_NO;
}

/* The `stall` fault: hold the connection, answering nothing, until the client closes it (its
 * stall detection fired), ten minutes pass or the server stops; then drop it. Blocks the
 * thread serving this connection, which is its own (faults imply thread per connection). */
static enum MHD_Result stall_connection(struct server *s, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    for (int i = 0; ci && i < 6000 && !atomic_load(&s->stopping); i++) {
        struct pollfd p = {.fd = ci->connect_fd, .events = POLLRDHUP};
        int n = poll(&p, 1, 100);
        if (n < 0 && errno != EINTR)
            break;
        if (n > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
            break;
    }
    return reset_connection(c);
}

/* The `hold` fault: stop reading the body for hold=MS while the call keeps what it began (an
 * UploadLayerPart keeps its upload busy, as a service still receiving a part on a black-holed
 * link does), then drop it and reset. Blocks only this connection's own thread. */
static enum MHD_Result hold_connection(struct server *s, struct MHD_Connection *c,
                                       struct request *rq)
{
    srv_call_pin(rq->call);
    for (unsigned waited = 0; waited < s->faults.hold_ms && !atomic_load(&s->stopping);
         waited += 50)
        sleep_ms(50);
    srv_call_drop(rq->call);
    return reset_connection(c);
}

struct header_vec {
    struct sigv4_header h[64];
    size_t n;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    struct header_vec *v = cls;
    if (v->n < sizeof v->h / sizeof v->h[0])
        v->h[v->n++] = (struct sigv4_header){key, value ? value : ""};
    return MHD_YES;
}

/* MHD's access handler: runs on the thread serving the connection (its own, or the one epoll
 * thread in sink mode), once per request chunk. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct server *s = cls;
    struct request *rq = *con_cls;
    if (!rq) {
        if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
            return v2_serve(s->reg, s->url, c, method, url);
        rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        *con_cls = rq;
        clock_gettime(CLOCK_MONOTONIC, &rq->start);
        if (strcmp(method, "POST") != 0 || strcmp(url, "/") != 0) {
            rq->get = true; /* drain the body, answer at the end */
            return MHD_YES;
        }
        const char *target = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Target");
        rq->call = srv_call_begin(s->reg, target);
        if (!rq->call)
            return MHD_NO;
        /* A declared length over the limit is refused before the body is read (MHD then
         * closes the connection rather than drain it). */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        rq->declared = cl ? strtoull(cl, NULL, 10) : 0;
        const char *op = srv_call_operation(rq->call);
        rq->fault = s->have_faults && op[0] ? faults_draw(&s->faults, op) : FAULT_NONE;
        if (cl && strtoull(cl, NULL, 10) > srv_call_body_limit(rq->call)) {
            char msg[160];
            snprintf(msg, sizeof msg, "The request body of %s bytes exceeds the limit of %zu bytes",
                     cl, srv_call_body_limit(rq->call));
            return error_reply(c, 413, "SerializationException", msg);
        }
        bool hash = !(s->sink && !strcmp(srv_call_operation(rq->call), "UploadLayerPart"));
        if (hash) {
            rq->body_hash = EVP_MD_CTX_new();
            if (!rq->body_hash || EVP_DigestInit_ex(rq->body_hash, EVP_sha256(), NULL) != 1)
                return MHD_NO;
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        rq->received += n;
        if (rq->get)
            return MHD_YES;
        if (rq->body_hash)
            EVP_DigestUpdate(rq->body_hash, upload_data, n);
        srv_call_feed(rq->call, upload_data, n);
        if (rq->fault == FAULT_HOLD && rq->received * 2 >= rq->declared)
            return hold_connection(s, c, rq);
        if (s->have_faults && s->faults.bandwidth) {
            /* Hold the connection until the body so far fits the cap. */
            int64_t due = (int64_t)(rq->received * 1000000000ull / s->faults.bandwidth);
            int64_t ahead = due - elapsed_ns(&rq->start);
            if (ahead > 1000000)
                sleep_ms((unsigned)(ahead / 1000000));
        }
        return MHD_YES;
    }
    if (rq->get)
        return error_reply(c, strcmp(method, "POST") ? 405 : 404, "UnknownOperationException",
                           "The ECR API is served by POST /");

    /* The body is complete. */
    char hex[65] = "";
    if (rq->body_hash) {
        uint8_t md[32];
        unsigned mdlen = 0;
        EVP_DigestFinal_ex(rq->body_hash, md, &mdlen);
        hex_encode(md, 32, hex);
    }
    struct srv_reply reply = {0, EBUF_INIT, NULL};
    struct header_vec hv = {.n = 0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &hv);
    if (!srv_auth_check(s->auth, method, url, hv.h, hv.n, rq->body_hash ? hex : NULL, time(NULL),
                        &reply)) {
        srv_call_drop(rq->call);
        return queue_reply(c, &reply);
    }
    char region[64];
    srv_auth_scope_region(hv.h, hv.n, region);
    srv_call_set_region(rq->call, region);

    enum fault f = rq->fault;
    /* After the signature, as ECR counts only the requests it authenticated; before the work. */
    if (f == FAULT_NONE && !quotas_take(s->quotas, srv_call_operation(rq->call)))
        f = FAULT_THROTTLE;
    switch (f) {
    case FAULT_HOLD: /* a body too short to be cut halfway */
        return hold_connection(s, c, rq);
    case FAULT_RESET:
        srv_call_drop(rq->call);
        return reset_connection(c);
    case FAULT_STALL:
        srv_call_drop(rq->call); /* never acted on: the upload is free for the retry */
        return stall_connection(s, c);
    case FAULT_THROTTLE:
        srv_reply_error(&reply, 400, "ThrottlingException", "Rate exceeded");
        break;
    case FAULT_500:
        srv_reply_error(&reply, 500, "ServerException", "Injected server error");
        break;
    case FAULT_503:
        srv_reply_error(&reply, 503, "ServiceUnavailableException", "Service unavailable");
        break;
    default:
        srv_call_finish(rq->call, &reply);
        break;
    }
    /* Before any answer: the client may send its next request (on another connection) before
     * on_completed runs, and must find the upload free and its refused bytes gone. */
    srv_call_drop(rq->call);
    if (f == FAULT_LOST) {
        ebuf_free(&reply.body);
        return reset_connection(c);
    }
    if (s->have_faults && s->faults.delay_ms)
        sleep_ms(s->faults.delay_ms);
    return queue_reply(c, &reply);
}

/* Runs on the thread that served the connection, when MHD is done with the request. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    struct request *rq = *con_cls;
    if (!rq)
        return;
    srv_call_free(rq->call);
    EVP_MD_CTX_free(rq->body_hash);
    free(rq);
    *con_cls = NULL;
}

/* Listen on `listen_at` ("HOST:PORT", NULL for 127.0.0.1:5000); the host part, which the URL
 * names, goes into host[cap]. The listening fd, or -1 with a message in err. */
static int bind_listen(const char *listen_at, struct ebuf *err, int *port_out, char *host,
                       size_t cap)
{
    long port = 5000;
    snprintf(host, cap, "127.0.0.1");
    if (listen_at) {
        const char *colon = strrchr(listen_at, ':');
        size_t hl = colon ? (size_t)(colon - listen_at) : 0;
        char *end = NULL;
        if (colon)
            port = strtol(colon + 1, &end, 10);
        /* No IPv4 address is as long as `cap`: a longer host is refused, not cut. */
        if (!colon || hl == 0 || hl >= cap || !end || *end || port < 0 || port > 65535) {
            ebuf_printf(err, "--listen wants HOST:PORT (an IPv4 address), not '%s'", listen_at);
            return -1;
        }
        memcpy(host, listen_at, hl);
        host[hl] = '\0';
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        ebuf_printf(err, "--listen: '%s' is not an IPv4 address", host);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 128) != 0) {
        ebuf_printf(err, "cannot listen on %s:%ld: %s", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *port_out = ntohs(sa.sin_port);
    return fd;
}

/* A new temporary directory under $TMPDIR (else /tmp), however long that path is; NULL with a
 * message in err. The caller frees the name. */
static char *make_tmpdir(struct ebuf *err)
{
    const char *t = getenv("TMPDIR");
    struct ebuf tmpl = EBUF_INIT;
    ebuf_printf(&tmpl, "%s/ecrup-serve-XXXXXX", t && *t ? t : "/tmp");
    char *dir = ebuf_ok(&tmpl) ? ebuf_take(&tmpl) : NULL;
    ebuf_free(&tmpl);
    if (!dir) {
        ebuf_printf(err, "out of memory");
        return NULL;
    }
    if (!mkdtemp(dir)) {
        ebuf_printf(err, "cannot create a temporary directory in %s: %s", t && *t ? t : "/tmp",
                    strerror(errno));
        free(dir);
        return NULL;
    }
    return dir;
}

/* A certificate or key file, whole. */
static char *slurp(const char *path, struct ebuf *err)
{
    char *data;
    int rc = file_read_all(path, 1u << 20, &data, NULL);
    if (rc < 0) {
        ebuf_printf(err, "cannot read %s: %s", path,
                    rc == -EFBIG ? "larger than 1 MiB" : strerror(-rc));
        return NULL;
    }
    return data;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

/* A repository --repository names, made unless it is there: false, with why in err, when it
 * cannot be (a server without the repository its user asked for must not start quietly). */
static bool make_repository(struct registry *reg, const char *name, struct ebuf *err)
{
    struct srv_reply r = {0, EBUF_INIT, NULL};
    if (!registry_has_repository(reg, name))
        registry_create_repository(reg, name, NULL, NULL, NULL, &r);
    bool ok = r.status == 0 || r.status == 200;
    if (!ok) {
        cJSON *o = cJSON_ParseWithLength(r.body.data, r.body.len);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "message");
        ebuf_printf(err, "cannot create --repository '%s': %s", name,
                    cJSON_IsString(m) ? m->valuestring : "unknown error");
        cJSON_Delete(o);
    }
    ebuf_free(&r.body);
    return ok;
}

struct server *server_start(const struct server_config *cfg, struct ebuf *err)
{
    struct server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->listen_fd = -1;
    s->sink = cfg->sink;
    s->quotas = cfg->quotas;
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
        ebuf_printf(err, "--tls-cert and --tls-key go together");
        goto fail;
    }
    if (cfg->tls_cert && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        ebuf_printf(err, "this libmicrohttpd was built without TLS support");
        goto fail;
    }
    if (cfg->tls_cert) {
        s->cert = slurp(cfg->tls_cert, err);
        s->key = s->cert ? slurp(cfg->tls_key, err) : NULL;
        if (!s->key)
            goto fail;
    }
    if (cfg->faults) {
        if (faults_parse(cfg->faults, &s->faults, err) != 0)
            goto fail;
        s->have_faults = true;
    }
    for (size_t i = 0; i < cfg->n_repositories; i++)
        if (!valid_repository_name(cfg->repositories[i])) {
            ebuf_printf(err, "--repository '%s' is not a valid repository name",
                        cfg->repositories[i]);
            goto fail;
        }
    s->auth = srv_auth_new(cfg->access_key_id, cfg->secret_access_key, cfg->session_token);
    if (!s->auth) {
        ebuf_printf(err, "out of memory");
        goto fail;
    }
    if (cfg->keys_file && srv_auth_load_file(s->auth, cfg->keys_file, err) != 0)
        goto fail;
    int port = 0;
    char host[64];
    s->listen_fd = bind_listen(cfg->listen, err, &port, host, sizeof host);
    if (s->listen_fd < 0)
        goto fail;
    snprintf(s->url, sizeof s->url, "%s://%s:%d", cfg->tls_cert ? "https" : "http", host, port);
    const char *dir = cfg->data_dir;
    if (!dir && !cfg->sink) {
        s->tmpdir = make_tmpdir(err);
        if (!s->tmpdir)
            goto fail;
        dir = s->tmpdir;
    }
    struct registry_config rc = {.data_dir = dir,
                                 .sink = cfg->sink,
                                 .part_size = cfg->part_size,
                                 .base_url = s->url,
                                 .upload_expiry = cfg->upload_expiry};
    s->reg = registry_open(&rc, err);
    if (!s->reg)
        goto fail;
    for (size_t i = 0; i < cfg->n_repositories; i++)
        if (!make_repository(s->reg, cfg->repositories[i], err))
            goto fail;

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    bool single = cfg->sink && !s->have_faults;
    if (single)
        flags |= MHD_USE_EPOLL;
    else
        flags |= MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
    if (cfg->tls_cert)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem opts[12];
    int no = 0;
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, s->listen_fd, NULL};
    /* A big read buffer lets MHD take a part's body in few large recv() calls. MHD maps it per
     * connection and the kernel backs only the pages a request fills, so an idle connection
     * costs a few tens of KiB, not the limit. */
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                         (intptr_t)(single ? 256u << 10 : 1u << 20), NULL};
    /* Slowloris: connections that send nothing for this long are closed, headers or body, and
     * no client address holds more than its share of the connections (each one a thread
     * unless in sink mode). */
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, SERVER_IDLE_TIMEOUT, NULL};
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, SERVER_MAX_CONNECTIONS, NULL};
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                         SERVER_MAX_CONNECTIONS_PER_CLIENT, NULL};
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s};
    if (cfg->tls_cert) {
        opts[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert};
        opts[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->key};
        /* The AWS endpoints choose the cipher by their own order, AES-128-GCM first; GnuTLS
         * follows the client's by default, and OpenSSL clients list AES-256-GCM first, which
         * costs them and this server about an eighth more for every byte. */
        opts[no++] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES};
    }
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, opts,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        ebuf_printf(err, "could not start the HTTP server%s",
                    cfg->tls_cert ? " (check the certificate and key)" : "");
        goto fail;
    }
    s->listen_fd = -1; /* the daemon owns and closes it now */
    return s;
fail:
    server_stop(s);
    return NULL;
}

const char *server_url(const struct server *s)
{
    return s->url;
}

void server_stop(struct server *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, true);
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    registry_free(s->reg);
    srv_auth_free(s->auth);
    if (s->have_faults)
        faults_cleanup(&s->faults);
    if (s->tmpdir) {
        nftw(s->tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(s->tmpdir);
    }
    free(s->cert);
    if (s->key) {
        explicit_bzero(s->key, strlen(s->key));
        free(s->key);
    }
    free(s);
}
