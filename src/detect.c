/* detect.c — multi-scale cascade detection, reproducing OpenCV 4.6's
 * CascadeClassifier::detectMultiScale (CPU path) bit for bit:
 *
 *   scales     factor = 1, s, s^2, ... while the window fits; kept when the
 *              window (cvRound(win * (float)factor)) is within [min, max]
 *   per scale  the image resized to cvRound(W / scale) x cvRound(H / scale)
 *              with INTER_LINEAR_EXACT (8-bit fixed point), then its integral
 *              images: sum, squared sum (uint32, wrapping as OpenCV's int32),
 *              and the 45-degree tilted sum when the cascade needs it
 *   windows    every `step` pixels (step 2 below scale 2, else 1); Haar
 *              windows are normalised by 1 / (area * stddev) and windows with
 *              stddev <= 10 are rejected; a window that fails the first stage
 *              makes the scan skip the next one (OpenCV's x += step)
 *   stages     weak-tree sums accumulated in double from float leaves,
 *              features in float without fused multiply-add
 *   grouping   groupRectangles(minNeighbors, eps 0.2), then clipped
 *
 * Speed: the integral images of a batch of scales are built in parallel,
 * then rows of windows are scanned in parallel (OpenMP). Each row is
 * evaluated 16 windows at a time with AVX-512: scales scanned every 2nd
 * pixel keep their integral rows even columns first, then odd ones, so a
 * feature corner of 16 windows is one load in either case. LBP cascades
 * whose blocks sum below 2^16 use 16-bit integrals (modulo 2^16: block sums
 * stay exact) and 32 windows per vector. Windows OpenCV would skip are
 * dropped after stage 0, and a vector with one live window left hands it to
 * the plain evaluator. The plain C evaluator (and plain resize/integrals)
 * stays as the reference; emo_detector_force_scalar selects it and a test
 * keeps the two equal. All buffers live in the detector and only grow. */
#pragma GCC optimize("fp-contract=off")

#include "detect.h"

#include <math.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__) && defined(__AVX512DQ__)
#include <immintrin.h>
#define EMO_DETECT_AVX512 1
#endif

/* Haar stump compiled for the current integral stride. */
typedef struct haar_stump {
    int32_t ofs[3][4]; /* corner offsets from the window's top-left sum */
    float w[3];
    int nrects;
    float thr;
    double lr[2]; /* leaf values (floats, widened): left (feature < thr), right */
} haar_stump;

/* A feature node of a small tree (Haar) for the vector path. */
typedef struct lbp_stump {
    int32_t ofs[16];
    uint32_t subset[8];
    double lr[2]; /* leaf values: left (code in subset), right */
} lbp_stump;

typedef struct layout {
    int32_t nofs[4];     /* normalisation rect corners */
    int32_t (*fofs)[16]; /* per feature: corner offsets (Haar uses 12) */
    haar_stump *hs;      /* one per tree when every tree is a stump */
    lbp_stump *ls;
} layout;

typedef struct scale_info {
    float scale;
    int sw, sh;   /* resized image */
    int nx, ny;   /* window origins x in [0, nx), y in [0, ny) */
    int step;     /* 2 below scale 2, else 1; also the layout: lay[step - 1] */
    int ww, wh;   /* window size in image pixels */
    size_t base;  /* index of this scale's integral (0, 0) in the buffers */
    int state;    /* during a search: 0 not built, 1 being built, 2 ready */
} scale_info;

typedef struct task {
    int scale, y0, y1;
} task;

typedef struct thread_buf {
    void *resize;   /* resize scratch */
    size_t resize_cap;
    uint8_t *row;
    int64_t *tu, *tv; /* tilted-integral accumulators, W + H + 2 each */
    int32_t *pref;    /* one row's prefix sums, W + 1 */
    size_t pref_cap;
    size_t row_cap, t_cap;
    emo_rect *cand;
    int ncand, cand_cap;
    int failed;
} thread_buf;

struct emo_detector {
    emo_cascade c;
    char name[1024];
    int force_scalar;
    int lbp16;    /* LBP blocks small enough for 16-bit (wrapping) integrals */
    /* compiled for `stride`: lay[0] for scales scanned every pixel, lay[1]
     * for scales scanned every 2nd pixel, whose integral rows are stored
     * even columns first, then odd ones, so 16 windows 2 pixels apart read
     * 16 consecutive ints */
    int stride;
    layout lay[2];
    double area;                /* normalisation rect area, (w - 2) * (h - 2) */
    size_t toff;                /* tilted integral, from the sum buffer */
    /* per image */
    int32_t *ii;   /* sum (and tilted after toff) */
    uint32_t *sq;
    size_t ii_cap, sq_cap;
    scale_info *scales;
    int nscales, scales_cap;
    task *tasks;
    int ntasks, tasks_cap;
    thread_buf *tb;
    int ntb;
    emo_rect *cand;
    int ncand, cand_cap;
    int *scratch;
    int scratch_cap;
};

/* ---- parameters, open, close -------------------------------------------- */

emo_detect_params emo_detect_params_default(void) {
    emo_detect_params p = {1.1, 3, 30, 0, 0, {0, 0, 0, 0}};
    return p;
}

static const struct {
    const char *name, *file;
} short_names[] = {
    {"haar", "haarcascades/haarcascade_frontalface_default.xml"},
    {"haar-default", "haarcascades/haarcascade_frontalface_default.xml"},
    {"haar-alt", "haarcascades/haarcascade_frontalface_alt.xml"},
    {"haar-alt2", "haarcascades/haarcascade_frontalface_alt2.xml"},
    {"haar-tree", "haarcascades/haarcascade_frontalface_alt_tree.xml"},
    {"haar-alt-tree", "haarcascades/haarcascade_frontalface_alt_tree.xml"},
    {"lbp", "lbpcascades/lbpcascade_frontalface_improved.xml"},
    {"lbp-improved", "lbpcascades/lbpcascade_frontalface_improved.xml"},
    {"lbp-old", "lbpcascades/lbpcascade_frontalface.xml"},
};

