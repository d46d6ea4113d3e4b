/* conv.c — 2-D convolution, NHWC: a naive reference and im2col + GEMM.
 *
 * The fast path processes a chunk of images at a time: im2col copies, for each
 * output position (row) and each kernel tap (ky, kx), the Cin/groups input
 * channels, which are contiguous in NHWC, giving col (rows, K), K = k*k*Cin_g.
 * Then out (rows, Cout_g) = col x W_g^T, one dnnl_sgemm per group. Backward
 * recomputes col for dW += dout^T col and forms dcol = dout W, which a gather
 * (each input pixel sums the taps that read it: no write races) adds to din.
 * A 1x1, stride-1, unpadded convolution skips im2col: the input is col. */
#include "nn/nn.h"

#include <dnnl.h>
#include <string.h>

void nn_sgemm(char ta, char tb, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) c[(size_t)i * ldc + j] = beta == 0 ? 0 : beta * c[(size_t)i * ldc + j];
        return;
    }
    dnnl_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* ---- reference ----------------------------------------------------------- */

void nn_conv_forward_ref(const nn_conv_shape *s, const float *in, const float *w, const float *b,
                         nn_act act, float *out) {
    int cig = s->cin / s->groups, cog = s->cout / s->groups;
    for (int n = 0; n < s->n; n++)
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++)
                for (int co = 0; co < s->cout; co++) {
                    int g = co / cog;
                    double acc = b ? b[co] : 0;
                    for (int ky = 0; ky < s->k; ky++) {
                        int iy = oy * s->stride - s->pad + ky;
                        if (iy < 0 || iy >= s->h) continue;
                        for (int kx = 0; kx < s->k; kx++) {
                            int ix = ox * s->stride - s->pad + kx;
                            if (ix < 0 || ix >= s->w) continue;
                            const float *ip = in + (((size_t)n * s->h + iy) * s->w + ix) * s->cin + g * cig;
                            const float *wp = w + (((size_t)co * s->k + ky) * s->k + kx) * cig;
                            for (int ci = 0; ci < cig; ci++) acc += (double)ip[ci] * wp[ci];
                        }
                    }
                    float v = (float)acc;
                    if (act == NN_ACT_RELU && v < 0) v = 0;
                    out[(((size_t)n * s->oh + oy) * s->ow + ox) * s->cout + co] = v;
                }
}

void nn_conv_backward_ref(const nn_conv_shape *s, const float *in, const float *w, const float *dout,
                          float *dw, float *db, float *din, int acc) {
    int cig = s->cin / s->groups, cog = s->cout / s->groups;
    size_t nin = (size_t)s->n * s->h * s->w * s->cin;
    if (din && !acc) memset(din, 0, nin * sizeof *din);
    for (int n = 0; n < s->n; n++)
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++)
                for (int co = 0; co < s->cout; co++) {
                    int g = co / cog;
                    float d = dout[(((size_t)n * s->oh + oy) * s->ow + ox) * s->cout + co];
                    if (db) db[co] += d;
                    for (int ky = 0; ky < s->k; ky++) {
                        int iy = oy * s->stride - s->pad + ky;
                        if (iy < 0 || iy >= s->h) continue;
                        for (int kx = 0; kx < s->k; kx++) {
                            int ix = ox * s->stride - s->pad + kx;
                            if (ix < 0 || ix >= s->w) continue;
                            size_t io = (((size_t)n * s->h + iy) * s->w + ix) * s->cin + g * cig;
                            size_t wo = (((size_t)co * s->k + ky) * s->k + kx) * cig;
                            for (int ci = 0; ci < cig; ci++) {
                                if (dw) dw[wo + ci] += d * in[io + ci];
                                if (din) din[io + ci] += d * w[wo + ci];
                            }
                        }
                    }
                }
}

/* ---- im2col + GEMM ---------------------------------------------------------- */

/* Bound on one thread's col buffer: big enough for efficient GEMMs, small
 * enough to stay near the caches. */
#define COL_FLOATS (1u << 20)

static int is_pointwise(const nn_conv_shape *s) {
    return s->k == 1 && s->stride == 1 && s->pad == 0 && s->groups == 1;
}

static int chunk_images(const nn_conv_shape *s) {
    size_t per = (size_t)s->oh * s->ow * s->k * s->k * (s->cin / s->groups);
    size_t c = per ? COL_FLOATS / per : (size_t)s->n;
    if (c < 1) c = 1;
    if (c > (size_t)s->n) c = (size_t)s->n;
    return (int)c;
}

size_t nn_conv_scratch_floats(const nn_conv_shape *s) {
    if (is_pointwise(s)) return 0;
    /* col and dcol for one chunk */
    return 2 * (size_t)chunk_images(s) * s->oh * s->ow * s->k * s->k * (s->cin / s->groups);
}

/* col (rows = nb*oh*ow, K = k*k*cig) from images [n0, n0+nb), group g. */
static void im2col(const nn_conv_shape *s, const float *in, int n0, int nb, int g, float *col, int threads) {
    int cig = s->cin / s->groups, k = s->k;
    size_t K = (size_t)k * k * cig;
    int rows_per_img = s->oh * s->ow;
    long rows = (long)nb * rows_per_img;
#pragma omp parallel for num_threads(threads) if (threads > 1 && rows > 64) schedule(static)
    for (long r = 0; r < rows; r++) {
        int n = n0 + (int)(r / rows_per_img), rem = (int)(r % rows_per_img);
        int oy = rem / s->ow, ox = rem % s->ow;
        float *cp = col + (size_t)r * K;
        for (int ky = 0; ky < k; ky++) {
            int iy = oy * s->stride - s->pad + ky;
            for (int kx = 0; kx < k; kx++, cp += cig) {
                int ix = ox * s->stride - s->pad + kx;
                if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) {
                    memset(cp, 0, (size_t)cig * sizeof *cp);
                } else {
                    memcpy(cp, in + (((size_t)n * s->h + iy) * s->w + ix) * s->cin + (size_t)g * cig,
                           (size_t)cig * sizeof *cp);
                }
            }
        }
    }
}

