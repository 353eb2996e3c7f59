/* `ecrup config`: what ecrup would use to reach ECR and where each value came from, in the
 * manner of `aws configure list`. With -vv it also signs a sample request and shows the
 * canonical request and Authorization header, which is what one needs to debug a
 * SignatureDoesNotMatch; every line goes through the redaction helper. */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/context.h"
#include "engine/ecr_json.h"
#include "signer/sigv4.h"
#include "util/hex.h"
#include "util/redact.h"

static const char config_help[] =
    "Usage: ecrup config [OPTIONS]\n"
    "\n"
    "Show the region, endpoint, credentials and TLS settings ecrup would use, and where each\n"
    "came from (a flag, an environment variable, the shared profile files, a credential\n"
    "provider). Nothing is sent over the network, except to the credential provider that\n"
    "is configured (STS for web identity, IAM Identity Center for SSO, the sign-in service\n"
    "for an `aws login` session whose credentials need refreshing, the container or\n"
    "instance metadata endpoints).\n"
    "\n"
    "  -v, --verbose   also show the files read and the credentials' expiry;\n"
    "                  twice: sign a sample BatchCheckLayerAvailability request and show its\n"
    "                  canonical request and Authorization header (secrets are masked)\n"
    "\n"
    "Examples:\n"
    "  ecrup config --region eu-west-1\n"
    "  AWS_PROFILE=ci ecrup config -vv\n"
    "\n";

/* Print one line with secrets masked. */
static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    struct ebuf raw = EBUF_INIT, safe = EBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    ebuf_vprintf(&raw, fmt, ap);
    va_end(ap);
    redact_append(&safe, raw.data ? raw.data : "", raw.len);
    fputs(ebuf_str(&safe), stdout);
    ebuf_free(&raw);
    ebuf_free(&safe);
}

/* "****************MPLE": enough to recognise a key, as `aws configure list` shows it. */
static void masked_key(const char *key, char *buf, size_t cap)
{
    size_t n = strlen(key);
    snprintf(buf, cap, "****************%s", n > 8 ? key + n - 4 : "");
}

/* What each credential provider did in the chain's last walk, the failing one included. */
static void show_providers(struct cred_cache *cache)
{
    struct cred_report r;
    if (!cache || cred_cache_report(cache, &r) != ECRUP_OK || r.n == 0)
        return;
    static const char *const outcome[] = {
        [CRED_SKIPPED] = "skipped",
        [CRED_ANSWERED] = "answered",
        [CRED_FAILED] = "failed",
        [CRED_NOT_TRIED] = "not tried",
    };
    out("\ncredential providers, in order (the first that answers wins):\n");
    for (size_t i = 0; i < r.n; i++) {
        const struct cred_step *s = &r.steps[i];
        struct ebuf why = EBUF_INIT;
        if (s->outcome == CRED_FAILED)
            ebuf_printf(&why, "%s: %s", ecrup_status_name(s->status), s->detail ? s->detail : "");
        else if (s->outcome == CRED_ANSWERED && s->detail && strcmp(s->detail, s->name) != 0)
            ebuf_printf(&why, "(as %s)", s->detail);
        else if (s->outcome == CRED_SKIPPED && s->detail)
            ebuf_puts(&why, s->detail);
        if (why.len)
            out("  %-12s %-9s %s\n", s->name, outcome[s->outcome], ebuf_str(&why));
        else
            out("  %-12s %s\n", s->name, outcome[s->outcome]);
        ebuf_free(&why);
    }
    if (r.refresh_note)
        out("last refresh:      %s\n", r.refresh_note);
    cred_report_free(&r);
}

static void show_signing_check(struct ecr_context *ctx, const struct sigv4_credentials *creds)
{
    const char *digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    char *body = ecr_build_batch_check("example", NULL, &digest, 1);
    if (!body)
        return;
    char target_value[96];
    snprintf(target_value, sizeof target_value, ECR_TARGET_PREFIX "BatchCheckLayerAvailability");
    struct sigv4_header headers[] = {
        {"host", ctx->target.host_header},
        {"content-type", ECR_CONTENT_TYPE},
        {"x-amz-target", target_value},
    };
    char hash[65];
    sha256_hex(body, strlen(body), hash);
    struct sigv4_request req = {
        .method = "POST",
        .path = ctx->target.path ? ctx->target.path : "/",
        .headers = headers,
        .n_headers = 3,
        .payload_sha256 = hash,
        .normalize_path = true,
    };
    struct sigv4_signature sig;
    time_t now = sigv4_clock_now(&ctx->clock);
    if (sigv4_sign(&req, creds, ctx->target.region, "ecr", now, ctx->keys, &sig) == 0) {
        /* The canonical request as the signer built it, with the date and token it added. */
        struct sigv4_header all[5];
        memcpy(all, headers, sizeof headers);
        size_t n = 3;
        all[n++] = (struct sigv4_header){"x-amz-date", sig.amz_date};
        if (creds->session_token)
            all[n++] = (struct sigv4_header){"x-amz-security-token", creds->session_token};
        req.headers = all;
        req.n_headers = n;
        struct ebuf canonical = EBUF_INIT;
        sigv4_canonical_request(&req, &canonical, NULL);
        out("\nsigning check (BatchCheckLayerAvailability, not sent):\n");
        out("  body: %s\n", body);
        out("  canonical request:\n");
        for (const char *line = ebuf_str(&canonical); *line;) {
            const char *nl = strchr(line, '\n');
            size_t len = nl ? (size_t)(nl - line) : strlen(line);
            out("    %.*s\n", (int)len, line);
            line += len + (nl ? 1 : 0);
        }
        out("  X-Amz-Date: %s\n", sig.amz_date);
        if (creds->session_token)
            out("  X-Amz-Security-Token: %s\n", creds->session_token);
        out("  Authorization: %s\n", ebuf_str(&sig.authorization));
        ebuf_free(&canonical);
    }
    sigv4_signature_free(&sig);
    free(body);
}

