/* UploadLayerPart bodies: JSON members around a base64 blob, hashed as they are written. */
#include "engine/payload.h"

#include "util/hex.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base64.h"
#include "engine/sha256.h"

#define MAX_LONG ((uint64_t)INT64_MAX) /* ECR's partFirstByte/partLastByte are Longs */

/* Bytes `s` takes as the inside of a JSON string. */
static size_t escaped_len(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\' || *p == '\b' || *p == '\f' || *p == '\n' || *p == '\r' ||
            *p == '\t')
            n += 2;
        else if (*p < 0x20)
            n += 6; /* \u00XX */
        else
            n += 1;
    }
    return n;
}

static char *put_escaped(char *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char short_form = 0;
        switch (*p) {
        case '"':
            short_form = '"';
            break;
        case '\\':
            short_form = '\\';
            break;
        case '\b':
            short_form = 'b';
            break;
        case '\f':
            short_form = 'f';
            break;
        case '\n':
            short_form = 'n';
            break;
        case '\r':
            short_form = 'r';
            break;
        case '\t':
            short_form = 't';
            break;
        default:
            break;
        }
        if (short_form) {
            *o++ = '\\';
            *o++ = short_form;
        } else if (*p < 0x20) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[*p >> 4];
            o[5] = hex[*p & 15];
            o += 6;
        } else {
            *o++ = (char)*p;
        }
    }
    return o;
}

