/* data.c — training datasets: FER2013 CSV (+ FER+ votes), folder-per-class
 * trees and index CSVs, held as 48x48 grey; seeded splits; augmentation and
 * batch assembly into float tensors.
 *
 * The FER2013 CSV is 290 MB of text once inflated (84 MB gzip), so it is read
 * in a stream: zlib inflates 1 MiB at a time into a line buffer and a
 * hand-written parser turns each `pixels` field into 2304 bytes in place. */
#include "internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define CHUNK ((size_t)1 << 20)    /* bytes read or inflated per step */
#define MAX_LINE ((size_t)1 << 20) /* longest CSV line accepted */
#define MAX_SOURCES 64             /* distinct source labels a class list may name */
#define MAX_FIELDS 64              /* CSV columns looked at */

/* ------------------------------------------------------------------------ */
/* Class names                                                              */
/* ------------------------------------------------------------------------ */

/* FER2013's label order (the `emotion` column's 0..6). */
static const char *const fer_names[7] = {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"};

static const struct {
    const char *alias, *name;
} synonyms[] = {
    {"angry", "angry"},       {"anger", "angry"},       {"disgust", "disgust"},
    {"disgusted", "disgust"}, {"fear", "fear"},         {"fearful", "fear"},
    {"happy", "happy"},       {"happiness", "happy"},   {"sad", "sad"},
    {"sadness", "sad"},       {"surprise", "surprise"}, {"surprised", "surprise"},
    {"neutral", "neutral"},   {"contempt", "contempt"}, {"contemptuous", "contempt"},
};

const char *emo_class_canonical(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof synonyms / sizeof synonyms[0]; i++)
        if (strcasecmp(name, synonyms[i].alias) == 0) return synonyms[i].name;
    return NULL;
}

/* The model's classes and which source labels feed each. Source labels are
 * canonical emotion names or (folder / index data) lower-cased names. */
typedef struct class_map {
    int n;
    char names[EMO_DATASET_MAX_CLASSES][EMO_CLASS_NAME_MAX];
    int nsrc;
    char src[MAX_SOURCES][EMO_CLASS_NAME_MAX];
    int to[MAX_SOURCES]; /* model class of src[i] */
} class_map;

/* Canonical form of a label: the emotion name for synonyms, else lower case.
 * false if it is empty or too long. */
static bool canonical_label(const char *s, size_t len, char out[EMO_CLASS_NAME_MAX]) {
    while (len && isspace((unsigned char)*s)) s++, len--;
    while (len && isspace((unsigned char)s[len - 1])) len--;
    if (len == 0 || len >= EMO_CLASS_NAME_MAX) return false;
    for (size_t i = 0; i < len; i++) out[i] = (char)tolower((unsigned char)s[i]);
    out[len] = 0;
    const char *c = emo_class_canonical(out);
    if (c) snprintf(out, EMO_CLASS_NAME_MAX, "%s", c);
    return true;
}

static int map_lookup(const class_map *m, const char *canon) {
    for (int i = 0; i < m->nsrc; i++)
        if (strcmp(m->src[i], canon) == 0) return m->to[i];
    return -1;
}

static int map_add_source(class_map *m, const char *src, size_t len, int to, const char *spec) {
    char c[EMO_CLASS_NAME_MAX];
    if (!canonical_label(src, len, c) || strpbrk(c, ",=+"))
        return emo_fail(EMO_EINVAL, "classes \"%s\": bad class name '%.*s'", spec, (int)len, src);
    if (map_lookup(m, c) >= 0)
        return emo_fail(EMO_EINVAL, "classes \"%s\": '%s' is listed twice", spec, c);
    if (m->nsrc == MAX_SOURCES)
        return emo_fail(EMO_ELIMIT, "classes \"%s\": more than %d source labels", spec, MAX_SOURCES);
    memcpy(m->src[m->nsrc], c, sizeof c);
    m->to[m->nsrc++] = to;
    return EMO_OK;
}

/* Parses "happy,sad" or "negative=angry+sad,happy"; NULL/blank = FER's 7. */
static int parse_classes(const char *spec, class_map *m) {
    memset(m, 0, sizeof *m);
    const char *p = spec ? spec : "";
    while (isspace((unsigned char)*p)) p++;
    if (!*p) {
        for (int i = 0; i < 7; i++) {
            snprintf(m->names[i], EMO_CLASS_NAME_MAX, "%s", fer_names[i]);
            map_add_source(m, fer_names[i], strlen(fer_names[i]), i, "");
        }
        m->n = 7;
        return EMO_OK;
    }
    for (;;) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (m->n == EMO_DATASET_MAX_CLASSES)
            return emo_fail(EMO_ELIMIT, "classes \"%s\": more than %d classes", spec, EMO_DATASET_MAX_CLASSES);
        char name[EMO_CLASS_NAME_MAX];
        const char *ne = eq ? eq : end;
        if (!canonical_label(p, (size_t)(ne - p), name) || strpbrk(name, "+"))
            return emo_fail(EMO_EINVAL, "classes \"%s\": bad class name '%.*s'", spec, (int)(ne - p), p);
        for (int i = 0; i < m->n; i++)
            if (strcmp(m->names[i], name) == 0)
                return emo_fail(EMO_EINVAL, "classes \"%s\": '%s' is listed twice", spec, name);
        memcpy(m->names[m->n], name, sizeof name);
        int s;
        if (!eq) {
            s = map_add_source(m, p, (size_t)(end - p), m->n, spec);
            if (s) return s;
        } else {
            for (const char *q = eq + 1;;) {
                const char *qe = memchr(q, '+', (size_t)(end - q));
                if (!qe) qe = end;
                s = map_add_source(m, q, (size_t)(qe - q), m->n, spec);
                if (s) return s;
                if (qe == end) break;
                q = qe + 1;
            }
        }
        m->n++;
        if (!*end) break;
        p = end + 1;
    }
    return EMO_OK;
}

/* Every source label of the map must be one the data can have. */
static int map_check_sources(const class_map *m, const char *const *vocab, int nvocab, const char *what) {
    for (int i = 0; i < m->nsrc; i++) {
        bool found = false;
        for (int k = 0; k < nvocab && !found; k++) found = strcmp(m->src[i], vocab[k]) == 0;
        if (!found) {
            char list[256] = "";
            for (int k = 0; k < nvocab; k++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "", vocab[k]);
            return emo_fail(EMO_EINVAL, "class '%s' is not in %s (it has %s)", m->src[i], what, list);
        }
    }
    return EMO_OK;
}

/* ------------------------------------------------------------------------ */
/* Line reader over plain or gzip files                                     */
/* ------------------------------------------------------------------------ */

typedef struct reader {
    const char *path;
    int fd;
    bool gz, zinit, in_eof, eof;
    z_stream zs;
    uint8_t *in;           /* gzip input chunk */
    char *buf;             /* text; [start, end) not yet returned; cap + 1 allocated */
    size_t cap, start, end;
    int line;              /* number of the line last returned, 1-based */
} reader;

static void reader_close(reader *r) {
    if (r->zinit) inflateEnd(&r->zs);
    if (r->fd >= 0) close(r->fd);
    free(r->in);
    free(r->buf);
    memset(r, 0, sizeof *r);
    r->fd = -1;
}

