/*
 * ecrup: push container image layers to Amazon ECR through the ECR API.
 *
 * The only public header of libecrup. Conventions, in the manner of curl and the AWS C runtime:
 *  - Opaque handles are created with `_new` and freed with `_free`; `_free(NULL)` does nothing.
 *  - Options structs are filled by `_init`; a zero field means "default", and each field says
 *    what the default is.
 *  - Strings passed in are copied unless a comment says the pointer is borrowed.
 *  - Every fallible call returns an `ecrup_status`; there is no thread-local "last error".
 *    Calls that can fail for reasons worth explaining also take an optional `struct ecrup_error`.
 *  - The library never initialises libcurl or OpenSSL globally behind the host's back:
 *    see ecrup_global_init().
 */
#ifndef ECRUP_H
#define ECRUP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ECRUP_BUILDING) && defined(__GNUC__)
#define ECRUP_API __attribute__((visibility("default")))
#else
#define ECRUP_API
#endif

#define ECRUP_VERSION_MAJOR 0
#define ECRUP_VERSION_MINOR 1
#define ECRUP_VERSION_PATCH 0

/** The library's version as "MAJOR.MINOR.PATCH". Static storage; any thread. */
ECRUP_API const char *ecrup_version(void);

/**
 * Status codes. Append-only: a value, once released, keeps its number and meaning.
 */
typedef enum ecrup_status {
    ECRUP_OK = 0,                 /* 0: success */
    ECRUP_E_INVALID_ARGUMENT = 1, /* 1: a caller-supplied value is malformed or out of range */
    ECRUP_E_NOMEM = 2,            /* 2: memory allocation failed */
    ECRUP_E_IO = 3,               /* 3: reading a local file failed */
    ECRUP_E_FILE_CHANGED = 4,     /* 4: a layer file changed while it was being uploaded */
    ECRUP_E_NO_CREDENTIALS = 5,   /* 5: no credential provider produced credentials */
    ECRUP_E_CREDENTIALS = 6,      /* 6: a credential provider failed (process, container, IMDS) */
    ECRUP_E_CONFIG = 7,           /* 7: a shared config or credentials file is malformed */
    ECRUP_E_NO_REGION = 8,        /* 8: no region given or configured */
    ECRUP_E_ENDPOINT = 9,         /* 9: the endpoint URL is malformed or cannot be derived */
    ECRUP_E_TLS = 10,             /* 10: TLS handshake or certificate verification failed */
    ECRUP_E_NETWORK = 11,         /* 11: connection refused, reset, or name resolution failed */
    ECRUP_E_TIMEOUT = 12,         /* 12: a request stalled or timed out */
    ECRUP_E_THROTTLED = 13,       /* 13: the service throttled the request */
    ECRUP_E_SERVER = 14,          /* 14: the service failed (HTTP 5xx) */
    ECRUP_E_AUTH = 15,            /* 15: the service refused the credentials or signature */
    ECRUP_E_PROTOCOL = 16,        /* 16: the service's reply could not be understood */
    ECRUP_E_REMOTE = 17,          /* 17: the service refused the request (see the exception) */
    ECRUP_E_DIGEST_MISMATCH = 18, /* 18: the layer's digest is not what was expected */
    ECRUP_E_TOO_LARGE = 19,       /* 19: the layer exceeds ECR's limits (52,000 MiB) */
    ECRUP_E_EMPTY_LAYER = 20,     /* 20: the layer file is empty */
    ECRUP_E_CANCELLED = 21,       /* 21: ecrup_engine_cancel() was called */
    ECRUP_E_UNSUPPORTED = 22,     /* 22: not supported by this build or this machine */
    ECRUP_E_INTERNAL = 23,        /* 23: a bug in ecrup */
    ECRUP_E_CLOCK_SKEW = 24,      /* 24: the local clock is too far from the service's */
    ECRUP_E_NOT_FOUND = 25,       /* 25: a named file, profile or repository does not exist */
    ECRUP_E_INVALID_RANGE = 26,   /* 26: a layer's byte range lies outside its file */
    ECRUP_E_STREAM_REWIND = 27,   /* 27: the registry wanted bytes of a stream layer again that
                                     the stream no longer has (see ecrup_layer.read) */
} ecrup_status;

