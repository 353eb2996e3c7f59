/* ecrup: the command-line front end of libecrup. */
#include "cli/cli.h"
#include "cli/push.h"
#include "cli/upload_layer.h"
#include "server/serve_cli.h"
#include "util/suggest.h"

#include <stdio.h>
#include <string.h>

static const char usage_text[] =
    "Usage: ecrup COMMAND [OPTIONS]\n"
    "\n"
    "Push container image layers to Amazon ECR through the ECR API, fast.\n"
    "\n"
    "Commands:\n"
    "  upload-layer  upload layer files to a repository\n"
    "                  ecrup upload-layer --repository NAME [--registry-id ID]\n"
    "                                     [--digest sha256:HEX] [--json] FILE...\n"
    "  push          push an image (OCI layout directory or docker-save tarball)\n"
    "                  ecrup push --repository NAME [--tag TAG] (OCI_LAYOUT_DIR | IMAGE.tar)\n"
    "  serve         run a local ECR-compatible endpoint for tests and benchmarks\n"
    "                  ecrup serve [--listen 127.0.0.1:PORT] [--data-dir DIR] [--sink]\n"
    "                              [--faults SPEC] [--tls-cert F --tls-key F] [--repository "
    "NAME]...\n"
    "  config        show the region, endpoint and credentials ecrup would use, and why\n"
    "  help [COMMAND]  show help for a command\n"
    "\n"
    "Credentials come from the usual AWS places, in the AWS SDKs' order: AWS_ACCESS_KEY_ID and\n"
    "AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN), the shared files (~/.aws/credentials,\n"
    "~/.aws/config, AWS_PROFILE, credential_process), container credentials, then EC2 IMDSv2.\n"
    "\n"
    "Options:\n"
    "  -h, --help     show this help\n"
    "  --version      print the version\n"
    "\n";

struct command {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
};

static const struct command commands[] = {
    {"upload-layer", upload_layer_main},
    {"push", push_main},
    {"serve", server_cli_main},
    {"config", cli_config_main},
};

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

/* "no command 'pussh'; did you mean 'push'? ..." */
static void no_command(const char *name)
{
    static const char *const names[] = {"upload-layer", "push", "serve", "config", "help", NULL};
    const char *near = suggest_nearest(name, names);
    if (near)
        cli_error(NULL, "no command '%s'; did you mean '%s'? run 'ecrup --help' to see them", name,
                  near);
    else
        cli_error(NULL, "no command '%s'; run 'ecrup --help' to see them", name);
}

static void print_usage(FILE *f)
{
    fputs(usage_text, f);
    fputs(cli_common_help, f);
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("ecrup %s\n", ecrup_version());
        return CLI_EXIT_OK;
    }
    if (!strcmp(cmd, "help")) {
        if (argc < 3) {
            print_usage(stdout);
            return CLI_EXIT_OK;
        }
        const struct command *c = find_command(argv[2]);
        if (!c) {
            no_command(argv[2]);
            return CLI_EXIT_USAGE;
        }
        char *sub[] = {argv[2], (char *)"--help", NULL};
        return c->run(2, sub);
    }
    const struct command *c = find_command(cmd);
    if (!c) {
        no_command(cmd);
        return CLI_EXIT_USAGE;
    }
    return c->run(argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
    /* libcurl and OpenSSL are initialised once, before any thread exists. */
    if (ecrup_global_init() != ECRUP_OK) {
        cli_error(NULL, "cannot initialise libcurl");
        return CLI_EXIT_FAILED;
    }
    int rc = dispatch(argc, argv);
    ecrup_global_cleanup();
    return rc;
}
