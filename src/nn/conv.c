/* conv.c — 2-D convolution, NHWC, three ways:
 *  - a naive reference (direct loops, double accumulation) the tests hold
 *    the others to;
 *  - im2col + GEMM: a chunk of images at a time, im2col copies, for each
 *    output position (row) and kernel tap, the Cin/groups input channels
 *    (contiguous in NHWC) into col (rows, K = k*k*Cin_g); then
 *    out (rows, Cout_g) = col x W_g^T, one dnnl_sgemm per group. Backward
 *    recomputes col for dW += dout^T col and forms dcol = dout W, which a
 *    gather (each input pixel sums the taps that read it: no write races)
 *    adds to din. A 1x1, stride-1, unpadded convolution uses the input as col;
 *  - direct AVX-512 kernels (bottom of the file) for stride-1 ungrouped
 *    convolutions with channels in multiples of 32, which beat the GEMM path
 *    where the dispatch at the end uses them. */
#include "nn/nn.h"

#include <dnnl.h>
#include <stddef.h>
#include <string.h>

int nn_conv_algo = NN_CONV_AUTO;
int nn_dw_chunk_bytes = 768 << 10;
int nn_direct_rx = 0;
int nn_wino_dw = 1; /* 0 keeps the weight gradient off Winograd (benchmarks) */
int nn_wino_m = 0; /* 2 forces F(2x2, 3x3) everywhere (tests, benchmarks) */ /* tile choice: 0 auto; 8 or 6 force one (benchmarks) */

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

static size_t im2col_scratch(const nn_conv_shape *s) {
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

static void im2col_forward(const nn_conv_shape *s, const float *in, const float *w, const float *b,
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

static void im2col_backward(const nn_conv_shape *s, const float *in, const float *w, const float *dout,
                            float *dw, float *db, float *din, int acc, float *scratch, int threads) {
    int cig = s->cin / s->groups, cog = s->cout / s->groups;
    int K = s->k * s->k * cig;
    size_t ipix = (size_t)s->h * s->w, opix = (size_t)s->oh * s->ow;
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

/* ---- direct convolution, AVX-512 ---------------------------------------------------
 *
 * For stride-1, ungrouped convolutions with channel counts that are multiples
 * of 32 (vgg-s/m: every layer). No im2col: the input is zero-padded once, the
 * weights are repacked to (KH, KW, Cin, Cout) so 32 output channels are two
 * vectors, and a register tile of RX output pixels x 32 channels (2*RX
 * accumulators, RX up to 12) sums KH*KW*Cin broadcast-FMAs per pixel.
 *   forward:        out = conv(pad(x), W)
 *   backward data:  din = conv(pad'(dout), W flipped, Cin <-> Cout), pad' = k-1-pad
 *   backward weights: dW[ky][kx][ci][co] += sum_p x(p + (ky, kx))[ci] dout(p)[co],
 *                   tiles of 8 input channels x 32 output channels, over
 *                   chunks of images, threads split the (ky, kx, ci, co) tiles. */
#if defined(__AVX512F__)
#include <immintrin.h>
#include <omp.h>

/* Where each kernel applies and, measured on Zen 5 (docs/BENCHMARKS.md), beats
 * im2col + dnnl_sgemm: forward and backward-data everywhere they apply;
 * backward-weights only on large images, where the GEMM's narrow side (Cout)
 * hurts it; on small images its long-K GEMM wins. NN_CONV_DIRECT forces
 * them wherever they apply (tests). */
static int direct_fwd_ok(const nn_conv_shape *s) {
    return nn_conv_algo != NN_CONV_IM2COL && s->stride == 1 && s->groups == 1 && s->cout % 32 == 0 && s->k > 1;
}
static int direct_bwd_data_ok(const nn_conv_shape *s) {
    return nn_conv_algo != NN_CONV_IM2COL && s->stride == 1 && s->groups == 1 && s->cin % 32 == 0 && s->k > 1 &&
           s->k - 1 - s->pad >= 0;
}
static int direct_bwd_w_ok(const nn_conv_shape *s) {
    return nn_conv_algo != NN_CONV_IM2COL && s->stride == 1 && s->groups == 1 &&
           (s->cin % 8 == 0 || (s->cin == 1 && s->k <= 3)) && s->cout % 32 == 0 && s->k > 1 &&
           (s->oh * s->ow >= 1024 || nn_conv_algo == NN_CONV_DIRECT);
}

/* (n, h, w, c) -> (n, h+2p, w+2p, c) with zero borders. */
static void pad_nhwc(const float *in, int n, int h, int w, int c, int p, float *out, int threads) {
    int hp = h + 2 * p, wp = w + 2 * p;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long li = 0; li < (long)n * hp; li++) {
        int i = (int)(li / hp), y = (int)(li % hp) - p;
        float *o = out + (size_t)li * wp * c;
        if (y < 0 || y >= h) {
            memset(o, 0, (size_t)wp * c * sizeof *o);
            continue;
        }
        memset(o, 0, (size_t)p * c * sizeof *o);
        memcpy(o + (size_t)p * c, in + (((size_t)i * h + y) * w) * c, (size_t)w * c * sizeof *o);
        memset(o + (size_t)(p + w) * c, 0, (size_t)p * c * sizeof *o);
    }
}

/* One tile: RX consecutive output pixels of one row x 16*CV channels
 * (RX*CV accumulators, at most 24 of the 32 vector registers).
 * xp: padded input at the tile's top-left tap, xrow floats per padded row;
 * wr: the repacked weights of this tile's channel block, (k, k, cin, 16*CV). */
static inline __attribute__((always_inline)) void fwd_tile(const int RX, const int CV, const float *xp, size_t xrow,
                                                           int cin, int k, const float *wr, int cout, float *out,
                                                           const float *bias, int relu, int accum) {
    __m512 a[8][4], w[4];
    for (int v = 0; v < CV; v++) w[v] = bias ? _mm512_loadu_ps(bias + 16 * v) : _mm512_setzero_ps();
    for (int r = 0; r < RX; r++)
        for (int v = 0; v < CV; v++) a[r][v] = w[v];
    for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++) {
            const float *xr = xp + ky * xrow + (size_t)kx * cin;
            const float *wk = wr + (size_t)(ky * k + kx) * cin * 16 * CV;
            for (int ci = 0; ci < cin; ci++) {
                for (int v = 0; v < CV; v++) w[v] = _mm512_loadu_ps(wk + (size_t)ci * 16 * CV + 16 * v);
                for (int r = 0; r < RX; r++) {
                    __m512 b = _mm512_set1_ps(xr[(size_t)r * cin + ci]);
                    for (int v = 0; v < CV; v++) a[r][v] = _mm512_fmadd_ps(b, w[v], a[r][v]);
                }
            }
        }
    for (int r = 0; r < RX; r++)
        for (int v = 0; v < CV; v++) {
            float *o = out + (size_t)r * cout + 16 * v;
            __m512 t = a[r][v];
            if (accum) t = _mm512_add_ps(t, _mm512_loadu_ps(o));
            if (relu) t = _mm512_max_ps(t, _mm512_setzero_ps());
            _mm512_storeu_ps(o, t);
        }
}

/* Channel block of the direct kernels: 64 output channels (6-pixel tiles)
 * where the channels allow it and rows are not a multiple of 8 pixels,
 * else 32 (8-pixel tiles). */
static int block_width(int cout, int ow) {
    return cout % 64 == 0 && (nn_direct_rx == 6 || (nn_direct_rx == 0 && ow % 8 != 0)) ? 64 : 32;
}

/* wr[b][ky][kx][ci][j] = w(co = b*bw + j, ky, kx, ci): each channel block's
 * weights contiguous, in the order the tiles read them. w is read through
 * strides: element (co, t = ky*k+kx, ci) at w[co*cs + t*ts + ci*is]. */
static void pack_blocks(const float *w, int cout, int taps, int cin, ptrdiff_t cs, ptrdiff_t ts, ptrdiff_t is,
                        int bw, float *wr, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int b = 0; b < cout / bw; b++)
        for (int t = 0; t < taps; t++)
            for (int ci = 0; ci < cin; ci++) {
                float *o = wr + (((size_t)b * taps + t) * cin + ci) * bw;
                for (int j = 0; j < bw; j++) o[j] = w[(b * bw + j) * cs + t * ts + ci * is];
            }
}

