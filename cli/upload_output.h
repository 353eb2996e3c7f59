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
    unsigned parts;
    unsigned attempts;          /* sends: requests + retries */
    unsigned requests, retries; /* as struct ecrup_result counts them */
    uint64_t resumed_from;      /* bytes an earlier run's upload had left in the registry */
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
 * under --json, give every item a failed line with that reason; `outs` (n of them) receive
 * those failures. Returns the exit status. */
int upload_report_not_run(const struct upload_settings *s, const char *cmd,
                          const struct upload_item *items, size_t n, ecrup_status st,
                          const char *message, struct upload_outcome *outs);

/* True when the outcome failed because the repository does not exist: said once per run
 * (upload_print_results), not once per blob. */
bool upload_outcome_no_repository(const struct upload_outcome *o);

/* The line of every outcome as the settings ask: --json lines on stdout, else plain lines,
 * successes on stdout (none under --quiet, nor when `terse`: the live view said each already)
 * and failures on stderr (none after Ctrl-C: the interrupt report says them). Blobs that
 * failed for a missing repository get one message for them all on stderr, naming the
 * exception once, with how to create it. */
void upload_print_results(const struct upload_settings *s, const char *cmd,
                          const struct upload_outcome *outs, size_t n, bool interrupted,
                          bool terse);

/* Print `text` (whole lines) on `f`; on a terminal each line longer than its width is cut at
 * spaces, the rest indented two columns, so the terminal never wraps a line mid-word. */
void upload_print_fitted(FILE *f, const char *text);

/* Columns of the terminal `f` is, or 0 when it is none. */
int upload_terminal_columns(FILE *f);

/* The end of a run, after any `then` step: the summary (plain output only; `what` names what
 * was counted, "" for nothing, and `tail`, when not empty, follows the counts: what `then`
 * made of them), the report after Ctrl-C, and the exit status: 130 when interrupted, 1 when a
 * layer failed or `then` did not return 0, else 0. */
int upload_finish(const struct upload_settings *s, const char *cmd,
                  const struct upload_outcome *outs, size_t n, const struct upload_tally *t,
                  double seconds, bool interrupted, int then_status, const char *what,
                  const char *tail);

/* A failure as one phrase for a person: "ERROR: MESSAGE", or the message alone when it names
 * the error already (an ECR exception inside "OPERATION (after N attempts): ..."). Redacted,
 * in `b` (reset first). */
const char *upload_failure_text(struct ebuf *b, const char *error, const char *message);

/* Print JSON object `j` as one line on stdout and free it; NULL (out of memory while building
 * it) prints an error from `cmd` naming `what` instead. */
void upload_json_line(const char *cmd, cJSON *j, const char *what);

/* Redacted copy of `s` as a NUL-terminated string in `b` (reset first). */
const char *upload_redacted(struct ebuf *b, const char *s);

#endif
