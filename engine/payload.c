/* UploadLayerPart bodies: JSON members around a base64 blob, hashed as they are written. */
#include "engine/payload.h"

#include "util/hex.h"

#include <stdbool.h>
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

/* The OpenSSL path, block by block: the raw block is hashed (pulling it into cache), encoded
 * from cache, and its text hashed while it is still in cache. While that text is hashed
 * (SHA-256 is compute bound) the next block's bytes and text destination are prefetched, so
 * neither the encoder nor the raw hash waits for memory. `o` is where the blob starts; the
 * closing `"}` is written too. Returns the end of the body in *end. */
static ecrup_status write_openssl(const struct payload_part *part, struct sha256_stream *layer,
                                  ecrup_base64_backend backend, size_t block, char *body, char *o,
                                  unsigned char md[32], char **end)
{
    EVP_MD_CTX *body_sha = EVP_MD_CTX_new();
    if (!body_sha)
        return ECRUP_E_NOMEM;
    ecrup_status st =
        EVP_DigestInit_ex(body_sha, EVP_sha256(), NULL) == 1 ? ECRUP_OK : ECRUP_E_INTERNAL;
    if (st == ECRUP_OK)
        st = hash_update(body_sha, body, (size_t)(o - body));
    for (size_t i = 0; st == ECRUP_OK && i < part->len; i += block) {
        size_t n = part->len - i < block ? part->len - i : block;
        st = layer_update(layer, part->data + i, n);
        size_t text = b64_encode(backend, o, part->data + i, n);
        size_t next = part->len - i - n < block ? part->len - i - n : block;
        if (st == ECRUP_OK && next)
            st = hash_prefetching(body_sha, o, text, part->data + i + n, next, o + text);
        else if (st == ECRUP_OK)
            st = hash_update(body_sha, o, text);
        o += text;
    }
    o = put(o, K_END);
    unsigned int md_len = 0;
    if (st == ECRUP_OK)
        st = hash_update(body_sha, o - 2, 2);
    if (st == ECRUP_OK && (EVP_DigestFinal_ex(body_sha, md, &md_len) != 1 || md_len != 32))
        st = ECRUP_E_INTERNAL;
    EVP_MD_CTX_free(body_sha);
    *end = o;
    return st;
}

#if defined(__x86_64__)
/* The native path (engine/sha256.h) for one body: a loop hashes body block j while it encodes
 * the 48 raw bytes whose text block j + 1 needs. Text chunk k (48 bytes in, 64 out) lands at
 * body offset P + 64 k, P being the JSON before the blob, so when block j is hashed, chunks
 * 0..j are written and cover the body up to P + 64 (j + 1) >= 64 (j + 1). The loop runs for
 * `loop` blocks in one or more calls, each beside another lane (the layer's raw bytes or a
 * second body) where there is one; what it does not reach (the last chunks, the closing text)
 * goes through the stream's ordinary update. */
struct native_body {
    const uint8_t *raw;
    size_t len, chunks, loop, done; /* done: loop iterations run so far */
    char *body, *blob;              /* the body; where its blob starts */
    struct sha256_stream bs;
};

static void native_begin(struct native_body *nb, const struct payload_part *part,
                         ecrup_base64_backend backend, char *body, char *blob)
{
    *nb = (struct native_body){.raw = part->data, .len = part->len, .body = body, .blob = blob};
    sha256_stream_init(&nb->bs, true); /* native: nothing to allocate, cannot fail */
    nb->chunks = part->len / 48;
    nb->loop = nb->chunks ? nb->chunks - 1 : 0;
    if (nb->chunks)
        b64_encode(backend, blob, part->data, 48);
}

static struct sha256_ni_lane native_lane(struct native_body *nb)
{
    return (struct sha256_ni_lane){.h = nb->bs.h,
                                   .data = (const unsigned char *)nb->body + 64 * nb->done,
                                   .enc_src = nb->raw + 48 * (nb->done + 1),
                                   .enc_dst = nb->blob + 64 * (nb->done + 1)};
}

/* Run what is left of the loop alone, write the rest of the body, finish the hash. */
static char *native_finish(struct native_body *nb, ecrup_base64_backend backend,
                           unsigned char md[32])
{
    struct sha256_ni_lane lane = native_lane(nb);
    sha256_ni_fused(&lane, NULL, nb->loop - nb->done);
    nb->bs.len = 64 * (uint64_t)nb->loop;
    char *o = nb->blob + 64 * nb->chunks;
    o += b64_encode(backend, o, nb->raw + 48 * nb->chunks, nb->len - 48 * nb->chunks);
    o = put(o, K_END);
    sha256_stream_update(&nb->bs, nb->body + 64 * nb->loop, (size_t)(o - nb->body) - 64 * nb->loop);
    sha256_stream_final(&nb->bs, md);
    return o;
}

