/* Drives a libFuzzer entry point without libFuzzer: every file or directory named on the
 * command line is fed to it, then a fixed number of seeded random inputs (mutations of the
 * corpus when there is one). Lets every build run every fuzz target as a test. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t **corpus;
static size_t *corpus_len;
static size_t n_corpus;

static void add_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz: cannot read %s\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "fuzz: cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    corpus = realloc(corpus, (n_corpus + 1) * sizeof *corpus);
    corpus_len = realloc(corpus_len, (n_corpus + 1) * sizeof *corpus_len);
    if (!corpus || !corpus_len)
        abort();
    corpus[n_corpus] = buf;
    corpus_len[n_corpus++] = (size_t)n;
}

static void add_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "fuzz: no such corpus %s\n", path);
        exit(1);
    }
    if (!S_ISDIR(st.st_mode)) {
        add_file(path);
        return;
    }
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", path, e->d_name);
        add_path(full);
    }
    if (d)
        closedir(d);
}

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        add_path(argv[i]);
    for (size_t i = 0; i < n_corpus; i++)
        LLVMFuzzerTestOneInput(corpus[i], corpus_len[i]);
    const char *env = env_get(NULL, "ECRUP_FUZZ_RUNS");
    long runs = env ? atol(env) : 20000;
    uint8_t buf[4096];
    for (long r = 0; r < runs; r++) {
        size_t len;
        if (n_corpus && (next() & 3) != 0) {
            /* Mutate a corpus entry: flip, insert or truncate a few bytes. */
            size_t k = next() % n_corpus;
            len = corpus_len[k] < sizeof buf ? corpus_len[k] : sizeof buf;
            memcpy(buf, corpus[k], len);
            int edits = 1 + (int)(next() % 8);
            for (int e = 0; e < edits && len; e++) {
                size_t at = next() % len;
                switch (next() % 4) {
                case 0:
                    buf[at] = (uint8_t)next();
                    break;
                case 1:
                    buf[at] ^= (uint8_t)(1u << (next() % 8));
                    break;
                case 2:
                    len = at;
                    break;
                default:
                    buf[at] = (uint8_t) "[]=\n\r\t #;\"\\{}:,"[next() % 16];
                }
            }
        } else {
            len = next() % 512;
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)next();
        }
        /* A fresh heap copy of exactly len bytes so ASan sees over-reads. */
        uint8_t *in = malloc(len ? len : 1);
        if (!in)
            abort();
        memcpy(in, buf, len);
        LLVMFuzzerTestOneInput(in, len);
        free(in);
    }
    printf("fuzz: %zu corpus inputs and %ld generated inputs ran\n", n_corpus, runs);
    for (size_t i = 0; i < n_corpus; i++)
        free(corpus[i]);
    free(corpus);
    free(corpus_len);
    return 0;
}