/* out (n, oh, ow, cout) = conv(xp (n, oh+k-1, ow+k-1, cin), wr packed by
 * pack_blocks with block_width(cout, ow)). */
static void direct_conv(const float *xp, int n, int oh, int ow, int cin, int cout, int k, const float *wr,
                        const float *bias, int relu, int accum, float *out, int threads) {
    int wp = ow + k - 1, hp = oh + k - 1;
    size_t xrow = (size_t)wp * cin, blk = (size_t)k * k * cin;
    int wide = block_width(cout, ow) == 64;
#define TILE(RX, CV) fwd_tile(RX, CV, xrow0 + (size_t)ox * cin, xrow, cin, k, wr + co * blk, cout, \
                              orow + (size_t)ox * cout + co, bias ? bias + co : NULL, relu, accum)
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long li = 0; li < (long)n * oh; li++) {
        int i = (int)(li / oh), oy = (int)(li % oh);
        const float *xrow0 = xp + ((size_t)i * hp + oy) * xrow;
        float *orow = out + (size_t)li * ow * cout;
        if (wide) {
            for (int co = 0; co < cout; co += 64) {
                int ox = 0;
                for (; ox + 6 <= ow; ox += 6) TILE(6, 4);
                for (; ox + 4 <= ow; ox += 4) TILE(4, 4);
                for (; ox < ow; ox++) TILE(1, 4);
            }
        } else {
            for (int co = 0; co < cout; co += 32) {
                int ox = 0;
                for (; ox + 8 <= ow; ox += 8) TILE(8, 2);
                for (; ox + 4 <= ow; ox += 4) TILE(4, 2);
                for (; ox < ow; ox++) TILE(1, 2);
            }
        }
    }
#undef TILE
}

/* dW tile: 8 input channels x 32 output channels at tap (ky, kx), summed
 * over images [0, nb) of the padded input xp and dout. */
