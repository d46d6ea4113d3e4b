/* layers.c — every layer but convolution: forward next to backward, NHWC.
 * `acc` = 1 adds into din (an output read by two layers), 0 overwrites it. */
#include "nn/nn.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SET_OR_ADD(dst, v, acc) ((dst) = (acc) ? (dst) + (v) : (v))

/* ---- batch normalisation -------------------------------------------------- */

/* Channels are handled in blocks of CB so every temporary sits on the stack
 * (nothing is allocated per batch). */
#define CB 128
static const float zeros[CB]; /* the shift of a plain sum */

/* Per-channel sums over rows for channels [c0, c0+cb) of rows of width c,
 * in float over 64-row runs, then double across runs and threads.
 * y NULL: s1 = sum x, s2 = sum (x - shift)^2;
 * else:   s1 = sum y, s2 = sum y (x - shift) scale, y taken as 0 where
 *         mask (if not NULL) is <= 0. */
static void channel_sums(int rows, int c, int c0, int cb, const float *x, const float *y, const float *mask,
                         const float *shift, const float *scale, double *s1, double *s2) {
    for (int j = 0; j < cb; j++) s1[j] = s2[j] = 0;
#pragma omp parallel
    {
        double a[2 * CB] = {0};
        float fa[2 * CB];
#pragma omp for schedule(static)
        for (int r0 = 0; r0 < rows; r0 += 64) {
            int r1 = EMO_MIN(rows, r0 + 64);
            for (int j = 0; j < cb; j++) fa[j] = fa[CB + j] = 0;
            for (int r = r0; r < r1; r++) {
                const float *xr = x + (size_t)r * c + c0;
                if (y && mask) {
                    const float *yr = y + (size_t)r * c + c0, *mr = mask + (size_t)r * c + c0;
                    for (int j = 0; j < cb; j++) {
                        float d = mr[j] > 0 ? yr[j] : 0.0f;
                        fa[j] += d;
                        fa[CB + j] += d * (xr[j] - shift[j]) * scale[j];
                    }
                } else if (y) {
                    const float *yr = y + (size_t)r * c + c0;
                    for (int j = 0; j < cb; j++) {
                        fa[j] += yr[j];
                        fa[CB + j] += yr[j] * (xr[j] - shift[j]) * scale[j];
                    }
                } else {
                    for (int j = 0; j < cb; j++) {
                        float d = xr[j] - shift[j];
                        fa[j] += xr[j];
                        fa[CB + j] += d * d;
                    }
                }
            }
            for (int j = 0; j < cb; j++) {
                a[j] += fa[j];
                a[CB + j] += fa[CB + j];
            }
        }
#pragma omp critical
        for (int j = 0; j < cb; j++) {
            s1[j] += a[j];
            s2[j] += a[CB + j];
        }
    }
}

void nn_bn_forward(int rows, int c, const float *in, const float *gamma, const float *beta,
                   float *run_mean, float *run_var, float eps, float momentum, int train, int relu,
                   float *mean_invstd, float *out) {
    float *mean = mean_invstd, *invstd = mean_invstd + c;
    if (train) {
        /* Two passes: the mean first, then the variance around it, which
         * avoids cancellation for large means. */
        for (int c0 = 0; c0 < c; c0 += CB) {
            int cb = EMO_MIN(CB, c - c0);
            double s1[CB], s2[CB];
            channel_sums(rows, c, c0, cb, in, NULL, NULL, zeros, NULL, s1, s2);
            nn_bn_set_stats(rows, cb, s1, NULL, eps, momentum, NULL, NULL, mean + c0, NULL);
            channel_sums(rows, c, c0, cb, in, NULL, NULL, mean + c0, NULL, s1, s2);
            nn_bn_set_stats(rows, cb, s1, s2, eps, momentum, run_mean + c0, run_var + c0, mean + c0, invstd + c0);
        }
    } else {
        for (int j = 0; j < c; j++) {
            mean[j] = run_mean[j];
            invstd[j] = 1.0f / sqrtf(run_var[j] + eps);
        }
    }
    nn_bn_normalise(rows, c, in, gamma, beta, mean_invstd, relu, out);
}

