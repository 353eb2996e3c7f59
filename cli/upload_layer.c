/* `ecrup upload-layer`: layer files named on the command line, uploaded through the upload
 * both commands share (cli/upload.c). */
#include "cli/upload_layer.h"

#include "cli/cli.h"
#include "cli/upload.h"
#include "util/hex.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CMD "upload-layer"

static const char help_text[] =
    "Usage: ecrup upload-layer --repository NAME [--registry-id ID] [--digest sha256:HEX]\n"
    "                          [--json] [--create-repository] [--no-check | --check-first]\n"
    "                          [--insecure]\n"
    "                          [COMMON OPTIONS] FILE...\n"
    "\n"
    "Upload layer blobs (files already compressed as they will be stored, such as the\n"
    "blobs/sha256/* of an OCI layout) to an Amazon ECR repository through the ECR API:\n"
    "BatchCheckLayerAvailability, InitiateLayerUpload, UploadLayerPart, CompleteLayerUpload.\n"
    "Layers go up in parallel, largest first; each one's parts go in order. A layer the\n"
    "repository already has is not sent again.\n"
    "\n"
    "FILE '-' is standard input, read once as it comes (a build compresses and pushes in one\n"
    "pass): its digest is computed from the parts as they go, so it is not checked for\n"
    "before it is sent unless --digest names it; the registry's copy, if it had one, is\n"
    "then reported as pushed. A pipe cannot be read again: a push killed or cut off midway\n"
    "starts over.\n"
    "\n"
    "Options:\n"
    "  --repository NAME    the ECR repository (required), e.g. team/app, or as the console\n"
    "                       shows it, 123456789012.dkr.ecr.us-west-2.amazonaws.com/team/app\n"
    "                       (the registry id and the region are then taken from it)\n"
    "  --registry-id ID     the 12-digit account that owns the registry (default: the\n"
    "                       credentials' account)\n"
    "  --digest sha256:HEX  the layer's digest when you already know it (one FILE only):\n"
    "                       saves reading the file twice; the service checks it at the end\n"
    "%s"
    "  -h, --help           show this help\n"
    "\n"
    "%s"
    "\n"
    "Output: on a terminal, one line per layer in the manner of docker push (Waiting,\n"
    "Hashing, Pushing with a bar, bytes and rate, Layer already exists, Pushed, Failed) and a\n"
    "summary; otherwise one line per layer and the summary once the upload ends (failures\n"
    "on stderr, the rest on stdout; a missing repository is said once, with how to create\n"
    "it). --quiet prints errors only; -v adds one line per request (operation, attempt, HTTP "
    "status,\n"
    "duration) on stderr, -vv more. Secrets are never printed.\n"
    "\n"
    "Environment, as the AWS SDKs read it (flags win): AWS_ACCESS_KEY_ID,\n"
    "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE,\n"
    "AWS_CONFIG_FILE, AWS_REGION, AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL,\n"
    "AWS_CA_BUNDLE, AWS_MAX_ATTEMPTS, AWS_RETRY_MODE, AWS_CONTAINER_CREDENTIALS_FULL_URI,\n"
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE),\n"
    "AWS_EC2_METADATA_SERVICE_ENDPOINT, HTTPS_PROXY, NO_PROXY.\n"
    "\n"
    "Exit status:\n"
    "  0    every layer was uploaded or was already there\n"
    "  1    a layer failed, or region, endpoint or credentials could not be resolved\n"
    "  2    the command line is wrong (nothing was sent)\n"
    "  130  interrupted by Ctrl-C (a second Ctrl-C quits at once)\n"
    "\n"
    "Examples:\n"
    "  ecrup upload-layer --repository team/app --region eu-west-1 layer1.tar.gz layer2.tar.gz\n"
    "  ecrup upload-layer --repository team/app --json oci/blobs/sha256/* > results.jsonl\n"
    "  ecrup upload-layer --repository app --digest sha256:9f86d0...0a08 layer.tar.gz\n"
    "  tar c -C rootfs . | zstd | ecrup upload-layer --repository team/app --json -\n"
    "  ecrup serve --listen 127.0.0.1:5000 --repository demo &  # a local endpoint; it\n"
    "                                       # prints a key pair to export when none is set\n"
    "  ecrup upload-layer --endpoint-url http://127.0.0.1:5000 --region us-east-1 \\\n"
    "                     --repository demo layer.tar.gz\n";

/* What the command line asked for. Strings are borrowed from argv. */
/* What the command line asked for. Strings are borrowed from argv. */
struct args {
    struct upload_settings u;
    const char *digest;
    char **files;
    size_t n_files;
};

