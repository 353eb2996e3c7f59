/* The credential provider chain and its cache. See credentials.h for the order and the
 * thread rules, docs/credentials.md for the choices. */
#include "signer/credentials.h"

#include "util/civil.h"
#include "util/json.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define DEFAULT_REFRESH_AHEAD 300
#define DEFAULT_CONNECT_MS    1000L
#define DEFAULT_TIMEOUT_MS    3000L
#define MAX_HTTP_BODY         (64 * 1024)
#define MAX_PROCESS_STDOUT    (1024 * 1024)
#define MAX_PROCESS_STDERR    512
#define REFRESH_RETRY_SECONDS 5
#define IMDS_TOKEN_TTL        "21600"
#define CONTAINER_HOST        "http://169.254.170.2"
#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"

/* The public view plus the reference count; one allocation holds the strings too. */
struct snapshot_impl {
    struct cred_snapshot pub; /* first: the public pointer is this struct's address */
    atomic_int refs;
    size_t size; /* of the whole allocation, to wipe it */
};

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void wipe_ebuf(struct ebuf *b)
{
    if (b->data)
        explicit_bzero(b->data, b->cap);
    ebuf_free(b);
}

static struct cred_snapshot *snapshot_new(const char *akid, const char *secret, const char *token,
                                          time_t expiration, const char *provider)
{
    size_t la = strlen(akid) + 1, ls = strlen(secret) + 1, lt = token ? strlen(token) + 1 : 0;
    size_t lp = strlen(provider) + 1;
    size_t size = sizeof(struct snapshot_impl) + la + ls + lt + lp;
    struct snapshot_impl *s = malloc(size);
    if (!s)
        return NULL;
    char *p = (char *)(s + 1);
    s->pub.access_key_id = memcpy(p, akid, la);
    p += la;
    s->pub.secret_access_key = memcpy(p, secret, ls);
    p += ls;
    s->pub.session_token = token ? memcpy(p, token, lt) : NULL;
    p += lt;
    s->pub.provider = memcpy(p, provider, lp);
    s->pub.expiration = expiration;
    atomic_init(&s->refs, 1);
    s->size = size;
    return &s->pub;
}

struct sigv4_credentials cred_snapshot_sigv4(const struct cred_snapshot *snap)
{
    return (struct sigv4_credentials){.access_key_id = snap->access_key_id,
                                      .secret_access_key = snap->secret_access_key,
                                      .session_token = snap->session_token};
}

void cred_snapshot_retain(const struct cred_snapshot *snap)
{
    struct snapshot_impl *s = (struct snapshot_impl *)(uintptr_t)snap;
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void cred_snapshot_release(const struct cred_snapshot *snap)
{
    if (!snap)
        return;
    struct snapshot_impl *s = (struct snapshot_impl *)(uintptr_t)snap;
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
        explicit_bzero(s, s->size);
        free(s);
    }
}

/* ---- time ---- */

bool cred_parse_time(const char *s, time_t *out)
{
    int y, mo, d, h, mi, sec;
    if (!s || strlen(s) < 19 || !civil_digits(s, 4, &y) || s[4] != '-' ||
        !civil_digits(s + 5, 2, &mo) || s[7] != '-' || !civil_digits(s + 8, 2, &d) ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !civil_digits(s + 11, 2, &h) ||
        s[13] != ':' || !civil_digits(s + 14, 2, &mi) || s[16] != ':' ||
        !civil_digits(s + 17, 2, &sec))
        return false;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!civil_digits(p + 1, 2, &oh) || p[3] != ':' || !civil_digits(p + 4, 2, &om) ||
            oh > 23 || om > 59)
            return false;
        offset = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    if (*p)
        return false;
    time_t t;
    if (!civil_to_unix(y, mo, d, h, mi, sec, &t))
        return false;
    *out = t - offset;
    return true;
}

/* ---- JSON credentials, as the process, container and IMDS providers return them ---- */

/* Build a snapshot from a parsed reply. `token_field` is "SessionToken" for processes and
 * "Token" for the metadata services. `who` names the source in messages. */
