/* What an upload run prints and the exit status it ends with, apart from the run itself:
 * the --json lines, the plain result lines and summary, the report after Ctrl-C (docs/cli.md
 * gives the contract). Main thread only, once the engine has run (or failed to start). */
#ifndef ECRUP_CLI_UPLOAD_OUTPUT_H
#define ECRUP_CLI_UPLOAD_OUTPUT_H

#include "cli/upload.h"

#include <cjson/cJSON.h>
#include <ecrup.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/buf.h"

/* What was reported of one blob. Strings borrowed (from the items or the engine). */
struct upload_outcome {
    const char *file;
    const char *digest; /* NULL: unknown */
    uint64_t size;
    ecrup_outcome outcome; /* never ECRUP_OUTCOME_PENDING */
    const char *error;     /* failures only: the ECR exception, else ecrup_status_name() */
    const char *message;   /* failures only; unredacted */
    unsigned parts, attempts;
    uint64_t resumed_from; /* bytes an earlier run's upload had left in the registry */
};

/* How a run's outcomes add up, for the summary and the exit status. */
struct upload_tally {
    size_t pushed, existed, failed;
    uint64_t bytes; /* of the blobs pushed */
};

/* The outcome of item `f` from the engine's result `r` (NULL: the engine gave none, which is
 * reported as an internal failure; a layer left pending counts as failed). */
void upload_outcome_from_result(struct upload_outcome *o, const struct upload_item *f,
                                const struct ecrup_result *r);

/* Count `o` in `t`. */
void upload_tally_add(struct upload_tally *t, const struct upload_outcome *o);

/* The engine could not start (or take a layer), so nothing ran: say why once on stderr and,
 * under --json, give every item a failed line with that reason. Returns the exit status. */
int upload_report_not_run(const struct upload_settings *s, const char *cmd,
                          const struct upload_item *items, size_t n, ecrup_status st,
                          const char *message);

/* The line of every outcome as the settings ask: --json lines on stdout, under --quiet the
 * failures on stderr (none after Ctrl-C: the interrupt report says it), else plain lines on
 * stdout. */
void upload_print_results(const struct upload_settings *s, const char *cmd,
                          const struct upload_outcome *outs, size_t n, bool interrupted);

/* The end of a run, after any `then` step: the summary (plain output only), the report
 * after Ctrl-C, and the exit status: 130 when interrupted, 1 when a layer failed or `then`
 * did not return 0, else 0. */
int upload_finish(const struct upload_settings *s, const char *cmd,
                  const struct upload_outcome *outs, size_t n, const struct upload_tally *t,
                  double seconds, bool interrupted, int then_status);

/* Print JSON object `j` as one line on stdout and free it; NULL (out of memory while building
 * it) prints an error from `cmd` naming `what` instead. */
void upload_json_line(const char *cmd, cJSON *j, const char *what);

/* Redacted copy of `s` as a NUL-terminated string in `b` (reset first). */
const char *upload_redacted(struct ebuf *b, const char *s);

#endif
