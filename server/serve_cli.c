/* `ecrup serve`'s command line: options into struct server_config, the key pair (from the
 * environment, or made up and printed), and a run until SIGINT or SIGTERM. */
#include "server/serve_cli.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/quotas.h"
#include "server/server.h"
#include "util/suggest.h"

static const char help_text[] =
    "Usage: ecrup serve [--listen 127.0.0.1:PORT] [--data-dir DIR] [--sink] [--faults SPEC]\n"
    "                   [--tls-cert F --tls-key F] [--repository NAME]... [--part-size SIZE]\n"
    "                   [--keys FILE] [--upload-expiry SECONDS] [--quotas ecr|off|FILE]\n"
    "\n"
    "Run a local endpoint that speaks the ECR API (AWS JSON 1.1, SigV4-signed): the layer\n"
    "uploads, PutImage and BatchGetImage, the calls CI scripts make to check and clean up\n"
    "(ListImages, DescribeImages, BatchDeleteImage, DeleteRepository, ...) and\n"
    "GetAuthorizationToken, whose password pulls over the registry API on the same port\n"
    "(/v2/: docker, skopeo). An unknown operation's error lists every one it has. Point any\n"
    "AWS client at it:\n"
    "  aws ecr describe-repositories --endpoint-url http://127.0.0.1:5000 --region us-east-1\n"
    "  aws ecr get-login-password --endpoint-url http://127.0.0.1:5000 --region us-east-1 |\n"
    "    skopeo login --tls-verify=false -u AWS --password-stdin 127.0.0.1:5000\n"
    "\n"
    "The first line on stdout is 'ecrup serve: listening on URL' with the actual port.\n"
    "Stops cleanly on SIGINT or SIGTERM.\n"
    "\n"
    "Options:\n"
    "  --listen HOST:PORT   address to listen on (default 127.0.0.1:5000; port 0 picks a free\n"
    "                       one)\n"
    "  --data-dir DIR       keep repositories, layers, images and uploads in progress in DIR;\n"
    "                       a restart on the same DIR loses nothing acknowledged and resumes\n"
    "                       uploads in progress. Default: a temporary directory removed at exit\n"
    "  --sink               keep no layer bytes: for benchmarks. Part order and sizes are still\n"
    "                       enforced and every reply is correct, but the request body of\n"
    "                       UploadLayerPart is not hashed (its signature is not checked, only\n"
    "                       the key, token and date), the base64 is not validated, and\n"
    "                       CompleteLayerUpload trusts the digest it is given\n"
    "  --faults SPEC        inject failures (see below)\n"
    "  --tls-cert FILE      serve HTTPS with this PEM certificate ...\n"
    "  --tls-key FILE       ... and this PEM private key\n"
    "  --repository NAME    create this repository at start (repeatable)\n"
    "  --part-size SIZE     partSize that InitiateLayerUpload returns and the largest part\n"
    "                       accepted (default 10485760; K, M, G are binary units)\n"
    "  --keys FILE          also accept every key pair in FILE, one per line:\n"
    "                       ACCESS_KEY_ID SECRET_ACCESS_KEY [SESSION_TOKEN] (blank lines and\n"
    "                       lines starting with # skipped). Read once, at start. With --keys\n"
    "                       and no pair in the environment, no pair is made up\n"
    "  --upload-expiry SECONDS\n"
    "                       forget an upload idle this long (no part acknowledged) and\n"
    "                       remove its files; its parts then get UploadNotFoundException\n"
    "                       (default 86400, one day)\n"
    "  --quotas SPEC        ecr, off or FILE: throttle each operation above its request rate,\n"
    "                       answering HTTP 400 ThrottlingException \"Rate exceeded\" as ECR\n"
    "                       does (see below). Default off\n"
    "  -h, --help           show this help\n"
    "\n"
    "Credentials: requests must be signed (SigV4, service 'ecr', any region) with the key pair\n"
    "in this server's own environment, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (plus\n"
    "AWS_SESSION_TOKEN when set). When none is set, the server makes up a random pair and\n"
    "prints it as 'export' lines after the listening line, secret included: that is the one\n"
    "place ecrup prints a secret, deliberately, for your own local server. Requests are\n"
    "refused as ECR refuses them: no signature (MissingAuthenticationTokenException), unknown\n"
    "key (UnrecognizedClientException), wrong signature or X-Amz-Date more than 5 minutes off\n"
    "(InvalidSignatureException), all HTTP 403. --keys adds more pairs, e.g. to test clients\n"
    "whose temporary credentials rotate during a push.\n"
    "\n"
    "Quotas: a token bucket per operation, refilled at RATE requests per second and holding\n"
    "at most BURST (default: one second's worth, RATE), counted after the signature check.\n"
    "  ecr    ECR's default quotas per account and region: UploadLayerPart 500/s,\n"
    "         InitiateLayerUpload 100/s, CompleteLayerUpload 100/s, BatchCheckLayerAvailability\n"
    "         1000/s, PutImage 10/s, GetAuthorizationToken 500/s; other operations unlimited\n"
    "  off    nothing throttled (the default)\n"
    "  FILE   one quota per line, 'OPERATION RATE [BURST]' (# comments); operations not named\n"
    "         are unlimited, e.g. for an account whose quotas were raised:\n"
    "           UploadLayerPart 2500\n"
    "           InitiateLayerUpload 500 500\n"
    "At exit the server says on stderr, per operation with a quota, how many requests it\n"
    "admitted and throttled and its busiest second.\n"
    "\n"
    "Fault SPEC: comma-separated items\n"
    "  seed=N                  random seed (default 1): the same seed and request order give\n"
    "                          the same faults\n"
    "  delay=MS                delay every reply by MS milliseconds\n"
    "  bandwidth=SIZE          cap each connection's request body at SIZE bytes/s (e.g. 10M)\n"
    "  hold=MS                 how long the hold fault lasts (default 10000)\n"
    "  OP:KIND=P[:KIND=P]...   for operation OP (or * for all), probability P of KIND; P may\n"
    "                          be #N or #N-M instead: the rule's Nth (to Mth) request, counted\n"
    "                          from 1 as requests arrive\n"
    "      throttle  400 ThrottlingException        500  500 ServerException\n"
    "      503       503 ServiceUnavailableException\n"
    "      reset     connection reset after the request is read, before it is acted on\n"
    "      lost      request acted on (committed), then the connection reset: reply lost\n"
    "      stall     request read, then no reply and the connection held open (until the\n"
    "                client gives up or the server stops): a stalled link\n"
    "      hold      the body stops being read halfway for hold=MS, an UploadLayerPart's\n"
    "                upload held meanwhile (other parts: \"being received\"); then the\n"
    "                part is dropped and the connection reset: a link black-holed mid-body\n"
    "  Example: --faults 'seed=7,delay=20,UploadLayerPart:throttle=0.05:lost=0.02,*:500=0.01'\n"
    "           --faults 'CompleteLayerUpload:lost=#1,BatchCheckLayerAvailability:throttle=#2-3'\n";

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "ecrup serve: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    fprintf(stderr, "Run 'ecrup serve --help' for the options.\n");
    return 2;
}