static int read_some(reader *r, void *dst, size_t n, size_t *got) {
    for (;;) {
        ssize_t k = read(r->fd, dst, n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return emo_fail(EMO_EIO, "%s: %s", r->path, strerror(errno));
        *got = (size_t)k;
        return EMO_OK;
    }
}

static int reader_open(reader *r, const char *path) {
    memset(r, 0, sizeof *r);
    r->fd = -1;
    r->path = path;
    if (!path) return emo_fail(EMO_EINVAL, "no file name given");
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) return emo_fail(errno == ENOENT ? EMO_ENOTFOUND : EMO_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(r->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        reader_close(r);
        return emo_fail(EMO_EINVAL, "%s: is a folder, not a CSV file", path);
    }
    r->cap = 2 * CHUNK;
    r->buf = malloc(r->cap + 1);
    r->in = malloc(CHUNK);
    if (!r->buf || !r->in) {
        reader_close(r);
        return emo_fail(EMO_ENOMEM, "%s: out of memory", path);
    }
    /* Sniff the gzip magic (1f 8b) from the first chunk. */
    size_t got = 0;
    int s = read_some(r, r->in, CHUNK, &got);
    if (s) {
        reader_close(r);
        return s;
    }
    if (got >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b) {
        r->gz = true;
        if (inflateInit2(&r->zs, 15 + 16) != Z_OK) {
            reader_close(r);
            return emo_fail(EMO_ENOMEM, "%s: cannot start zlib", path);
        }
        r->zinit = true;
        r->zs.next_in = r->in;
        r->zs.avail_in = (uInt)got;
    } else {
        memcpy(r->buf, r->in, got);
        r->end = got;
        if (got == 0) r->eof = true;
    }
    return EMO_OK;
}

/* Appends decoded bytes at buf + end (there must be room); sets eof at the end. */
static int reader_fill(reader *r) {
    if (!r->gz) {
        size_t got = 0;
        int s = read_some(r, r->buf + r->end, r->cap - r->end, &got);
        if (s) return s;
        if (got == 0) r->eof = true;
        r->end += got;
        return EMO_OK;
    }
    size_t before = r->end;
    while (r->end == before && !r->eof) {
        if (r->zs.avail_in == 0 && !r->in_eof) {
            size_t got = 0;
            int s = read_some(r, r->in, CHUNK, &got);
            if (s) return s;
            if (got == 0) r->in_eof = true;
            r->zs.next_in = r->in;
            r->zs.avail_in = (uInt)got;
        }
        r->zs.next_out = (Bytef *)r->buf + r->end;
        r->zs.avail_out = (uInt)(r->cap - r->end);
        int z = inflate(&r->zs, Z_NO_FLUSH);
        r->end = (size_t)((char *)r->zs.next_out - r->buf);
        if (z == Z_STREAM_END) {
            /* Concatenated gzip members are one file (as zcat reads them). */
            if (r->zs.avail_in == 0 && !r->in_eof) {
                size_t got = 0;
                int s = read_some(r, r->in, CHUNK, &got);
                if (s) return s;
                if (got == 0) r->in_eof = true;
                r->zs.next_in = r->in;
                r->zs.avail_in = (uInt)got;
            }
            if (r->zs.avail_in == 0) r->eof = true;
            else inflateReset(&r->zs);
        } else if (z == Z_BUF_ERROR && r->zs.avail_in == 0 && r->in_eof) {
            return emo_fail(EMO_EFORMAT, "%s: truncated gzip data", r->path);
        } else if (z != Z_OK && z != Z_BUF_ERROR) {
            return emo_fail(EMO_EFORMAT, "%s: corrupt gzip data (%s)", r->path,
                            r->zs.msg ? r->zs.msg : "inflate failed");
        }
    }
    return EMO_OK;
}

/* Next line, NUL-terminated without its "\n" or "\r\n"; valid until the next
 * call. Returns 1 with a line, 0 at the end, negative on error. */
static int reader_next(reader *r, char **line, size_t *len) {
    size_t scanned = r->start;
    for (;;) {
        char *nl = memchr(r->buf + scanned, '\n', r->end - scanned);
        if (nl || (r->eof && r->end > r->start)) {
            char *b = r->buf + r->start;
            size_t n = nl ? (size_t)(nl - b) : r->end - r->start;
            r->start += nl ? n + 1 : n;
            if (n && b[n - 1] == '\r') n--;
            b[n] = 0; /* buf has one spare byte past cap for the last line */
            r->line++;
            *line = b;
            *len = n;
            return 1;
        }
        if (r->eof) return 0;
        if (r->end - r->start >= MAX_LINE)
            return emo_fail(EMO_ELIMIT, "%s line %d: longer than %zu bytes", r->path, r->line + 1, MAX_LINE);
        scanned = r->end;
        if (r->start > 0) {
            memmove(r->buf, r->buf + r->start, r->end - r->start);
            scanned -= r->start;
            r->end -= r->start;
            r->start = 0;
        }
        int s = reader_fill(r);
        if (s) return s;
    }
}

/* Splits a CSV line in place into at most MAX_FIELDS fields (trimmed of
 * blanks; "quoted" fields unquoted, "" inside them an escaped quote).
 * Returns the number of fields, which may exceed MAX_FIELDS (then only the
 * first MAX_FIELDS are stored); -1 for an unterminated quote. */
static int split_fields(char *line, size_t len, char **f, size_t *flen) {
    char *p = line, *end = line + len;
    int n = 0;
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        char *start = p, *stop;
        if (p < end && *p == '"') {
            char *w = p;
            start = w;
            p++;
            for (;;) {
                if (p >= end) return -1;
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"') {
                        *w++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                *w++ = *p++;
            }
            stop = w;
            while (p < end && *p != ',') p++;
        } else {
            char *c = p < end ? memchr(p, ',', (size_t)(end - p)) : NULL;
            p = c ? c : end;
            stop = p;
            while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t')) stop--;
        }
        if (n < MAX_FIELDS) {
            f[n] = start;
            flen[n] = (size_t)(stop - start);
        }
        n++;
        if (p >= end) break;
        *stop = 0;
        p++; /* past the comma */
    }
    if (n <= MAX_FIELDS) f[n - 1][flen[n - 1]] = 0;
    return n;
}

/* The error for a row whose field count n is not the expected nf. */
static int ragged(const char *path, int line, int n, int nf) {
    if (n < 0) return emo_fail(EMO_EFORMAT, "%s line %d: unterminated quoted field", path, line);
    return emo_fail(EMO_EFORMAT, "%s line %d: %d fields, expected %d as in the header", path, line, n, nf);
}

static int find_field(char **f, const size_t *flen, int n, const char *name) {
    for (int i = 0; i < EMO_MIN(n, MAX_FIELDS); i++)
        if (strlen(name) == flen[i] && strncasecmp(f[i], name, flen[i]) == 0) return i;
    return -1;
}