void nn_bn_normalise(int rows, int c, const float *in, const float *gamma, const float *beta,
                     const float *mean_invstd, int relu, float *out) {
    const float *mean = mean_invstd, *invstd = mean_invstd + c;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        const float *x = in + (size_t)r * c;
        float *o = out + (size_t)r * c;
        if (relu)
            for (int j = 0; j < c; j++) {
                float v = (x[j] - mean[j]) * invstd[j] * gamma[j] + beta[j];
                o[j] = v > 0 ? v : 0;
            }
        else
            for (int j = 0; j < c; j++) o[j] = (x[j] - mean[j]) * invstd[j] * gamma[j] + beta[j];
    }
}

void nn_bn_sums(int rows, int c, const float *x, const float *y, const float *mask, const float *shift,
                const float *scale, double *s1, double *s2) {
    for (int c0 = 0; c0 < c; c0 += CB)
        channel_sums(rows, c, c0, EMO_MIN(CB, c - c0), x, y, mask, shift ? shift + c0 : zeros,
                     scale ? scale + c0 : NULL, s1 + c0, s2 + c0);
}

void nn_bn_set_stats(int rows, int c, const double *s1, const double *s2, float eps, float momentum,
                     float *run_mean, float *run_var, float *mean, float *invstd) {
    if (!s2) {
        for (int j = 0; j < c; j++) mean[j] = (float)(s1[j] / rows);
        return;
    }
    for (int j = 0; j < c; j++) {
        double var = s2[j] / rows;
        double unbiased = rows > 1 ? s2[j] / (rows - 1) : var;
        invstd[j] = (float)(1.0 / sqrt(var + eps));
        run_mean[j] = (1 - momentum) * run_mean[j] + momentum * mean[j];
        run_var[j] = (float)((1 - momentum) * run_var[j] + momentum * unbiased);
    }
}

void nn_bn_backward(int rows, int c, const float *in, const float *gamma, const float *mean_invstd,
                    const float *relu_out, const float *dout, float *dgamma, float *dbeta, float *din, int acc) {
    const float *mean = mean_invstd, *invstd = mean_invstd + c;
    for (int c0 = 0; c0 < c; c0 += CB) {
        int cb = EMO_MIN(CB, c - c0);
        double sd[CB], sdx[CB];
        float k1[CB], k2[CB];
        /* sd = sum dout, sdx = sum dout * xhat */
        channel_sums(rows, c, c0, cb, in, dout, relu_out, mean + c0, invstd + c0, sd, sdx);
        nn_bn_set_grads(rows, cb, sd, sdx, dgamma + c0, dbeta + c0, k1, k2);
        if (din) nn_bn_backward_din(rows, c, c0, cb, in, gamma, mean_invstd, relu_out, dout, k1, k2, din, acc);
    }
}

void nn_bn_set_grads(int rows, int c, const double *sd, const double *sdx, float *dgamma, float *dbeta, float *k1,
                     float *k2) {
    for (int j = 0; j < c; j++) {
        dbeta[j] += (float)sd[j];
        dgamma[j] += (float)sdx[j];
        k1[j] = (float)(sd[j] / rows);
        k2[j] = (float)(sdx[j] / rows);
    }
}

void nn_bn_backward_din(int rows, int c, int c0, int cb, const float *in, const float *gamma,
                        const float *mean_invstd, const float *relu_out, const float *dout, const float *k1,
                        const float *k2, float *din, int acc) {
    const float *m = mean_invstd + c0, *is = mean_invstd + c + c0, *ga = gamma + c0;
    /* din = gamma invstd (dout - mean(dout) - xhat mean(dout xhat)) */
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        const float *x = in + (size_t)r * c + c0, *d = dout + (size_t)r * c + c0;
        const float *y = relu_out ? relu_out + (size_t)r * c + c0 : NULL;
        float *o = din + (size_t)r * c + c0;
        /* the four cases apart, so that each inner loop is one vector loop */
        if (y && acc)
#pragma omp simd
            for (int j = 0; j < cb; j++)
                o[j] += ga[j] * is[j] * ((y[j] > 0 ? d[j] : 0.0f) - k1[j] - (x[j] - m[j]) * is[j] * k2[j]);
        else if (y)
#pragma omp simd
            for (int j = 0; j < cb; j++)
                o[j] = ga[j] * is[j] * ((y[j] > 0 ? d[j] : 0.0f) - k1[j] - (x[j] - m[j]) * is[j] * k2[j]);
        else if (acc)
#pragma omp simd
            for (int j = 0; j < cb; j++) o[j] += ga[j] * is[j] * (d[j] - k1[j] - (x[j] - m[j]) * is[j] * k2[j]);
        else
#pragma omp simd
            for (int j = 0; j < cb; j++) o[j] = ga[j] * is[j] * (d[j] - k1[j] - (x[j] - m[j]) * is[j] * k2[j]);
    }
}

