/* The "assume-role" credential provider, as botocore's AssumeRoleProvider: a profile with
 * role_arn and exactly one of
 *   source_profile     a profile whose credentials (of any kind: static keys, SSO, web
 *                      identity, credential_process, login, or another role) sign AssumeRole
 *   credential_source  Environment, Ec2InstanceMetadata or EcsContainer
 * and the optional external_id, role_session_name (default "ecrup-session-<unix time>"),
 * duration_seconds and mfa_serial (the code comes from cred_config.mfa_code).
 *
 * Chains follow source_profile to any depth. A profile visited twice is a cycle and refused
 * with the profiles in it, except a profile that names itself and holds static keys: botocore
 * lets the keys sign for the role in the same profile. A source profile with static keys (or
 * without a role of its own) is resolved by the chain's profile-scoped providers with the
 * environment disabled, as botocore's ProfileProviderBuilder does; one with a role of its own
 * is assumed in turn.
 *
 * Every STS call uses the walked (top) profile's STS settings (region, endpoints), as
 * botocore creates its STS client from the session. The role is assumed again on every walk:
 * the cache walks before the credentials expire, so an MFA device is asked again then. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "signer/cred_provider.h"
#include "signer/profile.h"
#include "signer/sts.h"

#define MAX_DEPTH 64 /* profiles in one chain; a cycle is caught before this */

struct ar_walk {
    struct cred_chain *c;
    const struct profile_set *set;
    const char *visited[MAX_DEPTH]; /* borrowed from `set` or the chain's config */
    size_t n_visited;
};

static bool has_static_keys(const struct profile_set *set, const char *profile)
{
    return profile_get(set, profile, "aws_access_key_id") ||
           profile_get(set, profile, "aws_secret_access_key");
}

/* botocore's _has_assume_role_config_vars: a role, and not a web identity profile. */
static bool is_role_profile(const struct profile_set *set, const char *profile)
{
    return profile_get(set, profile, "role_arn") &&
           !profile_get(set, profile, "web_identity_token_file");
}

static bool visited(const struct ar_walk *w, const char *profile)
{
    for (size_t i = 0; i < w->n_visited; i++)
        if (strcmp(w->visited[i], profile) == 0)
            return true;
    return false;
}

static void describe_cycle(const struct ar_walk *w, const char *again, struct ebuf *err)
{
    ebuf_puts(err, "the profiles' source_profile settings form a cycle: ");
    for (size_t i = 0; i < w->n_visited; i++)
        ebuf_printf(err, "\"%s\" -> ", w->visited[i]);
    ebuf_printf(err, "\"%s\"", again);
}

/* botocore's _validate_source_profile. */
static ecrup_status check_source(const struct ar_walk *w, const char *parent, const char *source,
                                 struct ebuf *err)
{
    if (!profile_exists(w->set, source)) {
        ebuf_printf(err, "the source_profile \"%s\" named in profile \"%s\" does not exist", source,
                    parent);
        return ECRUP_E_CONFIG;
    }
    if (!visited(w, source))
        return ECRUP_OK;
    if (strcmp(source, parent) == 0 && has_static_keys(w->set, source))
        return ECRUP_OK;
    describe_cycle(w, source, err);
    return ECRUP_E_CONFIG;
}