/* What went wrong, for stderr after the table: one "ecrup config: ..." line per failed step,
 * masked as the table is. */
static void note_failure(struct ebuf *errors, ecrup_status st, struct ebuf *msg)
{
    if (st != ECRUP_OK) {
        ebuf_puts(errors, "ecrup config: ");
        redact_append(errors, msg->len ? ebuf_str(msg) : ecrup_strerror(st),
                      msg->len ? msg->len : strlen(ecrup_strerror(st)));
        ebuf_putc(errors, '\n');
    }
    ebuf_reset(msg);
}

static void row(const char *name, const char *value, const char *from)
{
    out("%-12s %-45s %s\n", name, value, from);
}

/* The endpoint row when the region is missing: a configured endpoint needs no region to be
 * known (only to sign for), a computed one does. */
static void endpoint_without_region(struct ecr_context *ctx, const struct ecrup_options *o)
{
    if (o->endpoint_url) {
        row("endpoint", o->endpoint_url, "--endpoint-url");
        return;
    }
    struct configured_endpoint_values cv;
    configured_endpoint_read(ctx->profiles, ctx->profile, CONFIGURED_ENDPOINT_ECR, &cv);
    const char *url = NULL;
    struct ebuf src = EBUF_INIT;
    if (configured_endpoint(&ctx->env, CONFIGURED_ENDPOINT_ECR, &cv, &url, &src, NULL) ==
            ECRUP_OK &&
        url)
        row("endpoint", url, ebuf_str(&src));
    else
        row("endpoint", "(needs a region)",
            "computed from the region once it is set, or pass --endpoint-url");
    ebuf_free(&src);
}

/* The table, a row per value, each either resolved (with where it came from) or marked as
 * missing (with what to do). `pst`, `est`, `cst`: how the profile, endpoint and credentials
 * steps went. */
static void show_table(struct ecr_context *ctx, const struct ecrup_options *o, ecrup_status pst,
                       ecrup_status est, ecrup_status cst, const struct cred_snapshot *snap)
{
    struct ebuf b = EBUF_INIT;
    out("%-12s %-45s %s\n", "", "value", "from");
    if (pst == ECRUP_E_NOT_FOUND) {
        ebuf_printf(&b, "%s (missing)", ctx->profile);
        struct ebuf todo = EBUF_INIT;
        ebuf_printf(&todo, "add it (aws configure --profile %s), or name another", ctx->profile);
        row("profile", ebuf_str(&b), ebuf_str(&todo));
        ebuf_free(&todo);
    } else if (pst != ECRUP_OK) {
        ebuf_printf(&b, "%s (files unreadable)", ctx->profile ? ctx->profile : "?");
        row("profile", ebuf_str(&b), "fix the file and line named below");
    } else {
        row("profile", ctx->profile, o->profile ? "--profile" : "AWS_PROFILE or default");
    }
    ebuf_reset(&b);

    const struct endpoint_resolution *ep = &ctx->endpoint;
    if (est == ECRUP_OK) {
        row("region", ep->region, ep->region_source);
        row("endpoint", ep->url, ep->endpoint_source);
        if (ep->partition)
            out("%-12s %-45s fips: %s, dual-stack: %s\n", "partition", ep->partition,
                ep->fips_source, ep->dualstack_source);
    } else if (est == ECRUP_E_NO_REGION) {
        ebuf_printf(&b, "pass --region, set AWS_REGION, or add \"region = REGION\" to profile %s",
                    ctx->profile ? ctx->profile : "default");
        row("region", "(missing)", ebuf_str(&b));
        endpoint_without_region(ctx, o);
    } else if (pst == ECRUP_E_CONFIG) {
        row("region", "(not read)", "the shared files could not be read");
        row("endpoint", "(not read)", "the shared files could not be read");
    } else if (est == ECRUP_E_INVALID_ARGUMENT) {
        row("region", "(invalid)", "see below");
        row("endpoint", "(needs a region)", "computed from the region once it is valid");
    } else {
        row("region", "(unresolved)", "see below");
        row("endpoint", "(invalid)", "see below");
    }
    ebuf_reset(&b);

    if (snap) {
        char key[32];
        masked_key(snap->access_key_id, key, sizeof key);
        row("access key", key, snap->provider);
        row("secret key", "****************", snap->provider);
        row("token", snap->session_token ? "****************" : "(none)", snap->provider);
    } else if (pst == ECRUP_E_CONFIG) {
        row("credentials", "(not read)", "the shared files could not be read");
    } else if (cst == ECRUP_E_NO_CREDENTIALS) {
        row("credentials", "(missing)",
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use a profile with keys, SSO, "
            "a role or credential_process (aws configure, aws configure sso)");
    } else {
        row("credentials", "(failed)",
            "a provider failed, see below; -v lists every provider tried");
    }
    row("tls",
        ctx->insecure    ? "NOT VERIFIED (--insecure)"
        : ctx->ca_bundle ? ctx->ca_bundle
                         : "verified with the system CA store",
        ctx->ca_bundle_source ? ctx->ca_bundle_source : "system");
    ebuf_free(&b);
}