/** What kind of failure a status is: lets a caller decide what to do without a table. */
typedef enum ecrup_category {
    ECRUP_CATEGORY_OK = 0,        /* success */
    ECRUP_CATEGORY_RETRYABLE = 1, /* transient: trying again later may succeed */
    ECRUP_CATEGORY_USAGE = 2,     /* the caller's input or configuration is wrong */
    ECRUP_CATEGORY_IO = 3,        /* the local file system */
    ECRUP_CATEGORY_AUTH = 4,      /* credentials, signatures, permissions */
    ECRUP_CATEGORY_PROTOCOL = 5,  /* the service said no, or said something unexpected */
    ECRUP_CATEGORY_INTERNAL = 6,  /* a bug, or memory exhausted */
} ecrup_category;

/** A short English description of `status`. Static storage; never NULL; any thread. */
ECRUP_API const char *ecrup_strerror(ecrup_status status);
/**
 * The status's stable name ("FileChanged", "NoCredentials", ...): what a result record's
 * `exception` and the CLI's `--json` "error" say for a failure that has no ECR exception
 * name. Each status has exactly one; docs/engine.md lists them. Unknown values are
 * "InternalError". Static storage; never NULL; any thread.
 */
ECRUP_API const char *ecrup_status_name(ecrup_status status);
/** The category of `status`; unknown values are ECRUP_CATEGORY_INTERNAL. Any thread. */
ECRUP_API ecrup_category ecrup_status_category(ecrup_status status);
/** The name of a category ("retryable", "usage", ...). Static storage; any thread. */
ECRUP_API const char *ecrup_category_name(ecrup_category category);

/** A status with a human-readable explanation, filled by calls that take one. */
struct ecrup_error {
    ecrup_status status;
    char message[512]; /* NUL-terminated; never contains secrets */
};

/**
 * Initialise libcurl and OpenSSL for the process (curl_global_init(CURL_GLOBAL_DEFAULT)).
 * Call once, before any other thread exists, unless the host already initialised libcurl;
 * ecrup_engine_new() does not do it for you. Pair with ecrup_global_cleanup().
 */
ECRUP_API ecrup_status ecrup_global_init(void);
/** Undo ecrup_global_init(). Call once, after every engine is freed. */
ECRUP_API void ecrup_global_cleanup(void);

/** Retry policy, as the AWS SDKs name it (AWS_RETRY_MODE). */
typedef enum ecrup_retry_mode {
    ECRUP_RETRY_DEFAULT = 0,  /* AWS_RETRY_MODE, else standard */
    ECRUP_RETRY_STANDARD = 1, /* exponential backoff with full jitter, retry quota */
    ECRUP_RETRY_ADAPTIVE = 2, /* standard plus client-side rate limiting */
    ECRUP_RETRY_LEGACY = 3,   /* accepted for compatibility; behaves as standard */
} ecrup_retry_mode;

/** How layer files are read. */
typedef enum ecrup_io_backend {
    ECRUP_IO_AUTO = 0,  /* ECRUP_IO_BACKEND, else io_uring when the kernel allows it, else pread */
    ECRUP_IO_URING = 1, /* io_uring; fails if unavailable */
    ECRUP_IO_PREAD = 2, /* a thread doing pread() */
} ecrup_io_backend;

/** Which base64 encoder prepares part bodies. */
typedef enum ecrup_base64_backend {
    ECRUP_BASE64_AUTO = 0,   /* ECRUP_BASE64_BACKEND, else the best the CPU supports */
    ECRUP_BASE64_SCALAR = 1, /* portable */
    ECRUP_BASE64_SSSE3 = 2,
    ECRUP_BASE64_AVX2 = 3,
    ECRUP_BASE64_AVX512 = 4, /* AVX-512 VBMI */
} ecrup_base64_backend;

/** Severity of a log line. */
typedef enum ecrup_log_level {
    ECRUP_LOG_ERROR = 0,
    ECRUP_LOG_WARN = 1,
    ECRUP_LOG_INFO = 2,  /* one line per request: operation, attempt, status, duration */
    ECRUP_LOG_DEBUG = 3, /* canonical requests (signatures redacted), backend choices */
} ecrup_log_level;

/**
 * Receives log lines. `line` is NUL-terminated, without a trailing newline, has secrets
 * redacted, and lives only during the call. Called from any engine thread, possibly
 * concurrently: the callback must be thread-safe.
 */
typedef void (*ecrup_log_fn)(ecrup_log_level level, const char *line, void *user);