/* din[images n0..n0+nb, group g] += taps of dcol that read each pixel. */
static void col2im_add(const nn_conv_shape *s, const float *dcol, int n0, int nb, int g, float *din,
                       int threads) {
    int cig = s->cin / s->groups, k = s->k, st = s->stride;
    size_t K = (size_t)k * k * cig;
    long lines = (long)nb * s->h;
#pragma omp parallel for num_threads(threads) if (threads > 1 && lines > 4) schedule(static)
    for (long li = 0; li < lines; li++) {
        int nl = (int)(li / s->h), iy = (int)(li % s->h);
        for (int ix = 0; ix < s->w; ix++) {
            float *dp = din + (((size_t)(n0 + nl) * s->h + iy) * s->w + ix) * s->cin + (size_t)g * cig;
            for (int ky = 0; ky < k; ky++) {
                int ty = iy + s->pad - ky;
                if (ty < 0 || ty % st) continue;
                int oy = ty / st;
                if (oy >= s->oh) continue;
                for (int kx = 0; kx < k; kx++) {
                    int tx = ix + s->pad - kx;
                    if (tx < 0 || tx % st) continue;
                    int ox = tx / st;
                    if (ox >= s->ow) continue;
                    const float *cp = dcol + (((size_t)nl * s->oh + oy) * s->ow + ox) * K +
                                      ((size_t)ky * k + kx) * cig;
                    for (int c = 0; c < cig; c++) dp[c] += cp[c];
                }
            }
        }
    }
}

static void bias_act(size_t rows, int c, const float *b, nn_act act, float *out, int threads) {
    if (!b && act == NN_ACT_NONE) return;
#pragma omp parallel for num_threads(threads) if (threads > 1 && rows > 64) schedule(static)
    for (size_t r = 0; r < rows; r++) {
        float *o = out + r * c;
        if (b)
            for (int j = 0; j < c; j++) o[j] += b[j];
        if (act == NN_ACT_RELU)
            for (int j = 0; j < c; j++) o[j] = o[j] > 0 ? o[j] : 0;
    }
}

void nn_conv_forward(const nn_conv_shape *s, const float *in, const float *w, const float *b,
                     nn_act act, float *out, float *scratch, int threads) {
    int cig = s->cin / s->groups, cog = s->cout / s->groups;
    int K = s->k * s->k * cig;
    size_t opix = (size_t)s->oh * s->ow;
    if (is_pointwise(s)) {
        nn_sgemm('N', 'T', (int)(s->n * opix), s->cout, K, 1, in, s->cin, w, K, 0, out, s->cout);
    } else {
        int chunk = chunk_images(s);
        for (int n0 = 0; n0 < s->n; n0 += chunk) {
            int nb = EMO_MIN(chunk, s->n - n0);
            int rows = (int)(nb * opix);
            for (int g = 0; g < s->groups; g++) {
                im2col(s, in, n0, nb, g, scratch, threads);
                nn_sgemm('N', 'T', rows, cog, K, 1, scratch, K, w + (size_t)g * cog * K, K, 0,
                         out + n0 * opix * s->cout + (size_t)g * cog, s->cout);
            }
        }
    }
    bias_act(s->n * opix, s->cout, b, act, out, threads);
}

void nn_conv_backward(const nn_conv_shape *s, const float *in, const float *w, const float *dout,
                      float *dw, float *db, float *din, int acc, float *scratch, int threads) {
    int cig = s->cin / s->groups, cog = s->cout / s->groups;
    int K = s->k * s->k * cig;
    size_t ipix = (size_t)s->h * s->w, opix = (size_t)s->oh * s->ow;
    if (db) {
        for (size_t r = 0; r < s->n * opix; r++) {
            const float *d = dout + r * s->cout;
            for (int j = 0; j < s->cout; j++) db[j] += d[j];
        }
    }
    if (is_pointwise(s)) {
        int rows = (int)(s->n * opix);
        if (dw) nn_sgemm('T', 'N', s->cout, K, rows, 1, dout, s->cout, in, s->cin, 1, dw, K);
        if (din) nn_sgemm('N', 'N', rows, K, s->cout, 1, dout, s->cout, w, K, acc ? 1 : 0, din, s->cin);
        return;
    }
    int chunk = chunk_images(s);
    float *col = scratch, *dcol = scratch + (size_t)chunk * opix * K;
    for (int n0 = 0; n0 < s->n; n0 += chunk) {
        int nb = EMO_MIN(chunk, s->n - n0);
        int rows = (int)(nb * opix);
        if (din && !acc) memset(din + n0 * ipix * s->cin, 0, nb * ipix * s->cin * sizeof *din);
        for (int g = 0; g < s->groups; g++) {
            const float *dg = dout + n0 * opix * s->cout + (size_t)g * cog;
            if (dw) {
                im2col(s, in, n0, nb, g, col, threads);
                nn_sgemm('T', 'N', cog, K, rows, 1, dg, s->cout, col, K, 1, dw + (size_t)g * cog * K, K);
            }
            if (din) {
                nn_sgemm('N', 'N', rows, K, cog, 1, dg, s->cout, w + (size_t)g * cog * K, K, 0, dcol, K);
                col2im_add(s, dcol, n0, nb, g, din, threads);
            }
        }
    }
}
