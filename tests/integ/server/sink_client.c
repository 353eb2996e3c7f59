/* A load generator for `ecrup serve --sink` (a measuring tool, not a test): C connections,
 * each sending P UploadLayerPart requests of 10 MiB over keep-alive, as fast as the socket
 * takes them. Prints the request-body throughput.
 *
 *   sink_client URL PARTS CONNECTIONS
 *
 * The key pair comes from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. InitiateLayerUpload is
 * signed for real; the parts carry a well-formed Authorization with a dummy signature, which
 * a sink accepts because it does not hash part bodies (docs/server.md): the client then costs
 * no SHA-256 and the measure is the server's. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "signer/sigv4.h"

#define PART (10u << 20)

static char host[64];
static int port;
static long parts;
static char *blob;
static size_t blob_len;

static int read_reply(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        ssize_t n = recv(fd, buf + got, cap - 1 - got, 0);
        if (n <= 0)
            return -1;
        got += (size_t)n;
        buf[got] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end)
            continue;
        const char *cl = strcasestr(buf, "content-length:");
        size_t len = cl ? strtoul(cl + 15, NULL, 10) : 0;
        if (got >= (size_t)(end + 4 - buf) + len)
            return atoi(buf + 9);
    }
}

static int send_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0)
            return -1;
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

static void *run(void *arg)
{
    (void)arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("connect");
        exit(1);
    }
    const char *akid = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
    char hostport[96];
    snprintf(hostport, sizeof hostport, "%s:%d", host, port);
    const char *body = "{\"repositoryName\":\"bench\"}";
    uint8_t md[32];
    unsigned mdlen;
    EVP_Digest(body, strlen(body), md, &mdlen, EVP_sha256(), NULL);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    struct sigv4_header h[] = {
        {"host", hostport},
        {"content-type", "application/x-amz-json-1.1"},
        {"x-amz-target", "AmazonEC2ContainerRegistry_V20150921.InitiateLayerUpload"},
    };
    struct sigv4_request req = {"POST", "/", NULL, h, 3, hex, true};
    struct sigv4_credentials cr = {akid, secret, NULL};
    struct sigv4_signature sig;
    if (sigv4_sign(&req, &cr, "us-east-1", "ecr", time(NULL), NULL, &sig) != 0)
        exit(1);
    char head[4096], reply[65536];
    int hl = snprintf(head, sizeof head,
                      "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-amz-json-1.1\r\n"
                      "X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.InitiateLayerUpload\r\n"
                      "X-Amz-Date: %s\r\nAuthorization: %s\r\nContent-Length: %zu\r\n\r\n%s",
                      hostport, sig.amz_date, ebuf_str(&sig.authorization), strlen(body), body);
    sigv4_signature_free(&sig);
    struct iovec iv0 = {head, (size_t)hl};
    if (send_all(fd, &iv0, 1) != 0 || read_reply(fd, reply, sizeof reply) != 200) {
        fprintf(stderr, "InitiateLayerUpload failed: %s\n", reply);
        exit(1);
    }
    char upload[37];
    char *u = strstr(reply, "\"uploadId\":\"");
    memcpy(upload, u + 12, 36);
    upload[36] = '\0';
    for (long i = 0; i < parts; i++) {
        char prefix[512];
        unsigned long long first = (unsigned long long)i * PART;
        int pl =
            snprintf(prefix, sizeof prefix,
                     "{\"repositoryName\":\"bench\",\"uploadId\":\"%s\",\"partFirstByte\":%llu,"
                     "\"partLastByte\":%llu,\"layerPartBlob\":\"",
                     upload, first, first + PART - 1);
        char date[17];
        sigv4_format_amz_date(time(NULL), date);
        hl = snprintf(head, sizeof head,
                      "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-amz-json-1.1\r\n"
                      "X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.UploadLayerPart\r\n"
                      "X-Amz-Date: %s\r\nAuthorization: AWS4-HMAC-SHA256 Credential=%s/%.8s/"
                      "us-east-1/ecr/aws4_request, SignedHeaders=content-type;host;x-amz-date;"
                      "x-amz-target, Signature=%064d\r\nContent-Length: %zu\r\n\r\n",
                      hostport, date, akid, date, 0, (size_t)pl + blob_len + 2);
        struct iovec iv[4] = {
            {head, (size_t)hl}, {prefix, (size_t)pl}, {blob, blob_len}, {(char *)"\"}", 2}};
        if (send_all(fd, iv, 4) != 0 || read_reply(fd, reply, sizeof reply) != 200) {
            fprintf(stderr, "UploadLayerPart failed: %s\n", reply);
            exit(1);
        }
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4 || sscanf(argv[1], "http://%63[^:]:%d", host, &port) != 2) {
        fprintf(stderr, "usage: sink_client http://HOST:PORT PARTS CONNECTIONS\n");
        return 2;
    }
    parts = atol(argv[2]);
    int conns = atoi(argv[3]);
    uint8_t *raw = malloc(PART);
    RAND_bytes(raw, PART);
    blob = malloc(4 * (PART / 3 + 1) + 1);
    blob_len = (size_t)EVP_EncodeBlock((unsigned char *)blob, raw, PART);
    free(raw);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t th[64];
    for (int i = 0; i < conns && i < 64; i++)
        pthread_create(&th[i], NULL, run, NULL);
    for (int i = 0; i < conns && i < 64; i++)
        pthread_join(th[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double bytes = (double)parts * conns * (double)(blob_len + 200);
    printf(
        "%d connection(s) x %ld parts of 10 MiB: %.2f GB of request body in %.2f s = %.2f GB/s\n",
        conns, parts, bytes / 1e9, s, bytes / 1e9 / s);
    free(blob);
    return 0;
}
