/* internal.h — helpers shared by the library's files; not installed. */
#ifndef EMO_INTERNAL_H
#define EMO_INTERNAL_H

#include "emo.h"
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Records a printf-style message for emo_last_error() and returns `status`,
 * so failures read `return emo_fail(EMO_EFORMAT, "%s: bad magic", path);`. */
int emo_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes the current last-error message: "ctx: <old message>". */
int emo_fail_prefix(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void emo_clear_error(void);

/* Overflow-checked size arithmetic: false on overflow. */
static inline bool emo_mul_size(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

/* Reads a whole file into malloc'ed memory (limit in bytes; 0 = 1 GiB). */
int emo_read_file(const char *path, size_t limit, uint8_t **bytes, size_t *size);
/* Writes bytes to path through a temporary file in the same folder and a
 * rename, so readers never see a partial file. */
int emo_write_file_atomic(const char *path, const void *bytes, size_t size);

/* A growable byte buffer for file writers: emo_buf_put appends; running out
 * of memory sets oom (checked once, before writing) instead of failing each
 * call. Start from {0}; free p when done. */
typedef struct emo_buf {
    uint8_t *p;
    size_t n, cap;
    int oom;
} emo_buf;
void emo_buf_put(emo_buf *b, const void *data, size_t n);

/* emo_image_decode with a name (file path) for error messages. */
int emo_image_decode_named(emo_image *out, const void *bytes, size_t size, int channels, const char *what);

#define EMO_MIN(a, b) ((a) < (b) ? (a) : (b))
#define EMO_MAX(a, b) ((a) > (b) ? (a) : (b))
#define EMO_CLAMP(x, lo, hi) ((x) < (lo) ? (lo) : (x) > (hi) ? (hi) : (x))

#endif
