#include "util/redact.h"

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- registry --------------------------------------------------------------------------- */

struct secret {
    char *s;
    size_t len;
    unsigned refs;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct secret *reg; /* guarded by reg_lock */
static size_t reg_n, reg_cap;

/* memset may be optimised away before free(); a volatile store is not. */
static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

int redact_register_secret(const char *secret)
{
    if (!secret)
        return 0;
    size_t len = strlen(secret);
    if (len < REDACT_MIN_SECRET)
        return 0;
    int rc = 0;
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < reg_n; i++) {
        if (reg[i].len == len && memcmp(reg[i].s, secret, len) == 0) {
            reg[i].refs++;
            goto out;
        }
    }
    if (reg_n == reg_cap) {
        size_t cap = reg_cap ? reg_cap * 2 : 8;
        struct secret *p = realloc(reg, cap * sizeof *p);
        if (!p) {
            rc = -1;
            goto out;
        }
        reg = p;
        reg_cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        rc = -1;
        goto out;
    }
    memcpy(copy, secret, len + 1);
    reg[reg_n++] = (struct secret){copy, len, 1};
out:
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

void redact_unregister_secret(const char *secret)
{
    if (!secret)
        return;
    size_t len = strlen(secret);
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < reg_n; i++) {
        if (reg[i].len == len && memcmp(reg[i].s, secret, len) == 0) {
            if (--reg[i].refs == 0) {
                wipe(reg[i].s, len);
                free(reg[i].s);
                reg[i] = reg[--reg_n];
            }
            break;
        }
    }
    pthread_mutex_unlock(&reg_lock);
}

void redact_clear_secrets(void)
{
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < reg_n; i++) {
        wipe(reg[i].s, reg[i].len);
        free(reg[i].s);
    }
    free(reg);
    reg = NULL;
    reg_n = reg_cap = 0;
    pthread_mutex_unlock(&reg_lock);
}

/* ---- scanning --------------------------------------------------------------------------- */

/* Names whose value is a secret in "name: v", "name=v", "\"name\": \"v\"" forms. */
static const char *const kv_names[] = {
    "x-amz-security-token",
    "x-aws-ec2-metadata-token",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_security_token",
    "aws_container_authorization_token",
    "secretaccesskey",
    "sessiontoken",
    "authorizationtoken",
    "token",
    "password",
};

/* XML elements whose text is a secret (STS and IMDS answers). */
static const char *const xml_names[] = {"secretaccesskey", "sessiontoken", "token"};

static bool is_word(unsigned char c)
{
    return isalnum(c) || c == '_';
}

static bool is_delim(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == ';' || c == '&' ||
           c == '"' || c == '\'' || c == '<' || c == '>' || c == ')' || c == '}' || c == ']' ||
           c == '\\';
}

static bool at_name(const char *t, size_t n, size_t i, const char *name, size_t *end)
{
    size_t len = strlen(name);
    if (n - i < len || strncasecmp(t + i, name, len) != 0)
        return false;
    if (i > 0 && is_word((unsigned char)t[i - 1]))
        return false;
    if (i + len < n && is_word((unsigned char)t[i + len]))
        return false;
    *end = i + len;
    return true;
}

static void mark(unsigned char *m, size_t from, size_t to)
{
    if (to > from)
        memset(m + from, 1, to - from);
}

/* After a name: optional closing quote, blanks, ':' or '=', blanks (and for `cross_lines`
 * line breaks), optional opening quote. Returns the value start or 0 when there is no
 * separator; *quote gets the opening quote character or 0. */
static size_t after_separator(const char *t, size_t n, size_t i, bool cross_lines, char *quote)
{
    if (i < n && (t[i] == '"' || t[i] == '\''))
        i++;
    while (i < n && (t[i] == ' ' || t[i] == '\t'))
        i++;
    if (i >= n || (t[i] != ':' && t[i] != '='))
        return 0;
    i++;
    while (i < n &&
           (t[i] == ' ' || t[i] == '\t' || (cross_lines && (t[i] == '\n' || t[i] == '\r'))))
        i++;
    *quote = 0;
    if (i < n && (t[i] == '"' || t[i] == '\'')) {
        *quote = t[i];
        i++;
    }
    return i;
}