/* One body with the layer's running hash beside it: the layer's raw blocks are the second
 * lane (two independent messages, interleaved round by round). The layer stream's partial
 * block from the previous part is completed first; its unaligned end goes through update. */
static ecrup_status write_native(const struct payload_part *part, struct sha256_stream *layer,
                                 ecrup_base64_backend backend, char *body, char *o,
                                 unsigned char md[32], char **end)
{
    const uint8_t *raw = part->data;
    size_t len = part->len, raw_off = 0;
    if (layer && layer->buf_len) {
        raw_off = 64 - layer->buf_len < len ? 64 - layer->buf_len : len;
        if (sha256_stream_update(layer, raw, raw_off) != 0)
            return ECRUP_E_INTERNAL;
    }
    struct native_body nb;
    native_begin(&nb, part, backend, body, o);
    if (layer) {
        size_t blocks = (len - raw_off) / 64, both = nb.loop < blocks ? nb.loop : blocks;
        struct sha256_ni_lane a = native_lane(&nb), b = {.h = layer->h, .data = raw + raw_off};
        sha256_ni_fused(&a, &b, both);
        nb.done = both;
        layer->len += 64 * (uint64_t)both;
        raw_off += 64 * both;
        if (sha256_stream_update(layer, raw + raw_off, len - raw_off) != 0)
            return ECRUP_E_INTERNAL;
    }
    *end = native_finish(&nb, backend, md);
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

/* The result of a body written from `body` to `end` with hash `md`; anything but `size` bytes
 * would be a bug in the writer. */
static ecrup_status set_result(struct payload_result *result, const unsigned char md[32],
                               const char *body, const char *end, size_t size)
{
    hex_encode(md, 32, result->body_sha256_hex);
    result->body_len = (size_t)(end - body);
    return result->body_len == size ? ECRUP_OK : ECRUP_E_INTERNAL;
}

ecrup_status payload_write(const struct payload_part *part, const struct payload_options *options,
                           char *body, size_t cap, struct payload_result *result)
{
    options = or_defaults(options);
    size_t size = writable(part, body, cap, result);
    if (!size)
        return ECRUP_E_INVALID_ARGUMENT;
    ecrup_base64_backend backend = resolve(options);
    size_t block = options->block ? options->block : PAYLOAD_DEFAULT_BLOCK;
    block = block < 3 ? 3 : block - block % 3;

    char *o = put_members(body, part);

    unsigned char md[32];
    ecrup_status st;
    struct sha256_stream *layer = options->layer_sha256;
#if defined(__x86_64__)
    if (payload_native(options))
        st = write_native(part, layer, backend, body, o, md, &o);
    else
#endif
        st = write_openssl(part, layer, backend, block, body, o, md, &o);
    return st != ECRUP_OK ? st : set_result(result, md, body, o, size);
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

ecrup_status payload_write_pair(const struct payload_part *parts[2],
                                const struct payload_options *options, char *bodies[2],
                                const size_t caps[2], struct payload_result *results[2])
{
    options = or_defaults(options);
#if defined(__x86_64__)
    if (payload_native(options) && !options->layer_sha256) {
        size_t sizes[2];
        for (int i = 0; i < 2; i++)
            if (!(sizes[i] = writable(parts[i], bodies[i], caps[i], results[i])))
                return ECRUP_E_INVALID_ARGUMENT;
        ecrup_base64_backend backend = resolve(options);
        struct native_body nb[2];
        for (int i = 0; i < 2; i++)
            native_begin(&nb[i], parts[i], backend, bodies[i], put_members(bodies[i], parts[i]));
        size_t both = nb[0].loop < nb[1].loop ? nb[0].loop : nb[1].loop;
        struct sha256_ni_lane a = native_lane(&nb[0]), b = native_lane(&nb[1]);
        sha256_ni_fused(&a, &b, both);
        for (int i = 0; i < 2; i++) {
            unsigned char md[32];
            nb[i].done = both;
            char *end = native_finish(&nb[i], backend, md);
            ecrup_status st = set_result(results[i], md, bodies[i], end, sizes[i]);
            if (st != ECRUP_OK)
                return st;
        }
        return ECRUP_OK;
    }
#endif
    /* Two calls: the same bodies, one after the other; the first failure is the answer. */
    ecrup_status st = payload_write(parts[0], options, bodies[0], caps[0], results[0]);
    if (st == ECRUP_OK)
        st = payload_write(parts[1], options, bodies[1], caps[1], results[1]);
    return st;
}
