/* STS's XML replies, read with libexpat as a stream of events: the collector follows the
 * element path and keeps the text of the few leaves it wants. No DOM, no DOCTYPE (so no entity
 * definitions, and no entity expansion beyond XML's five predefined ones), bounded values. */
#include "signer/sts.h"

#include <expat.h>
#include <stdlib.h>
#include <string.h>

#include "signer/cred_provider.h"

#define MAX_DEPTH 4           /* Response / Result / Credentials / field */
#define MAX_VALUE (16 * 1024) /* longer than any session token STS issues */

enum field { F_NONE = -1, F_AKID, F_SECRET, F_TOKEN, F_EXPIRATION, F_CODE, F_MESSAGE, F_COUNT };

static const char *const credential_fields[] = {"AccessKeyId", "SecretAccessKey", "SessionToken",
                                                "Expiration"};

struct collector {
    XML_Parser parser;
    const char *action;
    size_t depth;                /* elements open */
    bool path_ok[MAX_DEPTH + 1]; /* path_ok[d]: the first d open elements are on a wanted path */
    bool error_root;
    enum field open; /* the wanted leaf being read, or F_NONE */
    struct ebuf values[F_COUNT];
    const char *problem; /* why the reply was refused, when the collector stopped it */
};

static bool named(const char *name, const char *prefix, const char *suffix)
{
    size_t n = strlen(prefix);
    return strncmp(name, prefix, n) == 0 && strcmp(name + n, suffix) == 0;
}

static void stop(struct collector *c, const char *why)
{
    if (!c->problem)
        c->problem = why;
    XML_StopParser(c->parser, XML_FALSE);
}

static enum field leaf(const struct collector *c, const char *name)
{
    if (c->error_root) {
        if (c->depth == 2 && strcmp(name, "Code") == 0)
            return F_CODE;
        if (c->depth == 2 && strcmp(name, "Message") == 0)
            return F_MESSAGE;
        return F_NONE;
    }
    if (c->depth != 3)
        return F_NONE;
    for (int i = 0; i < 4; i++)
        if (strcmp(name, credential_fields[i]) == 0)
            return (enum field)i;
    return F_NONE;
}

static void XMLCALL on_start(void *user, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    struct collector *c = user;
    bool parent_ok = c->depth == 0 || (c->depth <= MAX_DEPTH && c->path_ok[c->depth]);
    bool ok = false;
    if (c->depth == 0) {
        c->error_root = strcmp(name, "ErrorResponse") == 0;
        ok = c->error_root || named(name, c->action, "Response");
        if (!ok) {
            stop(c, "its root element is neither the expected response nor ErrorResponse");
            return;
        }
    } else if (parent_ok && c->depth < MAX_DEPTH) {
        if (c->error_root)
            ok = c->depth == 1 ? strcmp(name, "Error") == 0 : leaf(c, name) != F_NONE;
        else if (c->depth == 1)
            ok = named(name, c->action, "Result");
        else if (c->depth == 2)
            ok = strcmp(name, "Credentials") == 0;
        else
            ok = leaf(c, name) != F_NONE;
    }
    if (c->open != F_NONE) {
        stop(c, "a value holds markup");
        return;
    }
    if (ok && (c->depth == 3 || (c->error_root && c->depth == 2))) {
        c->open = leaf(c, name);
        ebuf_reset(&c->values[c->open]);
        ebuf_puts(&c->values[c->open], ""); /* present, even when empty */
    }
    c->depth++;
    if (c->depth <= MAX_DEPTH)
        c->path_ok[c->depth] = ok;
}

static void XMLCALL on_end(void *user, const XML_Char *name)
{
    (void)name;
    struct collector *c = user;
    c->depth--;
    c->open = F_NONE;
}

static void XMLCALL on_text(void *user, const XML_Char *s, int len)
{
    struct collector *c = user;
    if (c->open == F_NONE || len <= 0)
        return;
    struct ebuf *b = &c->values[c->open];
    if (b->len + (size_t)len > MAX_VALUE) {
        stop(c, "a value is too long");
        return;
    }
    ebuf_append(b, s, (size_t)len);
}

static void XMLCALL on_doctype(void *user, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    stop(user, "it has a DOCTYPE");
}

static char *take(struct ebuf *b)
{
    return b->data ? ebuf_take(b) : NULL;
}

void sts_reply_free(struct sts_reply *r)
{
    free(r->code);
    free(r->message);
    free(r->access_key_id);
    cred_wipe_free(r->secret_access_key);
    cred_wipe_free(r->session_token);
    free(r->expiration);
    memset(r, 0, sizeof *r);
}

ecrup_status sts_parse_reply(const char *xml, size_t len, const char *action, struct sts_reply *out,
                             struct ebuf *err)
{
    memset(out, 0, sizeof *out);
    struct collector c = {.action = action, .open = F_NONE};
    for (int i = 0; i < F_COUNT; i++)
        ebuf_init(&c.values[i]);
    c.parser = XML_ParserCreate("UTF-8");
    if (!c.parser) {
        ebuf_puts(err, "out of memory");
        return ECRUP_E_NOMEM;
    }
    XML_SetUserData(c.parser, &c);
    XML_SetElementHandler(c.parser, on_start, on_end);
    XML_SetCharacterDataHandler(c.parser, on_text);
    XML_SetStartDoctypeDeclHandler(c.parser, on_doctype);
    ecrup_status st = ECRUP_OK;
    bool parsed =
        len <= (size_t)INT32_MAX && XML_Parse(c.parser, xml, (int)len, XML_TRUE) == XML_STATUS_OK;
    for (int i = 0; i < F_COUNT; i++)
        if (!ebuf_ok(&c.values[i]))
            st = ECRUP_E_NOMEM;
    if (st == ECRUP_E_NOMEM) {
        ebuf_puts(err, "out of memory");
    } else if (!parsed) {
        st = ECRUP_E_PROTOCOL;
        if (c.problem)
            ebuf_printf(err, "%s", c.problem);
        else
            ebuf_printf(err, "XML error at line %lu: %s",
                        (unsigned long)XML_GetCurrentLineNumber(c.parser),
                        XML_ErrorString(XML_GetErrorCode(c.parser)));
    } else if (c.error_root) {
        out->error = true;
        if (!c.values[F_CODE].data || !c.values[F_CODE].len) {
            st = ECRUP_E_PROTOCOL;
            ebuf_puts(err, "an ErrorResponse without Error/Code");
        }
    } else {
        for (int i = 0; i < 4 && st == ECRUP_OK; i++) {
            if (!c.values[i].data || (!c.values[i].len && i != F_TOKEN)) {
                st = ECRUP_E_PROTOCOL;
                ebuf_printf(err, "the reply lacks Credentials/%s", credential_fields[i]);
            }
        }
    }
    if (st == ECRUP_OK) {
        out->code = take(&c.values[F_CODE]);
        out->message = take(&c.values[F_MESSAGE]);
        out->access_key_id = take(&c.values[F_AKID]);
        out->secret_access_key = take(&c.values[F_SECRET]);
        out->session_token = take(&c.values[F_TOKEN]);
        out->expiration = take(&c.values[F_EXPIRATION]);
    }
    for (int i = 0; i < F_COUNT; i++)
        cred_wipe_ebuf(&c.values[i]);
    XML_ParserFree(c.parser);
    return st;
}