int cli_config_main(int argc, char **argv)
{
    struct cli_common common = {0};
    bool insecure = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(config_help, stdout);
            fputs(cli_common_help, stdout);
            return CLI_EXIT_OK;
        }
        if (!strcmp(a, "--insecure")) {
            insecure = true;
            continue;
        }
        int rc = cli_common_option(&common, "config", argc, argv, &i);
        if (rc < 0)
            return CLI_EXIT_USAGE;
        if (rc == 0) {
            static const char *const own[] = {"--insecure", "--help", NULL};
            cli_unknown_option("config", a, own, NULL);
            return CLI_EXIT_USAGE;
        }
    }
    struct ecrup_options o;
    ecrup_options_init(&o);
    o.region = common.region;
    o.endpoint_url = common.endpoint_url;
    o.profile = common.profile;
    o.ca_bundle = common.ca_bundle;
    o.insecure_skip_tls_verify = insecure;
    o.mfa_code = cli_mfa_prompt;

    /* Every step is tried, so that the table shows all that is missing at once, not the
     * first gap only; a step that needs the shared files is skipped when they are broken. */
    struct ecr_context ctx;
    struct ebuf msg = EBUF_INIT, errors = EBUF_INIT;
    ecr_context_begin(&ctx, NULL);
    ecrup_status pst = ecr_context_profiles(&ctx, &o, &msg);
    note_failure(&errors, pst, &msg);
    bool files = pst != ECRUP_E_CONFIG && pst != ECRUP_E_NOMEM;
    ecrup_status est = files ? ecr_context_endpoint(&ctx, &o, &msg) : pst;
    if (files)
        note_failure(&errors, est, &msg);
    ecrup_status tst = ecr_context_tls(&ctx, &o, &msg);
    note_failure(&errors, tst, &msg);
    ecrup_status cst = files ? ecr_context_resolve_credentials(&ctx, &o, &msg) : pst;
    if (files)
        note_failure(&errors, cst, &msg);
    ebuf_free(&msg);

    struct cred_snapshot *snap = NULL;
    if (cst == ECRUP_OK) {
        struct ebuf err = EBUF_INIT;
        /* The credentials just resolved, from the cache: no provider is asked twice. */
        cst = cred_cache_get(ctx.creds, sigv4_clock_now(&ctx.clock), &snap, &err);
        note_failure(&errors, cst, &err);
        ebuf_free(&err);
    }
    if (snap) {
        /* Whatever happens below, these never reach the terminal. */
        redact_register_secret(snap->secret_access_key);
        if (snap->session_token)
            redact_register_secret(snap->session_token);
    }
    bool ok = pst == ECRUP_OK && est == ECRUP_OK && tst == ECRUP_OK && cst == ECRUP_OK;
    if (ok)
        ecr_context_target(&ctx);

    show_table(&ctx, &o, pst, est, cst, snap);
    if (common.verbose >= 1) {
        char *cfg = profile_config_path(&ctx.env), *cred = profile_credentials_path(&ctx.env);
        out("\nconfig file:       %s\ncredentials file:  %s\n", cfg ? cfg : "(none)",
            cred ? cred : "(none)");
        free(cfg);
        free(cred);
        if (snap && snap->expiration) {
            char when[64];
            struct tm tm;
            gmtime_r(&snap->expiration, &tm);
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
            out("credentials expire: %s\n", when);
        } else if (snap) {
            out("credentials expire: never\n");
        }
        if (ok)
            out("signing host:      %s (path %s)\n", ctx.target.host_header,
                ctx.target.path ? ctx.target.path : "/");
        show_providers(ctx.creds);
    }
    if (ok && common.verbose >= 2) {
        struct sigv4_credentials c = cred_snapshot_sigv4(snap);
        show_signing_check(&ctx, &c);
    }
    fflush(stdout);
    if (errors.len)
        fputs(ebuf_str(&errors), stderr);
    ebuf_free(&errors);
    redact_clear_secrets();
    cred_snapshot_release(snap);
    ecr_context_cleanup(&ctx);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}
