/* `ecrup push`: an image from disk (cli/image_source.c) into a repository: its blobs through
 * the upload both commands share (cli/upload.c), then its manifests with PutImage. */
#include "cli/push.h"

#include "cli/cli.h"
#include "cli/image_source.h"
#include "cli/platform.h"
#include "cli/upload.h"
#include "cli/upload_output.h"
#include "util/buf.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "push"

static const char help_text[] =
    "Usage: ecrup push --repository NAME [--tag TAG] [--require-tag] [--platform P]\n"
    "                  [--registry-id ID]\n"
    "                  [--json] [--no-check | --check-first] [--insecure] [COMMON OPTIONS]\n"
    "                  (OCI_LAYOUT_DIR | IMAGE.tar)\n"
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
    "                       names none and --tag is not given); without it a warning says so\n"
    "  --registry-id ID     the 12-digit account that owns the registry (default: the\n"
    "                       credentials' account)\n"
    "%s"
    "                       With --json, after the blobs' lines, one line per manifest:\n"
    "                         "
    "{\"image\":\"...\",\"manifest\":\"sha256:...\",\"mediaType\":\"...\",\n"
    "                          \"tag\":\"...\"|null,\"status\":\"pushed\"|\"exists\"|\"failed\",\n"
    "                          \"attempts\":N}  (failed: \"error\" and \"message\" too)\n"
    "  -h, --help           show this help\n"
    "\n"
    "%s"
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
        if (only_files || s[0] != '-') {
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
};

static void print_image(const struct push *p, const struct image_manifest *m, const char *tag,
                        const struct ecrup_image_result *r)
{
    const struct upload_settings *u = &p->a->u;
    const char *status = r->outcome == ECRUP_OUTCOME_UPLOADED ? "pushed"
                         : r->outcome == ECRUP_OUTCOME_EXISTS ? "exists"
                                                              : "failed";
    struct ebuf msg = EBUF_INIT;
    if (u->json) {
        cJSON *j = cJSON_CreateObject();
        char num[16];
        snprintf(num, sizeof num, "%u", r->attempts);
        bool ok =
            j && cJSON_AddStringToObject(j, "image", p->a->source) &&
            cJSON_AddStringToObject(j, "manifest", m->digest) &&
            (m->media_type ? cJSON_AddStringToObject(j, "mediaType", m->media_type)
                           : cJSON_AddNullToObject(j, "mediaType")) &&
            (tag ? cJSON_AddStringToObject(j, "tag", tag) : cJSON_AddNullToObject(j, "tag")) &&
            cJSON_AddStringToObject(j, "status", status) &&
            cJSON_AddRawToObject(j, "attempts", num);
        if (ok && r->outcome == ECRUP_OUTCOME_FAILED)
            ok = cJSON_AddStringToObject(j, "error", r->exception) &&
                 cJSON_AddStringToObject(j, "message", upload_redacted(&msg, r->message));
        if (!ok) {
            cJSON_Delete(j);
            j = NULL;
        }
        upload_print_json(j, m->digest);
    } else if (r->outcome == ECRUP_OUTCOME_FAILED) {
        fprintf(stderr, "ecrup push: manifest %s: failed: %s: %s\n", m->digest, r->exception,
                upload_redacted(&msg, r->message));
    } else if (!u->common.quiet) {
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

/* Every blob is up: put the manifests, children first, the tagged one last. */
static int put_manifests(struct ecrup_engine *engine, const struct upload_settings *u, void *user)
{
    const struct push *p = user;
    for (size_t i = 0; i < p->src->n_manifests; i++) {
        const struct image_manifest *m = &p->src->manifests[i];
        const char *tag = m->top ? p->tag : NULL;
        struct ecrup_image im = {
            .repository = u->repository,
            .registry_id = u->registry_id,
            .manifest = m->bytes,
            .manifest_length = m->len,
            .media_type = m->media_type,
            .tag = tag,
        };
        struct ecrup_image_result r;
        ecrup_engine_put_image(engine, &im, &r);
        print_image(p, m, tag, &r);
        if (r.outcome == ECRUP_OUTCOME_FAILED)
            return CLI_EXIT_FAILED;
    }
    return CLI_EXIT_OK;
}

int push_main(int argc, char **argv)
{
    struct args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    struct image_source src;
    struct ebuf err = EBUF_INIT;
    if (image_source_open(a.source, a.tag, a.has_platform ? &a.platform : NULL, &src, &err) != 0) {
        cli_error(CMD, "%s", ebuf_ok(&err) ? ebuf_str(&err) : "out of memory");
        ebuf_free(&err);
        return CLI_EXIT_USAGE;
    }
    ebuf_free(&err);
    if (!a.tag && !src.tag) {
        /* Untagged images are what lifecycle policies delete first, and `docker pull
         * repo:latest` does not find them: say so where a person looks, before anything
         * is sent. */
        if (a.require_tag) {
            cli_error(CMD, "%s names no tag and --require-tag is given: pass --tag TAG", a.source);
            image_source_free(&src);
            return CLI_EXIT_USAGE;
        }
        if (!a.u.common.quiet)
            cli_error(CMD,
                      "warning: %s names no tag, so the image will be pushed untagged (by "
                      "digest only; lifecycle policies often expire untagged images): pass "
                      "--tag TAG to name it, or --require-tag to make this an error",
                      a.source);
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
    struct push p = {.a = &a, .src = &src, .tag = a.tag ? a.tag : src.tag};
    rc = upload_run(&a.u, CMD, items, src.n_blobs, put_manifests, &p);
out:
    for (size_t i = 0; names && i < src.n_blobs; i++)
        free(names[i]);
    free(names);
    free(items);
    image_source_free(&src);
    return rc;
}
