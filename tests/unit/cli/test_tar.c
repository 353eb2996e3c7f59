/* cli/tar.c over hand-built header blocks: checksums, octal and base-256 sizes, the ustar
 * prefix, pax records (well-formed and not) and GNU long names, with the messages the image
 * reader prints for a refused header. Blocks are placed to end at an unreadable page, so a
 * read past the 512 bytes faults. */
#include "cli/tar.h"
#include "test.h"

struct block {
    unsigned char b[TAR_BLOCK];
};

/* Set the checksum field from the block's bytes, as tar writes it ("%06o\0 "). */
static void seal(struct block *h)
{
    memset(h->b + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < TAR_BLOCK; i++)
        sum += h->b[i];
    snprintf((char *)h->b + 148, 8, "%06o", sum);
    h->b[155] = ' ';
}

/* A ustar header: `name`, `prefix` (NULL: none), octal `size`, `type`, `link` (NULL: none). */
static struct block ustar(const char *name, const char *prefix, uint64_t size, char type,
                          const char *link)
{
    struct block h;
    memset(&h, 0, sizeof h);
    memcpy(h.b, name, strnlen(name, 100));
    snprintf((char *)h.b + 100, 8, "0000644");
    snprintf((char *)h.b + 124, 12, "%011llo", (unsigned long long)size);
    h.b[156] = (unsigned char)type;
    if (link)
        memcpy(h.b + 157, link, strnlen(link, 100));
    memcpy(h.b + 257,
           "ustar\0"
           "00",
           8);
    if (prefix)
        memcpy(h.b + 345, prefix, strnlen(prefix, 155));
    seal(&h);
    return h;
}

/* tar_header_parse on a guarded copy of `h`; the message (if any) in `msg`. */
static int parse(const struct block *h, uint64_t off, uint64_t avail, struct tar_header *out,
                 struct ebuf *msg)
{
    ebuf_reset(msg);
    unsigned char *g = test_guarded_copy(h->b, TAR_BLOCK);
    int rc = tar_header_parse(g, "x.tar", off, avail, out, msg);
    test_guarded_free(g, TAR_BLOCK);
    return rc;
}

static void test_good(void)
{
    struct ebuf msg = EBUF_INIT;
    struct tar_header th;
    struct block h = ustar("blobs/sha256/abc", NULL, 1234, '0', NULL);
    CHECK_EQ_INT(parse(&h, 0, 1 << 20, &th, &msg), 1);
    CHECK_EQ_INT(th.type, TAR_FILE);
    CHECK_EQ_INT(th.size, 1234);
    CHECK_EQ_INT(th.padded, 1536);
    CHECK_EQ_INT(msg.len, 0);

    /* Data that ends exactly at the end of the file is whole; an empty member is too. */
    CHECK_EQ_INT(parse(&h, 0, 1234, &th, &msg), 1);
    h = ustar("empty", NULL, 0, '0', NULL);
    CHECK_EQ_INT(parse(&h, 0, 0, &th, &msg), 1);
    CHECK_EQ_INT(th.padded, 0);
    h = ustar("exact", NULL, 1024, '0', NULL);
    CHECK_EQ_INT(parse(&h, 0, 1024, &th, &msg), 1);
    CHECK_EQ_INT(th.padded, 1024);

    const struct {
        char flag;
        enum tar_type type;
    } types[] = {{'0', TAR_FILE},         {'\0', TAR_FILE},        {'7', TAR_FILE},
                 {'1', TAR_HARDLINK},     {'2', TAR_SYMLINK},      {'x', TAR_PAX},
                 {'L', TAR_GNU_LONGNAME}, {'K', TAR_GNU_LONGLINK}, {'5', TAR_OTHER},
                 {'g', TAR_OTHER},        {'3', TAR_OTHER},        {'S', TAR_OTHER}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        h = ustar("m", NULL, 10, types[i].flag, NULL);
        CHECK_EQ_INT(parse(&h, 0, 512, &th, &msg), 1);
        CHECK_EQ_INT(th.type, types[i].type);
    }
    ebuf_free(&msg);
}

