/* train.c — training techniques around the plain loop (nn.h, "training
 * techniques"): mixup and cutmix of a batch, class-weighted softmax
 * cross-entropy, and running averages of the weights (EMA, SWA). */
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- random numbers ------------------------------------------------------------ */

static uint64_t rnd_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* uniform in (0, 1): never 0, so logs and powers stay finite */
static double rnd_open01(uint64_t *s) { return ((double)(rnd_next(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

static double rnd_normal(uint64_t *s) {
    double u = rnd_open01(s), v = rnd_open01(s);
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* Gamma(a, 1) by Marsaglia and Tsang (2000); a < 1 through
 * Gamma(a + 1) * U^(1/a). */
static double rnd_gamma(uint64_t *s, double a) {
    if (a < 1) {
        double g = rnd_gamma(s, a + 1);
        return g * pow(rnd_open01(s), 1 / a);
    }
    double d = a - 1.0 / 3, c = 1 / sqrt(9 * d);
    for (;;) {
        double z = rnd_normal(s), v = 1 + c * z;
        if (v <= 0) continue;
        v = v * v * v;
        double u = rnd_open01(s);
        if (log(u) < 0.5 * z * z + d - d * v + d * log(v)) return d * v;
    }
}

double nn_beta_sample(uint64_t *rng, double a) {
    double x = rnd_gamma(rng, a), y = rnd_gamma(rng, a);
    /* both underflow to 0 only for tiny a: then one of the two images wins */
    if (x + y <= 0) return rnd_open01(rng) < 0.5 ? 0 : 1;
    return x / (x + y);
}

/* ---- mixup and cutmix ---------------------------------------------------------- */

int nn_mix_parse(const char *spec, nn_mix *out) {
    nn_mix m = {0, 0, 1};
    if (!spec || !*spec || strcmp(spec, "none") == 0) {
        *out = (nn_mix){0, 0, 0};
        return EMO_OK;
    }
    char buf[256];
    if (strlen(spec) >= sizeof buf) return emo_fail(EMO_EINVAL, "mix '%.40s...': too long", spec);
    strcpy(buf, spec);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '='), *end;
        if (!eq) return emo_fail(EMO_EINVAL, "mix '%s': '%s' is not key=value (mixup=A, cutmix=A, p=P)", spec, tok);
        *eq = 0;
        float v = strtof(eq + 1, &end);
        if (end == eq + 1 || *end || !isfinite(v))
            return emo_fail(EMO_EINVAL, "mix '%s': %s wants a number, got '%s'", spec, tok, eq + 1);
        if (strcmp(tok, "mixup") == 0 || strcmp(tok, "cutmix") == 0) {
            if (!(v > 0 && v <= 100))
                return emo_fail(EMO_EINVAL, "mix '%s': %s=%g: the Beta alpha must be in (0, 100]", spec, tok, v);
            *(tok[0] == 'm' ? &m.mixup : &m.cutmix) = v;
        } else if (strcmp(tok, "p") == 0) {
            if (!(v > 0 && v <= 1)) return emo_fail(EMO_EINVAL, "mix '%s': p=%g: want a probability in (0, 1]", spec, v);
            m.p = v;
        } else
            return emo_fail(EMO_EINVAL, "mix '%s': unknown key '%s' (mixup, cutmix, p)", spec, tok);
    }
    if (m.mixup == 0 && m.cutmix == 0)
        return emo_fail(EMO_EINVAL, "mix '%s': give mixup=A and/or cutmix=A (or none)", spec);
    *out = m;
    return EMO_OK;
}
/* Rows i and n-1-i of x (n rows of `per`) become l*own + (1-l)*partner. */
static void mix_pairs(float *x, size_t per, int n, float l) {
    float l1 = 1 - l;
    for (int i = 0; i < n / 2; i++) {
        float *a = x + (size_t)i * per, *b = x + (size_t)(n - 1 - i) * per;
        for (size_t q = 0; q < per; q++) {
            float u = a[q], v = b[q];
            a[q] = l * u + l1 * v;
            b[q] = l * v + l1 * u;
        }
    }
}


int nn_mix_batch(const nn_mix *m, uint64_t seed, int n, int h, int w, int c, float *x, int k, float *target,
                 float *lambda) {
    if (lambda) *lambda = 1;
    if (!m || m->p <= 0 || (m->mixup <= 0 && m->cutmix <= 0) || n < 2) return NN_MIXED_NONE;
    uint64_t r = seed;
    if (m->p < 1 && rnd_open01(&r) >= m->p) return NN_MIXED_NONE;
    int cut = m->cutmix > 0 && (m->mixup <= 0 || rnd_open01(&r) < 0.5);
    double lam = nn_beta_sample(&r, cut ? m->cutmix : m->mixup);
    size_t per = (size_t)h * w * c;
    if (cut) {
        /* box of side ratio sqrt(1 - lam), centre uniform, clipped to the image */
        double ratio = sqrt(1 - lam);
        int bh = (int)(h * ratio), bw = (int)(w * ratio);
        int cy = (int)(rnd_open01(&r) * h), cx = (int)(rnd_open01(&r) * w);
        int y0 = cy - bh / 2 < 0 ? 0 : cy - bh / 2, y1 = cy + bh / 2 > h ? h : cy + bh / 2;
        int x0 = cx - bw / 2 < 0 ? 0 : cx - bw / 2, x1 = cx + bw / 2 > w ? w : cx + bw / 2;
        lam = 1 - (double)(y1 - y0) * (x1 - x0) / ((double)h * w);
        for (int i = 0; i < n / 2; i++) {
            float *a = x + (size_t)i * per, *b = x + (size_t)(n - 1 - i) * per;
            for (int yy = y0; yy < y1; yy++)
                for (size_t q = ((size_t)yy * w + x0) * c; q < ((size_t)yy * w + x1) * c; q++) {
                    float t = a[q];
                    a[q] = b[q];
                    b[q] = t;
                }
        }
    } else {
        mix_pairs(x, per, n, (float)lam);
    }
    mix_pairs(target, (size_t)k, n, (float)lam);
    if (lambda) *lambda = (float)lam;
    return cut ? NN_MIXED_CUTMIX : NN_MIXED_MIXUP;
}

/* ---- class-weighted loss ------------------------------------------------------- */

int nn_class_weights(int k, const long long *counts, double beta, float *w) {
    if (k < 1 || !(beta >= 0 && beta < 1)) return emo_fail(EMO_EINVAL, "class weights: bad k %d or beta %g", k, beta);
    double total = 0, wsum = 0, raw[NN_MAX_CLASSES];
    if (k > NN_MAX_CLASSES) return emo_fail(EMO_EINVAL, "class weights: %d classes, at most %d", k, NN_MAX_CLASSES);
    for (int j = 0; j < k; j++) {
        if (counts[j] <= 0) return emo_fail(EMO_EINVAL, "class weights: class %d has no training rows", j);
        if (beta == 0) raw[j] = 1.0 / (double)counts[j];
        else /* 1 - beta^n through expm1, accurate for beta near 1; > 0 for n >= 1 */
            raw[j] = (1 - beta) / -expm1((double)counts[j] * log(beta));
        total += (double)counts[j];
        wsum += (double)counts[j] * raw[j];
    }
    for (int j = 0; j < k; j++) w[j] = (float)(raw[j] * total / wsum);
    return EMO_OK;
}

int nn_loss_softmax_ce_weighted(nn_net *net, const float *target, float smoothing, const float *class_w,
                                float *loss) {
    if (!net->batch) return emo_fail(EMO_ESTATE, "loss: no forward pass yet");
    int n = net->batch, k = net->n_out;
    const float *z = nn_net_output(net);
    double total = 0;
    for (int i = 0; i < n; i++) {
        const float *t = target + (size_t)i * k;
        double s = 0;
        for (int j = 0; j < k; j++) s += (double)class_w[j] * t[j];
        /* one image at a time: its loss, and dlogits (p - t') / 1 scaled to s / n */
        float *d = net->dlogits + (size_t)i * k;
        float li = nn_softmax_ce(1, k, z + (size_t)i * k, t, smoothing, net->probs + (size_t)i * k, d);
        float f = (float)(s / n);
        for (int j = 0; j < k; j++) d[j] *= f;
        total += s * li;
    }
    float l = (float)(total / n);
    if (loss) *loss = l;
    if (!isfinite(l)) return emo_fail(EMO_ENUMERIC, "step %lld: loss is %g", net->step, (double)l);
    return EMO_OK;
}

/* ---- weight averaging ---------------------------------------------------------- */

int nn_avg_init(nn_avg *a, const nn_net *net, float decay) {
    memset(a, 0, sizeof *a);
    if (!(decay >= 0 && decay < 1)) return emo_fail(EMO_EINVAL, "average: decay %g outside [0, 1)", decay);
    size_t n = net->n_params + net->n_stats;
    a->w = malloc((n ? n : 1) * sizeof *a->w);
    if (!a->w) return emo_fail(EMO_ENOMEM, "out of memory for the weight average (%zu floats)", n);
    memcpy(a->w, net->params, net->n_params * sizeof *a->w);
    memcpy(a->w + net->n_params, net->stats, net->n_stats * sizeof *a->w);
    a->decay = decay;
    a->n_params = net->n_params;
    a->n_stats = net->n_stats;
    return EMO_OK;
}

void nn_avg_update(nn_avg *a, const nn_net *net) {
    float d;
    if (a->decay > 0) {
        double warm = (1.0 + (double)a->count) / (10.0 + (double)a->count);
        d = (float)(warm < a->decay ? warm : a->decay);
    } else d = (float)((double)a->count / (double)(a->count + 1)); /* mean: w += (p - w) / (count + 1) */
    float e = 1 - d;
    float *w = a->w;
    const float *p = net->params, *s = net->stats;
    for (size_t i = 0; i < a->n_params; i++) w[i] = d * w[i] + e * p[i];
    for (size_t i = 0; i < a->n_stats; i++) w[a->n_params + i] = d * w[a->n_params + i] + e * s[i];
    a->count++;
}

int nn_avg_swap(nn_avg *a, nn_net *net) {
    if (!a->w || a->n_params != net->n_params || a->n_stats != net->n_stats)
        return emo_fail(EMO_EINVAL, "average: holds %zu parameters and %zu statistics, the network %zu and %zu",
                        a->n_params, a->n_stats, net->n_params, net->n_stats);
    for (size_t i = 0; i < a->n_params; i++) {
        float t = net->params[i];
        net->params[i] = a->w[i];
        a->w[i] = t;
    }
    for (size_t i = 0; i < a->n_stats; i++) {
        float t = net->stats[i];
        net->stats[i] = a->w[a->n_params + i];
        a->w[a->n_params + i] = t;
    }
    net->param_version++;
    return EMO_OK;
}

void nn_avg_free(nn_avg *a) {
    free(a->w);
    memset(a, 0, sizeof *a);
}