static void dw_tile(const float *xp, const float *dout, int nb, int oh, int ow, int cin, int cout, int k, int ky,
                    int kx, int ci0, int co0, float *dw) {
    __m512 a0[8], a1[8];
    for (int r = 0; r < 8; r++) a0[r] = a1[r] = _mm512_setzero_ps();
    int wp = ow + k - 1, hp = oh + k - 1;
    for (int i = 0; i < nb; i++)
        for (int oy = 0; oy < oh; oy++) {
            const float *x = xp + (((size_t)i * hp + oy + ky) * wp + kx) * cin + ci0;
            const float *d = dout + (((size_t)i * oh + oy) * ow) * cout + co0;
            for (int ox = 0; ox < ow; ox++, x += cin, d += cout) {
                __m512 d0 = _mm512_loadu_ps(d), d1 = _mm512_loadu_ps(d + 16);
                for (int r = 0; r < 8; r++) {
                    __m512 b = _mm512_set1_ps(x[r]);
                    a0[r] = _mm512_fmadd_ps(b, d0, a0[r]);
                    a1[r] = _mm512_fmadd_ps(b, d1, a1[r]);
                }
            }
        }
    /* dw is (cout, k, k, cin): scatter the 8 x 32 tile (small next to the sums) */
    for (int r = 0; r < 8; r++) {
        float t[32];
        _mm512_storeu_ps(t, a0[r]);
        _mm512_storeu_ps(t + 16, a1[r]);
        for (int j = 0; j < 32; j++) dw[(((size_t)(co0 + j) * k + ky) * k + kx) * cin + ci0 + r] += t[j];
    }
}

/* dW for one input channel, k <= 3: taps x 32 channels at co0. */
static void dw_taps1(const float *xp, const float *dout, int n, int oh, int ow, int cout, int k, int co0, float *dw) {
    __m512 a0[9], a1[9];
    int kk = k * k, wp = ow + k - 1, hp = oh + k - 1;
    for (int t = 0; t < 9; t++) a0[t] = a1[t] = _mm512_setzero_ps();
    for (int i = 0; i < n; i++)
        for (int oy = 0; oy < oh; oy++) {
            const float *x = xp + ((size_t)i * hp + oy) * wp;
            const float *d = dout + (((size_t)i * oh + oy) * ow) * cout + co0;
            for (int ox = 0; ox < ow; ox++, d += cout) {
                __m512 d0 = _mm512_loadu_ps(d), d1 = _mm512_loadu_ps(d + 16);
                for (int t = 0; t < kk; t++) {
                    __m512 b = _mm512_set1_ps(x[(size_t)(t / k) * wp + ox + t % k]);
                    a0[t] = _mm512_fmadd_ps(b, d0, a0[t]);
                    a1[t] = _mm512_fmadd_ps(b, d1, a1[t]);
                }
            }
        }
    for (int t = 0; t < kk; t++) {
        float v[32];
        _mm512_storeu_ps(v, a0[t]);
        _mm512_storeu_ps(v + 16, a1[t]);
        for (int j = 0; j < 32; j++) dw[(size_t)(co0 + j) * kk + t] += v[j];
    }
}

static size_t direct_scratch(const nn_conv_shape *s) {
    int p2 = s->k - 1 - s->pad;
    size_t xpad = (size_t)s->n * (s->h + 2 * s->pad) * (s->w + 2 * s->pad) * s->cin;
    size_t dpad = p2 >= 0 ? (size_t)s->n * (s->oh + 2 * p2) * (s->ow + 2 * p2) * s->cout : 0;
    return EMO_MAX(xpad, dpad) + (size_t)s->k * s->k * s->cin * s->cout;
}

static void direct_pack(const nn_conv_shape *s, const float *w, float *wr, int threads) {
    size_t K = (size_t)s->k * s->k * s->cin;
    pack_blocks(w, s->cout, s->k * s->k, s->cin, (ptrdiff_t)K, s->cin, 1, block_width(s->cout, s->ow), wr, threads);
}

static void direct_forward(const nn_conv_shape *s, const float *in, const float *w, const float *packed,
                           const float *b, nn_act act, float *out, float *scratch, int threads) {
    size_t K = (size_t)s->k * s->k * s->cin;
    float *wr = scratch, *xp = scratch + K * s->cout;
    if (packed) wr = (float *)packed;
    else direct_pack(s, w, wr, threads);
    pad_nhwc(in, s->n, s->h, s->w, s->cin, s->pad, xp, threads);
    direct_conv(xp, s->n, s->oh, s->ow, s->cin, s->cout, s->k, wr, b, act == NN_ACT_RELU, 0, out, threads);
}

static void direct_backward_data(const nn_conv_shape *s, const float *w, const float *dout, float *din, int acc,
                                 float *scratch, int threads) {
    int k = s->k, p2 = k - 1 - s->pad;
    float *wr = scratch, *dp = scratch + (size_t)k * k * s->cin * s->cout;
    /* the flipped kernel with the channel roles swapped: out channel ci, tap
     * t = (ky, kx) reads w[co][k-1-ky][k-1-kx][ci]; tap t' = k*k-1-t in w */
    size_t K = (size_t)k * k * s->cin;
    pack_blocks(w + (size_t)(k * k - 1) * s->cin, s->cin, k * k, s->cout, 1, -(ptrdiff_t)s->cin, (ptrdiff_t)K,
                block_width(s->cin, s->w), wr, threads);
    pad_nhwc(dout, s->n, s->oh, s->ow, s->cout, p2, dp, threads);
    direct_conv(dp, s->n, s->h, s->w, s->cout, s->cin, k, wr, NULL, 0, acc, din, threads);
}

