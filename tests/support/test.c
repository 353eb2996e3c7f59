#include "test.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

int test_failures;
int test_checks;

int test_finish(const char *name)
{
    if (test_failures) {
        fprintf(stderr, "%s: %d of %d checks failed\n", name, test_failures, test_checks);
        return 1;
    }
    printf("%s: %d checks passed\n", name, test_checks);
    return 0;
}

char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *p = realloc(buf, cap * 2 + 1);
            if (!p) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = p;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf)
        return NULL;
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

void test_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

const char *test_env_pairs(void *user, const char *name)
{
    const char *const *kv = user;
    for (; kv[0]; kv += 2)
        if (strcmp(kv[0], name) == 0)
            return kv[1];
    return NULL;
}

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

static size_t guarded_span(size_t len)
{
    size_t ps = page_size();
    return (len + ps - 1) / ps * ps + ps;
}

void *test_guarded_copy(const void *data, size_t len)
{
    size_t ps = page_size(), span = guarded_span(len);
    uint8_t *base = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        abort();
    if (mprotect(base + span - ps, ps, PROT_NONE) != 0)
        abort();
    uint8_t *p = base + span - ps - len;
    if (len)
        memcpy(p, data, len);
    return p;
}

void test_guarded_free(void *p, size_t len)
{
    size_t ps = page_size(), span = guarded_span(len);
    uint8_t *base = (uint8_t *)p + len + ps - span;
    munmap(base, span);
}

uint64_t test_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15u;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x * 0x2545f4914f6cdd1du;
}

void test_rand_bytes(uint64_t *state, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len >= 8) {
        uint64_t r = test_rand(state);
        memcpy(p, &r, 8);
        p += 8;
        len -= 8;
    }
    if (len) {
        uint64_t r = test_rand(state);
        memcpy(p, &r, len);
    }
}