/* ---- activations ---------------------------------------------------------- */

void nn_relu_forward(size_t n, const float *in, float *out) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : 0;
}

void nn_relu_backward(size_t n, const float *out, const float *dout, float *din, int acc) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float v = out[i] > 0 ? dout[i] : 0;
        SET_OR_ADD(din[i], v, acc);
    }
}

void nn_silu_forward(size_t n, const float *in, float *out) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = in[i] / (1 + expf(-in[i]));
}

void nn_silu_backward(size_t n, const float *in, const float *dout, float *din, int acc) {
    /* d/dx x s(x) = s(x) (1 + x (1 - s(x))) */
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float sg = 1 / (1 + expf(-in[i]));
        float v = dout[i] * sg * (1 + in[i] * (1 - sg));
        SET_OR_ADD(din[i], v, acc);
    }
}

/* ---- pooling ---------------------------------------------------------------- */

void nn_maxpool_forward(const nn_pool_shape *s, const float *in, float *out) {
    int c = s->c;
#pragma omp parallel for schedule(static)
    for (long li = 0; li < (long)s->n * s->oh; li++) {
        int n = (int)(li / s->oh), oy = (int)(li % s->oh);
        for (int ox = 0; ox < s->ow; ox++) {
            float *o = out + (((size_t)n * s->oh + oy) * s->ow + ox) * c;
            for (int j = 0; j < c; j++) o[j] = -INFINITY;
            for (int ky = 0; ky < s->k; ky++) {
                int iy = oy * s->stride - s->pad + ky;
                if (iy < 0 || iy >= s->h) continue;
                for (int kx = 0; kx < s->k; kx++) {
                    int ix = ox * s->stride - s->pad + kx;
                    if (ix < 0 || ix >= s->w) continue;
                    const float *x = in + (((size_t)n * s->h + iy) * s->w + ix) * c;
                    for (int j = 0; j < c; j++) o[j] = x[j] > o[j] ? x[j] : o[j];
                }
            }
        }
    }
}

/* 2x2 windows of stride 2 tiling the input: every input element is in one
 * window, so din is written once, without clearing it first (half the
 * memory traffic of the general loop). Same first-maximum rule. */
static void maxpool2_backward(const nn_pool_shape *s, const float *in, const float *out, const float *dout,
                              float *din) {
    int c = s->c;
    size_t row = (size_t)s->w * c;
#pragma omp parallel for schedule(static)
    for (long li = 0; li < (long)s->n * s->oh; li++) {
        int n = (int)(li / s->oh), oy = (int)(li % s->oh);
        for (int ox = 0; ox < s->ow; ox++) {
            size_t oo = (((size_t)n * s->oh + oy) * s->ow + ox) * c;
            size_t io = (((size_t)n * s->h + 2 * oy) * s->w + 2 * ox) * c;
            const float *m = out + oo, *d = dout + oo;
            const float *x0 = in + io, *x1 = x0 + c, *x2 = x0 + row, *x3 = x2 + c;
            float *g0 = din + io, *g1 = g0 + c, *g2 = g0 + row, *g3 = g2 + c;
#pragma omp simd
            for (int j = 0; j < c; j++) {
                int h0 = x0[j] == m[j], h1 = !h0 && x1[j] == m[j], h2 = !h0 && !h1 && x2[j] == m[j];
                int h3 = !h0 && !h1 && !h2 && x3[j] == m[j];
                g0[j] = h0 ? d[j] : 0.0f;
                g1[j] = h1 ? d[j] : 0.0f;
                g2[j] = h2 ? d[j] : 0.0f;
                g3[j] = h3 ? d[j] : 0.0f;
            }
        }
    }
}