static bool file_exists(const char *p) {
    FILE *f = fopen(p, "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* Resolves a short name to a path in buf; false if nothing matches. */
static bool resolve_name(const char *name, char *buf, size_t cap) {
    const char *dir = getenv("EMO_CASCADE_DIR");
    if (!dir || !*dir) dir = "/usr/share/opencv4";
    for (size_t i = 0; i < sizeof short_names / sizeof short_names[0]; i++)
        if (strcmp(name, short_names[i].name) == 0) {
            snprintf(buf, cap, "%s/%s", dir, short_names[i].file);
            return true;
        }
    const char *pat[] = {"%s/haarcascades/haarcascade_%s.xml", "%s/lbpcascades/lbpcascade_%s.xml",
                         "%s/haarcascades/%s.xml", "%s/lbpcascades/%s.xml", "%s/haarcascades/%s",
                         "%s/lbpcascades/%s"};
    for (size_t i = 0; i < sizeof pat / sizeof pat[0]; i++) {
        snprintf(buf, cap, pat[i], dir, name);
        if (file_exists(buf)) return true;
    }
    return false;
}

int emo_detector_open(emo_detector **out, const char *cascade) {
    if (!out) return emo_fail(EMO_EINVAL, "emo_detector_open: no output pointer");
    *out = NULL;
    if (!cascade || !*cascade) cascade = EMO_DETECT_DEFAULT_CASCADE;
    char path[1024];
    if (strchr(cascade, '/') || file_exists(cascade)) {
        snprintf(path, sizeof path, "%s", cascade);
    } else if (!resolve_name(cascade, path, sizeof path)) {
        return emo_fail(EMO_ENOTFOUND,
                        "cascade '%s': not a file and not a known name (haar, haar-alt, haar-alt2, haar-tree, lbp, "
                        "lbp-old, or NAME for haarcascade_NAME.xml / lbpcascade_NAME.xml)",
                        cascade);
    }
    emo_detector *d = calloc(1, sizeof *d);
    if (!d) return emo_fail(EMO_ENOMEM, "%s: out of memory", path);
    int s = emo_cascade_load(&d->c, path);
    if (s) {
        free(d);
        return s;
    }
    snprintf(d->name, sizeof d->name, "%s", path);
    const emo_cascade *c = &d->c;
    /* A block sum below 2^16 is exact from integrals kept modulo 2^16. */
    d->lbp16 = c->feature_type == EMO_FEATURE_LBP && c->max_nodes == 1;
    for (int f = 0; d->lbp16 && f < c->nfeatures; f++) d->lbp16 = c->lbp[f].w * c->lbp[f].h * 255 < 65536;
    d->area = (double)(c->win_w - 2) * (c->win_h - 2);
    for (int k = 0; k < 2; k++) {
        layout *L = &d->lay[k];
        L->fofs = calloc((size_t)c->nfeatures, sizeof *L->fofs);
        if (c->max_nodes == 1) {
            if (c->feature_type == EMO_FEATURE_HAAR) L->hs = calloc((size_t)c->ntrees, sizeof *L->hs);
            else L->ls = calloc((size_t)c->ntrees, sizeof *L->ls);
        }
        if (!L->fofs || (c->max_nodes == 1 && !L->hs && !L->ls)) {
            emo_detector_close(d);
            return emo_fail(EMO_ENOMEM, "%s: out of memory", path);
        }
    }
    *out = d;
    return EMO_OK;
}

void emo_detector_close(emo_detector *d) {
    if (!d) return;
    emo_cascade_free(&d->c);
    for (int k = 0; k < 2; k++) {
        free(d->lay[k].fofs);
        free(d->lay[k].hs);
        free(d->lay[k].ls);
    }
    free(d->ii);
    free(d->sq);
    free(d->scales);
    free(d->tasks);
    for (int i = 0; i < d->ntb; i++) {
        free(d->tb[i].resize);
        free(d->tb[i].row);
        free(d->tb[i].tu);
        free(d->tb[i].tv);
        free(d->tb[i].pref);
        free(d->tb[i].cand);
    }
    free(d->tb);
    free(d->cand);
    free(d->scratch);
    free(d);
}

void emo_detector_window(const emo_detector *d, int *w, int *h) {
    if (w) *w = d ? d->c.win_w : 0;
    if (h) *h = d ? d->c.win_h : 0;
}

void emo_detector_force_scalar(emo_detector *d, int on) {
    if (d) d->force_scalar = on;
}

int emo_detector_candidates(const emo_detector *d) { return d ? d->ncand : 0; }

/* Where column x of row y lives in an integral block: plain, or (planar)
 * even columns in the first half of the row and odd ones in the second. */
static inline int32_t cell(int planar, int stride, int x, int y) {
    return stride * y + (planar ? (x & 1) * (stride / 2) + (x >> 1) : x);
}

/* Offsets of every feature, in both layouts, for rows `stride` ints apart. */
static void compile(emo_detector *d, int stride) {
    const emo_cascade *c = &d->c;
    d->stride = stride;
    int nw = c->win_w - 2, nh = c->win_h - 2;
    for (int k = 0; k < 2; k++) {
        layout *L = &d->lay[k];
        L->nofs[0] = cell(k, stride, 1, 1);
        L->nofs[1] = cell(k, stride, 1 + nw, 1);
        L->nofs[2] = cell(k, stride, 1, 1 + nh);
        L->nofs[3] = cell(k, stride, 1 + nw, 1 + nh);
        for (int f = 0; f < c->nfeatures; f++) {
            int32_t *o = L->fofs[f];
            memset(o, 0, sizeof L->fofs[f]);
            if (c->feature_type == EMO_FEATURE_HAAR) {
                const emo_haar_feature *h = &c->haar[f];
                for (int r = 0; r < h->nrects; r++) {
                    int x = h->x[r], y = h->y[r], w = h->w[r], hh = h->h[r];
                    int32_t *q = o + 4 * r;
                    if (h->tilted) {
                        int32_t t = (int32_t)d->toff;
                        q[0] = t + cell(k, stride, x, y);
                        q[1] = t + cell(k, stride, x - hh, y + hh);
                        q[2] = t + cell(k, stride, x + w, y + w);
                        q[3] = t + cell(k, stride, x + w - hh, y + w + hh);
                    } else {
                        q[0] = cell(k, stride, x, y);
                        q[1] = cell(k, stride, x + w, y);
                        q[2] = cell(k, stride, x, y + hh);
                        q[3] = cell(k, stride, x + w, y + hh);
                    }
                }
            } else {
                const emo_lbp_feature *l = &c->lbp[f];
                for (int gy = 0; gy < 4; gy++)
                    for (int gx = 0; gx < 4; gx++) o[gy * 4 + gx] = cell(k, stride, l->x + gx * l->w, l->y + gy * l->h);
            }
        }
        if (L->hs)
            for (int t = 0; t < c->ntrees; t++) {
                const emo_cascade_node *n = &c->nodes[c->trees[t].first_node];
                const emo_haar_feature *h = &c->haar[n->feature];
                haar_stump *s = &L->hs[t];
                memcpy(s->ofs, L->fofs[n->feature], sizeof s->ofs);
                for (int r = 0; r < 3; r++) s->w[r] = r < h->nrects ? h->weight[r] : 0.f;
                s->nrects = h->nrects > 2 && h->weight[2] != 0.f ? 3 : 2;
                s->thr = n->threshold;
                /* OpenCV's stumps take leaf 0 on the left, leaf 1 on the
                 * right, whatever the node's child indices say. */
                const float *lv = c->leaves + c->trees[t].first_leaf;
                s->lr[0] = lv[0];
                s->lr[1] = lv[1];
            }
        if (L->ls)
            for (int t = 0; t < c->ntrees; t++) {
                int ni = c->trees[t].first_node;
                const emo_cascade_node *n = &c->nodes[ni];
                lbp_stump *s = &L->ls[t];
                memcpy(s->ofs, L->fofs[n->feature], sizeof s->ofs);
                memcpy(s->subset, c->subsets + (size_t)ni * 8, sizeof s->subset);
                const float *lv = c->leaves + c->trees[t].first_leaf;
                s->lr[0] = lv[0];
                s->lr[1] = lv[1];
            }
    }
}

/* ---- bit-exact resize (OpenCV INTER_LINEAR_EXACT, 8-bit, 1 channel) ------ */

/* Source tap and 8-bit weights for output coordinate i: OpenCV computes
 * f = (1 / (dst / src)) * (i + 0.5) - 0.5 in double, weight1 =
 * round(frac(f) * 256), weight0 = 256 - weight1; coordinates left of 0 or
 * right of the last pair take the edge pixel. */
static void exact_taps(int src, int dst, int i, int *o, uint32_t *w0, uint32_t *w1) {
    double scale = 1.0 / ((double)dst / src);
    double f = scale * ((double)i + 0.5) - 0.5;
    int fi = (int)floor(f);
    if (fi >= 0 && src > 1) {
        if (fi < src - 1) {
            *o = fi;
            *w1 = (uint32_t)lrint((f - fi) * 256.0);
            *w0 = 256 - *w1;
        } else {
            *o = src - 2;
            *w0 = 0;
            *w1 = 256;
        }
    } else {
        *o = 0;
        *w0 = 256;
        *w1 = 0;
    }
}

typedef struct resizer {
    const uint8_t *src;
    int sw, sh, sstride, dw, dh;
    int32_t *xo;
    uint16_t *w0, *w1;  /* per output column */
    uint16_t *line[2];
    int row[2];         /* source row held in line[i], -1 none */
    int32_t *bbase;     /* per block of 32 columns: first source byte, or -1 */
    uint8_t *bidx;      /* per block: 32 byte indices from bbase */
    int vector;         /* use the vpermb pass */
} resizer;


static void resizer_init(resizer *r, const uint8_t *src, int sw, int sh, int sstride, int dw, int dh, void *scratch,
                         int vector) {
    r->src = src;
    r->sw = sw;
    r->sh = sh;
    r->sstride = sstride;
    r->dw = dw;
    r->dh = dh;
    r->xo = scratch;
    r->w0 = (uint16_t *)(r->xo + dw);
    r->w1 = r->w0 + dw;
    r->line[0] = r->w1 + dw;
    r->line[1] = r->line[0] + dw;
    int nb = (dw + 31) / 32;
    r->bbase = (int32_t *)(void *)(r->line[1] + dw); /* at 12 * dw bytes: 4-byte aligned */
    r->bidx = (uint8_t *)(r->bbase + nb);
    r->row[0] = r->row[1] = -1;
    for (int x = 0; x < dw; x++) {
        uint32_t w0, w1;
        exact_taps(sw, dw, x, &r->xo[x], &w0, &w1);
        if (sw == 1) r->xo[x] = 0;
        r->w0[x] = (uint16_t)w0;
        r->w1[x] = (uint16_t)w1;
    }
    /* A block of 32 columns whose taps span < 64 source bytes is done with
     * one (masked) 64-byte load and two byte permutes. */
    r->vector = vector;
    for (int k = 0; k < nb; k++) {
        int x0 = k * 32, x1 = EMO_MIN(x0 + 32, dw);
        r->bbase[k] = -1;
        if (x1 - x0 == 32 && r->xo[x1 - 1] + 1 - r->xo[x0] < 63) {
            r->bbase[k] = r->xo[x0];
            for (int x = x0; x < x1; x++) r->bidx[k * 32 + (x - x0)] = (uint8_t)(r->xo[x] - r->xo[x0]);
        }
    }
}

/* Horizontal pass of source row y, 8 fractional bits:
 * out[x] = w0[x] * s[xo[x]] + w1[x] * s[xo[x] + 1]. */
static const uint16_t *resizer_line(resizer *r, int y) {
    if (r->row[0] == y) return r->line[0];
    if (r->row[1] == y) return r->line[1];
    int k = r->row[0] == y - 1 ? 1 : 0; /* keep the row just above */
    uint16_t *out = r->line[k];
    const uint8_t *s = r->src + (size_t)y * r->sstride;
    const int32_t *xo = r->xo;
    const uint16_t *w0 = r->w0, *w1 = r->w1;
    if (r->sw == 1) {
        for (int x = 0; x < r->dw; x++) out[x] = (uint16_t)(s[0] << 8);
    } else {
        int x = 0;
#if defined(EMO_DETECT_AVX512) && defined(__AVX512VBMI__) && defined(__AVX512BW__)
        if (r->vector)
            for (int b = 0; b < r->dw / 32; b++) { /* sw > 1 here */
                int base = r->bbase[b];
                x = b * 32;
                if (base < 0) {
                    for (int e = x + 32; x < e; x++) out[x] = (uint16_t)(w0[x] * s[xo[x]] + w1[x] * s[xo[x] + 1]);
                    continue;
                }
                int avail = r->sw - base; /* bytes left in the row */
                __mmask64 m = avail >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << avail) - 1);
                __m512i src = _mm512_maskz_loadu_epi8(m, s + base);
                __m512i ia = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)(r->bidx + b * 32)));
                __m512i ib = _mm512_add_epi8(ia, _mm512_set1_epi8(1));
                __m512i pa = _mm512_cvtepu8_epi16(_mm512_castsi512_si256(_mm512_permutexvar_epi8(ia, src)));
                __m512i pb = _mm512_cvtepu8_epi16(_mm512_castsi512_si256(_mm512_permutexvar_epi8(ib, src)));
                __m512i v = _mm512_add_epi16(_mm512_mullo_epi16(pa, _mm512_loadu_si512((const void *)(w0 + x))),
                                             _mm512_mullo_epi16(pb, _mm512_loadu_si512((const void *)(w1 + x))));
                _mm512_storeu_si512((void *)(out + x), v);
                x += 32;
            }
#endif
        for (; x < r->dw; x++) out[x] = (uint16_t)(w0[x] * s[xo[x]] + w1[x] * s[xo[x] + 1]);
    }
    r->row[k] = y;
    return out;
}