static void direct_backward_weights(const nn_conv_shape *s, const float *in, const float *dout, float *dw,
                                    float *scratch, int threads) {
    int k = s->k;
    float *xp = scratch + (size_t)k * k * s->cin * s->cout;
    pad_nhwc(in, s->n, s->h, s->w, s->cin, s->pad, xp, threads);
    if (s->cin == 1) {
        /* one input channel (a grey first layer): all k*k taps x 32 channels in
         * registers, one sweep over the images per channel block */
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int co0 = 0; co0 < s->cout; co0 += 32)
            dw_taps1(xp, dout, s->n, s->oh, s->ow, s->cout, k, co0, dw);
        return;
    }
    int ntile = k * k * (s->cin / 8) * (s->cout / 32);
    int per = s->oh * s->ow;
    size_t xper = (size_t)(s->h + 2 * s->pad) * (s->w + 2 * s->pad) * s->cin, dper = (size_t)per * s->cout;
    /* images per chunk: their input and output gradient stay in L2 while
     * every tile sweeps them */
    int chunk = (int)EMO_CLAMP((size_t)nn_dw_chunk_bytes / ((xper + dper) * sizeof(float)), 1, (size_t)s->n);
#pragma omp parallel num_threads(threads)
    for (int n0 = 0; n0 < s->n; n0 += chunk) {
        int nb = EMO_MIN(chunk, s->n - n0);
#pragma omp for schedule(static)
        for (int t = 0; t < ntile; t++) {
            int co0 = (t % (s->cout / 32)) * 32, r = t / (s->cout / 32);
            int ci0 = (r % (s->cin / 8)) * 8, kk = r / (s->cin / 8);
            dw_tile(xp + n0 * xper, dout + n0 * dper, nb, s->oh, s->ow, s->cin, s->cout, k, kk / k, kk % k, ci0, co0,
                    dw);
        }
    }
}

/* ---- Winograd F(2x2, 3x3) and F(4x4, 3x3), AVX-512 ----------------------------------
 * For 3x3, stride-1, pad-1 convolutions of even-sized images, channels in
 * multiples of 16, 32+ in and out (and 64+ on one side with m = 2: F(2x2)
 * 32 -> 32 runs no faster than the direct kernel). Output tiles of m x m (m = 4 where the
 * image side is a multiple of 4, else 2) cost (m+2)^2 multiplies per input
 * channel instead of 9 m^2. Per chunk of images: the padded input's
 * (m+2)^2 tiles are transformed (V = B^T d B, 16 channels per vector),
 * (m+2)^2 GEMMs M[xi] (tiles, Cout) = V[xi] (tiles, Cin) x U[xi] (Cin, Cout)
 * run through dnnl_sgemm, and the output transform (A^T M A) adds bias, ReLU
 * or the existing output. U = G g G^T is the transformed kernel,
 * ((m+2)^2, Cin, Cout). Backward data is the same with the flipped kernel
 * and Cin <-> Cout. Matrices from Lavin & Gray, "Fast Algorithms for
 * Convolutional Neural Networks" (2015). */

static int wino_m(int h, int w) { return h % 4 == 0 && w % 4 == 0 && nn_wino_m != 2 ? 4 : 2; }

static int wino_ok(const nn_conv_shape *s);
/* Weight gradient by F(3x3, 2x2): where the forward uses Winograd, unless
 * nn_wino_dw is 0 (benchmarks). */
static int wino_dw_ok(const nn_conv_shape *s) { return nn_wino_dw && wino_ok(s); }

static int wino_ok(const nn_conv_shape *s) {
    return (nn_conv_algo == NN_CONV_AUTO || nn_conv_algo == NN_CONV_WINOGRAD) && s->k == 3 && s->stride == 1 &&
           s->pad == 1 && s->groups == 1 && s->h % 2 == 0 && s->w % 2 == 0 && s->cin % 16 == 0 &&
           s->cout % 16 == 0 && EMO_MIN(s->cin, s->cout) >= 32 &&
           (wino_m(s->h, s->w) == 4 || EMO_MAX(s->cin, s->cout) >= 64);
}

/* 1-D transforms, on n values spaced `st` apart (vectors or scalars). */
static inline void wt_in(int m, const __m512 *d, int st, __m512 *o, int os) {
#define D(i) d[(i) * st]
#define O(i) o[(i) * os]
    if (m == 2) {
        O(0) = _mm512_sub_ps(D(0), D(2));
        O(1) = _mm512_add_ps(D(1), D(2));
        O(2) = _mm512_sub_ps(D(2), D(1));
        O(3) = _mm512_sub_ps(D(1), D(3));
    } else {
        __m512 c4 = _mm512_set1_ps(4), c5 = _mm512_set1_ps(5), c2 = _mm512_set1_ps(2);
        __m512 t1 = _mm512_fnmadd_ps(c4, D(2), D(4));          /* d4 - 4 d2 */
        __m512 t2 = _mm512_fnmadd_ps(c4, D(1), D(3));          /* d3 - 4 d1 */
        __m512 t3 = _mm512_sub_ps(D(4), D(2));                 /* d4 - d2 */
        __m512 t4 = _mm512_mul_ps(c2, _mm512_sub_ps(D(3), D(1))); /* 2 (d3 - d1) */
        O(0) = _mm512_add_ps(_mm512_fnmadd_ps(c5, D(2), _mm512_mul_ps(c4, D(0))), D(4));
        O(1) = _mm512_add_ps(t1, t2);
        O(2) = _mm512_sub_ps(t1, t2);
        O(3) = _mm512_add_ps(t3, t4);
        O(4) = _mm512_sub_ps(t3, t4);
        O(5) = _mm512_add_ps(_mm512_fnmadd_ps(c5, D(3), _mm512_mul_ps(c4, D(1))), D(5));
    }
#undef D
#undef O
}

