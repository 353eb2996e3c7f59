/* The credential provider chain and its cache. See credentials.h for the order and the
 * thread rules, docs/credentials.md for the choices. */
#include "signer/credentials.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "signer/cred_provider.h"
#include "util/civil.h"
#include "util/json.h"

#define DEFAULT_ADVISORY_SECONDS  (15 * 60) /* botocore's _advisory_refresh_timeout */
#define DEFAULT_MANDATORY_SECONDS (10 * 60) /* and _mandatory_refresh_timeout */
#define DEFAULT_CONNECT_MS        1000L
#define DEFAULT_TIMEOUT_MS        3000L
#define REFRESH_RETRY_SECONDS     5

/* The chain, in the SDKs' order: the first provider that answers wins, the first that fails
 * stops the walk. A new provider is one line here (and its cred_NAME.c); the name is what
 * `ecrup config -v` lists it as. */
static const struct {
    cred_provider fn;
    const char *name;
    bool scoped; /* one of botocore's ProfileProviderBuilder providers: asked again, for the
                    source profile alone, when an assume-role profile sources one */
} chain[] = {
    {cred_provider_explicit, "explicit", false},
    {cred_provider_env, "env", false},
    {cred_provider_assume_role, "assume-role", false},
    {cred_provider_web_identity, "web-identity", true},
    {cred_provider_sso, "sso", true},
    {cred_provider_login, "login", true},
    {cred_provider_profile, "profile", true},
    {cred_provider_container, "container", false},
    {cred_provider_imds, "imds", false},
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

void cred_report_free(struct cred_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->steps[i].name);
        free(r->steps[i].detail);
    }
    free(r->steps);
    free(r->refresh_note);
    *r = (struct cred_report){0};
}

/* Record what chain[i] did: `detail` is its notes when skipped, its message when it failed,
 * what it answered as. False on OOM. */
static bool report_step(struct cred_report *r, size_t i, enum cred_outcome outcome, ecrup_status st,
                        const char *detail)
{
    struct cred_step *step = &r->steps[i];
    step->name = strdup(chain[i].name);
    step->outcome = outcome;
    step->status = st;
    step->detail = detail ? strdup(detail) : NULL;
    r->n = i + 1;
    return step->name && (!detail || step->detail);
}

/* The longest message an ecrup_error holds (its message[512]). A "no credentials" summary longer
 * than that (long profile paths, an IMDS that answered) would lose its last providers, which
 * are the ones that were asked something: every reason is shortened alike instead. */
#define SUMMARY_MAX 511

/* "no credentials found; tried ..." from the notes of `n` providers: provider i's are
 * tried[marks[i] .. marks[i + 1]), after the "; " that joins them to the previous ones. */
static void no_credentials_summary(struct ebuf *e, const char *tried, const size_t *marks, size_t n)
{
    static const char head[] = "no credentials found; tried ";
    const char *seg[sizeof chain / sizeof *chain];
    size_t len[sizeof chain / sizeof *chain], total = sizeof head - 1, longest = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *a = tried + marks[i], *b = tried + marks[i + 1];
        if (a < b && marks[i] && !strncmp(a, "; ", 2))
            a += 2;
        if (a >= b)
            continue;
        seg[k] = a;
        len[k] = (size_t)(b - a);
        total += len[k] + (k ? 2 : 0);
        longest = len[k] > longest ? len[k] : longest;
        k++;
    }
    size_t cap = longest;
    while (total > SUMMARY_MAX && cap > 16) {
        cap--;
        total = sizeof head - 1;
        for (size_t j = 0; j < k; j++)
            total += (len[j] > cap ? cap + 3 : len[j]) + (j ? 2 : 0);
    }
    ebuf_puts(e, head);
    for (size_t j = 0; j < k; j++) {
        size_t m = len[j] > cap ? cap : len[j];
        while (m < len[j] && m && ((unsigned char)seg[j][m] & 0xC0) == 0x80)
            m--; /* never half a UTF-8 character */
        ebuf_printf(e, "%s%.*s%s", j ? "; " : "", (int)m, seg[j], m < len[j] ? "..." : "");
    }
}