/* Non-negative decimal integer, all of the field; -1 if it is not one. */
static long parse_uint(const char *s, size_t len) {
    if (len == 0 || len > 9) return -1;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* ------------------------------------------------------------------------ */
/* Dataset storage                                                          */
/* ------------------------------------------------------------------------ */

void emo_dataset_free(emo_dataset *ds) {
    if (!ds) return;
    free(ds->pixels);
    free(ds->labels);
    free(ds->soft);
    free(ds->split);
    free(ds->line);
    memset(ds, 0, sizeof *ds);
}

emo_dataset_params emo_dataset_params_default(void) {
    emo_dataset_params p = {0};
    p.labels = EMO_LABELS_FER2013;
    return p;
}

/* Room for `need` rows (soft: with soft labels). */
static int ds_reserve(emo_dataset *ds, size_t need, bool soft) {
    if (need <= (size_t)ds->capacity) return EMO_OK;
    if (need > INT32_MAX) return emo_fail(EMO_ELIMIT, "more than %d rows", INT32_MAX);
    size_t cap = EMO_MAX(need, EMO_MAX((size_t)ds->capacity * 2, (size_t)1024));
    cap = EMO_MIN(cap, (size_t)INT32_MAX);
    size_t px, sb;
    if (!emo_mul_size(cap, EMO_DATA_PIXELS, &px) || !emo_mul_size(cap, sizeof(float) * EMO_DATASET_MAX_CLASSES, &sb))
        return emo_fail(EMO_ELIMIT, "%zu rows is too many", cap);
    void *p;
    if (!(p = realloc(ds->pixels, px))) goto oom;
    ds->pixels = p;
    if (!(p = realloc(ds->labels, cap * sizeof(int)))) goto oom;
    ds->labels = p;
    if (!(p = realloc(ds->split, cap))) goto oom;
    ds->split = p;
    if (!(p = realloc(ds->line, cap * sizeof(int)))) goto oom;
    ds->line = p;
    if (soft) {
        if (!(p = realloc(ds->soft, cap * (size_t)ds->nclasses * sizeof(float)))) goto oom;
        ds->soft = p;
    }
    ds->capacity = (int)cap;
    return EMO_OK;
oom:
    return emo_fail(EMO_ENOMEM, "out of memory for %zu rows", cap);
}

static void ds_start(emo_dataset *ds, const class_map *m) {
    emo_dataset_free(ds);
    ds->nclasses = m->n;
    memcpy(ds->classes, m->names, sizeof m->names);
}

/* Every class needs rows: training on an empty class is always a mistake. */
static int ds_check_classes(const emo_dataset *ds, const char *source) {
    int counts[EMO_DATASET_MAX_CLASSES] = {0};
    emo_dataset_class_counts(ds, EMO_SPLIT_ANY, counts);
    for (int c = 0; c < ds->nclasses; c++)
        if (counts[c] == 0) {
            if (ds->skipped)
                return emo_fail(EMO_EFORMAT, "%s: class '%s' has no rows (%d unreadable images were skipped)", source,
                                ds->classes[c], ds->skipped);
            return emo_fail(EMO_EFORMAT, "%s: class '%s' has no rows", source, ds->classes[c]);
        }
    return EMO_OK;
}

/* ------------------------------------------------------------------------ */
/* FER2013 and FER+                                                         */
/* ------------------------------------------------------------------------ */

/* FER+ vote columns, in file order, and the emotion each counts; unknown and
 * NF (not a face) count for no class. */
static const char *const vote_cols[10] = {"neutral", "happiness", "surprise", "sadness", "anger",
                                          "disgust", "fear",      "contempt", "unknown",  "NF"};
static const char *const vote_names[8] = {"neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt"};

typedef struct votes {
    int n, cap;
    uint16_t (*v)[10]; /* (n, 10) votes per column */
    uint8_t *split;    /* (n) Usage, EMO_SPLIT_NONE without the column */
    int *line;         /* (n) line in the votes file */
} votes;

static void votes_free(votes *v) {
    free(v->v);
    free(v->split);
    free(v->line);
    memset(v, 0, sizeof *v);
}

static int split_of_field(const char *s, size_t len) {
    if (len == 0) return EMO_SPLIT_NONE;
    char b[32];
    if (len >= sizeof b) return -1;
    memcpy(b, s, len);
    b[len] = 0;
    int sp = emo_split_from_name(b);
    return sp < 0 ? -1 : sp;
}

static int votes_load(votes *v, const char *path) {
    memset(v, 0, sizeof *v);
    reader r;
    int s = reader_open(&r, path);
    if (s) return s;
    char *line, *f[MAX_FIELDS];
    size_t len, flen[MAX_FIELDS];
    int nf = 0, col[10], usage = -1;
    while ((s = reader_next(&r, &line, &len)) == 1 && len == 0) {}
    if (s < 0) goto done;
    if (s == 0) {
        s = emo_fail(EMO_EFORMAT, "%s: empty file, expected a FER+ header", path);
        goto done;
    }
    nf = split_fields(line, len, f, flen);
    for (int k = 0; k < 10; k++) {
        col[k] = nf > 0 ? find_field(f, flen, nf, vote_cols[k]) : -1;
        if (col[k] < 0) {
            s = emo_fail(EMO_EFORMAT, "%s line %d: no '%s' column in the header (FER+ has Usage,Image name,"
                         "neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF)",
                         path, r.line, vote_cols[k]);
            goto done;
        }
    }
    usage = find_field(f, flen, nf, "Usage");
    while ((s = reader_next(&r, &line, &len)) == 1) {
        if (len == 0) continue;
        int n = split_fields(line, len, f, flen);
        if (n != nf) {
            s = ragged(path, r.line, n, nf);
            goto done;
        }
        if (v->n == v->cap) {
            int cap = v->cap ? v->cap * 2 : 4096;
            void *a = realloc(v->v, sizeof *v->v * (size_t)cap), *b = NULL, *c = NULL;
            if (a) v->v = a;
            if (a && (b = realloc(v->split, (size_t)cap))) v->split = b;
            if (b && (c = realloc(v->line, sizeof(int) * (size_t)cap))) v->line = c;
            if (!c) {
                s = emo_fail(EMO_ENOMEM, "%s: out of memory", path);
                goto done;
            }
            v->cap = cap;
        }
        for (int k = 0; k < 10; k++) {
            long x = parse_uint(f[col[k]], flen[col[k]]);
            if (x < 0 || x > 1000) {
                s = emo_fail(EMO_EFORMAT, "%s line %d: %s votes '%s' is not a count 0..1000", path, r.line,
                             vote_cols[k], f[col[k]]);
                goto done;
            }
            v->v[v->n][k] = (uint16_t)x;
        }
        int sp = usage >= 0 ? split_of_field(f[usage], flen[usage]) : EMO_SPLIT_NONE;
        if (sp < 0) {
            s = emo_fail(EMO_EFORMAT, "%s line %d: unknown Usage '%s'", path, r.line, f[usage]);
            goto done;
        }
        v->split[v->n] = (uint8_t)sp;
        v->line[v->n] = r.line;
        v->n++;
    }
done:
    reader_close(&r);
    if (s < 0) votes_free(v);
    return s < 0 ? s : EMO_OK;
}

/* Parses `pixels` (2304 numbers 0..255 separated by spaces) into out. */
static int parse_pixels(const char *p, size_t len, uint8_t *out, const char *path, int line) {
    const char *e = p + len;
    int n = 0;
    for (;;) {
        while (p < e && *p == ' ') p++;
        if (p >= e) break;
        unsigned v = (unsigned)(*p - '0');
        if (v > 9) goto bad;
        p++;
        /* At most 3 digits; a fourth digit makes it > 255 anyway. */
        while (p < e && (unsigned)(*p - '0') <= 9) {
            v = v * 10 + (unsigned)(*p - '0');
            p++;
            if (v > 255) return emo_fail(EMO_EFORMAT, "%s line %d: pixel %d is above 255", path, line, n + 1);
        }
        if (p < e && *p != ' ') goto bad;
        if (n < EMO_DATA_PIXELS) out[n] = (uint8_t)v;
        n++;
    }
    if (n != EMO_DATA_PIXELS)
        return emo_fail(EMO_EFORMAT, "%s line %d: %d pixel values, expected %d (48x48)", path, line, n,
                        EMO_DATA_PIXELS);
    return EMO_OK;
bad:
    return emo_fail(EMO_EFORMAT, "%s line %d: pixel %d is not a number 0..255 (near \"%.12s\")", path, line, n + 1,
                    p);
}

/* Model-class votes of one FER+ row -> hard label (and distribution).
 * Returns -1 when no vote is left. fer_model: the row's FER2013 label as a
 * model class (-1 if none), preferred on ties. */
static int votes_label(const uint16_t raw[10], const int colmap[8], int nclasses, int fer_model, float *soft) {
    int v[EMO_DATASET_MAX_CLASSES] = {0}, total = 0;
    for (int k = 0; k < 8; k++)
        if (colmap[k] >= 0) v[colmap[k]] += raw[k], total += raw[k];
    if (total == 0) return -1;
    int best = 0;
    for (int c = 1; c < nclasses; c++)
        if (v[c] > v[best]) best = c;
    if (fer_model >= 0 && v[fer_model] == v[best]) best = fer_model;
    if (soft)
        for (int c = 0; c < nclasses; c++) soft[c] = (float)v[c] / (float)total;
    return best;
}

int emo_dataset_load_fer2013(emo_dataset *ds, const char *csv, const char *votes_path, const emo_dataset_params *p) {
    if (!ds) return emo_fail(EMO_EINVAL, "emo_dataset_load_fer2013: no dataset");
    emo_dataset_params def = emo_dataset_params_default();
    if (!p) p = &def;
    emo_dataset_free(ds);
    if (p->labels != EMO_LABELS_FER2013 && p->labels != EMO_LABELS_MAJORITY && p->labels != EMO_LABELS_SOFT)
        return emo_fail(EMO_EINVAL, "emo_dataset_load_fer2013: unknown label mode %d", (int)p->labels);
    bool use_votes = p->labels != EMO_LABELS_FER2013, soft = p->labels == EMO_LABELS_SOFT;
    if (use_votes && !votes_path)
        return emo_fail(EMO_EINVAL, "%s: FER+ majority or soft labels need the votes file (fer2013new.csv)",
                        csv ? csv : "FER2013");
    class_map m;
    int s = parse_classes(p->classes, &m);
    if (s) return s;
    s = use_votes ? map_check_sources(&m, vote_names, 8, "the FER+ votes")
                  : map_check_sources(&m, fer_names, 7, "FER2013's labels");
    if (s) return s;
    int fer_to[7], col_to[8];
    for (int i = 0; i < 7; i++) fer_to[i] = map_lookup(&m, fer_names[i]);
    for (int k = 0; k < 8; k++) col_to[k] = map_lookup(&m, vote_names[k]);

    votes v = {0};
    if (use_votes && (s = votes_load(&v, votes_path))) return s;
    ds_start(ds, &m);
    reader r;
    s = reader_open(&r, csv);
    if (s) {
        votes_free(&v);
        return s;
    }
    char *line, *f[MAX_FIELDS];
    size_t len, flen[MAX_FIELDS];
    while ((s = reader_next(&r, &line, &len)) == 1 && len == 0) {}
    if (s < 0) goto done;
    if (s == 0) {
        s = emo_fail(EMO_EFORMAT, "%s: empty file, expected the header emotion,pixels,Usage", csv);
        goto done;
    }
    int nf = split_fields(line, len, f, flen);
    int c_emotion = find_field(f, flen, nf, "emotion"), c_pixels = find_field(f, flen, nf, "pixels"),
        c_usage = find_field(f, flen, nf, "Usage");
    if (c_pixels < 0 || (c_emotion < 0 && !use_votes)) {
        s = emo_fail(EMO_EFORMAT, "%s line %d: header has no '%s' column (FER2013 has emotion,pixels,Usage)", csv,
                     r.line, c_pixels < 0 ? "pixels" : "emotion");
        goto done;
    }
    if (use_votes && (s = ds_reserve(ds, (size_t)v.n, soft))) goto done;
    int row = 0; /* data rows read, aligned with the votes' rows */
    while ((s = reader_next(&r, &line, &len)) == 1) {
        if (len == 0) continue;
        int n = split_fields(line, len, f, flen);
        if (n != nf) {
            s = ragged(csv, r.line, n, nf);
            goto done;
        }
        int fer = -1;
        if (c_emotion >= 0) {
            long e = parse_uint(f[c_emotion], flen[c_emotion]);
            if (e < 0 || e > 6) {
                s = emo_fail(EMO_EFORMAT, "%s line %d: emotion '%s' is out of range, expected 0..6", csv, r.line,
                             f[c_emotion]);
                goto done;
            }
            fer = (int)e;
        }
        int sp = c_usage >= 0 ? split_of_field(f[c_usage], flen[c_usage]) : EMO_SPLIT_NONE;
        if (sp < 0) {
            s = emo_fail(EMO_EFORMAT, "%s line %d: unknown Usage '%s' (expected Training, PublicTest or PrivateTest)",
                         csv, r.line, f[c_usage]);
            goto done;
        }
        if (use_votes) {
            if (row >= v.n) {
                s = emo_fail(EMO_EFORMAT, "%s line %d: data row %d has no row in %s, which has only %d; the files "
                             "must be aligned row by row", csv, r.line, row + 1, votes_path, v.n);
                goto done;
            }
            if (sp != EMO_SPLIT_NONE && v.split[row] != EMO_SPLIT_NONE && sp != v.split[row]) {
                s = emo_fail(EMO_EFORMAT, "%s line %d: Usage %s, but %s line %d says %s; the files are not aligned",
                             csv, r.line, emo_split_name(sp), votes_path, v.line[row], emo_split_name(v.split[row]));
                goto done;
            }
            if (sp == EMO_SPLIT_NONE) sp = v.split[row];
        }
        if ((s = ds_reserve(ds, (size_t)ds->count + 1, soft))) goto done;
        int i = ds->count;
        s = parse_pixels(f[c_pixels], flen[c_pixels], ds->pixels + (size_t)i * EMO_DATA_PIXELS, csv, r.line);
        if (s) goto done;
        int label;
        if (use_votes) {
            label = votes_label(v.v[row], col_to, m.n, fer >= 0 ? fer_to[fer] : -1,
                                soft ? ds->soft + (size_t)i * m.n : NULL);
            if (label < 0) ds->dropped_novotes++;
        } else {
            label = fer_to[fer];
            if (label < 0) ds->dropped_class++;
        }
        row++;
        if (label < 0) continue;
        ds->labels[i] = label;
        ds->split[i] = (uint8_t)sp;
        ds->line[i] = r.line;
        ds->count++;
    }
    if (s < 0) goto done;
    if (use_votes && row != v.n) {
        s = emo_fail(EMO_EFORMAT, "%s has %d data rows but %s has %d; the files must be aligned row by row", votes_path,
                     v.n, csv, row);
        goto done;
    }
    s = ds_check_classes(ds, csv);
done:
    reader_close(&r);
    votes_free(&v);
    if (s < 0) emo_dataset_free(ds);
    return s < 0 ? s : EMO_OK;
}

/* ------------------------------------------------------------------------ */
/* Images: folder trees and index CSVs                                      */
/* ------------------------------------------------------------------------ */

typedef struct item {
    char *path;
    int label, split, line;
} item;

typedef struct items {
    item *a;
    int n, cap;
} items;

static void items_free(items *it) {
    for (int i = 0; i < it->n; i++) free(it->a[i].path);
    free(it->a);
    memset(it, 0, sizeof *it);
}

static char *path_join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (!p) return NULL;
    memcpy(p, a, la);
    size_t k = la;
    if (la && a[la - 1] != '/') p[k++] = '/';
    memcpy(p + k, b, lb + 1);
    return p;
}