/** Where a layer is in its life, as reported by progress events. */
typedef enum ecrup_phase {
    ECRUP_PHASE_WAITING = 0,    /* queued */
    ECRUP_PHASE_HASHING = 1,    /* computing the digest before checking for the layer */
    ECRUP_PHASE_CHECKING = 2,   /* BatchCheckLayerAvailability */
    ECRUP_PHASE_PUSHING = 3,    /* parts on the wire; bytes_sent and bytes_done grow */
    ECRUP_PHASE_COMPLETING = 4, /* CompleteLayerUpload */
    ECRUP_PHASE_DONE = 5,       /* final: see the result record */
} ecrup_phase;

/** How a layer ended. */
typedef enum ecrup_outcome {
    ECRUP_OUTCOME_PENDING = 0,  /* not finished yet */
    ECRUP_OUTCOME_UPLOADED = 1, /* uploaded and the service confirmed the digest */
    ECRUP_OUTCOME_EXISTS = 2,   /* already present: nothing more sent once that was known
                                   (with check_first, or a digest given, nothing at all;
                                   otherwise parts may have gone out while the layer was
                                   hashed, see check_first) */
    ECRUP_OUTCOME_FAILED = 3,   /* not uploaded; see status, exception and message */
} ecrup_outcome;

/** A progress event. Lives only during the callback. */
struct ecrup_progress {
    uint64_t layer_id; /* as returned by ecrup_engine_add_layer() */
    void *layer_user;  /* the layer's `user` pointer */
    ecrup_phase phase;
    uint64_t bytes_done;   /* bytes the service has acknowledged */
    uint64_t bytes_total;  /* the layer's size */
    uint64_t resumed_from; /* the upload continues one an earlier run left at this byte; 0
                              when it started at byte 0 (see ecrup_result.resumed_from) */
    uint64_t bytes_sent;   /* bytes handed to the network: bytes_done plus, of the part on the
                              wire, the share of its request body sent so far (so it moves
                              while a part is in flight; a rate shown from it is the link's).
                              Always >= bytes_done. When a part goes again (a retry, a refusal
                              at the same byte) it falls back to bytes_done, by at most that
                              part; only a service that forgets bytes (a resume point behind
                              bytes_done) or a restarted upload moves both back further.
                              Appended: hosts built against an earlier header, which never
                              read it, are unaffected */
    ecrup_outcome outcome; /* PENDING until phase DONE, then the layer's outcome, as its result
                              record says it (so a view can show the final word at once) */
};

/**
 * Receives progress events. Called only from the thread that called ecrup_engine_run() (the
 * engine's scheduler runs there), so never concurrently with itself, at most every 100 ms per
 * layer plus once per phase change, and while a part is on the wire about every 100 ms as its
 * bytes go (bytes_sent). Keep it short: while it runs, no layer takes its next step.
 */
typedef void (*ecrup_progress_fn)(const struct ecrup_progress *event, void *user);

/**
 * Engine configuration. Fill with ecrup_options_init(), then set what you need. Every field's
 * zero value means the documented default. String fields are copied by ecrup_engine_new().
 */
struct ecrup_options {
    /* Where to push. */
    const char *region;       /* NULL: AWS_REGION, AWS_DEFAULT_REGION, the profile's `region`.
                                 Set, it is also the region of the credential chain's STS
                                 calls, as botocore's session region is */
    const char *endpoint_url; /* NULL: AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL, the profile's
                                 `services` section (its `ecr` block), the profile's
                                 `endpoint_url`, else https://api.ecr.<region>.<partition DNS> */
    const char *profile;      /* NULL: AWS_PROFILE, else "default" */

    /* Explicit credentials; when access_key_id is NULL the AWS SDKs' provider chain is used:
       environment, shared files (credential_process included), container, IMDSv2. */
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL: none */

    /* TLS. Verification is always on unless insecure_skip_tls_verify is set. */
    const char *ca_bundle;        /* NULL: AWS_CA_BUNDLE, the profile's `ca_bundle`, else the
                                     system store. Set, the credential chain's STS and SSO
                                     calls trust it too */
    int insecure_skip_tls_verify; /* 0: verify peer and host name */

    /* Resources. */
    unsigned concurrency;  /* layers in flight; 0: 4 per online core (at least 4); never more
                              than half the part buffers memory_limit holds */
    uint64_t memory_limit; /* bytes for part buffers (each holds a part and its request body,
                              ~2.4 x part size); 0: 512 MiB. Peak RSS is about this plus a few
                              tens of MiB. Too small for two buffers: the layers fail */
    uint64_t part_size;    /* bytes per part; 0: the partSize the service returns, kept within
                              5 MiB..20 MiB, raised when a layer would need over 4,200 parts.
                              Above the service's partSize: lowered to it (logged once, WARN) */