/* Masks from `i` to the end of the value; returns where the value ends. */
static size_t mark_value(const char *t, size_t n, size_t i, char quote, bool to_eol,
                         unsigned char *m)
{
    size_t j = i;
    if (quote) {
        while (j < n && t[j] != quote && t[j] != '\n') {
            if (t[j] == '\\' && j + 1 < n)
                j++;
            j++;
        }
        if (j > n)
            j = n;
    } else if (to_eol) {
        while (j < n && t[j] != '\n' && t[j] != '\r')
            j++;
    } else {
        while (j < n && !is_delim(t[j]))
            j++;
    }
    mark(m, i, j);
    return j;
}

static void scan_structure(const char *t, size_t n, unsigned char *m)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)tolower((unsigned char)t[i]);
        size_t end, v;
        char q;
        if (c == '<') {
            for (size_t k = 0; k < sizeof xml_names / sizeof *xml_names; k++) {
                size_t len = strlen(xml_names[k]);
                if (n - i - 1 >= len + 1 && strncasecmp(t + i + 1, xml_names[k], len) == 0 &&
                    t[i + 1 + len] == '>') {
                    size_t j = i + 2 + len;
                    while (j < n && t[j] != '<')
                        j++;
                    mark(m, i + 2 + len, j);
                    break;
                }
            }
            continue;
        }
        if (c == 's' && at_name(t, n, i, "signature", &end) &&
            (v = after_separator(t, n, end, true, &q)) != 0) {
            mark_value(t, n, v, q, false, m);
            continue;
        }
        if (c == 'a' && at_name(t, n, i, "authorization", &end) &&
            (v = after_separator(t, n, end, false, &q)) != 0) {
            size_t alen = strlen("AWS4-HMAC-SHA256");
            if (n - v >= alen && strncasecmp(t + v, "AWS4-HMAC-SHA256", alen) == 0)
                continue; /* only its Signature= part is secret */
            size_t s = v;
            while (s < n && isalpha((unsigned char)t[s]))
                s++;
            /* "Basic xxx" / "Bearer xxx": keep the scheme, mask its credentials */
            if (s > v && s < n && t[s] == ' ' && s + 1 < n && !isspace((unsigned char)t[s + 1]))
                v = s + 1;
            mark_value(t, n, v, q, true, m);
            continue;
        }
        for (size_t k = 0; k < sizeof kv_names / sizeof *kv_names; k++) {
            if (c == (unsigned char)kv_names[k][0] && at_name(t, n, i, kv_names[k], &end) &&
                (v = after_separator(t, n, end, false, &q)) != 0) {
                mark_value(t, n, v, q, false, m);
                break;
            }
        }
    }
}

/* Called with reg_lock held. */
static void scan_registered(const char *t, size_t n, unsigned char *m)
{
    for (size_t k = 0; k < reg_n; k++) {
        const char *p = t;
        size_t left = n;
        const char *hit;
        while (left >= reg[k].len && (hit = memmem(p, left, reg[k].s, reg[k].len)) != NULL) {
            size_t at = (size_t)(hit - t);
            mark(m, at, at + reg[k].len);
            p = hit + 1;
            left = n - at - 1;
        }
    }
}

void redact_append(struct ebuf *out, const char *text, size_t len)
{
    if (!text || !len)
        return;
    unsigned char *m = calloc(len, 1);
    if (!m) {
        ebuf_puts(out, REDACT_MASK);
        return;
    }
    pthread_mutex_lock(&reg_lock);
    scan_registered(text, len, m);
    pthread_mutex_unlock(&reg_lock);
    scan_structure(text, len, m);
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        if (m[i]) {
            while (j < len && m[j])
                j++;
            ebuf_puts(out, REDACT_MASK);
        } else {
            while (j < len && !m[j])
                j++;
            ebuf_append(out, text + i, j - i);
        }
        i = j;
    }
    free(m);
}

void redact_puts(struct ebuf *out, const char *text)
{
    if (text)
        redact_append(out, text, strlen(text));
}
