/* Fault injection for `ecrup serve --faults SPEC`, so clients can be tested against a
 * misbehaving ECR: throttling, server errors, connections reset before or after the server
 * acted, slow replies and slow links. Repeatable with a seed.
 *
 * SPEC is a comma-separated list of items:
 *   seed=N                 random seed (default 1)
 *   delay=MS               fixed delay before every reply, in milliseconds
 *   bandwidth=SIZE         cap per connection on the request body, bytes/s (K, M, G: binary)
 *   hold=MS                how long the `hold` fault holds an upload (default 10000)
 *   OP:KIND=P[:KIND=P]...  for operation OP (e.g. UploadLayerPart, or * for every operation)
 *                          the probability P (0..1) of each KIND, or #N (the rule's Nth
 *                          request, counted from 1 in the order requests arrive) or #N-M (its
 *                          Nth to Mth): a count picks its requests before any draw
 *     throttle  HTTP 400 ThrottlingException, the request not acted on
 *     500       HTTP 500 ServerException, the request not acted on
 *     503       HTTP 503 ServiceUnavailableException, the request not acted on
 *     reset     the connection is reset once the request is read, before it is acted on
 *     lost      the request is acted on (committed), then the connection is reset: the
 *               reply is lost
 *     stall     the request is read, not acted on, and neither answered nor closed until the
 *               client closes the connection or the server stops: a stalled link
 *     hold      UploadLayerPart only: the body stops being read halfway, with the upload
 *               held as a part in progress (other parts are refused "being received"), for
 *               hold=MS; then the part is dropped and the connection reset: a link black-holed
 *               mid-body
 * Rules for a named operation take precedence over "*".
 *
 * Parsed once; draws are serialised by an internal lock, so any thread may draw. */
#ifndef ECRUP_SERVER_FAULTS_H
#define ECRUP_SERVER_FAULTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"

enum fault {
    FAULT_NONE,
    FAULT_THROTTLE,
    FAULT_500,
    FAULT_503,
    FAULT_RESET,
    FAULT_LOST,
    FAULT_STALL,
    FAULT_HOLD,
    FAULT_KINDS
};

struct fault_rule {
    char op[48];           /* "*" for every operation; longer names are refused */
    double p[FAULT_KINDS]; /* by enum fault */
    struct {
        unsigned from, to; /* 0: none */
    } nth[FAULT_KINDS];
    unsigned seen; /* requests this rule applied to; guarded by faults.mu */
};

struct faults {
    struct fault_rule rules[16];
    int n_rules;
    unsigned delay_ms;
    uint64_t bandwidth; /* bytes/s per connection; 0 = no cap */
    unsigned hold_ms;
    uint64_t seed;
    /* Lock-guarded. */
    pthread_mutex_t mu;
    uint64_t rng;
};

/* Parse SPEC into f (initialised here). Returns 0, or -1 with a message in err; after -1
 * there is nothing to clean up. */
int faults_parse(const char *spec, struct faults *f, struct ebuf *err);
/* Only after faults_parse() returned 0. */
void faults_cleanup(struct faults *f);
/* The fault to apply to one request of operation `op`, drawn when its headers arrive. */
enum fault faults_draw(struct faults *f, const char *op);

#endif
