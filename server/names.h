/* The model's patterns for what a request names: repositories (ECR's rule, util/ecr_name.h),
 * layer digests and upload ids, and the one digest form the registry stores. Pure. */
#ifndef ECRUP_SERVER_NAMES_H
#define ECRUP_SERVER_NAMES_H

#include <stdbool.h>

bool valid_repository_name(const char *s);
bool valid_layer_digest(const char *s); /* LayerDigest's pattern */
bool valid_upload_id(const char *s);
/* "sha256:<64 hex>" in lowercase into out; false when `s` is not a sha256 digest. */
bool srv_normal_sha256(const char *s, char out[72]);

#endif