    /* Retries. */
    unsigned max_attempts;       /* per request; 0: AWS_MAX_ATTEMPTS, else 3 */
    ecrup_retry_mode retry_mode; /* 0: AWS_RETRY_MODE, else standard */

    /* Behaviour. */
    int no_check; /* 0: skip layers BatchCheckLayerAvailability reports present */

    /* Backends (tests and benchmarks force them). */
    ecrup_io_backend io_backend;
    ecrup_base64_backend base64_backend;

    /* Observers; both optional. */
    ecrup_progress_fn progress;
    void *progress_user; /* borrowed; passed back to `progress` */
    ecrup_log_fn log;
    void *log_user;            /* borrowed; passed back to `log` */
    ecrup_log_level log_level; /* 0: errors only */

    /* Request rates per second, to stay under the account's ECR quotas. 0: start at 90% of
       ECR's default quota (UploadLayerPart 500, InitiateLayerUpload 100, CompleteLayerUpload
       100, BatchCheckLayerAvailability 1000) and grow while the push wants more and no
       ThrottlingException comes, up to ten times the default, so an account whose quotas were
       raised is not held to the defaults (docs/engine.md, "Request quotas"). Set: at most 90%
       of it, in bursts of at most a tenth, never grown. A throttle cuts either rate for a
       while. */
    double rate_upload_layer_part;
    double rate_initiate_layer_upload;
    double rate_complete_layer_upload;
    double rate_batch_check_layer_availability;

    /* Layers whose digest is computed (no `digest` given, checks on): 0 starts the upload
       while the file is hashed for BatchCheckLayerAvailability, so the link is not idle
       meanwhile; a layer the check then finds present stops there and ends as existing,
       having sent the parts that went out before (never more than the hash pass took
       time to find it). 1 hashes and checks first and sends nothing of a present layer. */
    int check_first;

    /* Assume-role profiles with `mfa_serial` need the MFA device's current code: write it,
       NUL-terminated, into `code` (`code_size` bytes) and return 0; nonzero refuses. Called on
       the thread resolving credentials: in ecrup_engine_new(), and again when the role's
       credentials are refreshed before they expire (on an engine thread, while layers upload).
       NULL: such profiles fail with ECRUP_E_CREDENTIALS saying so. The CLI asks on the
       terminal, as the aws CLI does. */
    int (*mfa_code)(void *user, const char *mfa_serial, char *code, size_t code_size);
    void *mfa_code_user; /* borrowed; passed back to `mfa_code` */

    /* Resume across runs: a directory for the journal of uploads in flight (created 0700;
       entries 0600, no secrets). A layer whose upload an earlier run left unfinished (killed,
       cancelled, failed) continues that upload where the registry has it, when the file is
       the same (device, inode, size, mtime, ctime) and the target too (endpoint, registry,
       repository); see docs/engine.md. NULL: no journal, every upload starts at byte 0. The
       CLI sets it by default. */
    const char *state_dir;
};

/** Set every field of `options` to its default (zero). */
ECRUP_API void ecrup_options_init(struct ecrup_options *options);

/**
 * Reads the next bytes of a stream layer into `buf` (at most `len`, at least 1): returns how
 * many it read, 0 at the end of the layer, or a negative errno value (-EIO...) when reading
 * failed. A short count is fine; the engine calls again. Called on an engine thread, not the
 * caller's: one call at a time per layer, in order, each read byte handed over once. It may
 * block (a pipe); the engine gives stream layers threads of their own, so a slow stream holds
 * up no other layer's work.
 *
 * A stream is read once and never seeked: its size is known only at its end (progress events
 * say bytes_total 0 until then), there is no whole-file hash before the upload and no resume
 * across runs. The digest is computed from the parts as they go. With a `digest` given and
 * checking on, the layer is checked first: present, it ends EXISTS with nothing read (the
 * caller drains the stream if it must); absent, it is uploaded and the bytes must have that
 * digest (else ECRUP_E_DIGEST_MISMATCH before CompleteLayerUpload). Without a digest it is
 * uploaded at once (nothing can be checked before the bytes are gone); a registry that has
 * it already says so at CompleteLayerUpload, and it ends UPLOADED once
 * BatchCheckLayerAvailability confirms the layer is there. A part is kept until the registry
 * acknowledges it, so retries and a lost reply are recovered as for a file; a registry that
 * asks for bytes before those (it lost what it acknowledged, or the upload itself) fails the
 * layer with ECRUP_E_STREAM_REWIND. A stream larger than 4,200 parts (ECR's limit) fails with
 * ECRUP_E_TOO_LARGE: raise options.part_size for streams over 42,000 MiB.
 */