static int items_add(items *it, const char *dir, const char *name, int label, int split, int line) {
    if (it->n == it->cap) {
        int cap = it->cap ? it->cap * 2 : 1024;
        item *a = realloc(it->a, sizeof *a * (size_t)cap);
        if (!a) return emo_fail(EMO_ENOMEM, "out of memory listing images");
        it->a = a;
        it->cap = cap;
    }
    char *path = dir ? path_join(dir, name) : strdup(name);
    if (!path) return emo_fail(EMO_ENOMEM, "out of memory listing images");
    it->a[it->n++] = (item){path, label, split, line};
    return EMO_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted names of the visible entries of dir that are folders (want_dirs)
 * or not. The caller frees each name and the array. */
static int list_dir(const char *dir, bool want_dirs, char ***names, int *count) {
    *names = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) return emo_fail(errno == ENOENT ? EMO_ENOTFOUND : EMO_EIO, "%s: %s", dir, strerror(errno));
    char **a = NULL;
    int n = 0, cap = 0, s = EMO_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue; /* ., .., hidden files and .ipynb_checkpoints */
        char *full = path_join(dir, e->d_name);
        struct stat st;
        if (!full) {
            s = emo_fail(EMO_ENOMEM, "out of memory listing %s", dir);
            break;
        }
        bool is_dir = stat(full, &st) == 0 && S_ISDIR(st.st_mode);
        free(full);
        if (is_dir != want_dirs) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **b = realloc(a, sizeof *b * (size_t)cap);
            if (!b) {
                s = emo_fail(EMO_ENOMEM, "out of memory listing %s", dir);
                break;
            }
            a = b;
        }
        if (!(a[n] = strdup(e->d_name))) {
            s = emo_fail(EMO_ENOMEM, "out of memory listing %s", dir);
            break;
        }
        n++;
    }
    closedir(d);
    if (s) {
        for (int i = 0; i < n; i++) free(a[i]);
        free(a);
        return s;
    }
    if (n) qsort(a, (size_t)n, sizeof *a, cmp_str);
    *names = a;
    *count = n;
    return EMO_OK;
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* Reads each item as 48x48 grey into ds (in item order), skipping and
 * reporting unreadable ones. Decoding runs on p->threads threads; warnings
 * go out afterwards, in order, from the calling thread. */