static void resizer_row(resizer *r, int y, uint8_t *out) {
    int o;
    uint32_t w0, w1;
    exact_taps(r->sh, r->dh, y, &o, &w0, &w1);
    if (r->sh == 1) o = 0;
    const uint16_t *a = resizer_line(r, o);
    const uint16_t *b = r->sh == 1 ? a : resizer_line(r, o + 1);
    a = resizer_line(r, o); /* may have been evicted by b's fetch: refetch */
    int x = 0;
#ifdef EMO_DETECT_AVX512
    if (r->vector) {
        __m512i vw0 = _mm512_set1_epi32((int)w0), vw1 = _mm512_set1_epi32((int)w1), half = _mm512_set1_epi32(32768);
        for (; x + 16 <= r->dw; x += 16) {
            __m512i va = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(a + x)));
            __m512i vb = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(b + x)));
            __m512i v = _mm512_add_epi32(_mm512_add_epi32(_mm512_mullo_epi32(va, vw0), _mm512_mullo_epi32(vb, vw1)), half);
            _mm_storeu_si128((__m128i *)(void *)(out + x), _mm512_cvtepi32_epi8(_mm512_srli_epi32(v, 16)));
        }
    }
#endif
    for (; x < r->dw; x++) out[x] = (uint8_t)((w0 * a[x] + w1 * b[x] + 32768u) >> 16);
}

void emo_resize_linear_exact(const uint8_t *src, int sw, int sh, int sstride, uint8_t *dst, int dw, int dh,
                             int dstride, void *scratch) {
    if (dw == sw && dh == sh) { /* cv::resize copies when sizes match */
        for (int y = 0; y < dh; y++) memcpy(dst + (size_t)y * dstride, src + (size_t)y * sstride, (size_t)dw);
        return;
    }
    resizer r;
    resizer_init(&r, src, sw, sh, sstride, dw, dh, scratch, 1);
    for (int y = 0; y < dh; y++) resizer_row(&r, y, dst + (size_t)y * dstride);
}

/* ---- integral images ----------------------------------------------------- */

#ifdef EMO_DETECT_AVX512
/* Inclusive prefix sums of 16 lanes. */
static inline __m512i prefix16(__m512i v) {
    const __m512i z = _mm512_setzero_si512();
    v = _mm512_add_epi32(v, _mm512_alignr_epi32(v, z, 15));
    v = _mm512_add_epi32(v, _mm512_alignr_epi32(v, z, 14));
    v = _mm512_add_epi32(v, _mm512_alignr_epi32(v, z, 12));
    return _mm512_add_epi32(v, _mm512_alignr_epi32(v, z, 8));
}

/* Integral row y+1 from row y and the pixels (the vector twin of the loops
 * in build_scale; same integers). Returns how many pixels it did (a multiple
 * of 16 or 32); the caller finishes the rest with *rs, *rq carried on. */
static int integral_row16(const uint8_t *px, int W, const int32_t *sp, int32_t *sn, const uint32_t *qp, uint32_t *qn,
                          int planar, int half, int32_t *rs, uint32_t *rq) {
    __m512i cs = _mm512_set1_epi32(*rs), cq = _mm512_set1_epi32((int32_t)*rq);
    const __m512i last = _mm512_set1_epi32(15);
    int x = 0;
    if (!planar) {
        for (; x + 16 <= W; x += 16) {
            __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(px + x)));
            __m512i ps = _mm512_add_epi32(prefix16(v), cs);
            _mm512_storeu_si512((void *)(sn + x + 1), _mm512_add_epi32(_mm512_loadu_si512((const void *)(sp + x + 1)), ps));
            cs = _mm512_permutexvar_epi32(last, ps);
            if (qn) {
                __m512i pq = _mm512_add_epi32(prefix16(_mm512_mullo_epi32(v, v)), cq);
                _mm512_storeu_si512((void *)(qn + x + 1),
                                    _mm512_add_epi32(_mm512_loadu_si512((const void *)(qp + x + 1)), pq));
                cq = _mm512_permutexvar_epi32(last, pq);
            }
        }
    } else {
        /* 32 pixels: columns x+1..x+32; odd ones go to half + x/2 + (0..15),
         * even ones to x/2 + 1 + (0..15) */
        const __m512i odd = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        const __m512i even = _mm512_add_epi32(odd, _mm512_set1_epi32(1));
        for (; x + 32 <= W; x += 32) {
            __m512i v0 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(px + x)));
            __m512i v1 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(px + x + 16)));
            __m512i a = _mm512_add_epi32(prefix16(v0), cs);
            __m512i b = _mm512_add_epi32(prefix16(v1), _mm512_permutexvar_epi32(last, a));
            cs = _mm512_permutexvar_epi32(last, b);
            int io = half + x / 2, ie = x / 2 + 1;
            _mm512_storeu_si512((void *)(sn + io), _mm512_add_epi32(_mm512_loadu_si512((const void *)(sp + io)),
                                                                    _mm512_permutex2var_epi32(a, odd, b)));
            _mm512_storeu_si512((void *)(sn + ie), _mm512_add_epi32(_mm512_loadu_si512((const void *)(sp + ie)),
                                                                    _mm512_permutex2var_epi32(a, even, b)));
            if (qn) {
                __m512i qa = _mm512_add_epi32(prefix16(_mm512_mullo_epi32(v0, v0)), cq);
                __m512i qb = _mm512_add_epi32(prefix16(_mm512_mullo_epi32(v1, v1)), _mm512_permutexvar_epi32(last, qa));
                cq = _mm512_permutexvar_epi32(last, qb);
                _mm512_storeu_si512((void *)(qn + io), _mm512_add_epi32(_mm512_loadu_si512((const void *)(qp + io)),
                                                                        _mm512_permutex2var_epi32(qa, odd, qb)));
                _mm512_storeu_si512((void *)(qn + ie), _mm512_add_epi32(_mm512_loadu_si512((const void *)(qp + ie)),
                                                                        _mm512_permutex2var_epi32(qa, even, qb)));
            }
        }
    }
    *rs = _mm_cvtsi128_si32(_mm512_castsi512_si128(cs));
    *rq = (uint32_t)_mm_cvtsi128_si32(_mm512_castsi512_si128(cq));
    return x;
}
#endif

#if defined(EMO_DETECT_AVX512) && defined(__AVX512BW__)
#define EMO_DETECT_LBP16 1
/* The 16-bit (modulo 2^16) integral row for the LBP path; returns the
 * pixels done, *rs carries the exact 32-bit running row sum. */
static int integral_row_u16(const uint8_t *px, int W, const uint16_t *sp, uint16_t *sn, int planar, int half,
                            int32_t *rs) {
    __m512i cs = _mm512_set1_epi32(*rs);
    const __m512i last = _mm512_set1_epi32(15);
    const __m512i odd = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i even = _mm512_add_epi32(odd, _mm512_set1_epi32(1));
    int x = 0;
    for (; x + 32 <= W; x += 32) {
        __m512i v0 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(px + x)));
        __m512i v1 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(px + x + 16)));
        __m512i a = _mm512_add_epi32(prefix16(v0), cs);
        __m512i b = _mm512_add_epi32(prefix16(v1), _mm512_permutexvar_epi32(last, a));
        cs = _mm512_permutexvar_epi32(last, b);
        __m256i lo, hi;
        int ilo, ihi;
        if (planar) { /* odd columns x+1.. at half + x/2, even x+2.. at x/2 + 1 */
            lo = _mm512_cvtepi32_epi16(_mm512_permutex2var_epi32(a, odd, b));
            hi = _mm512_cvtepi32_epi16(_mm512_permutex2var_epi32(a, even, b));
            ilo = half + x / 2;
            ihi = x / 2 + 1;
        } else {
            lo = _mm512_cvtepi32_epi16(a);
            hi = _mm512_cvtepi32_epi16(b);
            ilo = x + 1;
            ihi = x + 17;
        }
        _mm256_storeu_si256((__m256i *)(void *)(sn + ilo),
                            _mm256_add_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(sp + ilo)), lo));
        _mm256_storeu_si256((__m256i *)(void *)(sn + ihi),
                            _mm256_add_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(sp + ihi)), hi));
    }
    *rs = _mm_cvtsi128_si32(_mm512_castsi512_si128(cs));
    return x;
}

/* Resize + 16-bit integral of one scale (LBP path): the same sums as
 * build_scale, kept modulo 2^16, in d->ii viewed as uint16. */
static void build_scale_u16(const emo_detector *d, const emo_image *img, const scale_info *s, thread_buf *t) {
    int W = s->sw, H = s->sh, stride = d->stride, planar = s->step == 2, half = stride / 2;
    uint16_t *sum = (uint16_t *)(void *)d->ii + s->base;
    memset(sum, 0, (size_t)stride * sizeof *sum);
    bool same = W == img->width && H == img->height;
    resizer r;
    if (!same) resizer_init(&r, img->data, img->width, img->height, img->stride, W, H, t->resize, 1);
    uint8_t *row = t->row;
    for (int y = 0; y < H; y++) {
        const uint8_t *px = row;
        if (same) px = img->data + (size_t)y * img->stride;
        else resizer_row(&r, y, row);
        const uint16_t *sp = sum + (size_t)y * stride;
        uint16_t *sn = sum + (size_t)(y + 1) * stride;
        int32_t rs = 0;
        sn[0] = 0;
        for (int x = integral_row_u16(px, W, sp, sn, planar, half, &rs); x < W; x++) {
            rs += px[x];
            int i = cell(planar, stride, x + 1, 0);
            sn[i] = (uint16_t)(sp[i] + rs);
        }
    }
}
#endif

/* Resizes the (view of the) image to scale s and writes its integrals at
 * s->base: sum and squared sum ((sw + 1) x (sh + 1)), tilted when needed. */