void nn_maxpool_backward(const nn_pool_shape *s, const float *in, const float *out, const float *dout,
                         float *din, int acc) {
    int c = s->c;
    if (!acc && s->k == 2 && s->stride == 2 && s->pad == 0 && s->h == 2 * s->oh && s->w == 2 * s->ow) {
        maxpool2_backward(s, in, out, dout, din);
        return;
    }
    if (!acc) memset(din, 0, (size_t)s->n * s->h * s->w * c * sizeof *din);
    /* The gradient goes to the first maximum of each window in scan order
     * (as PyTorch). Images are independent, so split over them; channels in
     * blocks so the "already routed" flags sit on the stack. */
#pragma omp parallel for schedule(static)
    for (int n = 0; n < s->n; n++)
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                size_t oo = (((size_t)n * s->oh + oy) * s->ow + ox) * c;
                for (int c0 = 0; c0 < c; c0 += CB) {
                    int cb = EMO_MIN(CB, c - c0);
                    unsigned char done[CB] = {0};
                    const float *m = out + oo + c0, *d = dout + oo + c0;
                    for (int ky = 0; ky < s->k; ky++) {
                        int iy = oy * s->stride - s->pad + ky;
                        if (iy < 0 || iy >= s->h) continue;
                        for (int kx = 0; kx < s->k; kx++) {
                            int ix = ox * s->stride - s->pad + kx;
                            if (ix < 0 || ix >= s->w) continue;
                            size_t io = (((size_t)n * s->h + iy) * s->w + ix) * c + c0;
                            const float *x = in + io;
                            float *g = din + io;
                            for (int j = 0; j < cb; j++) {
                                int hit = !done[j] && x[j] == m[j];
                                g[j] += hit ? d[j] : 0.0f;
                                done[j] |= hit;
                            }
                        }
                    }
                }
            }
}

void nn_avgpool_forward(const nn_pool_shape *s, const float *in, float *out) {
    int c = s->c;
    float inv = 1.0f / (float)(s->k * s->k);
#pragma omp parallel for schedule(static)
    for (long li = 0; li < (long)s->n * s->oh; li++) {
        int n = (int)(li / s->oh), oy = (int)(li % s->oh);
        for (int ox = 0; ox < s->ow; ox++) {
            float *o = out + (((size_t)n * s->oh + oy) * s->ow + ox) * c;
            for (int j = 0; j < c; j++) o[j] = 0;
            for (int ky = 0; ky < s->k; ky++) {
                int iy = oy * s->stride - s->pad + ky;
                if (iy < 0 || iy >= s->h) continue;
                for (int kx = 0; kx < s->k; kx++) {
                    int ix = ox * s->stride - s->pad + kx;
                    if (ix < 0 || ix >= s->w) continue;
                    const float *x = in + (((size_t)n * s->h + iy) * s->w + ix) * c;
                    for (int j = 0; j < c; j++) o[j] += x[j];
                }
            }
            for (int j = 0; j < c; j++) o[j] *= inv;
        }
    }
}

void nn_avgpool_backward(const nn_pool_shape *s, const float *dout, float *din, int acc) {
    int c = s->c;
    float inv = 1.0f / (float)(s->k * s->k);
    if (!acc) memset(din, 0, (size_t)s->n * s->h * s->w * c * sizeof *din);
#pragma omp parallel for schedule(static)
    for (int n = 0; n < s->n; n++)
        for (int oy = 0; oy < s->oh; oy++)
            for (int ox = 0; ox < s->ow; ox++) {
                const float *d = dout + (((size_t)n * s->oh + oy) * s->ow + ox) * c;
                for (int ky = 0; ky < s->k; ky++) {
                    int iy = oy * s->stride - s->pad + ky;
                    if (iy < 0 || iy >= s->h) continue;
                    for (int kx = 0; kx < s->k; kx++) {
                        int ix = ox * s->stride - s->pad + kx;
                        if (ix < 0 || ix >= s->w) continue;
                        float *x = din + (((size_t)n * s->h + iy) * s->w + ix) * c;
                        for (int j = 0; j < c; j++) x[j] += d[j] * inv;
                    }
                }
            }
}

void nn_gap_forward(int n, int hw, int c, const float *in, float *out) {
    float inv = 1.0f / (float)hw;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        float *o = out + (size_t)i * c;
        for (int j = 0; j < c; j++) o[j] = 0;
        for (int p = 0; p < hw; p++) {
            const float *x = in + ((size_t)i * hw + p) * c;
            for (int j = 0; j < c; j++) o[j] += x[j];
        }
        for (int j = 0; j < c; j++) o[j] *= inv;
    }
}

void nn_gap_backward(int n, int hw, int c, const float *dout, float *din, int acc) {
    float inv = 1.0f / (float)hw;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++)
        for (int p = 0; p < hw; p++) {
            float *x = din + ((size_t)i * hw + p) * c;
            const float *d = dout + (size_t)i * c;
            for (int j = 0; j < c; j++) SET_OR_ADD(x[j], d[j] * inv, acc);
        }
}