static void test_end_and_refusals(void)
{
    struct ebuf msg = EBUF_INIT;
    struct tar_header th;
    struct block zero;
    memset(&zero, 0, sizeof zero);
    CHECK_EQ_INT(parse(&zero, 2048, 0, &th, &msg), 0);
    CHECK_EQ_INT(msg.len, 0);

    /* One byte changed after sealing: the checksum no longer matches. */
    struct block h = ustar("a", NULL, 10, '0', NULL);
    h.b[0] = 'b';
    CHECK_EQ_INT(parse(&h, 1024, 1 << 20, &th, &msg), -1);
    CHECK_STR(ebuf_str(&msg), "x.tar is not a tar file (bad header at byte 1024)");

    /* A checksum field that is not a number. */
    h = ustar("a", NULL, 10, '0', NULL);
    memcpy(h.b + 148, "abcdef\0 ", 8);
    CHECK_EQ_INT(parse(&h, 0, 1 << 20, &th, &msg), -1);
    CHECK_STR(ebuf_str(&msg), "x.tar is not a tar file (bad header at byte 0)");

    /* A block of text is not a header. */
    memset(h.b, 'A', TAR_BLOCK);
    CHECK_EQ_INT(parse(&h, 512, 1 << 20, &th, &msg), -1);
    CHECK_STR(ebuf_str(&msg), "x.tar is not a tar file (bad header at byte 512)");

    /* Data past the end of the file. */
    h = ustar("a", NULL, 1234, '0', NULL);
    CHECK_EQ_INT(parse(&h, 3072, 1233, &th, &msg), -1);
    CHECK_STR(ebuf_str(&msg),
              "x.tar is cut short: member at byte 3072 needs 1234 bytes, the file ends 1233 "
              "bytes later");

    /* Extended headers only hold names: over 1 MiB is refused, a member that size is not. */
    h = ustar("././@PaxHeader", NULL, TAR_EXTENDED_MAX + 1, 'x', NULL);
    CHECK_EQ_INT(parse(&h, 512, 1u << 30, &th, &msg), -1);
    CHECK_STR(ebuf_str(&msg), "x.tar: an extended header at byte 512 is too large");
    h = ustar("././@LongLink", NULL, TAR_EXTENDED_MAX + 1, 'L', NULL);
    CHECK_EQ_INT(parse(&h, 0, 1u << 30, &th, &msg), -1);
    CHECK_STR(ebuf_str(&msg), "x.tar: an extended header at byte 0 is too large");
    h = ustar("././@PaxHeader", NULL, TAR_EXTENDED_MAX, 'x', NULL);
    CHECK_EQ_INT(parse(&h, 0, 1u << 30, &th, &msg), 1);
    h = ustar("big", NULL, TAR_EXTENDED_MAX + 1, '0', NULL);
    CHECK_EQ_INT(parse(&h, 0, 1u << 30, &th, &msg), 1);
    /* Cut short is said before too large. */
    h = ustar("././@PaxHeader", NULL, TAR_EXTENDED_MAX + 1, 'x', NULL);
    CHECK_EQ_INT(parse(&h, 0, 100, &th, &msg), -1);
    CHECK_STR(ebuf_str(&msg),
              "x.tar is cut short: member at byte 0 needs 1048577 bytes, the file ends 100 "
              "bytes later");

    /* A pax record's size in place of the header's: padded, and checked alike. */
    h = ustar("big", NULL, 0, '0', NULL);
    CHECK_EQ_INT(parse(&h, 1024, 1u << 30, &th, &msg), 1);
    CHECK_EQ_INT(tar_header_resize(&th, 9000000001ull, "x.tar", 1024, 9000000512ull, &msg), 0);
    CHECK(th.size == 9000000001ull && th.padded == 9000000512ull);
    ebuf_reset(&msg);
    CHECK_EQ_INT(tar_header_resize(&th, 9000000001ull, "x.tar", 1024, 9000000000ull, &msg), -1);
    CHECK_STR(ebuf_str(&msg),
              "x.tar is cut short: member at byte 1024 needs 9000000001 bytes, the file ends "
              "9000000000 bytes later");
    ebuf_free(&msg);
}

