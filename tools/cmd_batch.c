/* cmd_batch.c — `emo batch`: many videos and photos, each to a per-frame CSV
 * and a JSON summary (and optionally an annotated MP4 and a timeline plot)
 * under one output folder, by --jobs worker processes.
 *
 * How it holds together (docs/BATCH.md has the user's side):
 *   - Identity: an input is its lexical absolute path (the "key"). The output
 *     names are the sanitised file name plus 16 hex digits of the key's
 *     FNV-1a hash, so same-named files in different folders never collide
 *     and every process (shard, cluster task) derives the same names alone.
 *   - Done: <stem>.json is written last, by rename, and carries a
 *     fingerprint of the settings and of the input's size and mtime. An
 *     input is done when that JSON says "ok" with the same fingerprint and
 *     the outputs it lists exist. Everything else is written to hidden
 *     .<stem>.part.* names and renamed, so a killed run leaves nothing that
 *     looks done.
 *   - Concurrency: each input is analysed under an flock on
 *     .locks/<stem>.lock in the output folder (released by the kernel when
 *     a process dies). Two batches on one folder never write the same input:
 *     the second skips what the first holds, and at the end waits for those
 *     locks and takes the first one's results (or does the inputs itself if
 *     the first one died).
 *   - Sharding: --shard K/N keeps the inputs whose key hash is K-1 mod N,
 *     after dropping duplicates over the whole list, so N processes that
 *     read the same list split it with no coordination.
 *   - Workers: fork()ed before anything heavy is loaded; each opens one
 *     pipeline (the model loads once per worker, not per file) and takes
 *     inputs one at a time from the parent, which keeps the progress line. */
#include "analyze.h"
#include "cli.h"
#include "commands.h"
#include "json.h"
#include "progress.h"
#include "results.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STEM_CAP 128
#define SUMMARY_CAP (16 << 20) /* a summary file above this is not ours */

typedef struct input {
    char *arg;  /* as listed, for messages */
    char *path; /* as opened (manifest entries resolved against its folder) */
    char *key;  /* lexical absolute path */
    char stem[STEM_CAP];
    uint64_t hash;
    bool no_match; /* a glob that matched nothing */
} input;

typedef struct batch {
    const char *outdir;
    input *in;
    int n, cap;
    bool annotate, plot, force, quiet;
    long max_frames;
    emo_pipeline_params pp;
    char settings[6000];
} batch;

enum { RES_OK, RES_SKIPPED, RES_FAILED, RES_BUSY, RES_INTERRUPTED, RES_DISKFULL };
enum { MSG_FRAMES, MSG_RESULT, MSG_FATAL };

/* Worker -> parent, written in one write() (below PIPE_BUF: atomic). */
typedef struct msg {
    int kind, worker, index, result;
    long frames;
    double video_s, seconds;
    char text[1536];
} msg;
_Static_assert(sizeof(msg) <= PIPE_BUF, "messages must be atomic pipe writes");

/* Parent -> worker: analyse input `index`; wait = block on its lock. */
typedef struct job {
    int index, wait;
} job;

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) { (void)sig, stop_requested = 1; }

static uint64_t fnv1a(const void *data, size_t n, uint64_t h) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}
#define FNV_SEED 0xcbf29ce484222325ULL

static char *xstrdup(const char *s) {
    char *d = strdup(s);
    if (!d) {
        fprintf(stderr, "emo batch: out of memory\n");
        exit(1);
    }
    return d;
}

/* "/a/./b//../c" -> "/a/c"; relative paths are taken from the working folder. */
static char *lexical_abs(const char *path) {
    char cwd[PATH_MAX] = "/";
    if (path[0] != '/' && !getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, "/");
    size_t n = strlen(cwd) + strlen(path) + 2;
    char *all = malloc(n), *out = malloc(n);
    if (!all || !out) {
        fprintf(stderr, "emo batch: out of memory\n");
        exit(1);
    }
    if (path[0] == '/') snprintf(all, n, "%s", path);
    else snprintf(all, n, "%s/%s", cwd, path);
    size_t len = 0;
    out[0] = 0;
    for (char *p = all; *p;) {
        while (*p == '/') p++;
        char *seg = p;
        while (*p && *p != '/') p++;
        size_t sl = (size_t)(p - seg);
        if (sl == 0 || (sl == 1 && seg[0] == '.')) continue;
        if (sl == 2 && seg[0] == '.' && seg[1] == '.') {
            while (len > 0 && out[len - 1] != '/') len--;
            if (len > 0) len--;
            out[len] = 0;
            continue;
        }
        out[len++] = '/';
        memcpy(out + len, seg, sl);
        len += sl;
        out[len] = 0;
    }
    if (len == 0) out[len++] = '/', out[len] = 0;
    free(all);
    return out;
}

/* Length of the valid UTF-8 sequence at s (0 if invalid). */
static int utf8_len(const unsigned char *s) {
    int n = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 && s[0] < 0xE0 ? 2 : 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return n;
}

/* The file name kept readable: letters, digits, . - _ + and valid UTF-8
 * letters stay, anything else (spaces, newlines, quotes) becomes '_'. */
static void make_stem(input *in) {
    const char *base = strrchr(in->key, '/') ? strrchr(in->key, '/') + 1 : in->key;
    char name[STEM_CAP - 20];
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)base; *p && o + 5 < sizeof name;) {
        int u = *p >= 0x80 ? utf8_len(p) : 0;
        if (u) {
            memcpy(name + o, p, (size_t)u);
            o += (size_t)u, p += u;
            continue;
        }
        unsigned char c = *p++;
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                    c == '_' || c == '+';
        name[o] = keep && !(o == 0 && c == '.') ? (char)c : '_';
        o++;
    }
    if (o == 0) name[o++] = '_';
    name[o] = 0;
    in->hash = fnv1a(in->key, strlen(in->key), FNV_SEED);
    snprintf(in->stem, sizeof in->stem, "%s-%016" PRIx64, name, in->hash);
}

