/* Shared config/credentials files, parsed with the rules of Python's configparser as botocore
 * configures it (RawConfigParser, strict, `#`/`;` full-line comments only, `=` or `:` as the
 * delimiter, indented continuation lines, option names lowercased), then mapped to profiles as
 * botocore's configloader does. See profile.h for why this is not libinih. */
#include "signer/profile.h"

#include "util/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Larger files are refused: a shared config file is a few KiB. */
#define PROFILE_MAX_FILE (4u << 20)

struct entry {
    char *key;    /* lowercased option name */
    char *member; /* NULL for a top-level option; the member name inside a nested block */
    char *value;
};

struct profile {
    char *name;
    struct entry *entries;
    size_t n;
};

struct file_profiles {
    struct profile *profiles;
    size_t n;
};

struct profile_set {
    struct file_profiles config;
    struct file_profiles credentials;
    struct file_profiles sso_sessions; /* the config file's [sso-session NAME] sections */
    struct file_profiles services;     /* the config file's [services NAME] sections */
};

static char *expand_home(const struct env_reader *env, const char *path)
{
    if (path[0] != '~' || (path[1] != '/' && path[1] != '\0'))
        return strdup(path);
    const char *home = env_get(env, "HOME");
    if (!home || !*home)
        return NULL;
    size_t hl = strlen(home), pl = strlen(path + 1);
    char *out = malloc(hl + pl + 1);
    if (!out)
        return NULL;
    memcpy(out, home, hl);
    memcpy(out + hl, path + 1, pl + 1);
    return out;
}

static char *file_path(const struct env_reader *env, const char *var, const char *fallback)
{
    const char *v = env_get(env, var);
    return expand_home(env, v && *v ? v : fallback);
}

char *profile_config_path(const struct env_reader *env)
{
    return file_path(env, "AWS_CONFIG_FILE", "~/.aws/config");
}

char *profile_credentials_path(const struct env_reader *env)
{
    return file_path(env, "AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials");
}

const char *profile_name(const struct env_reader *env, const char *explicit_name)
{
    if (explicit_name && *explicit_name)
        return explicit_name;
    const char *v = env_get(env, "AWS_PROFILE");
    return v && *v ? v : "default";
}

/* ---- raw INI layer: sections of options, as configparser yields them ---- */

struct raw_option {
    char *name;
    struct ebuf value; /* lines joined with '\n' as they come */
    size_t line;
};

struct raw_section {
    char *name;
    struct raw_option *opts;
    size_t n, cap;
};

struct raw_file {
    struct raw_section *secs;
    size_t n, cap;
    struct raw_section defaults; /* [DEFAULT]: inherited by every section of the file */
};

static void raw_section_cleanup(struct raw_section *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->opts[i].name);
        ebuf_free(&s->opts[i].value);
    }
    free(s->opts);
    free(s->name);
}

static void raw_file_cleanup(struct raw_file *f)
{
    for (size_t i = 0; i < f->n; i++)
        raw_section_cleanup(&f->secs[i]);
    free(f->secs);
    raw_section_cleanup(&f->defaults);
}

/* Python's str.isspace() over ASCII, less the line breaks the reader already split on. */
static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1f);
}

