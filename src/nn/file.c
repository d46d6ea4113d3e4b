/* file.c — networks back to config text, batch-norm folding, and the two
 * binary files: training checkpoints and .emo models (docs/FORMATS.md).
 * Both are little-endian, start with a magic and a version, end with a
 * CRC-32 of everything before it, and are written through a temporary file. */
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define CKPT_MAGIC "EMOC"
#define CKPT_VERSION 1u
#define MODEL_MAGIC "EMOM"
#define MODEL_VERSION 1u
#define MAX_CFG_BYTES (1u << 20)

static const char *const kind_word[NN_KIND_COUNT] = {
    "input", "conv", "bn", "relu", "silu", "maxpool", "avgpool", "gap", "dropout", "linear", "add", "flatten",
};

/* ---- config text ---------------------------------------------------------- */

/* Name used to refer to layer i: its own, or a generated one that no
 * user-given name in the list equals. */
static void ref_name(const nn_layer *ls, int n, int i, char out[NN_NAME_LEN + 8]) {
    if (ls[i].name[0]) {
        snprintf(out, NN_NAME_LEN + 8, "%s", ls[i].name);
        return;
    }
    snprintf(out, NN_NAME_LEN + 8, "L%d", i);
    for (;;) {
        int clash = 0;
        for (int j = 0; j < n; j++) clash |= strcmp(ls[j].name, out) == 0;
        if (!clash) return;
        size_t len = strlen(out);
        if (len + 1 >= NN_NAME_LEN) return;
        out[len] = '_';
        out[len + 1] = 0;
    }
}

