/* `ecrup push`: an image from disk (cli/image_source.c) into a repository: its blobs through
 * the upload both commands share (cli/upload.c), then its manifests with PutImage. */
#include "cli/push.h"

#include "cli/cli.h"
#include "cli/image_source.h"
#include "cli/platform.h"
#include "cli/push_stream.h"
#include "cli/upload.h"
#include "cli/upload_output.h"
#include "engine/sizing.h"
#include "util/buf.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD "push"

static const char help_text[] =
    "Usage: ecrup push --repository NAME [--tag TAG] [--require-tag] [--platform P]\n"
    "                  [--registry-id ID] [--json] [--create-repository]\n"
    "                  [--no-check | --check-first] [--insecure] [COMMON OPTIONS]\n"
    "                  (OCI_LAYOUT_DIR | IMAGE.tar | IMAGE.tar.gz | -)\n"
    "\n"
    "Push an image to an Amazon ECR repository through the ECR API: its config and layers\n"
    "as blobs (BatchCheckLayerAvailability, InitiateLayerUpload, UploadLayerPart,\n"
    "CompleteLayerUpload; blobs the repository has are not sent again), then its manifest\n"
    "(PutImage), once every blob is there. The image is one of:\n"
    "  - an OCI image layout directory (oci-layout, index.json, blobs/sha256/...), as\n"
    "    written by buildah, skopeo, crane, 'docker buildx --output type=oci,tar=false';\n"
    "  - a tarball of one ('docker save' since Docker 25, 'skopeo copy ... oci-archive:');\n"
    "  - a classic 'docker save' tarball (manifest.json, a config and layer.tar files): its\n"
    "    layers go up uncompressed, under an OCI manifest written for them.\n"
    "Blobs in a tarball are sent from where they lie in it; nothing is unpacked. A layout\n"
    "whose manifest is an index (several platforms) is pushed whole: each platform's\n"
    "manifest by digest, then the index under the tag.\n"
    "\n"
    "'-' reads the tarball from standard input (docker save app | ecrup push ... -), and a\n"
    "gzip-compressed tarball is read as it is (from a file or '-'). Such a stream is read\n"
    "once: each blob is uploaded as its member goes by, in the tarball's order, with memory\n"
    "bounded whatever its size; a blob named by its digest (an OCI layout's) is checked for\n"
    "first and skipped when the repository has it, the others are sent and their digests\n"
    "computed on the way. The manifests, which come last, are put at the end, so the tag\n"
    "(and --require-tag) is settled there. zstd, xz and bzip2 tarballs: decompress first\n"
    "(zstd -dc app.tar.zst | ecrup push ... -).\n"
    "\n"
    "Options:\n"
    "  --repository NAME    the ECR repository (required), e.g. team/app, or as the console\n"
    "                       shows it, 123456789012.dkr.ecr.us-west-2.amazonaws.com/team/app\n"
    "                       (the registry id and the region are then taken from it)\n"
    "  --tag TAG            the tag to put the image under, e.g. v1.2 (default: the tag the\n"
    "                       image names, such as the org.opencontainers.image.ref.name of\n"
    "                       its index entry or its docker RepoTags; with none, the image is\n"
    "                       pushed by digest only). When the image holds several images,\n"
    "                       --tag also picks the one with that name.\n"
    "  --platform OS/ARCH[/VARIANT]\n"
    "                       push one platform of a multi-platform image alone, e.g.\n"
    "                       linux/arm64 (default: every platform, as an index under the tag)\n"
    "  --require-tag        refuse to push an image that ends up without a tag (the source\n"
    "                       names none and --tag is not given); without it a warning says so.\n"
    "                       From '-' this is known at the end: the blobs are up, the\n"
    "                       manifest is not put\n"
    "  --registry-id ID     the 12-digit account that owns the registry (default: the\n"
    "                       credentials' account)\n"
    "%s"
    "                       With --json, after the blobs' lines, one line per manifest:\n"
    "                         "
    "{\"image\":\"...\",\"manifest\":\"sha256:...\",\"mediaType\":\"...\",\n"
    "                          \"tag\":\"...\"|null,\"status\":\"pushed\"|\"exists\"|\"failed\",\n"
    "                          \"attempts\":N,\"requests\":N,\"retries\":N}\n"
    "                       a manifest not put says why: \"status\":\"failed\",\n"
    "                         \"error\":\"<its first failed blob's>\",\n"
    "                         \"message\":\"not put: 2 of its 4 blobs failed\"\n"
    "  -h, --help           show this help\n"
    "\n"
    "%s"
    "\n"
    "Output, as docker push's: 'The push refers to repository [...]', then on a terminal a\n"
    "line per blob (Waiting, Pushing with a bar, the bytes sent and the rate, Pushed, Layer\n"
    "already exists, Failed), or off one a result line per blob and manifest; the summary;\n"
    "and last 'TAG: digest: sha256:... size: N' once the image is in the repository.\n"
    "\n"
    "Exit status:\n"
    "  0    every blob and manifest is in the repository\n"
    "  1    a blob or manifest failed (a manifest is put only when all its blobs are up), or\n"
    "       region, endpoint or credentials could not be resolved\n"
    "  2    the command line is wrong, or the image cannot be read (nothing was sent)\n"
    "  130  interrupted by Ctrl-C (a second Ctrl-C quits at once)\n"
    "\n"
    "Examples:\n"
    "  ecrup push --repository team/app --tag v1 ./app-oci\n"
    "  docker save app:v1 > app.tar && ecrup push --repository team/app app.tar\n"
    "  docker save app:v1 | ecrup push --repository team/app -\n"
    "  ecrup push --repository team/app app-v1.tar.gz\n"
    "  ecrup push --endpoint-url http://127.0.0.1:5000 --region us-east-1 \\\n"
    "             --repository demo --tag latest ./app-oci\n";

