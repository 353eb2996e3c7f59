/* URL splitting for the three places that take an endpoint URL apart: the endpoint parser
 * (endpoint_parse_url), the Host value SigV4 signs (sigv4_host_from_url), and the masking of
 * user info in messages. Each applies its own rules on top; this only says where the parts
 * are, so the three cannot disagree about them.
 *
 * Thread safety: pure functions over the caller's string. */
#ifndef ECRUP_SIGNER_URL_H
#define ECRUP_SIGNER_URL_H

#include <stdbool.h>
#include <stddef.h>

/* What is wrong with the host part, found while splitting; the caller words it. */
enum url_host_problem {
    URL_HOST_FINE = 0,
    URL_HOST_UNCLOSED, /* '[' without a ']' in the authority */
    URL_HOST_TRAILING, /* something other than ':' follows the ']' */
};

/* Spans into the URL given to url_split(); lengths exclude any terminator. */
struct url_parts {
    const char *scheme; /* the text before the first "://", as written (may be empty, and may
                           contain '/', '?' or '#': the caller decides whether that is a scheme) */
    size_t scheme_len;
    const char *authority; /* after "://" up to the first '/', '?' or '#' */
    size_t authority_len;
    const char *userinfo; /* the authority up to its last '@'; NULL when it has none */
    size_t userinfo_len;
    const char *host; /* after the user info: a name, an address, or "[...]" with brackets */
    size_t host_len;
    bool bracketed;                /* host starts with '[' (an IPv6 literal) */
    enum url_host_problem problem; /* for a bracketed host; host then covers what is known */
    const char *port;              /* the digits after the host's ':'; NULL when there is no ':' */
    size_t port_len;               /* 0 for "host:" */
    const char *rest; /* path, query and fragment: the rest of the URL ("" when none) */
};

/* Split `url` at "://", the authority, the last '@', the host's ':' (outside brackets).
 * Returns false only when there is no "://"; *out is then zeroed. */
bool url_split(const char *url, struct url_parts *out);

/* A port's digits as a number: 1-5 ASCII digits, at most 65535 (0 included). False
 * otherwise. */
bool url_port_number(const char *digits, size_t len, unsigned *out);

#endif
