/* The UploadLayerPart body parsed as it streams in (partbody.h): JSON members in any order and
 * layerPartBlob's base64 decoded chunk by chunk, so a part is never held whole in memory. */
#include "server/partbody.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    ST_START,       /* before '{' */
    ST_KEY_OR_END,  /* after '{': a key or '}' */
    ST_KEY_NEXT,    /* after ',': a key */
    ST_KEY,         /* inside a key string */
    ST_COLON,       /* after a key */
    ST_VALUE,       /* before a value */
    ST_STR,         /* inside a small string value */
    ST_BLOB,        /* inside layerPartBlob */
    ST_NUM,         /* inside a number */
    ST_LIT,         /* inside true/false/null */
    ST_SKIP,        /* inside a nested value of an unknown member */
    ST_AFTER_VALUE, /* ',' or '}' */
    ST_DONE,        /* after the closing '}' */
    ST_ERROR,
};

enum {
    F_UNKNOWN,
    F_REGISTRY_ID,
    F_REPOSITORY_NAME,
    F_UPLOAD_ID,
    F_FIRST,
    F_LAST,
    F_BLOB,
};

/* base64 alphabet to value; 0x80 for everything else. Filled once, read by every thread. */
static uint8_t b64val[256];
static pthread_once_t b64val_once = PTHREAD_ONCE_INIT;

static void b64_fill(void)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    memset(b64val, 0x80, sizeof b64val);
    for (unsigned i = 0; i < 64; i++)
        b64val[(unsigned char)abc[i]] = (uint8_t)i;
}

void partbody_init(struct partbody *p, bool count_only, const struct partbody_hooks *hooks)
{
    pthread_once(&b64val_once, b64_fill);
    memset(p, 0, offsetof(struct partbody, out));
    p->out_len = 0;
    p->error_type = "";
    if (hooks)
        p->hooks = *hooks;
    p->count_only = count_only;
    p->state = ST_START;
}

void partbody_fail(struct partbody *p, const char *type, const char *fmt, ...)
{
    if (p->state == ST_ERROR && p->error[0])
        return;
    p->state = ST_ERROR;
    p->error_type = type;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->error, sizeof p->error, fmt, ap);
    va_end(ap);
}

static int bad_json(struct partbody *p, const char *what)
{
    partbody_fail(p, "SerializationException", "Malformed request body: %s", what);
    return -1;
}

