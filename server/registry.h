/* The registry behind `ecrup serve`: repositories, layers, images and uploads in progress.
 *
 * State lives in memory and, unless the registry is a sink, in a data directory:
 *   repos/<name with '/' as '+'>.json   a repository: layers, images, tags (a name of over
 *                                        246 characters: repos/<SHA-256 of the name>.json)
 *   repos/<same>.log                     its changes since (server/repolog.h)
 *   manifests/<hex>                      image manifests by digest
 *   blobs/sha256/<hex>                   layers, content-addressed
 *   uploads/<id>.json, uploads/<id>.data an upload in progress: state and bytes so far
 * Every acknowledged change is fsynced (data, then state written to a temp file and renamed,
 * or a repository's change appended to its journal) before the reply, so a restart loses
 * nothing that was acknowledged.
 *
 * Thread safety: every function may be called from any thread; one mutex guards the model.
 * Long work (hashing a layer, copying a spooled part) runs outside the lock with the upload
 * marked busy.
 *
 * The implementation: registry.c (the model, repositories), uploads.c, layers.c, images.c,
 * store.c and repolog.c (the disk); registry_impl.h is what they share. */
#ifndef ECRUP_SERVER_REGISTRY_H
#define ECRUP_SERVER_REGISTRY_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/names.h"
#include "server/replies.h"
#include "util/buf.h"

struct registry_config {
    const char *data_dir; /* NULL for a sink */
    bool sink;            /* keep no bytes; trust digests */
    uint64_t part_size;   /* InitiateLayerUpload's partSize; 0 = 10485760 */
    const char *base_url; /* "http://127.0.0.1:5000": download URLs and repositoryUri */
    /* Seconds an upload may stay idle (no InitiateLayerUpload or part acknowledged) before it
     * is forgotten and its files removed; 0 = REGISTRY_UPLOAD_EXPIRY. */
    uint32_t upload_expiry;
};
#define REGISTRY_UPLOAD_EXPIRY (24 * 3600)

struct registry;
struct registry *registry_open(const struct registry_config *cfg, struct ebuf *err);
void registry_free(struct registry *reg);
const char *registry_account(const struct registry *reg);
uint64_t registry_part_size(const struct registry *reg);
bool registry_is_sink(const struct registry *reg);

/* The operations; each fills `out`. Arguments are already validated against the model's
 * patterns except where noted. `region`: the one the request was signed for, which the
 * repository ARNs name, as ECR's do (NULL: us-east-1). */
/* `exclusions`: a checked ImageTagMutabilityExclusionFilters list, or NULL. */
void registry_create_repository(struct registry *reg, const char *name, const char *mutability,
                                const cJSON *exclusions, const char *region, struct srv_reply *out);
/* PutImageTagMutability: the setting (checked against the model) and its exclusions. */
void registry_put_tag_mutability(struct registry *reg, const char *name, const char *mutability,
                                 const cJSON *exclusions, struct srv_reply *out);
/* `names` may be NULL (all repositories, paginated by max_results/next_token). */
void registry_describe_repositories(struct registry *reg, const cJSON *names, int max_results,
                                    const char *next_token, const char *region,
                                    struct srv_reply *out);
void registry_initiate_upload(struct registry *reg, const char *repo, struct srv_reply *out);
void registry_complete_upload(struct registry *reg, const char *repo, const char *upload_id,
                              const char *digest, struct srv_reply *out);
void registry_check_layers(struct registry *reg, const char *repo, const cJSON *digests,
                           struct srv_reply *out);
void registry_put_image(struct registry *reg, const char *repo, const char *manifest,
                        const char *media_type, const char *tag, const char *digest,
                        struct srv_reply *out);
void registry_get_images(struct registry *reg, const char *repo, const cJSON *ids,
                         struct srv_reply *out);
void registry_download_url(struct registry *reg, const char *repo, const char *digest,
                           struct srv_reply *out);
/* Which images ListImages and DescribeImages return, and the page. */
struct image_query {
    const char *tag_status; /* "TAGGED", "UNTAGGED", "ANY"; NULL = ANY */
    bool none;              /* an imageStatus no image here has (ARCHIVED, ACTIVATING) */
    int max_results;        /* 0 = 100, ECR's default page */
    const char *next_token; /* NULL = from the start; otherwise a token this server gave */
};
void registry_list_images(struct registry *reg, const char *repo, const struct image_query *q,
                          struct srv_reply *out);