ecrup_status cred_resolve_report(const struct cred_config *cfg, struct cred_snapshot **out,
                                 struct ebuf *err, struct cred_report *report)
{
    static const struct cred_config zero;
    struct cred_chain c = {.cfg = cfg ? cfg : &zero, .tried = EBUF_INIT};
    c.connect_ms = c.cfg->connect_timeout_ms > 0 ? c.cfg->connect_timeout_ms : DEFAULT_CONNECT_MS;
    c.timeout_ms = c.cfg->timeout_ms > 0 ? c.cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    struct ebuf local = EBUF_INIT;
    struct ebuf *e = err ? err : &local;
    size_t n_chain = sizeof chain / sizeof *chain;
    size_t marks[sizeof chain / sizeof *chain + 1] = {0};
    struct cred_report r = {.steps = calloc(n_chain, sizeof *r.steps)};
    bool report_ok = r.steps != NULL;
    *out = NULL;
    ecrup_status st = ECRUP_E_NO_CREDENTIALS;
    for (size_t i = 0; i < n_chain; i++) {
        if (st != ECRUP_E_NO_CREDENTIALS) {
            if (report_ok)
                report_ok = report_step(&r, i, CRED_NOT_TRIED, st, NULL);
            continue;
        }
        size_t mark = c.tried.len, before = e->len;
        marks[i] = mark;
        st = chain[i].fn(&c, out, e);
        marks[i + 1] = c.tried.len;
        if (!report_ok)
            continue;
        /* This provider's own notes: what it added to the list, without the separator. */
        const char *notes = ebuf_str(&c.tried) + mark;
        if (mark && *notes)
            notes += 2;
        if (st == ECRUP_OK)
            report_ok = report_step(&r, i, CRED_ANSWERED, st, (*out)->provider);
        else if (st == ECRUP_E_NO_CREDENTIALS)
            report_ok = report_step(&r, i, CRED_SKIPPED, st, *notes ? notes : NULL);
        else
            report_ok =
                report_step(&r, i, CRED_FAILED, st, e->len > before ? ebuf_str(e) + before : NULL);
    }
    if (st == ECRUP_E_NO_CREDENTIALS && ebuf_ok(&c.tried))
        no_credentials_summary(e, ebuf_str(&c.tried), marks, n_chain);
    else if (st == ECRUP_E_NO_CREDENTIALS)
        ebuf_puts(e, "no credentials found (out of memory listing the providers tried)");
    else if (st != ECRUP_OK && e->len == 0)
        ebuf_puts(e, "credentials: out of memory");
    if (st != ECRUP_OK && *out) {
        cred_snapshot_release(*out);
        *out = NULL;
    }
    if (!report_ok)
        cred_report_free(&r);
    if (report)
        *report = r;
    else
        cred_report_free(&r);
    ebuf_free(&c.tried);
    ebuf_free(&local);
    return st;
}

ecrup_status cred_resolve_profile_scoped(const struct cred_chain *parent, const char *profile,
                                         struct cred_snapshot **out, struct ebuf *notes,
                                         struct ebuf *err)
{
    struct cred_config cfg = *parent->cfg;
    cfg.profile = profile; /* named: the environment is not read, as botocore's disable_env */
    cfg.access_key_id = cfg.secret_access_key = cfg.session_token = NULL;
    struct cred_chain c = {
        .cfg = &cfg,
        .tried = EBUF_INIT,
        .connect_ms = parent->connect_ms,
        .timeout_ms = parent->timeout_ms,
        .sts_profile = parent->sts_profile ? parent->sts_profile
                                           : profile_name(parent->cfg->env, parent->cfg->profile)};
    *out = NULL;
    ecrup_status st = ECRUP_E_NO_CREDENTIALS;
    for (size_t i = 0; i < sizeof chain / sizeof *chain && st == ECRUP_E_NO_CREDENTIALS; i++)
        if (chain[i].scoped)
            st = chain[i].fn(&c, out, err);
    if (st == ECRUP_E_NO_CREDENTIALS)
        ebuf_puts(notes, ebuf_str(&c.tried));
    ebuf_free(&c.tried);
    return st;
}

ecrup_status cred_resolve(const struct cred_config *cfg, struct cred_snapshot **out,
                          struct ebuf *err)
{
    return cred_resolve_report(cfg, out, err, NULL);
}

