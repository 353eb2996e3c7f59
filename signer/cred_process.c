/* The "process" credential provider: a profile's credential_process, run with /bin/sh -c,
 * its stdout a JSON credentials document (Version 1), its stderr quoted in the message when it
 * fails. Reached through the profile provider (cred_profile.c), which finds the command. */
#include "signer/cred_provider.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_PROCESS_STDOUT (1024 * 1024)
#define MAX_PROCESS_STDERR 512

/* Read a pipe pair until both close; stdout capped (over the cap is an error), stderr kept to
 * its first MAX_PROCESS_STDERR bytes. */
static int drain(int out_fd, int err_fd, struct ebuf *out, struct ebuf *errout)
{
    struct pollfd fds[2] = {{.fd = out_fd, .events = POLLIN}, {.fd = err_fd, .events = POLLIN}};
    int open_fds = 2, rc = 0;
    char buf[4096];
    while (open_fds) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                fds[i].fd = -1;
                open_fds--;
                continue;
            }
            if (i == 0) {
                if (out->len + (size_t)n > MAX_PROCESS_STDOUT)
                    rc = -1;
                else
                    ebuf_append(out, buf, (size_t)n);
            } else if (errout->len < MAX_PROCESS_STDERR) {
                size_t room = MAX_PROCESS_STDERR - errout->len;
                ebuf_append(errout, buf, (size_t)n < room ? (size_t)n : room);
            }
        }
    }
    explicit_bzero(buf, sizeof buf);
    return rc;
}

/* Run `command` with /bin/sh -c; 0 with its exit status, -1 when it could not run. */
static int run_process(const char *command, int *status, struct ebuf *out, struct ebuf *errout)
{
    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(pe, O_CLOEXEC) != 0) {
        close(po[0]);
        close(po[1]);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    char *argv[] = {"sh", "-c", (char *)(uintptr_t)command, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(pe[1]);
    if (rc != 0) {
        close(po[0]);
        close(pe[0]);
        errno = rc;
        return -1;
    }
    int drained = drain(po[0], pe[0], out, errout);
    close(po[0]);
    close(pe[0]);
    int ws;
    while (waitpid(pid, &ws, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
    if (drained != 0) {
        ebuf_reset(errout);
        ebuf_puts(errout, "its output exceeds 1 MiB");
        *status = *status ? *status : 1;
    }
    return 0;
}

/* Trim trailing whitespace and keep printable ASCII only: a process's stderr goes into our
 * message, and must not bring terminal escapes along. */
static void sanitize(struct ebuf *b)
{
    if (!b->data)
        return;
    size_t n = b->len;
    while (n && (b->data[n - 1] == '\n' || b->data[n - 1] == '\r' || b->data[n - 1] == ' ' ||
                 b->data[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)b->data[i];
        if (ch == '\n' || ch == '\t')
            b->data[i] = ' ';
        else if (ch < 0x20 || ch > 0x7e)
            b->data[i] = '?';
    }
    b->data[n] = '\0';
    b->len = n;
}

ecrup_status cred_process_run(const char *profile, const char *command, struct cred_snapshot **out,
                              struct ebuf *err)
{
    struct ebuf so = EBUF_INIT, se = EBUF_INIT;
    int status = 0;
    ecrup_status st = ECRUP_E_CREDENTIALS;
    char who[200];
    snprintf(who, sizeof who, "credential_process of profile \"%.100s\"", profile);
    if (run_process(command, &status, &so, &se) != 0) {
        ebuf_printf(err, "%s: cannot run /bin/sh: %s", who, strerror(errno));
        goto done;
    }
    if (status != 0) {
        sanitize(&se);
        ebuf_printf(err, "%s exited with status %d%s%s", who, status, se.len ? ": " : "",
                    ebuf_str(&se));
        goto done;
    }
    cJSON *root = cJSON_ParseWithLength(ebuf_str(&so), so.len);
    if (!cJSON_IsObject(root)) {
        ebuf_printf(err, "%s: its output is not a JSON object", who);
    } else {
        const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "Version");
        if (!cJSON_IsNumber(ver) || ver->valuedouble != 1.0)
            ebuf_printf(err, "%s: \"Version\" must be 1", who);
        else
            st = cred_snapshot_from_json(root, "SessionToken", false, "process", who, out, err);
    }
    if (root) {
        /* The parsed strings hold the secret too. */
        for (cJSON *it = root->child; it; it = it->next)
            if (cJSON_IsString(it) && it->valuestring)
                explicit_bzero(it->valuestring, strlen(it->valuestring));
        cJSON_Delete(root);
    }
done:
    cred_wipe_ebuf(&so);
    ebuf_free(&se);
    return st;
}