static void strip(const char **s, size_t *len)
{
    while (*len && is_ws(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len && is_ws((*s)[*len - 1]))
        (*len)--;
}

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static int parse_error(struct ebuf *err, const char *name, size_t line, const char *what)
{
    if (err)
        ebuf_printf(err, "%s:%zu: %s", name, line, what);
    return -1;
}

static int raw_parse(const char *text, size_t len, const char *name, struct raw_file *f,
                     struct ebuf *err)
{
    struct raw_section *cur = NULL;
    struct raw_option *opt = NULL; /* the option continuation lines extend */
    size_t indent_level = 0, lineno = 0, pos = 0;
    char what[160];

    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3; /* a UTF-8 byte order mark, as editors on Windows write */
    while (pos < len) {
        size_t start = pos;
        while (pos < len && text[pos] != '\n' && text[pos] != '\r')
            pos++;
        size_t end = pos;
        if (pos < len && text[pos] == '\r')
            pos++;
        if (pos < len && text[pos] == '\n' && (pos == end || text[pos - 1] == '\r'))
            pos++;
        lineno++;
        if (memchr(text + start, '\0', end - start))
            return parse_error(err, name, lineno, "contains a NUL byte");

        const char *s = text + start;
        size_t n = end - start;
        size_t indent = 0;
        while (indent < n && is_ws(s[indent]))
            indent++;
        strip(&s, &n);
        if (n && (s[0] == '#' || s[0] == ';'))
            continue;
        if (n == 0) {
            /* Blank lines inside a value are kept (and trimmed off its end later). */
            if (opt)
                ebuf_putc(&opt->value, '\n');
            continue;
        }
        if (opt && indent > indent_level) {
            ebuf_putc(&opt->value, '\n');
            ebuf_append(&opt->value, s, n);
            continue;
        }
        indent_level = indent;
        if (s[0] == '[' && n > 2 && memrchr(s + 2, ']', n - 2)) {
            /* configparser's `\[(.+)\]` is greedy: the header runs to the last ']'. */
            const char *close = memrchr(s + 2, ']', n - 2);
            const char *hdr = s + 1;
            size_t hl = (size_t)(close - hdr);
            opt = NULL;
            if (hl == 7 && memcmp(hdr, "DEFAULT", 7) == 0) {
                cur = &f->defaults;
                continue;
            }
            for (size_t i = 0; i < f->n; i++) {
                if (strlen(f->secs[i].name) == hl && memcmp(f->secs[i].name, hdr, hl) == 0) {
                    snprintf(what, sizeof what, "duplicate section [%.*s]",
                             (int)(hl > 100 ? 100 : hl), hdr);
                    return parse_error(err, name, lineno, what);
                }
            }
            if (f->n == f->cap) {
                size_t cap = f->cap ? f->cap * 2 : 8;
                struct raw_section *p = realloc(f->secs, cap * sizeof *p);
                if (!p)
                    return parse_error(err, name, lineno, "out of memory");
                f->secs = p;
                f->cap = cap;
            }
            cur = &f->secs[f->n];
            *cur = (struct raw_section){.name = dup_n(hdr, hl)};
            if (!cur->name)
                return parse_error(err, name, lineno, "out of memory");
            f->n++;
            continue;
        }
        if (!cur)
            return parse_error(err, name, lineno, "a setting before the first [section] header");
        size_t d = 0;
        while (d < n && s[d] != '=' && s[d] != ':')
            d++;
        if (d == n)
            return parse_error(err, name, lineno,
                               "expected `name = value`, a [section] header or a comment");
        const char *key = s, *val = s + d + 1;
        size_t kl = d, vl = n - d - 1;
        strip(&key, &kl);
        strip(&val, &vl);
        if (kl == 0)
            return parse_error(err, name, lineno, "a setting with no name before the `=`");
        char *lower = dup_n(key, kl);
        if (!lower)
            return parse_error(err, name, lineno, "out of memory");
        for (size_t i = 0; i < kl; i++)
            if (lower[i] >= 'A' && lower[i] <= 'Z')
                lower[i] = (char)(lower[i] - 'A' + 'a');
        for (size_t i = 0; i < cur->n; i++) {
            if (strcmp(cur->opts[i].name, lower) == 0) {
                snprintf(what, sizeof what, "duplicate setting `%.60s` in section [%.60s]", lower,
                         cur->name ? cur->name : "DEFAULT");
                free(lower);
                return parse_error(err, name, lineno, what);
            }
        }
        if (cur->n == cur->cap) {
            size_t cap = cur->cap ? cur->cap * 2 : 8;
            struct raw_option *p = realloc(cur->opts, cap * sizeof *p);
            if (!p) {
                free(lower);
                return parse_error(err, name, lineno, "out of memory");
            }
            cur->opts = p;
            cur->cap = cap;
        }
        opt = &cur->opts[cur->n++];
        *opt = (struct raw_option){.name = lower, .line = lineno};
        ebuf_init(&opt->value);
        ebuf_append(&opt->value, val, vl);
        ebuf_puts(&opt->value, ""); /* an empty value still gets a buffer */
        if (!ebuf_ok(&opt->value))
            return parse_error(err, name, lineno, "out of memory");
    }
    return 0;
}

/* ---- profile layer: botocore's configloader over the raw sections ---- */

static void profile_cleanup(struct profile *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->entries[i].key);
        free(p->entries[i].member);
        free(p->entries[i].value);
    }
    free(p->entries);
    free(p->name);
}