static char *layers_to_cfg(const nn_layer *ls, int n) {
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f) return NULL;
    for (int i = 0; i < n; i++) {
        const nn_layer *L = &ls[i];
        char nm[NN_NAME_LEN + 8];
        fprintf(f, "%s", kind_word[L->kind]);
        int referenced = 0;
        for (int j = i + 1; j < n; j++) referenced |= (ls[j].in == i && j != i + 1) || ls[j].in2 == i;
        if (L->name[0] || referenced) {
            ref_name(ls, n, i, nm);
            fprintf(f, " name=%s", nm);
        }
        if (L->kind != NN_INPUT && L->in != i - 1) {
            ref_name(ls, n, L->in, nm);
            fprintf(f, " in=%s", nm);
        }
        switch (L->kind) {
        case NN_INPUT: fprintf(f, " w=%d h=%d channels=%d", L->w, L->h, L->c); break;
        case NN_CONV:
            fprintf(f, " filters=%d size=%d", L->c, L->size);
            if (L->stride != 1) fprintf(f, " stride=%d", L->stride);
            if (L->pad) fprintf(f, " pad=%d", L->pad);
            if (L->groups != 1) fprintf(f, " groups=%d", L->groups);
            if (!L->bias) fprintf(f, " bias=0");
            if (L->act == NN_ACT_RELU) fprintf(f, " act=relu");
            break;
        case NN_BN: fprintf(f, " eps=%.9g momentum=%.9g", L->eps, L->momentum); break;
        case NN_MAXPOOL:
        case NN_AVGPOOL:
            fprintf(f, " size=%d stride=%d", L->size, L->stride);
            if (L->pad) fprintf(f, " pad=%d", L->pad);
            break;
        case NN_DROPOUT: fprintf(f, " p=%.9g", L->p); break;
        case NN_LINEAR:
            fprintf(f, " out=%d", L->c);
            if (!L->bias) fprintf(f, " bias=0");
            break;
        case NN_ADD:
            ref_name(ls, n, L->in2, nm);
            fprintf(f, " from=%s", nm);
            if (L->p > 0) fprintf(f, " drop=%.9g", L->p);
            break;
        default: break;
        }
        fprintf(f, "\n");
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

char *nn_net_to_cfg(const nn_net *net) { return layers_to_cfg(net->layers, net->n_layers); }

/* ---- folding ------------------------------------------------------------------ */

int nn_net_fold(const nn_net *src, nn_net **out) {
    *out = NULL;
    int n = src->n_layers;
    nn_layer *ls = calloc((size_t)n, sizeof *ls);
    int *alias = calloc((size_t)n, sizeof *alias), *uses = calloc((size_t)n, sizeof *uses);
    int *conv_of = calloc((size_t)n, sizeof *conv_of), *bn_of = calloc((size_t)n, sizeof *bn_of);
    int st = EMO_OK;
    if (!ls || !alias || !uses || !conv_of || !bn_of) {
        st = emo_fail(EMO_ENOMEM, "fold: out of memory");
        goto done;
    }
    for (int i = 1; i < n; i++) {
        uses[src->layers[i].in]++;
        if (src->layers[i].in2 >= 0) uses[src->layers[i].in2]++;
    }
    /* conv_of[new] = source conv/other layer copied; bn_of[new] = folded bn or -1 */
    int m = 0;
    for (int i = 0; i < n; i++) {
        const nn_layer *L = &src->layers[i];
        int in = L->in;
        if (L->kind == NN_BN && src->layers[in].kind == NN_CONV && uses[in] == 1 &&
            src->layers[in].act == NN_ACT_NONE) {
            alias[i] = alias[in];
            bn_of[alias[i]] = i;
            ls[alias[i]].bias = 1;
            continue;
        }
        if (L->kind == NN_RELU && uses[in] == 1 && ls[alias[in]].kind == NN_CONV && ls[alias[in]].act == NN_ACT_NONE &&
            (src->layers[in].kind == NN_CONV || (src->layers[in].kind == NN_BN && bn_of[alias[in]] == in))) {
            alias[i] = alias[in];
            ls[alias[i]].act = NN_ACT_RELU;
            continue;
        }
        if (L->kind == NN_DROPOUT) {
            alias[i] = alias[in];
            continue;
        }
        ls[m] = *L;
        if (L->kind == NN_ADD) ls[m].p = 0; /* stochastic depth is for training only */
        ls[m].in = i ? alias[in] : -1;
        ls[m].in2 = L->in2 >= 0 ? alias[L->in2] : -1;
        conv_of[m] = i;
        bn_of[m] = -1;
        alias[i] = m++;
    }
    /* A name on a removed layer moves to the layer that now gives its value,
     * unless that one has a name already (references are rewritten anyway). */
    char *cfg = layers_to_cfg(ls, m);
    if (!cfg) {
        st = emo_fail(EMO_ENOMEM, "fold: out of memory");
        goto done;
    }
    nn_net *net;
    st = nn_net_from_cfg(&net, cfg, "folded network");
    free(cfg);
    if (st) goto done;
    for (int j = 0; j < m; j++) {
        const nn_layer *S = &src->layers[conv_of[j]];
        const nn_layer *D = &net->layers[j];
        const float *sp = src->params;
        float *dp = net->params;
        if (D->kind == NN_CONV) {
            size_t per = (size_t)S->size * S->size * (src->layers[S->in].c / S->groups);
            for (int co = 0; co < D->c; co++) {
                float scale = 1, shift = S->bias ? sp[S->b_off + co] : 0;
                if (bn_of[j] >= 0) {
                    const nn_layer *B = &src->layers[bn_of[j]];
                    float inv = 1.0f / sqrtf(src->stats[B->var_off + co] + B->eps);
                    scale = sp[B->w_off + co] * inv;
                    shift = (shift - src->stats[B->mean_off + co]) * scale + sp[B->b_off + co];
                }
                for (size_t k = 0; k < per; k++) dp[D->w_off + co * per + k] = sp[S->w_off + co * per + k] * scale;
                if (D->bias) dp[D->b_off + co] = shift;
            }
        } else if (D->kind == NN_LINEAR) {
            size_t nw = (size_t)D->c * net->layers[D->in].h * net->layers[D->in].w * net->layers[D->in].c;
            memcpy(dp + D->w_off, sp + S->w_off, nw * sizeof *dp);
            if (D->bias) memcpy(dp + D->b_off, sp + S->b_off, (size_t)D->c * sizeof *dp);
        } else if (D->kind == NN_BN) {
            memcpy(dp + D->w_off, sp + S->w_off, (size_t)D->c * sizeof *dp);
            memcpy(dp + D->b_off, sp + S->b_off, (size_t)D->c * sizeof *dp);
            memcpy(net->stats + D->mean_off, src->stats + S->mean_off, (size_t)D->c * sizeof *dp);
            memcpy(net->stats + D->var_off, src->stats + S->var_off, (size_t)D->c * sizeof *dp);
        }
    }
    net->threads = src->threads;
    net->param_version++;
    *out = net;
done:
    free(ls);
    free(alias);
    free(uses);
    free(conv_of);
    free(bn_of);
    return st;
}

/* ---- byte buffers --------------------------------------------------------------- */

/* The file formats are little-endian; so is every machine emo targets (x86-64, arm64). */
static void put_u32(emo_buf *b, uint32_t v) { emo_buf_put(b, &v, 4); }
static void put_u64(emo_buf *b, uint64_t v) { emo_buf_put(b, &v, 8); }
static void put_f32(emo_buf *b, float v) { emo_buf_put(b, &v, 4); }

static int finish(emo_buf *b, const char *path) {
    put_u32(b, (uint32_t)crc32(0L, b->p, (uInt)b->n));
    int st = b->oom ? emo_fail(EMO_ENOMEM, "%s: out of memory", path) : emo_write_file_atomic(path, b->p, b->n);
    free(b->p);
    return st;
}

typedef struct rbuf {
    const uint8_t *p;
    size_t n, at;
    const char *origin;
} rbuf;

static int get(rbuf *r, void *out, size_t n, const char *what) {
    if (n > r->n - r->at)
        return emo_fail(EMO_EFORMAT, "%s: truncated: %s at byte %zu needs %zu bytes, %zu left", r->origin, what, r->at,
                        n, r->n - r->at);
    memcpy(out, r->p + r->at, n);
    r->at += n;
    return EMO_OK;
}

/* Checks magic, version and the trailing CRC before anything is parsed. */
static int check_header(rbuf *r, const char *magic, uint32_t version, const char *what) {
    char m[4];
    uint32_t v;
    if (r->n < 12) return emo_fail(EMO_EFORMAT, "%s: %zu bytes, too short for %s", r->origin, r->n, what);
    get(r, m, 4, "magic");
    if (memcmp(m, magic, 4) != 0)
        return emo_fail(EMO_EFORMAT, "%s: bad magic, expected %s (not %s)", r->origin, magic, what);
    get(r, &v, 4, "version");
    if (v != version)
        return emo_fail(EMO_EUNSUPPORTED, "%s: %s version %u, this build reads version %u", r->origin, what, v,
                        version);
    uint32_t crc;
    memcpy(&crc, r->p + r->n - 4, 4);
    if (crc != (uint32_t)crc32(0L, r->p, (uInt)(r->n - 4)))
        return emo_fail(EMO_EFORMAT, "%s: checksum mismatch: the file is corrupted or truncated", r->origin);
    r->n -= 4;
    return EMO_OK;
}

static int get_cfg(rbuf *r, nn_net **net, size_t floats_per_param) {
    uint32_t len = 0;
    int st = get(r, &len, 4, "config length");
    if (st) return st;
    if (len == 0 || len > MAX_CFG_BYTES || len > r->n - r->at)
        return emo_fail(EMO_EFORMAT, "%s: config length %u impossible (%zu bytes left)", r->origin, len, r->n - r->at);
    char *text = malloc((size_t)len + 1);
    if (!text) return emo_fail(EMO_ENOMEM, "%s: out of memory", r->origin);
    get(r, text, len, "config");
    text[len] = 0;
    if (strlen(text) != len) {
        free(text);
        return emo_fail(EMO_EFORMAT, "%s: config contains a NUL byte", r->origin);
    }
    char origin[300];
    snprintf(origin, sizeof origin, "%s (network config)", r->origin);
    st = nn_net_from_cfg_limit(net, text, origin, (r->n - r->at) / (4 * floats_per_param));
    free(text);
    return st;
}

/* Reads n_params and n_stats, checks them against the net and the bytes left. */
static int get_counts(rbuf *r, const nn_net *net) {
    uint64_t np = 0, ns = 0;
    int st;
    if ((st = get(r, &np, 8, "parameter count")) || (st = get(r, &ns, 8, "statistics count"))) return st;
    if (np != net->n_params || ns != net->n_stats)
        return emo_fail(EMO_EFORMAT, "%s: holds %llu parameters and %llu statistics, its network has %zu and %zu",
                        r->origin, (unsigned long long)np, (unsigned long long)ns, net->n_params, net->n_stats);
    return EMO_OK;
}

/* ---- checkpoints ------------------------------------------------------------------ */

int nn_checkpoint_save(const nn_net *net, const nn_optim *opt, const char *path) {
    emo_buf b = {0};
    emo_buf_put(&b, CKPT_MAGIC, 4);
    put_u32(&b, CKPT_VERSION);
    uint32_t len = (uint32_t)strlen(net->cfg);
    put_u32(&b, len);
    emo_buf_put(&b, net->cfg, len);
    put_u64(&b, (uint64_t)net->step);
    put_u64(&b, net->rng);
    put_u32(&b, (uint32_t)opt->kind);
    put_u32(&b, (uint32_t)opt->nesterov);
    put_f32(&b, opt->lr);
    put_f32(&b, opt->momentum);
    put_f32(&b, opt->beta1);
    put_f32(&b, opt->beta2);
    put_f32(&b, opt->eps);
    put_f32(&b, opt->weight_decay);
    put_f32(&b, opt->clip_norm);
    put_u64(&b, net->n_params);
    put_u64(&b, net->n_stats);
    emo_buf_put(&b, net->params, net->n_params * sizeof(float));
    emo_buf_put(&b, net->opt_m, net->n_params * sizeof(float));
    emo_buf_put(&b, net->opt_v, net->n_params * sizeof(float));
    emo_buf_put(&b, net->stats, net->n_stats * sizeof(float));
    return finish(&b, path);
}

int nn_checkpoint_load(nn_net **out, nn_optim *opt, const char *path) {
    *out = NULL;
    uint8_t *bytes;
    size_t size;
    int st = emo_read_file(path, 0, &bytes, &size);
    if (st) return st;
    rbuf r = {bytes, size, 0, path};
    nn_net *net = NULL;
    uint64_t step = 0, rng = 0;
    uint32_t kind = 0, nest = 0;
    nn_optim o = {0};
    if ((st = check_header(&r, CKPT_MAGIC, CKPT_VERSION, "an emo training checkpoint"))) goto fail;
    if ((st = get_cfg(&r, &net, 3))) goto fail;
    if ((st = get(&r, &step, 8, "step")) || (st = get(&r, &rng, 8, "rng")) || (st = get(&r, &kind, 4, "optimiser")) ||
        (st = get(&r, &nest, 4, "nesterov")) || (st = get(&r, &o.lr, 4, "lr")) ||
        (st = get(&r, &o.momentum, 4, "momentum")) || (st = get(&r, &o.beta1, 4, "beta1")) ||
        (st = get(&r, &o.beta2, 4, "beta2")) || (st = get(&r, &o.eps, 4, "eps")) ||
        (st = get(&r, &o.weight_decay, 4, "weight decay")) || (st = get(&r, &o.clip_norm, 4, "clip")))
        goto fail;
    if (kind > NN_ADAMW || step > (uint64_t)1 << 62) {
        st = emo_fail(EMO_EFORMAT, "%s: bad optimiser kind %u or step %llu", path, kind, (unsigned long long)step);
        goto fail;
    }
    if ((st = get_counts(&r, net))) goto fail;
    size_t np = net->n_params * sizeof(float);
    if ((st = get(&r, net->params, np, "parameters")) || (st = get(&r, net->opt_m, np, "first moments")) ||
        (st = get(&r, net->opt_v, np, "second moments")) ||
        (st = get(&r, net->stats, net->n_stats * sizeof(float), "statistics")))
        goto fail;
    if (r.at != r.n) {
        st = emo_fail(EMO_EFORMAT, "%s: %zu unexpected bytes after the data", path, r.n - r.at);
        goto fail;
    }
    net->param_version++;
    o.kind = (nn_optim_kind)kind;
    o.nesterov = (int)nest;
    net->step = (long long)step;
    net->rng = rng;
    if (opt) *opt = o;
    free(bytes);
    *out = net;
    return EMO_OK;
fail:
    free(bytes);
    nn_net_free(net);
    return st;
}

/* ---- models ---------------------------------------------------------------------- */

int nn_model_save(const nn_net *train_net, const nn_model_meta *meta, const char *path) {
    if (meta->n_classes != train_net->n_out)
        return emo_fail(EMO_EINVAL, "%s: %d class names for a network with %d outputs", path, meta->n_classes,
                        train_net->n_out);
    if (!(meta->std > 0) || !isfinite(meta->mean))
        return emo_fail(EMO_EINVAL, "%s: bad normalisation mean %g std %g", path, meta->mean, meta->std);
    nn_net *net;
    int st = nn_net_fold(train_net, &net);
    if (st) return st;
    for (size_t i = 0; i < net->n_params; i++)
        if (!isfinite(net->params[i])) {
            nn_net_free(net);
            return emo_fail(EMO_ENUMERIC, "%s: parameter %zu is not finite; not saving", path, i);
        }
    emo_buf b = {0};
    emo_buf_put(&b, MODEL_MAGIC, 4);
    put_u32(&b, MODEL_VERSION);
    uint32_t len = (uint32_t)strlen(net->cfg);
    put_u32(&b, len);
    emo_buf_put(&b, net->cfg, len);
    put_f32(&b, meta->mean);
    put_f32(&b, meta->std);
    put_u32(&b, (uint32_t)meta->n_classes);
    for (int i = 0; i < meta->n_classes; i++) {
        size_t l = strnlen(meta->class_names[i], NN_NAME_LEN - 1);
        uint8_t l8 = (uint8_t)l;
        emo_buf_put(&b, &l8, 1);
        emo_buf_put(&b, meta->class_names[i], l);
    }
    put_u64(&b, net->n_params);
    put_u64(&b, net->n_stats);
    emo_buf_put(&b, net->params, net->n_params * sizeof(float));
    emo_buf_put(&b, net->stats, net->n_stats * sizeof(float));
    nn_net_free(net);
    return finish(&b, path);
}

int nn_model_read(nn_net **out, nn_model_meta *meta, const uint8_t *bytes, size_t size, const char *origin) {
    *out = NULL;
    rbuf r = {bytes, size, 0, origin};
    nn_net *net = NULL;
    uint32_t nc = 0;
    int st;
    memset(meta, 0, sizeof *meta);
    if ((st = check_header(&r, MODEL_MAGIC, MODEL_VERSION, "an emo model (.emo)"))) return st;
    if ((st = get_cfg(&r, &net, 1))) return st;
    if ((st = get(&r, &meta->mean, 4, "mean")) || (st = get(&r, &meta->std, 4, "std")) ||
        (st = get(&r, &nc, 4, "class count")))
        goto fail;
    if (!(meta->std > 0) || !isfinite(meta->mean) || !isfinite(meta->std)) {
        st = emo_fail(EMO_EFORMAT, "%s: bad normalisation mean %g std %g", origin, meta->mean, meta->std);
        goto fail;
    }
    if (nc != (uint32_t)net->n_out) {
        st = emo_fail(EMO_EFORMAT, "%s: %u class names for a network with %d outputs", origin, nc, net->n_out);
        goto fail;
    }
    meta->n_classes = (int)nc;
    for (uint32_t i = 0; i < nc; i++) {
        uint8_t l = 0;
        if ((st = get(&r, &l, 1, "class name length"))) goto fail;
        if (l >= NN_NAME_LEN) {
            st = emo_fail(EMO_EFORMAT, "%s: class name %u is %u bytes long; at most %d", origin, i, l, NN_NAME_LEN - 1);
            goto fail;
        }
        if ((st = get(&r, meta->class_names[i], l, "class name"))) goto fail;
        meta->class_names[i][l] = 0;
    }
    if ((st = get_counts(&r, net))) goto fail;
    if ((st = get(&r, net->params, net->n_params * sizeof(float), "parameters")) ||
        (st = get(&r, net->stats, net->n_stats * sizeof(float), "statistics")))
        goto fail;
    if (r.at != r.n) {
        st = emo_fail(EMO_EFORMAT, "%s: %zu unexpected bytes after the data", origin, r.n - r.at);
        goto fail;
    }
    for (size_t i = 0; i < net->n_params; i++)
        if (!isfinite(net->params[i])) {
            st = emo_fail(EMO_EFORMAT, "%s: parameter %zu is not finite", origin, i);
            goto fail;
        }
    net->param_version++;
    *out = net;
    return EMO_OK;
fail:
    nn_net_free(net);
    return st;
}
