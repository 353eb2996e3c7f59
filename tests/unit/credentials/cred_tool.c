/* Test driver for test_credentials_http.py and profile_vs_botocore.py. Reads the real
 * environment (each run is its own process, so the script sets it per case).
 *
 *   cred_tool resolve [PROFILE]      one walk of the chain (with CRED_TOOL_MFA set, MFA codes
 *                                    come from CRED_TOOL_MFA_CODE)
 *   cred_tool refresh                cache with a 1 s refresh-ahead: get, get, sleep 3 s (and
 *                                    on until the first credentials are inside the window by
 *                                    time()), get; a failed refresh adds `note=MESSAGE`
 *   cred_tool dump CONFIG CREDS      the parsed profiles, sso-sessions and services sections
 *                                    as JSON (paths may be "-": none)
 *
 * A failed resolve prints `status=N` (the ecrup_status) and `error=MESSAGE`.
 * Credentials print as `provider=P akid=A secret_sha256=H token_sha256=H|none expiration=N`:
 * the secret and the token only as hashes, as anything a test prints may end up in a log. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "signer/credentials.h"
#include "signer/profile.h"

static void sha256_hex(const char *s, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void print_snapshot(const struct cred_snapshot *s)
{
    char sh[65], th[65] = "none";
    sha256_hex(s->secret_access_key, sh);
    if (s->session_token)
        sha256_hex(s->session_token, th);
    printf("provider=%s akid=%s secret_sha256=%s token_sha256=%s expiration=%lld\n", s->provider,
           s->access_key_id, sh, th, (long long)s->expiration);
}

/* The MFA code is CRED_TOOL_MFA_CODE (unset: the callback refuses); the serial asked for is
 * printed, to show the callback was called with the profile's mfa_serial. */
static int mfa_from_env(void *user, const char *serial, char *code, size_t size)
{
    (void)user;
    const char *v = getenv("CRED_TOOL_MFA_CODE");
    printf("mfa_asked=%s\n", serial);
    if (!v || strlen(v) >= size)
        return -1;
    memcpy(code, v, strlen(v) + 1);
    return 0;
}

static int cmd_resolve(const char *profile)
{
    struct cred_config cfg = {.profile = profile};
    if (getenv("CRED_TOOL_MFA"))
        cfg.mfa_code = mfa_from_env;
    struct cred_snapshot *s = NULL;
    struct ebuf err = EBUF_INIT;
    ecrup_status rc = cred_resolve(&cfg, &s, &err);
    if (rc == 0) {
        print_snapshot(s);
    } else {
        printf("status=%d\n", (int)rc);
        printf("error=%s\n", ebuf_str(&err));
    }
    cred_snapshot_release(s);
    ebuf_free(&err);
    return rc == 0 ? 0 : 1;
}

static int cmd_refresh(void)
{
    struct cred_config cfg = {.advisory_refresh_seconds = 1, .mandatory_refresh_seconds = 1};
    struct cred_cache *cache = cred_cache_new(&cfg);
    struct cred_snapshot *a = NULL, *b = NULL, *c = NULL;
    struct ebuf err = EBUF_INIT;
    int rc = 1;
    if (!cache)
        return 1;
    if (cred_cache_get(cache, time(NULL), &a, &err) != 0 ||
        cred_cache_get(cache, time(NULL), &b, &err) != 0) {
        printf("error=%s\n", ebuf_str(&err));
        goto done;
    }
    print_snapshot(a);
    printf("second get %s\n", a == b ? "reused" : "refreshed");
    fflush(stdout);
    sleep(3);
    /* The cache's clock is time(), which may lag the clock the server stamped the expiration
     * with; 3 s is the whole margin when credentials last 4 s, so wait for time() itself. */
    for (int i = 0; i < 50 && a->expiration && time(NULL) + 1 < a->expiration; i++)
        usleep(100 * 1000);
    if (cred_cache_get(cache, time(NULL), &c, &err) != 0) {
        printf("error=%s\n", ebuf_str(&err));
        goto done;
    }
    print_snapshot(c);
    struct cred_report report = {0};
    if (cred_cache_report(cache, &report) == ECRUP_OK && report.refresh_note)
        printf("note=%s\n", report.refresh_note);
    cred_report_free(&report);
    rc = 0;
done:
    cred_snapshot_release(a);
    cred_snapshot_release(b);
    cred_snapshot_release(c);
    cred_cache_free(cache);
    ebuf_free(&err);
    return rc;
}

static void dump_one(void *user, const char *profile, const char *key, const char *member,
                     const char *value)
{
    cJSON *root = user;
    cJSON *p = cJSON_GetObjectItemCaseSensitive(root, profile);
    if (!p)
        p = cJSON_AddObjectToObject(root, profile);
    if (!key)
        return;
    if (!member) {
        /* A nested block's key arrives first with "": it becomes an object below. */
        cJSON_AddStringToObject(p, key, value);
        return;
    }
    cJSON *k = cJSON_GetObjectItemCaseSensitive(p, key);
    if (cJSON_IsString(k)) {
        cJSON_DeleteItemFromObjectCaseSensitive(p, key);
        k = NULL;
    }
    if (!k)
        k = cJSON_AddObjectToObject(p, key);
    cJSON_AddStringToObject(k, member, value);
}

static int cmd_dump(const char *cfg, const char *cred)
{
    struct ebuf err = EBUF_INIT;
    struct profile_set *set =
        profile_load(strcmp(cfg, "-") ? cfg : NULL, strcmp(cred, "-") ? cred : NULL, &err);
    cJSON *root = cJSON_CreateObject();
    if (!set) {
        cJSON_AddStringToObject(root, "error", ebuf_str(&err));
    } else {
        cJSON *profiles = cJSON_AddObjectToObject(root, "profiles");
        profile_foreach(set, dump_one, profiles);
        cJSON *sessions = cJSON_AddObjectToObject(root, "sso_sessions");
        profile_sso_session_foreach(set, dump_one, sessions);
        cJSON *services = cJSON_AddObjectToObject(root, "services");
        profile_services_foreach(set, dump_one, services);
    }
    char *text = cJSON_PrintUnformatted(root);
    puts(text);
    free(text);
    cJSON_Delete(root);
    profile_set_free(set);
    ebuf_free(&err);
    return 0;
}

int main(int argc, char **argv)
{
    /* The program, not the library, initialises libcurl. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = 2;
    if (argc >= 2 && strcmp(argv[1], "resolve") == 0)
        rc = cmd_resolve(argc >= 3 ? argv[2] : NULL);
    else if (argc == 2 && strcmp(argv[1], "refresh") == 0)
        rc = cmd_refresh();
    else if (argc == 4 && strcmp(argv[1], "dump") == 0)
        rc = cmd_dump(argv[2], argv[3]);
    else
        fprintf(stderr, "usage: cred_tool resolve [PROFILE] | refresh | dump CONFIG CREDS\n");
    fflush(stdout);
    curl_global_cleanup();
    return rc;
}
