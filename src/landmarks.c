/* landmarks.c — facial landmarks with an ensemble of regression trees
 * (Kazemi & Sullivan 2014), read from dlib's shape_predictor files
 * (Debian libdlib-data: shape_predictor_68_face_landmarks.dat) and run the
 * way dlib 19's shape_predictor::operator() runs them, so the same grey
 * pixels and box give the same points (tests/ref/landmark_ref.cpp).
 *
 * FILE FORMAT (dlib serialize(), all little endian):
 *   int  : a control byte (bit 7: negative, low 4 bits: n) then n bytes of
 *          the magnitude, least significant first
 *   float: int64 mantissa, int16 exponent; value = mantissa * 2^exponent,
 *          exponent 32000/32001/32002 = +inf/-inf/NaN
 *   column vector of floats: int -rows, int -cols (older files: positive),
 *          then rows*cols floats
 *   std::vector: int count, then the elements
 *   shape_predictor: int version (1), initial_shape (2P floats, x0 y0 x1 ...
 *          in box-normalised units: (0,0) = top-left, (1,1) = bottom-right),
 *          forests (levels x trees x {splits {idx1, idx2, thresh}, leaf
 *          vectors of 2P floats}), anchor_idx (levels x features x point
 *          index), deltas (levels x features x {x, y} floats).
 *
 * The reader walks the bytes twice: the first pass checks every count
 * against the bytes left and the limits below and every index against what
 * it indexes, and sums up the sizes, without allocating; the second pass
 * fills the arrays allocated from those sums.
 *
 * EXACTNESS. dlib adds the tree outputs in tree order in float and rounds
 * feature pixel positions with floor(x + 0.5): the same order and rounding
 * are kept here, and this file is compiled with -ffp-contract=off (Makefile)
 * so that no multiply-add is fused where dlib's x86-64 build rounds twice. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Limits of this reader (the 68-point model: 68 points, 15 levels of 500
 * trees of depth 4, 400 feature pixels per level, 99.7 MB). */
#define MAX_FILE ((size_t)1 << 30)
#define MAX_POINTS 256
#define MAX_LEVELS 64
#define MAX_TREES 8192     /* per level */
#define MAX_FEATURES 4096  /* per level */
#define MAX_SPLITS 255     /* per tree: depth 8 */

typedef struct split {
    uint16_t i1, i2;
    float thresh;
} split;

struct emo_landmarker {
    int points;                /* P */
    int levels;                /* L */
    int nsplit, nleaf;         /* per tree, the same for every tree */
    int ntrees[MAX_LEVELS];    /* trees of each level */
    int nfeat[MAX_LEVELS];     /* feature pixels of each level */
    size_t tree0[MAX_LEVELS];  /* first tree of each level */
    size_t feat0[MAX_LEVELS];  /* first feature pixel of each level */
    float *initial;            /* (2P) mean shape, box-normalised */
    uint16_t *anchor;          /* (features in all) point each feature pixel hangs on */
    float *delta;              /* (features in all, 2) offset from that point, normalised */
    split *splits;             /* (trees in all, nsplit) */
    float *leaves;             /* (trees in all, nleaf, 2P) shape increments */
    size_t bytes;              /* memory held, for emo_landmarker_info */
    /* Shared by every open of the same file (see emo_landmarker_open). */
    int refs;
    char path[1024];
    struct emo_landmarker *next;
};

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct reader {
    const uint8_t *base, *p, *end;
    const char *name;
} reader;

static int bad(reader *r, const char *what, const char *problem) {
    return emo_fail(EMO_EFORMAT, "%s: byte %zu: %s: %s", r->name, (size_t)(r->p - r->base), what, problem);
}

