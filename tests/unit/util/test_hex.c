/* util/hex: hex_encode against known vectors and snprintf("%02x") for every byte value, with
 * nothing written past the NUL; sha256_hex and sha256_digest against the FIPS 180-2 digests
 * (empty, "abc", the 448-bit message, a million 'a's); sha256_digest_valid on the one form it
 * takes and the near misses around it, read from a guard page so an over-read faults; uuid4's
 * version 4 format, and two calls giving different values. */
#include "test.h"
#include "util/hex.h"

#include <ctype.h>

static void test_hex_encode(void)
{
    char out[16];
    memset(out, 'x', sizeof out);
    hex_encode((const unsigned char *)"", 0, out);
    CHECK_STR(out, "");
    CHECK(out[1] == 'x'); /* only the NUL was written */

    const unsigned char v[] = {0x00, 0xff, 0x10, 0xab, 0x7f, 0x80};
    memset(out, 'x', sizeof out);
    hex_encode(v, sizeof v, out);
    CHECK_STR(out, "00ff10ab7f80");
    CHECK(out[13] == 'x');

    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    char got[513], want[513];
    hex_encode(all, sizeof all, got);
    for (int i = 0; i < 256; i++)
        snprintf(want + 2 * i, 3, "%02x", i);
    CHECK_STR(got, want);
}

static void test_sha256(void)
{
    static const struct {
        const char *msg;
        const char *hex;
    } vec[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        char hex[65], digest[72], want[72];
        CHECK(sha256_hex(vec[i].msg, strlen(vec[i].msg), hex));
        CHECK_STR(hex, vec[i].hex);
        CHECK(sha256_digest(vec[i].msg, strlen(vec[i].msg), digest));
        snprintf(want, sizeof want, "sha256:%s", vec[i].hex);
        CHECK_STR(digest, want);
        CHECK(sha256_digest_valid(digest));
    }
    size_t n = 1000000;
    char *a = malloc(n);
    REQUIRE(a != NULL);
    memset(a, 'a', n);
    char hex[65];
    CHECK(sha256_hex(a, n, hex));
    CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
    /* A NULL pointer with no bytes is the empty message. */
    CHECK(sha256_hex(NULL, 0, hex));
    CHECK_STR(hex, vec[0].hex);
}

static bool valid_guarded(const char *s)
{
    size_t len = strlen(s) + 1; /* the NUL is the last readable byte */
    char *copy = test_guarded_copy(s, len);
    bool ok = sha256_digest_valid(copy);
    test_guarded_free(copy, len);
    return ok;
}

static void test_digest_valid(void)
{
    const char *good = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    CHECK(valid_guarded(good));
    CHECK(valid_guarded("sha256:0000000000000000000000000000000000000000000000000000000000000000"));
    CHECK(valid_guarded("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));

    static const char *const bad[] = {
        "",
        "sha256:",
        "sha256",
        /* 63 and 65 digits */
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
        /* uppercase hex, a non-hex letter, a space, a trailing newline */
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85 ",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85\n",
        /* another algorithm or case, a missing colon, leading whitespace */
        "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "sha256e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855a",
        " sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        /* bare hex */
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bool ok = valid_guarded(bad[i]);
        CHECK(!ok);
        if (ok)
            fprintf(stderr, "  accepted: \"%s\"\n", bad[i]);
    }
}

static bool uuid_format(const char *u)
{
    if (strlen(u) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (u[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)u[i]) || isupper((unsigned char)u[i])) {
            return false;
        }
    }
    /* version 4, variant 10xx */
    return u[14] == '4' && strchr("89ab", u[19]) != NULL;
}

static void test_uuid4(void)
{
    char a[37], b[37];
    memset(a, 'x', sizeof a);
    CHECK(uuid4(a));
    CHECK(uuid_format(a));
    CHECK(uuid4(b));
    CHECK(uuid_format(b));
    CHECK(strcmp(a, b) != 0);
    /* The fixed bits are set whatever the random bytes: many draws, all well formed. */
    int bad = 0;
    for (int i = 0; i < 1000; i++)
        bad += !(uuid4(a) && uuid_format(a));
    CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    test_hex_encode();
    test_sha256();
    test_digest_valid();
    test_uuid4();
    return test_finish("test_hex");
}
