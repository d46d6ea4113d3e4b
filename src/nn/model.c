/* model.c — the public inference API: emo_model_load, emo_classify. */
#include "nn/nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Faces are normalised in batches of at most MODEL_BATCH (buffers grow to it
 * once and are reused) and run through the network nn_infer_chunk at a time:
 * a few 48x48 faces keep every layer's activations in the L2 cache, where a
 * whole batch of 64 (19 MB per early layer) would stream through memory. */
#define MODEL_BATCH 64
int nn_infer_chunk = 8;

struct emo_model {
    nn_net *net;
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
    if (m) nn_net_set_threads(m->net, threads);
}

double emo_model_flops(const emo_model *m) { return m ? nn_net_flops(m->net) : 0; }

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
    int cap = EMO_MIN(n, MODEL_BATCH);
    if (cap > m->input_cap) {
        int st = nn_net_set_batch(net, EMO_MIN(cap, EMO_CLAMP(nn_infer_chunk, 1, MODEL_BATCH)));
        if (st) return st;
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
        int chunk = EMO_CLAMP(nn_infer_chunk, 1, MODEL_BATCH);
        for (int c0 = 0; c0 < nb; c0 += chunk) {
            int nc = EMO_MIN(chunk, nb - c0);
            int st = nn_net_forward(net, m->input + (size_t)c0 * W * H, nc, 0);
            if (st) return st;
            const float *z = nn_net_output(net);
            for (int i = 0; i < nc; i++) {
                const float *zi = z + (size_t)i * K;
                float *p = probs + (size_t)(i0 + c0 + i) * K, zmax = zi[0], sum = 0;
                for (int k = 1; k < K; k++) zmax = zi[k] > zmax ? zi[k] : zmax;
                for (int k = 0; k < K; k++) sum += p[k] = expf(zi[k] - zmax);
                for (int k = 0; k < K; k++) p[k] /= sum;
            }
        }
    }
    return EMO_OK;
}
