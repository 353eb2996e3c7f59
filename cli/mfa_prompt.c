/* The CLI's answer to ecrup_options.mfa_code: the aws CLI's getpass prompt, on the
 * controlling terminal so that it works while stdout is piped (`ecrup push ... | tee`) and
 * fails at once in CI, where there is no terminal to ask. */
#include "cli/cli.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

int cli_mfa_prompt(void *user, const char *mfa_serial, char *code, size_t code_size)
{
    (void)user;
    if (code_size < 2)
        return -1;
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct termios saved, quiet;
    bool echo_off = tcgetattr(fd, &saved) == 0;
    if (echo_off) {
        quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        echo_off = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
    }
    dprintf(fd, "Enter MFA code for %s: ", mfa_serial);
    size_t n = 0;
    bool ended = false;
    while (!ended) {
        char ch;
        ssize_t r = read(fd, &ch, 1);
        if (r <= 0 || ch == '\n' || ch == '\r') {
            ended = r > 0;
            break;
        }
        if (n + 1 < code_size)
            code[n++] = ch;
    }
    code[n] = '\0';
    if (echo_off)
        tcsetattr(fd, TCSAFLUSH, &saved);
    close(fd);
    /* Codes are digits; surrounding blanks from a paste are not part of them. */
    size_t start = 0;
    while (code[start] == ' ' || code[start] == '\t')
        start++;
    memmove(code, code + start, n - start + 1);
    n -= start;
    while (n && (code[n - 1] == ' ' || code[n - 1] == '\t'))
        code[--n] = '\0';
    return ended && n ? 0 : -1;
}