static void file_profiles_cleanup(struct file_profiles *fp)
{
    for (size_t i = 0; i < fp->n; i++)
        profile_cleanup(&fp->profiles[i]);
    free(fp->profiles);
}

static bool add_entry(struct profile *p, const char *key, const char *member, size_t member_len,
                      const char *value, size_t value_len)
{
    struct entry *e = realloc(p->entries, (p->n + 1) * sizeof *e);
    if (!e)
        return false;
    p->entries = e;
    e = &p->entries[p->n];
    e->key = strdup(key);
    e->member = member ? dup_n(member, member_len) : NULL;
    e->value = dup_n(value, value_len);
    if (!e->key || !e->value || (member && !e->member)) {
        free(e->key);
        free(e->member);
        free(e->value);
        return false;
    }
    p->n++;
    return true;
}

/* One option into profile entries: trailing whitespace and blank lines trimmed (configparser
 * rstrips the joined value); a value that starts with a line break is a nested block. */
static int add_option(struct profile *p, const struct raw_option *o, const char *fname,
                      struct ebuf *err)
{
    const char *v = ebuf_str(&o->value);
    size_t vl = strlen(v);
    while (vl && (is_ws(v[vl - 1]) || v[vl - 1] == '\n'))
        vl--;
    if (vl == 0 || v[0] != '\n') {
        if (!add_entry(p, o->name, NULL, 0, v, vl))
            return parse_error(err, fname, o->line, "out of memory");
        return 0;
    }
    if (!add_entry(p, o->name, NULL, 0, "", 0))
        return parse_error(err, fname, o->line, "out of memory");
    size_t first = p->n; /* this block's members start here */
    size_t pos = 0;
    while (pos < vl) {
        size_t start = pos;
        while (pos < vl && v[pos] != '\n')
            pos++;
        const char *s = v + start;
        size_t n = pos - start;
        if (pos < vl)
            pos++;
        strip(&s, &n);
        if (n == 0)
            continue;
        const char *eq = memchr(s, '=', n);
        if (!eq) {
            char what[120];
            snprintf(what, sizeof what, "nested setting under `%.60s` has no `=`", o->name);
            return parse_error(err, fname, o->line, what);
        }
        const char *k = s, *val = eq + 1;
        size_t kl = (size_t)(eq - s), vvl = n - kl - 1;
        strip(&k, &kl);
        strip(&val, &vvl);
        /* A repeated member: the later one wins, as in botocore's dict. */
        struct entry *dup = NULL;
        for (size_t i = p->n; i-- > first && !dup;)
            if (strlen(p->entries[i].member) == kl && memcmp(p->entries[i].member, k, kl) == 0)
                dup = &p->entries[i];
        if (dup) {
            char *nv = dup_n(val, vvl);
            if (!nv)
                return parse_error(err, fname, o->line, "out of memory");
            free(dup->value);
            dup->value = nv;
            continue;
        }
        if (!add_entry(p, o->name, k, kl, val, vvl))
            return parse_error(err, fname, o->line, "out of memory");
    }
    return 0;
}

/* A section plus the file's [DEFAULT] options it does not override, as cp.options() lists. */
static int build_profile(struct profile *p, const struct raw_section *sec,
                         const struct raw_section *defaults, const char *fname, struct ebuf *err)
{
    for (size_t i = 0; i < sec->n; i++)
        if (add_option(p, &sec->opts[i], fname, err) != 0)
            return -1;
    for (size_t i = 0; i < defaults->n; i++) {
        bool shadowed = false;
        for (size_t j = 0; j < sec->n && !shadowed; j++)
            shadowed = strcmp(sec->opts[j].name, defaults->opts[i].name) == 0;
        if (!shadowed && add_option(p, &defaults->opts[i], fname, err) != 0)
            return -1;
    }
    return 0;
}

