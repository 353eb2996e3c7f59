/* Drives util/ecr_name.h for ecr_name_vs_botocore.py: each line of stdin is a name in hex (so
 * any byte can be tested); each line of stdout is 1 when the name is valid, else 0. With
 * --bounds, prints the shortest and longest lengths instead. */
#include <stdio.h>
#include <string.h>

#include "util/ecr_name.h"

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--bounds")) {
        printf("%d %d\n", ECR_REPOSITORY_NAME_MIN, ECR_REPOSITORY_NAME_MAX);
        return 0;
    }
    static char line[4096], name[2048];
    while (fgets(line, sizeof line, stdin)) {
        size_t n = strcspn(line, "\n");
        if (n % 2 || n / 2 >= sizeof name) {
            fprintf(stderr, "ecr_name_tool: bad line\n");
            return 2;
        }
        for (size_t i = 0; i < n / 2; i++) {
            int hi = hex_value(line[2 * i]), lo = hex_value(line[2 * i + 1]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                fprintf(stderr, "ecr_name_tool: bad hex or a NUL byte\n");
                return 2;
            }
            name[i] = (char)(hi * 16 + lo);
        }
        name[n / 2] = '\0';
        printf("%d\n", ecr_repository_name_valid(name) ? 1 : 0);
    }
    return 0;
}