static int decode_items(emo_dataset *ds, const items *it, const emo_dataset_params *p) {
    int s = ds_reserve(ds, (size_t)ds->count + (size_t)it->n, false);
    if (s) return s;
    char **err = calloc((size_t)EMO_MAX(it->n, 1), sizeof *err);
    if (!err) return emo_fail(EMO_ENOMEM, "out of memory");
    uint8_t *base = ds->pixels + (size_t)ds->count * EMO_DATA_PIXELS;
    int nt = p->threads > 0 ? p->threads : omp_get_max_threads();
#pragma omp parallel num_threads(nt)
    {
        emo_image img = {0}, sq = {0}, small = {0};
#pragma omp for schedule(dynamic, 8)
        for (int i = 0; i < it->n; i++) {
            const char *path = it->a[i].path;
            int st = emo_image_load(&img, path, 1);
            const emo_image *src = &img;
            if (!st && p->square_crop && img.width != img.height) {
                int side = EMO_MIN(img.width, img.height);
                st = emo_image_crop(&img, &sq, (img.width - side) / 2, (img.height - side) / 2, side, side);
                src = &sq;
            }
            if (!st) st = emo_image_resize(src, &small, EMO_DATA_SIDE, EMO_DATA_SIDE, EMO_INTERP_AREA);
            if (!st) {
                uint8_t *dst = base + (size_t)i * EMO_DATA_PIXELS;
                for (int y = 0; y < EMO_DATA_SIDE; y++)
                    memcpy(dst + y * EMO_DATA_SIDE, small.data + (size_t)y * small.stride, EMO_DATA_SIDE);
            } else {
                const char *msg = emo_last_error();
                size_t lp = strlen(path);
                char *m = malloc(lp + strlen(msg) + 3);
                if (m) {
                    if (strncmp(msg, path, lp) == 0) strcpy(m, msg);
                    else sprintf(m, "%s: %s", path, msg);
                }
                err[i] = m ? m : (char *)"";
            }
        }
        emo_image_free(&img);
        emo_image_free(&sq);
        emo_image_free(&small);
    }
    for (int i = 0; i < it->n; i++) {
        if (err[i]) {
            ds->skipped++;
            if (p->warn) p->warn(p->warn_user, err[i][0] ? err[i] : it->a[i].path);
            if (err[i][0]) free(err[i]);
            continue;
        }
        int k = ds->count++;
        if (base + (size_t)i * EMO_DATA_PIXELS != ds->pixels + (size_t)k * EMO_DATA_PIXELS)
            memmove(ds->pixels + (size_t)k * EMO_DATA_PIXELS, base + (size_t)i * EMO_DATA_PIXELS, EMO_DATA_PIXELS);
        ds->labels[k] = it->a[i].label;
        ds->split[k] = (uint8_t)it->a[i].split;
        ds->line[k] = it->a[i].line;
    }
    free(err);
    return EMO_OK;
}

static void known_classes_msg(const class_map *m, char *buf, size_t cap) {
    buf[0] = 0;
    for (int i = 0; i < m->n; i++)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", i ? ", " : "", m->names[i]);
}

/* Images of one class folder; labels resolved through the map. */
static int list_class_dir(const class_map *m, const char *dir, const char *name, int split, items *it,
                          emo_dataset *ds) {
    char canon[EMO_CLASS_NAME_MAX] = "";
    char *path = path_join(dir, name);
    if (!path) return emo_fail(EMO_ENOMEM, "out of memory");
    int s = EMO_OK, label = canonical_label(name, strlen(name), canon) ? map_lookup(m, canon) : -1;
    if (label < 0 && !emo_class_canonical(name)) {
        char list[512];
        known_classes_msg(m, list, sizeof list);
        s = emo_fail(EMO_EFORMAT, "%s: folder '%s' is not one of the classes (%s) nor another emotion; list it in "
                     "the classes to train on it", path, name, list);
        free(path);
        return s;
    }
    char **files;
    int nfiles;
    s = list_dir(path, false, &files, &nfiles);
    if (!s) {
        if (label < 0) ds->dropped_class += nfiles;
        for (int i = 0; i < nfiles && label >= 0 && !s; i++) s = items_add(it, path, files[i], label, split, 0);
        free_names(files, nfiles);
    }
    free(path);
    return s;
}

int emo_dataset_load_folder(emo_dataset *ds, const char *root, const emo_dataset_params *p) {
    if (!ds) return emo_fail(EMO_EINVAL, "emo_dataset_load_folder: no dataset");
    emo_dataset_params def = emo_dataset_params_default();
    if (!p) p = &def;
    emo_dataset_free(ds);
    if (!root) return emo_fail(EMO_EINVAL, "emo_dataset_load_folder: no folder given");
    if (p->labels != EMO_LABELS_FER2013)
        return emo_fail(EMO_EINVAL, "%s: FER+ vote labels only exist for the FER2013 CSV", root);
    class_map m;
    int s = parse_classes(p->classes, &m);
    if (s) return s;
    ds_start(ds, &m);
    char **dirs;
    int ndirs;
    if ((s = list_dir(root, true, &dirs, &ndirs))) return s;
    items it = {0};
    int nsplit = 0;
    for (int i = 0; i < ndirs; i++) nsplit += emo_split_from_name(dirs[i]) > 0;
    if (ndirs == 0) s = emo_fail(EMO_EFORMAT, "%s: no class folders (expected ROOT/happy/*.jpg ...)", root);
    for (int i = 0; i < ndirs && !s; i++) {
        if (nsplit == 0) {
            s = list_class_dir(&m, root, dirs[i], EMO_SPLIT_NONE, &it, ds);
            continue;
        }
        int sp = emo_split_from_name(dirs[i]);
        if (sp <= 0) {
            s = emo_fail(EMO_EFORMAT, "%s: folder '%s' is not a split (train, val, test) but '%s' is; mixed layout",
                         root, dirs[i], dirs[i == 0 ? 1 : 0]);
            break;
        }
        char *sd = path_join(root, dirs[i]), **cls = NULL;
        int ncls = 0;
        if (!sd) s = emo_fail(EMO_ENOMEM, "out of memory");
        if (!s) s = list_dir(sd, true, &cls, &ncls);
        for (int k = 0; k < ncls && !s; k++) s = list_class_dir(&m, sd, cls[k], sp, &it, ds);
        free_names(cls, ncls);
        free(sd);
    }
    free_names(dirs, ndirs);
    if (!s) s = decode_items(ds, &it, p);
    if (!s) s = ds_check_classes(ds, root);
    items_free(&it);
    if (s) emo_dataset_free(ds);
    return s;
}