static inline void wt_out(int m, const __m512 *d, int st, __m512 *o) {
#define D(i) d[(i) * st]
    if (m == 2) {
        o[0] = _mm512_add_ps(_mm512_add_ps(D(0), D(1)), D(2));
        o[1] = _mm512_sub_ps(_mm512_sub_ps(D(1), D(2)), D(3));
    } else {
        __m512 a = _mm512_add_ps(D(1), D(2)), b = _mm512_sub_ps(D(1), D(2));
        __m512 c = _mm512_add_ps(D(3), D(4)), e = _mm512_sub_ps(D(3), D(4));
        o[0] = _mm512_add_ps(_mm512_add_ps(D(0), a), c);
        o[1] = _mm512_fmadd_ps(_mm512_set1_ps(2), e, b);
        o[2] = _mm512_fmadd_ps(_mm512_set1_ps(4), c, a);
        o[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8), e, b), D(5));
    }
#undef D
}

static inline void wt_g(int m, const float *g, int st, float *o) {
    float g0 = g[0], g1 = g[st], g2 = g[2 * st];
    if (m == 2) {
        o[0] = g0;
        o[1] = 0.5f * (g0 + g1 + g2);
        o[2] = 0.5f * (g0 - g1 + g2);
        o[3] = g2;
    } else {
        o[0] = g0 / 4;
        o[1] = -(g0 + g1 + g2) / 6;
        o[2] = -(g0 - g1 + g2) / 6;
        o[3] = g0 / 24 + g1 / 12 + g2 / 6;
        o[4] = g0 / 24 - g1 / 12 + g2 / 6;
        o[5] = g2;
    }
}

/* U[xi][i][o] from g(o, i, ky, kx) = w[o*os + i*is + ky*ys + kx*xs]. */
static void wino_weights(int m, const float *w, int nout, int nin, ptrdiff_t os, ptrdiff_t is, ptrdiff_t ys,
                         ptrdiff_t xs, float *U, int threads) {
    int a = m + 2;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int i = 0; i < nin; i++)
        for (int o = 0; o < nout; o++) {
            float g[3][3], t[6][3], u[6];
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 3; x++) g[y][x] = w[o * os + i * is + y * ys + x * xs];
            for (int x = 0; x < 3; x++) {
                float col[6];
                wt_g(m, &g[0][x], 3, col);
                for (int y = 0; y < a; y++) t[y][x] = col[y];
            }
            for (int y = 0; y < a; y++) {
                wt_g(m, t[y], 1, u);
                for (int x = 0; x < a; x++) U[((size_t)(y * a + x) * nin + i) * nout + o] = u[x];
            }
        }
}

static size_t wino_chunk(int m, int h, int w, int cin, int cout, int n) {
    size_t tiles1 = (size_t)(h / m) * (w / m), planes = (size_t)(m + 2) * (m + 2);
    /* V and M of a chunk near the L2 cache, but at least ~128 tiles per GEMM */
    size_t nb = (384u << 10) / (planes * tiles1 * (size_t)(cin + cout));
    size_t need = (128 + tiles1 - 1) / tiles1;
    nb = EMO_MAX(nb, need);
    return EMO_CLAMP(nb, 1, (size_t)n);
}

static size_t wino_scratch(const nn_conv_shape *s, int threads) {
    int m = wino_m(s->h, s->w), c = EMO_MAX(s->cin, s->cout);
    size_t planes = (size_t)(m + 2) * (m + 2);
    size_t nb = EMO_MAX(wino_chunk(m, s->h, s->w, s->cin, s->cout, s->n),
                        wino_chunk(m, s->h, s->w, s->cout, s->cin, s->n));
    size_t tiles = nb * (s->h / m) * (s->w / m);
    return (size_t)s->n * (s->h + 2) * (s->w + 2) * c + planes * tiles * (size_t)(s->cin + s->cout) * EMO_MAX(threads, 1) +
           planes * (size_t)s->cin * s->cout;
}

/* One chunk of nb images from image n0 of the padded input xp: transforms
 * with `threads` threads (1 inside a parallel region), the GEMMs threaded
 * by dnnl unless already inside one. */
