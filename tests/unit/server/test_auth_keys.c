/* `ecrup serve --keys FILE`: every line is one pair whatever its length (a session token of
 * thousands of characters is not cut into a second "line"), comments and blank lines are
 * skipped, and a malformed line is refused naming its number, never its contents. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/auth.h"
#include "test.h"

static char path[] = "/tmp/ecrup-keys-XXXXXX";

/* Load `text` as a keys file into a fresh srv_auth: the count of pairs, or -1 (err holds
 * the message). */
static long load(const char *text, struct ebuf *err)
{
    FILE *f = fopen(path, "w");
    REQUIRE(f && fputs(text, f) >= 0 && fclose(f) == 0);
    struct srv_auth *a = srv_auth_new(NULL, NULL, NULL);
    REQUIRE(a);
    ebuf_reset(err);
    long n = srv_auth_load_file(a, path, err) == 0 ? (long)srv_auth_count(a) : -1;
    srv_auth_free(a);
    return n;
}

int main(void)
{
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    struct ebuf err = EBUF_INIT;
    struct ebuf text = EBUF_INIT;

    CHECK_EQ_INT(load("# pairs\n\nAKIDONE secretone\nAKIDTWO secrettwo tokentwo\n", &err), 2);

    /* Tokens of 4095 to 9000 characters, then a second pair. */
    static const size_t sizes[] = {4000, 4095, 4096, 4097, 9000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        ebuf_reset(&text);
        ebuf_puts(&text, "AKIDLONG secretlong ");
        for (size_t k = 0; k < sizes[i]; k++)
            ebuf_putc(&text, (char)('A' + k % 26));
        ebuf_puts(&text, "\nAKIDNEXT secretnext\n");
        long n = load(ebuf_str(&text), &err);
        if (n != 2)
            fprintf(stderr, "token of %zu: %s\n", sizes[i], ebuf_str(&err));
        CHECK_EQ_INT(n, 2);
    }
    /* A last line without its newline counts too. */
    CHECK_EQ_INT(load("AKIDONE secretone", &err), 1);

    CHECK_EQ_INT(load("AKIDONE secretone\nAKIDBAD\n", &err), -1);
    CHECK(strstr(ebuf_str(&err), "line 2") != NULL);
    CHECK(strstr(ebuf_str(&err), "AKIDBAD") == NULL);
    CHECK_EQ_INT(load("AKIDONE secret token extra-secret\n", &err), -1);
    CHECK(strstr(ebuf_str(&err), "line 1") != NULL);
    CHECK(strstr(ebuf_str(&err), "extra-secret") == NULL);
    CHECK_EQ_INT(load("# nothing\n\n", &err), -1);
    CHECK(strstr(ebuf_str(&err), "no key pairs") != NULL);

    unlink(path);
    ebuf_free(&text);
    ebuf_free(&err);
    return test_finish("test_auth_keys");
}
