/* The thin CLI: each subcommand is a function taking the arguments after its name. */
#ifndef ECRUP_CLI_H
#define ECRUP_CLI_H

#include <ecrup.h>
#include <stdbool.h>
#include <stdint.h>

/* Exit statuses. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILED = 1,   /* some layer or request failed */
    CLI_EXIT_USAGE = 2,    /* bad command line */
    CLI_EXIT_SIGINT = 130, /* interrupted */
};

/* The options every subcommand that talks to ECR accepts. Strings are borrowed from argv. */
struct cli_common {
    const char *region;
    const char *endpoint_url;
    const char *profile;
    const char *ca_bundle;
    unsigned concurrency;
    uint64_t memory_limit;
    uint64_t part_size;
    bool quiet;
    int verbose; /* repeatable */
};

/* Try to consume argv[*i] (and its value) as a common option. Returns 1 when consumed,
 * 0 when it is not a common option, -1 after printing an error. */
int cli_common_option(struct cli_common *c, const char *cmd, int argc, char **argv, int *i);
/* Parse "512M", "1GiB", "20971520": binary units. False on garbage or overflow. */
bool cli_parse_size(const char *s, uint64_t *out);
/* The value of option argv[*i]: after its '=', else the next argument (*i advances).
 * NULL after printing an error when there is none. */
const char *cli_take_value(const char *cmd, int argc, char **argv, int *i);
/* True when `arg` is option `name` itself or `name=value`. */
bool cli_opt_is(const char *arg, const char *name);
/* The long options cli_common_option() takes, NULL-terminated. */
extern const char *const cli_common_options[];
/* Print "ecrup CMD: unknown option 'ARG'; did you mean '--NAME'? see 'ecrup CMD --help'", the
 * suggestion only when a name of `own`, `shared` (NULL-terminated, either may be NULL) or
 * cli_common_options is close to ARG (util/suggest.h). */
void cli_unknown_option(const char *cmd, const char *arg, const char *const *own,
                        const char *const *shared);
/* Print "ecrup CMD: message" to stderr. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ecrup_options.mfa_code for the CLI: asks "Enter MFA code for SERIAL: " on the controlling
 * terminal (/dev/tty, echo off, as the aws CLI's getpass), whatever stdin and stdout are.
 * Nonzero when there is no terminal or nothing was typed. */
int cli_mfa_prompt(void *user, const char *mfa_serial, char *code, size_t code_size);

extern const char cli_common_help[];

/* Subcommands. */
int cli_config_main(int argc, char **argv);

#endif
