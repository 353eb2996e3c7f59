/* file_read_all: whole small files, and the errors that name why not. */
#include "util/file.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"

static void write_file(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    REQUIRE(f);
    REQUIRE(fwrite(text, 1, n, f) == n);
    fclose(f);
}

int main(void)
{
    char dir[] = "/tmp/ecrup-test-file-XXXXXX";
    REQUIRE(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/f", dir);

    write_file(path, "a\0b\nc", 5);
    char *data = (char *)1;
    size_t len = 0;
    CHECK_EQ_INT(file_read_all(path, 5, &data, &len), 0);
    CHECK(len == 5 && !memcmp(data, "a\0b\nc", 5) && data[5] == '\0');
    free(data);
    CHECK_EQ_INT(file_read_all(path, 4, &data, &len), -EFBIG); /* one byte over */
    CHECK(data == NULL);

    write_file(path, "", 0);
    CHECK_EQ_INT(file_read_all(path, 0, &data, NULL), 0);
    CHECK(data && data[0] == '\0');
    free(data);

    CHECK_EQ_INT(file_read_all(dir, 1u << 20, &data, &len), -EINVAL); /* a directory */
    CHECK(data == NULL);
    unlink(path);
    CHECK_EQ_INT(file_read_all(path, 1u << 20, &data, &len), -ENOENT);
    CHECK(data == NULL);
    rmdir(dir);
    return test_finish("test_file");
}