static void add_input(batch *b, const char *arg, const char *path, bool no_match) {
    if (b->n == b->cap) {
        int cap = b->cap ? b->cap * 2 : 64;
        input *ni = realloc(b->in, sizeof *ni * (size_t)cap);
        if (!ni) {
            fprintf(stderr, "emo batch: out of memory\n");
            exit(1);
        }
        b->in = ni, b->cap = cap;
    }
    input *in = &b->in[b->n++];
    memset(in, 0, sizeof *in);
    in->arg = xstrdup(arg);
    in->path = xstrdup(path);
    in->key = lexical_abs(path);
    in->no_match = no_match;
    make_stem(in);
}

/* A command-line argument: a file, or a glob (quoted, so the shell left it). */
static void add_arg(batch *b, const char *arg) {
    struct stat st;
    if (strpbrk(arg, "*?[") && lstat(arg, &st) != 0) {
        glob_t g;
        int r = glob(arg, 0, NULL, &g);
        if (r == 0)
            for (size_t i = 0; i < g.gl_pathc; i++) add_input(b, arg, g.gl_pathv[i], false);
        else add_input(b, arg, arg, true);
        if (r == 0 || r == GLOB_NOMATCH) globfree(&g);
        return;
    }
    add_input(b, arg, arg, false);
}

/* One path a line (or NUL-separated, as `find -print0` writes, when the file
 * holds a NUL byte); blank lines and a CR before the newline are dropped.
 * Relative paths are relative to the manifest's folder; "-" reads stdin
 * (relative to the working folder). */
static int read_manifest(batch *b, const char *file) {
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "emo batch: cannot read the manifest %s: %s\n", file, strerror(errno));
        return 1;
    }
    size_t len = 0, cap = 1 << 16;
    char *text = malloc(cap);
    size_t got;
    while (text && (got = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len + 1 == cap) {
            char *nt = realloc(text, cap * 2);
            if (!nt) free(text);
            text = nt, cap *= 2;
        }
    }
    bool bad = !text || ferror(f);
    if (f != stdin) fclose(f);
    if (bad) {
        free(text);
        fprintf(stderr, "emo batch: cannot read the manifest %s\n", file);
        return 1;
    }
    text[len] = 0;
    char sep = memchr(text, 0, len) ? 0 : '\n';
    char dir[PATH_MAX] = ".";
    if (strcmp(file, "-") != 0 && strrchr(file, '/')) snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(file, '/') - file), file);
    if (!dir[0]) snprintf(dir, sizeof dir, "/");
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && text[j] != sep) j++;
        text[j] = 0;
        size_t l = j - i;
        if (sep == '\n' && l > 0 && text[i + l - 1] == '\r') text[i + --l] = 0;
        if (l > 0) {
            const char *p = text + i;
            if (p[0] == '/' || strcmp(dir, ".") == 0) add_input(b, p, p, false);
            else {
                size_t n = strlen(dir) + l + 2;
                char *full = malloc(n);
                if (!full) break;
                snprintf(full, n, "%s/%s", dir, p);
                add_input(b, p, full, false);
                free(full);
            }
        }
        i = j + 1;
    }
    free(text);
    return 0;
}

/* By key, then by position in the list (so the first listed comes first). */
static int by_key(const void *a, const void *b) {
    const input *x = *(const input *const *)a, *y = *(const input *const *)b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x > y) - (x < y);
}

/* Drops repeated entries (same key, or the same file by device and inode),
 * keeping the first listed, and says so. Deterministic for a given list, so
 * every shard drops the same ones. */
