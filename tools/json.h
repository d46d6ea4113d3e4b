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


/* ---- Reading (tools/json_parse.c): a small DOM for the files we write
 * ourselves (emo batch summaries). Depth at most 64; strings are decoded
 * to UTF-8 (\u escapes included; \u0000 is refused).
 *
 *   json_value v;
 *   char err[128];
 *   if (json_parse(text, len, &v, err, sizeof err)) ...err: "line 3: expected ':'"...
 *   const char *s = json_get_str(&v, "input");
 *   json_value_free(&v);
 */
typedef enum json_type { JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ } json_type;
typedef struct json_value {
    json_type type;
    bool b;
    double num;
    char *str;                /* JSON_STR */
    int n;                    /* JSON_ARR, JSON_OBJ: entries */
    struct json_value *items; /* n values */
    char **keys;              /* JSON_OBJ: n keys, in file order */
} json_value;

/* 0, or -1 with a message in err (out is then a JSON_NULL that needs no free). */
int json_parse(const char *text, size_t len, json_value *out, char *err, size_t errcap);
void json_value_free(json_value *v);
/* The member `key` of an object (the first if repeated); NULL if v is no
 * object or has none. */
const json_value *json_get(const json_value *v, const char *key);
/* Typed look-ups: the default (NULL for strings) when absent or of another type. */
double json_get_num(const json_value *v, const char *key, double def);
const char *json_get_str(const json_value *v, const char *key);

#endif