static int unknown_option(const char *arg)
{
    static const char *const names[] = {
        "--listen",  "--data-dir",   "--sink",      "--faults", "--tls-cert",
        "--tls-key", "--repository", "--part-size", "--keys",   "--upload-expiry",
        "--quotas",  "--help",       NULL};
    const char *near = suggest_nearest(arg, names);
    if (near)
        fprintf(stderr,
                "ecrup serve: unknown option '%s'; did you mean '%s'? see 'ecrup serve --help'\n",
                arg, near);
    else
        fprintf(stderr, "ecrup serve: unknown option '%s'; see 'ecrup serve --help'\n", arg);
    return 2;
}

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || s[0] == '-')
        return -1;
    uint64_t m = 1;
    if (*end == 'K' || *end == 'k')
        m = 1ull << 10;
    else if (*end == 'M' || *end == 'm')
        m = 1ull << 20;
    else if (*end == 'G' || *end == 'g')
        m = 1ull << 30;
    if (m > 1) {
        end++;
        if (!strcmp(end, "iB") || !strcmp(end, "B"))
            end += strlen(end);
    }
    if (*end || v > UINT64_MAX / m)
        return -1;
    *out = v * m;
    return 0;
}

static void random_chars(char *out, size_t n, const char *alphabet)
{
    size_t k = strlen(alphabet);
    unsigned char b[64];
    if (RAND_bytes(b, (int)n) != 1)
        abort();
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[b[i] % k];
    out[n] = '\0';
}