/* `ids` NULL: every image matching q, paginated; otherwise those images (q's page unused). */
void registry_describe_images(struct registry *reg, const char *repo, const cJSON *ids,
                              const struct image_query *q, struct srv_reply *out);
/* BatchDeleteImage: a tag untags (and deletes the image it was the last tag of), a digest
 * deletes the image and all its tags. `ids` is a checked ImageIdentifierList. */
void registry_delete_images(struct registry *reg, const char *repo, const cJSON *ids,
                            struct srv_reply *out);
void registry_delete_repository(struct registry *reg, const char *repo, bool force,
                                const char *region, struct srv_reply *out);
/* GetAuthorizationToken: `entries` authorizationData entries sharing one new password, valid
 * for REGISTRY_TOKEN_SECONDS. */
void registry_authorization_token(struct registry *reg, int entries, struct srv_reply *out);
/* True when `password` is one GetAuthorizationToken gave and it has not expired. */
bool registry_check_password(struct registry *reg, const char *password);
void registry_describe_registry(struct registry *reg, struct srv_reply *out);
#define REGISTRY_TOKEN_SECONDS (12 * 3600)

/* GetDownloadUrlForLayer's URL stands for ECR's pre-signed S3 URL: the /v2 blob route with
 * `expires` (seconds since the epoch) and `signature` (an HMAC of the repository, digest and
 * expiry under a key made at the server's start) as its query, readable without the /v2
 * API's Basic credentials until it expires. ECR does not document how long its URLs last. */
#define REGISTRY_DOWNLOAD_SECONDS 3600
/* True when `signature` signs `repo`, `digest` (normalised) and `expires` and that time has
 * not passed. */
bool registry_check_download(struct registry *reg, const char *repo, const char *digest,
                             const char *expires, const char *signature);

/* What the /v2 read path reads: the manifest `reference` (a tag, or a digest when by_digest)
 * names, copied with its media type and digest (the caller frees *manifest and *media_type);
 * and every tag of a repository, sorted by strcmp, copied (the caller frees each and the
 * array). */
enum registry_read { REGISTRY_FOUND, REGISTRY_NO_REPOSITORY, REGISTRY_NO_IMAGE };
enum registry_read registry_read_manifest(struct registry *reg, const char *repo,
                                          const char *reference, bool by_digest, char **manifest,
                                          char **media_type, char digest[72]);
enum registry_read registry_read_tags(struct registry *reg, const char *repo, char ***tags,
                                      size_t *n);

/* Open a layer for the download endpoint: an fd and its size, or -1 when the repository
 * does not hold that layer. */
int registry_open_layer(struct registry *reg, const char *repo, const char *digest, uint64_t *size);
/* True when `repo` exists. */
bool registry_has_repository(struct registry *reg, const char *repo);

/* One UploadLayerPart in flight. begin() when the blob starts (upload_id may be NULL when the
 * body has not named it yet: the bytes are then spooled; first is partFirstByte, -1 when not
 * seen yet), write() for decoded bytes, finish() with the parsed fields to validate and
 * commit, or abort().
 *
 * A part writing into its upload holds it: other parts of it are refused "being received",
 * except one for the same offset (the upload's acknowledged length), which takes over, at
 * begin() or, spooled, at finish(): the client gave up on the first (a dead connection holds
 * it until the HTTP timeout). The part taken over writes nothing more and is refused when it
 * finishes. pin() keeps a part from being taken over (the hold fault). */
struct registry_part;
struct registry_part *registry_part_begin(struct registry *reg, const char *upload_id,
                                          int64_t first);
void registry_part_pin(struct registry_part *part);
int registry_part_write(struct registry_part *part, const uint8_t *data, size_t n);
/* part may be NULL (no blob seen); blob_size is the decoded size. Frees part. */
void registry_part_finish(struct registry *reg, struct registry_part *part, const char *repo,
                          const char *upload_id, int64_t first, int64_t last, uint64_t blob_size,
                          struct srv_reply *out);
void registry_part_abort(struct registry_part *part);

#endif
