/* Child processes: fork + exec, a pipe for stdout, wait4 for resource usage. The server's own
 * CPU is taken from wait4 so it never mixes with the client's getrusage figures. */
#include "bench_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double tv_seconds(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

int bench_server_start(const struct bench_server_config *cfg, struct bench_server *srv, char *err,
                       size_t err_len)
{
    char faults[128] = "";
    if (cfg->delay_ms || cfg->bandwidth) {
        int n = 0;
        if (cfg->delay_ms)
            n = snprintf(faults, sizeof faults, "delay=%u", cfg->delay_ms);
        if (cfg->bandwidth)
            snprintf(faults + n, sizeof faults - (size_t)n, "%sbandwidth=%llu", n ? "," : "",
                     (unsigned long long)cfg->bandwidth);
    }
    const char *argv[20];
    int a = 0;
    argv[a++] = cfg->ecrup;
    argv[a++] = "serve";
    argv[a++] = "--listen";
    argv[a++] = "127.0.0.1:0";
    argv[a++] = "--sink";
    argv[a++] = "--repository";
    argv[a++] = "bench";
    if (cfg->quotas) {
        argv[a++] = "--quotas";
        argv[a++] = "ecr";
    }
    if (faults[0]) {
        argv[a++] = "--faults";
        argv[a++] = faults;
    }
    if (cfg->tls_cert) {
        argv[a++] = "--tls-cert";
        argv[a++] = cfg->tls_cert;
        argv[a++] = "--tls-key";
        argv[a++] = cfg->tls_key;
    }
    argv[a] = NULL;

    int p[2];
    if (pipe2(p, O_CLOEXEC)) {
        snprintf(err, err_len, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, err_len, "fork: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(p[1], STDOUT_FILENO);
        if (cfg->log) {
            int fd = open(cfg->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            if (fd >= 0)
                dup2(fd, STDERR_FILENO);
        }
        union {
            const char **c;
            char *const *m;
        } args = {.c = argv}; /* exec's prototype predates const */
        execv(cfg->ecrup, args.m);
        _exit(127);
    }
    close(p[1]);
    /* The first line is the listening line; later lines (none with a key in the environment)
       are not needed, and the pipe closes with the child. */
    char line[256];
    size_t got = 0;
    double deadline = bench_now() + 10;
    while (got < sizeof line - 1 && !memchr(line, '\n', got)) {
        struct pollfd pfd = {.fd = p[0], .events = POLLIN};
        int ms = (int)((deadline - bench_now()) * 1000);
        if (ms <= 0 || poll(&pfd, 1, ms) <= 0)
            break;
        ssize_t r = read(p[0], line + got, sizeof line - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(p[0]);
    line[got] = 0;
    const char *prefix = "ecrup serve: listening on ";
    char *nl = strchr(line, '\n');
    if (!nl || strncmp(line, prefix, strlen(prefix)) != 0) {
        snprintf(err, err_len, "ecrup serve did not start (%s)", got ? line : "no output");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    *nl = 0;
    srv->pid = pid;
    snprintf(srv->url, sizeof srv->url, "%s", line + strlen(prefix));
    return 0;
}

double bench_server_stop(struct bench_server *srv, char *died, size_t died_len)
{
    if (died_len)
        died[0] = 0;
    if (srv->pid <= 0)
        return -1;
    int status;
    struct rusage ru;
    pid_t r = wait4(srv->pid, &status, WNOHANG, &ru);
    if (r == srv->pid) {
        if (WIFSIGNALED(status))
            snprintf(died, died_len, "ecrup serve died of signal %d during the run",
                     WTERMSIG(status));
        else
            snprintf(died, died_len, "ecrup serve exited with status %d during the run",
                     WEXITSTATUS(status));
    } else {
        kill(srv->pid, SIGTERM);
        do
            r = wait4(srv->pid, &status, 0, &ru);
        while (r < 0 && errno == EINTR);
    }
    srv->pid = 0;
    if (r < 0)
        return -1;
    return tv_seconds(ru.ru_utime) + tv_seconds(ru.ru_stime);
}

int bench_run(const char *const argv[], char *out, size_t out_len, struct rusage *usage)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC))
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(p[1], STDOUT_FILENO);
        union {
            const char *const *c;
            char *const *m;
        } args = {.c = argv}; /* exec's prototype predates const */
        execvp(argv[0], args.m);
        _exit(127);
    }
    close(p[1]);
    size_t got = 0;
    for (;;) {
        char sink[4096];
        char *dst = got + 1 < out_len ? out + got : sink;
        size_t room = got + 1 < out_len ? out_len - 1 - got : sizeof sink;
        ssize_t r = read(p[0], dst, room);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (dst != sink)
            got += (size_t)r;
    }
    close(p[0]);
    if (out_len)
        out[got] = 0;
    int status;
    struct rusage ru;
    pid_t r;
    do
        r = wait4(pid, &status, 0, &ru);
    while (r < 0 && errno == EINTR);
    if (r < 0 || !WIFEXITED(status))
        return -1;
    if (usage)
        *usage = ru;
    return WEXITSTATUS(status);
}

int bench_make_tls(const char *dir, char *ca, char *cert, char *key, size_t len, char *err,
                   size_t err_len)
{
    mkdir(dir, 0700);
    snprintf(ca, len, "%s/ca.crt", dir);
    snprintf(cert, len, "%s/server.crt", dir);
    snprintf(key, len, "%s/server.key", dir);
    /* EC keys: quick to make, and the handshake cost stays out of the way. */
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "set -e; cd '%s'; "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
             "-keyout ca.key -out ca.crt -days 2 -subj '/CN=ecrup-bench private CA' "
             "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign "
             ">/dev/null 2>&1; "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key "
             "-out server.csr -subj '/CN=127.0.0.1' >/dev/null 2>&1; "
             "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\n"
             "extendedKeyUsage=serverAuth\\n' > server.ext; "
             "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-out server.crt -days 2 -extfile server.ext >/dev/null 2>&1",
             dir);
    int rc = system(cmd);
    if (rc != 0) {
        snprintf(err, err_len, "openssl could not make the test CA and certificate in %s", dir);
        return -1;
    }
    return 0;
}