/* shlex.split() as botocore applies it to "profile NAME" headers, POSIX mode: whitespace
 * separates words, '...' is literal, "..." honours \\ \" \$ \`, a backslash outside quotes
 * escapes the next character. Returns the number of words (stops counting at 3) and the
 * second word in `second`; -1 when a quote is unterminated (botocore then skips the section). */
static int shlex_second(const char *s, struct ebuf *second)
{
    int words = 0;
    size_t i = 0, n = strlen(s);
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
            i++;
        if (i >= n)
            break;
        words++;
        struct ebuf scratch = EBUF_INIT;
        struct ebuf *w = words == 2 ? second : &scratch;
        while (i < n && !(s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) {
            char c = s[i++];
            if (c == '\\') {
                if (i >= n) {
                    ebuf_free(&scratch);
                    return -1;
                }
                ebuf_putc(w, s[i++]);
            } else if (c == '\'') {
                const char *close = strchr(s + i, '\'');
                if (!close) {
                    ebuf_free(&scratch);
                    return -1;
                }
                ebuf_append(w, s + i, (size_t)(close - (s + i)));
                i = (size_t)(close - s) + 1;
            } else if (c == '"') {
                for (;;) {
                    if (i >= n) {
                        ebuf_free(&scratch);
                        return -1;
                    }
                    c = s[i++];
                    if (c == '"')
                        break;
                    if (c == '\\' && i < n &&
                        (s[i] == '\\' || s[i] == '"' || s[i] == '$' || s[i] == '`'))
                        c = s[i++];
                    ebuf_putc(w, c);
                }
            } else {
                ebuf_putc(w, c);
            }
        }
        ebuf_free(&scratch);
    }
    return words;
}

static struct profile *find_profile(const struct file_profiles *fp, const char *name)
{
    for (size_t i = 0; i < fp->n; i++)
        if (strcmp(fp->profiles[i].name, name) == 0)
            return &fp->profiles[i];
    return NULL;
}

/* Where a config file section goes, as botocore's build_profile_map sorts them: [default], and
 * the headers starting with a prefix whose shlex words are exactly two, named by the second.
 * NULL for any other section. */
static struct file_profiles *config_section(struct profile_set *set, const char *header,
                                            struct ebuf *name)
{
    static const char *const prefixes[] = {"profile", "sso-session", "services"};
    struct file_profiles *const kinds[] = {&set->config, &set->sso_sessions, &set->services};
    if (strcmp(header, "default") == 0) {
        ebuf_puts(name, header);
        return &set->config;
    }
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
        if (strncmp(header, prefixes[i], strlen(prefixes[i])) == 0)
            return shlex_second(header, name) == 2 ? kinds[i] : NULL;
    return NULL;
}

static int build_file(const struct raw_file *raw, bool is_config, const char *fname,
                      struct profile_set *set, struct ebuf *err)
{
    for (size_t i = 0; i < raw->n; i++) {
        const struct raw_section *sec = &raw->secs[i];
        struct ebuf pname = EBUF_INIT;
        struct file_profiles *out = &set->credentials;
        if (!is_config) {
            ebuf_puts(&pname, sec->name);
        } else if ((out = config_section(set, sec->name, &pname)) == NULL) {
            /* Not a profile ([preview], [profile a b]...); botocore still parses its nested
             * blocks and fails the file when one is malformed. */
            ebuf_free(&pname);
            struct profile scratch = {0};
            int rc = build_profile(&scratch, sec, &raw->defaults, fname, err);
            profile_cleanup(&scratch);
            if (rc != 0)
                return -1;
            continue;
        }
        ebuf_puts(&pname, "");
        if (!ebuf_ok(&pname)) {
            ebuf_free(&pname);
            return parse_error(err, fname, 0, "out of memory");
        }
        /* [default] and [profile default] both name "default": the later one wins whole. */
        struct profile *p = find_profile(out, ebuf_str(&pname));
        if (p) {
            profile_cleanup(p);
        } else {
            struct profile *grown = realloc(out->profiles, (out->n + 1) * sizeof *grown);
            if (!grown) {
                ebuf_free(&pname);
                return parse_error(err, fname, 0, "out of memory");
            }
            out->profiles = grown;
            p = &out->profiles[out->n++];
        }
        *p = (struct profile){.name = ebuf_take(&pname)};
        if (!p->name)
            p->name = strdup("");
        if (!p->name || build_profile(p, sec, &raw->defaults, fname, err) != 0)
            return -1;
    }
    return 0;
}