static void dedupe(batch *b, bool quiet) {
    typedef struct { dev_t dev; ino_t ino; int i; } file_id;
    input **order = malloc(sizeof *order * (size_t)(b->n ? b->n : 1));
    file_id *ids = malloc(sizeof *ids * (size_t)(b->n ? b->n : 1));
    bool *drop = calloc((size_t)(b->n ? b->n : 1), 1);
    if (!order || !ids || !drop) {
        fprintf(stderr, "emo batch: out of memory\n");
        exit(1);
    }
    for (int i = 0; i < b->n; i++) order[i] = &b->in[i];
    qsort(order, (size_t)b->n, sizeof *order, by_key);
    for (int i = 1, first = 0; i < b->n; i++) {
        if (strcmp(order[i]->key, order[first]->key) != 0) {
            first = i;
            continue;
        }
        drop[order[i] - b->in] = true;
        if (!quiet) fprintf(stderr, "emo batch: %s is listed more than once: analysed once\n", order[i]->arg);
    }
    int nid = 0;
    for (int i = 0; i < b->n; i++) {
        struct stat st;
        if (drop[i] || stat(b->in[i].path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        for (int k = 0; k < nid && !drop[i]; k++)
            if (ids[k].dev == st.st_dev && ids[k].ino == st.st_ino) {
                drop[i] = true;
                if (!quiet) fprintf(stderr, "emo batch: %s is the same file as %s: analysed once\n", b->in[i].arg, b->in[ids[k].i].arg);
            }
        if (!drop[i]) ids[nid++] = (file_id){st.st_dev, st.st_ino, i};
    }
    int o = 0, dups = 0;
    for (int i = 0; i < b->n; i++) {
        if (drop[i]) {
            dups++;
            free(b->in[i].arg), free(b->in[i].path), free(b->in[i].key);
            continue;
        }
        b->in[o++] = b->in[i];
    }
    if (dups && !quiet) fprintf(stderr, "emo batch: %d duplicate entr%s dropped\n", dups, dups == 1 ? "y" : "ies");
    b->n = o;
    free(order), free(ids), free(drop);
}

/* "K/N" (K from 1) or "slurm" (SLURM_ARRAY_TASK_ID/_COUNT/_MIN/_STEP). */
static int parse_shard(const char *s, int *k, int *n) {
    if (strcmp(s, "slurm") == 0) {
        const char *id = getenv("SLURM_ARRAY_TASK_ID"), *count = getenv("SLURM_ARRAY_TASK_COUNT");
        const char *min = getenv("SLURM_ARRAY_TASK_MIN"), *step = getenv("SLURM_ARRAY_TASK_STEP");
        if (!id || !count) {
            fprintf(stderr, "emo batch: --shard slurm: SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT are not set "
                            "(run it as a task of a Slurm job array: sbatch --array=0-N ...)\n");
            return 2;
        }
        long i = atol(id), c = atol(count), lo = min ? atol(min) : 0, st = step && atol(step) > 0 ? atol(step) : 1;
        if (c < 1 || i < lo || (i - lo) % st != 0 || (i - lo) / st >= c) {
            fprintf(stderr, "emo batch: --shard slurm: task %s of an array of %s (min %s, step %s) is not one of "
                            "evenly spaced tasks; use --array=0-%ld or --shard K/N\n",
                    id, count, min ? min : "?", step ? step : "?", c > 0 ? c - 1 : 0);
            return 2;
        }
        *k = (int)((i - lo) / st) + 1, *n = (int)c;
        return 0;
    }
    char *end;
    long a = strtol(s, &end, 10);
    if (end == s || *end != '/') goto bad;
    const char *t = end + 1;
    long c = strtol(t, &end, 10);
    if (end == t || *end || c < 1 || c > 1000000 || a < 1 || a > c) goto bad;
    *k = (int)a, *n = (int)c;
    return 0;
bad:
    fprintf(stderr, "emo batch: --shard wants K/N with 1 <= K <= N (e.g. 1/4 ... 4/4) or 'slurm', got '%s'\n", s);
    return 2;
}

/* ---- files in the output folder ---------------------------------------- */

static void out_path(char *buf, size_t cap, const batch *b, const input *in, const char *suffix) {
    snprintf(buf, cap, "%s/%s%s", b->outdir, in->stem, suffix);
}
static void part_path(char *buf, size_t cap, const batch *b, const input *in, const char *suffix) {
    snprintf(buf, cap, "%s/.%s.part%s", b->outdir, in->stem, suffix);
}

static const char *const out_suffixes[] = {".csv", ".mp4", ".jpg", ".png"};
#define NSUFFIX 4

static void remove_parts(const batch *b, const input *in) {
    char p[PATH_MAX + 200];
    for (int i = 0; i < NSUFFIX; i++) {
        part_path(p, sizeof p, b, in, out_suffixes[i]);
        unlink(p);
    }
    part_path(p, sizeof p, b, in, ".json");
    unlink(p);
}

/* Settings and the input's size and mtime, hashed: what "done" is checked against. */
static bool fingerprint(const batch *b, const input *in, char out[17], struct stat *st) {
    if (stat(in->path, st) != 0 || !S_ISREG(st->st_mode)) return false;
    char idn[64];
    snprintf(idn, sizeof idn, "\n%lld\n%lld.%09ld", (long long)st->st_size, (long long)st->st_mtim.tv_sec,
             (long)st->st_mtim.tv_nsec);
    uint64_t h = fnv1a(b->settings, strlen(b->settings), FNV_SEED);
    h = fnv1a(idn, strlen(idn), h);
    snprintf(out, 17, "%016" PRIx64, h);
    return true;
}

static char *read_small(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size < SUMMARY_CAP && (buf = malloc((size_t)st.st_size + 1))) {
        *len = fread(buf, 1, (size_t)st.st_size, f);
        buf[*len] = 0;
    }
    fclose(f);
    return buf;
}

/* The summary says ok with this fingerprint and every output it lists is there. */
static bool is_done(const batch *b, const input *in) {
    char fp[17], p[PATH_MAX + 200];
    struct stat st;
    if (!fingerprint(b, in, fp, &st)) return false;
    out_path(p, sizeof p, b, in, ".json");
    size_t len = 0;
    char *text = read_small(p, &len);
    if (!text) return false;
    json_value v;
    bool ok = json_parse(text, len, &v, NULL, 0) == 0;
    free(text);
    if (!ok) return false;
    const char *status = json_get_str(&v, "status"), *f = json_get_str(&v, "fingerprint");
    ok = json_get_num(&v, "emo_batch", 0) == 1 && status && strcmp(status, "ok") == 0 && f && strcmp(f, fp) == 0;
    const json_value *outs = json_get(&v, "outputs");
    for (int i = 0; ok && outs && outs->type == JSON_OBJ && i < outs->n; i++)
        if (outs->items[i].type == JSON_STR) {
            snprintf(p, sizeof p, "%s/%s", b->outdir, outs->items[i].str);
            ok = access(p, F_OK) == 0;
        }
    json_value_free(&v);
    return ok;
}

static bool disk_full(const batch *b, const char *error) {
    struct statvfs vfs;
    if (error && (strstr(error, strerror(ENOSPC)) || strstr(error, strerror(EDQUOT)))) return true;
    return statvfs(b->outdir, &vfs) == 0 && vfs.f_bavail == 0;
}

/* Writes text to path atomically (a .part file renamed over it). */
static int write_atomic(const batch *b, const input *in, const char *path, const char *text, size_t len, char *err, size_t errcap) {
    char tmp[PATH_MAX + 200];
    part_path(tmp, sizeof tmp, b, in, ".json");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return snprintf(err, errcap, "cannot write %.1200s: %s", tmp, strerror(errno)), -1;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            snprintf(err, errcap, "cannot write %.1200s: %s", tmp, strerror(w < 0 ? errno : EIO));
            close(fd), unlink(tmp);
            return -1;
        }
        done += (size_t)w;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        snprintf(err, errcap, "cannot finish %.1200s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void json_time(json_buf *j, const char *key, double v) {
    json_key(j, key);
    json_printf(j, "%.3f", v);
}

/* The per-input summary: results, or the failure. */
static int write_summary(const batch *b, const input *in, const analyze_result *r, const char *error,
                         const char *outs[NSUFFIX], char *err, size_t errcap) {
    char fp[17] = "", p[PATH_MAX + 200];
    struct stat st = {0};
    bool have_fp = fingerprint(b, in, fp, &st);
    json_buf j = {0};
    json_lit(&j, "{\"emo_batch\":1");
    json_key(&j, "input"), json_str(&j, in->key);
    json_key(&j, "name"), json_str(&j, in->stem);
    json_key(&j, "status"), json_str(&j, error ? "failed" : "ok");
    if (error) json_key(&j, "error"), json_str(&j, error);
    json_key(&j, "fingerprint"), json_str(&j, have_fp ? fp : NULL);
    json_key(&j, "settings"), json_str(&j, b->settings);
    if (have_fp) {
        json_key(&j, "size"), json_printf(&j, "%lld", (long long)st.st_size);
        json_key(&j, "mtime"), json_printf(&j, "\"%lld.%09ld\"", (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    }
    if (!error && r) {
        json_key(&j, "kind"), json_str(&j, r->photo ? "photo" : "video");
        json_key(&j, "width"), json_printf(&j, "%d", r->width);
        json_key(&j, "height"), json_printf(&j, "%d", r->height);
        json_time(&j, "fps", r->fps);
        json_time(&j, "duration_s", r->duration);
        json_key(&j, "frames"), json_printf(&j, "%ld", r->frames);
        json_key(&j, "frames_with_faces"), json_printf(&j, "%ld", r->frames_with_faces);
        json_key(&j, "faces"), json_printf(&j, "%ld", r->faces);
        json_key(&j, "classes"), json_lit(&j, "[");
        for (int c = 0; c < r->nclasses; c++) json_sep(&j), json_str(&j, r->names[c]);
        json_lit(&j, "]");
        json_key(&j, "tracks"), json_lit(&j, "[");
        for (int t = 0; t < r->ntracks; t++) {
            const analyze_track *tr = &r->tracks[t];
            int best = 0;
            for (int c = 1; c < r->nclasses; c++)
                if (tr->label_frames[c] > tr->label_frames[best]) best = c;
            json_sep(&j);
            json_printf(&j, "{\"id\":%d,\"frames\":%ld", tr->id, tr->frames);
            json_time(&j, "first_s", tr->first_s);
            json_time(&j, "last_s", tr->last_s);
            json_key(&j, "emotion"), json_str(&j, r->names[best]);
            /* share: of the track's frames, those labelled with each class;
             * mean: its mean smoothed probability of each class */
            json_key(&j, "share"), json_lit(&j, "{");
            for (int c = 0; c < r->nclasses; c++)
                json_key(&j, r->names[c]), json_printf(&j, "%.4f", (double)tr->label_frames[c] / (double)tr->frames);
            json_lit(&j, "}");
            json_key(&j, "mean"), json_lit(&j, "{");
            for (int c = 0; c < r->nclasses; c++)
                json_key(&j, r->names[c]), json_printf(&j, "%.4f", tr->prob_sum[c] / (double)tr->frames);
            json_lit(&j, "}}");
        }
        json_lit(&j, "]");
        json_key(&j, "damaged");
        json_printf(&j, "{\"unreadable_packets\":%lld,\"damaged_frames\":%lld,\"missing_frames\":%lld}",
                    (long long)r->damage.errors, (long long)r->damage.corrupt, (long long)r->damage.missing);
        json_key(&j, "processing");
        json_printf(&j, "{\"seconds\":%.3f,\"fps\":%.1f,\"threads\":%d}", r->seconds,
                    r->seconds > 0 ? (double)r->frames / r->seconds : 0, b->pp.threads);
        json_key(&j, "outputs"), json_lit(&j, "{");
        static const char *const names[NSUFFIX] = {"csv", "video", "image", "plot"};
        for (int i = 0; i < NSUFFIX; i++)
            if (outs[i]) json_key(&j, names[i]), json_str(&j, strrchr(outs[i], '/') + 1);
        json_lit(&j, "}");
    }
    json_lit(&j, "}\n");
    if (j.failed) {
        json_free(&j);
        return snprintf(err, errcap, "out of memory"), -1;
    }
    out_path(p, sizeof p, b, in, ".json");
    int s = write_atomic(b, in, p, j.data, j.len, err, errcap);
    json_free(&j);
    return s;
}

/* A failed input: its old outputs go (they would disagree with the summary),
 * the summary records the error. */
static void record_failure(const batch *b, const input *in, const char *error) {
    char p[PATH_MAX + 200], err[600];
    for (int i = 0; i < NSUFFIX; i++) {
        out_path(p, sizeof p, b, in, out_suffixes[i]);
        unlink(p);
    }
    const char *none[NSUFFIX] = {0};
    write_summary(b, in, NULL, error, none, err, sizeof err);
}

/* ---- one input, in a worker --------------------------------------------- */

typedef struct worker_ctx {
    int fd, id, index;
    double last_sent;
} worker_ctx;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void send_msg(int fd, const msg *m) {
    ssize_t w;
    do w = write(fd, m, sizeof *m);
    while (w < 0 && errno == EINTR);
}

static void on_frame(void *ctx, long frames, double time_s) {
    worker_ctx *w = ctx;
    double t = now_s();
    if (t - w->last_sent < 0.5) return;
    w->last_sent = t;
    msg m = {.kind = MSG_FRAMES, .worker = w->id, .index = w->index, .frames = frames,
             .video_s = time_s};
    send_msg(w->fd, &m);
}

static int process_one(const batch *b, const input *in, emo_pipeline *pl, emo_drawer *dr, bool wait, worker_ctx *wc,
                       msg *m) {
    char lock[PATH_MAX + 200];
    snprintf(lock, sizeof lock, "%s/.locks/%s.lock", b->outdir, in->stem);
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lfd < 0) {
        snprintf(m->text, sizeof m->text, "cannot create the lock %.1200s: %s", lock, strerror(errno));
        return disk_full(b, m->text) ? RES_DISKFULL : RES_FAILED;
    }
    int r;
    while ((r = flock(lfd, LOCK_EX | (wait ? 0 : LOCK_NB))) != 0 && errno == EINTR && !stop_requested) {}
    if (r != 0) {
        close(lfd);
        return errno == EWOULDBLOCK ? RES_BUSY : RES_INTERRUPTED;
    }
    int result;
    struct stat st;
    if (!b->force && is_done(b, in)) {
        result = RES_SKIPPED;
        goto unlock;
    }
    remove_parts(b, in); /* left by a killed run: we hold the lock, nobody writes them */
    const char *why = NULL;
    int fd = -1;
    if (in->no_match) why = "no file matches this pattern";
    else if (stat(in->path, &st) != 0) why = strerror(errno);
    else if (S_ISDIR(st.st_mode)) why = "is a directory (list the files in it, e.g. 'DIR/*.mp4')";
    else if (!S_ISREG(st.st_mode)) why = "not a regular file";
    else if ((fd = open(in->path, O_RDONLY | O_CLOEXEC)) < 0) why = strerror(errno);
    if (fd >= 0) close(fd);
    if (why) {
        snprintf(m->text, sizeof m->text, "%s", why);
        record_failure(b, in, m->text);
        result = RES_FAILED;
        goto unlock;
    }

    char parts[NSUFFIX][PATH_MAX + 200], finals[NSUFFIX][PATH_MAX + 200];
    for (int i = 0; i < NSUFFIX; i++) {
        part_path(parts[i], sizeof parts[i], b, in, out_suffixes[i]);
        out_path(finals[i], sizeof finals[i], b, in, out_suffixes[i]);
    }
    /* Photo or video decides which annotated file: look at the first bytes. */
    unsigned char head[16];
    ssize_t hn = -1;
    if ((fd = open(in->path, O_RDONLY | O_CLOEXEC)) >= 0) hn = read(fd, head, sizeof head), close(fd);
    bool photo = hn > 0 && emo_image_sniff(head, (size_t)hn) != EMO_FORMAT_UNKNOWN;
    const char *want[NSUFFIX] = {parts[0], b->annotate && !photo ? parts[1] : NULL, b->annotate && photo ? parts[2] : NULL,
                                 b->plot && !photo ? parts[3] : NULL};
    analyze_opts ao = {.csv = want[0], .annotated = photo ? want[2] : want[1], .plot = want[3],
                       .max_frames = b->max_frames, .params = &b->pp, .stop = &stop_requested,
                       .on_frame = on_frame, .ctx = wc};
    analyze_result res = {0};
    int s = analyze_input(pl, dr, in->path, &ao, &res);
    m->frames = res.frames;
    m->video_s = res.photo ? 0 : res.duration;
    m->seconds = res.seconds;
    if (s == 0 && res.interrupted) {
        remove_parts(b, in);
        result = RES_INTERRUPTED;
        goto done;
    }
    if (s != 0) {
        snprintf(m->text, sizeof m->text, "%s", res.error);
        bool full = disk_full(b, res.error); /* before the parts go and free the space */
        remove_parts(b, in);
        if (full) {
            result = RES_DISKFULL;
        } else {
            record_failure(b, in, res.error);
            result = RES_FAILED;
        }
        goto done;
    }
    const char *outs[NSUFFIX] = {0};
    result = RES_OK;
    for (int i = 0; i < NSUFFIX; i++) {
        if (!want[i]) {
            unlink(finals[i]); /* from an earlier run with other outputs */
            continue;
        }
        if (rename(parts[i], finals[i]) != 0) {
            snprintf(m->text, sizeof m->text, "cannot rename %.1200s: %s", parts[i], strerror(errno));
            result = RES_FAILED;
            break;
        }
        outs[i] = finals[i];
    }
    if (result == RES_OK && write_summary(b, in, &res, NULL, outs, m->text, sizeof m->text) != 0)
        result = disk_full(b, m->text) ? RES_DISKFULL : RES_FAILED;
    if (result != RES_OK) remove_parts(b, in);
done:
    analyze_result_free(&res);
unlock:
    flock(lfd, LOCK_UN);
    close(lfd);
    return result;
}

static void worker_main(const batch *b, int id, int job_fd, int msg_fd) {
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    emo_pipeline *pl = NULL;
    emo_drawer *dr = NULL;
    msg m = {.kind = MSG_FATAL, .worker = id, .index = -1};
    if (emo_pipeline_open(&pl, &b->pp) != EMO_OK) {
        snprintf(m.text, sizeof m.text, "cannot start the pipeline: %s", emo_last_error());
        send_msg(msg_fd, &m);
        _exit(1);
    }
    if (b->annotate && results_drawer_open(&dr, pl) != EMO_OK) {
        snprintf(m.text, sizeof m.text, "cannot load fonts: %s", emo_last_error());
        send_msg(msg_fd, &m);
        emo_pipeline_close(pl);
        _exit(1);
    }
    worker_ctx wc = {.fd = msg_fd, .id = id};
    job jb;
    for (;;) {
        ssize_t got = read(job_fd, &jb, sizeof jb);
        if (got < 0 && errno == EINTR) {
            if (stop_requested) break;
            continue;
        }
        if (got != (ssize_t)sizeof jb || jb.index < 0) break;
        memset(&m, 0, sizeof m);
        m.kind = MSG_RESULT, m.worker = id, m.index = jb.index;
        wc.index = jb.index, wc.last_sent = now_s();
        m.result = stop_requested ? RES_INTERRUPTED : process_one(b, &b->in[jb.index], pl, dr, jb.wait, &wc, &m);
        send_msg(msg_fd, &m);
    }
    emo_drawer_close(dr);
    emo_pipeline_close(pl);
    _exit(0);
}

/* ---- the parent ---------------------------------------------------------- */

typedef struct worker {
    pid_t pid;
    int job_fd;
    int busy_with; /* input index, -1 idle */
    long frames_now;
} worker;

typedef struct tally {
    int done, analysed, skipped, failed, waiting;
    long frames, live_frames;
    double video_s;
    bool disk_full, fatal;
    char fatal_text[1600];
} tally;

static int spawn(const batch *b, worker *w, int id, int msg_rd, int msg_wr, worker *all, int nall) {
    int p[2];
    if (pipe(p) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]), close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[1]);
        close(msg_rd);
        for (int i = 0; i < nall; i++)
            if (all[i].pid > 0 && i != id) close(all[i].job_fd);
        worker_main(b, id, p[0], msg_wr);
    }
    close(p[0]);
    fcntl(p[1], F_SETFD, FD_CLOEXEC);
    w->pid = pid, w->job_fd = p[1], w->busy_with = -1, w->frames_now = 0;
    return 0;
}

