/* The registry's insides, shared by the files that implement registry.h: the model's structs,
 * the lookups, the durable store (store.c) and the replies several operations share. Not for
 * use outside server/registry*.c, store.c, uploads.c, layers.c, images.c and replies.c.
 *
 * Every function here expects the caller to hold reg->mu unless it says otherwise. */
#ifndef ECRUP_SERVER_REGISTRY_IMPL_H
#define ECRUP_SERVER_REGISTRY_IMPL_H

#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "server/registry.h"

/* ECR's smallest part other than the last, and the largest layerPartBlob it takes. */
#define MIN_PART (5u * 1024 * 1024)
#define MAX_BLOB 20971520u

struct layer {
    char digest[72];
    uint64_t size;
};

struct image {
    char digest[72];
    char *media_type;
    char *manifest;
    double pushed_at; /* seconds since the epoch, milliseconds kept */
};

struct tag {
    char *name;
    char digest[72];
};

#define REPO_EXCLUSIONS_MAX 5

struct repo {
    char name[257];
    double created_at;
    char mutability[32];
    /* imageTagMutabilityExclusionFilters: WILDCARD patterns ('*' any run) of the tags the
     * *_WITH_EXCLUSION settings except; none for MUTABLE and IMMUTABLE. */
    char exclusions[REPO_EXCLUSIONS_MAX][129];
    int n_exclusions;
    struct layer *layers;
    size_t n_layers, cap_layers;
    struct image *images;
    size_t n_images, cap_images;
    struct tag *tags;
    size_t n_tags, cap_tags;
    /* Its durable form (store.c, repolog.c): the sequence number of the last change stored, the
     * sizes of the state file and of the change journal after it, and whether the journal may
     * end in bytes no record may follow (a failed append that could not be cut back, a torn
     * tail found at start): the next change then rewrites the state file instead. */
    uint64_t seq;
    uint64_t base_bytes, log_bytes;
    bool log_damaged;
};

struct upload {
    char id[37];
    char repo[257];
    uint64_t length; /* bytes acknowledged */
    uint32_t parts;
    uint64_t last_part; /* size of the latest part */
    bool small_nonlast; /* a part other than the last was under 5 MiB */
    double touched;     /* InitiateLayerUpload or the last part acknowledged (reg_now()); after a
                           restart, the state file's mtime */
    bool busy;          /* completion hashes it, or a spooled part is copied in, outside the lock */
    struct registry_part *receiver; /* the part writing into the data file, or NULL; a later
                                       request for the same offset may take it over */
    EVP_MD_CTX *hash; /* SHA-256 of bytes [0, length) when known (not after a restart or a
                         spooled part): completion then needs no read back */
};

/* A password GetAuthorizationToken gave: kept in memory only, so a restart forgets it (the
 * client logs in again, as after a token expires). */
struct auth_token {
    char password[65];
    double expires_at;
};

struct registry {
    pthread_mutex_t mu;
    char *dir;   /* NULL for a sink */
    int lock_fd; /* DATA_DIR/.lock, flock'ed while the registry is open; -1 when none */
    bool sink;
    uint64_t part_size;
    double upload_expiry; /* seconds */
    char account[13];
    char *base_url;
    struct repo **repos;
    size_t n_repos, cap_repos;
    struct upload **uploads;
    size_t n_uploads, cap_uploads;
    struct auth_token *tokens;
    size_t n_tokens, cap_tokens;
    uint64_t compact_at;       /* a journal past this size and the state file's is folded into it by
                                  the change that crosses it (REPOLOG_COMPACT_AT; tests set less) */
    unsigned char url_key[32]; /* signs download URLs (tokens.c); made at the first one */
    bool url_key_set;
    /* The thread that expires idle uploads while no request comes (reg_expire_uploads), woken
     * by `sweep_cv` to stop; both guarded by mu. */
    pthread_t sweeper;
    bool sweeper_started, stopping;
    pthread_cond_t sweep_cv;
};

#define GROW(arr, n, cap)                                                                          \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            size_t nc_ = (cap) ? (cap)*2 : 8;                                                      \
            void *p_ = realloc((arr), nc_ * sizeof *(arr));                                        \
            if (!p_)                                                                               \
                abort();                                                                           \
            (arr) = p_;                                                                            \
            (cap) = nc_;                                                                           \
        }                                                                                          \
    } while (0)

/* Lookups; NULL when absent. */
struct repo *reg_find_repo(struct registry *reg, const char *name);
/* The repository `name`, or NULL with RepositoryNotFoundException in out. */
struct repo *reg_repo_or_reply(struct registry *reg, const char *name, struct srv_reply *out);
struct upload *reg_find_upload(struct registry *reg, const char *id);
struct layer *reg_find_layer(struct repo *r, const char *digest);
struct image *reg_find_image(struct repo *r, const char *digest);
struct tag *reg_find_tag(struct repo *r, const char *name);