/* One dlib integer of at most maxbytes magnitude bytes. */
static int read_int(reader *r, int maxbytes, bool sign_ok, int64_t *out, const char *what) {
    *out = 0;
    if (r->p >= r->end) return bad(r, what, "file ends early (truncated)");
    unsigned c = *r->p;
    int n = c & 0x0F;
    bool neg = c & 0x80;
    if (c & 0x70) return bad(r, what, "not a dlib binary integer (an old text-format file?)");
    if (n > maxbytes) return bad(r, what, "integer wider than its type");
    if (neg && !sign_ok) return bad(r, what, "negative count or index");
    if (r->end - r->p < 1 + n) return bad(r, what, "file ends early (truncated)");
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)r->p[1 + i] << (8 * i);
    r->p += 1 + n;
    if (v > (uint64_t)INT64_MAX) return bad(r, what, "integer out of range");
    *out = neg ? -(int64_t)v : (int64_t)v;
    return EMO_OK;
}

/* A count of elements that take at least min_bytes each: at most max, and
 * no more than the bytes left can hold (so a count claiming gigabytes fails
 * here, before anything is allocated). */
static int read_count(reader *r, int64_t max, size_t min_bytes, int64_t *out, const char *what) {
    int s = read_int(r, 8, false, out, what);
    if (s) return s;
    if (*out > max) {
        char m[96];
        snprintf(m, sizeof m, "count %lld above this reader's limit %lld", (long long)*out, (long long)max);
        return bad(r, what, m);
    }
    if ((uint64_t)*out > (uint64_t)(r->end - r->p) / min_bytes) {
        char m[96];
        snprintf(m, sizeof m, "count %lld needs more bytes than the file has left", (long long)*out);
        return bad(r, what, m);
    }
    return EMO_OK;
}

static int read_float(reader *r, float *out, const char *what) {
    int64_t m, e;
    int s = read_int(r, 8, true, &m, what);
    if (!s) s = read_int(r, 2, true, &e, what);
    if (s) return s;
    if (e >= 32000) return bad(r, what, e == 32002 ? "NaN" : "infinite value");
    long double v = ldexpl((long double)m, (int)e);
    float f = (float)v;
    if (!isfinite(f)) return bad(r, what, "value outside float range");
    *out = f;
    return EMO_OK;
}

/* A column vector of n floats (dlib matrix<float,0,1>). */
static int read_vector(reader *r, int n, float *out, const char *what) {
    int64_t nr, nc;
    int s = read_int(r, 8, true, &nr, what);
    if (!s) s = read_int(r, 8, true, &nc, what);
    if (s) return s;
    if (nr < 0) nr = -nr;
    if (nc < 0) nc = -nc;
    if (nc != 1 || nr != n) {
        char m[96];
        snprintf(m, sizeof m, "a %lldx%lld matrix where a %dx1 vector belongs", (long long)nr, (long long)nc, n);
        return bad(r, what, m);
    }
    float tmp;
    for (int i = 0; i < n; i++)
        if ((s = read_float(r, out ? &out[i] : &tmp, what))) return s;
    return EMO_OK;
}

/* Both passes: m->... arrays are NULL in the first (only counted and
 * checked), allocated in the second. */
