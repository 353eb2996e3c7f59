#include "signer/clock.h"

#include <string.h>

#include "util/civil.h"

void sigv4_clock_init(struct sigv4_clock *c)
{
    atomic_init(&c->offset, 0);
}

time_t sigv4_clock_adjust(const struct sigv4_clock *c, time_t local)
{
    return c ? (time_t)((long long)local + atomic_load(&c->offset)) : local;
}

time_t sigv4_clock_now(const struct sigv4_clock *c)
{
    return sigv4_clock_adjust(c, time(NULL));
}

int64_t sigv4_clock_offset(const struct sigv4_clock *c)
{
    return c ? (int64_t)atomic_load(&c->offset) : 0;
}

void sigv4_clock_set_offset(struct sigv4_clock *c, int64_t offset)
{
    atomic_store(&c->offset, (long long)offset);
}

bool sigv4_clock_correct_at(struct sigv4_clock *c, const char *http_date, time_t local_now)
{
    time_t server;
    if (!c || !sigv4_parse_http_date(http_date, &server))
        return false;
    atomic_store(&c->offset, (long long)server - (long long)local_now);
    return true;
}

bool sigv4_clock_correct_from_date_header(struct sigv4_clock *c, const char *http_date)
{
    return sigv4_clock_correct_at(c, http_date, time(NULL));
}

/* ---- HTTP date parsing ------------------------------------------------------------------ */

static const char *const wkday_short[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const wkday_long[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                         "Friday", "Saturday", "Sunday"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Consumes one of `names` (exact case, as the RFC requires) at *p. */
static bool take_name(const char **p, const char *const *names, int n, int *which)
{
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        if (strncmp(*p, names[i], len) == 0) {
            *p += len;
            if (which)
                *which = i;
            return true;
        }
    }
    return false;
}

static bool take_lit(const char **p, const char *lit)
{
    size_t len = strlen(lit);
    if (strncmp(*p, lit, len) != 0)
        return false;
    *p += len;
    return true;
}

static bool take_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char ch = (*p)[i];
        if (ch < '0' || ch > '9')
            return false;
        v = v * 10 + (ch - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* "HH:MM:SS" */
static bool take_time(const char **p, int *h, int *m, int *s)
{
    return take_digits(p, 2, h) && take_lit(p, ":") && take_digits(p, 2, m) && take_lit(p, ":") &&
           take_digits(p, 2, s);
}

bool sigv4_parse_http_date(const char *s, time_t *out)
{
    if (!s)
        return false;
    while (*s == ' ' || *s == '\t')
        s++;
    const char *p = s;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
    bool ok = false;
    if (take_name(&p, wkday_short, 7, NULL) && take_lit(&p, ", ")) {
        /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
        ok = take_digits(&p, 2, &d) && take_lit(&p, " ") && take_name(&p, months, 12, &mo) &&
             take_lit(&p, " ") && take_digits(&p, 4, &y) && take_lit(&p, " ") &&
             take_time(&p, &h, &mi, &se) && take_lit(&p, " GMT");
    } else if ((p = s, take_name(&p, wkday_long, 7, NULL)) && take_lit(&p, ", ")) {
        /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
        ok = take_digits(&p, 2, &d) && take_lit(&p, "-") && take_name(&p, months, 12, &mo) &&
             take_lit(&p, "-") && take_digits(&p, 2, &y) && take_lit(&p, " ") &&
             take_time(&p, &h, &mi, &se) && take_lit(&p, " GMT");
        y += y < 70 ? 2000 : 1900;
    } else if ((p = s, take_name(&p, wkday_short, 7, NULL)) && take_lit(&p, " ")) {
        /* asctime: Sun Nov  6 08:49:37 1994 (day padded with a space, or two digits) */
        ok = take_name(&p, months, 12, &mo) && take_lit(&p, " ");
        if (ok) {
            if (*p == ' ') {
                p++;
                ok = take_digits(&p, 1, &d);
            } else {
                ok = take_digits(&p, 2, &d);
            }
        }
        ok = ok && take_lit(&p, " ") && take_time(&p, &h, &mi, &se) && take_lit(&p, " ") &&
             take_digits(&p, 4, &y);
    }
    if (!ok)
        return false;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    if (*p)
        return false;
    return civil_to_unix(y, mo + 1, d, h, mi, se, out);
}