/* ---- the cache ---- */

struct cred_cache {
    /* Set at creation, read-only afterwards: any thread. */
    struct cred_config cfg;
    struct env_reader env;
    char *strings[6];        /* owned copies behind cfg's string fields */
    int advisory, mandatory; /* the windows, defaults applied */

    pthread_mutex_t lock;
    pthread_cond_t refreshed;
    /* Guarded by `lock`. */
    struct cred_snapshot *current; /* NULL until the first success */
    bool refreshing;               /* one thread is walking the chain */
    unsigned long generation;      /* bumped when a refresh ends, success or not */
    char *last_error;              /* the message of the last refresh if it failed, else NULL */
    ecrup_status last_status;      /* and its status */
    time_t retry_after;            /* after a failed refresh, still-valid credentials are served
                                      without a new attempt until then */
    struct cred_report report;     /* of the last walk; refresh_note: the last failed refresh
                                      that still-valid credentials outlived */
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
    c->advisory = c->cfg.advisory_refresh_seconds > 0 ? c->cfg.advisory_refresh_seconds
                                                      : DEFAULT_ADVISORY_SECONDS;
    c->mandatory = c->cfg.mandatory_refresh_seconds > 0 ? c->cfg.mandatory_refresh_seconds
                                                        : DEFAULT_MANDATORY_SECONDS;
    if (c->mandatory > c->advisory)
        c->mandatory = c->advisory;
    const char **fields[6] = {&c->cfg.access_key_id, &c->cfg.secret_access_key,
                              &c->cfg.session_token, &c->cfg.profile,
                              &c->cfg.region,        &c->cfg.ca_bundle};
    bool ok = true;
    for (int i = 0; i < 6; i++) {
        if (*fields[i]) {
            c->strings[i] = strdup(*fields[i]);
            ok = ok && c->strings[i];
            *fields[i] = c->strings[i];
        }
    }
    if (!ok || pthread_mutex_init(&c->lock, NULL) != 0) {
        for (int i = 0; i < 6; i++)
            cred_wipe_free(c->strings[i]);
        free(c);
        return NULL;
    }
    if (pthread_cond_init(&c->refreshed, NULL) != 0) {
        pthread_mutex_destroy(&c->lock);
        for (int i = 0; i < 6; i++)
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
    cred_report_free(&c->report);
    pthread_cond_destroy(&c->refreshed);
    pthread_mutex_destroy(&c->lock);
    for (int i = 0; i < 6; i++)
        cred_wipe_free(c->strings[i]);
    free(c);
}

/* More than `window` seconds left (credentials without an expiration always have). */
static bool outside(const struct cred_snapshot *s, time_t now, int window)
{
    return s->expiration == 0 || now + window < s->expiration;
}

static bool usable(const struct cred_snapshot *s, time_t now)
{
    return s && (s->expiration == 0 || now < s->expiration);
}

/* Under c->lock: hand out the current snapshot. */
static ecrup_status serve_locked(struct cred_cache *c, struct cred_snapshot **out)
{
    cred_snapshot_retain(c->current);
    *out = c->current;
    pthread_mutex_unlock(&c->lock);
    return ECRUP_OK;
}

/* Walk the chain (or the test's fake) without the lock: the refreshing thread. */
static ecrup_status walk(struct cred_cache *c, struct cred_snapshot **snap, struct ebuf *msg,
                         struct cred_report *report)
{
    if (c->cfg.walk)
        return c->cfg.walk(c->cfg.walk_user, snap, msg);
    return cred_resolve_report(&c->cfg, snap, msg, report);
}

ecrup_status cred_cache_get(struct cred_cache *c, time_t now, struct cred_snapshot **out,
                            struct ebuf *err)
{
    *out = NULL;
    pthread_mutex_lock(&c->lock);
    unsigned long seen = c->generation;
    for (;;) {
        struct cred_snapshot *cur = c->current;
        bool waited = c->generation != seen;
        if (cur && outside(cur, now, c->advisory))
            return serve_locked(c, out);
        if (usable(cur, now)) {
            /* Advisory window: never wait, refresh only if nobody is or has just failed.
             * Mandatory window: wait for a refresh, but a failed one (the one this call
             * waited for, or a recent one) leaves the still-valid credentials in use. */
            if (outside(cur, now, c->mandatory) ? c->refreshing || now < c->retry_after
                                                : waited || now < c->retry_after)
                return serve_locked(c, out);
        } else if (waited && c->last_error) {
            /* The refresh this thread waited for failed: report it, do not retry. */
            if (err)
                ebuf_puts(err, c->last_error);
            ecrup_status st = c->last_status;
            pthread_mutex_unlock(&c->lock);
            return st;
        }
        if (!c->refreshing)
            break;
        pthread_cond_wait(&c->refreshed, &c->lock);
    }
    bool mandatory = !c->current || !outside(c->current, now, c->mandatory);
    c->refreshing = true;
    pthread_mutex_unlock(&c->lock);