static int parse(reader *r, emo_landmarker *m, bool fill) {
    int64_t v, n;
    int s;
    if ((s = read_int(r, 4, true, &v, "version"))) return s;
    if (v != 1) {
        char msg[64];
        snprintf(msg, sizeof msg, "version %lld, expected 1 (dlib shape_predictor)", (long long)v);
        return bad(r, "header", msg);
    }
    /* initial shape: its row count sets P */
    {
        reader save = *r;
        int64_t nr, nc;
        if ((s = read_int(r, 8, true, &nr, "initial shape")) || (s = read_int(r, 8, true, &nc, "initial shape")))
            return s;
        if (nr < 0) nr = -nr;
        if (nr < 2 || nr % 2 || nr > 2 * MAX_POINTS) {
            char msg[96];
            snprintf(msg, sizeof msg, "%lld coordinates (need an even number, 2..%d)", (long long)nr, 2 * MAX_POINTS);
            return bad(r, "initial shape", msg);
        }
        if (!fill) m->points = (int)(nr / 2);
        *r = save;
    }
    int P2 = 2 * m->points;
    if ((s = read_vector(r, P2, fill ? m->initial : NULL, "initial shape"))) return s;

    int64_t L;
    if ((s = read_count(r, MAX_LEVELS, 1, &L, "number of cascade levels"))) return s;
    if (L < 1) return bad(r, "forests", "no cascade level");
    if (!fill) m->levels = (int)L;
    int maxidx[MAX_LEVELS] = {0};
    size_t tree = 0;
    for (int l = 0; l < L; l++) {
        int64_t T;
        if ((s = read_count(r, MAX_TREES, 2, &T, "trees of a level"))) return s;
        if (T < 1) return bad(r, "forests", "a level without trees");
        if (!fill) {
            m->ntrees[l] = (int)T;
            m->tree0[l] = tree;
        }
        for (int t = 0; t < T; t++, tree++) {
            int64_t ns, nl;
            if ((s = read_count(r, MAX_SPLITS, 4, &ns, "splits of a tree"))) return s;
            if (!fill && tree == 0) m->nsplit = (int)ns;
            if (ns != m->nsplit) return bad(r, "tree", "trees of different depths (not supported)");
            for (int k = 0; k < ns; k++) {
                int64_t i1, i2;
                float th;
                if ((s = read_int(r, 8, false, &i1, "split index")) || (s = read_int(r, 8, false, &i2, "split index")) ||
                    (s = read_float(r, &th, "split threshold")))
                    return s;
                if (i1 >= MAX_FEATURES || i2 >= MAX_FEATURES) return bad(r, "split index", "above the feature limit");
                maxidx[l] = EMO_MAX(maxidx[l], (int)EMO_MAX(i1, i2));
                if (fill) m->splits[tree * ns + k] = (split){(uint16_t)i1, (uint16_t)i2, th};
            }
            if ((s = read_count(r, MAX_SPLITS + 1, 2, &nl, "leaves of a tree"))) return s;
            if (nl != ns + 1) return bad(r, "tree", "leaf count is not splits + 1");
            if (!fill) m->nleaf = (int)nl;
            for (int k = 0; k < nl; k++)
                if ((s = read_vector(r, P2, fill ? m->leaves + (tree * nl + k) * P2 : NULL, "leaf value"))) return s;
        }
    }
    if ((s = read_count(r, MAX_LEVELS, 1, &n, "anchor levels"))) return s;
    if (n != L) return bad(r, "anchor_idx", "level count differs from the forests'");
    size_t feat = 0;
    for (int l = 0; l < L; l++) {
        int64_t F;
        if ((s = read_count(r, MAX_FEATURES, 1, &F, "feature pixels of a level"))) return s;
        if (maxidx[l] >= F) {
            char msg[96];
            snprintf(msg, sizeof msg, "level %d: a split uses feature %d of %lld", l, maxidx[l], (long long)F);
            return bad(r, "split index", msg);
        }
        if (!fill) {
            m->nfeat[l] = (int)F;
            m->feat0[l] = feat;
        }
        for (int k = 0; k < F; k++) {
            int64_t a;
            if ((s = read_int(r, 8, false, &a, "anchor index"))) return s;
            if (a >= m->points) return bad(r, "anchor index", "not a point of the shape");
            if (fill) m->anchor[feat + k] = (uint16_t)a;
        }
        feat += (size_t)F;
    }
    if ((s = read_count(r, MAX_LEVELS, 1, &n, "delta levels"))) return s;
    if (n != L) return bad(r, "deltas", "level count differs from the forests'");
    for (int l = 0; l < L; l++) {
        int64_t F;
        if ((s = read_count(r, MAX_FEATURES, 4, &F, "deltas of a level"))) return s;
        if (F != m->nfeat[l]) return bad(r, "deltas", "count differs from the level's anchors");
        for (int k = 0; k < F; k++) {
            float d[2];
            if ((s = read_float(r, &d[0], "delta")) || (s = read_float(r, &d[1], "delta"))) return s;
            if (fill) memcpy(m->delta + (m->feat0[l] + k) * 2, d, sizeof d);
        }
    }
    if (r->p != r->end) return bad(r, "end", "bytes after the model");
    return EMO_OK;
}