static int flush_out(struct partbody *p)
{
    if (p->out_len == 0)
        return 0;
    size_t n = p->out_len;
    p->out_len = 0;
    if (p->hooks.blob_data && p->hooks.blob_data(p->hooks.user, p, p->out, n) != 0) {
        partbody_fail(p, "ServerException", "could not store the layer part");
        return -1;
    }
    return 0;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int key_done(struct partbody *p)
{
    static const struct {
        const char *name;
        int field;
    } keys[] = {
        {"registryId", F_REGISTRY_ID}, {"repositoryName", F_REPOSITORY_NAME},
        {"uploadId", F_UPLOAD_ID},     {"partFirstByte", F_FIRST},
        {"partLastByte", F_LAST},      {"layerPartBlob", F_BLOB},
    };
    p->field = F_UNKNOWN;
    if (!p->key_long)
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            if (strlen(keys[i].name) == p->key_len && !memcmp(keys[i].name, p->key, p->key_len))
                p->field = keys[i].field;
    return 0;
}

static int wrong_type(struct partbody *p)
{
    static const char *names[] = {"",
                                  "registryId",
                                  "repositoryName",
                                  "uploadId",
                                  "partFirstByte",
                                  "partLastByte",
                                  "layerPartBlob"};
    partbody_fail(p, "SerializationException", "Wrong type for member %s", names[p->field]);
    return -1;
}

static int string_done(struct partbody *p)
{
    char *dst = NULL;
    size_t cap = 0;
    bool *has = NULL;
    switch (p->field) {
    case F_REGISTRY_ID:
        dst = p->registry_id, cap = sizeof p->registry_id, has = &p->has_registry_id;
        break;
    case F_REPOSITORY_NAME:
        dst = p->repository_name, cap = sizeof p->repository_name, has = &p->has_repository_name;
        break;
    case F_UPLOAD_ID:
        dst = p->upload_id, cap = sizeof p->upload_id, has = &p->has_upload_id;
        break;
    default:
        return 0;
    }
    if (p->sval_long || p->sval_len >= cap || memchr(p->sval, '\0', p->sval_len)) {
        /* Too long for the model's constraints: the name checks refuse it later. */
        partbody_fail(p, "InvalidParameterException",
                      "Invalid parameter: a string member is longer than the model allows");
        return -1;
    }
    memcpy(dst, p->sval, p->sval_len);
    dst[p->sval_len] = '\0';
    *has = true;
    return 0;
}

static int number_done(struct partbody *p)
{
    p->num[p->num_len] = '\0';
    if (p->field != F_FIRST && p->field != F_LAST)
        return 0;
    /* PartSize is a long >= 0: plain digits only. */
    if (p->num_len == 0 || p->num_len > 18)
        return bad_json(p, "part byte offset out of range");
    for (size_t i = 0; i < p->num_len; i++)
        if (p->num[i] < '0' || p->num[i] > '9')
            return wrong_type(p);
    int64_t v = strtoll(p->num, NULL, 10);
    if (p->field == F_FIRST)
        p->part_first_byte = v, p->has_first = true;
    else
        p->part_last_byte = v, p->has_last = true;
    return 0;
}

/* Count-only blob scan: find the closing quote, count characters, remember the last two. */
static size_t blob_count(struct partbody *p, const char *s, size_t n)
{
    const char *q = memchr(s, '"', n);
    size_t m = q ? (size_t)(q - s) : n;
    p->blob_chars += m;
    if (m >= 2) {
        p->tail[0] = s[m - 2];
        p->tail[1] = s[m - 1];
    } else if (m == 1) {
        p->tail[0] = p->tail[1];
        p->tail[1] = s[0];
    }
    if (!q)
        return n;
    if (p->blob_chars % 4) {
        partbody_fail(p, "SerializationException", "layerPartBlob is not valid base64");
        return n;
    }
    unsigned pads = 0;
    if (p->blob_chars >= 1 && p->tail[1] == '=')
        pads++;
    if (p->blob_chars >= 2 && p->tail[0] == '=' && pads == 1)
        pads++;
    p->blob_size = p->blob_chars / 4 * 3 - pads;
    p->has_blob = true;
    p->state = ST_AFTER_VALUE;
    return m + 1;
}

static int emit_quad(struct partbody *p)
{
    if (sizeof p->out - p->out_len < 3 && flush_out(p) != 0)
        return -1;
    uint32_t v = p->quad;
    int nbytes = 3 - p->pad;
    p->out[p->out_len++] = (uint8_t)(v >> 16);
    if (nbytes > 1)
        p->out[p->out_len++] = (uint8_t)(v >> 8);
    if (nbytes > 2)
        p->out[p->out_len++] = (uint8_t)v;
    p->blob_size += (uint64_t)nbytes;
    p->quad = 0;
    p->nq = 0;
    return 0;
}

static int bad_b64(struct partbody *p)
{
    partbody_fail(p, "SerializationException", "layerPartBlob is not valid base64");
    return -1;
}

/* Decoding blob scan. Returns bytes consumed, or -1. */
static long blob_decode(struct partbody *p, const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (p->nq == 0 && p->pad == 0 && !p->esc) {
            /* The hot loop: whole quads of plain alphabet. */
            size_t o = p->out_len;
            uint8_t *out = p->out;
            while (i + 4 <= n && o + 3 <= sizeof p->out) {
                uint32_t a = b64val[s[i]], b = b64val[s[i + 1]], c = b64val[s[i + 2]],
                         d = b64val[s[i + 3]];
                if ((a | b | c | d) & 0x80)
                    break;
                uint32_t v = a << 18 | b << 12 | c << 6 | d;
                out[o] = (uint8_t)(v >> 16);
                out[o + 1] = (uint8_t)(v >> 8);
                out[o + 2] = (uint8_t)v;
                o += 3;
                i += 4;
            }
            p->blob_size += o - p->out_len;
            p->out_len = o;
            if (o + 3 > sizeof p->out) {
                if (flush_out(p) != 0)
                    return -1;
                continue;
            }
            if (i >= n)
                break;
        }
        uint8_t ch = s[i++];
        if (p->esc) {
            /* "\/" is the only JSON escape a base64 character can need. */
            if (ch != '/')
                return bad_b64(p);
            p->esc = false;
        } else if (ch == '\\') {
            p->esc = true;
            continue;
        } else if (ch == '"') {
            if (p->nq != 0)
                return bad_b64(p);
            if (flush_out(p) != 0)
                return -1;
            p->has_blob = true;
            p->state = ST_AFTER_VALUE;
            return (long)i;
        } else if (ch == '=') {
            if (p->nq < 2)
                return bad_b64(p);
            p->pad++;
            p->quad <<= 6;
            if (++p->nq == 4 && emit_quad(p) != 0)
                return -1;
            continue;
        }
        uint32_t v = b64val[ch];
        if ((v & 0x80) || p->pad)
            return bad_b64(p);
        p->quad = p->quad << 6 | v;
        if (++p->nq == 4 && emit_quad(p) != 0)
            return -1;
    }
    return (long)i;
}

