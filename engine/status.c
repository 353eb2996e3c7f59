/* Status codes: their descriptions, categories and names; the library version. */
#include <ecrup.h>

#define STR_(x) #x
#define STR(x)  STR_(x)

const char *ecrup_version(void)
{
    return STR(ECRUP_VERSION_MAJOR) "." STR(ECRUP_VERSION_MINOR) "." STR(ECRUP_VERSION_PATCH);
}

/* One row per status: its description, its category and its one local error name, which
 * the engine's results, PutImage's and the CLI's --json all report. */
struct status_info {
    const char *text;
    ecrup_category category;
    const char *name;
};

static const struct status_info status_table[] = {
    [ECRUP_OK] = {"success", ECRUP_CATEGORY_OK, "OK"},
    [ECRUP_E_INVALID_ARGUMENT] = {"invalid argument", ECRUP_CATEGORY_USAGE, "InvalidArgument"},
    [ECRUP_E_NOMEM] = {"out of memory", ECRUP_CATEGORY_INTERNAL, "OutOfMemory"},
    [ECRUP_E_IO] = {"local file I/O failed", ECRUP_CATEGORY_IO, "IOError"},
    [ECRUP_E_FILE_CHANGED] = {"file changed during upload", ECRUP_CATEGORY_IO, "FileChanged"},
    [ECRUP_E_NO_CREDENTIALS] = {"no AWS credentials found", ECRUP_CATEGORY_AUTH, "NoCredentials"},
    [ECRUP_E_CREDENTIALS] = {"credential provider failed", ECRUP_CATEGORY_AUTH, "CredentialsError"},
    [ECRUP_E_CONFIG] = {"malformed AWS config or credentials file", ECRUP_CATEGORY_USAGE,
                        "ConfigError"},
    [ECRUP_E_NO_REGION] = {"no AWS region configured", ECRUP_CATEGORY_USAGE, "NoRegion"},
    [ECRUP_E_ENDPOINT] = {"invalid or unknown endpoint", ECRUP_CATEGORY_USAGE, "InvalidEndpoint"},
    [ECRUP_E_TLS] = {"TLS connection or certificate verification failed", ECRUP_CATEGORY_AUTH,
                     "TLSError"},
    [ECRUP_E_NETWORK] = {"network error", ECRUP_CATEGORY_RETRYABLE, "NetworkError"},
    [ECRUP_E_TIMEOUT] = {"request timed out or stalled", ECRUP_CATEGORY_RETRYABLE, "Timeout"},
    [ECRUP_E_THROTTLED] = {"request throttled by the service", ECRUP_CATEGORY_RETRYABLE,
                           "Throttled"},
    [ECRUP_E_SERVER] = {"service error", ECRUP_CATEGORY_RETRYABLE, "ServerError"},
    [ECRUP_E_AUTH] = {"request refused: credentials or signature", ECRUP_CATEGORY_AUTH,
                      "AuthError"},
    [ECRUP_E_PROTOCOL] = {"unexpected reply from the service", ECRUP_CATEGORY_PROTOCOL,
                          "ProtocolError"},
    [ECRUP_E_REMOTE] = {"request refused by the service", ECRUP_CATEGORY_PROTOCOL, "RemoteError"},
    [ECRUP_E_DIGEST_MISMATCH] = {"layer digest mismatch", ECRUP_CATEGORY_PROTOCOL,
                                 "DigestMismatch"},
    [ECRUP_E_TOO_LARGE] = {"layer too large for ECR", ECRUP_CATEGORY_USAGE, "LayerTooLarge"},
    [ECRUP_E_EMPTY_LAYER] = {"layer file is empty", ECRUP_CATEGORY_USAGE, "EmptyLayer"},
    [ECRUP_E_CANCELLED] = {"cancelled", ECRUP_CATEGORY_USAGE, "Cancelled"},
    [ECRUP_E_UNSUPPORTED] = {"not supported by this build or machine", ECRUP_CATEGORY_USAGE,
                             "Unsupported"},
    [ECRUP_E_INTERNAL] = {"internal error", ECRUP_CATEGORY_INTERNAL, "InternalError"},
    [ECRUP_E_CLOCK_SKEW] = {"local clock too far from the service's", ECRUP_CATEGORY_RETRYABLE,
                            "ClockSkew"},
    [ECRUP_E_NOT_FOUND] = {"not found", ECRUP_CATEGORY_USAGE, "NotFound"},
    [ECRUP_E_INVALID_RANGE] = {"layer range outside its file", ECRUP_CATEGORY_USAGE,
                               "InvalidRange"},
    [ECRUP_E_STREAM_REWIND] = {"a stream layer cannot be read again", ECRUP_CATEGORY_IO,
                               "StreamRewind"},
};

#define N_STATUS (sizeof status_table / sizeof status_table[0])

const char *ecrup_strerror(ecrup_status status)
{
    if ((unsigned)status < N_STATUS && status_table[status].text)
        return status_table[status].text;
    return "unknown status";
}

const char *ecrup_status_name(ecrup_status status)
{
    if ((unsigned)status < N_STATUS && status_table[status].text)
        return status_table[status].name;
    return "InternalError";
}

ecrup_category ecrup_status_category(ecrup_status status)
{
    if ((unsigned)status < N_STATUS && status_table[status].text)
        return status_table[status].category;
    return ECRUP_CATEGORY_INTERNAL;
}

const char *ecrup_category_name(ecrup_category category)
{
    static const char *const names[] = {"ok",   "retryable", "usage",   "io",
                                        "auth", "protocol",  "internal"};
    if ((unsigned)category < sizeof names / sizeof names[0])
        return names[category];
    return "unknown";
}
