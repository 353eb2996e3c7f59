/* The signer's idea of the current time: local clock plus an offset learned from the server.
 *
 * When a server rejects a request as too far from its own time ("Signature expired",
 * RequestTimeTooSkewed), the engine feeds the response's Date header to
 * sigv4_clock_correct_from_date_header() and signs the retry with sigv4_clock_now().
 *
 * Thread safety: struct sigv4_clock may be shared by every thread; the offset is a single
 * atomic, so readers never see a torn value and never block. */
#ifndef ECRUP_SIGNER_CLOCK_H
#define ECRUP_SIGNER_CLOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct sigv4_clock {
    atomic_llong offset; /* seconds added to the local clock; 0 after init */
};

/* Zero offset. A zero-filled struct is also a valid clock. */
void sigv4_clock_init(struct sigv4_clock *c);

/* time(NULL) + offset. `c` may be NULL (plain local time). */
time_t sigv4_clock_now(const struct sigv4_clock *c);

/* `local` + offset: the pure form of sigv4_clock_now(). */
time_t sigv4_clock_adjust(const struct sigv4_clock *c, time_t local);

int64_t sigv4_clock_offset(const struct sigv4_clock *c);
void sigv4_clock_set_offset(struct sigv4_clock *c, int64_t offset);

/* Set the offset so that now() matches the server's Date header, taking `local_now` as the
 * local time the response arrived. Returns false (offset unchanged) when the header cannot
 * be parsed. */
bool sigv4_clock_correct_at(struct sigv4_clock *c, const char *http_date, time_t local_now);

/* sigv4_clock_correct_at() with local_now = time(NULL). */
bool sigv4_clock_correct_from_date_header(struct sigv4_clock *c, const char *http_date);

/* Parse an HTTP Date (RFC 7231 section 7.1.1.1) into Unix seconds: IMF-fixdate
 * ("Sun, 06 Nov 1994 08:49:37 GMT"), RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT"; two-digit
 * years 70-99 are 19xx, 00-69 are 20xx) and asctime ("Sun Nov  6 08:49:37 1994").
 * Surrounding whitespace is allowed; anything else (wrong names, out-of-range fields, a zone
 * other than GMT, trailing text) is rejected. Pure. */
bool sigv4_parse_http_date(const char *s, time_t *out);

#endif