static void build_scale(const emo_detector *d, const emo_image *img, const scale_info *s, thread_buf *t) {
    int W = s->sw, H = s->sh, stride = d->stride, planar = s->step == 2, half = stride / 2;
    int32_t *sum = d->ii + s->base;
    uint32_t *sq = d->sq + s->base;
    int32_t *tl = d->c.has_tilted ? d->ii + d->toff + s->base : NULL;
    bool need_sq = d->c.feature_type == EMO_FEATURE_HAAR; /* LBP needs no variance */
    (void)need_sq;                                         /* (vector path only) */
    memset(sum, 0, (size_t)stride * sizeof *sum);
    memset(sq, 0, (size_t)stride * sizeof *sq);
    if (tl) memset(tl, 0, (size_t)stride * sizeof *tl);
    bool same = W == img->width && H == img->height;
    resizer r;
    if (!same) resizer_init(&r, img->data, img->width, img->height, img->stride, W, H, t->resize, !d->force_scalar);
    uint8_t *row = t->row;
    int32_t *pref = t->pref; /* prefix sums of the current row, W + 1 */
    int64_t *tu = t->tu, *tv = t->tv + H; /* tv indexed -H..W */
    if (tl) {
        memset(t->tu, 0, (size_t)(W + H + 2) * sizeof *t->tu);
        memset(t->tv, 0, (size_t)(W + H + 2) * sizeof *t->tv);
    }
    for (int y = 0; y < H; y++) {
        const uint8_t *px = row;
        if (same) px = img->data + (size_t)y * img->stride;
        else resizer_row(&r, y, row);
        const int32_t *sp = sum + (size_t)y * stride;
        int32_t *sn = sum + (size_t)(y + 1) * stride;
        const uint32_t *qp = sq + (size_t)y * stride;
        uint32_t *qn = sq + (size_t)(y + 1) * stride;
        int32_t rs = 0;
        uint32_t rq = 0;
        sn[0] = 0;
        qn[0] = 0;
        pref[0] = 0;
        int x0 = 0;
#ifdef EMO_DETECT_AVX512
        if (!tl && !d->force_scalar)
            x0 = integral_row16(px, W, sp, sn, qp, need_sq ? qn : NULL, planar, half, &rs, &rq);
#endif
        if (!planar) {
            for (int x = x0; x < W; x++) {
                uint32_t v = px[x];
                rs += (int32_t)v;
                rq += v * v;
                pref[x + 1] = rs;
                sn[x + 1] = sp[x + 1] + rs;
                qn[x + 1] = qp[x + 1] + rq;
            }
        } else {
            /* column c at (c & 1) * half + (c >> 1): pixel pairs fill one
             * odd and one even column */
            for (int x = x0; x < W; x++) {
                uint32_t v = px[x];
                rs += (int32_t)v;
                rq += v * v;
                pref[x + 1] = rs;
                int i = ((x + 1) & 1) * half + ((x + 1) >> 1);
                sn[i] = sp[i] + rs;
                qn[i] = qp[i] + rq;
            }
        }
        if (tl) {
            /* tilted(X, Y) = sum over y' < Y of row y' between
             * X-1-(Y-1-y') and X-1+(Y-1-y'): with P(y', k) the prefix of row
             * y' up to k (clamped to 0..W), tilted(X, Y) = U[X+Y-1] -
             * V[X-Y], U[s] = sum P(y', s - y'), V[t] = sum P(y', t + y'). */
            int Y = y + 1;
            for (int s2 = 0; s2 <= W + H; s2++) tu[s2] += pref[EMO_CLAMP(s2 - y, 0, W)];
            for (int t2 = -H; t2 <= W; t2++) tv[t2] += pref[EMO_CLAMP(t2 + y, 0, W)];
            int32_t *tn = tl + (size_t)Y * stride;
            for (int X = 0; X <= W; X++) tn[cell(planar, stride, X, 0)] = (int32_t)(tu[X + Y - 1] - tv[X - Y]);
        }
    }
}

/* ---- window evaluation: plain C (the reference) -------------------------- */

/* OpenCV's runAt: 1 = all stages passed, 0 = failed stage 0 (the scan then
 * skips the next window), < 0 = rejected later or by the variance test. */
static int eval_stages(const emo_detector *d, const layout *L, const int32_t *p, float vnf, int si0, int tree);

/* p, q: the window's top-left in the sum and squared-sum blocks. */
static int eval_window(const emo_detector *d, const layout *L, const int32_t *p, const uint32_t *q) {
    const emo_cascade *c = &d->c;
    float vnf = 1.f;
    if (c->feature_type == EMO_FEATURE_HAAR) {
        const int32_t *n = L->nofs;
        int vs = p[n[0]] - p[n[1]] - p[n[2]] + p[n[3]];
        uint32_t vq = q[n[0]] - q[n[1]] - q[n[2]] + q[n[3]];
        double nf = d->area * vq - (double)vs * vs;
        if (!(nf > 0.)) return -1;
        nf = sqrt(nf);
        vnf = (float)(1. / nf);
        if (!(d->area * vnf < 1e-1)) return -1;
    }
    return eval_stages(d, L, p, vnf, 0, 0);
}

/* Stages si0.. of one window (tree = index of stage si0's first tree). */
static int eval_stages(const emo_detector *d, const layout *L, const int32_t *p, float vnf, int si0, int tree) {
    const emo_cascade *c = &d->c;
    if (L->hs) { /* stumps with their offsets at hand: the same arithmetic, fewer lookups */
        for (int si = si0; si < c->nstages; si++) {
            const emo_cascade_stage *st = &c->stages[si];
            const haar_stump *h = L->hs + tree;
            double sum = 0;
            for (int k = 0; k < st->ntrees; k++, h++) {
                const int32_t *o = h->ofs[0];
                float ret = h->w[0] * (float)(p[o[0]] - p[o[1]] - p[o[2]] + p[o[3]]) +
                            h->w[1] * (float)(p[o[4]] - p[o[5]] - p[o[6]] + p[o[7]]);
                if (h->nrects > 2) ret += h->w[2] * (float)(p[o[8]] - p[o[9]] - p[o[10]] + p[o[11]]);
                double val = ret * vnf;
                sum += h->lr[!(val < h->thr)]; /* an index, not a branch: unpredictable */
            }
            tree += st->ntrees;
            if (sum < st->threshold) return -si;
        }
        return 1;
    }
    if (L->ls) {
        for (int si = si0; si < c->nstages; si++) {
            const emo_cascade_stage *st = &c->stages[si];
            const lbp_stump *l = L->ls + tree;
            double sum = 0;
            for (int k = 0; k < st->ntrees; k++, l++) {
                const int32_t *o = l->ofs;
#define BS(a, b, e, f) (p[o[a]] - p[o[b]] - p[o[e]] + p[o[f]])
                int cv = BS(5, 6, 9, 10);
                int code = (BS(0, 1, 4, 5) >= cv ? 128 : 0) | (BS(1, 2, 5, 6) >= cv ? 64 : 0) |
                           (BS(2, 3, 6, 7) >= cv ? 32 : 0) | (BS(6, 7, 10, 11) >= cv ? 16 : 0) |
                           (BS(10, 11, 14, 15) >= cv ? 8 : 0) | (BS(9, 10, 13, 14) >= cv ? 4 : 0) |
                           (BS(8, 9, 12, 13) >= cv ? 2 : 0) | (BS(4, 5, 8, 9) >= cv ? 1 : 0);
#undef BS
                sum += l->lr[!(l->subset[code >> 5] & (1u << (code & 31)))];
            }
            tree += st->ntrees;
            if (sum < st->threshold) return -si;
        }
        return 1;
    }
    for (int si = si0; si < c->nstages; si++) {
        const emo_cascade_stage *st = &c->stages[si];
        double sum = 0;
        for (int k = 0; k < st->ntrees; k++, tree++) {
            const emo_cascade_tree *tr = &c->trees[tree];
            const emo_cascade_node *nodes = c->nodes + tr->first_node;
            int idx = 0;
            do {
                const emo_cascade_node *nd = &nodes[idx];
                bool left;
                const int32_t *o = L->fofs[nd->feature];
                if (c->feature_type == EMO_FEATURE_HAAR) {
                    const emo_haar_feature *h = &c->haar[nd->feature];
                    float ret = h->weight[0] * (float)(p[o[0]] - p[o[1]] - p[o[2]] + p[o[3]]) +
                                h->weight[1] * (float)(p[o[4]] - p[o[5]] - p[o[6]] + p[o[7]]);
                    if (h->nrects > 2 && h->weight[2] != 0.0f)
                        ret += h->weight[2] * (float)(p[o[8]] - p[o[9]] - p[o[10]] + p[o[11]]);
                    double val = ret * vnf;
                    left = val < nd->threshold;
                } else {
#define BS(a, b, e, f) (p[o[a]] - p[o[b]] - p[o[e]] + p[o[f]])
                    int cv = BS(5, 6, 9, 10);
                    int code = (BS(0, 1, 4, 5) >= cv ? 128 : 0) | (BS(1, 2, 5, 6) >= cv ? 64 : 0) |
                               (BS(2, 3, 6, 7) >= cv ? 32 : 0) | (BS(6, 7, 10, 11) >= cv ? 16 : 0) |
                               (BS(10, 11, 14, 15) >= cv ? 8 : 0) | (BS(9, 10, 13, 14) >= cv ? 4 : 0) |
                               (BS(8, 9, 12, 13) >= cv ? 2 : 0) | (BS(4, 5, 8, 9) >= cv ? 1 : 0);
#undef BS
                    const uint32_t *sub = c->subsets + (size_t)(tr->first_node + idx) * 8;
                    left = (sub[code >> 5] & (1u << (code & 31))) != 0;
                }
                if (c->max_nodes == 1) idx = left ? 0 : -1; /* OpenCV's stumps: leaves 0 and 1 */
                else idx = nd->right + (nd->left - nd->right) * (int)left; /* no branch */
            } while (idx > 0);
            sum += c->leaves[tr->first_leaf - idx];
        }
        if (sum < st->threshold) return -si;
    }
    return 1;
}