static void landmarker_free(emo_landmarker *m) {
    if (!m) return;
    free(m->initial);
    free(m->anchor);
    free(m->delta);
    free(m->splits);
    free(m->leaves);
    free(m);
}

static int alloc_array(void **p, size_t n, size_t size, size_t *total) {
    size_t b;
    if (!emo_mul_size(n, size, &b)) return emo_fail(EMO_ELIMIT, "landmark model: size overflow");
    *p = malloc(b ? b : 1);
    if (!*p) return emo_fail(EMO_ENOMEM, "landmark model: out of memory (%zu bytes)", b);
    *total += b;
    return EMO_OK;
}

int emo_landmarker_parse(emo_landmarker **out, const void *bytes, size_t size, const char *name) {
    if (!out) return emo_fail(EMO_EINVAL, "emo_landmarker_parse: no output");
    *out = NULL;
    if (!name) name = "landmark model";
    if (!bytes || size == 0) return emo_fail(EMO_EFORMAT, "%s: empty file", name);
    if (size > MAX_FILE) return emo_fail(EMO_ELIMIT, "%s: %zu bytes, above the %zu limit", name, size, MAX_FILE);
    emo_landmarker *m = calloc(1, sizeof *m);
    if (!m) return emo_fail(EMO_ENOMEM, "out of memory");
    reader r = {bytes, bytes, (const uint8_t *)bytes + size, name};
    int s = parse(&r, m, false);
    size_t trees = m->levels ? m->tree0[m->levels - 1] + m->ntrees[m->levels - 1] : 0;
    size_t feats = m->levels ? m->feat0[m->levels - 1] + m->nfeat[m->levels - 1] : 0;
    size_t nleaves = 0;
    if (!s && !emo_mul_size(trees, (size_t)m->nleaf * 2 * m->points, &nleaves))
        s = emo_fail(EMO_ELIMIT, "%s: size overflow", name);
    m->bytes = sizeof *m;
    if (!s) s = alloc_array((void **)&m->initial, 2 * m->points, sizeof(float), &m->bytes);
    if (!s) s = alloc_array((void **)&m->anchor, feats, sizeof(uint16_t), &m->bytes);
    if (!s) s = alloc_array((void **)&m->delta, feats * 2, sizeof(float), &m->bytes);
    if (!s) s = alloc_array((void **)&m->splits, trees * m->nsplit, sizeof(split), &m->bytes);
    if (!s) s = alloc_array((void **)&m->leaves, nleaves, sizeof(float), &m->bytes);
    if (!s) {
        r.p = r.base;
        s = parse(&r, m, true);
    }
    if (s) {
        landmarker_free(m);
        return s;
    }
    m->refs = 1;
    *out = m;
    return EMO_OK;
}

/* Opens of the same path share one read-only model (the 68-point one holds
 * 65 MB of leaves): a list of open models under a lock, with counts. */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static emo_landmarker *open_list;