static ecrup_status from_credential_source(struct ar_walk *w, const char *profile,
                                           const char *source, struct cred_snapshot **out,
                                           struct ebuf *err)
{
    static const struct {
        const char *name;
        cred_provider fn;
    } sources[] = {
        {"Environment", cred_env_keys},
        {"Ec2InstanceMetadata", cred_provider_imds},
        {"EcsContainer", cred_provider_container},
    };
    for (size_t i = 0; i < sizeof sources / sizeof *sources; i++) {
        if (strcmp(source, sources[i].name) != 0)
            continue;
        size_t mark = w->c->tried.len;
        ecrup_status st = sources[i].fn(w->c, out, err);
        if (st == ECRUP_E_NO_CREDENTIALS) {
            const char *why = ebuf_str(&w->c->tried) + mark;
            ebuf_printf(err, "profile \"%s\": credential_source %s found no credentials (%s)",
                        profile, source, *why == ';' ? why + 2 : why);
            return ECRUP_E_CREDENTIALS;
        }
        return st;
    }
    ebuf_printf(err,
                "profile \"%s\": credential_source \"%s\" is not one of Environment, "
                "Ec2InstanceMetadata, EcsContainer",
                profile, source);
    return ECRUP_E_CONFIG;
}

static ecrup_status assume_profile(struct ar_walk *w, const char *profile,
                                   struct cred_snapshot **out, struct ebuf *err);

/* botocore's _resolve_credentials_from_profile. */
static ecrup_status from_source_profile(struct ar_walk *w, const char *source,
                                        struct cred_snapshot **out, struct ebuf *err)
{
    if (has_static_keys(w->set, source) || !is_role_profile(w->set, source)) {
        struct ebuf notes = EBUF_INIT;
        ecrup_status st = cred_resolve_profile_scoped(w->c, source, out, &notes, err);
        if (st == ECRUP_E_NO_CREDENTIALS) {
            ebuf_printf(err, "the source profile \"%s\" has no credentials (%s)", source,
                        ebuf_str(&notes));
            st = ECRUP_E_CREDENTIALS;
        }
        ebuf_free(&notes);
        return st;
    }
    return assume_profile(w, source, out, err);
}

static ecrup_status parse_duration(const char *profile, const char *s, int *out, struct ebuf *err)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v <= 0 || v > INT_MAX) {
        ebuf_printf(err, "profile \"%s\": duration_seconds \"%.20s\" is not a number of seconds",
                    profile, s);
        return ECRUP_E_CONFIG;
    }
    *out = (int)v;
    return ECRUP_OK;
}

static ecrup_status ask_mfa(const struct cred_chain *c, const char *profile, const char *serial,
                            char *code, size_t cap, struct ebuf *err)
{
    if (!c->cfg->mfa_code) {
        ebuf_printf(err,
                    "profile \"%s\" has mfa_serial %s: AssumeRole needs a code from that "
                    "device, and nothing can ask for one here (the CLI asks on a terminal; "
                    "a program sets ecrup_options.mfa_code)",
                    profile, serial);
        return ECRUP_E_CREDENTIALS;
    }
    code[0] = '\0';
    if (c->cfg->mfa_code(c->cfg->mfa_code_user, serial, code, cap) != 0 || !code[0] ||
        !memchr(code, '\0', cap)) {
        ebuf_printf(err, "profile \"%s\": no MFA code was given for %s", profile, serial);
        return ECRUP_E_CREDENTIALS;
    }
    return ECRUP_OK;
}

static ecrup_status call_sts(struct ar_walk *w, const char *profile,
                             struct sts_assume_role_params *p, struct cred_snapshot **out,
                             struct ebuf *err)
{
    struct sts_target t;
    struct ebuf why = EBUF_INIT;
    ecrup_status st = sts_resolve_for(w->c->cfg, w->set, w->visited[0], &t, &why);
    if (st != ECRUP_OK) {
        ebuf_printf(err, "assume role for profile \"%s\": %s", profile, ebuf_str(&why));
        ebuf_free(&why);
        return st;
    }
    ebuf_free(&why);
    char name[64];
    if (!p->session_name) {
        snprintf(name, sizeof name, "ecrup-session-%lld", (long long)time(NULL));
        p->session_name = name;
    }
    char code[64];
    const char *serial = profile_get(w->set, profile, "mfa_serial");
    if (serial) {
        st = ask_mfa(w->c, profile, serial, code, sizeof code, err);
        p->serial_number = serial;
        p->token_code = code;
    }
    if (st == ECRUP_OK) {
        struct sts_call_options o = {.connect_ms = w->c->connect_ms,
                                     .timeout_ms = w->c->timeout_ms,
                                     .provider = "assume-role"};
        st = sts_assume_role(&t, p, &o, out, err);
    }
    explicit_bzero(code, sizeof code);
    sts_target_free(&t);
    return st;
}