static bool push_cand(thread_buf *t, const scale_info *s, int x, int y) {
    if (t->ncand == t->cand_cap) {
        int cap = t->cand_cap ? t->cand_cap * 2 : 256;
        emo_rect *r = realloc(t->cand, (size_t)cap * sizeof *r);
        if (!r) {
            t->failed = 1;
            return false;
        }
        t->cand = r;
        t->cand_cap = cap;
    }
    emo_rect *r = &t->cand[t->ncand++];
    r->x = (int)lrintf((float)x * s->scale);
    r->y = (int)lrintf((float)y * s->scale);
    r->w = s->ww;
    r->h = s->wh;
    return true;
}

static void scan_row_scalar(const emo_detector *d, const scale_info *s, int y, thread_buf *t) {
    const int32_t *p = d->ii + s->base + (size_t)y * d->stride;
    const uint32_t *q = d->sq + s->base + (size_t)y * d->stride;
    const layout *L = &d->lay[s->step - 1];
    for (int x = 0; x < s->nx; x += s->step) {
        int i = x / s->step; /* planar rows hold window x = 2i at i */
        int r = eval_window(d, L, p + i, q + i);
        if (r > 0) push_cand(t, s, x, y);
        if (r == 0) x += s->step;
    }
}

/* ---- window evaluation: AVX-512, 16 windows side by side ----------------- */

#ifdef EMO_DETECT_AVX512
/* 16 neighbouring windows of a row are evaluated together: a corner value
 * of all 16 is one load (step 1) or two loads and a permute (step 2). A
 * vector lives while any lane does; when a single window is left, it is
 * finished by the plain evaluator, which is cheaper for one window. */
typedef struct lane_src {
    const int32_t *p; /* integral at the first of 16 consecutive windows */
    const layout *L;  /* offsets for this scale's layout */
} lane_src;

static inline __attribute__((always_inline)) __m512i ld16(const lane_src *l, int32_t o) {
    return _mm512_loadu_si512((const void *)(l->p + o));
}

/* p[o0] - p[o1] - p[o2] + p[o3] for 16 windows. */
static inline __attribute__((always_inline)) __m512i rect16(const lane_src *l, const int32_t *o) {
    return _mm512_add_epi32(_mm512_sub_epi32(_mm512_sub_epi32(ld16(l, o[0]), ld16(l, o[1])), ld16(l, o[2])),
                            ld16(l, o[3]));
}

/* Haar feature value (float, OpenCV's operation order) times vnf. */
static inline __attribute__((always_inline)) __m512 haar16(const lane_src *l, const int32_t *o, const float *w,
                                                           int nrects, __m512 vnf) {
    __m512 r = _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(w[0]), _mm512_cvtepi32_ps(rect16(l, o))),
                             _mm512_mul_ps(_mm512_set1_ps(w[1]), _mm512_cvtepi32_ps(rect16(l, o + 4))));
    if (nrects > 2) r = _mm512_add_ps(r, _mm512_mul_ps(_mm512_set1_ps(w[2]), _mm512_cvtepi32_ps(rect16(l, o + 8))));
    return _mm512_mul_ps(r, vnf);
}

static inline __attribute__((always_inline)) __m512i lbp16(const lane_src *l, const int32_t *o) {
    /* corner rows r = 0..3: differences along the row, then down: block
     * (r, c) = h[r][c] - h[r+1][c], h[r][c] = v[r][c] - v[r][c+1]
     * (integers: the same sums as OpenCV's p0 - p1 - p2 + p3) */
    __m512i h[4][3];
    for (int r = 0; r < 4; r++) {
        __m512i v0 = ld16(l, o[r * 4]), v1 = ld16(l, o[r * 4 + 1]), v2 = ld16(l, o[r * 4 + 2]),
                v3 = ld16(l, o[r * 4 + 3]);
        h[r][0] = _mm512_sub_epi32(v0, v1);
        h[r][1] = _mm512_sub_epi32(v1, v2);
        h[r][2] = _mm512_sub_epi32(v2, v3);
    }
#define B(r, c) _mm512_sub_epi32(h[r][c], h[(r) + 1][c])
    __m512i cv = B(1, 1), code = _mm512_setzero_si512();
    code = _mm512_mask_or_epi32(code, _mm512_cmpge_epi32_mask(B(0, 0), cv), code, _mm512_set1_epi32(128));
    code = _mm512_mask_or_epi32(code, _mm512_cmpge_epi32_mask(B(0, 1), cv), code, _mm512_set1_epi32(64));
    code = _mm512_mask_or_epi32(code, _mm512_cmpge_epi32_mask(B(0, 2), cv), code, _mm512_set1_epi32(32));
    code = _mm512_mask_or_epi32(code, _mm512_cmpge_epi32_mask(B(1, 2), cv), code, _mm512_set1_epi32(16));
    code = _mm512_mask_or_epi32(code, _mm512_cmpge_epi32_mask(B(2, 2), cv), code, _mm512_set1_epi32(8));
    code = _mm512_mask_or_epi32(code, _mm512_cmpge_epi32_mask(B(2, 1), cv), code, _mm512_set1_epi32(4));
    code = _mm512_mask_or_epi32(code, _mm512_cmpge_epi32_mask(B(2, 0), cv), code, _mm512_set1_epi32(2));
    code = _mm512_mask_or_epi32(code, _mm512_cmpge_epi32_mask(B(1, 0), cv), code, _mm512_set1_epi32(1));
#undef B
    return code;
}

/* Lanes whose LBP code is in the 256-bit subset. */
static inline __mmask16 in_subset16(__m512i code, const uint32_t *subset) {
    __m512i table = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)subset));
    __m512i word = _mm512_permutexvar_epi32(_mm512_srli_epi32(code, 5), table);
    __m512i bit = _mm512_srlv_epi32(word, _mm512_and_si512(code, _mm512_set1_epi32(31)));
    return _mm512_test_epi32_mask(bit, _mm512_set1_epi32(1));
}

static inline void acc16(__m512d *a0, __m512d *a1, __m512 v) {
    *a0 = _mm512_add_pd(*a0, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
    *a1 = _mm512_add_pd(*a1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
}

/* Stump outputs: left where m is set, as doubles (exact: floats widen). */
static inline void acc16d(__m512d *a0, __m512d *a1, __mmask16 m, __m512d left, __m512d right) {
    *a0 = _mm512_add_pd(*a0, _mm512_mask_blend_pd((__mmask8)m, right, left));
    *a1 = _mm512_add_pd(*a1, _mm512_mask_blend_pd((__mmask8)(m >> 8), right, left));
}

static inline __mmask16 lt16(__m512d a0, __m512d a1, double thr) {
    __m512d t = _mm512_set1_pd(thr);
    return (__mmask16)(_mm512_cmp_pd_mask(a0, t, _CMP_LT_OQ) | (_mm512_cmp_pd_mask(a1, t, _CMP_LT_OQ) << 8));
}

/* Haar variance normalisation of 16 contiguous windows: clears the lanes
 * OpenCV rejects (stddev <= 10 or flat) and returns 1 / (area * stddev). */
static inline __attribute__((always_inline)) __m512 norm16(const emo_detector *d, const lane_src *l,
                                                           const uint32_t *q, __mmask16 *active) {
    lane_src lq = *l;
    lq.p = (const int32_t *)(const void *)q;
    __m512i vs = rect16(l, l->L->nofs), vq = rect16(&lq, l->L->nofs);
    __m512d area = _mm512_set1_pd(d->area);
    __m512d s0 = _mm512_cvtepi32_pd(_mm512_castsi512_si256(vs));
    __m512d s1 = _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(vs, 1));
    __m512d q0 = _mm512_cvtepu32_pd(_mm512_castsi512_si256(vq));
    __m512d q1 = _mm512_cvtepu32_pd(_mm512_extracti64x4_epi64(vq, 1));
    __m512d n0 = _mm512_sub_pd(_mm512_mul_pd(area, q0), _mm512_mul_pd(s0, s0));
    __m512d n1 = _mm512_sub_pd(_mm512_mul_pd(area, q1), _mm512_mul_pd(s1, s1));
    __mmask8 pos0 = _mm512_cmp_pd_mask(n0, _mm512_setzero_pd(), _CMP_GT_OQ);
    __mmask8 pos1 = _mm512_cmp_pd_mask(n1, _mm512_setzero_pd(), _CMP_GT_OQ);
    __m512d one = _mm512_set1_pd(1.0);
    __m256 f0 = _mm512_cvtpd_ps(_mm512_div_pd(one, _mm512_sqrt_pd(n0)));
    __m256 f1 = _mm512_cvtpd_ps(_mm512_div_pd(one, _mm512_sqrt_pd(n1)));
    __m512d tenth = _mm512_set1_pd(1e-1);
    pos0 &= _mm512_cmp_pd_mask(_mm512_mul_pd(area, _mm512_cvtps_pd(f0)), tenth, _CMP_LT_OQ);
    pos1 &= _mm512_cmp_pd_mask(_mm512_mul_pd(area, _mm512_cvtps_pd(f1)), tenth, _CMP_LT_OQ);
    *active &= (__mmask16)(pos0 | (pos1 << 8));
    return _mm512_insertf32x8(_mm512_castps256_ps512(f0), f1, 1);
}

/* Stages [si0, si1) for 16 windows; `tree` is stage si0's first tree. Returns
 * the lanes still alive; *fail0 gets the lanes stage 0 rejects (si0 == 0). */
static inline __attribute__((always_inline)) __mmask16 stages16(const emo_detector *d, const lane_src *l,
                                                                __m512 vnf, __mmask16 active, int si0, int si1,
                                                                int tree, __mmask16 *fail0) {
    const emo_cascade *c = &d->c;
    for (int si = si0; si < si1 && active; si++) {
        const emo_cascade_stage *st = &c->stages[si];
        __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
        if (l->L->hs) {
            for (int k = 0; k < st->ntrees; k++) {
                const haar_stump *hs = &l->L->hs[tree + k];
                __mmask16 m = _mm512_cmp_ps_mask(haar16(l, hs->ofs[0], hs->w, hs->nrects, vnf),
                                                 _mm512_set1_ps(hs->thr), _CMP_LT_OQ);
                acc16d(&a0, &a1, m, _mm512_set1_pd(hs->lr[0]), _mm512_set1_pd(hs->lr[1]));
            }
        } else if (l->L->ls) {
            for (int k = 0; k < st->ntrees; k++) {
                const lbp_stump *ls = &l->L->ls[tree + k];
                __mmask16 m = in_subset16(lbp16(l, ls->ofs), ls->subset);
                acc16d(&a0, &a1, m, _mm512_set1_pd(ls->lr[0]), _mm512_set1_pd(ls->lr[1]));
            }
        } else {
            /* Trees: each node's test where some lane stands, then one sweep
             * in node order (children come after parents) reaches the leaf. */
            for (int k = 0; k < st->ntrees; k++) {
                const emo_cascade_tree *tr = &c->trees[tree + k];
                const emo_cascade_node *nodes = c->nodes + tr->first_node;
                __m512i cur = _mm512_setzero_si512();
                for (int ni = 0; ni < tr->nnodes; ni++) {
                    const emo_cascade_node *nd = &nodes[ni];
                    __mmask16 here = _mm512_cmpeq_epi32_mask(cur, _mm512_set1_epi32(ni)) & active;
                    if (ni > 0 && !here) continue;
                    __mmask16 m;
                    if (c->feature_type == EMO_FEATURE_HAAR) {
                        const emo_haar_feature *h = &c->haar[nd->feature];
                        float w[3] = {h->weight[0], h->weight[1], h->nrects > 2 ? h->weight[2] : 0.f};
                        m = _mm512_cmp_ps_mask(haar16(l, l->L->fofs[nd->feature], w, w[2] != 0.f ? 3 : 2, vnf),
                                               _mm512_set1_ps(nd->threshold), _CMP_LT_OQ);
                    } else {
                        m = in_subset16(lbp16(l, l->L->fofs[nd->feature]), c->subsets + (size_t)(tr->first_node + ni) * 8);
                    }
                    __m512i next = _mm512_mask_blend_epi32(m, _mm512_set1_epi32(nd->right), _mm512_set1_epi32(nd->left));
                    cur = _mm512_mask_mov_epi32(cur, here, next);
                }
                /* cur = -leaf; the loader pads leaves so 16 can be read */
                __m512 lv;
                if (tr->nnodes < 16)
                    lv = _mm512_permutexvar_ps(_mm512_sub_epi32(_mm512_setzero_si512(), cur),
                                               _mm512_loadu_ps(c->leaves + tr->first_leaf));
                else
                    lv = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), active,
                                                  _mm512_sub_epi32(_mm512_set1_epi32(tr->first_leaf), cur), c->leaves, 4);
                acc16(&a0, &a1, lv);
            }
        }
        tree += st->ntrees;
        __mmask16 fail = lt16(a0, a1, st->threshold) & active;
        if (si == 0) *fail0 = fail;
        active &= (__mmask16)~fail;
        /* One window left: finish it alone (cheaper than 16 lanes). */
        if (si > 0 && si + 1 < si1 && __builtin_popcount(active) == 1) {
            float vf[16];
            _mm512_storeu_ps(vf, vnf);
            int lane = __builtin_ctz(active);
            return eval_stages(d, l->L, l->p + lane, vf[lane], si + 1, tree) > 0 ? active : 0;
        }
    }
    return active;
}