static void wino_chunk_run(int m, const float *xp, int n0, int nb, int h, int w, int cin, int cout, const float *U,
                           const float *bias, int relu, int accum, float *out, float *V, float *M, int threads) {
    int a = m + 2, planes = a * a, hp = h + 2, wp = w + 2, tw = w / m;
    long tiles1 = (long)(h / m) * tw, tiles = nb * tiles1;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
    for (long t = 0; t < tiles; t++) {
        int i = n0 + (int)(t / tiles1), r = (int)(t % tiles1), ty = r / tw, tx = r % tw;
        const float *x0 = xp + (((size_t)i * hp + m * ty) * wp + m * tx) * cin;
        for (int c = 0; c < cin; c += 16) {
            __m512 d[36], tt[36], v[36];
            for (int y = 0; y < a; y++)
                for (int x = 0; x < a; x++) d[y * a + x] = _mm512_loadu_ps(x0 + ((size_t)y * wp + x) * cin + c);
            for (int x = 0; x < a; x++) wt_in(m, d + x, a, tt + x, a);        /* columns */
            for (int y = 0; y < a; y++) wt_in(m, tt + y * a, 1, v + y * a, 1); /* rows */
            for (int xi = 0; xi < planes; xi++) _mm512_storeu_ps(V + ((size_t)xi * tiles + t) * cin + c, v[xi]);
        }
    }
    for (int xi = 0; xi < planes; xi++)
        nn_sgemm('N', 'N', (int)tiles, cout, cin, 1, V + (size_t)xi * tiles * cin, cin, U + (size_t)xi * cin * cout,
                 cout, 0, M + (size_t)xi * tiles * cout, cout);
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
    for (long t = 0; t < tiles; t++) {
        int i = n0 + (int)(t / tiles1), r = (int)(t % tiles1), ty = r / tw, tx = r % tw;
        float *o0 = out + (((size_t)i * h + m * ty) * w + m * tx) * cout;
        for (int c = 0; c < cout; c += 16) {
            __m512 mm[36], sr[4 * 6], yv[4];
            for (int xi = 0; xi < planes; xi++) mm[xi] = _mm512_loadu_ps(M + ((size_t)xi * tiles + t) * cout + c);
            for (int x = 0; x < a; x++) {
                __m512 col[4];
                wt_out(m, mm + x, a, col);
                for (int y = 0; y < m; y++) sr[y * a + x] = col[y];
            }
            __m512 b = bias ? _mm512_loadu_ps(bias + c) : _mm512_setzero_ps();
            for (int y = 0; y < m; y++) {
                wt_out(m, sr + y * a, 1, yv);
                for (int x = 0; x < m; x++) {
                    float *o = o0 + ((size_t)y * w + x) * cout + c;
                    __m512 v = _mm512_add_ps(yv[x], b);
                    if (accum) v = _mm512_add_ps(v, _mm512_loadu_ps(o));
                    if (relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
                    _mm512_storeu_ps(o, v);
                }
            }
        }
    }
}

/* out (n, h, w, cout) (=, or += with accum) from in (n, h, w, cin). With
 * several threads and enough images, each thread runs whole chunks on its
 * own V/M (one join per layer, GEMMs sequential inside); else the threads
 * share each chunk. */
static void wino_conv(const float *in, int n, int h, int w, int cin, int cout, const float *U, const float *bias,
                      int relu, int accum, float *out, float *scratch, int threads) {
    int m = wino_m(h, w), planes = (m + 2) * (m + 2);
    size_t tiles1 = (size_t)(h / m) * (w / m);
    float *xp = scratch;
    pad_nhwc(in, n, h, w, cin, 1, xp, threads);
    int chunk = (int)wino_chunk(m, h, w, cin, cout, n), nchunks = (n + chunk - 1) / chunk;
    float *work = xp + (size_t)n * (h + 2) * (w + 2) * cin;
    size_t per = (size_t)planes * chunk * tiles1 * (cin + cout); /* V and M of one chunk */
    if (threads > 1 && nchunks >= 2 * threads) {
#pragma omp parallel num_threads(threads)
        {
            float *V = work + per * omp_get_thread_num(), *M = V + (size_t)planes * chunk * tiles1 * cin;
#pragma omp for schedule(dynamic)
            for (int c = 0; c < nchunks; c++)
                wino_chunk_run(m, xp, c * chunk, EMO_MIN(chunk, n - c * chunk), h, w, cin, cout, U, bias, relu, accum,
                               out, V, M, 1);
        }
    } else {
        float *V = work, *M = V + (size_t)planes * chunk * tiles1 * cin;
        for (int c = 0; c < nchunks; c++)
            wino_chunk_run(m, xp, c * chunk, EMO_MIN(chunk, n - c * chunk), h, w, cin, cout, U, bias, relu, accum, out,
                           V, M, threads);
    }
}

static size_t wino_packed(const nn_conv_shape *s) {
    int a = wino_m(s->h, s->w) + 2;
    return (size_t)a * a * s->cin * s->cout;
}

static void wino_pack(const nn_conv_shape *s, const float *w, float *U, int threads) {
    /* g(o = co, i = ci, ky, kx) = w[((co*3 + ky)*3 + kx)*cin + ci] */
    wino_weights(wino_m(s->h, s->w), w, s->cout, s->cin, 9 * (ptrdiff_t)s->cin, 1, 3 * (ptrdiff_t)s->cin, s->cin,
                 U, threads);
}

static void wino_forward(const nn_conv_shape *s, const float *in, const float *w, const float *packed,
                         const float *b, nn_act act, float *out, float *scratch, int threads) {
    float *U = scratch, *rest = scratch + wino_packed(s);
    if (packed) U = (float *)packed;
    else wino_pack(s, w, U, threads);
    wino_conv(in, s->n, s->h, s->w, s->cin, s->cout, U, b, act == NN_ACT_RELU, 0, out, rest, threads);
}

static void wino_backward_data(const nn_conv_shape *s, const float *w, const float *dout, float *din, int acc,
                               float *scratch, int threads) {
    float *U = scratch;
    /* flipped kernel, channels swapped: g(o = ci, i = co, ky, kx) = w[co][2-ky][2-kx][ci] */
    wino_weights(wino_m(s->h, s->w), w + 8 * (size_t)s->cin, s->cin, s->cout, 1, 9 * (ptrdiff_t)s->cin,
                 -3 * (ptrdiff_t)s->cin, -(ptrdiff_t)s->cin, U, threads);
    wino_conv(dout, s->n, s->h, s->w, s->cout, s->cin, U, NULL, 0, acc, din, scratch + wino_packed(s), threads);
}

/* Weight gradient by Winograd F(3x3, 2x2): for every 2x2 tile of dout and
 * the 4x4 padded-input patch under it, dW (3x3) = A^T [(G g G^T) . (B^T d B)] A
 * with g the dout tile; the sum over tiles moves inside, so per transformed
 * point xi it is one GEMM S[xi] (Cin, Cout) += V[xi]^T (Cin, tiles) x
 * D[xi] (tiles, Cout), and A^T S A runs once at the end. Points 0, 1, -1, inf:
 * B^T d = (d0 - d2, d1 + d2, d2 - d1, d3 - d1), G g = (g0, (g0+g1)/2,
 * (g0-g1)/2, g1), A^T s = (s0 + s1 + s2, s1 - s2, s1 + s2 + s3). */
static inline void wg_in(const __m512 *d, int st, __m512 *o, int os) {
    o[0] = _mm512_sub_ps(d[0], d[2 * st]);
    o[os] = _mm512_add_ps(d[st], d[2 * st]);
    o[2 * os] = _mm512_sub_ps(d[2 * st], d[st]);
    o[3 * os] = _mm512_sub_ps(d[3 * st], d[st]);
}

static inline void wg_g(const __m512 *g, int st, __m512 *o, int os) {
    __m512 h = _mm512_set1_ps(0.5f);
    o[0] = g[0];
    o[os] = _mm512_mul_ps(h, _mm512_add_ps(g[0], g[st]));
    o[2 * os] = _mm512_mul_ps(h, _mm512_sub_ps(g[0], g[st]));
    o[3 * os] = g[st];
}

static size_t wino_dw_chunk(const nn_conv_shape *s) {
    size_t tiles1 = (size_t)(s->h / 2) * (s->w / 2);
    size_t nb = (512u << 10) / (16 * tiles1 * (size_t)(s->cin + s->cout));
    nb = EMO_MAX(nb, (128 + tiles1 - 1) / tiles1);
    return EMO_CLAMP(nb, 1, (size_t)s->n);
}

static size_t wino_dw_scratch(const nn_conv_shape *s) {
    size_t tiles = wino_dw_chunk(s) * (s->h / 2) * (s->w / 2);
    return (size_t)s->n * (s->h + 2) * (s->w + 2) * s->cin + 16 * tiles * (size_t)(s->cin + s->cout) +
           16 * (size_t)s->cin * s->cout;
}

static void wino_backward_weights(const nn_conv_shape *s, const float *in, const float *dout, float *dw,
                                  float *scratch, int threads) {
    int h = s->h, w = s->w, cin = s->cin, cout = s->cout, hp = h + 2, wp = w + 2, tw = w / 2;
    long tiles1 = (long)(h / 2) * tw;
    float *xp = scratch;
    pad_nhwc(in, s->n, h, w, cin, 1, xp, threads);
    int chunk = (int)wino_dw_chunk(s);
    float *V = xp + (size_t)s->n * hp * wp * cin, *D = V + 16 * (size_t)chunk * tiles1 * cin;
    float *S = D + 16 * (size_t)chunk * tiles1 * cout;
    for (int n0 = 0; n0 < s->n; n0 += chunk) {
        int nb = EMO_MIN(chunk, s->n - n0);
        long tiles = nb * tiles1;
#pragma omp parallel for num_threads(threads) if (threads > 1) schedule(static)
        for (long t = 0; t < tiles; t++) {
            int i = n0 + (int)(t / tiles1), r = (int)(t % tiles1), ty = r / tw, tx = r % tw;
            const float *x0 = xp + (((size_t)i * hp + 2 * ty) * wp + 2 * tx) * cin;
            for (int c = 0; c < cin; c += 16) {
                __m512 d[16], tt[16], v[16];
                for (int y = 0; y < 4; y++)
                    for (int x = 0; x < 4; x++) d[y * 4 + x] = _mm512_loadu_ps(x0 + ((size_t)y * wp + x) * cin + c);
                for (int x = 0; x < 4; x++) wg_in(d + x, 4, tt + x, 4);
                for (int y = 0; y < 4; y++) wg_in(tt + y * 4, 1, v + y * 4, 1);
                for (int xi = 0; xi < 16; xi++) _mm512_storeu_ps(V + ((size_t)xi * tiles + t) * cin + c, v[xi]);
            }
            const float *g0 = dout + (((size_t)i * h + 2 * ty) * w + 2 * tx) * cout;
            for (int c = 0; c < cout; c += 16) {
                __m512 g[4], tg[8], u[16];
                for (int y = 0; y < 2; y++)
                    for (int x = 0; x < 2; x++) g[y * 2 + x] = _mm512_loadu_ps(g0 + ((size_t)y * w + x) * cout + c);
                for (int x = 0; x < 2; x++) wg_g(g + x, 2, tg + x, 2); /* columns: (4, 2) */
                for (int y = 0; y < 4; y++) wg_g(tg + y * 2, 1, u + y * 4, 1);
                for (int xi = 0; xi < 16; xi++) _mm512_storeu_ps(D + ((size_t)xi * tiles + t) * cout + c, u[xi]);
            }
        }
        for (int xi = 0; xi < 16; xi++)
            nn_sgemm('T', 'N', cin, cout, (int)tiles, 1, V + (size_t)xi * tiles * cin, cin, D + (size_t)xi * tiles * cout,
                     cout, n0 ? 1 : 0, S + (size_t)xi * cin * cout, cout);
    }
    /* dw[co][ky][kx][ci] += (A^T S A)[ky][kx] */
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int co = 0; co < cout; co++)
        for (int ci = 0; ci < cin; ci++) {
            float sm[16], t[3][4];
            for (int xi = 0; xi < 16; xi++) sm[xi] = S[((size_t)xi * cin + ci) * cout + co];
            for (int x = 0; x < 4; x++) {
                t[0][x] = sm[x] + sm[4 + x] + sm[8 + x];
                t[1][x] = sm[4 + x] - sm[8 + x];
                t[2][x] = sm[4 + x] + sm[8 + x] + sm[12 + x];
            }
            for (int y = 0; y < 3; y++) {
                float o[3] = {t[y][0] + t[y][1] + t[y][2], t[y][1] - t[y][2], t[y][1] + t[y][2] + t[y][3]};
                for (int x = 0; x < 3; x++) dw[(((size_t)co * 3 + y) * 3 + x) * cin + ci] += o[x];
            }
        }
}
#else
static int direct_fwd_ok(const nn_conv_shape *s) { return 0; }
static int direct_bwd_data_ok(const nn_conv_shape *s) { return 0; }
static int direct_bwd_w_ok(const nn_conv_shape *s) { return 0; }
static size_t direct_scratch(const nn_conv_shape *s) { return 0; }
static int wino_ok(const nn_conv_shape *s) { return 0; }
static int wino_dw_ok(const nn_conv_shape *s) { return 0; }
static size_t wino_scratch(const nn_conv_shape *s, int threads) { return 0; }
static size_t wino_packed(const nn_conv_shape *s) { return 0; }
static size_t wino_dw_scratch(const nn_conv_shape *s) { return 0; }
static void wino_backward_weights(const nn_conv_shape *s, const float *in, const float *dout, float *dw,
                                  float *scratch, int threads) {}
