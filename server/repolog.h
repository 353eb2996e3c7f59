/* A repository's change journal, repos/<file>.log beside its state file repos/<file>.json:
 * each change the repository takes after the state file was written is one record appended and
 * fdatasync'ed, so a change costs what it changes instead of a rewrite of the whole state.
 *
 * A record is a line: the length of its JSON as 8 lowercase hex digits, a space, the CRC-32
 * (IEEE) of that JSON as 8 more, a space, the JSON itself (one line, as cJSON prints it
 * unformatted) and '\n'. A record is taken only whole: a crash in the middle of an append
 * leaves a tail that fails its length, its newline or its CRC, and reading stops there.
 *
 * The JSON is {"seq":N,"op":...} with, for each op:
 *   putImage       digest, mediaType, pushedAt, tag (optional): the image added when absent
 *                  (its manifest is manifests/<hex>, written before the record), the tag made
 *                  or moved to it
 *   deleteImages   tags, images: those tags removed, then those images with every tag left
 *   addLayer       digest, size
 *   setMutability  imageTagMutability, imageTagMutabilityExclusionFilters (optional)
 * `seq` counts the repository's changes; the state file says the last it holds ("journalSeq"),
 * so records a crash left behind after a rewrite of the state file are skipped, and a gap ends
 * the replay as a bad record does. */
#ifndef ECRUP_SERVER_REPOLOG_H
#define ECRUP_SERVER_REPOLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* "%08x %08x " */
#define REPOLOG_HEADER 18
/* The longest record's JSON: far above any change (a BatchDeleteImage of 100 ids, each with
 * tags of 300 characters), so a length past it can only be damage. */
#define REPOLOG_RECORD_MAX (4u << 20)
/* The journal size below which it is never folded into the state file. */
#define REPOLOG_COMPACT_AT (1u << 20)

uint32_t repolog_crc32(const void *data, size_t n);
/* Append the record of `json` (n bytes, no newline in it) to out. */
void repolog_frame(struct ebuf *out, const char *json, size_t n);
/* The whole record at data + *off (len bytes in all): its JSON in *json and *n (not
 * NUL-terminated), *off moved past it. False at the end and at a torn or damaged record, *off
 * left there. */
bool repolog_next(const char *data, size_t len, size_t *off, const char **json, size_t *n);

#endif