struct args {
    struct upload_settings u;
    const char *tag;
    const char *source;
    bool require_tag; /* --require-tag: an untagged push is an error */
    bool has_platform;
    struct platform platform; /* --platform */
};

static int parse_args(int argc, char **argv, struct args *a)
{
    memset(a, 0, sizeof *a);
    bool only_files = false;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (only_files || s[0] != '-' || !strcmp(s, "-")) {
            if (a->source) {
                cli_error(CMD, "one image at a time: '%s' and '%s' were given", a->source, s);
                return CLI_EXIT_USAGE;
            }
            a->source = s;
        } else if (!strcmp(s, "--")) {
            only_files = true;
        } else if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            printf(help_text, upload_options_help, cli_common_help);
            return CLI_EXIT_OK;
        } else if (!strcmp(s, "--require-tag")) {
            a->require_tag = true;
        } else if (cli_opt_is(s, "--platform")) {
            const char *v = cli_take_value(CMD, argc, argv, &i);
            if (!v)
                return CLI_EXIT_USAGE;
            if (!platform_parse(v, &a->platform)) {
                cli_error(CMD,
                          "--platform: '%s' is not os/arch[/variant] (e.g. linux/amd64, "
                          "linux/arm64/v8)",
                          v);
                return CLI_EXIT_USAGE;
            }
            a->has_platform = true;
        } else if (cli_opt_is(s, "--tag")) {
            const char *v = cli_take_value(CMD, argc, argv, &i);
            if (!v)
                return CLI_EXIT_USAGE;
            if (!image_tag_valid(v)) {
                cli_error(CMD,
                          "--tag: '%s' is not a tag (1 to 128 letters, digits, '_', '.' or "
                          "'-', not starting with '.' or '-')",
                          v);
                return CLI_EXIT_USAGE;
            }
            a->tag = v;
        } else {
            int r = upload_option(&a->u, CMD, argc, argv, &i);
            if (r < 0)
                return CLI_EXIT_USAGE;
            if (r == 0) {
                static const char *const own[] = {"--tag", "--require-tag", "--platform", "--help",
                                                  NULL};
                cli_unknown_option(CMD, s, own, upload_option_names);
                return CLI_EXIT_USAGE;
            }
        }
    }
    if (!upload_settings_check(&a->u, CMD))
        return CLI_EXIT_USAGE;
    a->u.view_is_report = true;
    if (!a->source) {
        cli_error(CMD, "no image given (an OCI layout directory or an image tarball); run "
                       "'ecrup push --help'");
        return CLI_EXIT_USAGE;
    }
    return -1;
}