/* One row of windows; detections go to t. */
static void scan_row_simd(const emo_detector *d, const scale_info *s, int y, thread_buf *t) {
    const emo_cascade *c = &d->c;
    size_t rowofs = (size_t)y * d->stride;
    const int32_t *p = d->ii + s->base + rowofs;
    const uint32_t *q = d->sq + s->base + rowofs;
    const layout *L = &d->lay[s->step - 1];
    int step = s->step, n = (s->nx + step - 1) / step; /* windows in this row */
    int run = 0; /* length of the run of stage-0 failures just before */
    int first = c->stages[0].ntrees;
    for (int i0 = 0; i0 < n; i0 += 16) { /* window i is at x = i * step, stored at i */
        int lanes = EMO_MIN(16, n - i0);
        __mmask16 inrange = (__mmask16)(lanes == 16 ? 0xFFFF : (1u << lanes) - 1);
        lane_src l = {.p = p + i0, .L = L};
        __mmask16 active = inrange, f0 = 0;
        __m512 vnf = _mm512_set1_ps(1.f);
        if (c->feature_type == EMO_FEATURE_HAAR) vnf = norm16(d, &l, q + i0, &active);
        /* Stage 0, then the skip rule: OpenCV skips the window after one
         * that fails stage 0, so a window is evaluated only if the run of
         * stage-0 failures right before it has even length. The others are
         * dropped now (their result would be thrown away). */
        __mmask16 alive = stages16(d, &l, vnf, active, 0, 1, 0, &f0);
        for (unsigned m = alive; m; m &= m - 1) {
            int lane = __builtin_ctz(m), r = 0;
            for (int j = lane - 1; j >= 0 && (f0 >> j & 1); j--) r++;
            if (r == lane) r += run;
            if (r & 1) alive &= (__mmask16) ~(1u << lane);
        }
        if (f0 == inrange && lanes == 16) run += 16;
        else {
            int r = 0;
            for (int j = lanes - 1; j >= 0 && (f0 >> j & 1); j--) r++;
            run = r == lanes ? run + r : r;
        }
        if (!alive) continue;
        alive = stages16(d, &l, vnf, alive, 1, c->nstages, first, &f0);
        for (unsigned m = alive; m; m &= m - 1) push_cand(t, s, (i0 + __builtin_ctz(m)) * step, y);
    }
}
#endif

#ifdef EMO_DETECT_LBP16
/* LBP stumps on 16-bit integrals, one window (the lone survivors). */
static int eval_lbp16(const emo_detector *d, const layout *L, const uint16_t *p, int si0, int tree) {
    const emo_cascade *c = &d->c;
    for (int si = si0; si < c->nstages; si++) {
        const emo_cascade_stage *st = &c->stages[si];
        const lbp_stump *l = L->ls + tree;
        double sum = 0;
        for (int k = 0; k < st->ntrees; k++, l++) {
            const int32_t *o = l->ofs;
#define BS(a, b, e, f) (uint16_t)(p[o[a]] - p[o[b]] - p[o[e]] + p[o[f]])
            int cv = BS(5, 6, 9, 10);
            int code = (BS(0, 1, 4, 5) >= cv ? 128 : 0) | (BS(1, 2, 5, 6) >= cv ? 64 : 0) |
                       (BS(2, 3, 6, 7) >= cv ? 32 : 0) | (BS(6, 7, 10, 11) >= cv ? 16 : 0) |
                       (BS(10, 11, 14, 15) >= cv ? 8 : 0) | (BS(9, 10, 13, 14) >= cv ? 4 : 0) |
                       (BS(8, 9, 12, 13) >= cv ? 2 : 0) | (BS(4, 5, 8, 9) >= cv ? 1 : 0);
#undef BS
            sum += l->lr[!(l->subset[code >> 5] & (1u << (code & 31)))];
        }
        tree += st->ntrees;
        if (sum < st->threshold) return -si;
    }
    return 1;
}

/* 32 LBP codes from 16-bit integrals (block sums wrap back to exact). */
static inline __m512i lbp32(const uint16_t *p, const int32_t *o) {
    __m512i h[4][3];
    for (int r = 0; r < 4; r++) {
        __m512i v0 = _mm512_loadu_si512((const void *)(p + o[r * 4])),
                v1 = _mm512_loadu_si512((const void *)(p + o[r * 4 + 1])),
                v2 = _mm512_loadu_si512((const void *)(p + o[r * 4 + 2])),
                v3 = _mm512_loadu_si512((const void *)(p + o[r * 4 + 3]));
        h[r][0] = _mm512_sub_epi16(v0, v1);
        h[r][1] = _mm512_sub_epi16(v1, v2);
        h[r][2] = _mm512_sub_epi16(v2, v3);
    }
#define B(r, c) _mm512_sub_epi16(h[r][c], h[(r) + 1][c])
    /* distinct bits: a masked add is an or */
    __m512i cv = B(1, 1), code = _mm512_maskz_mov_epi16(_mm512_cmpge_epu16_mask(B(0, 0), cv), _mm512_set1_epi16(128));
    code = _mm512_mask_add_epi16(code, _mm512_cmpge_epu16_mask(B(0, 1), cv), code, _mm512_set1_epi16(64));
    code = _mm512_mask_add_epi16(code, _mm512_cmpge_epu16_mask(B(0, 2), cv), code, _mm512_set1_epi16(32));
    code = _mm512_mask_add_epi16(code, _mm512_cmpge_epu16_mask(B(1, 2), cv), code, _mm512_set1_epi16(16));
    code = _mm512_mask_add_epi16(code, _mm512_cmpge_epu16_mask(B(2, 2), cv), code, _mm512_set1_epi16(8));
    code = _mm512_mask_add_epi16(code, _mm512_cmpge_epu16_mask(B(2, 1), cv), code, _mm512_set1_epi16(4));
    code = _mm512_mask_add_epi16(code, _mm512_cmpge_epu16_mask(B(2, 0), cv), code, _mm512_set1_epi16(2));
    code = _mm512_mask_add_epi16(code, _mm512_cmpge_epu16_mask(B(1, 0), cv), code, _mm512_set1_epi16(1));
#undef B
    return code;
}