static struct cred_snapshot *snapshot_from_json(const cJSON *root, const char *token_field,
                                                bool expiration_required, const char *provider,
                                                const char *who, struct ebuf *err)
{
    const char *akid = json_string(root, "AccessKeyId");
    const char *secret = json_string(root, "SecretAccessKey");
    const char *token = json_string(root, token_field);
    const char *exp = json_string(root, "Expiration");
    if (!akid || !*akid || !secret || !*secret) {
        ebuf_printf(err, "%s: the reply lacks %s", who,
                    !akid || !*akid ? "AccessKeyId" : "SecretAccessKey");
        return NULL;
    }
    time_t expiration = 0;
    if (exp && !cred_parse_time(exp, &expiration)) {
        ebuf_printf(err, "%s: Expiration \"%.40s\" is not an ISO 8601 time", who, exp);
        return NULL;
    }
    if (!exp && expiration_required) {
        ebuf_printf(err, "%s: the reply lacks Expiration", who);
        return NULL;
    }
    struct cred_snapshot *snap =
        snapshot_new(akid, secret, token && *token ? token : NULL, expiration, provider);
    if (!snap)
        ebuf_printf(err, "%s: out of memory", who);
    return snap;
}

/* ---- HTTP (container and IMDS) ---- */

struct http_call {
    const char *method; /* "GET" or "PUT" */
    const char *url;
    const char *headers[3]; /* NULL-terminated "Name: value" lines */
    long connect_ms, timeout_ms;
};

static size_t collect(char *ptr, size_t size, size_t nmemb, void *user)
{
    struct ebuf *b = user;
    size_t n = size * nmemb;
    if (b->len + n > MAX_HTTP_BODY)
        return 0; /* abort the transfer: no credential reply is this large */
    ebuf_append(b, ptr, n);
    return ebuf_ok(b) ? n : 0;
}

/* The host of `url` for messages (never its path or query, which may carry ids). */
static void url_host(const char *url, char *out, size_t cap)
{
    snprintf(out, cap, "?");
    CURLU *u = curl_url();
    char *host = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
        snprintf(out, cap, "%s", host);
    curl_free(host);
    curl_url_cleanup(u);
}