static void free_inputs(batch *b) {
    for (int i = 0; i < b->n; i++) free(b->in[i].arg), free(b->in[i].path), free(b->in[i].key);
    free(b->in);
    b->in = NULL, b->n = b->cap = 0;
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...) {
    char line[2400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    progress_note(line);
}

static void show(tally *t, double t0, worker *ws, int nw) {
    long live = t->frames;
    for (int i = 0; i < nw; i++) live += ws[i].frames_now;
    double el = now_s() - t0;
    char info[96];
    snprintf(info, sizeof info, "%ld frames, %.0f frames/s", live, el > 0 ? live / el : 0);
    progress_info(info);
    progress_update(t->done);
}

int cmd_batch(int argc, char **argv) {
    const char *manifest = NULL, *outdir = NULL, *shard = NULL, *model = NULL, *cascade = NULL;
    int jobs = 0, threads = 1, every = 1, max_frames = 0;
    float smooth = -1;
    bool annotate = false, plot = false, force = false, quiet = false, list = false;
    const cli_opt opts[] = {
        {"outdir", 'o', "DIR", "output folder (created; required)", .out_str = &outdir},
        {"manifest", 0, "FILE", "inputs, one path a line (NUL-separated also; relative to FILE's folder; - = stdin)",
         .out_str = &manifest},
        {"jobs", 'j', "N", "worker processes (default: one per core)", .out_int = &jobs},
        {"shard", 0, "K/N|slurm", "take the K-th of N stable parts of the inputs (slurm: from the array task)",
         .out_str = &shard},
        {"annotate", 0, NULL, "also write the annotated MP4 (a JPEG for a photo)", .out_flag = &annotate},
        {"plot", 0, NULL, "also write the timeline PNG of each video", .out_flag = &plot},
        {"force", 'f', NULL, "redo inputs that are already done", .out_flag = &force},
        {"every", 0, "N", "full face detection every N frames, tracking in between (default 1)", .out_int = &every},
        {"smooth", 0, "A", "smoothing over time, 0..0.99 (default 0.6; 0 = off)", .out_float = &smooth},
        {"model", 'm', "M", "model name or .emo path (default ferplus)", .out_str = &model},
        {"cascade", 0, "C", "face detector cascade (name or path)", .out_str = &cascade},
        {"threads", 't', "N", "threads per worker (default 1: jobs scale better than threads)", .out_int = &threads},
        {"frames", 0, "N", "at most N frames of each video", .out_int = &max_frames},
        {"list", 0, NULL, "print this shard's inputs and their output names, and stop", .out_flag = &list},
        {"quiet", 'q', NULL, "no progress display (the last line, the totals, stays)", .out_flag = &quiet},
        {0},
    };
    const char *usage = "[INPUT...] [--manifest FILE] --outdir DIR [--jobs N] [--shard K/N|slurm] [--annotate] [--plot]";
    int npos, r = cli_parse(argc, argv, opts, usage,
                            "Analyses many videos and photos: for each, DIR/NAME.csv (per-frame rows, as emo video\n"
                            "--csv) and DIR/NAME.json (summary), NAME derived from the input's path. Inputs already\n"
                            "done with the same settings are skipped, so a killed batch resumes where it stopped.\n"
                            "Exit status 1 if any input failed (all are recorded); `emo report DIR` merges the results.",
                            &npos);
    if (r) return r == 1 ? 0 : r;
    if (!outdir || (npos == 0 && !manifest)) {
        if (!outdir) fprintf(stderr, "emo batch: --outdir is required\n");
        else fprintf(stderr, "emo batch: no inputs: give files, globs or --manifest\n");
        cli_usage(stderr, "batch", opts, usage, NULL);
        return 2;
    }
    if (jobs < 0 || threads < 0 || every < 1 || max_frames < 0) {
        fprintf(stderr, "emo batch: --jobs, --threads, --frames must be >= 0 and --every >= 1\n");
        return 2;
    }
    int shard_k = 1, shard_n = 1;
    if (shard && parse_shard(shard, &shard_k, &shard_n)) return 2;
    if (jobs == 0) jobs = (int)CLI_MAX(1, sysconf(_SC_NPROCESSORS_ONLN));

    batch b = {.outdir = outdir, .annotate = annotate, .plot = plot, .force = force, .quiet = quiet, .max_frames = max_frames};
    b.pp = results_pipeline_params(model, cascade, every, threads, smooth);
    char model_path[PATH_MAX], model_real[PATH_MAX];
    if (emo_default_model_path(model, model_path, sizeof model_path) != EMO_OK)
        return cli_error("batch", "cannot find the model");
    struct stat mst;
    if (!realpath(model_path, model_real) || stat(model_real, &mst) != 0) snprintf(model_real, sizeof model_real, "%s", model_path);
    snprintf(b.settings, sizeof b.settings,
             "model=%s model_size=%lld model_mtime=%lld cascade=%s every=%d smooth=%.3f precision=%d frames=%d "
             "annotate=%d plot=%d",
             model_real, (long long)mst.st_size, (long long)mst.st_mtim.tv_sec, cascade ? cascade : "default", every,
             b.pp.smooth, (int)b.pp.precision, max_frames, annotate, plot);

    for (int i = 1; i <= npos; i++) add_arg(&b, argv[i]);
    if (manifest && read_manifest(&b, manifest)) {
        free_inputs(&b);
        return 1;
    }
    int listed = b.n;
    dedupe(&b, quiet);
    /* this shard's part, in list order */
    int o = 0;
    for (int i = 0; i < b.n; i++) {
        if ((int)(b.in[i].hash % (uint64_t)shard_n) == shard_k - 1) b.in[o++] = b.in[i];
        else free(b.in[i].arg), free(b.in[i].path), free(b.in[i].key);
    }
    b.n = o;
    if (list) {
        for (int i = 0; i < b.n; i++) {
            printf("%s\t", b.in[i].stem);
            json_print_str(stdout, b.in[i].key);
            putchar('\n');
        }
        free_inputs(&b);
        return 0;
    }

    char locks[PATH_MAX + 16];
    snprintf(locks, sizeof locks, "%s/.locks", outdir);
    if ((mkdir(outdir, 0755) != 0 && errno != EEXIST) || (mkdir(locks, 0755) != 0 && errno != EEXIST)) {
        fprintf(stderr, "emo batch: cannot create %s: %s\n", errno == EEXIST ? outdir : locks, strerror(errno));
        free_inputs(&b);
        return 1;
    }
    struct stat ost;
    if (stat(outdir, &ost) != 0 || !S_ISDIR(ost.st_mode) || access(outdir, W_OK) != 0) {
        fprintf(stderr, "emo batch: %s is not a folder this user can write\n", outdir);
        free_inputs(&b);
        return 1;
    }

    /* What is left to do (checked again under each input's lock). */
    int *todo = malloc(sizeof *todo * (size_t)(b.n ? b.n : 1)), ntodo = 0;
    if (!todo) return cli_error("batch", "out of memory");
    tally t = {0};
    for (int i = 0; i < b.n; i++) {
        if (!force && is_done(&b, &b.in[i])) t.skipped++, t.done++;
        else todo[ntodo++] = i;
    }
    if (!quiet) {
        char sh[48] = "";
        if (shard_n > 1) snprintf(sh, sizeof sh, " (shard %d/%d of %d listed)", shard_k, shard_n, listed);
        fprintf(stderr, "emo batch: %d inputs%s, %d already done, %d to analyse with %d job%s\n", b.n, sh, t.skipped,
                ntodo, CLI_MIN(jobs, CLI_MAX(ntodo, 1)), CLI_MIN(jobs, CLI_MAX(ntodo, 1)) == 1 ? "" : "s");
    }

    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    signal(SIGPIPE, SIG_IGN);
    int nw = CLI_MIN(jobs, ntodo), mp[2] = {-1, -1};
    worker *ws = calloc((size_t)(nw ? nw : 1), sizeof *ws);
    int *busy = malloc(sizeof *busy * (size_t)(ntodo ? ntodo : 1)), nbusy = 0, next = 0, wait_next = 0;
    char **failures = calloc((size_t)(b.n ? b.n : 1), sizeof *failures);
    int *failed_idx = malloc(sizeof *failed_idx * (size_t)(b.n ? b.n : 1));
    if (!ws || !busy || !failures || !failed_idx || (nw > 0 && pipe(mp) != 0)) return cli_error("batch", "out of memory");
    if (mp[0] >= 0) fcntl(mp[0], F_SETFD, FD_CLOEXEC), fcntl(mp[1], F_SETFD, FD_CLOEXEC);
    for (int i = 0; i < nw; i++) ws[i].pid = -1;
    for (int i = 0; i < nw; i++)
        if (spawn(&b, &ws[i], i, mp[0], mp[1], ws, nw) != 0) {
            fprintf(stderr, "emo batch: cannot start a worker: %s\n", strerror(errno));
            stop_requested = 1;
            break;
        }
    double t0 = now_s();
    if (!quiet) {
        progress_start(b.n, "batch");
        progress_update(t.done);
    }
    bool said_busy = false, forwarded = false;
    for (;;) {
        /* hand out work to idle workers */
        bool can_dispatch = !stop_requested && !t.disk_full && !t.fatal;
        for (int i = 0; i < nw && can_dispatch; i++) {
            if (ws[i].pid <= 0 || ws[i].busy_with >= 0) continue;
            job jb = {-1, 0};
            if (next < ntodo) jb.index = todo[next++];
            else if (wait_next < nbusy) jb.index = busy[wait_next++], jb.wait = 1;
            else break;
            if (jb.wait && !said_busy && !quiet) {
                note("emo batch: %d input%s held by another emo batch writing to %s: waiting for it", nbusy - wait_next + 1,
                     nbusy - wait_next + 1 == 1 ? " is" : "s are", outdir);
                said_busy = true;
            }
            if (write(ws[i].job_fd, &jb, sizeof jb) != (ssize_t)sizeof jb) {
                if (jb.wait) wait_next--;
                else next--;
                continue;
            }
            ws[i].busy_with = jb.index;
        }
        int alive = 0, working = 0;
        for (int i = 0; i < nw; i++) alive += ws[i].pid > 0, working += ws[i].pid > 0 && ws[i].busy_with >= 0;
        if (alive == 0 || working == 0) break;
        if (stop_requested && !forwarded) {
            for (int i = 0; i < nw; i++)
                if (ws[i].pid > 0) kill(ws[i].pid, SIGTERM);
            forwarded = true;
        }
        struct pollfd pf = {.fd = mp[0], .events = POLLIN};
        int pr = poll(&pf, 1, 500);
        if (pr > 0) {
            msg m;
            size_t got = 0;
            while (got < sizeof m) {
                ssize_t g = read(mp[0], (char *)&m + got, sizeof m - got);
                if (g < 0 && errno == EINTR) continue;
                if (g <= 0) break;
                got += (size_t)g;
            }
            if (got == sizeof m && m.worker >= 0 && m.worker < nw) {
                worker *w = &ws[m.worker];
                const input *in = m.index >= 0 && m.index < b.n ? &b.in[m.index] : NULL;
                if (m.kind == MSG_FRAMES) {
                    w->frames_now = m.frames;
                } else if (m.kind == MSG_FATAL) {
                    t.fatal = true;
                    snprintf(t.fatal_text, sizeof t.fatal_text, "%s", m.text);
                } else if (in) {
                    w->busy_with = -1, w->frames_now = 0;
                    t.frames += m.frames, t.video_s += m.video_s;
                    switch (m.result) {
                    case RES_OK: t.analysed++, t.done++; break;
                    case RES_SKIPPED: t.skipped++, t.done++; break;
                    case RES_BUSY: busy[nbusy++] = m.index; break;
                    case RES_FAILED:
                        t.failed++, t.done++;
                        failed_idx[t.failed - 1] = m.index;
                        failures[t.failed - 1] = xstrdup(m.text);
                        note("emo batch: %s: %s", in->arg, m.text);
                        break;
                    case RES_DISKFULL:
                        if (!t.disk_full) note("emo batch: %s: %s", in->arg, m.text);
                        t.disk_full = true;
                        break;
                    default: break; /* interrupted: not done, rerun does it */
                    }
                }
            }
        }
        if (!quiet) show(&t, t0, ws, nw);
        /* a worker that died: its input is recorded as failed, another takes its place */
        for (int i = 0; i < nw; i++) {
            int st;
            if (ws[i].pid <= 0 || waitpid(ws[i].pid, &st, WNOHANG) != ws[i].pid) continue;
            int was = ws[i].busy_with;
            close(ws[i].job_fd);
            ws[i].pid = -1;
            if (was >= 0 && !stop_requested && WIFSIGNALED(st)) {
                char why[200];
                snprintf(why, sizeof why, "the worker analysing it died (signal %d, %s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
                record_failure(&b, &b.in[was], why);
                t.failed++, t.done++;
                failed_idx[t.failed - 1] = was;
                failures[t.failed - 1] = xstrdup(why);
                note("emo batch: %s: %s", b.in[was].arg, why);
            }
            if (!stop_requested && !t.fatal && !t.disk_full && spawn(&b, &ws[i], i, mp[0], mp[1], ws, nw) != 0) ws[i].pid = -1;
        }
    }
    /* no more work: let the workers go and wait for them */
    for (int i = 0; i < nw; i++)
        if (ws[i].pid > 0) close(ws[i].job_fd);
    for (int i = 0; i < nw; i++)
        if (ws[i].pid > 0) {
            int st;
            while (waitpid(ws[i].pid, &st, 0) < 0 && errno == EINTR) {}
        }
    if (mp[0] >= 0) close(mp[0]), close(mp[1]);
    if (!quiet) progress_end();
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);

    double el = now_s() - t0;
    int not_done = b.n - t.done;
    int status = 0;
    if (t.fatal) {
        fprintf(stderr, "emo batch: %s\n", t.fatal_text);
        status = 1;
    }
    {
        fprintf(stderr, "emo batch: %d inputs: %d analysed, %d skipped (done before), %d failed", b.n, t.analysed, t.skipped,
                t.failed);
        if (not_done) fprintf(stderr, ", %d not done", not_done);
        fprintf(stderr, "; %.2f s, %.2f files/s, %ld frames, %.1f frames/s, %.1f s of video = %.1fx real time\n", el,
                el > 0 ? t.analysed / el : 0, t.frames, el > 0 ? t.frames / el : 0, t.video_s, el > 0 ? t.video_s / el : 0);
    }
    for (int i = 0; i < t.failed; i++) {
        fprintf(stderr, "emo batch: failed: %s: %s\n", b.in[failed_idx[i]].arg, failures[i]);
        free(failures[i]);
    }
    if (t.disk_full) {
        fprintf(stderr, "emo batch: %s is full: stopped with %d inputs not done (finished results are intact); "
                        "free some space and run the same command again\n", outdir, not_done);
        status = 1;
    } else if (stop_requested) {
        fprintf(stderr, "emo batch: interrupted with %d inputs not done; run the same command again to go on\n", not_done);
        status = 130;
    }
    if (t.failed) status = status ? status : 1;
    else if (not_done && !status) status = 1;
    free_inputs(&b);
    free(todo), free(ws), free(busy), free(failures), free(failed_idx);
    return status;
}
