/* An image on disk, read for `ecrup push`: an OCI image layout directory, or a tarball of one
 * (`docker save` since Docker 25), or a classic `docker save` tarball (manifest.json, a config
 * and uncompressed layer.tar files). What comes out is what a push needs: the blobs to upload
 * (each a byte range of a file: tar members are uploaded in place, never copied out) and the
 * manifests to put, children before the index that names them.
 *
 * Ownership: the source owns every string and array in it. Not thread-aware: one owner. */
#ifndef ECRUP_CLI_IMAGE_SOURCE_H
#define ECRUP_CLI_IMAGE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct image_blob {
    char *name; /* for output: "blobs/sha256/<hex>" in a layout, the member name in a tar */
    char *path; /* the file that holds it */
    uint64_t offset;
    uint64_t size;
    char digest[72]; /* "sha256:<hex>" */
    /* From a tarball read as a stream (image_source_from_members): the bytes kept in memory
     * (borrowed from the member), or the upload item that carried the member as it passed
     * (-1: none). */
    const char *data;
    long item;
};

struct image_manifest {
    char *bytes; /* the manifest JSON, byte for byte as its digest is taken */
    size_t len;
    char *media_type;
    char digest[72];
    bool top; /* the one the tag names (an index's children are put by digest only) */
};

struct image_source {
    struct image_blob *blobs; /* each digest once */
    size_t n_blobs;
    struct image_manifest *manifests; /* children first, the top one last */
    size_t n_manifests;
    char *tag;        /* the tag the image itself names, NULL when none */
    const char *kind; /* "OCI layout", "OCI layout tarball", "docker-save tarball" */
};

/* Read the image at `path` (a directory or a tar file). `want_tag` (may be NULL) picks the
 * image when the layout holds several; an index.json whose entries are the platform
 * manifests of one image (none named) is that image, pushed whole as an index.
 * `want_platform` (may be NULL) pushes one platform's manifest alone: from the picked
 * image's index, or from index.json's entries. Returns 0, or -1 with a message in `err` naming the
 * file and what is wrong with it. */
struct platform;
int image_source_open(const char *path, const char *want_tag, const struct platform *want_platform,
                      struct image_source *out, struct ebuf *err);
void image_source_free(struct image_source *s);

/* A member of a tarball read as a stream (cli/push_stream.c): small JSON members are kept in
 * memory, the others went to the registry as they passed. */
struct image_member {
    char *name;
    char *link; /* a hard or symbolic link's target (names an earlier member), else NULL */
    uint64_t size;
    char *data;      /* the bytes, when kept (size of them); NULL otherwise */
    long item;       /* the upload item that carried the member, -1: none */
    char digest[72]; /* of a carried member, when its upload computed it; "" otherwise */
};

/* Whether a stream member is kept in memory as a JSON document (a manifest, a config,
 * index.json, manifest.json), from its first byte and its size: at most what PutImage takes
 * for a manifest. The other members are blobs. */
#define IMAGE_MEMBER_JSON_MAX (4u << 20)
static inline bool image_member_is_json(unsigned char first, uint64_t size)
{
    return (first == '{' || first == '[') && size <= IMAGE_MEMBER_JSON_MAX;
}

/* The image in the members of a tarball read as a stream, named `name` in messages, as
 * image_source_open() reads one from a file: blobs kept in memory have `data`, blobs carried
 * by an upload their `item` (a carried blob whose digest is known must be the one the image
 * names: else an error). The source borrows the members' data. */
int image_source_from_members(const char *name, const struct image_member *m, size_t n,
                              const char *want_tag, const struct platform *want_platform,
                              struct image_source *out, struct ebuf *err);

/* True for a tag ECR takes: 1 to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'
 * (the OCI distribution rule). */
bool image_tag_valid(const char *tag);

#endif