/* botocore's _load_creds_via_assume_role for `profile`, which has a role. */
static ecrup_status assume_profile(struct ar_walk *w, const char *profile,
                                   struct cred_snapshot **out, struct ebuf *err)
{
    const char *role_arn = profile_get(w->set, profile, "role_arn");
    const char *source = profile_get(w->set, profile, "source_profile");
    const char *cred_source = profile_get(w->set, profile, "credential_source");
    const char *duration = profile_get(w->set, profile, "duration_seconds");
    struct sts_assume_role_params p = {
        .role_arn = role_arn,
        .session_name = profile_get(w->set, profile, "role_session_name"),
        .external_id = profile_get(w->set, profile, "external_id"),
    };
    if (source && cred_source) {
        ebuf_printf(err, "profile \"%s\" has both source_profile and credential_source; keep one",
                    profile);
        return ECRUP_E_CONFIG;
    }
    if (!source && !cred_source) {
        ebuf_printf(err,
                    "profile \"%s\" has role_arn but neither source_profile nor "
                    "credential_source to assume the role with",
                    profile);
        return ECRUP_E_CONFIG;
    }
    ecrup_status st =
        duration ? parse_duration(profile, duration, &p.duration_seconds, err) : ECRUP_OK;
    if (st == ECRUP_OK && source)
        st = check_source(w, profile, source, err);
    if (st != ECRUP_OK)
        return st;
    if (source && w->n_visited == MAX_DEPTH) {
        ebuf_printf(err, "profile \"%s\": more than %d profiles in its source_profile chain",
                    w->visited[0], MAX_DEPTH);
        return ECRUP_E_CONFIG;
    }

    struct cred_snapshot *from = NULL;
    struct ebuf source_name = EBUF_INIT;
    if (cred_source) {
        ebuf_printf(&source_name, "credential_source %s of profile \"%s\"", cred_source, profile);
        st = from_credential_source(w, profile, cred_source, &from, err);
    } else {
        ebuf_printf(&source_name, "profile \"%s\"", source);
        w->visited[w->n_visited++] = source;
        st = from_source_profile(w, source, &from, err);
    }
    if (st == ECRUP_OK && !ebuf_ok(&source_name)) {
        ebuf_puts(err, "assume role: out of memory");
        st = ECRUP_E_NOMEM;
    }
    if (st == ECRUP_OK) {
        struct sigv4_credentials signing = cred_snapshot_sigv4(from);
        p.source = &signing;
        p.source_name = ebuf_str(&source_name);
        st = call_sts(w, profile, &p, out, err);
    }
    cred_snapshot_release(from);
    ebuf_free(&source_name);
    return st;
}

ecrup_status cred_provider_assume_role(struct cred_chain *c, struct cred_snapshot **out,
                                       struct ebuf *err)
{
    const char *profile = profile_name(c->cfg->env, c->cfg->profile);
    struct profile_set *set = profile_load_env(c->cfg->env, err);
    if (!set)
        return ECRUP_E_CONFIG; /* profile_load said which line */
    ecrup_status st;
    if (!is_role_profile(set, profile)) {
        cred_note(c, "assume role: profile \"%s\" has no role_arn (or is a web identity profile)",
                  profile);
        st = ECRUP_E_NO_CREDENTIALS;
    } else {
        struct ar_walk w = {.c = c, .set = set, .visited = {profile}, .n_visited = 1};
        st = assume_profile(&w, profile, out, err);
    }
    profile_set_free(set);
    return st;
}