static bool field_is(const char *f, size_t len, const char *const *names) {
    for (; *names; names++)
        if (strlen(*names) == len && strncasecmp(f, *names, len) == 0) return true;
    return false;
}

int emo_dataset_load_index(emo_dataset *ds, const char *csv, const emo_dataset_params *p) {
    if (!ds) return emo_fail(EMO_EINVAL, "emo_dataset_load_index: no dataset");
    emo_dataset_params def = emo_dataset_params_default();
    if (!p) p = &def;
    emo_dataset_free(ds);
    if (!csv) return emo_fail(EMO_EINVAL, "emo_dataset_load_index: no file given");
    if (p->labels != EMO_LABELS_FER2013)
        return emo_fail(EMO_EINVAL, "%s: FER+ vote labels only exist for the FER2013 CSV", csv);
    class_map m;
    int s = parse_classes(p->classes, &m);
    if (s) return s;
    ds_start(ds, &m);
    /* Relative paths are relative to the CSV's folder. */
    const char *slash = strrchr(csv, '/');
    char *dir = slash ? strndup(csv, (size_t)(slash - csv) + 1) : strdup("");
    if (!dir) return emo_fail(EMO_ENOMEM, "out of memory");
    items it = {0};
    reader r;
    if ((s = reader_open(&r, csv))) {
        free(dir);
        return s;
    }
    char *line, *f[MAX_FIELDS];
    size_t len, flen[MAX_FIELDS];
    int nf = -1;
    static const char *const h_path[] = {"path", "file", "filename", "image", NULL},
                             *const h_label[] = {"label", "emotion", "class", "expression", NULL},
                             *const h_split[] = {"split", "usage", "set", NULL};
    while ((s = reader_next(&r, &line, &len)) == 1) {
        if (len == 0) continue;
        int n = split_fields(line, len, f, flen);
        if (nf < 0) {
            nf = n;
            if (n != 2 && n != 3) {
                s = emo_fail(EMO_EFORMAT, "%s line %d: %d fields, expected path,label or path,label,split", csv,
                             r.line, n < 0 ? 0 : n);
                break;
            }
            if (field_is(f[0], flen[0], h_path) && field_is(f[1], flen[1], h_label) &&
                (n == 2 || field_is(f[2], flen[2], h_split)))
                continue; /* header */
        }
        if (n != nf) {
            s = ragged(csv, r.line, n, nf);
            break;
        }
        if (flen[0] == 0) {
            s = emo_fail(EMO_EFORMAT, "%s line %d: empty path", csv, r.line);
            break;
        }
        char canon[EMO_CLASS_NAME_MAX] = "";
        int label = canonical_label(f[1], flen[1], canon) ? map_lookup(&m, canon) : -1;
        if (label < 0) {
            if (flen[1] && emo_class_canonical(canon)) {
                ds->dropped_class++;
                continue;
            }
            char list[512];
            known_classes_msg(&m, list, sizeof list);
            s = emo_fail(EMO_EFORMAT, "%s line %d: label '%s' is not one of the classes (%s) nor another emotion",
                         csv, r.line, f[1], list);
            break;
        }
        int sp = nf == 3 ? split_of_field(f[2], flen[2]) : EMO_SPLIT_NONE;
        if (sp < 0) {
            s = emo_fail(EMO_EFORMAT, "%s line %d: unknown split '%s' (expected train, val or test)", csv, r.line,
                         f[2]);
            break;
        }
        s = items_add(&it, f[0][0] == '/' ? NULL : dir, f[0], label, sp, r.line);
        if (s) break;
    }
    reader_close(&r);
    free(dir);
    if (s == 0 && it.n == 0 && ds->dropped_class == 0) s = emo_fail(EMO_EFORMAT, "%s: no rows", csv);
    if (s == 0) s = decode_items(ds, &it, p);
    if (s == 0) s = ds_check_classes(ds, csv);
    items_free(&it);
    if (s < 0) emo_dataset_free(ds);
    return s < 0 ? s : EMO_OK;
}

int emo_dataset_load(emo_dataset *ds, const char *path, const char *votes_path, const emo_dataset_params *p) {
    if (!ds) return emo_fail(EMO_EINVAL, "emo_dataset_load: no dataset");
    if (!path) return emo_fail(EMO_EINVAL, "emo_dataset_load: no path given");
    struct stat st;
    if (stat(path, &st) != 0) {
        emo_dataset_free(ds);
        return emo_fail(errno == ENOENT ? EMO_ENOTFOUND : EMO_EIO, "%s: %s", path, strerror(errno));
    }
    bool fer = false;
    if (!S_ISDIR(st.st_mode)) {
        reader r;
        char *line = NULL, *f[MAX_FIELDS];
        size_t len, flen[MAX_FIELDS];
        int s = reader_open(&r, path);
        while (!s && (s = reader_next(&r, &line, &len)) == 1 && len == 0) {}
        if (s == 1) {
            int n = split_fields(line, len, f, flen);
            fer = n > 0 && find_field(f, flen, n, "pixels") >= 0;
        }
        reader_close(&r);
        if (s < 0) {
            emo_dataset_free(ds);
            return s;
        }
    }
    if (votes_path && !fer) {
        emo_dataset_free(ds);
        return emo_fail(EMO_EINVAL, "%s: FER+ votes go with a FER2013 CSV (one with a 'pixels' column)", path);
    }
    if (S_ISDIR(st.st_mode)) return emo_dataset_load_folder(ds, path, p);
    if (fer) return emo_dataset_load_fer2013(ds, path, votes_path, p);
    return emo_dataset_load_index(ds, path, p);
}

/* ------------------------------------------------------------------------ */
/* Splits and counts                                                        */
/* ------------------------------------------------------------------------ */

int emo_split_from_name(const char *name) {
    static const struct {
        const char *name;
        int split;
    } t[] = {{"train", EMO_SPLIT_TRAIN},     {"training", EMO_SPLIT_TRAIN},  {"val", EMO_SPLIT_VAL},
             {"valid", EMO_SPLIT_VAL},       {"validation", EMO_SPLIT_VAL},  {"publictest", EMO_SPLIT_VAL},
             {"test", EMO_SPLIT_TEST},       {"testing", EMO_SPLIT_TEST},    {"privatetest", EMO_SPLIT_TEST}};
    for (size_t i = 0; name && i < sizeof t / sizeof t[0]; i++)
        if (strcasecmp(name, t[i].name) == 0) return t[i].split;
    return emo_fail(EMO_EINVAL, "unknown split '%s' (expected train, val or test)", name ? name : "(null)");
}

const char *emo_split_name(int split) {
    switch (split) {
    case EMO_SPLIT_ANY: return "any";
    case EMO_SPLIT_NONE: return "none";
    case EMO_SPLIT_TRAIN: return "train";
    case EMO_SPLIT_VAL: return "val";
    case EMO_SPLIT_TEST: return "test";
    }
    return "unknown";
}