/* One request. Returns 0 with *status and the body, or -1 with a transport error in `err`. */
static int http_do(const struct http_call *call, long *status, struct ebuf *body, struct ebuf *err)
{
    CURL *h = curl_easy_init();
    if (!h) {
        ebuf_puts(err, "cannot create an HTTP handle");
        return -1;
    }
    struct curl_slist *hdrs = NULL;
    for (int i = 0; i < 3 && call->headers[i]; i++) {
        struct curl_slist *n = curl_slist_append(hdrs, call->headers[i]);
        if (!n) {
            curl_slist_free_all(hdrs);
            curl_easy_cleanup(h);
            ebuf_puts(err, "out of memory");
            return -1;
        }
        hdrs = n;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, call->url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call->method);
    if (strcmp(call->method, "PUT") == 0) {
        /* An empty PUT: no upload callback, just the verb. */
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    /* Metadata endpoints are link-local or loopback: a proxy must never see the tokens. */
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, call->connect_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, call->timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
        ebuf_puts(err, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

/* http_do with one retry after a transport error or a 5xx: metadata services blip. */
static int http_do_retry(const struct http_call *call, long *status, struct ebuf *body,
                         struct ebuf *err)
{
    for (int attempt = 0;; attempt++) {
        ebuf_reset(err);
        wipe_ebuf(body);
        *status = 0;
        int rc = http_do(call, status, body, err);
        if (attempt == 1 || (rc == 0 && *status < 500))
            return rc;
    }
}

/* ---- the chain ---- */

struct chain {
    const struct cred_config *cfg;
    struct ebuf tried; /* "; "-separated notes of providers that were not configured */
    long connect_ms, timeout_ms;
};

static const char *env(const struct chain *c, const char *name)
{
    const char *v = env_get(c->cfg->env, name);
    return v && *v ? v : NULL;
}

static void note(struct chain *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct chain *c, const char *fmt, ...)
{
    if (c->tried.len)
        ebuf_puts(&c->tried, "; ");
    va_list ap;
    va_start(ap, fmt);
    ebuf_vprintf(&c->tried, fmt, ap);
    va_end(ap);
}

/* Each provider returns 1 with *out set, 0 when it is not configured (noted in c->tried), or
 * -1 with its error in `err`. */

static int from_explicit(struct chain *c, struct cred_snapshot **out, struct ebuf *err)
{
    const struct cred_config *cfg = c->cfg;
    bool a = cfg->access_key_id && *cfg->access_key_id;
    bool s = cfg->secret_access_key && *cfg->secret_access_key;
    if (!a && !s) {
        note(c, "explicit: none given");
        return 0;
    }
    if (!a || !s) {
        ebuf_printf(err, "explicit credentials: %s given without %s",
                    a ? "an access key id" : "a secret access key",
                    a ? "a secret access key" : "an access key id");
        return -1;
    }
    *out = snapshot_new(cfg->access_key_id, cfg->secret_access_key,
                        cfg->session_token && *cfg->session_token ? cfg->session_token : NULL, 0,
                        "explicit");
    return *out ? 1 : -1;
}

static int from_env(struct chain *c, struct cred_snapshot **out, struct ebuf *err)
{
    const char *a = env(c, "AWS_ACCESS_KEY_ID"), *s = env(c, "AWS_SECRET_ACCESS_KEY");
    if (!a && !s) {
        note(c, "environment: AWS_ACCESS_KEY_ID unset");
        return 0;
    }
    if (!a || !s) {
        ebuf_printf(err, "environment: %s is set but %s is not",
                    a ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                    a ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
        return -1;
    }
    *out = snapshot_new(a, s, env(c, "AWS_SESSION_TOKEN"), 0, "env");
    return *out ? 1 : -1;
}

/* Read a pipe pair until both close; stdout capped (over the cap is an error), stderr kept to
 * its first MAX_PROCESS_STDERR bytes. */
static int drain(int out_fd, int err_fd, struct ebuf *out, struct ebuf *errout)
{
    struct pollfd fds[2] = {{.fd = out_fd, .events = POLLIN}, {.fd = err_fd, .events = POLLIN}};
    int open_fds = 2, rc = 0;
    char buf[4096];
    while (open_fds) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                fds[i].fd = -1;
                open_fds--;
                continue;
            }
            if (i == 0) {
                if (out->len + (size_t)n > MAX_PROCESS_STDOUT)
                    rc = -1;
                else
                    ebuf_append(out, buf, (size_t)n);
            } else if (errout->len < MAX_PROCESS_STDERR) {
                size_t room = MAX_PROCESS_STDERR - errout->len;
                ebuf_append(errout, buf, (size_t)n < room ? (size_t)n : room);
            }
        }
    }
    explicit_bzero(buf, sizeof buf);
    return rc;
}

/* Run `command` with /bin/sh -c; 0 with its exit status, -1 when it could not run. */
static int run_process(const char *command, int *status, struct ebuf *out, struct ebuf *errout)
{
    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(pe, O_CLOEXEC) != 0) {
        close(po[0]);
        close(po[1]);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    char *argv[] = {"sh", "-c", (char *)(uintptr_t)command, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(pe[1]);
    if (rc != 0) {
        close(po[0]);
        close(pe[0]);
        errno = rc;
        return -1;
    }
    int drained = drain(po[0], pe[0], out, errout);
    close(po[0]);
    close(pe[0]);
    int ws;
    while (waitpid(pid, &ws, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
    if (drained != 0) {
        ebuf_reset(errout);
        ebuf_puts(errout, "its output exceeds 1 MiB");
        *status = *status ? *status : 1;
    }
    return 0;
}

/* Trim trailing whitespace and keep printable ASCII only: a process's stderr goes into our
 * message, and must not bring terminal escapes along. */
static void sanitize(struct ebuf *b)
{
    if (!b->data)
        return;
    size_t n = b->len;
    while (n && (b->data[n - 1] == '\n' || b->data[n - 1] == '\r' || b->data[n - 1] == ' ' ||
                 b->data[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)b->data[i];
        if (ch == '\n' || ch == '\t')
            b->data[i] = ' ';
        else if (ch < 0x20 || ch > 0x7e)
            b->data[i] = '?';
    }
    b->data[n] = '\0';
    b->len = n;
}

static int from_process(const char *profile, const char *command, struct cred_snapshot **out,
                        struct ebuf *err)
{
    struct ebuf so = EBUF_INIT, se = EBUF_INIT;
    int status = 0, rc = -1;
    char who[200];
    snprintf(who, sizeof who, "credential_process of profile \"%.100s\"", profile);
    if (run_process(command, &status, &so, &se) != 0) {
        ebuf_printf(err, "%s: cannot run /bin/sh: %s", who, strerror(errno));
        goto done;
    }
    if (status != 0) {
        sanitize(&se);
        ebuf_printf(err, "%s exited with status %d%s%s", who, status, se.len ? ": " : "",
                    ebuf_str(&se));
        goto done;
    }
    cJSON *root = cJSON_ParseWithLength(ebuf_str(&so), so.len);
    if (!cJSON_IsObject(root)) {
        ebuf_printf(err, "%s: its output is not a JSON object", who);
    } else {
        const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "Version");
        if (!cJSON_IsNumber(ver) || ver->valuedouble != 1.0)
            ebuf_printf(err, "%s: \"Version\" must be 1", who);
        else if ((*out = snapshot_from_json(root, "SessionToken", false, "process", who, err)))
            rc = 1;
    }
    if (root) {
        /* The parsed strings hold the secret too. */
        for (cJSON *it = root->child; it; it = it->next)
            if (cJSON_IsString(it) && it->valuestring)
                explicit_bzero(it->valuestring, strlen(it->valuestring));
        cJSON_Delete(root);
    }
done:
    wipe_ebuf(&so);
    ebuf_free(&se);
    return rc;
}

static int from_profile(struct chain *c, struct cred_snapshot **out, struct ebuf *err)
{
    char *cfg_path = profile_config_path(c->cfg->env);
    char *cred_path = profile_credentials_path(c->cfg->env);
    const char *name = profile_name(c->cfg->env, c->cfg->profile);
    bool named = (c->cfg->profile && *c->cfg->profile) || env(c, "AWS_PROFILE");
    int rc = -1;
    /* Re-read on every walk: `aws configure` or an SSO login may have rewritten the files. */
    struct profile_set *set = profile_load(cfg_path, cred_path, err);
    if (!set)
        goto done;
    if (!profile_exists(set, name)) {
        if (named) {
            ebuf_printf(err, "profile \"%s\" is not defined in %s or %s", name,
                        cfg_path ? cfg_path : "(no config file)",
                        cred_path ? cred_path : "(no credentials file)");
            goto done;
        }
        note(c, "profile \"%s\": not in %s or %s", name, cfg_path ? cfg_path : "(no HOME)",
             cred_path ? cred_path : "(no HOME)");
        rc = 0;
        goto done;
    }
    const char *a = profile_get(set, name, "aws_access_key_id");
    const char *s = profile_get(set, name, "aws_secret_access_key");
    if ((a && *a) || (s && *s)) {
        if (!a || !*a || !s || !*s) {
            ebuf_printf(err, "profile \"%s\": %s is set but %s is not", name,
                        a && *a ? "aws_access_key_id" : "aws_secret_access_key",
                        a && *a ? "aws_secret_access_key" : "aws_access_key_id");
            goto done;
        }
        const char *t = profile_get(set, name, "aws_session_token");
        *out = snapshot_new(a, s, t && *t ? t : NULL, 0, "profile");
        rc = *out ? 1 : -1;
        goto done;
    }
    const char *process = profile_get(set, name, "credential_process");
    if (process && *process) {
        rc = from_process(name, process, out, err);
        goto done;
    }
    static const char *const unsupported[] = {"role_arn", "sso_session", "sso_start_url",
                                              "web_identity_token_file", "login_session"};
    for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++) {
        if (profile_get(set, name, unsupported[i])) {
            ebuf_printf(err,
                        "profile \"%s\" uses %s, which ecrup does not support; export "
                        "credentials (for example with `aws configure export-credentials`)",
                        name, unsupported[i]);
            goto done;
        }
    }
    note(c, "profile \"%s\": no aws_access_key_id or credential_process", name);
    rc = 0;
done:
    profile_set_free(set);
    free(cfg_path);
    free(cred_path);
    return rc;
}

/* AWS_CONTAINER_CREDENTIALS_FULL_URI over plain HTTP is only allowed to the container agent's
 * addresses or loopback (botocore's and the SDKs' rule): the token would travel in clear. */
static bool container_host_allowed(const char *url, struct ebuf *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    bool ok = false;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        ebuf_puts(err, "container credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL");
        goto done;
    }
    if (strcasecmp(scheme, "https") == 0) {
        ok = true;
    } else if (strcasecmp(scheme, "http") != 0) {
        ebuf_printf(err, "container credentials: scheme \"%.20s\" is not http or https", scheme);
    } else {
        static const char *const allowed[] = {"169.254.170.2", "169.254.170.23", "[fd00:ec2::23]",
                                              "localhost", "[::1]"};
        for (size_t i = 0; i < sizeof allowed / sizeof *allowed && !ok; i++)
            ok = strcasecmp(host, allowed[i]) == 0;
        /* 127.0.0.0/8, written as a dotted quad. */
        unsigned a, b, cc, d;
        char extra;
        if (!ok && sscanf(host, "%u.%u.%u.%u%c", &a, &b, &cc, &d, &extra) == 4 && a == 127 &&
            b < 256 && cc < 256 && d < 256)
            ok = true;
        if (!ok)
            ebuf_printf(err,
                        "container credentials: host %.100s is not allowed over http (only "
                        "loopback, 169.254.170.2, 169.254.170.23, fd00:ec2::23, or https)",
                        host);
    }
done:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

/* The Authorization value: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE wins over
 * AWS_CONTAINER_AUTHORIZATION_TOKEN, as in botocore (EKS Pod Identity rotates the file).
 * 0 with *token (maybe NULL), -1 on error. */
static int container_token(struct chain *c, char **token, struct ebuf *err)
{
    *token = NULL;
    const char *path = env(c, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *val = env(c, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    if (path) {
        FILE *f = fopen(path, "rb");
        if (!f) {
            ebuf_printf(err, "container credentials: cannot read %s: %s", path, strerror(errno));
            return -1;
        }
        struct ebuf b = EBUF_INIT;
        char buf[1024];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0 && b.len < 16384)
            ebuf_append(&b, buf, n);
        explicit_bzero(buf, sizeof buf);
        fclose(f);
        /* Files written by `echo` end in a newline: trim it rather than refuse. */
        while (b.len &&
               (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' || b.data[b.len - 1] == ' '))
            b.data[--b.len] = '\0';
        ebuf_puts(&b, "");
        if (!ebuf_ok(&b)) {
            wipe_ebuf(&b);
            ebuf_puts(err, "container credentials: out of memory");
            return -1;
        }
        *token = ebuf_take(&b);
    } else if (val) {
        *token = strdup(val);
        if (!*token) {
            ebuf_puts(err, "container credentials: out of memory");
            return -1;
        }
    }
    if (*token && strpbrk(*token, "\r\n")) {
        ebuf_printf(err,
                    "container credentials: the authorization token from %s is not a legal "
                    "header value",
                    path ? path : "AWS_CONTAINER_AUTHORIZATION_TOKEN");
        wipe_free(*token);
        *token = NULL;
        return -1;
    }
    return 0;
}

static int from_container(struct chain *c, struct cred_snapshot **out, struct ebuf *err)
{
    const char *rel = env(c, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = env(c, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (!rel && !full) {
        note(c, "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI unset");
        return 0;
    }
    struct ebuf url = EBUF_INIT, auth = EBUF_INIT, body = EBUF_INIT, detail = EBUF_INIT;
    char *token = NULL;
    int rc = -1;
    if (rel)
        ebuf_printf(&url, "%s%s%s", CONTAINER_HOST, rel[0] == '/' ? "" : "/", rel);
    else
        ebuf_puts(&url, full);
    if (!rel && !container_host_allowed(full, err))
        goto done;
    if (container_token(c, &token, err) != 0)
        goto done;
    char host[128], who[200];
    url_host(ebuf_str(&url), host, sizeof host);
    snprintf(who, sizeof who, "container credentials from %s", host);
    struct http_call call = {.method = "GET",
                             .url = ebuf_str(&url),
                             .headers = {"Accept: application/json", NULL, NULL},
                             .connect_ms = c->connect_ms,
                             .timeout_ms = c->timeout_ms};
    if (token) {
        ebuf_printf(&auth, "Authorization: %s", token);
        call.headers[1] = ebuf_str(&auth);
    }
    long status = 0;
    if (http_do_retry(&call, &status, &body, &detail) != 0) {
        ebuf_printf(err, "%s: %s", who, ebuf_str(&detail));
        goto done;
    }
    if (status != 200) {
        ebuf_printf(err, "%s: HTTP %ld", who, status);
        goto done;
    }
    cJSON *root = cJSON_ParseWithLength(ebuf_str(&body), body.len);
    if (!cJSON_IsObject(root))
        ebuf_printf(err, "%s: the reply is not a JSON object", who);
    else if ((*out = snapshot_from_json(root, "Token", false, "container", who, err)))
        rc = 1;
    cJSON_Delete(root);
done:
    wipe_free(token);
    wipe_ebuf(&auth);
    wipe_ebuf(&body);
    ebuf_free(&url);
    ebuf_free(&detail);
    return rc;
}

static int from_imds(struct chain *c, struct cred_snapshot **out, struct ebuf *err)
{
    const char *disabled = env(c, "AWS_EC2_METADATA_DISABLED");
    if (disabled && strcasecmp(disabled, "true") == 0) {
        note(c, "IMDS: disabled by AWS_EC2_METADATA_DISABLED");
        return 0;
    }
    const char *endpoint = env(c, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (!endpoint)
        endpoint = IMDS_DEFAULT_ENDPOINT;
    size_t el = strlen(endpoint);
    while (el && endpoint[el - 1] == '/')
        el--;
    char host[128], who[200];
    url_host(endpoint, host, sizeof host);
    snprintf(who, sizeof who, "IMDS at %s", host);
    struct ebuf url = EBUF_INIT, tok_hdr = EBUF_INIT, body = EBUF_INIT, detail = EBUF_INIT;
    struct ebuf role = EBUF_INIT;
    int rc = -1;
    long status = 0;

    ebuf_printf(&url, "%.*s/latest/api/token", (int)el, endpoint);
    struct http_call call = {
        .method = "PUT",
        .url = ebuf_str(&url),
        .headers = {"X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL, NULL, NULL},
        .connect_ms = c->connect_ms,
        .timeout_ms = c->timeout_ms};
    if (http_do_retry(&call, &status, &body, &detail) != 0) {
        /* Nothing listens: not on EC2. Not an error of its own, but say what happened. */
        note(c, "IMDS at %s: %s", host, ebuf_str(&detail));
        rc = 0;
        goto done;
    }
    if (status == 200 && body.len) {
        ebuf_printf(&tok_hdr, "X-aws-ec2-metadata-token: %s", ebuf_str(&body));
        if (strpbrk(ebuf_str(&body), "\r\n")) {
            ebuf_printf(err, "%s: the session token is not a legal header value", who);
            goto done;
        }
    } else if (status != 403 && status != 404 && status != 405) {
        /* 403/404/405: IMDSv2 unavailable, go on with v1 as botocore does. */
        ebuf_printf(err, "%s: token request: HTTP %ld", who, status);
        goto done;
    }

    call.method = "GET";
    call.headers[0] = tok_hdr.len ? ebuf_str(&tok_hdr) : NULL;
    ebuf_reset(&url);
    ebuf_printf(&url, "%.*s/latest/meta-data/iam/security-credentials/", (int)el, endpoint);
    call.url = ebuf_str(&url);
    if (http_do_retry(&call, &status, &body, &detail) != 0) {
        ebuf_printf(err, "%s: role request: %s", who, ebuf_str(&detail));
        goto done;
    }
    if (status == 404) {
        note(c, "IMDS at %s: no IAM role attached to the instance", host);
        rc = 0;
        goto done;
    }
    if (status != 200) {
        ebuf_printf(err, "%s: role request: HTTP %ld", who, status);
        goto done;
    }
    size_t rl = strcspn(ebuf_str(&body), "\r\n");
    ebuf_append(&role, ebuf_str(&body), rl);
    ebuf_puts(&role, "");
    if (rl == 0 || strpbrk(ebuf_str(&role), "/?# ")) {
        ebuf_printf(err, "%s: the role list is empty or malformed", who);
        goto done;
    }
    ebuf_printf(&url, "%s", ebuf_str(&role));
    call.url = ebuf_str(&url);
    if (http_do_retry(&call, &status, &body, &detail) != 0) {
        ebuf_printf(err, "%s: credentials request: %s", who, ebuf_str(&detail));
        goto done;
    }
    if (status != 200) {
        ebuf_printf(err, "%s: credentials request for role %.100s: HTTP %ld", who, ebuf_str(&role),
                    status);
        goto done;
    }
    cJSON *root = cJSON_ParseWithLength(ebuf_str(&body), body.len);
    const char *code = cJSON_IsObject(root) ? json_string(root, "Code") : NULL;
    if (!cJSON_IsObject(root))
        ebuf_printf(err, "%s: the credentials reply is not a JSON object", who);
    else if (code && strcmp(code, "Success") != 0)
        ebuf_printf(err, "%s: the credentials reply says Code \"%.60s\"", who, code);
    else if ((*out = snapshot_from_json(root, "Token", true, "imds", who, err)))
        rc = 1;
    cJSON_Delete(root);
done:
    wipe_ebuf(&tok_hdr);
    wipe_ebuf(&body);
    ebuf_free(&url);
    ebuf_free(&detail);
    ebuf_free(&role);
    return rc;
}

int cred_resolve(const struct cred_config *cfg, struct cred_snapshot **out, struct ebuf *err)
{
    static const struct cred_config zero;
    struct chain c = {.cfg = cfg ? cfg : &zero, .tried = EBUF_INIT};
    c.connect_ms = c.cfg->connect_timeout_ms > 0 ? c.cfg->connect_timeout_ms : DEFAULT_CONNECT_MS;
    c.timeout_ms = c.cfg->timeout_ms > 0 ? c.cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    int (*const providers[])(struct chain *, struct cred_snapshot **, struct ebuf *) = {
        from_explicit, from_env, from_profile, from_container, from_imds};
    struct ebuf local = EBUF_INIT;
    struct ebuf *e = err ? err : &local;
    *out = NULL;
    int rc = 0;
    for (size_t i = 0; i < sizeof providers / sizeof *providers && rc == 0; i++)
        rc = providers[i](&c, out, e);
    if (rc == 0)
        ebuf_printf(e, "no credentials found; tried %s", ebuf_str(&c.tried));
    else if (rc < 0 && e->len == 0)
        ebuf_puts(e, "credentials: out of memory");
    ebuf_free(&c.tried);
    ebuf_free(&local);
    return rc == 1 ? 0 : -1;
}

/* ---- the cache ---- */

struct cred_cache {
    /* Set at creation, read-only afterwards: any thread. */
    struct cred_config cfg;
    struct env_reader env;
    char *strings[4]; /* owned copies behind cfg's string fields */

    pthread_mutex_t lock;
    pthread_cond_t refreshed;
    /* Guarded by `lock`. */
    struct cred_snapshot *current; /* NULL until the first success */
    bool refreshing;               /* one thread is walking the chain */
    unsigned long generation;      /* bumped when a refresh ends, success or not */
    char *last_error;              /* the message of the last failed refresh */
    time_t retry_after;            /* after a failed refresh, still-valid credentials are served
                                      without a new attempt until then */
};

struct cred_cache *cred_cache_new(const struct cred_config *cfg)
{
    struct cred_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (cfg)
        c->cfg = *cfg;
    if (cfg && cfg->env) {
        c->env = *cfg->env;
        c->cfg.env = &c->env;
    }
    const char **fields[4] = {&c->cfg.access_key_id, &c->cfg.secret_access_key,
                              &c->cfg.session_token, &c->cfg.profile};
    bool ok = true;
    for (int i = 0; i < 4; i++) {
        if (*fields[i]) {
            c->strings[i] = strdup(*fields[i]);
            ok = ok && c->strings[i];
            *fields[i] = c->strings[i];
        }
    }
    if (!ok || pthread_mutex_init(&c->lock, NULL) != 0) {
        for (int i = 0; i < 4; i++)
            wipe_free(c->strings[i]);
        free(c);
        return NULL;
    }
    if (pthread_cond_init(&c->refreshed, NULL) != 0) {
        pthread_mutex_destroy(&c->lock);
        for (int i = 0; i < 4; i++)
            wipe_free(c->strings[i]);
        free(c);
        return NULL;
    }
    return c;
}

void cred_cache_free(struct cred_cache *c)
{
    if (!c)
        return;
    cred_snapshot_release(c->current);
    free(c->last_error);
    pthread_cond_destroy(&c->refreshed);
    pthread_mutex_destroy(&c->lock);
    for (int i = 0; i < 4; i++)
        wipe_free(c->strings[i]);
    free(c);
}

static bool fresh(const struct cred_snapshot *s, time_t now, int ahead)
{
    return s && (s->expiration == 0 || now + ahead < s->expiration);
}

static bool usable(const struct cred_snapshot *s, time_t now)
{
    return s && (s->expiration == 0 || now < s->expiration);
}

int cred_cache_get(struct cred_cache *c, time_t now, struct cred_snapshot **out, struct ebuf *err)
{
    int ahead =
        c->cfg.refresh_ahead_seconds > 0 ? c->cfg.refresh_ahead_seconds : DEFAULT_REFRESH_AHEAD;
    *out = NULL;
    pthread_mutex_lock(&c->lock);
    unsigned long seen = c->generation;
    for (;;) {
        /* Serve the current snapshot when it is fresh; or, while still valid, when another
         * thread is refreshing, has just tried (this call saw it), or recently failed. */
        bool hold_off = c->refreshing || c->generation != seen || now < c->retry_after;
        if (fresh(c->current, now, ahead) || (hold_off && usable(c->current, now))) {
            cred_snapshot_retain(c->current);
            *out = c->current;
            pthread_mutex_unlock(&c->lock);
            return 0;
        }
        if (!c->refreshing) {
            if (c->generation != seen && c->last_error) {
                /* The refresh this thread waited for failed: report it, do not retry. */
                if (err)
                    ebuf_puts(err, c->last_error);
                pthread_mutex_unlock(&c->lock);
                return -1;
            }
            break;
        }
        pthread_cond_wait(&c->refreshed, &c->lock);
    }
    c->refreshing = true;
    pthread_mutex_unlock(&c->lock);

    struct cred_snapshot *snap = NULL;
    struct ebuf msg = EBUF_INIT;
    int rc = cred_resolve(&c->cfg, &snap, &msg);

    pthread_mutex_lock(&c->lock);
    c->refreshing = false;
    c->generation++;
    free(c->last_error);
    c->last_error = NULL;
    if (rc == 0) {
        cred_snapshot_release(c->current);
        c->current = snap;
    } else {
        c->last_error = strdup(ebuf_str(&msg));
        c->retry_after = now + REFRESH_RETRY_SECONDS;
    }
    if (usable(c->current, now)) {
        /* A failed refresh keeps credentials that are still valid. */
        cred_snapshot_retain(c->current);
        *out = c->current;
    } else if (err) {
        ebuf_puts(err, ebuf_str(&msg));
    }
    pthread_cond_broadcast(&c->refreshed);
    pthread_mutex_unlock(&c->lock);
    ebuf_free(&msg);
    return *out ? 0 : -1;
}