/* Returns -1 when parsing went fine, else the exit status (help printed or usage error). */
static int parse_args(int argc, char **argv, struct args *a)
{
    memset(a, 0, sizeof *a);
    a->files = calloc((size_t)argc, sizeof *a->files);
    if (!a->files) {
        cli_error(CMD, "out of memory");
        return CLI_EXIT_FAILED;
    }
    bool only_files = false;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (only_files || s[0] != '-' || !strcmp(s, "-")) {
            a->files[a->n_files++] = argv[i];
            continue;
        }
        if (!strcmp(s, "--")) {
            only_files = true;
        } else if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            printf(help_text, upload_options_help, cli_common_help);
            return CLI_EXIT_OK;
        } else if (cli_opt_is(s, "--digest")) {
            const char *v = cli_take_value(CMD, argc, argv, &i);
            if (!v)
                return CLI_EXIT_USAGE;
            if (!sha256_digest_valid(v)) {
                cli_error(CMD,
                          "--digest: '%s' is not a layer digest ('sha256:' and 64 lowercase "
                          "hex digits)",
                          v);
                return CLI_EXIT_USAGE;
            }
            a->digest = v;
        } else {
            int r = upload_option(&a->u, CMD, argc, argv, &i);
            if (r < 0)
                return CLI_EXIT_USAGE;
            if (r == 0) {
                static const char *const own[] = {"--digest", "--help", NULL};
                cli_unknown_option(CMD, s, own, upload_option_names);
                return CLI_EXIT_USAGE;
            }
        }
    }
    if (!upload_settings_check(&a->u, CMD))
        return CLI_EXIT_USAGE;
    if (a->n_files == 0) {
        cli_error(CMD, "no layer FILE given; run 'ecrup upload-layer --help'");
        return CLI_EXIT_USAGE;
    }
    if (a->digest && a->n_files != 1) {
        cli_error(CMD, "--digest names one layer, but %zu files were given", a->n_files);
        return CLI_EXIT_USAGE;
    }
    return -1;
}

/* Standard input as a stream layer: read(2) on descriptor 0 as the engine asks. */
static ptrdiff_t read_stdin(void *user, void *buf, size_t len)
{
    (void)user;
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, len);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return -errno;
    }
}

/* "-": standard input, which must not be a terminal (a layer is bytes from a pipe or a file).
 * Returns -1, or the exit status after an error. */
static int stdin_item(const struct args *a, struct upload_item *item)
{
    if (isatty(STDIN_FILENO)) {
        cli_error(CMD,
                  "'-' reads the layer from standard input, which is a terminal; pipe it "
                  "in, e.g. tar c dir | zstd | ecrup upload-layer --repository %s -",
                  a->u.repository ? a->u.repository : "NAME");
        return CLI_EXIT_USAGE;
    }
    struct stat st;
    if (fstat(STDIN_FILENO, &st) != 0) {
        cli_error(CMD, "standard input cannot be read: %s", strerror(errno));
        return CLI_EXIT_USAGE;
    }
    if (S_ISDIR(st.st_mode)) {
        cli_error(CMD, "standard input is a directory; pipe the layer's bytes in");
        return CLI_EXIT_USAGE;
    }
    *item = (struct upload_item){
        .name = "-",
        .path = "-",
        .size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0,
        .digest = a->digest,
        .read = read_stdin,
    };
    return -1;
}

/* Every FILE must be a readable regular file, and "-" standard input once: checked before
 * anything is sent. */
static int check_files(const struct args *a, struct upload_item *items)
{
    bool stdin_taken = false;
    for (size_t i = 0; i < a->n_files; i++) {
        const char *p = a->files[i];
        if (!strcmp(p, "-")) {
            if (stdin_taken) {
                cli_error(CMD, "'-' (standard input) is given twice; it holds one layer");
                return CLI_EXIT_USAGE;
            }
            stdin_taken = true;
            int rc = stdin_item(a, &items[i]);
            if (rc >= 0)
                return rc;
            continue;
        }
        struct stat st;
        if (stat(p, &st) != 0) {
            cli_error(CMD, "%s: %s", p, errno == ENOENT ? "no such file" : strerror(errno));
            return CLI_EXIT_USAGE;
        }
        if (S_ISDIR(st.st_mode)) {
            cli_error(CMD, "%s is a directory; give the layer files themselves", p);
            return CLI_EXIT_USAGE;
        }
        if (!S_ISREG(st.st_mode)) {
            cli_error(CMD, "%s is not a regular file", p);
            return CLI_EXIT_USAGE;
        }
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            cli_error(CMD, "%s: cannot be read: %s", p, strerror(errno));
            return CLI_EXIT_USAGE;
        }
        close(fd);
        items[i] = (struct upload_item){
            .name = p,
            .path = p,
            .size = (uint64_t)st.st_size,
            .digest = a->digest,
        };
    }
    return -1;
}

int upload_layer_main(int argc, char **argv)
{
    struct args a;
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) {
        struct upload_item *items = calloc(a.n_files, sizeof *items);
        if (!items) {
            cli_error(CMD, "out of memory");
            rc = CLI_EXIT_FAILED;
        } else {
            rc = check_files(&a, items);
            if (rc < 0)
                rc = upload_run(&a.u, CMD, items, a.n_files, NULL, NULL);
            free(items);
        }
    }
    free(a.files);
    return rc;
}
