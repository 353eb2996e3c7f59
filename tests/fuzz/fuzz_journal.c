/* libFuzzer target over the upload journal's reader (engine/journal.c), from memory. Beyond
 * "no crash, no over-read": a parse either succeeds with an upload id, a part size, a length
 * and a confirmed count within it, or fails with a reason and nothing left allocated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ebuf why = EBUF_INIT;
    struct journal_record r;
    if (journal_parse((const char *)data, size, &r, &why) == 0) {
        if (!r.upload_id || !*r.upload_id || !r.part_size || !r.length || r.confirmed > r.length ||
            why.len)
            abort();
    } else {
        if (r.upload_id || r.endpoint || r.path || !why.len)
            abort();
    }
    journal_record_free(&r);
    ebuf_free(&why);
    return 0;
}