static void wino_pack(const nn_conv_shape *s, const float *w, float *U, int threads) {}
static void wino_forward(const nn_conv_shape *s, const float *in, const float *w, const float *packed,
                         const float *b, nn_act act, float *out, float *scratch, int threads) {}
static void wino_backward_data(const nn_conv_shape *s, const float *w, const float *dout, float *din, int acc,
                               float *scratch, int threads) {}
static void direct_pack(const nn_conv_shape *s, const float *w, float *wr, int threads) {}
static void direct_forward(const nn_conv_shape *s, const float *in, const float *w, const float *packed,
                           const float *b, nn_act act, float *out, float *scratch, int threads) {}
static void direct_backward_data(const nn_conv_shape *s, const float *w, const float *dout, float *din, int acc,
                                 float *scratch, int threads) {}
static void direct_backward_weights(const nn_conv_shape *s, const float *in, const float *dout, float *dw,
                                    float *scratch, int threads) {}
#endif

/* ---- dispatch --------------------------------------------------------------------- */

size_t nn_conv_scratch_floats(const nn_conv_shape *s, int threads) {
    size_t d = direct_fwd_ok(s) || direct_bwd_data_ok(s) || direct_bwd_w_ok(s) ? direct_scratch(s) : 0;
    size_t wg = wino_ok(s) ? EMO_MAX(wino_scratch(s, threads), wino_dw_scratch(s)) : 0;
    return EMO_MAX(EMO_MAX(im2col_scratch(s), d), wg);
}