/* images.c, for the batch image calls (BatchGetImage, BatchDeleteImage): one `failures`
 * entry naming `id` as the client gave it; and one imageId read: its tag (NULL: none) and its
 * digest normalised into `digest` (*has_digest false: none). False after adding the failure
 * (MissingDigestAndTag, InvalidImageDigest). */
struct cJSON;
void reg_image_failure(struct cJSON *failures, const struct cJSON *id, const char *code,
                       const char *why);
bool reg_image_id(struct cJSON *failures, const struct cJSON *id, const char **tag, char digest[72],
                  bool *has_digest);

/* tokens.c: the signature (hex) of a download URL for `digest` of `repo` valid until
 * `expires` (seconds since the epoch); the key is made at the first call. False when no key
 * could be made. */
bool reg_download_signature(struct registry *reg, const char *repo, const char *digest,
                            long long expires, char out[65]);
/* Whether the repository's setting keeps `tag` from moving to another image. */
bool reg_tag_immutable(const struct repo *r, const char *tag);
/* The exclusion filters as the model writes them, [{"filterType":"WILDCARD","filter":...}]. */
struct cJSON *reg_exclusions_json(const struct repo *r);
/* Set the repository's setting and its filters (that form; NULL: none); a NULL setting is
 * MUTABLE. */
void reg_set_mutability(struct repo *r, const char *mutability, const struct cJSON *exclusions);

/* The time now as ECR's timestamps carry it: seconds, milliseconds kept. */
double reg_now(void);

/* NULL is a no-op for both. */
void reg_repo_free(struct repo *r);
void reg_upload_free(struct upload *u);
/* Drop `u` from the registry and free it. */
void reg_remove_upload(struct registry *reg, struct upload *u);
/* Forget the uploads idle past reg->upload_expiry, their files removed; one a request is
 * working on stays. */
void reg_expire_uploads(struct registry *reg);

/* The exceptions for a repository or an upload that does not exist. */
void reply_repository_not_found(struct srv_reply *out, const char *repo, const char *account);
void reply_upload_not_found(struct srv_reply *out, const char *id, const char *repo,
                            const char *account);

/* ---- the durable store (store.c); every function is a no-op returning 0 for a sink ---- */

/* Every path under the data directory fits a STORE_PATH_CAP buffer: registry_open() refuses a
 * directory longer than STORE_DIR_MAX, and no path below it is longer than STORE_REL_MAX (the
 * longest is repos/<256-character name>.json.tmp, 271). */
#define STORE_PATH_CAP 4096
#define STORE_REL_MAX  300
#define STORE_DIR_MAX  (STORE_PATH_CAP - STORE_REL_MAX - 2)

/* `reg->dir`/`fmt...` into out. */
void store_path(const struct registry *reg, char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int store_fsync_dir(const char *path);
/* Write `data` to `path` so that a crash leaves either the old or the new contents. 0 or -1. */
int store_write_atomic(const char *path, const char *data, size_t n);
/* Store a repository's whole state (a new one, or the journal folded in: then emptied), or an
 * upload's. 0 or -1 with errno set. */
int store_persist_repo(struct registry *reg, struct repo *r);
/* Make a change to `r` that is already in memory durable: one record appended to the
 * repository's journal and fdatasync'ed (repolog.c), or the whole state rewritten when the
 * journal is damaged; a journal grown past reg->compact_at and the state file is folded in
 * after the append. Takes `change` ({"op":...}; its "seq" is set here). 0, or -1 with errno set
 * and the journal as it was: the caller undoes the change. */
int store_log_change(struct registry *reg, struct repo *r, struct cJSON *change);
/* The path of the repository's state file (`suffix` ".json") or journal (".log") into out
 * (STORE_PATH_CAP). False when hashing its name fails. */
bool store_repo_path(const struct registry *reg, const char *name, const char *suffix, char *out);
/* Apply the journal at `path` to `r`, just loaded from its state file (repolog.c). 0, or -1
 * with a message in err for a whole record that cannot be applied. */
int repolog_replay(struct registry *reg, struct repo *r, const char *path, struct ebuf *err);
int store_persist_upload(struct registry *reg, struct upload *u);
/* Remove a repository's state file (a deleted repository), fsynced. 0 or -1. */
int store_remove_repo(struct registry *reg, const struct repo *r);
/* Remove the manifest file of `digest` unless some repository still holds that image. */
void store_release_manifest(struct registry *reg, const char *digest);
/* Remove an upload's state and data files. */
void store_unlink_upload(struct registry *reg, const char *id);
/* Create the data directory's layout when missing and load repositories and uploads in
 * progress from it; called by registry_open() before any other thread sees reg. 0, or -1 with
 * a message in err. */
int store_load(struct registry *reg, struct ebuf *err);

#endif
