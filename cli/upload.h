/* What `ecrup upload-layer` and `ecrup push` share: the options that shape an upload, and one
 * engine run over a list of blobs with the live view and Ctrl-C handling. What the run
 * prints and its exit status are cli/upload_output.h's. */
#ifndef ECRUP_CLI_UPLOAD_H
#define ECRUP_CLI_UPLOAD_H

#include "cli/cli.h"

#include <cjson/cJSON.h>
#include <ecrup.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/buf.h"

/* The options of an upload. Strings are borrowed from argv. */
struct upload_settings {
    struct cli_common common;
    const char *repository;
    const char *repository_arg; /* --repository as given: the name, or a registry URI */
    const char *registry_id;
    bool json;
    bool no_check;
    bool check_first;
    bool insecure;
    double rates[4];        /* --max-rate per operation; 0: ECR's default */
    const char *state_dir;  /* --state-dir; NULL: ECRUP_STATE_DIR, XDG_STATE_HOME, ~/.local */
    bool no_resume;         /* --no-resume: no journal */
    bool create_repository; /* --create-repository: CreateRepository before the run */
    /* Set by the command, not an option: on a terminal the live view is the blobs' report (each
     * line ends Pushed, Layer already exists or Failed), so no result line is printed for the
     * blobs that landed. `ecrup push` sets it: its digests are the manifest's business. */
    bool view_is_report;
    /* --repository given as ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME: what the host said,
     * checked against --registry-id and --region once every option is read */
    char uri_account[13];
    char uri_region[64];
};

/* The help lines for the options upload_option() takes, except --repository and
 * --registry-id, which each command describes in its own words. */
extern const char upload_options_help[];

/* The long options upload_option() takes besides the common ones, NULL-terminated. */
extern const char *const upload_option_names[];

/* Try to consume argv[*i] (and its value) as an upload option: --repository, --registry-id,
 * --create-repository, --json, --no-check, --check-first, --max-rate, --insecure, or a common
 * option. Returns 1
 * when consumed, 0 when it is none of them, -1 after printing an error. `cmd` names the
 * command in errors. */
int upload_option(struct upload_settings *s, const char *cmd, int argc, char **argv, int *i);

/* The checks that need every option: --repository given, no contradiction; a --repository
 * given as a registry URI sets the registry id and the region. Returns false after printing an
 * error. */
bool upload_settings_check(struct upload_settings *s, const char *cmd);

/* One blob to upload. */
struct upload_item {
    const char *name;   /* what output calls it ("file" in --json lines) */
    const char *path;   /* the file holding it */
    uint64_t offset;    /* where in the file it starts */
    uint64_t length;    /* its size; 0: to the end of the file */
    uint64_t size;      /* its size, for the view before the engine knows */
    const char *digest; /* "sha256:<hex>" when known (the live view then shows docker's short
                           id, else the file's name); NULL: computed */
    ecrup_read_fn read; /* a stream (ecrup_layer.read): `path` only names it */
    void *read_user;
};

struct upload_outcome;

/* Once the blobs have been reported, with the engine alive (NULL when it could not start, and
 * then every outcome failed) and Ctrl-C still handled: what the command does next with what
 * became of the blobs, `outs` in the items' order (push puts the manifests whose blobs are
 * all up, and says of the others why not). It prints its own lines in the run's manner
 * (`json`, `quiet`), may put a phrase for the summary line in `tail`, and returns an exit
 * status. */
typedef int (*upload_then_fn)(struct ecrup_engine *engine, const struct upload_settings *s,
                              const struct upload_outcome *outs, size_t n, bool interrupted,
                              struct ebuf *tail, void *user);

/* Upload `items` and report them; then `then` (may be NULL). Returns
 * the exit status. Main thread only: installs a SIGINT handler for its duration. */
int upload_run(const struct upload_settings *s, const char *cmd, const struct upload_item *items,
               size_t n, upload_then_fn then, void *then_user);

/* Where the items of upload_run_feed() come from: called before the engine starts (`outs`
 * NULL) and after each run (`outs` holds the `done` outcomes so far, in the items' order), it
 * sets `*items` to every item so far (the array may move; the strings in it must stay where
 * they are until the run ends) and `*n` to their count, and returns 1 when it added some for
 * the next run, 0 when there are no more, -1 after printing why it stops (the items so far are
 * reported, `then` is not called, the exit status is 1). Main thread. */
typedef int (*upload_feed_fn)(void *user, const struct upload_outcome *outs, size_t done,
                              const struct upload_item **items, size_t *n);

/* upload_run() over items that come a few at a time (the blobs of a tarball on standard input,
 * each as its member passes): one engine, a run for each call of `next` that adds items. */
int upload_run_feed(const struct upload_settings *s, const char *cmd, upload_feed_fn next,
                    void *next_user, upload_then_fn then, void *then_user);

/* Print JSON object `j` as one line on stdout and free it; NULL (out of memory while building
 * it) prints an error naming `what` instead. */
void upload_print_json(cJSON *j, const char *what);

/* Whether the run shows the live view on a terminal (neither --json nor --quiet, and stdout or
 * stderr is one). */
bool upload_on_terminal(const struct upload_settings *s);

#endif