typedef ptrdiff_t (*ecrup_read_fn)(void *user, void *buf, size_t len);

/**
 * One layer to upload: the whole file at `path`, or the byte range `offset`, `length` of it (a
 * blob stored uncompressed inside an image tarball, read in place, never copied out). A range
 * is checked when the run starts: one reaching past the end of the file, or whose end
 * overflows, ends that layer FAILED with ECRUP_E_INVALID_RANGE ("InvalidRange", the message
 * names the path and the range); an empty one with ECRUP_E_EMPTY_LAYER, as an empty file does.
 * The digest and the result's size are the range's; the result's path is `path`. A change to
 * any part of the file, inside the range or not, fails the layer with ECRUP_E_FILE_CHANGED.
 */
struct ecrup_layer {
    const char *path;        /* the layer blob (already compressed, as it will be stored); with
                                `read`, only the layer's name in messages and results */
    const char *repository;  /* the ECR repository name */
    const char *registry_id; /* NULL: the account of the credentials */
    const char *digest;      /* "sha256:<64 hex>" when known; NULL: computed from the bytes */
    void *user;              /* borrowed; returned in events and results */
    uint64_t offset;         /* the layer starts this many bytes into the file; default 0 */
    uint64_t length;         /* its size in bytes; 0 (default): to the end of the file */
    /* A stream layer: the bytes come from `read` (with `read_user`), forward only, instead of
       the file at `path` (then `offset` and `length` must be 0). See ecrup_read_fn. Appended:
       hosts built against an earlier header leave it NULL through ecrup_layer's zeroing. */
    ecrup_read_fn read;
    void *read_user; /* borrowed; passed back to `read` */
};

/**
 * A layer's result record. Owned by the engine, valid until ecrup_engine_free().
 */
struct ecrup_result {
    uint64_t layer_id;
    void *layer_user;
    const char *path;
    const char *digest; /* "sha256:<hex>"; NULL when a failure came before it was known */
    uint64_t size;
    ecrup_outcome outcome;
    ecrup_status status;   /* ECRUP_OK unless FAILED */
    unsigned parts;        /* parts sent, retries excluded */
    unsigned attempts;     /* every request sent for this layer: requests + retries */
    long http_status;      /* of the last failed request; 0 when none */
    const char *exception; /* ECR exception name or local code; NULL on success */
    const char *message;   /* human-readable, secrets redacted; NULL on success */
    uint64_t resumed_from; /* bytes the registry already had of an upload an earlier run left
                              unfinished (options.state_dir), which this run continued; 0 when
                              the upload started at byte 0 */
    unsigned requests;     /* requests made for this layer, each counted once however often it
                              was sent (a clean one-part upload: 4); a batch check counts once
                              for each layer it asked about */
    unsigned retries;      /* times a request was sent again after a failed attempt (throttled,
                              5xx, network, clock skew); attempts == requests + retries */
};

/** An upload engine. Opaque. */
struct ecrup_engine;

/**
 * Create an engine: resolves region, endpoint and credentials now, so configuration errors
 * surface here with a message. `options` is read, not kept. `error` may be NULL.
 * Thread: any; the engine then belongs to the calling thread except where noted.
 */
ECRUP_API ecrup_status ecrup_engine_new(const struct ecrup_options *options,
                                        struct ecrup_engine **engine, struct ecrup_error *error);

/**
 * Queue a layer. Strings are copied. `layer_id` (may be NULL) receives an id used in events
 * and results. Layers may be added before ecrup_engine_run() and between runs, not during
 * one. The file and the range (`offset`, `length`) are checked when the run starts: a problem
 * there ends that layer FAILED with a message, not this call.
 */
ECRUP_API ecrup_status ecrup_engine_add_layer(struct ecrup_engine *engine,
                                              const struct ecrup_layer *layer, uint64_t *layer_id);

/**
 * Upload every queued layer, largest first, and return when all have ended. The calling thread
 * runs the scheduler; the engine adds one transfer thread and one worker thread per online core
 * for the duration of the call. Each call runs the layers queued since the previous one (a
 * caller reading an image from a pipe adds each blob as it comes and runs again), with the
 * same region, endpoint and credentials; result records of earlier runs stay valid. Returns
 * ECRUP_OK when every layer of this run was uploaded or already present (or there was none),
 * else the status of the first failure; per-layer detail is in the result records. After
 * ecrup_engine_cancel(), every later run ends its layers ECRUP_E_CANCELLED at once.
 */