struct push {
    const struct args *a;
    const struct image_source *src;
    const char *tag;
    bool terminal; /* the live view is on a terminal: it was the blobs' report */
    /* The top manifest, once put (or found there): the run's last line says it. */
    bool image_put;
    char image_digest[72];
    size_t image_size;
};

/* Why a manifest is not put, when it is not: its blobs (or for an index, its manifests) that
 * failed. */
struct not_put {
    size_t failed, total;
    bool index;        /* its dependencies are manifests */
    const char *error; /* the first failure's: the cause, as --json "error" says it */
};

/* What docker's first line names: the registry URI as given; else the configured endpoint's
 * host and the name (what `docker push` shows for a local registry); else, with a registry id
 * and a region given, the ECR registry's host; else the name alone. Built in `b`. */
static const char *repository_reference(const struct upload_settings *u, struct ebuf *b)
{
    const char *url = u->common.endpoint_url;
    if (!url || !*url)
        url = getenv("AWS_ENDPOINT_URL_ECR");
    if (!url || !*url)
        url = getenv("AWS_ENDPOINT_URL");
    const char *region = u->common.region;
    if (!region || !*region)
        region = getenv("AWS_REGION");
    if (!region || !*region)
        region = getenv("AWS_DEFAULT_REGION");
    if (u->uri_account[0]) {
        ebuf_puts(b, u->repository_arg);
    } else if (url && *url) {
        const char *host = strstr(url, "://");
        host = host ? host + 3 : url;
        size_t len = strcspn(host, "/?#");
        const char *at = memchr(host, '@', len); /* never print a user or password */
        if (at) {
            len -= (size_t)(at + 1 - host);
            host = at + 1;
        }
        ebuf_printf(b, "%.*s/%s", (int)len, host, u->repository);
    } else if (u->registry_id && region && *region) {
        ebuf_printf(b, "%s.dkr.ecr.%s.amazonaws.com%s/%s", u->registry_id, region,
                    strncmp(region, "cn-", 3) ? "" : ".cn", u->repository);
    } else {
        ebuf_puts(b, u->repository);
    }
    return ebuf_ok(b) ? ebuf_str(b) : u->repository;
}

/* The index of blob `digest` in the source, or n_blobs. */
static size_t blob_index(const struct image_source *src, const char *digest)
{
    size_t k = 0;
    while (k < src->n_blobs && strcmp(src->blobs[k].digest, digest))
        k++;
    return k;
}

/* Whether descriptor `d` of `list` names a digest an earlier one did (docker save repeats a
 * layer; it is one blob). */
static bool named_before(const cJSON *list, const cJSON *d, const char *digest)
{
    for (const cJSON *e = list ? list->child : NULL; e && e != d; e = e->next) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(e, "digest");
        if (cJSON_IsString(x) && !strcmp(x->valuestring, digest))
            return true;
    }
    return false;
}

/* Count one dependency of manifest `mi`: a blob, or for an index one of its manifests. */
static void count_dep(const struct push *p, size_t mi, const char *digest,
                      const struct upload_outcome *outs, const struct ecrup_image_result *done,
                      struct not_put *np)
{
    size_t k = blob_index(p->src, digest);
    if (k < p->src->n_blobs) {
        np->total++;
        if (outs[k].outcome == ECRUP_OUTCOME_FAILED)
            np->error = np->failed++ ? np->error : outs[k].error;
        return;
    }
    for (size_t j = 0; j < mi; j++)
        if (!strcmp(p->src->manifests[j].digest, digest)) {
            np->total++;
            if (done[j].outcome == ECRUP_OUTCOME_FAILED)
                np->error = np->failed++ ? np->error : done[j].exception;
            return;
        }
    /* a foreign layer (urls, no blob): the registry does not need it */
}