static size_t digits(uint64_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

static char *put_u64(char *o, uint64_t v)
{
    size_t n = digits(v);
    for (size_t i = n; i-- > 0; v /= 10)
        o[i] = (char)('0' + v % 10);
    return o + n;
}

static char *put(char *o, const char *s)
{
    size_t n = strlen(s);
    memcpy(o, s, n);
    return o + n;
}

#define K_REGISTRY   "{\"registryId\":\""
#define K_REPOSITORY "\"repositoryName\":\""
#define K_UPLOAD     "\",\"uploadId\":\""
#define K_FIRST      "\",\"partFirstByte\":"
#define K_LAST       ",\"partLastByte\":"
#define K_BLOB       ",\"layerPartBlob\":\""
#define K_END        "\"}"

static bool part_valid(const struct payload_part *part)
{
    return part && part->data && part->len && part->repository_name && part->upload_id &&
           part->first_byte <= MAX_LONG && part->len - 1 <= MAX_LONG - part->first_byte;
}

size_t payload_body_size(const struct payload_part *part)
{
    if (!part_valid(part))
        return 0;
    /* Every term is far below SIZE_MAX except the blob and, in theory, the names. */
    size_t n = sizeof K_REPOSITORY - 1 + sizeof K_UPLOAD - 1 + sizeof K_FIRST - 1 + sizeof K_LAST -
               1 + sizeof K_BLOB - 1 + sizeof K_END - 1 + digits(part->first_byte) +
               digits(part->first_byte + (part->len - 1));
    n += part->registry_id ? sizeof K_REGISTRY - 1 + sizeof "\"," - 1 : 1; /* or just '{' */
    const char *names[] = {part->registry_id, part->repository_name, part->upload_id};
    for (size_t i = 0; i < 3; i++) {
        if (names[i] && __builtin_add_overflow(n, escaped_len(names[i]), &n))
            return 0;
    }
    size_t blob = b64_encoded_len(part->len);
    if (blob == SIZE_MAX || __builtin_add_overflow(n, blob, &n))
        return 0;
    return n;
}

static ecrup_status hash_update(EVP_MD_CTX *ctx, const void *p, size_t n)
{
    return EVP_DigestUpdate(ctx, p, n) == 1 ? ECRUP_OK : ECRUP_E_INTERNAL;
}

static ecrup_status layer_update(struct sha256_stream *layer, const void *p, size_t n)
{
    return !layer || sha256_stream_update(layer, p, n) == 0 ? ECRUP_OK : ECRUP_E_INTERNAL;
}

/* Hash `n` bytes of text in slices; between slices, prefetch a matching share of the next
 * raw block (`raw`, `raw_n` bytes) and of the text it will become (`dst`, for writing). */
static ecrup_status hash_prefetching(EVP_MD_CTX *ctx, const char *text, size_t n,
                                     const uint8_t *raw, size_t raw_n, char *dst)
{
    enum { SLICES = 16, LINE = 64 };
    size_t dst_n = b64_encoded_len(raw_n), step = (n + SLICES - 1) / SLICES;
    size_t raw_step = (raw_n + SLICES - 1) / SLICES, dst_step = (dst_n + SLICES - 1) / SLICES;
    for (size_t k = 0, done = 0; done < n; k++) {
        for (size_t off = k * raw_step; off < (k + 1) * raw_step && off < raw_n; off += LINE)
            __builtin_prefetch(raw + off, 0, 3);
        for (size_t off = k * dst_step; off < (k + 1) * dst_step && off < dst_n; off += LINE)
            __builtin_prefetch(dst + off, 1, 3);
        size_t m = n - done < step ? n - done : step;
        if (EVP_DigestUpdate(ctx, text + done, m) != 1)
            return ECRUP_E_INTERNAL;
        done += m;
    }
    return ECRUP_OK;
}

/* Where a body's text goes while it is written and hashed: the whole body (materialized:
 * `cap` is SIZE_MAX and `buf` the body), or a window of `cap` bytes that slides along it
 * (hashed only: text that has been hashed is dropped). `base` is the body offset of buf[0]. */
struct body_buf {
    char *buf;
    size_t base, cap;
};

#define AT(w, off) ((w)->buf + ((off) - (w)->base))

static bool windowed(const struct body_buf *w)
{
    return w->cap != SIZE_MAX;
}

/* Window bytes for the hashed-only path: the members before the blob, 256 iterations of the
 * native loop (16 KiB of text, with the raw bytes it comes from inside a 32 KiB L1 data
 * cache) or one OpenSSL block of text, and a chunk either side. */
#define WINDOW_ITERATIONS 256u
#define WINDOW_BLOCK      PAYLOAD_DEFAULT_BLOCK

static size_t window_size(size_t prefix)
{
    size_t native = 64 * (WINDOW_ITERATIONS + 2), block = b64_encoded_len(WINDOW_BLOCK) + 64;
    return prefix + (native > block ? native : block);
}

/* The OpenSSL path, block by block: the raw block is hashed (pulling it into cache), encoded
 * from cache, and its text hashed while it is still in cache. While that text is hashed
 * (SHA-256 is compute bound) the next block's bytes and text destination are prefetched, so
 * neither the encoder nor the raw hash waits for memory. The members before the blob are in
 * the buffer at body offset 0..`prefix`; the closing `"}` is written too. Returns the body's
 * length in *len. */
static ecrup_status write_openssl(const struct payload_part *part, struct sha256_stream *layer,
                                  ecrup_base64_backend backend, size_t block, struct body_buf *w,
                                  size_t prefix, unsigned char md[32], size_t *len)
{
    EVP_MD_CTX *body_sha = EVP_MD_CTX_new();
    if (!body_sha)
        return ECRUP_E_NOMEM;
    ecrup_status st =
        EVP_DigestInit_ex(body_sha, EVP_sha256(), NULL) == 1 ? ECRUP_OK : ECRUP_E_INTERNAL;
    if (st == ECRUP_OK)
        st = hash_update(body_sha, w->buf, prefix);
    size_t at = prefix; /* body offset of the next text */
    if (windowed(w) && block > WINDOW_BLOCK)
        block = WINDOW_BLOCK;
    for (size_t i = 0; st == ECRUP_OK && i < part->len; i += block) {
        size_t n = part->len - i < block ? part->len - i : block;
        if (windowed(w))
            w->base = at; /* the text before was hashed: the block starts the window */
        char *o = AT(w, at);
        st = layer_update(layer, part->data + i, n);
        size_t text = b64_encode(backend, o, part->data + i, n);
        size_t next = part->len - i - n < block ? part->len - i - n : block;
        char *next_o = windowed(w) ? w->buf : o + text;
        if (st == ECRUP_OK && next)
            st = hash_prefetching(body_sha, o, text, part->data + i + n, next, next_o);
        else if (st == ECRUP_OK)
            st = hash_update(body_sha, o, text);
        at += text;
    }
    if (windowed(w))
        w->base = at;
    put(AT(w, at), K_END);
    at += sizeof K_END - 1;
    unsigned int md_len = 0;
    if (st == ECRUP_OK)
        st = hash_update(body_sha, AT(w, at - 2), 2);
    if (st == ECRUP_OK && (EVP_DigestFinal_ex(body_sha, md, &md_len) != 1 || md_len != 32))
        st = ECRUP_E_INTERNAL;
    EVP_MD_CTX_free(body_sha);
    *len = at;
    return st;
}

#if defined(__x86_64__)
/* The native path (engine/sha256.h) for one body: a loop hashes body block j while it encodes
 * the 48 raw bytes whose text block j + 1 needs. Text chunk k (48 bytes in, 64 out) lands at
 * body offset P + 64 k, P being the JSON before the blob, so when block j is hashed, chunks
 * 0..j are written and cover the body up to P + 64 (j + 1) >= 64 (j + 1). The loop runs for
 * `loop` blocks in one or more calls, each beside another lane (the layer's raw bytes or a
 * second body) where there is one; what it does not reach (the last chunks, the closing text)
 * goes through the stream's ordinary update. In a window, the calls are at most as long as
 * the window holds, and between them the text not hashed yet moves to the window's start. */
struct native_body {
    const uint8_t *raw;
    size_t len, chunks, loop, done; /* done: loop iterations run so far */
    size_t prefix;                  /* P: the body offset where the blob starts */
    struct body_buf w;
    struct sha256_stream bs;
};

static void native_begin(struct native_body *nb, const struct payload_part *part,
                         ecrup_base64_backend backend, struct body_buf w, size_t prefix)
{
    *nb = (struct native_body){.raw = part->data, .len = part->len, .prefix = prefix, .w = w};
    sha256_stream_init(&nb->bs, true); /* native: nothing to allocate, cannot fail */
    nb->chunks = part->len / 48;
    nb->loop = nb->chunks ? nb->chunks - 1 : 0;
    if (nb->chunks)
        b64_encode(backend, AT(&nb->w, prefix), part->data, 48);
}

static struct sha256_ni_lane native_lane(struct native_body *nb)
{
    return (struct sha256_ni_lane){.h = nb->bs.h,
                                   .data = (const unsigned char *)AT(&nb->w, 64 * nb->done),
                                   .enc_src = nb->raw + 48 * (nb->done + 1),
                                   .enc_dst = AT(&nb->w, nb->prefix + 64 * (nb->done + 1))};
}

/* Loop iterations the buffer takes before the window must slide: iteration i writes text up
 * to body offset P + 64 (done + i + 2). */
static size_t native_room(const struct native_body *nb)
{
    size_t left = nb->loop - nb->done;
    if (!windowed(&nb->w))
        return left;
    size_t end = nb->w.base + nb->w.cap, written = nb->prefix + 64 * (nb->done + 1);
    size_t room = end > written ? (end - written) / 64 : 0;
    return room < left ? room : left;
}

/* After `n` more iterations: account for them and slide the window to the first byte the
 * hash has not taken. */
static void native_advance(struct native_body *nb, size_t n)
{
    nb->done += n;
    if (!windowed(&nb->w))
        return;
    size_t from = 64 * nb->done, written = nb->prefix + 64 * (nb->done + (nb->chunks ? 1 : 0));
    memmove(nb->w.buf, AT(&nb->w, from), written - from);
    nb->w.base = from;
}

/* `n` iterations of one or two bodies (b may be NULL) beside an optional extra lane `x` (the
 * layer's raw bytes, advanced as it goes), in steps the windows take. */
static void native_run(struct native_body *a, struct native_body *b, struct sha256_ni_lane *x,
                       size_t n)
{
    while (n) {
        size_t step = native_room(a);
        if (b && native_room(b) < step)
            step = native_room(b);
        step = step < n ? step : n;
        struct sha256_ni_lane la = native_lane(a), lb;
        if (b)
            lb = native_lane(b);
        sha256_ni_fused(&la, b ? &lb : x, step);
        if (x && !b)
            x->data += 64 * step;
        native_advance(a, step);
        if (b)
            native_advance(b, step);
        n -= step;
    }
}

/* Run what is left of the loop alone, write the rest of the body, finish the hash. Returns the
 * body's length. */
static size_t native_finish(struct native_body *nb, ecrup_base64_backend backend,
                            unsigned char md[32])
{
    native_run(nb, NULL, NULL, nb->loop - nb->done);
    nb->bs.len = 64 * (uint64_t)nb->loop;
    size_t at = nb->prefix + 64 * nb->chunks;
    at += b64_encode(backend, AT(&nb->w, at), nb->raw + 48 * nb->chunks, nb->len - 48 * nb->chunks);
    put(AT(&nb->w, at), K_END);
    at += sizeof K_END - 1;
    sha256_stream_update(&nb->bs, AT(&nb->w, 64 * nb->loop), at - 64 * nb->loop);
    sha256_stream_final(&nb->bs, md);
    return at;
}

/* One body with the layer's running hash beside it: the layer's raw blocks are the second
 * lane (two independent messages, interleaved round by round). The layer stream's partial
 * block from the previous part is completed first; its unaligned end goes through update. */
static ecrup_status write_native(const struct payload_part *part, struct sha256_stream *layer,
                                 ecrup_base64_backend backend, struct body_buf w, size_t prefix,
                                 unsigned char md[32], size_t *len)
{
    const uint8_t *raw = part->data;
    size_t n = part->len, raw_off = 0;
    if (layer && layer->buf_len) {
        raw_off = 64 - layer->buf_len < n ? 64 - layer->buf_len : n;
        if (sha256_stream_update(layer, raw, raw_off) != 0)
            return ECRUP_E_INTERNAL;
    }
    struct native_body nb;
    native_begin(&nb, part, backend, w, prefix);
    if (layer) {
        size_t blocks = (n - raw_off) / 64, both = nb.loop < blocks ? nb.loop : blocks;
        struct sha256_ni_lane x = {.h = layer->h, .data = raw + raw_off};
        native_run(&nb, NULL, &x, both);
        layer->len += 64 * (uint64_t)both;
        raw_off += 64 * both;
        if (sha256_stream_update(layer, raw + raw_off, n - raw_off) != 0)
            return ECRUP_E_INTERNAL;
    }
    *len = native_finish(&nb, backend, md);
    return ECRUP_OK;
}
#endif

/* Everything before the blob's text; returns where the text starts. */
static char *put_members(char *o, const struct payload_part *part)
{
    if (part->registry_id) {
        o = put(o, K_REGISTRY);
        o = put_escaped(o, part->registry_id);
        o = put(o, "\",");
    } else {
        *o++ = '{';
    }
    o = put(o, K_REPOSITORY);
    o = put_escaped(o, part->repository_name);
    o = put(o, K_UPLOAD);
    o = put_escaped(o, part->upload_id);
    o = put(o, K_FIRST);
    o = put_u64(o, part->first_byte);
    o = put(o, K_LAST);
    o = put_u64(o, part->first_byte + (part->len - 1));
    o = put(o, K_BLOB);
    return o;
}

/* The length put_members() writes for `part` (a valid part). */
static size_t members_len(const struct payload_part *part)
{
    size_t n =
        (part->registry_id ? sizeof K_REGISTRY - 1 + escaped_len(part->registry_id) + 2 : 1) +
        sizeof K_REPOSITORY - 1 + escaped_len(part->repository_name) + sizeof K_UPLOAD - 1 +
        escaped_len(part->upload_id) + sizeof K_FIRST - 1 + digits(part->first_byte) +
        sizeof K_LAST - 1 + digits(part->first_byte + (part->len - 1)) + sizeof K_BLOB - 1;
    return n;
}

/* NULL options are the defaults (all zero). */
static const struct payload_options *or_defaults(const struct payload_options *options)
{
    static const struct payload_options defaults = {0};
    return options ? options : &defaults;
}

static ecrup_base64_backend resolve(const struct payload_options *options)
{
    ecrup_base64_backend backend = options->backend;
    if (backend == ECRUP_BASE64_AUTO || !b64_backend_available(backend))
        backend = b64_backend_best();
    return backend;
}

/* The body's size when the arguments can take it (a valid part, a buffer of at least that
 * size, a result), else 0. */
static size_t writable(const struct payload_part *part, const char *body, size_t cap,
                       const struct payload_result *result)
{
    size_t size = payload_body_size(part);
    return size && body && result && cap >= size ? size : 0;
}

/* The result of a body of `len` bytes with hash `md`; anything but `size` bytes would be a bug
 * in the writer. */
static ecrup_status set_result(struct payload_result *result, const unsigned char md[32],
                               size_t len, size_t size)
{
    hex_encode(md, 32, result->body_sha256_hex);
    result->body_len = len;
    return len == size ? ECRUP_OK : ECRUP_E_INTERNAL;
}

/* One body, materialized into `body` (cap SIZE_MAX) or hashed through a window. */
static ecrup_status write_one(const struct payload_part *part,
                              const struct payload_options *options, struct body_buf w,
                              struct payload_result *result, size_t size)
{
    ecrup_base64_backend backend = resolve(options);
    size_t block = options->block ? options->block : PAYLOAD_DEFAULT_BLOCK;
    block = block < 3 ? 3 : block - block % 3;
    size_t prefix = (size_t)(put_members(w.buf, part) - w.buf);

    unsigned char md[32];
    size_t len = 0;
    ecrup_status st;
    struct sha256_stream *layer = options->layer_sha256;
#if defined(__x86_64__)
    if (payload_native(options))
        st = write_native(part, layer, backend, w, prefix, md, &len);
    else
#endif
        st = write_openssl(part, layer, backend, block, &w, prefix, md, &len);
    return st != ECRUP_OK ? st : set_result(result, md, len, size);
}

ecrup_status payload_write(const struct payload_part *part, const struct payload_options *options,
                           char *body, size_t cap, struct payload_result *result)
{
    options = or_defaults(options);
    size_t size = writable(part, body, cap, result);
    if (!size)
        return ECRUP_E_INVALID_ARGUMENT;
    return write_one(part, options, (struct body_buf){.buf = body, .cap = SIZE_MAX}, result, size);
}

/* A window for the hashed-only path of `part`, or NULL. */
static char *window_new(const struct payload_part *part, size_t *cap)
{
    *cap = window_size(members_len(part));
    return malloc(*cap);
}

ecrup_status payload_hash(const struct payload_part *part, const struct payload_options *options,
                          struct payload_result *result)
{
    options = or_defaults(options);
    size_t size = payload_body_size(part);
    if (!size || !result)
        return ECRUP_E_INVALID_ARGUMENT;
    size_t cap;
    char *win = window_new(part, &cap);
    if (!win)
        return ECRUP_E_NOMEM;
    ecrup_status st =
        write_one(part, options, (struct body_buf){.buf = win, .cap = cap}, result, size);
    free(win);
    return st;
}

bool payload_native(const struct payload_options *options)
{
    options = or_defaults(options);
    if (options->sha256 == PAYLOAD_SHA256_OPENSSL || !sha256_native())
        return false;
    if (options->layer_sha256 && options->layer_sha256->evp)
        return false;
    return options->backend != ECRUP_BASE64_SCALAR;
}

/* Two bodies, materialized (`bodies` given) or hashed only (`bodies` NULL). */
static ecrup_status write_two(const struct payload_part *parts[2],
                              const struct payload_options *options, char *bodies[2],
                              const size_t caps[2], struct payload_result *results[2])
{
    size_t sizes[2];
    for (int i = 0; i < 2; i++) {
        sizes[i] = bodies       ? writable(parts[i], bodies[i], caps[i], results[i])
                   : results[i] ? payload_body_size(parts[i])
                                : 0;
        if (!sizes[i])
            return ECRUP_E_INVALID_ARGUMENT;
    }
    struct body_buf w[2];
    char *win = NULL;
    if (bodies) {
        for (int i = 0; i < 2; i++)
            w[i] = (struct body_buf){.buf = bodies[i], .cap = SIZE_MAX};
    } else {
        size_t cap[2] = {window_size(members_len(parts[0])), window_size(members_len(parts[1]))};
        if (!(win = malloc(cap[0] + cap[1])))
            return ECRUP_E_NOMEM;
        w[0] = (struct body_buf){.buf = win, .cap = cap[0]};
        w[1] = (struct body_buf){.buf = win + cap[0], .cap = cap[1]};
    }
    ecrup_status st = ECRUP_OK;
#if defined(__x86_64__)
    if (payload_native(options) && !options->layer_sha256) {
        ecrup_base64_backend backend = resolve(options);
        struct native_body nb[2];
        for (int i = 0; i < 2; i++)
            native_begin(&nb[i], parts[i], backend, w[i],
                         (size_t)(put_members(w[i].buf, parts[i]) - w[i].buf));
        size_t both = nb[0].loop < nb[1].loop ? nb[0].loop : nb[1].loop;
        native_run(&nb[0], &nb[1], NULL, both);
        for (int i = 0; i < 2 && st == ECRUP_OK; i++) {
            unsigned char md[32];
            size_t len = native_finish(&nb[i], backend, md);
            st = set_result(results[i], md, len, sizes[i]);
        }
        free(win);
        return st;
    }
#endif
    /* One after the other: the same bodies; the first failure is the answer. */
    for (int i = 0; i < 2 && st == ECRUP_OK; i++)
        st = write_one(parts[i], options, w[i], results[i], sizes[i]);
    free(win);
    return st;
}

ecrup_status payload_write_pair(const struct payload_part *parts[2],
                                const struct payload_options *options, char *bodies[2],
                                const size_t caps[2], struct payload_result *results[2])
{
    if (!bodies || !caps)
        return ECRUP_E_INVALID_ARGUMENT;
    return write_two(parts, or_defaults(options), bodies, caps, results);
}

ecrup_status payload_hash_pair(const struct payload_part *parts[2],
                               const struct payload_options *options,
                               struct payload_result *results[2])
{
    return write_two(parts, or_defaults(options), NULL, NULL, results);
}

/* ---- the body as a stream ---- */

ecrup_status payload_stream_init(struct payload_stream *s, const struct payload_part *part,
                                 ecrup_base64_backend backend)
{
    size_t size = payload_body_size(part);
    if (!s || !size || members_len(part) > sizeof s->members)
        return ECRUP_E_INVALID_ARGUMENT;
    s->raw = part->data;
    s->len = part->len;
    s->members_len = (size_t)(put_members(s->members, part) - s->members);
    s->blob_len = b64_encoded_len(part->len);
    s->body_len = size;
    s->pos = 0;
    s->backend = backend == ECRUP_BASE64_AUTO || !b64_backend_available(backend)
                     ? b64_backend_best()
                     : backend;
    return ECRUP_OK;
}

void payload_stream_rewind(struct payload_stream *s)
{
    s->pos = 0;
}

/* Text of the blob from text offset `t` into `dst` (`cap` > 0 bytes): whole groups straight
 * from the raw bytes, a group cut by either end through a 4-byte scratch. */
static size_t blob_read(const struct payload_stream *s, size_t t, char *dst, size_t cap)
{
    size_t out = 0;
    while (out < cap && t < s->blob_len) {
        size_t g = t / 4, in = t % 4, raw_off = 3 * g;
        size_t whole = (s->len - raw_off) / 3; /* groups of 3 bytes left, unpadded */
        if (in == 0 && cap - out >= 4 && whole) {
            size_t groups = (cap - out) / 4 < whole ? (cap - out) / 4 : whole;
            size_t n = b64_encode(s->backend, dst + out, s->raw + raw_off, 3 * groups);
            out += n;
            t += n;
            continue;
        }
        char q[4];
        size_t raw_n = s->len - raw_off < 3 ? s->len - raw_off : 3;
        b64_encode(s->backend, q, s->raw + raw_off, raw_n);
        size_t n = 4 - in < cap - out ? 4 - in : cap - out;
        memcpy(dst + out, q + in, n);
        out += n;
        t += n;
    }
    return out;
}

size_t payload_stream_read(struct payload_stream *s, char *dst, size_t cap)
{
    size_t out = 0;
    while (out < cap && s->pos < s->body_len) {
        size_t n;
        if (s->pos < s->members_len) {
            n = s->members_len - s->pos < cap - out ? s->members_len - s->pos : cap - out;
            memcpy(dst + out, s->members + s->pos, n);
        } else if (s->pos < s->members_len + s->blob_len) {
            n = blob_read(s, s->pos - s->members_len, dst + out, cap - out);
        } else {
            static const char end[] = K_END;
            size_t at = s->pos - s->members_len - s->blob_len;
            n = sizeof end - 1 - at < cap - out ? sizeof end - 1 - at : cap - out;
            memcpy(dst + out, end + at, n);
        }
        out += n;
        s->pos += n;
    }
    return out;
}