int server_cli_main(int argc, char **argv)
{
    struct server_config cfg = {0};
    const char *quotas_spec = "off";
    const char **repos = calloc((size_t)argc + 1, sizeof *repos);
    if (!repos)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(help_text, stdout);
            free(repos);
            return 0;
        } else if (!strcmp(a, "--sink")) {
            cfg.sink = true;
            takes = false;
        } else if (!v && (!strcmp(a, "--listen") || !strcmp(a, "--data-dir") ||
                          !strcmp(a, "--faults") || !strcmp(a, "--tls-cert") ||
                          !strcmp(a, "--tls-key") || !strcmp(a, "--repository") ||
                          !strcmp(a, "--part-size") || !strcmp(a, "--keys") ||
                          !strcmp(a, "--upload-expiry") || !strcmp(a, "--quotas"))) {
            free(repos);
            return usage_error("missing value for", a);
        } else if (!strcmp(a, "--listen")) {
            cfg.listen = v;
        } else if (!strcmp(a, "--data-dir")) {
            cfg.data_dir = v;
        } else if (!strcmp(a, "--faults")) {
            cfg.faults = v;
        } else if (!strcmp(a, "--tls-cert")) {
            cfg.tls_cert = v;
        } else if (!strcmp(a, "--tls-key")) {
            cfg.tls_key = v;
        } else if (!strcmp(a, "--keys")) {
            cfg.keys_file = v;
        } else if (!strcmp(a, "--quotas")) {
            quotas_spec = v;
        } else if (!strcmp(a, "--repository")) {
            repos[cfg.n_repositories++] = v;
        } else if (!strcmp(a, "--part-size")) {
            if (parse_size(v, &cfg.part_size) != 0 || cfg.part_size == 0 ||
                cfg.part_size > 20971520) {
                free(repos);
                return usage_error("--part-size wants a size from 1 to 20971520 (20M)", v);
            }
        } else if (!strcmp(a, "--upload-expiry")) {
            char *end;
            unsigned long long secs = strtoull(v, &end, 10);
            /* Ten years at most: no timestamp arithmetic near overflow. */
            if (end == v || *end || v[0] == '-' || secs == 0 || secs > 315360000) {
                free(repos);
                return usage_error("--upload-expiry wants seconds from 1 to 315360000", v);
            }
            cfg.upload_expiry = (uint32_t)secs;
        } else {
            free(repos);
            return unknown_option(a);
        }
        if (takes)
            i++;
    }
    cfg.repositories = repos;
    if (cfg.sink && cfg.data_dir) {
        free(repos);
        return usage_error("--sink keeps nothing, so it does not take --data-dir", NULL);
    }

    char akid[21], secret[41];
    const char *env_id = getenv("AWS_ACCESS_KEY_ID");
    const char *env_secret = getenv("AWS_SECRET_ACCESS_KEY");
    bool generated = false;
    if (env_id && *env_id && env_secret && *env_secret) {
        cfg.access_key_id = env_id;
        cfg.secret_access_key = env_secret;
        cfg.session_token = getenv("AWS_SESSION_TOKEN");
    } else if (!cfg.keys_file) {
        memcpy(akid, "AKIA", 4);
        random_chars(akid + 4, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
        random_chars(secret, 40,
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
        cfg.access_key_id = akid;
        cfg.secret_access_key = secret;
        generated = true;
    }

    /* Threads inherit this mask, so only sigwait() below sees the signals. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct ebuf err = EBUF_INIT;
    if (quotas_load(quotas_spec, &cfg.quotas, &err) != 0) {
        free(repos);
        fprintf(stderr, "ecrup serve: %s\n", ebuf_str(&err));
        ebuf_free(&err);
        return 2;
    }
    struct server *s = server_start(&cfg, &err);
    free(repos);
    if (!s) {
        fprintf(stderr, "ecrup serve: %s\n", err.len ? ebuf_str(&err) : "cannot start");
        ebuf_free(&err);
        quotas_free(cfg.quotas);
        return 1;
    }
    ebuf_free(&err);
    printf("ecrup serve: listening on %s\n", server_url(s));
    if (generated)
        /* Deliberate: the user needs this pair to talk to their own local server. */
        printf("export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\n"
               "export AWS_ENDPOINT_URL_ECR=%s\nexport AWS_REGION=us-east-1\n",
               akid, secret, server_url(s));
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "ecrup serve: stopping (%s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    server_stop(s);
    struct ebuf seen = EBUF_INIT;
    quotas_describe(cfg.quotas, &seen);
    if (seen.len)
        fprintf(stderr, "ecrup serve: quotas:\n%s", ebuf_str(&seen));
    ebuf_free(&seen);
    quotas_free(cfg.quotas);
    explicit_bzero(secret, sizeof secret);
    return 0;
}