    struct cred_snapshot *snap = NULL;
    struct ebuf msg = EBUF_INIT;
    struct cred_report report = {0};
    char *logged = NULL; /* the note for cfg.refresh_log, told once the lock is released */
    ecrup_status st = walk(c, &snap, &msg, &report);
    if (st == ECRUP_OK && !usable(snap, now)) {
        /* The provider answered with credentials that had already expired. */
        st = ECRUP_E_CREDENTIALS;
        ebuf_printf(&msg, "credentials from provider %s had already expired", snap->provider);
        cred_snapshot_release(snap);
        snap = NULL;
    }

    pthread_mutex_lock(&c->lock);
    c->refreshing = false;
    c->generation++;
    free(c->last_error);
    c->last_error = NULL;
    char *note = c->report.refresh_note;
    c->report.refresh_note = NULL;
    cred_report_free(&c->report);
    c->report = report;
    c->report.at = now;
    if (st == ECRUP_OK) {
        cred_snapshot_release(c->current);
        c->current = snap;
        free(note);
        note = NULL;
    } else {
        c->last_error = strdup(ebuf_str(&msg));
        c->last_status = st;
        c->retry_after = now + REFRESH_RETRY_SECONDS;
        if (usable(c->current, now)) {
            /* Kept for cred_cache_report(): the push goes on with the current credentials. */
            struct ebuf n = EBUF_INIT;
            ebuf_printf(&n,
                        "%s refresh failed (%s), still using credentials that expire in %lds: %s",
                        mandatory ? "mandatory" : "advisory", ecrup_status_name(st),
                        (long)(c->current->expiration - now), ebuf_str(&msg));
            free(note);
            note = ebuf_take(&n);
            logged = note && c->cfg.refresh_log ? strdup(note) : NULL;
        }
    }
    c->report.refresh_note = note;
    if (usable(c->current, now)) {
        cred_snapshot_retain(c->current);
        *out = c->current;
    } else if (err) {
        ebuf_puts(err, ebuf_str(&msg));
    }
    pthread_cond_broadcast(&c->refreshed);
    pthread_mutex_unlock(&c->lock);
    if (logged)
        c->cfg.refresh_log(c->cfg.refresh_log_user, logged);
    free(logged);
    ebuf_free(&msg);
    return *out ? ECRUP_OK : st;
}

static char *dup_or_null(const char *s, bool *ok)
{
    char *d = s ? strdup(s) : NULL;
    *ok = *ok && (!s || d);
    return d;
}

ecrup_status cred_cache_report(struct cred_cache *c, struct cred_report *out)
{
    *out = (struct cred_report){0};
    bool ok = true;
    pthread_mutex_lock(&c->lock);
    if (c->report.n) {
        out->steps = calloc(c->report.n, sizeof *out->steps);
        ok = out->steps != NULL;
        for (size_t i = 0; ok && i < c->report.n; i++) {
            const struct cred_step *from = &c->report.steps[i];
            out->steps[i] = (struct cred_step){.outcome = from->outcome, .status = from->status};
            out->n = i + 1;
            out->steps[i].name = dup_or_null(from->name, &ok);
            out->steps[i].detail = dup_or_null(from->detail, &ok);
        }
    }
    out->at = c->report.at;
    out->refresh_note = dup_or_null(c->report.refresh_note, &ok);
    pthread_mutex_unlock(&c->lock);
    if (!ok) {
        cred_report_free(out);
        return ECRUP_E_NOMEM;
    }
    return ECRUP_OK;
}
