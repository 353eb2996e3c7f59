/* The credential provider chain and its cache. See credentials.h for the order and the
 * thread rules, docs/credentials.md for the choices. */
#include "signer/credentials.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signer/cred_provider.h"
#include "util/civil.h"
#include "util/json.h"

#define DEFAULT_REFRESH_AHEAD 300
#define DEFAULT_CONNECT_MS    1000L
#define DEFAULT_TIMEOUT_MS    3000L
#define REFRESH_RETRY_SECONDS 5

/* The chain, in the SDKs' order: the first provider that answers wins, the first that fails
 * stops the walk. A new provider is one line here (and its cred_NAME.c). */
static const cred_provider chain[] = {
    cred_provider_explicit, cred_provider_env,       cred_provider_web_identity,
    cred_provider_profile,  cred_provider_container, cred_provider_imds,
};

/* The public view plus the reference count; one allocation holds the strings too. */
struct snapshot_impl {
    struct cred_snapshot pub; /* first: the public pointer is this struct's address */
    atomic_int refs;
    size_t size; /* of the whole allocation, to wipe it */
};

void cred_wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

void cred_wipe_ebuf(struct ebuf *b)
{
    if (b->data)
        explicit_bzero(b->data, b->cap);
    ebuf_free(b);
}

struct cred_snapshot *cred_snapshot_new(const char *akid, const char *secret, const char *token,
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

ecrup_status cred_snapshot_from_json(const cJSON *root, const char *token_field,
                                     bool expiration_required, const char *provider,
                                     const char *who, struct cred_snapshot **out, struct ebuf *err)
{
    const char *akid = json_string(root, "AccessKeyId");
    const char *secret = json_string(root, "SecretAccessKey");
    const char *token = json_string(root, token_field);
    const char *exp = json_string(root, "Expiration");
    if (!akid || !*akid || !secret || !*secret) {
        ebuf_printf(err, "%s: the reply lacks %s", who,
                    !akid || !*akid ? "AccessKeyId" : "SecretAccessKey");
        return ECRUP_E_CREDENTIALS;
    }
    time_t expiration = 0;
    if (exp && !cred_parse_time(exp, &expiration)) {
        ebuf_printf(err, "%s: Expiration \"%.40s\" is not an ISO 8601 time", who, exp);
        return ECRUP_E_CREDENTIALS;
    }
    if (!exp && expiration_required) {
        ebuf_printf(err, "%s: the reply lacks Expiration", who);
        return ECRUP_E_CREDENTIALS;
    }
    *out = cred_snapshot_new(akid, secret, token && *token ? token : NULL, expiration, provider);
    if (!*out) {
        ebuf_printf(err, "%s: out of memory", who);
        return ECRUP_E_NOMEM;
    }
    return ECRUP_OK;
}

/* ---- the chain ---- */

const char *cred_env(const struct cred_chain *c, const char *name)
{
    const char *v = env_get(c->cfg->env, name);
    return v && *v ? v : NULL;
}

void cred_note(struct cred_chain *c, const char *fmt, ...)
{
    if (c->tried.len)
        ebuf_puts(&c->tried, "; ");
    va_list ap;
    va_start(ap, fmt);
    ebuf_vprintf(&c->tried, fmt, ap);
    va_end(ap);
}

ecrup_status cred_resolve(const struct cred_config *cfg, struct cred_snapshot **out,
                          struct ebuf *err)
{
    static const struct cred_config zero;
    struct cred_chain c = {.cfg = cfg ? cfg : &zero, .tried = EBUF_INIT};
    c.connect_ms = c.cfg->connect_timeout_ms > 0 ? c.cfg->connect_timeout_ms : DEFAULT_CONNECT_MS;
    c.timeout_ms = c.cfg->timeout_ms > 0 ? c.cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    struct ebuf local = EBUF_INIT;
    struct ebuf *e = err ? err : &local;
    *out = NULL;
    ecrup_status st = ECRUP_E_NO_CREDENTIALS;
    for (size_t i = 0; i < sizeof chain / sizeof *chain && st == ECRUP_E_NO_CREDENTIALS; i++)
        st = chain[i](&c, out, e);
    if (st == ECRUP_E_NO_CREDENTIALS)
        ebuf_printf(e, "no credentials found; tried %s", ebuf_str(&c.tried));
    else if (st != ECRUP_OK && e->len == 0)
        ebuf_puts(e, "credentials: out of memory");
    if (st != ECRUP_OK && *out) {
        cred_snapshot_release(*out);
        *out = NULL;
    }
    ebuf_free(&c.tried);
    ebuf_free(&local);
    return st;
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
    ecrup_status last_status;      /* and its status */
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
            cred_wipe_free(c->strings[i]);
        free(c);
        return NULL;
    }
    if (pthread_cond_init(&c->refreshed, NULL) != 0) {
        pthread_mutex_destroy(&c->lock);
        for (int i = 0; i < 4; i++)
            cred_wipe_free(c->strings[i]);
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
        cred_wipe_free(c->strings[i]);
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

ecrup_status cred_cache_get(struct cred_cache *c, time_t now, struct cred_snapshot **out,
                            struct ebuf *err)
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
            return ECRUP_OK;
        }
        if (!c->refreshing) {
            if (c->generation != seen && c->last_error) {
                /* The refresh this thread waited for failed: report it, do not retry. */
                if (err)
                    ebuf_puts(err, c->last_error);
                ecrup_status st = c->last_status;
                pthread_mutex_unlock(&c->lock);
                return st;
            }
            break;
        }
        pthread_cond_wait(&c->refreshed, &c->lock);
    }
    c->refreshing = true;
    pthread_mutex_unlock(&c->lock);

    struct cred_snapshot *snap = NULL;
    struct ebuf msg = EBUF_INIT;
    ecrup_status st = cred_resolve(&c->cfg, &snap, &msg);

    pthread_mutex_lock(&c->lock);
    c->refreshing = false;
    c->generation++;
    free(c->last_error);
    c->last_error = NULL;
    if (st == ECRUP_OK) {
        cred_snapshot_release(c->current);
        c->current = snap;
    } else {
        c->last_error = strdup(ebuf_str(&msg));
        c->last_status = st;
        c->retry_after = now + REFRESH_RETRY_SECONDS;
    }
    if (usable(c->current, now)) {
        /* A failed refresh keeps credentials that are still valid. */
        cred_snapshot_retain(c->current);
        *out = c->current;
    } else {
        if (st == ECRUP_OK) {
            /* The provider answered with credentials that had already expired. */
            st = ECRUP_E_CREDENTIALS;
            ebuf_printf(&msg, "credentials from provider %s had already expired",
                        c->current->provider);
        }
        if (err)
            ebuf_puts(err, ebuf_str(&msg));
    }
    pthread_cond_broadcast(&c->refreshed);
    pthread_mutex_unlock(&c->lock);
    ebuf_free(&msg);
    return *out ? ECRUP_OK : st;
}
