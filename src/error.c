/* error.c — status codes, messages, and small file helpers every module uses. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static _Thread_local char last_error[1024];

const char *emo_version(void) { return EMO_VERSION_STRING; }

const char *emo_strerror(int status) {
    switch (status) {
    case EMO_OK: return "success";
#define EMO_STRERROR_CASE_(name, value, msg) case value: return msg;
        EMO_STATUS_MAP(EMO_STRERROR_CASE_)
#undef EMO_STRERROR_CASE_
    }
    return "unknown error";
}

const char *emo_last_error(void) { return last_error; }

void emo_clear_error(void) { last_error[0] = 0; }

int emo_fail(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

int emo_fail_prefix(int status, const char *fmt, ...) {
    char old[sizeof last_error], prefix[512];
    memcpy(old, last_error, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    snprintf(last_error, sizeof last_error, "%.400s: %.600s", prefix, old[0] ? old : emo_strerror(status));
    return status;
}

int emo_read_file(const char *path, size_t limit, uint8_t **bytes, size_t *size) {
    *bytes = NULL;
    *size = 0;
    if (!path) return emo_fail(EMO_EINVAL, "no file name given");
    if (!limit) limit = (size_t)1 << 30;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return emo_fail(errno == ENOENT ? EMO_ENOTFOUND : EMO_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return emo_fail(EMO_EIO, "%s: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return emo_fail(EMO_EINVAL, "%s: is a directory, not a file", path);
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > limit) {
        close(fd);
        return emo_fail(EMO_ELIMIT, "%s: file is %lld bytes, above the limit of %zu", path,
                        (long long)st.st_size, limit);
    }
    /* Read in chunks: works for pipes and files whose size changes under us. */
    size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return emo_fail(EMO_ENOMEM, "%s: out of memory reading %zu bytes", path, cap);
    }
    for (;;) {
        if (n == cap) {
            if (cap >= limit) {
                free(buf);
                close(fd);
                return emo_fail(EMO_ELIMIT, "%s: more than %zu bytes", path, limit);
            }
            size_t ncap = EMO_MIN(cap * 2, limit + 1);
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                close(fd);
                return emo_fail(EMO_ENOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free(buf);
            close(fd);
            return emo_fail(EMO_EIO, "%s: %s", path, strerror(e));
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (n > limit) {
        free(buf);
        return emo_fail(EMO_ELIMIT, "%s: more than %zu bytes", path, limit);
    }
    *bytes = buf;
    *size = n;
    return EMO_OK;
}

void emo_buf_put(emo_buf *b, const void *data, size_t n) {
    if (b->oom) return;
    if (n > SIZE_MAX / 2 - b->n) {
        b->oom = 1;
        return;
    }
    if (b->n + n > b->cap) {
        size_t cap = EMO_MAX(b->cap * 2, b->n + n + 4096);
        uint8_t *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

int emo_write_file_atomic(const char *path, const void *bytes, size_t size) {
    if (!path || !*path) return emo_fail(EMO_EINVAL, "no output file name given");
    size_t len = strlen(path);
    char *tmp = malloc(len + 32);
    if (!tmp) return emo_fail(EMO_ENOMEM, "%s: out of memory", path);
    snprintf(tmp, len + 32, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return emo_fail(EMO_EIO, "%s: cannot write: %s", path, strerror(e));
    }
    const uint8_t *p = bytes;
    size_t left = size;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC;
            close(fd);
            unlink(tmp);
            free(tmp);
            return emo_fail(EMO_EIO, "%s: write failed: %s", path, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 && errno != EINVAL) {
        int e = errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        return emo_fail(EMO_EIO, "%s: sync failed: %s", path, strerror(e));
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return emo_fail(EMO_EIO, "%s: cannot write: %s", path, strerror(e));
    }
    free(tmp);
    return EMO_OK;
}