static int parse_one(const char *text, size_t len, const char *name, bool is_config,
                     struct profile_set *set, struct ebuf *err)
{
    struct raw_file raw = {0};
    int rc = raw_parse(text, len, name, &raw, err);
    if (rc == 0)
        rc = build_file(&raw, is_config, name, set, err);
    raw_file_cleanup(&raw);
    return rc;
}

struct profile_set *profile_parse(const char *config, size_t config_len, const char *config_name,
                                  const char *credentials, size_t credentials_len,
                                  const char *credentials_name, struct ebuf *err)
{
    struct profile_set *set = calloc(1, sizeof *set);
    if (!set) {
        if (err)
            ebuf_puts(err, "out of memory");
        return NULL;
    }
    if ((config && parse_one(config, config_len, config_name ? config_name : "config", true, set,
                             err) != 0) ||
        (credentials &&
         parse_one(credentials, credentials_len,
                   credentials_name ? credentials_name : "credentials", false, set, err) != 0)) {
        profile_set_free(set);
        return NULL;
    }
    return set;
}

/* 1 and the contents when read, 0 when the file does not exist, -1 on error. */
static int read_file(const char *path, char **data, size_t *len, struct ebuf *err)
{
    int rc = file_read_all(path, PROFILE_MAX_FILE, data, len);
    if (rc == -ENOENT || rc == -ENOTDIR)
        return 0;
    if (rc < 0 && err) {
        if (rc == -EINVAL || rc == -EFBIG)
            ebuf_printf(err, "%s: not a regular file of at most %u bytes", path, PROFILE_MAX_FILE);
        else
            ebuf_printf(err, "%s: cannot read: %s", path, strerror(-rc));
    }
    return rc < 0 ? -1 : 1;
}

struct profile_set *profile_load(const char *config_path, const char *credentials_path,
                                 struct ebuf *err)
{
    char *cfg = NULL, *cred = NULL;
    size_t cfg_len = 0, cred_len = 0;
    int rc_cfg = config_path ? read_file(config_path, &cfg, &cfg_len, err) : 0;
    int rc_cred =
        rc_cfg >= 0 && credentials_path ? read_file(credentials_path, &cred, &cred_len, err) : 0;
    struct profile_set *set = NULL;
    if (rc_cfg >= 0 && rc_cred >= 0)
        set = profile_parse(cfg, cfg_len, config_path, cred, cred_len, credentials_path, err);
    free(cfg);
    free(cred);
    return set;
}

struct profile_set *profile_load_env(const struct env_reader *env, struct ebuf *err)
{
    char *cfg = profile_config_path(env), *cred = profile_credentials_path(env);
    struct profile_set *set = profile_load(cfg, cred, err);
    free(cfg);
    free(cred);
    return set;
}

void profile_set_free(struct profile_set *set)
{
    if (!set)
        return;
    file_profiles_cleanup(&set->config);
    file_profiles_cleanup(&set->credentials);
    file_profiles_cleanup(&set->sso_sessions);
    file_profiles_cleanup(&set->services);
    free(set);
}

static const struct entry *find_entry(const struct profile *p, const char *key, const char *member)
{
    if (!p)
        return NULL;
    for (size_t i = 0; i < p->n; i++) {
        const struct entry *e = &p->entries[i];
        if (strcasecmp(e->key, key) != 0)
            continue;
        if (!member && !e->member)
            return e;
        if (member && e->member && strcmp(e->member, member) == 0)
            return e;
    }
    return NULL;
}