static int load_file(emo_landmarker **out, const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return emo_fail(errno == ENOENT ? EMO_ENOTFOUND : EMO_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return emo_fail(EMO_EIO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > MAX_FILE) {
        close(fd);
        return emo_fail(EMO_ELIMIT, "%s: %lld bytes, above the %zu limit", path, (long long)st.st_size, MAX_FILE);
    }
    if (st.st_size == 0) {
        close(fd);
        return emo_fail(EMO_EFORMAT, "%s: empty file", path);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return emo_fail(EMO_EIO, "%s: mmap: %s", path, strerror(errno));
    int s = emo_landmarker_parse(out, map, (size_t)st.st_size, path);
    munmap(map, (size_t)st.st_size);
    return s;
}

int emo_landmarker_open(emo_landmarker **out, const char *path) {
    if (!out) return emo_fail(EMO_EINVAL, "emo_landmarker_open: no output");
    *out = NULL;
    if (!path || !*path) {
        path = getenv("EMO_LANDMARK_MODEL");
        if (!path || !*path) path = EMO_LANDMARK_MODEL;
    }
    if (strlen(path) >= sizeof((emo_landmarker *)0)->path)
        return emo_fail(EMO_EINVAL, "landmark model path too long");
    pthread_mutex_lock(&open_lock);
    for (emo_landmarker *m = open_list; m; m = m->next)
        if (!strcmp(m->path, path)) {
            m->refs++;
            *out = m;
            pthread_mutex_unlock(&open_lock);
            return EMO_OK;
        }
    int s = load_file(out, path);
    if (!s) {
        snprintf((*out)->path, sizeof (*out)->path, "%s", path);
        (*out)->next = open_list;
        open_list = *out;
    }
    pthread_mutex_unlock(&open_lock);
    return s;
}

void emo_landmarker_close(emo_landmarker *m) {
    if (!m) return;
    pthread_mutex_lock(&open_lock);
    bool last = --m->refs == 0;
    if (last)
        for (emo_landmarker **pp = &open_list; *pp; pp = &(*pp)->next)
            if (*pp == m) {
                *pp = m->next;
                break;
            }
    pthread_mutex_unlock(&open_lock);
    if (last) landmarker_free(m);
}

int emo_landmarker_points(const emo_landmarker *m) { return m ? m->points : 0; }

void emo_landmarker_info(const emo_landmarker *m, emo_landmarker_stats *st) {
    memset(st, 0, sizeof *st);
    if (!m) return;
    st->points = m->points;
    st->levels = m->levels;
    st->trees = (int)(m->tree0[m->levels - 1] + m->ntrees[m->levels - 1]);
    st->depth = 0;
    for (int n = m->nleaf; n > 1; n >>= 1) st->depth++;
    st->bytes = m->bytes;
}

/* ------------------------------------------------------------------------ */
/* Prediction                                                               */
/* ------------------------------------------------------------------------ */

/* The similarity transform (scale and rotation, as [[a, -b], [b, a]]) that
 * best maps shape `from` onto `to` in least squares (Umeyama 1991). In 2-D
 * the rotation needs no SVD: it is the angle of (c10 - c01, c00 + c11) of
 * the cross-covariance, and scale * cos, scale * sin are those two terms
 * over the variance of `from`. dlib computes it in double through a 2x2
 * SVD; the float results agree. */
static void similarity(const float *from, const float *to, int P, float *a, float *b) {
    double mfx = 0, mfy = 0, mtx = 0, mty = 0;
    for (int i = 0; i < P; i++) mfx += from[2 * i], mfy += from[2 * i + 1], mtx += to[2 * i], mty += to[2 * i + 1];
    mfx /= P, mfy /= P, mtx /= P, mty /= P;
    double var = 0, c00 = 0, c01 = 0, c10 = 0, c11 = 0;
    for (int i = 0; i < P; i++) {
        double fx = from[2 * i] - mfx, fy = from[2 * i + 1] - mfy;
        double tx = to[2 * i] - mtx, ty = to[2 * i + 1] - mty;
        var += fx * fx + fy * fy;
        c00 += tx * fx, c01 += tx * fy, c10 += ty * fx, c11 += ty * fy;
    }
    if (var == 0 || P == 1) { /* dlib: identity for one point */
        *a = 1, *b = 0;
        return;
    }
    *a = (float)((c00 + c11) / var);
    *b = (float)((c10 - c01) / var);
}

int emo_landmarks(const emo_landmarker *m, const emo_image *grey, emo_rect box, float *xy) {
    if (!m || !grey || !xy) return emo_fail(EMO_EINVAL, "emo_landmarks: missing argument");
    if (grey->channels != 1 || !grey->data || grey->width <= 0 || grey->height <= 0)
        return emo_fail(EMO_EINVAL, "emo_landmarks: needs a non-empty grey image (got %d channels, %dx%d)",
                        grey->channels, grey->width, grey->height);
    if (box.w < 1 || box.h < 1 || box.w > 4 * EMO_MAX_SIDE || box.h > 4 * EMO_MAX_SIDE)
        return emo_fail(EMO_EINVAL, "emo_landmarks: box %dx%d is empty or too large", box.w, box.h);
    const int P = m->points, P2 = 2 * P;
    float shape[2 * MAX_POINTS], feat[MAX_FEATURES];
    const float *leaf[MAX_TREES];
    memcpy(shape, m->initial, sizeof(float) * P2);
    /* normalised (u, v) -> pixel: dlib's box runs from left to right =
     * left + w - 1, so u = 1 is the last pixel column of the box. */
    const double sx = box.w - 1, sy = box.h - 1, ox = box.x, oy = box.y;
    const int W = grey->width, H = grey->height;
    for (int l = 0; l < m->levels; l++) {
        float a, b;
        similarity(m->initial, shape, P, &a, &b);
        /* feat (F): the pixel under each feature point, moved with the shape */
        const int F = m->nfeat[l];
        const uint16_t *anc = m->anchor + m->feat0[l];
        const float *d = m->delta + m->feat0[l] * 2;
        for (int k = 0; k < F; k++) {
            float dx = d[2 * k], dy = d[2 * k + 1];
            float u = a * dx - b * dy, v = b * dx + a * dy;
            u += shape[2 * anc[k]];
            v += shape[2 * anc[k] + 1];
            double px = floor(sx * (double)u + ox + 0.5), py = floor(sy * (double)v + oy + 0.5);
            feat[k] = px >= 0 && px < W && py >= 0 && py < H ? grey->data[(size_t)py * grey->stride + (size_t)px] : 0.0f;
        }
        /* every tree of the level reads the same features: walk them all
         * first, then add their leaves in order while prefetching ahead */
        const int T = m->ntrees[l], ns = m->nsplit;
        const split *sp = m->splits + m->tree0[l] * ns;
        const float *lv = m->leaves + m->tree0[l] * (size_t)m->nleaf * P2;
        for (int t = 0; t < T; t++, sp += ns) {
            int i = 0;
            while (i < ns) i = 2 * i + 2 - (feat[sp[i].i1] - feat[sp[i].i2] > sp[i].thresh); /* left: 2i+1 */
            leaf[t] = lv + ((size_t)t * m->nleaf + (i - ns)) * P2;
        }
        enum { AHEAD = 8 }; /* trees: ~0.5 us of work hides a leaf's fetch */
        for (int t = 0; t < T; t++) {
            if (t + AHEAD < T)
                for (int c = 0; c < P2; c += 16) __builtin_prefetch(leaf[t + AHEAD] + c);
            const float *lf = leaf[t];
            for (int j = 0; j < P2; j++) shape[j] += lf[j];
        }
    }
    for (int i = 0; i < P; i++) {
        xy[2 * i] = (float)(sx * (double)shape[2 * i] + ox);
        xy[2 * i + 1] = (float)(sy * (double)shape[2 * i + 1] + oy);
    }
    return P;
}

/* The dlib model was trained on its HOG detector's boxes. Fitted on the
 * shared photos (tests/ref/make_landmark_refs.py: 30 faces both haar-alt2
 * and dlib found), a HOG box has the cascade box's centre moved down by
 * 0.091 of its side and a side of 0.945 of it (spread 0.05 and 0.07). */
emo_rect emo_landmark_box(emo_rect r) {
    float side = 0.945f * (float)r.w, cx = r.x + r.w * 0.5f, cy = r.y + r.h * 0.5f + 0.091f * (float)r.h;
    int s = EMO_MAX(1, (int)lrintf(side));
    return (emo_rect){(int)lrintf(cx - s * 0.5f), (int)lrintf(cy - s * 0.5f), s, s};
}

/* ------------------------------------------------------------------------ */
/* Head pose                                                                */
/* ------------------------------------------------------------------------ */

/* A generic head in millimetre-like units, x to the image's right, y down,
 * z towards the camera (the nose tip is the origin, the eyes lie behind
 * it). Indices in the 68-point layout. */
static const int pose_idx[6] = {30, 8, 36, 45, 48, 54};
static const double pose_3d[6][3] = {
    {0, 0, 0},          /* nose tip */
    {0, 330, -65},      /* chin */
    {-225, -170, -135}, /* outer corner of the eye on the image's left */
    {225, -170, -135},  /* outer corner of the other eye */
    {-150, 150, -125},  /* mouth corner, image left */
    {150, 150, -125},   /* mouth corner, image right */
};

/* Scaled orthographic fit: image point - mean = A (X - mean), A = s * the
 * first two rows of a rotation R. A is the least-squares 2x3 solution;
 * its rows are made orthonormal and the third row is their cross product;
 * R = Rz(roll) Ry(yaw) Rx(pitch). */
int emo_head_pose(const float *xy, float *roll, float *yaw, float *pitch) {
    if (!xy || !roll || !yaw || !pitch) return emo_fail(EMO_EINVAL, "emo_head_pose: missing argument");
    double mx[3] = {0}, mu[2] = {0};
    for (int i = 0; i < 6; i++) {
        for (int k = 0; k < 3; k++) mx[k] += pose_3d[i][k] / 6;
        for (int k = 0; k < 2; k++) mu[k] += xy[2 * pose_idx[i] + k] / 6.0;
    }
    double S[3][3] = {{0}}, B[2][3] = {{0}}; /* S = sum X X^T, B = sum u X^T */
    for (int i = 0; i < 6; i++) {
        double X[3], u[2];
        for (int k = 0; k < 3; k++) X[k] = pose_3d[i][k] - mx[k];
        for (int k = 0; k < 2; k++) u[k] = xy[2 * pose_idx[i] + k] - mu[k];
        if (!isfinite(u[0]) || !isfinite(u[1])) return emo_fail(EMO_ENUMERIC, "emo_head_pose: non-finite landmark");
        for (int a = 0; a < 3; a++) {
            for (int b = 0; b < 3; b++) S[a][b] += X[a] * X[b];
            B[0][a] += u[0] * X[a];
            B[1][a] += u[1] * X[a];
        }
    }
    /* inverse of the (fixed, well-conditioned) S by cofactors */
    double c[3][3];
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            int a1 = (a + 1) % 3, a2 = (a + 2) % 3, b1 = (b + 1) % 3, b2 = (b + 2) % 3;
            c[b][a] = S[a1][b1] * S[a2][b2] - S[a1][b2] * S[a2][b1];
        }
    double det = S[0][0] * c[0][0] + S[0][1] * c[1][0] + S[0][2] * c[2][0];
    double r[3][3];
    for (int k = 0; k < 2; k++)
        for (int b = 0; b < 3; b++) {
            r[k][b] = 0;
            for (int a = 0; a < 3; a++) r[k][b] += B[k][a] * c[a][b] / det;
        }
    double n0 = sqrt(r[0][0] * r[0][0] + r[0][1] * r[0][1] + r[0][2] * r[0][2]);
    if (!(n0 > 1e-12)) return emo_fail(EMO_ENUMERIC, "emo_head_pose: landmarks collapse to a point");
    for (int b = 0; b < 3; b++) r[0][b] /= n0;
    double d = r[0][0] * r[1][0] + r[0][1] * r[1][1] + r[0][2] * r[1][2];
    for (int b = 0; b < 3; b++) r[1][b] -= d * r[0][b];
    double n1 = sqrt(r[1][0] * r[1][0] + r[1][1] * r[1][1] + r[1][2] * r[1][2]);
    if (!(n1 > 1e-12)) return emo_fail(EMO_ENUMERIC, "emo_head_pose: landmarks lie on a line");
    for (int b = 0; b < 3; b++) r[1][b] /= n1;
    r[2][0] = r[0][1] * r[1][2] - r[0][2] * r[1][1];
    r[2][1] = r[0][2] * r[1][0] - r[0][0] * r[1][2];
    r[2][2] = r[0][0] * r[1][1] - r[0][1] * r[1][0];
    const double deg = 180.0 / 3.14159265358979323846;
    *yaw = (float)(asin(EMO_CLAMP(-r[2][0], -1.0, 1.0)) * deg);
    *pitch = (float)(atan2(r[2][1], r[2][2]) * deg);
    *roll = (float)(atan2(r[1][0], r[0][0]) * deg);
    return EMO_OK;
}