/* Lanes (of 32) whose code is in the subset: 16 words of 16 bits. */
static inline __mmask32 in_subset32(__m512i code, const uint32_t *subset) {
    __m512i table = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(const void *)subset));
    __m512i word = _mm512_permutexvar_epi16(_mm512_srli_epi16(code, 4), table);
    __m512i bit = _mm512_srlv_epi16(word, _mm512_and_si512(code, _mm512_set1_epi16(15)));
    return _mm512_test_epi16_mask(bit, _mm512_set1_epi16(1));
}

static inline __mmask32 stages32(const emo_detector *d, const layout *L, const uint16_t *p, __mmask32 active,
                                 int si0, int si1, int tree, __mmask32 *fail0) {
    const emo_cascade *c = &d->c;
    for (int si = si0; si < si1 && active; si++) {
        const emo_cascade_stage *st = &c->stages[si];
        __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
        for (int k = 0; k < st->ntrees; k++) {
            const lbp_stump *ls = &L->ls[tree + k];
            __mmask32 m = in_subset32(lbp32(p, ls->ofs), ls->subset);
            __m512d lf = _mm512_set1_pd(ls->lr[0]), rt = _mm512_set1_pd(ls->lr[1]);
            a0 = _mm512_add_pd(a0, _mm512_mask_blend_pd((__mmask8)m, rt, lf));
            a1 = _mm512_add_pd(a1, _mm512_mask_blend_pd((__mmask8)(m >> 8), rt, lf));
            a2 = _mm512_add_pd(a2, _mm512_mask_blend_pd((__mmask8)(m >> 16), rt, lf));
            a3 = _mm512_add_pd(a3, _mm512_mask_blend_pd((__mmask8)(m >> 24), rt, lf));
        }
        tree += st->ntrees;
        __m512d th = _mm512_set1_pd(st->threshold);
        __mmask32 fail = (__mmask32)_mm512_cmp_pd_mask(a0, th, _CMP_LT_OQ) |
                         (__mmask32)_mm512_cmp_pd_mask(a1, th, _CMP_LT_OQ) << 8 |
                         (__mmask32)_mm512_cmp_pd_mask(a2, th, _CMP_LT_OQ) << 16 |
                         (__mmask32)_mm512_cmp_pd_mask(a3, th, _CMP_LT_OQ) << 24;
        fail &= active;
        if (si == 0) *fail0 = fail;
        active &= ~fail;
        if (si > 0 && si + 1 < si1 && __builtin_popcount(active) == 1) {
            int lane = __builtin_ctz(active);
            return eval_lbp16(d, L, p + lane, si + 1, tree) > 0 ? active : 0;
        }
    }
    return active;
}

/* One row of an LBP scale, 32 windows per vector (16-bit integrals). */
static void scan_row_lbp16(const emo_detector *d, const scale_info *s, int y, thread_buf *t) {
    const emo_cascade *c = &d->c;
    const uint16_t *p = (const uint16_t *)(const void *)d->ii + s->base + (size_t)y * d->stride;
    const layout *L = &d->lay[s->step - 1];
    int step = s->step, n = (s->nx + step - 1) / step;
    int run = 0, first = c->stages[0].ntrees;
    for (int i0 = 0; i0 < n; i0 += 32) {
        int lanes = EMO_MIN(32, n - i0);
        __mmask32 inrange = lanes == 32 ? 0xFFFFFFFFu : (1u << lanes) - 1;
        __mmask32 f0 = 0;
        __mmask32 alive = stages32(d, L, p + i0, inrange, 0, 1, 0, &f0);
        for (uint32_t m = alive; m; m &= m - 1) { /* OpenCV's skip rule, as in scan_row_simd */
            int lane = __builtin_ctz(m), r = 0;
            for (int j = lane - 1; j >= 0 && (f0 >> j & 1); j--) r++;
            if (r == lane) r += run;
            if (r & 1) alive &= ~(1u << lane);
        }
        if (f0 == inrange && lanes == 32) run += 32;
        else {
            int r = 0;
            for (int j = lanes - 1; j >= 0 && (f0 >> j & 1); j--) r++;
            run = r == lanes ? run + r : r;
        }
        if (!alive) continue;
        alive = stages32(d, L, p + i0, alive, 1, c->nstages, first, &f0);
        for (uint32_t m = alive; m; m &= m - 1) push_cand(t, s, (i0 + __builtin_ctz(m)) * step, y);
    }
}
#endif

/* ---- the search ---------------------------------------------------------- */

static int grow_buf(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return EMO_OK;
    size_t bytes;
    if (!emo_mul_size(need, elem, &bytes)) return emo_fail(EMO_ELIMIT, "detector buffer size overflows");
    void *q = realloc(*p, bytes);
    if (!q) return emo_fail(EMO_ENOMEM, "detector: out of memory (%zu bytes)", bytes);
    *p = q;
    *cap = need;
    return EMO_OK;
}

static int cmp_cand(const void *a, const void *b) {
    const emo_rect *r = a, *s = b;
    if (r->w != s->w) return r->w < s->w ? -1 : 1;
    if (r->h != s->h) return r->h < s->h ? -1 : 1;
    if (r->y != s->y) return r->y < s->y ? -1 : 1;
    return r->x < s->x ? -1 : r->x > s->x;
}

static int cmp_out(const void *a, const void *b) {
    const emo_rect *r = a, *s = b;
    if (r->y != s->y) return r->y < s->y ? -1 : 1;
    if (r->x != s->x) return r->x < s->x ? -1 : 1;
    if (r->w != s->w) return r->w < s->w ? -1 : 1;
    return r->h < s->h ? -1 : r->h > s->h;
}

/* The scales OpenCV would search (detectMultiScaleNoGrouping). */
static int pick_scales(emo_detector *d, int W, int H, double sf, int minsz, int maxsz) {
    const emo_cascade *c = &d->c;
    float all[4096];
    int nall = 0;
    for (double f = 1;; f *= sf) {
        int ww = (int)lrint(c->win_w * f), wh = (int)lrint(c->win_h * f);
        if (ww > W || wh > H) break;
        if (nall == (int)(sizeof all / sizeof all[0]))
            return emo_fail(EMO_ELIMIT, "detect: scale_factor %g gives more than %d scales", sf, nall);
        all[nall++] = (float)f;
    }
    int maxw = maxsz > 0 ? maxsz : W, maxh = maxsz > 0 ? maxsz : H;
    size_t cap = (size_t)d->scales_cap;
    int s = grow_buf((void **)&d->scales, &cap, (size_t)EMO_MAX(nall, 1), sizeof *d->scales);
    if (s) return s;
    d->scales_cap = (int)cap;
    int n = 0;
    float chosen[4096];
    for (int i = 0; i < nall; i++) {
        int ww = (int)lrintf((float)c->win_w * all[i]), wh = (int)lrintf((float)c->win_h * all[i]);
        if (ww > maxw || wh > maxh) break;
        if (ww < minsz || wh < minsz) continue;
        chosen[n++] = all[i];
    }
    if (n == 0 && nall > 0) { /* OpenCV: the scale closest to minSize */
        int best = 0;
        double bd = 0;
        for (int i = 0; i < nall; i++) {
            int ww = (int)lrintf((float)c->win_w * all[i]), wh = (int)lrintf((float)c->win_h * all[i]);
            double dd = (double)(minsz - ww) * (minsz - ww) + (double)(minsz - wh) * (minsz - wh);
            if (i == 0 || bd > dd) {
                bd = dd;
                best = i;
            }
        }
        chosen[n++] = all[best];
    }
    for (int i = 0; i < n; i++) {
        scale_info *si = &d->scales[i];
        float sc = chosen[i];
        si->scale = sc;
        si->sw = (int)lrintf((float)W / sc);
        si->sh = (int)lrintf((float)H / sc);
        si->step = sc >= 2 ? 1 : 2;
        si->nx = EMO_MAX(si->sw + 1 - c->win_w, 0);
        si->ny = EMO_MAX(si->sh + 1 - c->win_h, 0);
        si->ww = (int)lrintf((float)c->win_w * sc);
        si->wh = (int)lrintf((float)c->win_h * sc);
    }
    d->nscales = n;
    return EMO_OK;
}

static int prepare_threads(emo_detector *d, int nt, int W, int H) {
    if (nt > d->ntb) {
        thread_buf *tb = realloc(d->tb, (size_t)nt * sizeof *tb);
        if (!tb) return emo_fail(EMO_ENOMEM, "detector: out of memory");
        memset(tb + d->ntb, 0, (size_t)(nt - d->ntb) * sizeof *tb);
        d->tb = tb;
        d->ntb = nt;
    }
    for (int i = 0; i < nt; i++) {
        thread_buf *t = &d->tb[i];
        int s = grow_buf(&t->resize, &t->resize_cap, EMO_RESIZE_SCRATCH(W), 1);
        if (!s) s = grow_buf((void **)&t->row, &t->row_cap, (size_t)W + 64, 1);
        if (!s) s = grow_buf((void **)&t->pref, &t->pref_cap, (size_t)W + 1, sizeof *t->pref);
        if (!s && d->c.has_tilted) {
            size_t cap = t->t_cap;
            s = grow_buf((void **)&t->tu, &cap, (size_t)(W + H + 2), sizeof *t->tu);
            if (!s) s = grow_buf((void **)&t->tv, &t->t_cap, (size_t)(W + H + 2), sizeof *t->tv);
        }
        if (s) return s;
        t->ncand = 0;
        t->failed = 0;
    }
    return EMO_OK;
}

