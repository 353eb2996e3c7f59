/* The small JSON documents of the ECR API: request bodies for the control operations and the
 * parsers for every reply the engine reads. Pure functions over caller buffers; the large
 * UploadLayerPart body is written by payload.c, never through cJSON. */
#ifndef ECRUP_ENGINE_ECR_JSON_H
#define ECRUP_ENGINE_ECR_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ECR_TARGET_PREFIX "AmazonEC2ContainerRegistry_V20150921."
#define ECR_CONTENT_TYPE  "application/x-amz-json-1.1"

/* An error reply: {"__type": "...", "message": "...", ...the exception's fields}. */
struct ecr_error {
    char exception[128]; /* short name: a "namespace#Name" __type is cut to Name */
    char message[512];
    bool has_last_valid_byte; /* InvalidLayerPartException carries the resume point */
    uint64_t last_valid_byte;
};

/* Parse an error body. Returns 0, or -1 when the body is not an ECR error document (then
 * `out` holds an empty exception and the first bytes of the body as the message). */
int ecr_parse_error(const char *body, size_t len, struct ecr_error *out);

/* InitiateLayerUpload's reply: uploadId and partSize. Returns 0 or -1. */
int ecr_parse_initiate(const char *body, size_t len, char *upload_id, size_t upload_id_cap,
                       uint64_t *part_size);

/* UploadLayerPart's reply: lastByteReceived. Returns 0 or -1. */
int ecr_parse_upload_part(const char *body, size_t len, uint64_t *last_byte_received);

/* CompleteLayerUpload's reply: layerDigest ("sha256:<hex>"). Returns 0 or -1. */
int ecr_parse_complete(const char *body, size_t len, char *digest, size_t digest_cap);

/* BatchCheckLayerAvailability's reply: calls `each` for every digest reported, with
 * available = layerAvailability == "AVAILABLE"; digests listed under failures are reported
 * unavailable. Returns the number of digests reported, or -1 when the reply is malformed. */
typedef void (*ecr_layer_fn)(const char *digest, bool available, void *user);
int ecr_parse_batch_check(const char *body, size_t len, ecr_layer_fn each, void *user);

/* PutImage's reply: image.imageId.imageDigest ("sha256:<hex>"). Returns 0 or -1. */
int ecr_parse_put_image(const char *body, size_t len, char *digest, size_t digest_cap);

/* CreateRepository's reply: repository.repositoryUri. Returns 0 or -1. */
int ecr_parse_create_repository(const char *body, size_t len, char *uri, size_t uri_cap);

/* Request bodies; registry_id may be NULL. Return malloc'd NUL-terminated JSON, or NULL when
 * out of memory. */
char *ecr_build_initiate(const char *repository, const char *registry_id);
/* CreateRepository with the service's defaults (mutable tags, AES256, no scan on push). */
char *ecr_build_create_repository(const char *repository, const char *registry_id);
char *ecr_build_complete(const char *repository, const char *registry_id, const char *upload_id,
                         const char *digest);
char *ecr_build_batch_check(const char *repository, const char *registry_id,
                            const char *const *digests, size_t n);
/* PutImage: `manifest` NUL-terminated; media_type, tag and digest may be NULL (digest, when
 * given, makes the service check the manifest it stores is the one meant). */
char *ecr_build_put_image(const char *repository, const char *registry_id, const char *manifest,
                          const char *media_type, const char *tag, const char *digest);

#endif