int emo_dataset_rows(const emo_dataset *ds, int split, int *rows, int cap) {
    if (!ds) return 0;
    int n = 0;
    for (int i = 0; i < ds->count; i++)
        if (split == EMO_SPLIT_ANY || ds->split[i] == split) {
            if (rows && n < cap) rows[n] = i;
            n++;
        }
    return n;
}

int emo_dataset_class_counts(const emo_dataset *ds, int split, int *counts) {
    if (!ds || !counts) return 0;
    memset(counts, 0, sizeof(int) * (size_t)ds->nclasses);
    int n = 0;
    for (int i = 0; i < ds->count; i++)
        if (split == EMO_SPLIT_ANY || ds->split[i] == split) counts[ds->labels[i]]++, n++;
    return n;
}

/* SplitMix64 (Steele, Lea, Flood 2014): a counter through a strong mixer. */
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t emo_seed_mix(uint64_t seed, uint64_t k) { return mix64(seed + 0x9e3779b97f4a7c15ull * (k + 1)); }

typedef struct rng {
    uint64_t s;
} rng;

static inline uint64_t rng_next(rng *r) { return mix64(r->s += 0x9e3779b97f4a7c15ull); }
/* Uniform in [0, 1), 24 bits. */
static inline float rng_unit(rng *r) { return (float)(rng_next(r) >> 40) * (1.0f / 16777216.0f); }
/* Uniform integer in [0, n) (Lemire's multiply; bias below 2^-32 for n < 2^32). */
static inline uint32_t rng_below(rng *r, uint32_t n) {
    return (uint32_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

void emo_shuffle(int *a, int n, uint64_t seed) {
    if (!a) return;
    rng r = {seed};
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(&r, (uint32_t)i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

int emo_dataset_split_random(emo_dataset *ds, uint64_t seed, float train, float val) {
    if (!ds) return emo_fail(EMO_EINVAL, "emo_dataset_split_random: no dataset");
    if (!(train >= 0 && train <= 1 && val >= 0 && val <= 1 && train + val <= 1.0f + 1e-6f))
        return emo_fail(EMO_EINVAL, "split fractions train %g, val %g: each must be in [0, 1], their sum at most 1",
                        (double)train, (double)val);
    int *rows = malloc(sizeof(int) * (size_t)EMO_MAX(ds->count, 1));
    if (!rows) return emo_fail(EMO_ENOMEM, "out of memory");
    for (int c = 0; c < ds->nclasses; c++) {
        int n = 0;
        for (int i = 0; i < ds->count; i++)
            if (ds->labels[i] == c && ds->split[i] == EMO_SPLIT_NONE) rows[n++] = i;
        emo_shuffle(rows, n, emo_seed_mix(seed, (uint64_t)c));
        int ntrain = (int)lround((double)n * train), nval = (int)lround((double)n * val);
        ntrain = EMO_MIN(ntrain, n);
        nval = EMO_MIN(nval, n - ntrain);
        for (int k = 0; k < n; k++)
            ds->split[rows[k]] = k < ntrain ? EMO_SPLIT_TRAIN : k < ntrain + nval ? EMO_SPLIT_VAL : EMO_SPLIT_TEST;
    }
    free(rows);
    return EMO_OK;
}

/* ------------------------------------------------------------------------ */
/* Augmentation                                                             */
/* ------------------------------------------------------------------------ */

emo_augment emo_augment_default(void) {
    emo_augment a = {0};
    a.shift = 4;
    a.flip = 1;
    a.rotate = 10;
    a.scale = 0.1f;
    a.brightness = 0.2f;
    a.contrast = 0.2f;
    a.erase = 0.25f;
    return a;
}

int emo_augment_parse(const char *spec, emo_augment *out) {
    if (!out) return emo_fail(EMO_EINVAL, "emo_augment_parse: no output");
    emo_augment a = emo_augment_default();
    if (spec && strcmp(spec, "none") == 0) memset(&a, 0, sizeof a);
    else if (spec && *spec && strcmp(spec, "default") != 0) {
        for (const char *p = spec; *p;) {
            const char *end = strchr(p, ','), *eq;
            if (!end) end = p + strlen(p);
            int len = (int)(end - p);
            char key[16], val[32], *stop;
            eq = memchr(p, '=', (size_t)len);
            if (!eq || eq - p >= (int)sizeof key || end - eq - 1 >= (int)sizeof val || end == eq + 1)
                return emo_fail(EMO_EINVAL, "augmentation \"%s\": '%.*s' is not key=value", spec, len, p);
            snprintf(key, sizeof key, "%.*s", (int)(eq - p), p);
            snprintf(val, sizeof val, "%.*s", (int)(end - eq - 1), eq + 1);
            double v = strtod(val, &stop);
            bool ok = !*stop && isfinite(v) && v >= 0;
            if (ok && strcmp(key, "shift") == 0 && v <= 24 && v == floor(v)) a.shift = (int)v;
            else if (ok && strcmp(key, "flip") == 0 && (v == 0 || v == 1)) a.flip = (int)v;
            else if (ok && strcmp(key, "rotate") == 0 && v <= 180) a.rotate = (float)v;
            else if (ok && strcmp(key, "scale") == 0 && v < 1) a.scale = (float)v;
            else if (ok && strcmp(key, "brightness") == 0 && v < 1) a.brightness = (float)v;
            else if (ok && strcmp(key, "contrast") == 0 && v < 1) a.contrast = (float)v;
            else if (ok && strcmp(key, "erase") == 0 && v <= 1) a.erase = (float)v;
            else
                return emo_fail(EMO_EINVAL, "augmentation \"%s\": unknown key or value out of range in '%.*s'", spec,
                                len, p);
            p = *end ? end + 1 : end;
        }
    }
    *out = a;
    return EMO_OK;
}

emo_transform emo_transform_identity(void) {
    emo_transform t = {0};
    t.scale = 1;
    t.brightness = 1;
    t.contrast = 1;
    return t;
}

void emo_augment_draw(const emo_augment *aug, uint64_t seed, emo_transform *t) {
    *t = emo_transform_identity();
    if (!aug) return;
    rng r = {seed};
    /* Always the same draws in the same order, used or not. */
    float u_flip = rng_unit(&r), u_rot = rng_unit(&r), u_scale = rng_unit(&r);
    uint32_t u_dx = (uint32_t)rng_next(&r), u_dy = (uint32_t)rng_next(&r);
    float u_bright = rng_unit(&r), u_contrast = rng_unit(&r), u_erase = rng_unit(&r);
    t->flip = aug->flip && u_flip < 0.5f;
    t->angle = aug->rotate * (2 * u_rot - 1);
    t->scale = 1 + aug->scale * (2 * u_scale - 1);
    if (aug->shift > 0) {
        uint32_t span = 2u * (uint32_t)EMO_MIN(aug->shift, EMO_DATA_SIDE) + 1;
        t->dx = (float)((int)(u_dx % span) - EMO_MIN(aug->shift, EMO_DATA_SIDE));
        t->dy = (float)((int)(u_dy % span) - EMO_MIN(aug->shift, EMO_DATA_SIDE));
    }
    t->brightness = 1 + aug->brightness * (2 * u_bright - 1);
    t->contrast = 1 + aug->contrast * (2 * u_contrast - 1);
    if (t->brightness < 0) t->brightness = 0;
    if (t->contrast < 0) t->contrast = 0;
    if (aug->erase > 0 && u_erase < aug->erase) {
        /* Random erasing (Zhong et al. 2017): area 2-33%, aspect 0.3-3.3, up to
         * 10 tries for a rectangle that fits. */
        const float area_lo = 0.02f, area_hi = 0.33f, log_lo = logf(0.3f), log_hi = logf(1 / 0.3f);
        for (int k = 0; k < 10; k++) {
            float area = (area_lo + (area_hi - area_lo) * rng_unit(&r)) * EMO_DATA_PIXELS;
            float aspect = expf(log_lo + (log_hi - log_lo) * rng_unit(&r));
            int h = (int)lroundf(sqrtf(area * aspect)), w = (int)lroundf(sqrtf(area / aspect));
            uint32_t ux = (uint32_t)rng_next(&r), uy = (uint32_t)rng_next(&r);
            if (w < 1 || h < 1 || w >= EMO_DATA_SIDE || h >= EMO_DATA_SIDE) continue;
            t->erase_x = (int)(ux % (uint32_t)(EMO_DATA_SIDE - w + 1));
            t->erase_y = (int)(uy % (uint32_t)(EMO_DATA_SIDE - h + 1));
            t->erase_w = w;
            t->erase_h = h;
            break;
        }
    }
}

void emo_transform_apply(const emo_transform *t, const uint8_t *src, float *dst, float mean, float std) {
    enum { S = EMO_DATA_SIDE };
    float v[S * S]; /* (48, 48) grey, 0..255 */
    const float c = (S - 1) * 0.5f;
    bool moved = t->flip || t->angle != 0 || t->scale != 1 || t->dx != 0 || t->dy != 0;
    if (!moved) {
        for (int i = 0; i < S * S; i++) v[i] = src[i];
    } else {
        double rad = t->angle * (M_PI / 180.0), sc = t->scale > 1e-3f ? t->scale : 1e-3f;
        float ca = (float)(cos(rad) / sc), sa = (float)(sin(rad) / sc);
        for (int y = 0; y < S; y++) {
            float w = (float)y - c - t->dy;
            for (int x = 0; x < S; x++) {
                float u = (float)x - c - t->dx;
                /* Inverse of q = c + d + s R F (p - c); R is a visually
                 * counter-clockwise rotation in y-down coordinates. */
                float rx = ca * u - sa * w, ry = sa * u + ca * w;
                float px = c + (t->flip ? -rx : rx), py = c + ry;
                px = EMO_CLAMP(px, -1.0f, (float)S);
                py = EMO_CLAMP(py, -1.0f, (float)S);
                float fx = floorf(px), fy = floorf(py), ax = px - fx, ay = py - fy;
                int x0 = (int)fx, y0 = (int)fy;
                int xa = EMO_CLAMP(x0, 0, S - 1), xb = EMO_CLAMP(x0 + 1, 0, S - 1);
                int ya = EMO_CLAMP(y0, 0, S - 1), yb = EMO_CLAMP(y0 + 1, 0, S - 1);
                float top = src[ya * S + xa] + ax * (src[ya * S + xb] - src[ya * S + xa]);
                float bot = src[yb * S + xa] + ax * (src[yb * S + xb] - src[yb * S + xa]);
                v[y * S + x] = top + ay * (bot - top);
            }
        }
    }
    if (t->brightness != 1 || t->contrast != 1) {
        double sum = 0;
        for (int i = 0; i < S * S; i++) sum += v[i];
        float m = (float)(sum / (S * S)) * t->brightness;
        for (int i = 0; i < S * S; i++) {
            float z = (v[i] * t->brightness - m) * t->contrast + m;
            v[i] = EMO_CLAMP(z, 0.0f, 255.0f);
        }
    }
    const float k = 1.0f / (255.0f * std), o = -mean / std;
    for (int i = 0; i < S * S; i++) dst[i] = v[i] * k + o;
    if (t->erase_w > 0 && t->erase_h > 0) {
        int x0 = EMO_CLAMP(t->erase_x, 0, S), x1 = EMO_CLAMP(t->erase_x + t->erase_w, 0, S);
        int y0 = EMO_CLAMP(t->erase_y, 0, S), y1 = EMO_CLAMP(t->erase_y + t->erase_h, 0, S);
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++) dst[y * S + x] = 0;
    }
}

int emo_dataset_batch(const emo_dataset *ds, const int *rows, int n, const emo_augment *aug, uint64_t seed,
                      float mean, float std, float *x, int *y, float *soft, int threads) {
    if (!ds || (!rows && n > 0) || n < 0 || (!x && n > 0))
        return emo_fail(EMO_EINVAL, "emo_dataset_batch: missing dataset, rows or output");
    if (!(std > 0) || !isfinite(mean))
        return emo_fail(EMO_EINVAL, "emo_dataset_batch: normalisation mean %g, std %g (std must be > 0)",
                        (double)mean, (double)std);
    for (int i = 0; i < n; i++)
        if (rows[i] < 0 || rows[i] >= ds->count)
            return emo_fail(EMO_EINVAL, "emo_dataset_batch: row %d (batch item %d) is outside 0..%d", rows[i], i,
                            ds->count - 1);
    int nt = threads > 0 ? threads : omp_get_max_threads(), nc = ds->nclasses;
#pragma omp parallel for num_threads(nt) schedule(static) if (n >= 32)
    for (int i = 0; i < n; i++) {
        int r = rows[i];
        emo_transform t;
        emo_augment_draw(aug, emo_seed_mix(seed, (uint64_t)r), &t);
        emo_transform_apply(&t, ds->pixels + (size_t)r * EMO_DATA_PIXELS, x + (size_t)i * EMO_DATA_PIXELS, mean, std);
        if (y) y[i] = ds->labels[r];
        if (soft) {
            float *o = soft + (size_t)i * nc;
            if (ds->soft) memcpy(o, ds->soft + (size_t)r * nc, sizeof(float) * (size_t)nc);
            else {
                memset(o, 0, sizeof(float) * (size_t)nc);
                o[ds->labels[r]] = 1;
            }
        }
    }
    return EMO_OK;
}

int emo_dataset_preview(const emo_dataset *ds, const int *rows, int n, int copies, const emo_augment *aug,
                        uint64_t seed, emo_image *out) {
    enum { S = EMO_DATA_SIDE, GAP = 2 };
    if (!ds || !rows || !out || n <= 0 || copies < 0)
        return emo_fail(EMO_EINVAL, "emo_dataset_preview: needs a dataset, rows (n > 0), copies >= 0 and an output");
    if (n > 1000 || copies > 1000)
        return emo_fail(EMO_ELIMIT, "emo_dataset_preview: %d rows x %d copies is above 1000 x 1000", n, copies);
    for (int i = 0; i < n; i++)
        if (rows[i] < 0 || rows[i] >= ds->count)
            return emo_fail(EMO_EINVAL, "emo_dataset_preview: row %d is outside 0..%d", rows[i], ds->count - 1);
    int cols = copies + 1, w = cols * S + (cols - 1) * GAP, h = n * S + (n - 1) * GAP;
    int s = emo_image_alloc(out, w, h, 1);
    if (s) return s;
    for (int yy = 0; yy < h; yy++) memset(out->data + (size_t)yy * out->stride, 255, (size_t)w);
    float cell[S * S];
    for (int i = 0; i < n; i++)
        for (int k = 0; k < cols; k++) {
            emo_transform t;
            emo_augment_draw(k ? aug : NULL, emo_seed_mix(seed + (uint64_t)(k - 1), (uint64_t)rows[i]), &t);
            /* mean 0.5: erased rectangles show as mid grey, as they train. */
            emo_transform_apply(&t, ds->pixels + (size_t)rows[i] * EMO_DATA_PIXELS, cell, 0.5f, 1);
            for (int yy = 0; yy < S; yy++) {
                uint8_t *d = out->data + (size_t)(i * (S + GAP) + yy) * out->stride + k * (S + GAP);
                for (int xx = 0; xx < S; xx++)
                    d[xx] = (uint8_t)EMO_CLAMP(lrintf((cell[yy * S + xx] + 0.5f) * 255), 0, 255);
            }
        }
    return EMO_OK;
}