int partbody_feed(struct partbody *p, const void *data, size_t n)
{
    const char *s = data;
    size_t i = 0;
    while (i < n) {
        if (p->state == ST_ERROR)
            return -1;
        if (p->state == ST_BLOB) {
            if (p->count_only) {
                i += blob_count(p, s + i, n - i);
            } else {
                long used = blob_decode(p, (const uint8_t *)s + i, n - i);
                if (used < 0)
                    return -1;
                i += (size_t)used;
            }
            continue;
        }
        char c = s[i++];
        switch (p->state) {
        case ST_START:
            if (is_ws(c))
                break;
            if (c != '{')
                return bad_json(p, "expected an object");
            p->state = ST_KEY_OR_END;
            break;
        case ST_KEY_OR_END:
        case ST_KEY_NEXT:
            if (is_ws(c))
                break;
            if (c == '}' && p->state == ST_KEY_OR_END) {
                p->state = ST_DONE;
                break;
            }
            if (c != '"')
                return bad_json(p, "expected a member name");
            p->key_len = 0;
            p->key_long = false;
            p->esc = false;
            p->state = ST_KEY;
            break;
        case ST_KEY:
            if (p->esc) {
                p->esc = false;
                p->key_long = true; /* no known key needs an escape */
                break;
            }
            if (c == '\\') {
                p->esc = true;
                break;
            }
            if (c == '"') {
                key_done(p);
                p->state = ST_COLON;
                break;
            }
            if ((unsigned char)c < 0x20)
                return bad_json(p, "control character in a string");
            if (p->key_len < sizeof p->key)
                p->key[p->key_len++] = c;
            else
                p->key_long = true;
            break;
        case ST_COLON:
            if (is_ws(c))
                break;
            if (c != ':')
                return bad_json(p, "expected ':'");
            p->state = ST_VALUE;
            break;
        case ST_VALUE:
            if (is_ws(c))
                break;
            if (c == '"') {
                if (p->field == F_BLOB) {
                    if (p->has_blob)
                        return bad_json(p, "layerPartBlob given twice");
                    if (p->hooks.blob_start && p->hooks.blob_start(p->hooks.user, p) != 0) {
                        if (p->state != ST_ERROR)
                            partbody_fail(p, "ServerException", "could not start the part");
                        return -1;
                    }
                    p->quad = 0;
                    p->nq = p->pad = 0;
                    p->esc = false;
                    p->blob_chars = 0;
                    p->state = ST_BLOB;
                    break;
                }
                if (p->field == F_FIRST || p->field == F_LAST)
                    return wrong_type(p);
                p->sval_len = 0;
                p->sval_long = false;
                p->esc = false;
                p->state = ST_STR;
            } else if (c == '-' || (c >= '0' && c <= '9')) {
                if (p->field != F_UNKNOWN && p->field != F_FIRST && p->field != F_LAST)
                    return wrong_type(p);
                p->num_len = 0;
                p->num[p->num_len++] = c;
                p->state = ST_NUM;
            } else if (c == 't' || c == 'f' || c == 'n') {
                if (p->field != F_UNKNOWN && c != 'n')
                    return wrong_type(p);
                p->num_len = 0;
                p->num[p->num_len++] = c;
                p->state = ST_LIT;
            } else if (c == '{' || c == '[') {
                if (p->field != F_UNKNOWN)
                    return wrong_type(p);
                p->skip_depth = 1;
                p->skip_in_str = p->skip_esc = false;
                p->state = ST_SKIP;
            } else {
                return bad_json(p, "expected a value");
            }
            break;
        case ST_STR:
            if (p->esc) {
                p->esc = false;
                char e = 0;
                switch (c) {
                case '"':
                    e = '"';
                    break;
                case '\\':
                    e = '\\';
                    break;
                case '/':
                    e = '/';
                    break;
                case 'b':
                    e = '\b';
                    break;
                case 'f':
                    e = '\f';
                    break;
                case 'n':
                    e = '\n';
                    break;
                case 'r':
                    e = '\r';
                    break;
                case 't':
                    e = '\t';
                    break;
                case 'u':
                    e = '?';
                    p->sval_long = true;
                    break; /* never valid in these members */
                default:
                    return bad_json(p, "bad escape in a string");
                }
                c = e;
            } else if (c == '\\') {
                p->esc = true;
                break;
            } else if (c == '"') {
                if (string_done(p) != 0)
                    return -1;
                p->state = ST_AFTER_VALUE;
                break;
            } else if ((unsigned char)c < 0x20) {
                return bad_json(p, "control character in a string");
            }
            if (p->sval_len < sizeof p->sval)
                p->sval[p->sval_len++] = c;
            else
                p->sval_long = true;
            break;
        case ST_NUM:
            if ((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' ||
                c == '-') {
                if (p->num_len + 1 >= sizeof p->num)
                    return bad_json(p, "number too long");
                p->num[p->num_len++] = c;
                break;
            }
            if (number_done(p) != 0)
                return -1;
            p->state = ST_AFTER_VALUE;
            i--; /* the delimiter belongs to the next state */
            break;
        case ST_LIT:
            if (c >= 'a' && c <= 'z') {
                if (p->num_len + 1 >= sizeof p->num)
                    return bad_json(p, "bad literal");
                p->num[p->num_len++] = c;
                break;
            }
            p->num[p->num_len] = '\0';
            if (strcmp(p->num, "true") && strcmp(p->num, "false") && strcmp(p->num, "null"))
                return bad_json(p, "bad literal");
            p->state = ST_AFTER_VALUE;
            i--;
            break;
        case ST_SKIP:
            if (p->skip_in_str) {
                if (p->skip_esc)
                    p->skip_esc = false;
                else if (c == '\\')
                    p->skip_esc = true;
                else if (c == '"')
                    p->skip_in_str = false;
            } else if (c == '"') {
                p->skip_in_str = true;
            } else if (c == '{' || c == '[') {
                if (++p->skip_depth > 64)
                    return bad_json(p, "nested too deeply");
            } else if (c == '}' || c == ']') {
                if (--p->skip_depth == 0)
                    p->state = ST_AFTER_VALUE;
            }
            break;
        case ST_AFTER_VALUE:
            if (is_ws(c))
                break;
            if (c == ',')
                p->state = ST_KEY_NEXT;
            else if (c == '}')
                p->state = ST_DONE;
            else
                return bad_json(p, "expected ',' or '}'");
            break;
        case ST_DONE:
            if (!is_ws(c))
                return bad_json(p, "data after the object");
            break;
        default:
            return -1;
        }
    }
    return p->state == ST_ERROR ? -1 : 0;
}

int partbody_finish(struct partbody *p)
{
    if (p->state == ST_ERROR)
        return -1;
    if (p->state != ST_DONE)
        return bad_json(p, "the body ended early");
    const char *missing = !p->has_repository_name ? "repositoryName"
                          : !p->has_upload_id     ? "uploadId"
                          : !p->has_first         ? "partFirstByte"
                          : !p->has_last          ? "partLastByte"
                          : !p->has_blob          ? "layerPartBlob"
                                                  : NULL;
    if (missing) {
        partbody_fail(p, "InvalidParameterException", "Missing required parameter: %s", missing);
        return -1;
    }
    return 0;
}