/* The credentials file wins key by key; a nested block comes whole from one file. */
static const struct profile *source_for(const struct profile_set *set, const char *profile,
                                        const char *key)
{
    if (!set || !profile || !key)
        return NULL;
    const struct profile *p = find_profile(&set->credentials, profile);
    if (find_entry(p, key, NULL))
        return p;
    p = find_profile(&set->config, profile);
    return find_entry(p, key, NULL) ? p : NULL;
}

const char *profile_get(const struct profile_set *set, const char *profile, const char *key)
{
    const struct entry *e = find_entry(source_for(set, profile, key), key, NULL);
    return e ? e->value : NULL;
}

const char *profile_get_nested(const struct profile_set *set, const char *profile, const char *key,
                               const char *member)
{
    if (!member)
        return NULL;
    const struct entry *e = find_entry(source_for(set, profile, key), key, member);
    return e ? e->value : NULL;
}

const char *profile_sso_session_get(const struct profile_set *set, const char *session,
                                    const char *key)
{
    if (!set || !session || !key)
        return NULL;
    const struct entry *e = find_entry(find_profile(&set->sso_sessions, session), key, NULL);
    return e ? e->value : NULL;
}

bool profile_sso_session_exists(const struct profile_set *set, const char *session)
{
    return set && session && find_profile(&set->sso_sessions, session);
}

const char *profile_services_get(const struct profile_set *set, const char *services,
                                 const char *key, const char *member)
{
    if (!set || !services || !key)
        return NULL;
    const struct entry *e = find_entry(find_profile(&set->services, services), key, member);
    return e ? e->value : NULL;
}

bool profile_services_exists(const struct profile_set *set, const char *services)
{
    const struct profile *p = set && services ? find_profile(&set->services, services) : NULL;
    return p && p->n > 0;
}

bool profile_exists(const struct profile_set *set, const char *profile)
{
    return set && profile &&
           (find_profile(&set->credentials, profile) || find_profile(&set->config, profile));
}

static void emit_profile(const struct profile_set *set, const char *name,
                         void (*fn)(void *, const char *, const char *, const char *, const char *),
                         void *user)
{
    const struct profile *sources[2] = {find_profile(&set->credentials, name),
                                        find_profile(&set->config, name)};
    fn(user, name, NULL, NULL, NULL);
    for (int s = 0; s < 2; s++) {
        const struct profile *p = sources[s];
        for (size_t i = 0; p && i < p->n; i++) {
            const struct entry *e = &p->entries[i];
            if (source_for(set, name, e->key) == p)
                fn(user, name, e->key, e->member, e->value);
        }
    }
}

void profile_foreach(const struct profile_set *set,
                     void (*fn)(void *user, const char *profile, const char *key,
                                const char *member, const char *value),
                     void *user)
{
    if (!set || !fn)
        return;
    for (size_t i = 0; i < set->credentials.n; i++)
        emit_profile(set, set->credentials.profiles[i].name, fn, user);
    for (size_t i = 0; i < set->config.n; i++)
        if (!find_profile(&set->credentials, set->config.profiles[i].name))
            emit_profile(set, set->config.profiles[i].name, fn, user);
}

static void emit_sections(const struct file_profiles *fp,
                          void (*fn)(void *, const char *, const char *, const char *,
                                     const char *),
                          void *user)
{
    for (size_t i = 0; fn && i < fp->n; i++) {
        const struct profile *p = &fp->profiles[i];
        fn(user, p->name, NULL, NULL, NULL);
        for (size_t j = 0; j < p->n; j++)
            fn(user, p->name, p->entries[j].key, p->entries[j].member, p->entries[j].value);
    }
}

void profile_sso_session_foreach(const struct profile_set *set,
                                 void (*fn)(void *user, const char *session, const char *key,
                                            const char *member, const char *value),
                                 void *user)
{
    if (set)
        emit_sections(&set->sso_sessions, fn, user);
}

void profile_services_foreach(const struct profile_set *set,
                              void (*fn)(void *user, const char *services, const char *key,
                                         const char *member, const char *value),
                              void *user)
{
    if (set)
        emit_sections(&set->services, fn, user);
}
