/* model.c — the public inference API: emo_model_load, emo_classify. */
#include "nn/nn.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Faces are normalised in batches of at most MODEL_BATCH (buffers grow to it
 * once and are reused) and run through the network nn_infer_chunk at a time:
 * a few 48x48 faces keep every layer's activations in the L2 cache, where a
 * whole batch of 64 (19 MB per early layer) would stream through memory. */
#define MODEL_BATCH 64
#define MODEL_MAX_THREADS 64
int nn_infer_chunk = 8;

/* With several threads and more than one chunk of faces, each thread runs
 * whole chunks through its own copy of the network (batch-parallel: one
 * join per call instead of a barrier per layer, which matters on a shared
 * machine where a descheduled thread stalls every barrier). One face, or one
 * chunk, is split inside each layer instead (latency). */
struct emo_model {
    nn_net *net;                           /* = workers[0] */
    nn_net *workers[MODEL_MAX_THREADS];    /* copies made on first need */
    int threads;
    nn_model_meta meta;
    float *input; /* (MODEL_BATCH, h, w, 1) normalised pixels */
    int input_cap;
};

int emo_model_load_memory(emo_model **out, const void *bytes, size_t size, const char *name) {
    if (!out) return emo_fail(EMO_EINVAL, "emo_model_load: no output pointer");
    *out = NULL;
    if (!bytes) return emo_fail(EMO_EINVAL, "emo_model_load: no bytes");
    if (!name) name = "model";
    emo_model *m = calloc(1, sizeof *m);
    if (!m) return emo_fail(EMO_ENOMEM, "%s: out of memory", name);
    int st = nn_model_read(&m->net, &m->meta, bytes, size, name);
    m->workers[0] = m->net;
    m->threads = 1;
    if (st == EMO_OK && m->net->in_c != 1)
        st = emo_fail(EMO_EUNSUPPORTED, "%s: network wants %d input channels; emo_classify takes grey faces", name,
                      m->net->in_c);
    if (st) {
        emo_model_free(m);
        return st;
    }
    *out = m;
    return EMO_OK;
}

int emo_model_load(emo_model **out, const char *path) {
    if (!out) return emo_fail(EMO_EINVAL, "emo_model_load: no output pointer");
    *out = NULL;
    uint8_t *bytes;
    size_t size;
    int st = emo_read_file(path, (size_t)1 << 31, &bytes, &size);
    if (st) return st;
    st = emo_model_load_memory(out, bytes, size, path);
    free(bytes);
    return st;
}

void emo_model_free(emo_model *m) {
    if (!m) return;
    for (int t = 1; t < MODEL_MAX_THREADS; t++) nn_net_free(m->workers[t]);
    nn_net_free(m->net);
    free(m->input);
    free(m);
}

int emo_model_classes(const emo_model *m) { return m ? m->meta.n_classes : 0; }

const char *emo_model_class_name(const emo_model *m, int i) {
    if (!m || i < 0 || i >= m->meta.n_classes) return NULL;
    return m->meta.class_names[i];
}

void emo_model_input_size(const emo_model *m, int *w, int *h) {
    if (w) *w = m ? m->net->in_w : 0;
    if (h) *h = m ? m->net->in_h : 0;
}

void emo_model_set_threads(emo_model *m, int threads) {
    if (!m) return;
    nn_net_set_threads(m->net, threads);
    m->threads = EMO_CLAMP(m->net->threads, 1, MODEL_MAX_THREADS);
}

/* Worker t: a copy of the network with its own activations, one thread. */
static int worker(emo_model *m, int t, int chunk, nn_net **out) {
    if (!m->workers[t]) {
        nn_net *w;
        int st = nn_net_from_cfg(&w, m->net->cfg, "model worker");
        if (st) return st;
        memcpy(w->params, m->net->params, m->net->n_params * sizeof(float));
        memcpy(w->stats, m->net->stats, m->net->n_stats * sizeof(float));
        w->param_version++;
        if ((st = nn_net_set_precision(w, m->net->precision))) {
            nn_net_free(w);
            return st;
        }
        m->workers[t] = w;
    }
    nn_net *w = m->workers[t];
    int st = nn_net_set_batch(w, chunk);
    if (st) return st;
    if (t) w->threads = 1;
    *out = w;
    return EMO_OK;
}

static void softmax_rows(const float *z, int n, int k, float *probs) {
    for (int i = 0; i < n; i++) {
        const float *zi = z + (size_t)i * k;
        float *p = probs + (size_t)i * k, zmax = zi[0], sum = 0;
        for (int j = 1; j < k; j++) zmax = zi[j] > zmax ? zi[j] : zmax;
        for (int j = 0; j < k; j++) sum += p[j] = expf(zi[j] - zmax);
        for (int j = 0; j < k; j++) p[j] /= sum;
    }
}

double emo_model_flops(const emo_model *m) { return m ? nn_net_flops(m->net) : 0; }

