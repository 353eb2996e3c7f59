/* Tar headers (ustar, with pax `path`/`linkpath` records and GNU long names and links), one
 * 512-byte block at a time: pure functions over the block with no I/O, so cli/image_source.c
 * does the reading and the parsing is tested on hand-built blocks. Nothing here keeps state
 * between calls except what the caller holds in struct tar_names. */
#ifndef ECRUP_CLI_TAR_H
#define ECRUP_CLI_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define TAR_BLOCK 512u
/* The largest pax or GNU extended header read: it only ever holds a name. */
#define TAR_EXTENDED_MAX (1u << 20)

enum tar_type {
    TAR_FILE,         /* '0', '\0' (old tar) and '7' (contiguous) */
    TAR_HARDLINK,     /* '1' */
    TAR_SYMLINK,      /* '2' */
    TAR_PAX,          /* 'x': records for the member that follows */
    TAR_GNU_LONGNAME, /* 'L': the name of the member that follows */
    TAR_GNU_LONGLINK, /* 'K': the link target of the member that follows */
    TAR_OTHER,        /* directories, devices, global pax headers...: nothing a push reads */
};

struct tar_header {
    enum tar_type type;
    uint64_t size;   /* the data after the header block */
    uint64_t padded; /* `size` rounded up to whole blocks: the next header follows */
};

/* True for the header types that name the member after them. */
static inline bool tar_type_extended(enum tar_type t)
{
    return t == TAR_PAX || t == TAR_GNU_LONGNAME || t == TAR_GNU_LONGLINK;
}

/* Parse the block `h` found at byte `off` of `file` (named in messages), with `avail` bytes
 * of the file after the block. Returns 1 with the header in `out`; 0 for an all-zero block
 * (the end of the archive); -1 with a message in `err` when the checksum or the size field is
 * bad, the data runs past the end of the file, or an extended header is over
 * TAR_EXTENDED_MAX. */
int tar_header_parse(const unsigned char h[TAR_BLOCK], const char *file, uint64_t off,
                     uint64_t avail, struct tar_header *out, struct ebuf *err);

/* Give the member header `th` (parsed as above) the `size` a pax record said, with its
 * padding, checked against `avail` as tar_header_parse() checks the header's own. Returns 0,
 * or -1 with the same message. */
int tar_header_resize(struct tar_header *th, uint64_t size, const char *file, uint64_t off,
                      uint64_t avail, struct ebuf *err);

/* A tar number field of `n` bytes: octal digits (space or NUL padded), or base-256 when the
 * top bit is set. False when malformed, negative or over 64 bits. */
bool tar_number(const unsigned char *f, size_t n, uint64_t *out);

/* True when the header's checksum field matches its bytes. */
bool tar_checksum_ok(const unsigned char h[TAR_BLOCK]);

/* "./a//b" -> "a/b": the names a tar may hold for the same file; stops at a NUL within `n`.
 * Returns a malloc'd string, NULL when out of memory. */
char *tar_clean_name(const char *s, size_t n);

/* The value of `key` in a pax extended header's records ("LEN key=value\n"...), cleaned as a
 * name; NULL when absent, or when a record before it is malformed (its length is not a
 * number followed by a space, is 0, runs past `len`, or is shorter than its own length
 * field). `rec` must have a NUL at rec[len]. */
char *tar_pax_value(const char *rec, size_t len, const char *key);

/* The `size` record of a pax extended header (`rec`, `len` bytes, NUL at rec[len]), which a
 * member of 8 GiB or more has in place of its header's field (Go's archive/tar, which docker
 * save uses, and Python's tarfile write 0 there). False when there is none or it is not a
 * decimal number that leaves room for the member's padding. */
bool tar_pax_size(const char *rec, size_t len, uint64_t *out);

/* What extended headers said of the member that follows them. Owned (malloc'd) strings. */
struct tar_names {
    char *name; /* NULL: the header's own name */
    char *link; /* NULL: the header's own link target */
};

/* Take in one extended header of type `type` (see tar_type_extended()) whose data is `rec`,
 * `len` bytes with a NUL at rec[len]. A later header replaces what an earlier one said. */
void tar_names_apply(struct tar_names *p, enum tar_type type, const char *rec, size_t len);

/* Forget what was pending (a member that is not a file or link used it up). */
void tar_names_clear(struct tar_names *p);

/* A file or link member's name, and for a link (`type` TAR_HARDLINK or TAR_SYMLINK) its target
 * (a symbolic link's made relative to the archive's root), else NULL: from `pending` when an
 * extended header gave them (taken from it), else from the block (the ustar prefix joined to
 * the name). Returns 0, or -1 out of memory with nothing to free. */
int tar_member_names(const unsigned char h[TAR_BLOCK], enum tar_type type,
                     struct tar_names *pending, char **name, char **link);

#endif