ECRUP_API ecrup_status ecrup_engine_run(struct ecrup_engine *engine);

/**
 * Ask a running engine to stop: in-flight requests are aborted, unfinished layers end FAILED
 * with ECRUP_E_CANCELLED. Safe from any thread and from a signal handler.
 */
ECRUP_API void ecrup_engine_cancel(struct ecrup_engine *engine);

/** Number of result records (one per queued layer). */
ECRUP_API size_t ecrup_engine_result_count(const struct ecrup_engine *engine);
/** Result record `index` (in the order layers were added), or NULL when out of range. */
ECRUP_API const struct ecrup_result *ecrup_engine_result(const struct ecrup_engine *engine,
                                                         size_t index);

/** An image manifest to put into a repository, naming blobs (config and layers) it has. */
struct ecrup_image {
    const char *repository;  /* the ECR repository name */
    const char *registry_id; /* NULL: the account of the credentials */
    const char *manifest;    /* the manifest (or index) JSON, byte for byte as its digest is
                                taken; need not be NUL-terminated */
    size_t manifest_length;
    const char *media_type; /* NULL: the service reads the manifest's mediaType */
    const char *tag;        /* NULL: the image is put by digest only */
};

/** How putting an image ended. */
struct ecrup_image_result {
    ecrup_outcome outcome; /* UPLOADED: put; EXISTS: the repository had this manifest (under
                              this tag, when one was given); FAILED */
    ecrup_status status;   /* ECRUP_OK unless FAILED */
    char digest[72];       /* "sha256:<hex>" of the manifest */
    unsigned attempts;     /* requests made, retries included */
    long http_status;      /* of the last failed request; 0 when none */
    char exception[128];   /* ECR exception name or local code; "" on success */
    char message[512];     /* human-readable, secrets redacted; "" on success */
};

/**
 * Put an image manifest (PutImage), with the engine's region, endpoint, credentials and retry
 * policy. Every blob the manifest names must be in the repository already: upload them first
 * with ecrup_engine_run() on this engine (before or after is both allowed; the call does not
 * touch queued layers). Blocks until the service answers; ecrup_engine_cancel() ends it.
 * Returns result->status. Thread: the engine's owner, not while ecrup_engine_run() runs.
 */
ECRUP_API ecrup_status ecrup_engine_put_image(struct ecrup_engine *engine,
                                              const struct ecrup_image *image,
                                              struct ecrup_image_result *result);

/** How ecrup_engine_create_repository() ended. */
struct ecrup_repository_result {
    ecrup_outcome outcome;    /* UPLOADED: this call created the repository; EXISTS: it was
                                 there already (RepositoryAlreadyExistsException); FAILED */
    ecrup_status status;      /* ECRUP_OK unless FAILED */
    unsigned attempts;        /* requests sent, retries included (one request) */
    long http_status;         /* of the last failed request; 0 when none */
    char exception[128];      /* ECR exception name or local code; "" unless FAILED */
    char message[512];        /* human-readable, secrets redacted; "" unless FAILED */
    char repository_uri[512]; /* the reply's repositoryUri when created; "" otherwise */
};

/**
 * Create a repository (CreateRepository) with the service's defaults (mutable tags, AES256
 * encryption, no scan on push), with the engine's region, endpoint, credentials and retry
 * policy: `ecrup push --create-repository` calls it before the run, so that a repository that
 * is missing is made and one that exists is left as it is. `repository` is the name;
 * `registry_id` NULL: the account of the credentials. Both are read during the call only.
 * Blocks until the service answers; ecrup_engine_cancel() ends it. Returns result->status
 * (ECRUP_OK for created and for already there). Thread: the engine's owner, not while
 * ecrup_engine_run() runs.
 */
ECRUP_API ecrup_status ecrup_engine_create_repository(struct ecrup_engine *engine,
                                                      const char *repository,
                                                      const char *registry_id,
                                                      struct ecrup_repository_result *result);

/** Free the engine and its results. NULL does nothing. Not while ecrup_engine_run() runs. */
ECRUP_API void ecrup_engine_free(struct ecrup_engine *engine);

#ifdef __cplusplus
}
#endif

#endif /* ECRUP_H */