int emo_detect(emo_detector *d, const emo_image *grey, const emo_detect_params *p, emo_rect *faces, int capacity) {
    if (!d) return emo_fail(EMO_EINVAL, "emo_detect: no detector");
    if (!grey) return emo_fail(EMO_EINVAL, "emo_detect: no image");
    if (capacity < 0 || (capacity > 0 && !faces)) return emo_fail(EMO_EINVAL, "emo_detect: bad output array");
    emo_detect_params def = emo_detect_params_default();
    if (!p) p = &def;
    if (grey->width <= 0 || grey->height <= 0 || !grey->data)
        return emo_fail(EMO_EINVAL, "emo_detect: empty image (%dx%d)", grey->width, grey->height);
    if (grey->channels != 1)
        return emo_fail(EMO_EINVAL, "emo_detect: wants a grey (1-channel) image, got %d channels; convert it with "
                                    "emo_image_to_grey", grey->channels);
    if (grey->width > EMO_MAX_SIDE || grey->height > EMO_MAX_SIDE || grey->stride < grey->width)
        return emo_fail(EMO_EINVAL, "emo_detect: bad image geometry %dx%d stride %d", grey->width, grey->height,
                        grey->stride);
    if (!(p->scale_factor > 1.0) || !(p->scale_factor <= 10.0))
        return emo_fail(EMO_EINVAL, "emo_detect: scale_factor %g is outside (1, 10]", p->scale_factor);
    if (p->min_neighbors < 0) return emo_fail(EMO_EINVAL, "emo_detect: min_neighbors %d < 0", p->min_neighbors);
    if (p->min_size < 0 || p->max_size < 0)
        return emo_fail(EMO_EINVAL, "emo_detect: min_size %d / max_size %d must be >= 0", p->min_size, p->max_size);
    if (p->max_size > 0 && p->max_size < p->min_size)
        return emo_fail(EMO_EINVAL, "emo_detect: max_size %d < min_size %d", p->max_size, p->min_size);
    if (p->threads < 0 || p->threads > 256)
        return emo_fail(EMO_EINVAL, "emo_detect: threads %d is outside 0..256", p->threads);
    /* The searched region. */
    int rx = 0, ry = 0, rw = grey->width, rh = grey->height;
    if (p->roi.w != 0 || p->roi.h != 0) {
        if (p->roi.w <= 0 || p->roi.h <= 0)
            return emo_fail(EMO_EINVAL, "emo_detect: roi %dx%d is empty", p->roi.w, p->roi.h);
        int x0 = EMO_MAX(p->roi.x, 0), y0 = EMO_MAX(p->roi.y, 0);
        int x1 = (int)EMO_MIN((int64_t)p->roi.x + p->roi.w, grey->width);
        int y1 = (int)EMO_MIN((int64_t)p->roi.y + p->roi.h, grey->height);
        if (x1 <= x0 || y1 <= y0)
            return emo_fail(EMO_EINVAL, "emo_detect: roi (%d,%d %dx%d) lies outside the %dx%d image", p->roi.x,
                            p->roi.y, p->roi.w, p->roi.h, grey->width, grey->height);
        rx = x0, ry = y0, rw = x1 - x0, rh = y1 - y0;
    }
    if (p->min_size > rw || p->min_size > rh)
        return emo_fail(EMO_EINVAL, "emo_detect: min_size %d is larger than the %s (%dx%d)", p->min_size,
                        rw == grey->width && rh == grey->height ? "image" : "region searched", rw, rh);
    emo_image img = emo_image_wrap(grey->data + (size_t)ry * grey->stride + rx, rw, rh, 1, grey->stride);
    const emo_cascade *c = &d->c;
    d->ncand = 0;
    if (rw < c->win_w || rh < c->win_h) return 0; /* as OpenCV: too small for one window */
    int st = pick_scales(d, rw, rh, p->scale_factor, p->min_size, p->max_size);
    if (st) return st;
    int nt = p->threads ? p->threads : omp_get_num_procs();
    nt = EMO_MAX(nt, 1);
    st = prepare_threads(d, nt, rw, rh);
    if (st) return st;
    /* Integral layout: every scale's (sw+1) x (sh+1) block, rows `stride`
     * apart, stacked; batches of scales bound the memory. */
    int stride = ((rw + 1) + 15) & ~15;
    size_t first_area = (size_t)stride * (d->scales[0].sh + 1), all_area = 0;
    for (int i = 0; i < d->nscales; i++) all_area += (size_t)stride * (d->scales[i].sh + 1);
    size_t batch_cap = EMO_MAX(first_area, EMO_MIN(all_area, (size_t)6 << 20));
    size_t pad = (size_t)stride * 2 + 128;
    size_t need = batch_cap + pad;
    size_t toff = c->has_tilted ? need : 0;
    if (stride != d->stride || toff != d->toff || !d->ii) {
        d->toff = toff;
        compile(d, stride);
    }
    st = grow_buf((void **)&d->ii, &d->ii_cap, c->has_tilted ? 2 * need : need, sizeof *d->ii);
    if (!st) st = grow_buf((void **)&d->sq, &d->sq_cap, need, sizeof *d->sq);
    if (st) return st;
    bool simd = false;
#ifdef EMO_DETECT_AVX512
    simd = !d->force_scalar;
#endif
    bool lbp16 = simd && d->lbp16;
    (void)lbp16;
    for (int b0 = 0; b0 < d->nscales;) {
        /* Scales [b0, b1) share the buffers. */
        size_t used = 0;
        int b1 = b0;
        while (b1 < d->nscales) {
            size_t a = (size_t)stride * (d->scales[b1].sh + 1);
            if (b1 > b0 && used + a > batch_cap) break;
            d->scales[b1].base = used;
            used += a;
            b1++;
        }
        /* Row tasks, a few rows of windows each: every scale's first task
         * comes first (whoever takes it builds that scale's integrals), then
         * the rest; a task whose scale another thread is still building
         * waits for it. One pass over the list, no barrier in between. */
        int ntasks = 0;
        for (int i = b0; i < b1; i++) {
            const scale_info *s = &d->scales[i];
            int rows = 8 * s->step;
            ntasks += (s->ny + rows - 1) / rows;
        }
        size_t tcap = (size_t)d->tasks_cap;
        st = grow_buf((void **)&d->tasks, &tcap, (size_t)EMO_MAX(ntasks, 1), sizeof *d->tasks);
        if (st) return st;
        d->tasks_cap = (int)tcap;
        ntasks = 0;
        for (int pass = 0; pass < 2; pass++)
            for (int i = b0; i < b1; i++) {
                scale_info *s = &d->scales[i];
                int rows = 8 * s->step;
                s->state = 0;
                for (int y = pass ? rows : 0; y < (pass ? s->ny : EMO_MIN(rows, s->ny)); y += rows)
                    d->tasks[ntasks++] = (task){i, y, EMO_MIN(y + rows, s->ny)};
            }
        int next = 0;
#pragma omp parallel num_threads(nt) if (nt > 1)
        {
            thread_buf *t = &d->tb[omp_get_thread_num()];
            for (;;) {
                int k = __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED);
                if (k >= ntasks) break;
                const task *tk = &d->tasks[k];
                scale_info *s = &d->scales[tk->scale];
                if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != 2) {
                    int expect = 0;
                    if (__atomic_compare_exchange_n(&s->state, &expect, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
#ifdef EMO_DETECT_LBP16
                        if (lbp16) build_scale_u16(d, &img, s, t);
                        else
#endif
                            build_scale(d, &img, s, t);
                        __atomic_store_n(&s->state, 2, __ATOMIC_RELEASE);
                    } else {
                        for (int spin = 0; __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != 2; spin++) {
                            if (spin < 2000) __builtin_ia32_pause();
                            else sched_yield();
                        }
                    }
                }
#ifdef EMO_DETECT_AVX512
#ifdef EMO_DETECT_LBP16
                if (lbp16) {
                    for (int y = tk->y0; y < tk->y1; y += s->step) scan_row_lbp16(d, s, y, t);
                    continue;
                }
#endif
                if (simd) {
                    for (int y = tk->y0; y < tk->y1; y += s->step) scan_row_simd(d, s, y, t);
                    continue;
                }
#endif
                (void)simd;
                for (int y = tk->y0; y < tk->y1; y += s->step) scan_row_scalar(d, s, y, t);
            }
        }
        b0 = b1;
    }
    /* Gather the candidates in a fixed order (thread count must not matter). */
    int total = 0;
    for (int i = 0; i < nt; i++) {
        if (d->tb[i].failed) return emo_fail(EMO_ENOMEM, "detector: out of memory for candidates");
        total += d->tb[i].ncand;
    }
    size_t ccap = (size_t)d->cand_cap;
    st = grow_buf((void **)&d->cand, &ccap, (size_t)EMO_MAX(total, 1), sizeof *d->cand);
    if (st) return st;
    d->cand_cap = (int)ccap;
    size_t scap = (size_t)d->scratch_cap;
    st = grow_buf((void **)&d->scratch, &scap, (size_t)EMO_MAX(total, 1) * 6, sizeof *d->scratch);
    if (st) return st;
    d->scratch_cap = (int)scap;
    int n = 0;
    for (int i = 0; i < nt; i++) {
        if (d->tb[i].ncand) memcpy(d->cand + n, d->tb[i].cand, (size_t)d->tb[i].ncand * sizeof *d->cand);
        n += d->tb[i].ncand;
    }
    if (n > 1) qsort(d->cand, (size_t)n, sizeof *d->cand, cmp_cand);
    d->ncand = n;
    n = emo_group_rects(d->cand, n, p->min_neighbors, 0.2, d->scratch);
    /* Clip to the searched region (OpenCV's clipObjects), back to image
     * coordinates. */
    int out = 0;
    for (int i = 0; i < n; i++) {
        emo_rect r = d->cand[i];
        int x0 = EMO_MAX(r.x, 0), y0 = EMO_MAX(r.y, 0);
        int x1 = EMO_MIN(r.x + r.w, rw), y1 = EMO_MIN(r.y + r.h, rh);
        if (x1 <= x0 || y1 <= y0) r = (emo_rect){0, 0, 0, 0};
        else r = (emo_rect){x0 + rx, y0 + ry, x1 - x0, y1 - y0};
        d->cand[out++] = r;
    }
    if (out > 1) qsort(d->cand, (size_t)out, sizeof *d->cand, cmp_out);
    for (int i = 0; i < out && i < capacity; i++) faces[i] = d->cand[i];
    return out;
}