/* ---- dropout ----------------------------------------------------------------- */

static inline uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void nn_dropout_forward(size_t n, float p, uint64_t *rng, const float *in, float *mask, float *out) {
    float keep = p < 1 ? 1.0f / (1.0f - p) : 0.0f;
    /* 24-bit uniforms; threshold compare keeps it exact for any p. */
    uint32_t thr = (uint32_t)((double)p * (1u << 24));
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)(splitmix64(rng) >> 40);
        mask[i] = u < thr ? 0.0f : keep;
        out[i] = in[i] * mask[i];
    }
}

void nn_dropout_backward(size_t n, const float *mask, const float *dout, float *din, int acc) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) SET_OR_ADD(din[i], dout[i] * mask[i], acc);
}

/* ---- linear -------------------------------------------------------------------- */

void nn_linear_forward_ref(int n, int cin, int cout, const float *in, const float *w, const float *b,
                           float *out) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < cout; j++) {
            double acc = b ? b[j] : 0;
            for (int k = 0; k < cin; k++) acc += (double)in[(size_t)i * cin + k] * w[(size_t)j * cin + k];
            out[(size_t)i * cout + j] = (float)acc;
        }
}

void nn_linear_backward_ref(int n, int cin, int cout, const float *in, const float *w, const float *dout,
                            float *dw, float *db, float *din, int acc) {
    for (int i = 0; i < n; i++)
        for (int k = 0; k < cin; k++) {
            double g = 0;
            for (int j = 0; j < cout; j++) g += (double)dout[(size_t)i * cout + j] * w[(size_t)j * cin + k];
            din[(size_t)i * cin + k] = (float)(acc ? din[(size_t)i * cin + k] + g : g);
        }
    for (int j = 0; j < cout; j++) {
        for (int k = 0; k < cin; k++) {
            double g = 0;
            for (int i = 0; i < n; i++) g += (double)dout[(size_t)i * cout + j] * in[(size_t)i * cin + k];
            dw[(size_t)j * cin + k] += (float)g;
        }
        if (db)
            for (int i = 0; i < n; i++) db[j] += dout[(size_t)i * cout + j];
    }
}

void nn_linear_forward(int n, int cin, int cout, const float *in, const float *w, const float *b,
                       float *out) {
    nn_sgemm('N', 'T', n, cout, cin, 1, in, cin, w, cin, 0, out, cout);
    if (b)
        for (int i = 0; i < n; i++)
            for (int j = 0; j < cout; j++) out[(size_t)i * cout + j] += b[j];
}

void nn_linear_backward(int n, int cin, int cout, const float *in, const float *w, const float *dout,
                        float *dw, float *db, float *din, int acc) {
    nn_sgemm('T', 'N', cout, cin, n, 1, dout, cout, in, cin, 1, dw, cin);
    if (db)
        for (int i = 0; i < n; i++)
            for (int j = 0; j < cout; j++) db[j] += dout[(size_t)i * cout + j];
    if (din) nn_sgemm('N', 'N', n, cin, cout, 1, dout, cout, w, cin, acc ? 1 : 0, din, cin);
}

/* ---- loss -------------------------------------------------------------------------- */

float nn_softmax_ce(int n, int k, const float *logits, const float *target, float smoothing,
                    float *probs, float *dlogits) {
    /* loss_i = -sum_j t'_j log softmax(z)_j, t' = (1 - eps) t + eps / k;
     * dz = (softmax(z) - t') / n (t' sums to 1). */
    double total = 0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * k, *t = target + (size_t)i * k;
        float *p = probs + (size_t)i * k, *d = dlogits + (size_t)i * k;
        float zmax = -INFINITY;
        for (int j = 0; j < k; j++) zmax = z[j] > zmax ? z[j] : zmax;
        double sum = 0;
        for (int j = 0; j < k; j++) sum += exp((double)z[j] - zmax);
        double lse = zmax + log(sum);
        double li = 0;
        for (int j = 0; j < k; j++) {
            double tj = (1.0 - smoothing) * t[j] + smoothing / k;
            double lp = z[j] - lse;
            li -= tj * lp;
            p[j] = (float)exp(lp);
            d[j] = (float)((p[j] - tj) / n);
        }
        total += li;
    }
    return (float)(total / n);
}