size_t nn_conv_packed_floats(const nn_conv_shape *s) {
    if (wino_ok(s)) return wino_packed(s);
    return direct_fwd_ok(s) ? (size_t)s->k * s->k * s->cin * s->cout : 0;
}

void nn_conv_pack(const nn_conv_shape *s, const float *w, float *packed, int threads) {
    if (wino_ok(s)) wino_pack(s, w, packed, threads);
    else if (direct_fwd_ok(s)) direct_pack(s, w, packed, threads);
}

void nn_conv_forward(const nn_conv_shape *s, const float *in, const float *w, const float *packed, const float *b,
                     nn_act act, float *out, float *scratch, int threads) {
    if (wino_ok(s)) wino_forward(s, in, w, packed, b, act, out, scratch, threads);
    else if (direct_fwd_ok(s)) direct_forward(s, in, w, packed, b, act, out, scratch, threads);
    else im2col_forward(s, in, w, b, act, out, scratch, threads);
}

void nn_conv_bias_backward(size_t rows, int cout, const float *dout, float *db) {
    for (size_t r = 0; r < rows; r++) {
        const float *d = dout + r * cout;
        for (int j = 0; j < cout; j++) db[j] += d[j];
    }
}

void nn_conv_backward(const nn_conv_shape *s, const float *in, const float *w, const float *dout, float *dw,
                      float *db, float *din, int acc, float *scratch, int threads) {
    int dwd = dw && direct_bwd_w_ok(s), dind = din && direct_bwd_data_ok(s);
    if (db) nn_conv_bias_backward((size_t)s->n * s->oh * s->ow, s->cout, dout, db);
    if (dw && wino_dw_ok(s)) {
        wino_backward_weights(s, in, dout, dw, scratch, threads);
        dwd = 1;
    } else if (dwd) {
        direct_backward_weights(s, in, dout, dw, scratch, threads);
    }
    if (din && wino_ok(s)) {
        wino_backward_data(s, w, dout, din, acc, scratch, threads);
        dind = 1;
    } else if (dind) {
        direct_backward_data(s, w, dout, din, acc, scratch, threads);
    }
    if ((dw && !dwd) || (din && !dind))
        im2col_backward(s, in, w, dout, dwd ? NULL : dw, NULL, dind ? NULL : din, acc, scratch, threads);
}