int emo_model_set_precision(emo_model *m, emo_precision p) {
    if (!m) return emo_fail(EMO_EINVAL, "emo_model_set_precision: no model");
    if (p == EMO_PRECISION_AUTO) p = nn_bf16_available(NULL) ? EMO_PRECISION_BF16 : EMO_PRECISION_FP32;
    if (p != EMO_PRECISION_FP32 && p != EMO_PRECISION_BF16)
        return emo_fail(EMO_EINVAL, "emo_model_set_precision: unknown precision %d", (int)p);
    nn_precision np = p == EMO_PRECISION_BF16 ? NN_BF16 : NN_FP32;
    int st = nn_net_set_precision(m->net, np);
    for (int t = 1; t < MODEL_MAX_THREADS && !st; t++)
        if (m->workers[t]) st = nn_net_set_precision(m->workers[t], np);
    if (st) /* all or nothing: back to what it was */
        for (int t = 0; t < MODEL_MAX_THREADS; t++)
            if (m->workers[t]) nn_net_set_precision(m->workers[t], NN_FP32);
    return st;
}

emo_precision emo_model_precision(const emo_model *m) {
    return m && m->net->precision == NN_BF16 ? EMO_PRECISION_BF16 : EMO_PRECISION_FP32;
}

const char *emo_bf16_isa(const char **why) {
    if (!nn_bf16_available(why)) return NULL;
    return nn_bf16_isa();
}

int emo_precision_parse(const char *name) {
    if (!name) return -1;
    if (!strcmp(name, "auto")) return EMO_PRECISION_AUTO;
    if (!strcmp(name, "fp32")) return EMO_PRECISION_FP32;
    if (!strcmp(name, "bf16")) return EMO_PRECISION_BF16;
    return -1;
}

const char *emo_precision_name(emo_precision p) {
    switch (p) {
    case EMO_PRECISION_FP32: return "fp32";
    case EMO_PRECISION_BF16: return "bf16";
    case EMO_PRECISION_AUTO: return "auto";
    }
    return NULL;
}

int emo_classify(emo_model *m, const emo_image *faces, int n, float *probs) {
    if (!m || (!faces && n) || (!probs && n) || n < 0)
        return emo_fail(EMO_EINVAL, "emo_classify: null model, faces or probs");
    nn_net *net = m->net;
    int W = net->in_w, H = net->in_h, K = net->n_out;
    for (int i = 0; i < n; i++) {
        const emo_image *f = &faces[i];
        if (!f->data || f->width != W || f->height != H || f->channels != 1 || f->stride < W)
            return emo_fail(EMO_EINVAL, "emo_classify: face %d is %dx%dx%d; the model wants %dx%d grey crops", i,
                            f->width, f->height, f->channels, W, H);
    }
    int cap = EMO_MIN(n, MODEL_BATCH), chunk = EMO_CLAMP(nn_infer_chunk, 1, MODEL_BATCH);
    int T = EMO_MIN(m->threads, (cap + chunk - 1) / chunk);
    for (int t = 0; t < EMO_MAX(T, 1); t++) {
        nn_net *w;
        int st = worker(m, t, EMO_MIN(cap, chunk), &w);
        if (st) return st;
    }
    if (cap > m->input_cap) {
        float *in = malloc((size_t)cap * W * H * sizeof *in);
        if (!in) return emo_fail(EMO_ENOMEM, "emo_classify: out of memory");
        free(m->input);
        m->input = in;
        m->input_cap = cap;
    }
    float scale = 1.0f / (255.0f * m->meta.std), shift = m->meta.mean / m->meta.std;
    for (int i0 = 0; i0 < n; i0 += MODEL_BATCH) {
        int nb = EMO_MIN(MODEL_BATCH, n - i0);
        for (int i = 0; i < nb; i++) {
            const emo_image *f = &faces[i0 + i];
            float *dst = m->input + (size_t)i * W * H;
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) dst[y * W + x] = f->data[(size_t)y * f->stride + x] * scale - shift;
        }
        int nchunks = (nb + chunk - 1) / chunk, status = EMO_OK;
        if (T > 1 && nchunks > 1) {
#pragma omp parallel for num_threads(T) schedule(dynamic)
            for (int c = 0; c < nchunks; c++) {
                nn_net *w = m->workers[omp_get_thread_num()];
                int c0 = c * chunk, nc = EMO_MIN(chunk, nb - c0);
                int st = nn_net_forward(w, m->input + (size_t)c0 * W * H, nc, 0);
                if (st) {
#pragma omp critical
                    status = st;
                } else {
                    softmax_rows(nn_net_output(w), nc, K, probs + (size_t)(i0 + c0) * K);
                }
            }
        } else {
            for (int c0 = 0; c0 < nb && !status; c0 += chunk) {
                int nc = EMO_MIN(chunk, nb - c0);
                status = nn_net_forward(net, m->input + (size_t)c0 * W * H, nc, 0);
                if (!status) softmax_rows(nn_net_output(net), nc, K, probs + (size_t)(i0 + c0) * K);
            }
        }
        if (status) return emo_fail(status, "emo_classify: forward pass failed");
    }
    return EMO_OK;
}