/* What manifest `mi` names and how much of it failed; `done` holds the manifests before it. */
static void dependencies(const struct push *p, size_t mi, const struct upload_outcome *outs,
                         const struct ecrup_image_result *done, struct not_put *np)
{
    const struct image_manifest *m = &p->src->manifests[mi];
    *np = (struct not_put){0};
    cJSON *doc = cJSON_ParseWithLength(m->bytes, m->len);
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(doc, "config");
    const cJSON *cd = cJSON_GetObjectItemCaseSensitive(config, "digest");
    if (cJSON_IsString(cd))
        count_dep(p, mi, cd->valuestring, outs, done, np);
    for (int pass = 0; pass < 2; pass++) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, pass ? "manifests" : "layers");
        const cJSON *d;
        cJSON_ArrayForEach(d, list)
        {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(d, "digest");
            if (cJSON_IsString(x) && !named_before(list, d, x->valuestring))
                count_dep(p, mi, x->valuestring, outs, done, np);
        }
    }
    np->index = cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "manifests"));
    cJSON_Delete(doc);
}

/* A manifest that is not put: its result says why. */
static void not_put(struct ecrup_image_result *r, const struct image_manifest *m, const char *error,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void not_put(struct ecrup_image_result *r, const struct image_manifest *m, const char *error,
                    const char *fmt, ...)
{
    memset(r, 0, sizeof *r);
    r->outcome = ECRUP_OUTCOME_FAILED;
    r->status = ECRUP_E_CANCELLED; /* no PutImage was made */
    snprintf(r->digest, sizeof r->digest, "%s", m->digest);
    snprintf(r->exception, sizeof r->exception, "%s", error ? error : "InternalError");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

static void print_image(const struct push *p, const struct image_manifest *m, const char *tag,
                        const struct ecrup_image_result *r, bool sent, bool interrupted)
{
    const struct upload_settings *u = &p->a->u;
    const char *status = r->outcome == ECRUP_OUTCOME_UPLOADED ? "pushed"
                         : r->outcome == ECRUP_OUTCOME_EXISTS ? "exists"
                                                              : "failed";
    /* PutImage is one request: its sends beyond the first are retries. */
    unsigned requests = r->attempts ? 1 : 0, retries = r->attempts ? r->attempts - 1 : 0;
    struct ebuf msg = EBUF_INIT;
    if (u->json) {
        cJSON *j = cJSON_CreateObject();
        char num[3][16];
        snprintf(num[0], sizeof num[0], "%u", r->attempts);
        snprintf(num[1], sizeof num[1], "%u", requests);
        snprintf(num[2], sizeof num[2], "%u", retries);
        bool ok =
            j && cJSON_AddStringToObject(j, "image", p->a->source) &&
            cJSON_AddStringToObject(j, "manifest", m->digest) &&
            (m->media_type ? cJSON_AddStringToObject(j, "mediaType", m->media_type)
                           : cJSON_AddNullToObject(j, "mediaType")) &&
            (tag ? cJSON_AddStringToObject(j, "tag", tag) : cJSON_AddNullToObject(j, "tag")) &&
            cJSON_AddStringToObject(j, "status", status) &&
            cJSON_AddRawToObject(j, "attempts", num[0]) &&
            cJSON_AddRawToObject(j, "requests", num[1]) &&
            cJSON_AddRawToObject(j, "retries", num[2]);
        if (ok && r->outcome == ECRUP_OUTCOME_FAILED)
            ok = cJSON_AddStringToObject(j, "error", r->exception) &&
                 cJSON_AddStringToObject(j, "message", upload_redacted(&msg, r->message));
        if (!ok) {
            cJSON_Delete(j);
            j = NULL;
        }
        upload_print_json(j, m->digest);
    } else if (r->outcome == ECRUP_OUTCOME_FAILED) {
        if (interrupted)
            return; /* the report after Ctrl-C says what was not pushed */
        fflush(stdout);
        struct ebuf line = EBUF_INIT;
        if (sent)
            ebuf_printf(&line, "ecrup push: manifest %s: failed: %s\n", m->digest,
                        upload_failure_text(&msg, r->exception, r->message));
        else
            ebuf_printf(&line, "ecrup push: manifest %s: %s\n", m->digest,
                        upload_redacted(&msg, r->message));
        upload_print_fitted(stderr,
                            ebuf_ok(&line) ? ebuf_str(&line) : "ecrup push: (out of memory)\n");
        ebuf_free(&line);
    } else if (!u->common.quiet && !p->terminal) {
        /* On a terminal the image's closing line says it, docker's way. */
        const char *what = r->outcome == ECRUP_OUTCOME_UPLOADED ? "pushed" : "already there";
        if (tag)
            printf("%s: %s %s as %s:%s\n", p->a->source, what, m->digest, u->repository, tag);
        else if (m->top)
            printf("%s: %s %s (untagged: --tag names it)\n", p->a->source, what, m->digest);
        else
            printf("%s: %s %s (%s)\n", p->a->source, what, m->digest,
                   m->media_type ? m->media_type : "manifest");
        fflush(stdout);
    }
    ebuf_free(&msg);
}

/* The summary's word on the image: whether its top manifest was put. */
static void image_tail(const struct push *p, const struct upload_settings *u,
                       const struct ecrup_image_result *top, bool sent, struct ebuf *tail)
{
    static const char prefix[] = "not put: ";
    const char *why = top->message;
    if (!strncmp(why, prefix, sizeof prefix - 1))
        why += sizeof prefix - 1;
    if (top->outcome == ECRUP_OUTCOME_FAILED)
        ebuf_printf(tail, "image not put: %s", sent ? "PutImage failed" : why);
    else if (p->tag)
        ebuf_printf(tail, "image %s as %s:%s",
                    top->outcome == ECRUP_OUTCOME_UPLOADED ? "put" : "already there", u->repository,
                    p->tag);
    else
        ebuf_printf(tail, "image %s by digest %s",
                    top->outcome == ECRUP_OUTCOME_UPLOADED ? "put" : "already there", top->digest);
}

/* Every manifest gets its line: put, children first and the tagged one last, when all it
 * names is up; else not put, saying why (its blobs that failed, its manifests not put, an
 * interruption). */
static int put_manifests(struct ecrup_engine *engine, const struct upload_settings *u,
                         const struct upload_outcome *outs, size_t n, bool interrupted,
                         struct ebuf *tail, void *user)
{
    struct push *p = user;
    size_t nm = p->src->n_manifests;
    struct ecrup_image_result *done = calloc(nm ? nm : 1, sizeof *done);
    if (!done) {
        cli_error(CMD, "out of memory");
        return CLI_EXIT_FAILED;
    }
    int rc = CLI_EXIT_OK;
    bool sent = false;
    for (size_t i = 0; i < nm; i++) {
        const struct image_manifest *m = &p->src->manifests[i];
        const char *tag = m->top ? p->tag : NULL;
        struct not_put np;
        dependencies(p, i, outs, done, &np);
        sent = false;
        if (interrupted) {
            not_put(&done[i], m, ecrup_status_name(ECRUP_E_CANCELLED), "not put: interrupted");
        } else if (np.failed) {
            not_put(&done[i], m, np.error, "not put: %zu of its %zu %s %s", np.failed, np.total,
                    np.index ? "manifests" : "blobs",
                    np.index ? (np.failed == 1 ? "was not put" : "were not put") : "failed");
        } else if (!engine) {
            not_put(&done[i], m, n ? outs[0].error : NULL, "not put: nothing was sent");
        } else {
            struct ecrup_image im = {
                .repository = u->repository,
                .registry_id = u->registry_id,
                .manifest = m->bytes,
                .manifest_length = m->len,
                .media_type = m->media_type,
                .tag = tag,
            };
            ecrup_engine_put_image(engine, &im, &done[i]);
            sent = true;
        }
        print_image(p, m, tag, &done[i], sent, interrupted);
        if (done[i].outcome == ECRUP_OUTCOME_FAILED)
            rc = CLI_EXIT_FAILED;
    }
    if (nm && done[nm - 1].outcome != ECRUP_OUTCOME_FAILED) {
        p->image_put = true;
        snprintf(p->image_digest, sizeof p->image_digest, "%s", done[nm - 1].digest);
        p->image_size = p->src->manifests[nm - 1].len;
    }
    if (nm)
        image_tail(p, u, &done[nm - 1], sent, tail);
    free(done);
    return rc;
}

/* Untagged images are what lifecycle policies delete first, and `docker pull repo:latest`
 * does not find them: say so where a person looks. False when --require-tag makes it an
 * error (said). */
static bool tag_ok(const struct args *a, const struct image_source *src, const char *when)
{
    if (a->tag || src->tag)
        return true;
    if (a->require_tag) {
        cli_error(CMD, "%s names no tag and --require-tag is given: pass --tag TAG%s", a->source,
                  when);
        return false;
    }
    if (!a->u.common.quiet)
        cli_error(CMD,
                  "warning: %s names no tag, so the image will be pushed untagged (by "
                  "digest only; lifecycle policies often expire untagged images): pass "
                  "--tag TAG to name it, or --require-tag to make this an error",
                  a->source);
    return true;
}

/* docker push's first line: the repository the push goes to. */
static void print_opening(const struct args *a)
{
    if (a->u.json || a->u.common.quiet)
        return;
    struct ebuf ref = EBUF_INIT;
    printf("The push refers to repository [%s]\n", repository_reference(&a->u, &ref));
    fflush(stdout);
    ebuf_free(&ref);
}

/* docker push's last line: what `docker pull` and a deployment name the image by. */
static void print_closing(const struct args *a, const struct push *p)
{
    if (a->u.json || a->u.common.quiet || !p->image_put)
        return;
    char head[160];
    snprintf(head, sizeof head, "%s%sdigest:", p->tag ? p->tag : "", p->tag ? ": " : "");
    int cols = upload_terminal_columns(stdout);
    size_t wide = strlen(head) + strlen(p->image_digest) + 32;
    if (cols > 0 && wide >= (size_t)cols) /* 93 columns and more: one piece a line on 80 */
        printf("%s\n  %s\n  size: %zu\n", head, p->image_digest, p->image_size);
    else
        printf("%s %s size: %zu\n", head, p->image_digest, p->image_size);
    fflush(stdout);
}

/* A pushed stream's end: the image read from it, its tag checked, its manifests put with the
 * blobs' outcomes in the image's order. */
struct stream_push {
    struct push p;
    struct push_stream *ps;
};

static int stream_then(struct ecrup_engine *engine, const struct upload_settings *u,
                       const struct upload_outcome *outs, size_t n, bool interrupted,
                       struct ebuf *tail, void *user)
{
    struct stream_push *sp = user;
    const struct image_source *src = push_stream_image(sp->ps);
    if (!src) {
        ebuf_puts(tail, interrupted ? "image not put: interrupted"
                                    : "image not put: the tarball was not read to its end");
        return CLI_EXIT_FAILED;
    }
    if (!tag_ok(sp->p.a, src, " (the blobs are up; only the manifests were not put)")) {
        ebuf_puts(tail, "image not put: no tag");
        return CLI_EXIT_FAILED;
    }
    sp->p.src = src;
    sp->p.tag = sp->p.a->tag ? sp->p.a->tag : src->tag;
    struct upload_outcome *bo = calloc(src->n_blobs ? src->n_blobs : 1, sizeof *bo);
    if (!bo) {
        cli_error(CMD, "out of memory");
        return CLI_EXIT_FAILED;
    }
    for (size_t k = 0; k < src->n_blobs; k++) {
        size_t i = push_stream_blob_item(sp->ps, k);
        if (i < n)
            bo[k] = outs[i];
        else
            bo[k] = (struct upload_outcome){
                .outcome = ECRUP_OUTCOME_FAILED, .error = "Cancelled", .message = "not uploaded"};
    }
    int rc = put_manifests(engine, u, bo, src->n_blobs, interrupted, tail, &sp->p);
    free(bo);
    return rc;
}

/* True when `path` is a file whose first bytes say it is compressed: it is read as a stream
 * (gzip), or refused by the stream reader with the command that decompresses it. */
static bool compressed_file(const char *path)
{
    static const unsigned char magic[][6] = {{0x1f, 0x8b},
                                             {0x28, 0xb5, 0x2f, 0xfd},
                                             {0xfd, '7', 'z', 'X', 'Z', 0},
                                             {'B', 'Z', 'h'},
                                             {0x04, 0x22, 0x4d, 0x18}};
    static const size_t len[] = {2, 4, 6, 3, 4};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    unsigned char h[6] = {0};
    ssize_t got = read(fd, h, sizeof h);
    close(fd);
    for (size_t i = 0; got > 0 && i < sizeof len / sizeof len[0]; i++)
        if ((size_t)got >= len[i] && !memcmp(h, magic[i], len[i]))
            return true;
    return false;
}

/* `push -` or a compressed tarball: the blobs go up as their members pass. */
static int push_stream_main(struct args *a)
{
    bool from_stdin = !strcmp(a->source, "-");
    int fd = STDIN_FILENO;
    if (from_stdin && isatty(STDIN_FILENO)) {
        cli_error(CMD,
                  "'-' reads the image tarball from standard input, which is a terminal; "
                  "pipe it in, e.g. docker save app:v1 | ecrup push --repository %s -",
                  a->u.repository);
        return CLI_EXIT_USAGE;
    }
    if (!from_stdin && (fd = open(a->source, O_RDONLY | O_CLOEXEC)) < 0) {
        cli_error(CMD, "%s: cannot be read: %s", a->source, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    struct stream_push sp = {.p = {.a = a, .tag = a->tag, .terminal = upload_on_terminal(&a->u)}};
    struct ebuf err = EBUF_INIT;
    /* Small blobs read ahead and sent together: an eighth of the engine's memory limit at
     * most, and never over 64 MiB. */
    uint64_t limit = sizing_memory_limit(a->u.common.memory_limit);
    uint64_t batch = limit / 8 < (64u << 20) ? limit / 8 : (64u << 20);
    if (push_stream_open(a->source, fd, a->tag, a->has_platform ? &a->platform : NULL, batch,
                         &sp.ps, &err) != 0 ||
        push_stream_first(sp.ps, &err) != 0) {
        cli_error(CMD, "%s", ebuf_ok(&err) ? ebuf_str(&err) : "out of memory");
        ebuf_free(&err);
        push_stream_free(sp.ps);
        if (!from_stdin)
            close(fd);
        return CLI_EXIT_USAGE;
    }
    ebuf_free(&err);
    if (a->u.common.verbose)
        cli_error(CMD, "%s: reading the tarball as a stream (%s)", a->source,
                  push_stream_compression(sp.ps));
    print_opening(a);
    int rc = upload_run_feed(&a->u, CMD, push_stream_next, sp.ps, stream_then, &sp);
    print_closing(a, &sp.p);
    push_stream_free(sp.ps);
    if (!from_stdin)
        close(fd);
    return rc;
}

int push_main(int argc, char **argv)
{
    struct args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    if (!strcmp(a.source, "-") || compressed_file(a.source))
        return push_stream_main(&a);
    struct image_source src;
    struct ebuf err = EBUF_INIT;
    if (image_source_open(a.source, a.tag, a.has_platform ? &a.platform : NULL, &src, &err) != 0) {
        cli_error(CMD, "%s", ebuf_ok(&err) ? ebuf_str(&err) : "out of memory");
        ebuf_free(&err);
        return CLI_EXIT_USAGE;
    }
    ebuf_free(&err);
    if (!tag_ok(&a, &src, "")) {
        image_source_free(&src);
        return CLI_EXIT_USAGE;
    }
    struct upload_item *items = calloc(src.n_blobs ? src.n_blobs : 1, sizeof *items);
    char **names = calloc(src.n_blobs ? src.n_blobs : 1, sizeof *names);
    rc = CLI_EXIT_FAILED;
    if (!items || !names) {
        cli_error(CMD, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < src.n_blobs; i++) {
        const struct image_blob *b = &src.blobs[i];
        struct ebuf nm = EBUF_INIT;
        ebuf_printf(&nm, "%s/%s", a.source, b->name); /* the member of a tarball, the file of a
                                                          layout */
        names[i] = ebuf_take(&nm);
        if (!names[i]) {
            cli_error(CMD, "out of memory");
            goto out;
        }
        items[i] = (struct upload_item){
            .name = names[i],
            .path = b->path,
            .offset = b->offset,
            .length = b->size,
            .size = b->size,
            .digest = b->digest,
        };
    }
    struct push p = {
        .a = &a, .src = &src, .tag = a.tag ? a.tag : src.tag, .terminal = upload_on_terminal(&a.u)};
    print_opening(&a);
    rc = upload_run(&a.u, CMD, items, src.n_blobs, put_manifests, &p);
    print_closing(&a, &p);
out:
    for (size_t i = 0; names && i < src.n_blobs; i++)
        free(names[i]);
    free(names);
    free(items);
    image_source_free(&src);
    return rc;
}