/* The size field set by hand, then sealed again. */
static int size_field(const void *field, uint64_t *size, struct ebuf *msg)
{
    struct block h = ustar("a", NULL, 0, '0', NULL);
    memcpy(h.b + 124, field, 12);
    seal(&h);
    struct tar_header th = {0};
    int rc = parse(&h, 0, UINT64_MAX, &th, msg);
    *size = th.size;
    return rc;
}

static void test_sizes(void)
{
    struct ebuf msg = EBUF_INIT;
    uint64_t size;
    CHECK_EQ_INT(size_field("00000001750\0", &size, &msg), 1);
    CHECK_EQ_INT(size, 1000);
    CHECK_EQ_INT(size_field("   1750     ", &size, &msg), 1); /* space padded both sides */
    CHECK_EQ_INT(size, 1000);
    CHECK_EQ_INT(size_field("1750\0\0\0\0\0\0\0\0", &size, &msg), 1);
    CHECK_EQ_INT(size, 1000);
    CHECK_EQ_INT(size_field("77777777777 ", &size, &msg), 1); /* the octal maximum, 8 GiB - 1 */
    CHECK_EQ_INT(size, 8589934591LL);

    /* Base-256 (GNU tar's form for members of 8 GiB and more): 0x80 then big-endian bytes. */
    const unsigned char b256[12] = {0x80, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0x01};
    CHECK_EQ_INT(size_field(b256, &size, &msg), 1);
    CHECK_EQ_INT(size, 8589934593LL);
    const unsigned char b256_max[12] = {0x80, 0,    0,    0,    0xff, 0xff,
                                        0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    CHECK_EQ_INT(size_field(b256_max, &size, &msg), 1);
    CHECK(size == UINT64_MAX);
    const unsigned char b256_over[12] = {0x80, 0,    0,    0x01, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    CHECK_EQ_INT(size_field(b256_over, &size, &msg), -1);
    CHECK_STR(ebuf_str(&msg), "x.tar is not a tar file (bad header at byte 0)");

    /* Refused with the bad-header message: no digits, a stray character, a negative or
     * over-wide base-256 number. */
    const char *bad[] = {"\0\0\0\0\0\0\0\0\0\0\0\0", "            ",  "0000000175x\0",
                         "17 50\0\0\0\0\0\0\0",      "-0000000001\0", "00000008000\0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(size_field(bad[i], &size, &msg), -1);
        CHECK_STR(ebuf_str(&msg), "x.tar is not a tar file (bad header at byte 0)");
    }
    const unsigned char negative[12] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
    CHECK_EQ_INT(size_field(negative, &size, &msg), -1);
    const unsigned char wide[12] = {0x81, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    CHECK_EQ_INT(size_field(wide, &size, &msg), -1);
    CHECK_STR(ebuf_str(&msg), "x.tar is not a tar file (bad header at byte 0)");

    /* tar_number alone: octal takes up to 2^63 - 1, and refuses 2^63. */
    uint64_t v;
    CHECK(tar_number((const unsigned char *)"777777777777777777777", 21, &v));
    CHECK(v == INT64_MAX);
    CHECK(!tar_number((const unsigned char *)"1000000000000000000000", 22, &v));
    ebuf_free(&msg);
}

/* tar_member_names on a guarded copy of `h` with nothing pending. */
static void member(const struct block *h, char **name, char **link)
{
    struct tar_names none = {0};
    unsigned char *g = test_guarded_copy(h->b, TAR_BLOCK);
    REQUIRE(tar_member_names(g,
                             h->b[156] == '1'   ? TAR_HARDLINK
                             : h->b[156] == '2' ? TAR_SYMLINK
                                                : TAR_FILE,
                             &none, name, link) == 0);
    test_guarded_free(g, TAR_BLOCK);
}

static void test_names(void)
{
    char *name, *link;
    struct block h = ustar("abc", "blobs/sha256", 1, '0', NULL);
    member(&h, &name, &link);
    CHECK_STR(name, "blobs/sha256/abc");
    CHECK(link == NULL);
    free(name);

    /* Without the ustar magic the prefix field is not a prefix. */
    memset(h.b + 257, 0, 8);
    seal(&h);
    member(&h, &name, &link);
    CHECK_STR(name, "abc");
    free(name);

    /* A 100-byte name and a 155-byte prefix fill their fields with no NUL. */
    char n100[101], p155[156];
    memset(n100, 'n', 100);
    n100[100] = '\0';
    memset(p155, 'p', 155);
    p155[155] = '\0';
    h = ustar(n100, p155, 1, '0', NULL);
    member(&h, &name, &link);
    REQUIRE(name != NULL);
    CHECK_EQ_INT(strlen(name), 256);
    CHECK(!strncmp(name, p155, 155) && name[155] == '/' && !strcmp(name + 156, n100));
    free(name);

    /* The spellings of one path that tar files hold come out the same. */
    h = ustar("./index.json", NULL, 1, '0', NULL);
    member(&h, &name, &link);
    CHECK_STR(name, "index.json");
    free(name);
    h = ustar("b//c/./d/", "./a/", 1, '0', NULL);
    member(&h, &name, &link);
    CHECK_STR(name, "a/b/c/d");
    free(name);

    /* A hard link's target is from the root; a symbolic link's from its own directory. */
    h = ustar("blobs/sha256/h", NULL, 0, '1', "./blobs/sha256/abc");
    member(&h, &name, &link);
    CHECK_STR(name, "blobs/sha256/h");
    CHECK_STR(link, "blobs/sha256/abc");
    free(name);
    free(link);
    h = ustar("blobs/sha256/s", NULL, 0, '2', "abc");
    member(&h, &name, &link);
    CHECK_STR(link, "blobs/sha256/abc");
    free(name);
    free(link);
    h = ustar("top", NULL, 0, '2', "blobs/sha256/abc");
    member(&h, &name, &link);
    CHECK_STR(link, "blobs/sha256/abc");
    free(name);
    free(link);

    CHECK_STR(name = tar_clean_name("/./a//b/./c/.", 13), "a/b/c");
    free(name);
    CHECK_STR(name = tar_clean_name("a/b\0/c", 6), "a/b"); /* stops at a NUL */
    free(name);
}

/* "LEN key=value\n" with LEN counting itself, appended to `out`. */
static void pax_record(struct ebuf *out, const char *key, const char *value)
{
    size_t body = strlen(key) + strlen(value) + 3; /* ' ', '=', '\n' */
    size_t len = body + 1;
    while ((size_t)snprintf(NULL, 0, "%zu", len) + body != len)
        len++;
    ebuf_printf(out, "%zu %s=%s\n", len, key, value);
}

static char *pax_of(const char *rec, const char *key)
{
    return tar_pax_value(rec, strlen(rec), key);
}

static void test_pax(void)
{
    struct ebuf r = EBUF_INIT;
    pax_record(&r, "mtime", "1700000000.5");
    pax_record(&r, "size", "9000000000");
    pax_record(&r, "path", "./blobs/sha256/a-name-longer-than-a-ustar-header-holds");
    pax_record(&r, "linkpath", "blobs//sha256/target");
    char *v;
    CHECK_STR(v = pax_of(ebuf_str(&r), "path"),
              "blobs/sha256/a-name-longer-than-a-ustar-header-holds");
    free(v);
    CHECK_STR(v = pax_of(ebuf_str(&r), "linkpath"), "blobs/sha256/target");
    free(v);
    CHECK_STR(v = pax_of(ebuf_str(&r), "size"), "9000000000");
    free(v);
    uint64_t size = 0;
    CHECK(tar_pax_size(ebuf_str(&r), r.len, &size));
    CHECK(size == 9000000000ull);
    /* a size that is not a plain decimal, or leaves no room for the padding, is no size */
    static const char *const bad_sizes[] = {"", "-1", "12x", " 5", "18446744073709551615"};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof *bad_sizes; i++) {
        struct ebuf b = EBUF_INIT;
        pax_record(&b, "size", bad_sizes[i]);
        size = 7;
        CHECK(!tar_pax_size(ebuf_str(&b), b.len, &size));
        CHECK(size == 7);
        ebuf_free(&b);
    }
    CHECK(!tar_pax_size("", 0, &size));
    CHECK(pax_of(ebuf_str(&r), "uname") == NULL);
    CHECK(pax_of("", "path") == NULL);
    /* "path" is not a prefix match of "pathx" nor found inside "linkpath". */
    ebuf_reset(&r);
    pax_record(&r, "pathx", "no");
    pax_record(&r, "linkpath", "no");
    CHECK(pax_of(ebuf_str(&r), "path") == NULL);

    /* Malformed records: the whole header yields nothing from the bad record on. */
    const char *bad[] = {
        "path=a\n",            /* no length */
        "x9 path=a\n",         /* length is not a number */
        "10path=a\n",          /* no space after the length */
        "0 path=a\n",          /* a zero length would never advance */
        "99 path=a\n",         /* runs past the header */
        "1 path=a\n",          /* shorter than its own length field */
        "2 path=a\n",          /* ends at its own space */
        "10 path=a\n7 junk\n", /* fine, then one that runs past the end */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0] - 1; i++) {
        v = pax_of(bad[i], "path");
        CHECK(v == NULL);
        free(v);
    }
    CHECK_STR(v = pax_of(bad[7], "path"), "a"); /* found before the bad record is reached */
    free(v);
    ebuf_reset(&r);
    ebuf_puts(&r, "3 x");
    pax_record(&r, "path", "a");
    /* "3 x" is a whole 3-byte record (its last byte stands where the '\n' goes) with no
     * key: skipped, and the next one is read. */
    CHECK_STR(v = pax_of(ebuf_str(&r), "path"), "a");
    free(v);
    ebuf_reset(&r);
    ebuf_puts(&r, "4 x\n");
    pax_record(&r, "path", "b");
    CHECK_STR(v = pax_of(ebuf_str(&r), "path"), "b"); /* a keyless record is skipped */
    free(v);
    ebuf_free(&r);
}

static void test_pending(void)
{
    struct tar_names p = {0};
    struct ebuf r = EBUF_INIT;
    pax_record(&r, "path", "from/pax");
    pax_record(&r, "linkpath", "pax/target");
    tar_names_apply(&p, TAR_PAX, ebuf_str(&r), r.len);
    CHECK_STR(p.name, "from/pax");
    CHECK_STR(p.link, "pax/target");

    /* A malformed pax header leaves what an earlier one said. */
    tar_names_apply(&p, TAR_PAX, "0 path=x\n", 9);
    CHECK_STR(p.name, "from/pax");

    /* A GNU long name (NUL-terminated inside its data) replaces it. */
    static const char gnu[] = "./blobs/sha256/gnu-long\0\0\0";
    tar_names_apply(&p, TAR_GNU_LONGNAME, gnu, sizeof gnu - 1);
    CHECK_STR(p.name, "blobs/sha256/gnu-long");

    /* A file member takes the name and leaves the link for a later link member. */
    char *name, *link;
    struct block h = ustar("short", NULL, 5, '0', NULL);
    REQUIRE(tar_member_names(h.b, TAR_FILE, &p, &name, &link) == 0);
    CHECK_STR(name, "blobs/sha256/gnu-long");
    CHECK(link == NULL);
    CHECK(p.name == NULL);
    CHECK_STR(p.link, "pax/target");
    free(name);

    tar_names_apply(&p, TAR_GNU_LONGLINK, "gnu/link", 8);
    h = ustar("dir/sym", NULL, 0, '2', "header-target");
    REQUIRE(tar_member_names(h.b, TAR_SYMLINK, &p, &name, &link) == 0);
    CHECK_STR(name, "dir/sym");
    CHECK_STR(link, "dir/gnu/link");
    CHECK(p.name == NULL && p.link == NULL);
    free(name);
    free(link);

    tar_names_apply(&p, TAR_PAX, ebuf_str(&r), r.len);
    tar_names_clear(&p);
    CHECK(p.name == NULL && p.link == NULL);
    tar_names_clear(&p);
    ebuf_free(&r);
}

int main(void)
{
    test_good();
    test_end_and_refusals();
    test_sizes();
    test_names();
    test_pax();
    test_pending();
    return test_finish("test_tar");
}
