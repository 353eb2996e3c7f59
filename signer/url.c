/* URL splitting shared by the endpoint parser, the SigV4 Host value and message masking. */
#include "signer/url.h"

#include <string.h>

bool url_split(const char *url, struct url_parts *out)
{
    memset(out, 0, sizeof *out);
    const char *sep = url ? strstr(url, "://") : NULL;
    if (!sep)
        return false;
    out->scheme = url;
    out->scheme_len = (size_t)(sep - url);
    out->authority = sep + 3;
    out->authority_len = strcspn(out->authority, "/?#");
    out->rest = out->authority + out->authority_len;

    /* User info ends at the authority's last '@': a password may contain '@' unescaped. */
    const char *host = out->authority;
    size_t n = out->authority_len;
    for (size_t i = n; i > 0; i--) {
        if (host[i - 1] == '@') {
            out->userinfo = host;
            out->userinfo_len = i - 1;
            host += i;
            n -= i;
            break;
        }
    }
    out->host = host;
    const char *colon;
    if (n && host[0] == '[') {
        out->bracketed = true;
        const char *close = memchr(host, ']', n);
        if (!close) {
            out->host_len = n;
            out->problem = URL_HOST_UNCLOSED;
            return true;
        }
        out->host_len = (size_t)(close - host) + 1;
        if (out->host_len == n)
            return true;
        if (host[out->host_len] != ':') {
            out->problem = URL_HOST_TRAILING;
            return true;
        }
        colon = host + out->host_len;
    } else {
        colon = memchr(host, ':', n);
        out->host_len = colon ? (size_t)(colon - host) : n;
        if (!colon)
            return true;
    }
    out->port = colon + 1;
    out->port_len = n - out->host_len - 1;
    return true;
}

bool url_port_number(const char *digits, size_t len, unsigned *out)
{
    if (len == 0 || len > 5)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (digits[i] < '0' || digits[i] > '9')
            return false;
        v = v * 10 + (unsigned)(digits[i] - '0');
    }
    if (v > 65535)
        return false;
    *out = v;
    return true;
}
