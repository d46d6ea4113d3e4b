/* json.c — the small JSON writer of json.h. */
#include "json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_free(json_buf *j) {
    free(j->data);
    *j = (json_buf){0};
}

void json_clear(json_buf *j) {
    j->len = 0;
    j->failed = false;
    if (j->data) j->data[0] = 0;
}

/* Room for n more bytes plus the terminating NUL. */
static bool reserve(json_buf *j, size_t n) {
    if (j->failed) return false;
    if (j->len + n + 1 <= j->cap) return true;
    size_t cap = j->cap ? j->cap : 256;
    while (cap < j->len + n + 1) {
        if (cap > ((size_t)1 << 40)) {
            j->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *d = realloc(j->data, cap);
    if (!d) {
        j->failed = true;
        return false;
    }
    j->data = d;
    j->cap = cap;
    return true;
}

void json_raw(json_buf *j, const char *s, size_t n) {
    if (!reserve(j, n)) return;
    memcpy(j->data + j->len, s, n);
    j->len += n;
    j->data[j->len] = 0;
}

void json_lit(json_buf *j, const char *s) { json_raw(j, s, strlen(s)); }

void json_printf(json_buf *j, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        j->failed = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        json_raw(j, small, (size_t)n);
        return;
    }
    if (!reserve(j, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(j->data + j->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    j->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is invalid
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static int utf8_len(const unsigned char *s) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int n;
    unsigned cp;
    if ((c & 0xE0) == 0xC0) n = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) n = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) n = 4, cp = c & 0x07;
    else return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0; /* also stops at the NUL */
        cp = cp << 6 | (s[i] & 0x3F);
    }
    static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

void json_str(json_buf *j, const char *s) {
    if (!s) {
        json_lit(j, "null");
        return;
    }
    json_raw(j, "\"", 1);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        const unsigned char *run = p;
        while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
        json_raw(j, (const char *)run, (size_t)(p - run));
        if (!*p) break;
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            json_raw(j, e, 2);
            p++;
        } else if (c < 0x20) {
            const char *e = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
            if (e) json_lit(j, e);
            else json_printf(j, "\\u%04x", c);
            p++;
        } else {
            int n = utf8_len(p);
            if (n) json_raw(j, (const char *)p, (size_t)n), p += n;
            else json_lit(j, "\xEF\xBF\xBD"), p++;
        }
    }
    json_raw(j, "\"", 1);
}

void json_num(json_buf *j, double v) {
    if (!isfinite(v)) json_lit(j, "null");
    else json_printf(j, "%.4g", v);
}

void json_sep(json_buf *j) {
    if (j->len && j->data[j->len - 1] != '{' && j->data[j->len - 1] != '[') json_raw(j, ",", 1);
}

void json_key(json_buf *j, const char *key) {
    json_sep(j);
    json_str(j, key);
    json_raw(j, ":", 1);
}

void json_begin_image(json_buf *j, const char *name, int width, int height) {
    json_sep(j);
    json_lit(j, "{\"image\":");
    json_str(j, name);
    json_printf(j, ",\"width\":%d,\"height\":%d,\"faces\":[", width, height);
}

void json_face(json_buf *j, const emo_face *f, const char *const *names, int nclasses, bool points) {
    json_sep(j);
    json_printf(j, "{\"box\":[%d,%d,%d,%d],\"track_id\":%d,\"emotion\":", f->box.x, f->box.y, f->box.w,
                f->box.h, f->track_id);
    json_str(j, f->label >= 0 && f->label < nclasses ? names[f->label] : NULL);
    json_lit(j, ",\"scores\":{");
    for (int c = 0; c < nclasses && c < f->nclasses && c < EMO_PIPELINE_MAX_CLASSES; c++) {
        json_key(j, names[c]);
        /* Fixed 4 decimals, as the CSV rows. */
        if (isfinite(f->smoothed[c])) json_printf(j, "%.4f", f->smoothed[c]);
        else json_lit(j, "null");
    }
    json_lit(j, "}");
    if (f->npoints > 0) {
        json_printf(j, ",\"pose\":{\"roll\":%.1f,\"yaw\":%.1f,\"pitch\":%.1f}", f->roll, f->yaw, f->pitch);
        if (points) {
            json_lit(j, ",\"landmarks\":[");
            for (int i = 0; i < f->npoints && i < EMO_FACE_POINTS; i++)
                json_printf(j, "%s[%.1f,%.1f]", i ? "," : "", f->points[2 * i], f->points[2 * i + 1]);
            json_lit(j, "]");
        }
    }
    if (f->tilt != 0) json_printf(j, ",\"tilt\":%.0f", f->tilt);
    json_lit(j, "}");
}

void json_end_image(json_buf *j) { json_lit(j, "]}"); }

void json_print_str(FILE *f, const char *s) {
    json_buf j = {0};
    json_str(&j, s);
    if (!j.failed && j.data) fwrite(j.data, 1, j.len, f);
    json_free(&j);
}
