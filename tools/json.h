/* json.h — a small JSON writer into a growable buffer, shared by the CLI
 * (`emo image --json`) and the web server, so both print faces the same way.
 *
 *   json_buf j = {0};
 *   json_begin_image(&j, "photo.jpg", w, h);
 *   for (...) json_face(&j, &faces[i], names, nclasses, false);
 *   json_end_image(&j);
 *   if (j.failed) ...out of memory...; else fwrite(j.data, 1, j.len, stdout);
 *   json_free(&j);
 *
 * Writes never fail midway: on allocation failure `failed` is set and later
 * writes do nothing, so callers check once at the end. `data` is always
 * NUL-terminated once anything has been written. Commas between values are
 * the caller's: json_sep() writes one unless the enclosing {...} or [...]
 * was just opened. */
#ifndef EMO_JSON_H
#define EMO_JSON_H

#include "emo.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct json_buf {
    char *data;
    size_t len, cap;
    bool failed;
} json_buf;

void json_free(json_buf *j);
void json_clear(json_buf *j); /* len = 0, keeps the memory */
void json_raw(json_buf *j, const char *s, size_t n);
void json_lit(json_buf *j, const char *s); /* raw NUL-terminated text */
void json_printf(json_buf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A quoted string with ", \ and control characters escaped; invalid UTF-8
 * bytes become U+FFFD so the output is always valid JSON. NULL -> null. */
void json_str(json_buf *j, const char *s);
/* json_str straight to a stream, for commands that print JSON as they go. */
void json_print_str(FILE *f, const char *s);
/* A number with up to 4 significant digits; NaN and Inf -> null. */
void json_num(json_buf *j, double v);
/* Writes "," unless the last character written opens an object or array. */
void json_sep(json_buf *j);
/* `"key":` preceded by a comma when needed. */
void json_key(json_buf *j, const char *key);

/* `emo image --json` format:
 *   {"image":"<name>","width":W,"height":H,"faces":[FACE,...]}
 * where FACE is
 *   {"box":[x,y,w,h],"track_id":N,"emotion":"happy","scores":{"angry":0.01,...}}
 * with the smoothed probabilities (equal to the raw ones for one image) in
 * model class order. */
void json_begin_image(json_buf *j, const char *name, int width, int height);
/* A face: box, track id, emotion, scores; with landmarks, "pose":
 * {"roll","yaw","pitch"} (degrees), and with `points` also
 * "landmarks":[[x,y],...] (68, pixels, 1 decimal). */
void json_face(json_buf *j, const emo_face *f, const char *const *names, int nclasses, bool points);
void json_end_image(json_buf *j);

#endif
