/* optim.c — SGD (momentum, Nesterov), Adam, AdamW, gradient clipping and
 * learning-rate schedules, over the one parameter block (PyTorch's formulas). */
#include "nn/nn.h"

#include <math.h>
#include <omp.h>
#include <string.h>

nn_optim nn_optim_default(nn_optim_kind kind) {
    nn_optim o = {.kind = kind, .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
    if (kind == NN_SGD) {
        o.lr = 0.01f;
        o.momentum = 0.9f;
    }
    if (kind == NN_ADAMW) o.weight_decay = 0.01f;
    return o;
}

int nn_optim_step(nn_net *net, const nn_optim *opt, float *grad_norm) {
    size_t np = net->n_params;
    float *g = net->grads;
    double ss = 0;
#pragma omp parallel for reduction(+ : ss) schedule(static) num_threads(net->threads)
    for (size_t i = 0; i < np; i++) ss += (double)g[i] * g[i];
    float norm = (float)sqrt(ss);
    if (grad_norm) *grad_norm = norm;
    if (!isfinite(norm)) {
        /* name the first tensor with a bad gradient */
        for (int t = 0; t < net->n_tensors; t++)
            for (size_t i = 0; i < net->tensors[t].n; i++)
                if (!isfinite(g[net->tensors[t].off + i]))
                    return emo_fail(EMO_ENUMERIC, "step %lld: gradient of %s is %g", net->step + 1,
                                    net->tensors[t].name, (double)g[net->tensors[t].off + i]);
        return emo_fail(EMO_ENUMERIC, "step %lld: gradient norm is %g", net->step + 1, (double)norm);
    }
    float scale = 1;
    if (opt->clip_norm > 0 && norm > opt->clip_norm) scale = opt->clip_norm / (norm + 1e-6f);
    net->step++;
    net->param_version++;
    double t = (double)net->step;
    float bc1 = (float)(1 - pow(opt->beta1, t)), bc2 = (float)(1 - pow(opt->beta2, t));
    float lr = opt->lr, wd = opt->weight_decay;
    for (int ti = 0; ti < net->n_tensors; ti++) {
        const nn_tensor *T = &net->tensors[ti];
        float *p = net->params + T->off, *gr = g + T->off, *m = net->opt_m + T->off, *v = net->opt_v + T->off;
        float twd = T->decay ? wd : 0;
        size_t n = T->n;
        switch (opt->kind) {
        case NN_SGD: {
            float mu = opt->momentum;
            int first = net->step == 1;
#pragma omp parallel for simd schedule(static) num_threads(net->threads)
            for (size_t i = 0; i < n; i++) {
                float d = gr[i] * scale + twd * p[i];
                if (mu != 0) {
                    m[i] = first ? d : mu * m[i] + d;
                    d = opt->nesterov ? d + mu * m[i] : m[i];
                }
                p[i] -= lr * d;
            }
            break;
        }
        case NN_ADAM:
        case NN_ADAMW: {
            float b1 = opt->beta1, b2 = opt->beta2, eps = opt->eps;
            int decoupled = opt->kind == NN_ADAMW;
            float rsb2 = 1.0f / sqrtf(bc2), step = lr / bc1;
#pragma omp parallel for simd schedule(static) num_threads(net->threads)
            for (size_t i = 0; i < n; i++) {
                float d = gr[i] * scale;
                if (decoupled) p[i] *= 1 - lr * twd;
                else d += twd * p[i];
                m[i] = b1 * m[i] + (1 - b1) * d;
                v[i] = b2 * v[i] + (1 - b2) * d * d;
                p[i] -= step * m[i] / (sqrtf(v[i]) * rsb2 + eps);
            }
            break;
        }
        }
    }
    return EMO_OK;
}

float nn_schedule_lr(const nn_schedule *s, long long step) {
    if (step < 0) step = 0;
    if (s->warmup_steps > 0 && step < s->warmup_steps)
        return s->base_lr * (float)(step + 1) / (float)s->warmup_steps;
    long long t = step - s->warmup_steps;
    switch (s->kind) {
    case NN_SCHED_COSINE: {
        long long span = s->total_steps - s->warmup_steps;
        if (span <= 0 || t >= span) return s->min_lr;
        double c = 0.5 * (1 + cos(M_PI * (double)t / (double)span));
        return (float)(s->min_lr + (s->base_lr - s->min_lr) * c);
    }
    case NN_SCHED_COSINE_RESTARTS: {
        if (s->period_steps <= 0) {
            nn_schedule c = *s;
            c.kind = NN_SCHED_COSINE;
            return nn_schedule_lr(&c, step);
        }
        /* find the cycle holding t: t_cur steps into a cycle of `period` */
        double period = (double)s->period_steps, mult = s->period_mult > 1 ? s->period_mult : 1;
        long long len = s->period_steps, t_cur = t;
        if (mult == 1) t_cur = t % len;
        else
            while (t_cur >= len) {
                t_cur -= len;
                period *= mult;
                len = (long long)ceil(period - 1e-9);
            }
        double c = 0.5 * (1 + cos(M_PI * (double)t_cur / (double)len));
        return (float)(s->min_lr + (s->base_lr - s->min_lr) * c);
    }
    case NN_SCHED_STEP:
        if (s->step_size <= 0) return s->base_lr;
        return s->base_lr * powf(s->gamma, (float)(t / s->step_size));
    default: return s->base_lr;
    }
}
