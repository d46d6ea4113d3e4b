/* test_nn.c — the CNN engine against PyTorch (tests/data/nn/ref.bin, made by
 * tests/ref/nn_ref.py), finite-difference gradients, fast vs naive kernels,
 * config errors, model files and checkpoints.
 *
 * Tolerance: per tensor, max |ours - ref| / max(|ref|, 1) unless stated. The
 * references are computed in float64, so this measures our float32 error:
 * 1e-5 for single layers, 1e-4 for the network and three optimiser steps. */
#include "emo.h"
#include "nn/nn.h"
#include "test.h"

#include <stdint.h>

/* ---- reference tensors ------------------------------------------------------- */

static uint8_t *ref_bytes;
static size_t ref_size;
static float *ref_copies[4096];
static int n_ref_copies;

typedef struct ref_t {
    int ndim, dims[8];
    size_t n;
    const float *data;
} ref_t;

static ref_t ref(const char *name) {
    ref_t r = {0};
    if (!ref_bytes && emo_read_file("tests/data/nn/ref.bin", 0, &ref_bytes, &ref_size) != EMO_OK) {
        TEST_FAIL_("cannot read tests/data/nn/ref.bin: %s", emo_last_error());
        return r;
    }
    size_t at = 4;
    while (at + 8 <= ref_size) {
        uint32_t len, nd;
        memcpy(&len, ref_bytes + at, 4);
        const char *nm = (const char *)ref_bytes + at + 4;
        at += 4 + len;
        memcpy(&nd, ref_bytes + at, 4);
        at += 4;
        size_t n = 1;
        int dims[8] = {0};
        for (uint32_t i = 0; i < nd && i < 8; i++) {
            uint32_t d;
            memcpy(&d, ref_bytes + at + 4 * i, 4);
            dims[i] = (int)d;
            n *= d;
        }
        at += 4 * nd;
        if (len == strlen(name) && memcmp(nm, name, len) == 0) {
            r.ndim = (int)nd;
            memcpy(r.dims, dims, sizeof dims);
            r.n = n;
            /* records are not 4-byte aligned: copy out (freed at exit) */
            float *copy = malloc((n ? n : 1) * sizeof *copy);
            memcpy(copy, ref_bytes + at, n * sizeof *copy);
            if (n_ref_copies < 4096) ref_copies[n_ref_copies++] = copy;
            r.data = copy;
            return r;
        }
        at += 4 * n;
    }
    TEST_FAIL_("reference tensor %s not found", name);
    static const float zero[1];
    r.data = zero;
    return r;
}

static double rel_err(const float *a, const float *b, size_t n) {
    double m = 1, e = 0;
    for (size_t i = 0; i < n; i++) {
        m = fmax(m, fabs(b[i]));
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= e)) e = isnan(d) ? INFINITY : d;
    }
    return e / m;
}

#define CHECK_CLOSE(got, refname, tol)                                                         \
    do {                                                                                       \
        ref_t r_ = ref(refname);                                                               \
        double e_ = rel_err((got), r_.data, r_.n);                                             \
        CHECK_MSG(e_ <= (tol), "%s: relative error %.3g > %.3g", refname, e_, (double)(tol)); \
    } while (0)

static float *fdup(const float *p, size_t n) {
    float *q = malloc((n ? n : 1) * sizeof *q);
    memcpy(q, p, n * sizeof *q);
    return q;
}

static void frand(float *p, size_t n, uint64_t *s) {
    for (size_t i = 0; i < n; i++) {
        *s = *s * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (float)((double)(*s >> 11) / 9007199254740992.0 * 2 - 1);
    }
}

/* ---- layers against PyTorch --------------------------------------------------------- */

static void conv_case(const char *name, int fast) {
    char k[64];
    snprintf(k, sizeof k, "%s.shape", name);
    const float *sh = ref(k).data;
    nn_conv_shape s = {(int)sh[0], (int)sh[1], (int)sh[2], (int)sh[3], 0, 0, (int)sh[4], (int)sh[5], (int)sh[6],
                       (int)sh[7], (int)sh[8]};
    int bias = (int)sh[9];
    s.oh = (s.h + 2 * s.pad - s.k) / s.stride + 1;
    s.ow = (s.w + 2 * s.pad - s.k) / s.stride + 1;
#define R(part) (snprintf(k, sizeof k, "%s." part, name), ref(k))
    ref_t x = R("x"), w = R("w"), y = R("y"), dy = R("dy"), dw = R("dw");
    const float *b = bias ? R("b").data : NULL;
    float *out = calloc(y.n, sizeof *out), *gw = calloc(w.n, sizeof *gw), *gx = calloc(x.n, sizeof *gx);
    float *gb = calloc((size_t)s.cout, sizeof *gb);
    float *scratch = malloc((nn_conv_scratch_floats(&s, 1) + 1) * sizeof *scratch);
    if (fast) nn_conv_forward(&s, x.data, w.data, NULL, b, NN_ACT_NONE, out, scratch, 1);
    else nn_conv_forward_ref(&s, x.data, w.data, b, NN_ACT_NONE, out);
    if (fast) nn_conv_backward(&s, x.data, w.data, dy.data, gw, bias ? gb : NULL, gx, 0, scratch, 1);
    else nn_conv_backward_ref(&s, x.data, w.data, dy.data, gw, bias ? gb : NULL, gx, 0);
    snprintf(k, sizeof k, "%s.y", name);
    CHECK_CLOSE(out, k, 1e-5);
    snprintf(k, sizeof k, "%s.dx", name);
    CHECK_CLOSE(gx, k, 1e-5);
    snprintf(k, sizeof k, "%s.dw", name);
    CHECK_CLOSE(gw, k, 1e-5);
    if (bias) {
        snprintf(k, sizeof k, "%s.db", name);
        CHECK_CLOSE(gb, k, 1e-5);
    }
    (void)dw;
#undef R
    free(out);
    free(gw);
    free(gx);
    free(gb);
    free(scratch);
}

static const char *const conv_cases[] = {"conv3", "conv5s2g2", "convdw", "conv1x1", "conv3s2p0"};

static void test_conv_ref_torch(void) {
    for (int i = 0; i < 5; i++) conv_case(conv_cases[i], 0);
}

static void test_conv_fast_torch(void) {
    for (int i = 0; i < 5; i++) conv_case(conv_cases[i], 1);
}

/* Fast against naive on shapes that take several im2col chunks or the direct
 * kernels, with acc, both algorithms. */
static void conv_fast_vs_naive(void) {
    nn_conv_shape shapes[] = {
        {9, 24, 24, 16, 24, 24, 32, 3, 1, 1, 1}, /* chunks of a few images */
        {3, 11, 13, 6, 6, 7, 9, 3, 2, 1, 3},
        {4, 8, 8, 12, 8, 8, 12, 3, 1, 1, 12},
        {5, 6, 6, 8, 6, 6, 4, 1, 1, 0, 1},
        /* direct AVX-512 kernels: odd widths (12 + 6 + 1 tiles), 5x5, unpadded */
        {3, 7, 19, 32, 7, 19, 64, 3, 1, 1, 1},
        {2, 6, 6, 64, 6, 6, 32, 5, 1, 2, 1},
        {2, 9, 9, 32, 7, 7, 32, 3, 1, 0, 1},
        {2, 8, 8, 1, 8, 8, 32, 3, 1, 1, 1},
        /* Winograd F(2x2, 3x3): 64+ channels, even sizes */
        {3, 8, 6, 64, 8, 6, 80, 3, 1, 1, 1},
        {5, 6, 6, 96, 6, 6, 64, 3, 1, 1, 1},
        {2, 8, 12, 32, 8, 12, 64, 3, 1, 1, 1}, /* F(4x4, 3x3) */
        {3, 4, 4, 64, 4, 4, 64, 3, 1, 1, 1},
        {4, 48, 48, 32, 48, 48, 32, 3, 1, 1, 1}, /* chunks of one image, one thread each */
    };
    uint64_t seed = 7;
    for (int t = 0; t < 13; t++) {
        if (t == 12 && (nn_conv_algo == NN_CONV_IM2COL || nn_conv_algo == NN_CONV_DIRECT)) continue; /* slow, Winograd-only */
        nn_conv_shape *s = &shapes[t];
        size_t nx = (size_t)s->n * s->h * s->w * s->cin, ny = (size_t)s->n * s->oh * s->ow * s->cout;
        size_t nw = (size_t)s->cout * s->k * s->k * (s->cin / s->groups);
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(s->cout * 4), *dy = malloc(ny * 4);
        frand(x, nx, &seed);
        frand(w, nw, &seed);
        frand(b, s->cout, &seed);
        frand(dy, ny, &seed);
        float *y1 = malloc(ny * 4), *y2 = malloc(ny * 4);
        float *gx1 = malloc(nx * 4), *gx2 = malloc(nx * 4);
        float *gw1 = calloc(nw, 4), *gw2 = calloc(nw, 4), *gb1 = calloc(s->cout, 4), *gb2 = calloc(s->cout, 4);
        frand(gx1, nx, &seed);
        memcpy(gx2, gx1, nx * 4);
        float *scratch = malloc((nn_conv_scratch_floats(s, 2) + 1) * 4);
        nn_conv_forward_ref(s, x, w, b, NN_ACT_RELU, y1);
        nn_conv_forward(s, x, w, NULL, b, NN_ACT_RELU, y2, scratch, 2);
        CHECK_MSG(rel_err(y2, y1, ny) < 1e-5, "algo %d shape %d forward", nn_conv_algo, t);
        CHECK_MSG(rel_err(y2, y1, ny) < 1e-5, "shape %d forward: %g", t, rel_err(y2, y1, ny));
        nn_conv_backward_ref(s, x, w, dy, gw1, gb1, gx1, 1);
        nn_conv_backward(s, x, w, dy, gw2, gb2, gx2, 1, scratch, 2);
        CHECK_MSG(rel_err(gx2, gx1, nx) < 1e-5, "shape %d dx: %g", t, rel_err(gx2, gx1, nx));
        CHECK_MSG(rel_err(gw2, gw1, nw) < 1e-5, "shape %d dw: %g", t, rel_err(gw2, gw1, nw));
        CHECK_MSG(rel_err(gb2, gb1, s->cout) < 1e-5, "shape %d db: %g", t, rel_err(gb2, gb1, s->cout));
        free(x), free(w), free(b), free(dy), free(y1), free(y2), free(gx1), free(gx2);
        free(gw1), free(gw2), free(gb1), free(gb2), free(scratch);
    }
}

static void test_conv_fast_vs_naive(void) {
    conv_fast_vs_naive();
    nn_conv_algo = NN_CONV_IM2COL;
    conv_fast_vs_naive();
    nn_conv_algo = NN_CONV_DIRECT;
    conv_fast_vs_naive();
    nn_conv_algo = NN_CONV_WINOGRAD;
    conv_fast_vs_naive();
    nn_conv_algo = NN_CONV_AUTO;
}

static void test_bn_torch(void) {
    ref_t x = ref("bn.x"), g = ref("bn.gamma"), b = ref("bn.beta");
    int c = 5, rows = (int)(x.n / c);
    float *rm = fdup(ref("bn.rm0").data, c), *rv = fdup(ref("bn.rv0").data, c);
    float *y = malloc(x.n * 4), *dx = malloc(x.n * 4), stat[10], dg[5] = {0}, db[5] = {0};
    nn_bn_forward(rows, c, x.data, g.data, b.data, rm, rv, 1e-5f, 0.1f, 1, 0, stat, y);
    CHECK_CLOSE(y, "bn.y", 1e-5);
    CHECK_CLOSE(rm, "bn.rm1", 1e-6);
    CHECK_CLOSE(rv, "bn.rv1", 1e-6);
    nn_bn_backward(rows, c, x.data, g.data, stat, NULL, ref("bn.dy").data, dg, db, dx, 0);
    CHECK_CLOSE(dx, "bn.dx", 1e-5);
    CHECK_CLOSE(dg, "bn.dgamma", 1e-5);
    CHECK_CLOSE(db, "bn.dbeta", 1e-5);
    memcpy(rm, ref("bn.rm0").data, 20);
    memcpy(rv, ref("bn.rv0").data, 20);
    nn_bn_forward(rows, c, x.data, g.data, b.data, rm, rv, 1e-5f, 0.1f, 0, 0, stat, y);
    CHECK_CLOSE(y, "bn.y_eval", 1e-5);
    free(rm), free(rv), free(y), free(dx);
}

static void pool_case(const char *name, int kind, int k, int stride, int pad) {
    char key[64];
    snprintf(key, sizeof key, "%s.x", name);
    ref_t x = ref(key);
    snprintf(key, sizeof key, "%s.y", name);
    ref_t y = ref(key);
    snprintf(key, sizeof key, "%s.dy", name);
    ref_t dy = ref(key);
    nn_pool_shape s = {x.dims[0], x.dims[1], x.dims[2], x.dims[3], y.dims[1], y.dims[2], k, stride, pad};
    float *out = malloc(y.n * 4), *dx = malloc(x.n * 4);
    if (kind == 0) nn_maxpool_forward(&s, x.data, out);
    else if (kind == 1) nn_avgpool_forward(&s, x.data, out);
    else nn_gap_forward(s.n, s.h * s.w, s.c, x.data, out);
    if (kind == 0) nn_maxpool_backward(&s, x.data, out, dy.data, dx, 0);
    else if (kind == 1) nn_avgpool_backward(&s, dy.data, dx, 0);
    else nn_gap_backward(s.n, s.h * s.w, s.c, dy.data, dx, 0);
    snprintf(key, sizeof key, "%s.y", name);
    CHECK_CLOSE(out, key, 1e-6);
    snprintf(key, sizeof key, "%s.dx", name);
    CHECK_CLOSE(dx, key, 1e-6);
    free(out), free(dx);
}

static void test_pool_torch(void) {
    pool_case("maxpool2", 0, 2, 2, 0);
    pool_case("maxpool3s2p1", 0, 3, 2, 1);
    pool_case("avgpool2", 1, 2, 2, 0);
    pool_case("avgpool3s2p1", 1, 3, 2, 1);
    pool_case("gap", 2, 0, 0, 0);
    /* The 2x2 stride-2 path (acc = 0) against the general loop (acc = 1 onto
     * zeros) on values with many ties: the same first maximum gets each
     * gradient, 48 channels (vector body and tail). */
    nn_pool_shape s = {3, 6, 8, 48, 3, 4, 2, 2, 0};
    size_t nx = 3 * 6 * 8 * 48, ny = 3 * 3 * 4 * 48;
    float *x = malloc(nx * 4), *y = malloc(ny * 4), *dy = malloc(ny * 4), *g1 = malloc(nx * 4), *g2 = calloc(nx, 4);
    uint64_t seed = 3;
    frand(x, nx, &seed);
    for (size_t i = 0; i < nx; i++) x[i] = floorf(x[i] * 2); /* -2..1 */
    frand(dy, ny, &seed);
    for (size_t i = 0; i < nx; i++) g1[i] = NAN; /* every element must be written */
    nn_maxpool_forward(&s, x, y);
    nn_maxpool_backward(&s, x, y, dy, g1, 0);
    nn_maxpool_backward(&s, x, y, dy, g2, 1);
    CHECK_EQ_INT(memcmp(g1, g2, nx * 4), 0);
    free(x), free(y), free(dy), free(g1), free(g2);
}

static void test_act_linear_torch(void) {
    ref_t x = ref("relu.x");
    float *y = malloc(x.n * 4), *dx = malloc(x.n * 4);
    nn_relu_forward(x.n, x.data, y);
    nn_relu_backward(x.n, y, ref("relu.dy").data, dx, 0);
    CHECK_CLOSE(y, "relu.y", 0);
    CHECK_CLOSE(dx, "relu.dx", 0);
    x = ref("silu.x");
    nn_silu_forward(x.n, x.data, y);
    nn_silu_backward(x.n, x.data, ref("silu.dy").data, dx, 0);
    CHECK_CLOSE(y, "silu.y", 1e-6);
    CHECK_CLOSE(dx, "silu.dx", 1e-6);
    free(y), free(dx);
    float out[24], gx[40], gw[60] = {0}, gb[6] = {0};
    nn_linear_forward(4, 10, 6, ref("linear.x").data, ref("linear.w").data, ref("linear.b").data, out);
    nn_linear_backward(4, 10, 6, ref("linear.x").data, ref("linear.w").data, ref("linear.dy").data, gw, gb, gx, 0);
    CHECK_CLOSE(out, "linear.y", 1e-6);
    CHECK_CLOSE(gx, "linear.dx", 1e-6);
    CHECK_CLOSE(gw, "linear.dw", 1e-6);
    CHECK_CLOSE(gb, "linear.db", 1e-6);
}

/* sgemm version against the naive reference, bigger, accumulating */
static void test_linear_vs_naive(void) {
    enum { N = 13, CI = 70, CO = 9 };
    uint64_t seed = 3;
    float *x = malloc(N * CI * 4), *w = malloc(CO * CI * 4), *b = malloc(CO * 4), *d = malloc(N * CO * 4);
    float *y1 = malloc(N * CO * 4), *y2 = malloc(N * CO * 4), *dx1 = malloc(N * CI * 4), *dx2 = malloc(N * CI * 4);
    float *dw1 = calloc(CO * CI, 4), *dw2 = calloc(CO * CI, 4), db1[CO] = {0}, db2[CO] = {0};
    frand(x, N * CI, &seed);
    frand(w, CO * CI, &seed);
    frand(b, CO, &seed);
    frand(d, N * CO, &seed);
    frand(dx1, N * CI, &seed);
    memcpy(dx2, dx1, N * CI * 4);
    nn_linear_forward_ref(N, CI, CO, x, w, b, y1);
    nn_linear_forward(N, CI, CO, x, w, b, y2);
    nn_linear_backward_ref(N, CI, CO, x, w, d, dw1, db1, dx1, 1);
    nn_linear_backward(N, CI, CO, x, w, d, dw2, db2, dx2, 1);
    CHECK(rel_err(y2, y1, N * CO) < 1e-5);
    CHECK(rel_err(dx2, dx1, N * CI) < 1e-5);
    CHECK(rel_err(dw2, dw1, CO * CI) < 1e-5);
    CHECK(rel_err(db2, db1, CO) < 1e-5);
    free(x), free(w), free(b), free(d), free(y1), free(y2), free(dx1), free(dx2), free(dw1), free(dw2);
}

static void test_softmax_ce_torch(void) {
    const float *z = ref("ce.z").data, *lab = ref("ce.labels").data, *soft = ref("ce.soft").data;
    float hard[35] = {0}, probs[35], dz[35];
    for (int i = 0; i < 5; i++) hard[i * 7 + (int)lab[i]] = 1;
    const char *tags[] = {"hard", "smooth", "soft", "softsmooth"};
    const float *targets[] = {hard, hard, soft, soft};
    float eps[] = {0, 0.1f, 0, 0.2f};
    for (int t = 0; t < 4; t++) {
        char k[64];
        float loss = nn_softmax_ce(5, 7, z, targets[t], eps[t], probs, dz);
        snprintf(k, sizeof k, "ce.%s.loss", tags[t]);
        CHECK_CLOSE(&loss, k, 1e-6);
        snprintf(k, sizeof k, "ce.%s.dz", tags[t]);
        CHECK_CLOSE(dz, k, 1e-6);
    }
}

/* ---- the network against PyTorch ------------------------------------------------------ */

static nn_net *ref_net(void) {
    ref_t c = ref("net.cfg");
    char *text = calloc(c.n + 1, 1);
    for (size_t i = 0; i < c.n; i++) text[i] = (char)c.data[i];
    nn_net *net = NULL;
    CHECK_OK(nn_net_from_cfg(&net, text, "net.cfg"));
    free(text);
    if (!net) return NULL;
    ref_t p = ref("net.params");
    CHECK_EQ_INT(net->n_params, p.n);
    if (net->n_params == p.n) memcpy(net->params, p.data, p.n * 4);
    for (int i = 0; i < net->n_layers; i++)
        if (net->layers[i].kind == NN_DROPOUT) net->layers[i].p = 0; /* as the reference */
    CHECK_OK(nn_net_set_batch(net, 3));
    return net;
}

static void ref_labels(int *lab) {
    const float *l = ref("net.labels").data;
    for (int i = 0; i < 3; i++) lab[i] = (int)l[i];
}

static void test_net_torch(void) {
    nn_net *net = ref_net();
    if (!net) return;
    int lab[3];
    ref_labels(lab);
    float loss, dx[3 * 144];
    nn_net_zero_grad(net);
    CHECK_OK(nn_net_forward(net, ref("net.x").data, 3, 1));
    CHECK_CLOSE(nn_net_output(net), "net.logits", 1e-5);
    CHECK_OK(nn_loss_softmax_ce_labels(net, lab, 0.1f, &loss));
    CHECK_CLOSE(&loss, "net.loss", 1e-6);
    CHECK_OK(nn_net_backward_dx(net, dx));
    CHECK_CLOSE(net->grads, "net.grads", 1e-4);
    CHECK_CLOSE(dx, "net.dx", 1e-4);
    CHECK_CLOSE(net->stats, "net.stats1", 1e-5);
    CHECK_OK(nn_net_forward(net, ref("net.x").data, 3, 0));
    CHECK_CLOSE(nn_net_output(net), "net.logits_eval", 1e-5);
    /* folded (inference) network gives the same eval logits */
    nn_net *f = NULL;
    CHECK_OK(nn_net_fold(net, &f));
    if (f) {
        int convs = 0, bns = 0;
        for (int i = 0; i < f->n_layers; i++) {
            convs += f->layers[i].kind == NN_CONV;
            bns += f->layers[i].kind == NN_BN;
        }
        CHECK_EQ_INT(convs, 3);
        CHECK_EQ_INT(bns, 0);
        CHECK_EQ_INT(f->n_layers, 9);  /* input conv conv silu add maxpool conv flatten linear */
        CHECK_OK(nn_net_set_batch(f, 3));
        CHECK_OK(nn_net_forward(f, ref("net.x").data, 3, 0));
        CHECK_CLOSE(nn_net_output(f), "net.logits_eval", 1e-5);
        nn_net_free(f);
    }
    nn_net_free(net);
}

static void test_optim_torch(void) {
    const char *names[] = {"sgd", "adam", "adamw"};
    nn_optim_kind kinds[] = {NN_SGD, NN_ADAM, NN_ADAMW};
    float lrs[] = {0.05f, 1e-2f, 1e-2f}, wds[] = {1e-3f, 1e-3f, 0.1f};
    int lab[3];
    ref_labels(lab);
    for (int o = 0; o < 3; o++) {
        nn_net *net = ref_net();
        if (!net) return;
        nn_optim opt = nn_optim_default(kinds[o]);
        opt.lr = lrs[o];
        opt.weight_decay = wds[o];
        opt.nesterov = 1;
        opt.clip_norm = 1.0f;
        for (int step = 0; step < 3; step++) {
            float loss;
            nn_net_zero_grad(net);
            CHECK_OK(nn_net_forward(net, ref("net.x").data, 3, 1));
            CHECK_OK(nn_loss_softmax_ce_labels(net, lab, 0.1f, &loss));
            CHECK_OK(nn_net_backward(net));
            CHECK_OK(nn_optim_step(net, &opt, NULL));
        }
        char k[64];
        snprintf(k, sizeof k, "opt.%s.params", names[o]);
        CHECK_CLOSE(net->params, k, 1e-4);
        snprintf(k, sizeof k, "opt.%s.stats", names[o]);
        CHECK_CLOSE(net->stats, k, 1e-4);
        nn_net_free(net);
    }
}

/* ---- finite differences ------------------------------------------------------------ */

static double fd_loss(nn_net *net, const float *x, const float *target, uint64_t rng) {
    net->rng = rng; /* same dropout mask every time */
    float loss = 0;
    nn_net_forward(net, x, 2, 1);
    nn_loss_softmax_ce(net, target, 0.05f, &loss);
    return loss;
}

/* Central differences in float32 with h = 1e-2 against the analytic
 * gradient, for inputs and parameters of a tiny network around one layer. */
static void gradcheck(const char *layer) {
    char cfg[256];
    snprintf(cfg, sizeof cfg, "input w=6 h=5 channels=4\n%s\nlinear out=3\n", layer);
    nn_net *net = NULL;
    CHECK_OK(nn_net_from_cfg(&net, cfg, layer));
    if (!net) return;
    nn_net_init_params(net, 3);
    uint64_t seed = 11;
    for (int t = 0; t < net->n_tensors; t++)
        if (strstr(net->tensors[t].name, "bn")) frand(net->params + net->tensors[t].off, net->tensors[t].n, &seed);
    CHECK_OK(nn_net_set_batch(net, 2));
    size_t nx = 2 * 6 * 5 * 4;
    float x[240], dx[240], target[6] = {0.2f, 0.5f, 0.3f, 0, 0, 1};
    frand(x, nx, &seed);
    uint64_t rng = 99;
    fd_loss(net, x, target, rng);
    nn_net_zero_grad(net);
    CHECK_OK(nn_net_backward_dx(net, dx));
    float *grads = fdup(net->grads, net->n_params);
    const float h = 1e-2f;
    int bad = 0;
    for (int k = 0; k < 40; k++) {
        int is_x = k % 2 == 0 || !net->n_params;
        size_t i = (size_t)(k * 7919) % (is_x ? nx : net->n_params);
        float *p = is_x ? &x[i] : &net->params[i];
        float v = *p;
        *p = v + h;
        double lp = fd_loss(net, x, target, rng);
        *p = v - h;
        double lm = fd_loss(net, x, target, rng);
        *p = v;
        double num = (lp - lm) / (2 * h), ana = is_x ? dx[i] : grads[i];
        if (fabs(num - ana) > 2e-2 * fmax(fabs(num), fabs(ana)) + 2e-3) {
            if (bad++ < 3) TEST_FAIL_("%s: d/d%s[%zu]: numeric %.6g analytic %.6g", layer, is_x ? "x" : "param", i, num, ana);
        }
    }
    free(grads);
    nn_net_free(net);
}

static void test_gradcheck(void) {
    gradcheck("conv filters=3 size=3 pad=1");
    gradcheck("conv filters=4 size=3 stride=2 pad=1 groups=2");
    gradcheck("conv filters=4 size=3 pad=1 groups=4 bias=0");
    gradcheck("conv filters=2 size=1");
    gradcheck("bn");
    gradcheck("silu");
    gradcheck("relu");
    gradcheck("maxpool size=2");
    gradcheck("avgpool size=3 stride=2 pad=1");
    gradcheck("gap");
    gradcheck("dropout p=0.4");
    gradcheck("flatten");
    gradcheck("silu name=a\nbn\nadd from=a");
    gradcheck("silu name=a\nrelu in=a\nadd from=a\nadd from=a");
    gradcheck("bn\nrelu"); /* fused into one pass */
    gradcheck("conv filters=4 size=3 pad=1\nbn\nrelu name=a\nconv filters=4 size=3 pad=1\nadd from=a");
}

/* ---- configs ---------------------------------------------------------------------------- */

static void test_vgg_param_counts(void) {
    nn_net *s = NULL, *m = NULL;
    CHECK_OK(nn_net_from_cfg_file(&s, "models/vgg-s.cfg"));
    CHECK_OK(nn_net_from_cfg_file(&m, "models/vgg-m.cfg"));
    if (s) {
        CHECK_EQ_INT(s->n_params, 1174439);
        CHECK_EQ_INT((long long)nn_net_flops(s), 234900992);
        CHECK_EQ_INT(s->n_out, 7);
    }
    if (m) {
        CHECK_EQ_INT(m->n_params, 4689735);
        CHECK_EQ_INT((long long)nn_net_flops(m), 936942592);
    }
    /* written back and parsed again: the same network */
    if (s) {
        char *text = nn_net_to_cfg(s);
        nn_net *t = NULL;
        CHECK_OK(nn_net_from_cfg(&t, text, "round trip"));
        if (t) CHECK_EQ_INT(t->n_params, s->n_params);
        nn_net_free(t);
        free(text);
    }
    nn_net_free(s);
    nn_net_free(m);
}

static void cfg_error(const char *text, const char *want) {
    nn_net *net = (nn_net *)1;
    int st = nn_net_from_cfg(&net, text, "t.cfg");
    CHECK_MSG(st < 0, "config accepted, wanted error '%s'", want);
    CHECK(net == NULL);
    CHECK_STR_CONTAINS(emo_last_error(), want);
}

static void test_cfg_errors(void) {
    cfg_error("input size=8\nconvv filters=3 size=3\n", "t.cfg:2: unknown layer 'convv'");
    cfg_error("input size=8\nconv filters=3 size=3 strde=2\n", "t.cfg:2: conv: unknown option 'strde'");
    cfg_error("input size=8\n\n# c\nconv filters=3\n", "t.cfg:4: missing option size=");
    cfg_error("input size=8\nconv filters=3 size=11\n", "t.cfg:2: kernel larger than the padded input 8x8x1");
    cfg_error("input size=8\nconv filters=3 size=3 groups=2\n", "t.cfg:2: groups must divide");
    cfg_error("input size=8\nconv filters=-3 size=3\n", "filters=-3: want an integer");
    cfg_error("input size=8\nrelu name=a\nadd from=b\nrelu name=b\n", "t.cfg:3: from=b: no layer of that name above");
    cfg_error("input size=8\nrelu name=a in=a\n", "t.cfg:2: in=a refers to the layer itself");
    cfg_error("input size=8\nrelu name=a\nmaxpool size=2\nadd from=a\n", "t.cfg:4: add: shapes differ");
    cfg_error("relu\n", "t.cfg:1: the first layer must be 'input'");
    cfg_error("input size=8\ninput size=8\n", "t.cfg:2: 'input' may only be the first layer");
    cfg_error("input size=8\nrelu name=a\nrelu\nrelu in=a\n", "t.cfg:3: the output of this relu layer is never used");
    cfg_error("input size=8\nrelu name=a\nrelu name=a\n", "t.cfg:3: name 'a' already used");
    cfg_error("input size=8\ndropout p=1.5\n", "p=1.5: want a number");
    cfg_error("input size=8\nconv filters 3\n", "options are written key=value");
    cfg_error("input size=8\nconv filters=3 size=3 filters=4\n", "given twice");
    cfg_error("", "needs an input line");
    cfg_error("input size=8\nlinear out=300\n", "at most 256 classes");
    cfg_error("input size=4096 channels=64\nconv filters=65536 size=64\ngap\nlinear out=2\n", "parameters");
}

/* ---- model files and checkpoints ---------------------------------------------------------- */

static nn_net *trained_toy(void) {
    nn_net *net = NULL;
    CHECK_OK(nn_net_from_cfg(&net,
                             "input size=48\nconv filters=4 size=3 pad=1 bias=0\nbn\nrelu\nmaxpool size=4\n"
                             "conv filters=8 size=3 pad=1\nbn\nrelu\ngap\ndropout p=0.2\nlinear out=7\n",
                             "toy"));
    if (!net) return NULL;
    nn_net_init_params(net, 5);
    CHECK_OK(nn_net_set_batch(net, 4));
    uint64_t seed = 1;
    float x[4 * 48 * 48];
    int lab[4] = {0, 3, 6, 2};
    frand(x, sizeof x / 4, &seed);
    nn_optim opt = nn_optim_default(NN_ADAM);
    for (int i = 0; i < 3; i++) {
        nn_net_zero_grad(net);
        nn_net_forward(net, x, 4, 1);
        nn_loss_softmax_ce_labels(net, lab, 0, NULL);
        nn_net_backward(net);
        nn_optim_step(net, &opt, NULL);
    }
    return net;
}

static nn_model_meta toy_meta(void) {
    nn_model_meta meta = {.n_classes = 7, .mean = 0.5f, .std = 0.25f};
    const char *names[] = {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"};
    for (int i = 0; i < 7; i++) snprintf(meta.class_names[i], NN_NAME_LEN, "%s", names[i]);
    return meta;
}

static void test_model_round_trip(void) {
    nn_net *net = trained_toy();
    if (!net) return;
    nn_model_meta meta = toy_meta();
    const char *path = test_tmp("toy.emo");
    CHECK_OK(nn_model_save(net, &meta, path));
    emo_model *m = NULL;
    CHECK_OK(emo_model_load(&m, path));
    if (m) {
        CHECK_EQ_INT(emo_model_classes(m), 7);
        CHECK(strcmp(emo_model_class_name(m, 5), "surprise") == 0);
        CHECK(emo_model_class_name(m, 7) == NULL);
        int w, h;
        emo_model_input_size(m, &w, &h);
        CHECK_EQ_INT(w, 48);
        CHECK_EQ_INT(h, 48);
        /* 3 faces, one with a wider stride; compare with the training net in eval mode */
        uint8_t pix[3][48 * 50];
        for (int i = 0; i < 3 * 48 * 50; i++) pix[i / 2400][i % 2400] = (uint8_t)((i * 37) ^ (i >> 5));
        emo_image faces[3] = {(emo_image){48, 48, 1, 48, pix[0], 0}, (emo_image){48, 48, 1, 50, pix[1], 0},
                              (emo_image){48, 48, 1, 48, pix[2], 0}};
        float probs[21], x[3 * 2304];
        CHECK_OK(emo_classify(m, faces, 3, probs));
        for (int i = 0; i < 3; i++)
            for (int y = 0; y < 48; y++)
                for (int xx = 0; xx < 48; xx++)
                    x[i * 2304 + y * 48 + xx] = (pix[i][y * faces[i].stride + xx] / 255.0f - 0.5f) / 0.25f;
        nn_net_forward(net, x, 3, 0);
        float want[21], dummy[21], t[21] = {0};
        nn_softmax_ce(3, 7, nn_net_output(net), t, 0, want, dummy);
        CHECK_MSG(rel_err(probs, want, 21) < 1e-5, "folded model vs training net: %g", rel_err(probs, want, 21));
        /* 20 faces (3 chunks): one thread and two (batch-parallel) agree */
        emo_image many[20];
        float p1[20 * 7], p2[20 * 7];
        for (int i = 0; i < 20; i++) many[i] = faces[i % 3];
        CHECK_OK(emo_classify(m, many, 20, p1));
        emo_model_set_threads(m, 2);
        CHECK_OK(emo_classify(m, many, 20, p2));
        CHECK_MSG(rel_err(p2, p1, 20 * 7) < 1e-6, "2 threads vs 1: %g", rel_err(p2, p1, 20 * 7));
        CHECK_MSG(rel_err(p1 + 3 * 7, probs, 21) < 1e-6, "batch of 20 vs 3: %g", rel_err(p1 + 3 * 7, probs, 21));
        emo_image bad = (emo_image){40, 48, 1, 48, pix[0], 0};
        CHECK_EQ_INT(emo_classify(m, &bad, 1, probs), EMO_EINVAL);
        CHECK_STR_CONTAINS(emo_last_error(), "face 0 is 40x48x1");
        emo_model_free(m);
    }
    nn_net_free(net);
}

/* Layers folding cannot remove (bn after relu, silu, residual add, flatten,
 * strided conv) survive the .emo round trip with the same outputs. */
static void test_model_unfolded_layers(void) {
    nn_net *net = NULL;
    CHECK_OK(nn_net_from_cfg(&net,
                             "input size=48\nconv filters=8 size=3 stride=2 pad=1\nrelu name=a\nbn\nsilu\n"
                             "add from=a\navgpool size=4\nconv filters=4 size=1\nflatten\ndropout p=0.5\nlinear out=7\n",
                             "unfolded"));
    if (!net) return;
    nn_net_init_params(net, 4);
    for (size_t i = 0; i < net->n_stats; i++) net->stats[i] = 0.5f + 0.01f * (float)i; /* var, mean > 0 */
    CHECK_OK(nn_net_set_batch(net, 2));
    nn_model_meta meta = toy_meta();
    CHECK_OK(nn_model_save(net, &meta, test_tmp("unfolded.emo")));
    emo_model *m = NULL;
    CHECK_OK(emo_model_load(&m, test_tmp("unfolded.emo")));
    if (m) {
        uint8_t pix[2][2304];
        for (int i = 0; i < 2 * 2304; i++) pix[i / 2304][i % 2304] = (uint8_t)(i * 7);
        emo_image faces[2] = {{48, 48, 1, 48, pix[0], 0}, {48, 48, 1, 48, pix[1], 0}};
        float probs[14], x[2 * 2304], want[14], d[14], t[14] = {0};
        CHECK_OK(emo_classify(m, faces, 2, probs));
        for (int i = 0; i < 2 * 2304; i++) x[i] = (pix[i / 2304][i % 2304] / 255.0f - 0.5f) / 0.25f;
        CHECK_OK(nn_net_forward(net, x, 2, 0));
        nn_softmax_ce(2, 7, nn_net_output(net), t, 0, want, d);
        CHECK_MSG(rel_err(probs, want, 14) < 1e-5, "unfolded model: %g", rel_err(probs, want, 14));
        emo_model_free(m);
    }
    nn_net_free(net);
}

static void test_model_bad_files(void) {
    nn_net *net = trained_toy();
    if (!net) return;
    nn_model_meta meta = toy_meta();
    const char *path = test_tmp("bad.emo");
    CHECK_OK(nn_model_save(net, &meta, path));
    uint8_t *bytes;
    size_t size;
    CHECK_OK(emo_read_file(path, 0, &bytes, &size));
    emo_model *m = (emo_model *)1;
    /* every truncation */
    int accepted = 0;
    for (size_t n = 0; n < size; n += (n < 400 ? 1 : 97)) accepted += emo_model_load_memory(&m, bytes, n, "t") == 0;
    CHECK_EQ_INT(accepted, 0);
    CHECK(m == NULL);
    /* every single-byte corruption in the header and config, sampled later */
    for (size_t i = 0; i < size; i += (i < 600 ? 1 : 131)) {
        bytes[i] ^= 0x40;
        int st = emo_model_load_memory(&m, bytes, size, "t");
        CHECK_MSG(st < 0, "corrupt byte %zu accepted", i);
        if (st == 0) emo_model_free(m);
        bytes[i] ^= 0x40;
    }
    CHECK_OK(emo_model_load_memory(&m, bytes, size, "t"));
    emo_model_free(m);
    memcpy(bytes, "EMOC", 4);
    CHECK_EQ_INT(emo_model_load_memory(&m, bytes, size, "t.emo"), EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "t.emo: bad magic, expected EMOM");
    memcpy(bytes, "EMOM", 4);
    bytes[4] = 9;
    CHECK_EQ_INT(emo_model_load_memory(&m, bytes, size, "t.emo"), EMO_EUNSUPPORTED);
    CHECK_STR_CONTAINS(emo_last_error(), "version 9");
    free(bytes);
    CHECK_EQ_INT(emo_model_load(&m, test_tmp("missing.emo")), EMO_ENOTFOUND);
    /* a failed save leaves nothing behind */
    CHECK(nn_model_save(net, &meta, test_tmp("no/such/dir/x.emo")) < 0);
    meta.n_classes = 6;
    CHECK_EQ_INT(nn_model_save(net, &meta, test_tmp("six.emo")), EMO_EINVAL);
    CHECK(access(test_tmp("six.emo"), F_OK) != 0);
    nn_net_free(net);
}

static void train_steps(nn_net *net, nn_optim *opt, int steps, uint64_t seed) {
    float x[4 * 48 * 48];
    int lab[4] = {1, 2, 3, 4};
    for (int i = 0; i < steps; i++) {
        uint64_t s = seed + (uint64_t)net->step;
        frand(x, sizeof x / 4, &s);
        nn_net_zero_grad(net);
        nn_net_forward(net, x, 4, 1);
        nn_loss_softmax_ce_labels(net, lab, 0.1f, NULL);
        nn_net_backward(net);
        CHECK_OK(nn_optim_step(net, opt, NULL));
    }
}

static void test_checkpoint_resume(void) {
    nn_net *a = trained_toy(), *b = NULL;
    if (!a) return;
    nn_optim opt = nn_optim_default(NN_ADAMW), opt2;
    opt.clip_norm = 5;
    train_steps(a, &opt, 2, 40);
    CHECK_OK(nn_checkpoint_save(a, &opt, test_tmp("a.ckpt")));
    CHECK_OK(nn_checkpoint_load(&b, &opt2, test_tmp("a.ckpt")));
    if (!b) {
        nn_net_free(a);
        return;
    }
    CHECK_EQ_INT(b->step, a->step);
    CHECK_EQ_INT(opt2.kind, NN_ADAMW);
    CHECK(opt2.clip_norm == 5);
    CHECK_OK(nn_net_set_batch(b, 4));
    train_steps(a, &opt, 3, 40);
    train_steps(b, &opt2, 3, 40);
    CHECK_EQ_INT(memcmp(a->params, b->params, a->n_params * 4), 0);
    CHECK_EQ_INT(memcmp(a->stats, b->stats, a->n_stats * 4), 0);
    /* a model file is not a checkpoint */
    nn_model_meta meta = toy_meta();
    CHECK_OK(nn_model_save(a, &meta, test_tmp("a.emo")));
    nn_net *c = NULL;
    CHECK_EQ_INT(nn_checkpoint_load(&c, &opt2, test_tmp("a.emo")), EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "bad magic");
    nn_net_free(a);
    nn_net_free(b);
}

static void test_nan_detected(void) {
    nn_net *net = trained_toy();
    if (!net) return;
    float x[4 * 48 * 48] = {0};
    int lab[4] = {0, 1, 2, 3};
    net->params[net->tensors[net->n_tensors - 2].off] = NAN;
    nn_net_zero_grad(net);
    nn_net_forward(net, x, 4, 1);
    float loss;
    CHECK_EQ_INT(nn_loss_softmax_ce_labels(net, lab, 0, &loss), EMO_ENUMERIC);
    CHECK_STR_CONTAINS(emo_last_error(), "step 3: loss is nan");
    net->params[net->tensors[net->n_tensors - 2].off] = 0;
    nn_net_zero_grad(net);
    nn_net_forward(net, x, 4, 1);
    nn_loss_softmax_ce_labels(net, lab, 0, &loss);
    nn_net_backward(net);
    net->grads[5] = INFINITY;
    float before = net->params[5];
    nn_optim opt = nn_optim_default(NN_SGD);
    CHECK_EQ_INT(nn_optim_step(net, &opt, NULL), EMO_ENUMERIC);
    CHECK_STR_CONTAINS(emo_last_error(), "step 4: gradient of 1.conv.w is inf");
    CHECK(net->params[5] == before);
    nn_model_meta meta = toy_meta();
    net->params[5] = NAN;
    CHECK_EQ_INT(nn_model_save(net, &meta, test_tmp("nan.emo")), EMO_ENUMERIC);
    CHECK(access(test_tmp("nan.emo"), F_OK) != 0);
    nn_net_free(net);
}

/* Two threads (per-layer splits, per-thread Winograd chunks, dnnl threads)
 * train to the same parameters as one, up to rounding. */
static void test_threads_agree(void) {
    const char *cfg = "input size=48\nconv filters=32 size=3 pad=1 bias=0\nbn\nrelu\n"
                      "conv filters=32 size=3 pad=1 bias=0\nbn\nrelu\nmaxpool size=2\n"
                      "conv filters=64 size=3 pad=1\nrelu\ngap\nlinear out=7\n";
    nn_net *a = NULL, *b = NULL;
    CHECK_OK(nn_net_from_cfg(&a, cfg, "t1"));
    CHECK_OK(nn_net_from_cfg(&b, cfg, "t2"));
    if (!a || !b) {
        nn_net_free(a);
        nn_net_free(b);
        return;
    }
    nn_net_init_params(a, 9);
    nn_net_init_params(b, 9);
    nn_net_set_threads(b, 2);
    CHECK_OK(nn_net_set_batch(a, 4));
    CHECK_OK(nn_net_set_batch(b, 4));
    nn_optim opt = nn_optim_default(NN_SGD);
    train_steps(a, &opt, 2, 5);
    train_steps(b, &opt, 2, 5);
    CHECK_MSG(rel_err(b->params, a->params, a->n_params) < 1e-5, "params: %g", rel_err(b->params, a->params, a->n_params));
    float x[4 * 48 * 48];
    uint64_t seed = 3;
    frand(x, 4 * 48 * 48, &seed);
    nn_net_forward(a, x, 4, 0);
    nn_net_forward(b, x, 4, 0);
    CHECK(rel_err(nn_net_output(b), nn_net_output(a), 28) < 1e-4);
    nn_net_free(a);
    nn_net_free(b);
}

/* Data-parallel training passes (the batch split over 2 and 3 threads,
 * unevenly: 7 images) give what one thread gives: the training-mode
 * outputs with bn statistics over the whole batch and one dropout mask,
 * parameter and input gradients, bn running statistics; also with
 * nn_data_parallel off (every layer split over the threads instead). */
static void test_data_parallel(void) {
    const char *cfg = "input size=24\nconv filters=32 size=3 pad=1 bias=0\nbn\nrelu name=a\n"
                      "conv filters=32 size=3 pad=1 bias=0\nbn\nadd from=a\nrelu\nmaxpool size=2\n"
                      "conv filters=64 size=3 pad=1 bias=0\nbn\nrelu\ngap\ndropout p=0.3\nlinear out=7\n";
    enum { N = 7, RUNS = 4 };
    int threads[RUNS] = {1, 2, 3, 2}, dp[RUNS] = {1, 1, 1, 0};
    nn_net *net[RUNS] = {0};
    float x[N * 24 * 24], dx[RUNS][N * 24 * 24], loss[RUNS];
    int lab[N] = {0, 1, 2, 3, 4, 5, 6};
    uint64_t rng0 = 0; /* the dropout generator after init, for the rerun below */
    uint64_t seed = 11;
    frand(x, N * 24 * 24, &seed);
    for (int r = 0; r < RUNS; r++) {
        CHECK_OK(nn_net_from_cfg(&net[r], cfg, "dp"));
        if (!net[r]) goto done;
        nn_net_init_params(net[r], 5);
        rng0 = net[r]->rng;
        nn_net_set_threads(net[r], threads[r]);
        CHECK_OK(nn_net_set_batch(net[r], N));
        nn_data_parallel = dp[r];
        nn_net_zero_grad(net[r]);
        CHECK_OK(nn_net_forward(net[r], x, N, 1));
        CHECK_EQ_INT(net[r]->dp, dp[r] && threads[r] > 1 ? threads[r] : 0);
        CHECK_OK(nn_loss_softmax_ce_labels(net[r], lab, 0.1f, &loss[r]));
        CHECK_OK(nn_net_backward_dx(net[r], dx[r]));
    }
    nn_data_parallel = 1;
    for (int r = 1; r < RUNS; r++) {
        nn_net *a = net[0], *b = net[r];
        CHECK_MSG(fabsf(loss[r] - loss[0]) < 1e-5f, "run %d: loss %g vs %g", r, loss[r], loss[0]);
        CHECK_MSG(rel_err(b->probs, a->probs, N * 7) < 1e-5, "run %d: probs %g", r, rel_err(b->probs, a->probs, N * 7));
        CHECK_MSG(rel_err(b->grads, a->grads, a->n_params) < 1e-4, "run %d: grads %g", r,
                  rel_err(b->grads, a->grads, a->n_params));
        CHECK_MSG(rel_err(dx[r], dx[0], N * 24 * 24) < 1e-4, "run %d: dx %g", r, rel_err(dx[r], dx[0], N * 24 * 24));
        CHECK_MSG(rel_err(b->stats, a->stats, a->n_stats) < 1e-5, "run %d: bn running stats %g", r,
                  rel_err(b->stats, a->stats, a->n_stats));
    }
    /* The 3-thread net again with 2 threads: bigger slices than 3 threads
     * give. Each thread's convolution scratch must hold the largest slice
     * (an overrun would spill into the next thread's scratch, inside one
     * allocation, where ASan cannot see it). */
    for (int i = 0; i < net[2]->n_layers; i++) {
        const nn_layer *L = &net[2]->layers[i], *I = &net[2]->layers[L->in < 0 ? 0 : L->in];
        if (L->kind != NN_CONV) continue;
        nn_conv_shape cs = {(N + 1) / 2, I->h, I->w, I->c, L->h, L->w, L->c, L->size, L->stride, L->pad, L->groups};
        CHECK_MSG(net[2]->dp_scratch_per >= nn_conv_scratch_floats(&cs, 1), "layer %d: scratch %zu < %zu", i,
                  net[2]->dp_scratch_per, nn_conv_scratch_floats(&cs, 1));
    }
    nn_net_set_threads(net[2], 2);
    net[2]->rng = rng0; /* the same dropout mask as the first pass */
    nn_net_zero_grad(net[2]);
    CHECK_OK(nn_net_forward(net[2], x, N, 1));
    CHECK_EQ_INT(net[2]->dp, 2);
    CHECK_OK(nn_loss_softmax_ce_labels(net[2], lab, 0.1f, &loss[2]));
    CHECK_OK(nn_net_backward_dx(net[2], dx[2]));
    CHECK_MSG(rel_err(dx[2], dx[1], N * 24 * 24) < 1e-4, "3 then 2 threads: dx %g", rel_err(dx[2], dx[1], N * 24 * 24));
    /* The gradients are not all zero (the comparison means something) and
     * the other threads' blocks were added in and cleared. */
    double g = 0;
    for (size_t i = 0; i < net[0]->n_params; i++) g += fabs(net[0]->grads[i]);
    CHECK(g > 1e-3);
    for (size_t i = 0; i < net[2]->n_params * 2; i++)
        if (net[2]->dp_grads[i] != 0) {
            CHECK_MSG(0, "dp_grads[%zu] = %g after backward", i, net[2]->dp_grads[i]);
            break;
        }
done:
    nn_data_parallel = 1;
    for (int r = 0; r < RUNS; r++) nn_net_free(net[r]);
}

static void test_schedules(void) {
    nn_schedule s = {.kind = NN_SCHED_COSINE, .base_lr = 0.1f, .min_lr = 0.001f, .warmup_steps = 10, .total_steps = 110};
    CHECK_NEAR(nn_schedule_lr(&s, 0), 0.01, 1e-7);
    CHECK_NEAR(nn_schedule_lr(&s, 9), 0.1, 1e-7);
    CHECK_NEAR(nn_schedule_lr(&s, 10), 0.1, 1e-7);
    CHECK_NEAR(nn_schedule_lr(&s, 60), 0.0505, 1e-6);
    CHECK_NEAR(nn_schedule_lr(&s, 110), 0.001, 1e-7);
    CHECK_NEAR(nn_schedule_lr(&s, 500), 0.001, 1e-7);
    nn_schedule t = {.kind = NN_SCHED_STEP, .base_lr = 1, .step_size = 5, .gamma = 0.5f};
    CHECK_NEAR(nn_schedule_lr(&t, 4), 1, 0);
    CHECK_NEAR(nn_schedule_lr(&t, 5), 0.5, 0);
    CHECK_NEAR(nn_schedule_lr(&t, 12), 0.25, 0);
}

static void test_dropout(void) {
    enum { N = 100000 };
    float *x = malloc(N * 4), *y = malloc(N * 4), *mask = malloc(N * 4), *dx = malloc(N * 4);
    for (int i = 0; i < N; i++) x[i] = 1;
    uint64_t rng = 1;
    nn_dropout_forward(N, 0.3f, &rng, x, mask, y);
    int zeros = 0;
    double sum = 0;
    for (int i = 0; i < N; i++) {
        zeros += y[i] == 0;
        sum += y[i];
        CHECK(y[i] == 0 || fabsf(y[i] - 1 / 0.7f) < 1e-6f);
    }
    CHECK_NEAR(zeros / (double)N, 0.3, 0.01);
    CHECK_NEAR(sum / N, 1.0, 0.02);
    nn_dropout_backward(N, mask, x, dx, 0);
    CHECK_EQ_INT(memcmp(dx, y, N * 4), 0);
    free(x), free(y), free(mask), free(dx);
}

/* ---- bf16 ------------------------------------------------------------------------------ */

/* 1 where the bf16 path runs here. A CPU without AVX512-BF16 or AMX-BF16
 * cannot run these tests (it is checked instead that bf16 is refused); one
 * that has them must run them. */
static int bf16_here(void) {
    const char *why = NULL;
    if (nn_bf16_available(&why)) return 1;
    CHECK_MSG(!nn_cpu_bf16_hw(NULL) || getenv("ONEDNN_MAX_CPU_ISA"), "the CPU has bf16 but: %s", why);
    printf("note: bf16 not run here: %s\n", why);
    return 0;
}

static uint32_t fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bitsf(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* float -> bf16 rounds to nearest, ties to even; NaN stays NaN (also a NaN
 * whose payload is only in the low 16 bits), Inf stays Inf, the largest
 * floats round up to Inf as in IEEE; bf16 -> float is exact. */
static void test_bf16_convert(void) {
    const uint32_t in[] = {0x3f800000, 0x3f808000, 0x3f818000, 0x3f808001, 0x3f80ffff, 0xbf808000,
                           0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xff800001, 0x7f7fffff,
                           0x80000000, 0x00000001, 0x00008000, 0x00018000, 0x7f7f7fff};
    const uint16_t want[] = {0x3f80, 0x3f80, 0x3f82, 0x3f81, 0x3f81, 0xbf80, 0x7f80, 0xff80, 0x7fc0,
                             0,      0,      0x7f80, 0x8000, 0x0000, 0x0000, 0x0002, 0x7f7f};
    enum { N = sizeof in / sizeof in[0] };
    float x[N], back[N];
    uint16_t y[N];
    for (int i = 0; i < N; i++) x[i] = bitsf(in[i]);
    nn_f32_to_bf16(N, x, y);
    nn_bf16_to_f32(N, y, back);
    for (int i = 0; i < N; i++) {
        if (isnan(x[i])) {
            CHECK_MSG(isnan(back[i]) && (y[i] & 0x8000) == (in[i] >> 16 & 0x8000), "%08x -> %04x: not a NaN",
                      (unsigned)in[i], y[i]);
            continue;
        }
        CHECK_MSG(y[i] == want[i], "%08x -> %04x, want %04x", (unsigned)in[i], y[i], want[i]);
        CHECK_MSG(fbits(back[i]) == (uint32_t)y[i] << 16, "%04x back to %08x", y[i], (unsigned)fbits(back[i]));
    }
    /* a long run (the vector loop) agrees with the scalar tail */
    enum { M = 1000 };
    float *a = malloc(M * 4), *b = malloc(M * 4);
    uint16_t *h = malloc(M * 2);
    uint64_t seed = 17;
    frand(a, M, &seed);
    nn_f32_to_bf16(M, a, h);
    nn_bf16_to_f32(M, h, b);
    double worst = 0;
    for (int i = 0; i < M; i++) {
        worst = fmax(worst, fabs((double)b[i] - a[i]) / fabs(a[i]));
        uint16_t one;
        nn_f32_to_bf16(1, &a[i], &one);
        if (one != h[i]) {
            CHECK_MSG(0, "element %d: %04x in a run, %04x alone", i, h[i], one);
            break;
        }
    }
    CHECK_MSG(worst <= 1.0 / 256 + 1e-9, "relative rounding error %g > 2^-8", worst);
    free(a), free(b), free(h);
}

/* One bf16 convolution (the only layer of a net) forward and backward against
 * PyTorch: within 1e-5 of float64 on the bf16-rounded operands (so our
 * rounding is torch's and the accumulation is fp32; seen: 1.6e-7), and
 * within the bf16 tolerance of 1e-2 (relative to the largest value) of the
 * exact result (seen: 2e-3 to 3e-3). */
static void test_bf16_conv_torch(void) {
    if (!bf16_here()) return;
    const char *cases[] = {"bconv16", "bconv32s2", "bconv1x1"};
    for (int c = 0; c < 3; c++) {
        char k[64], cfg[256];
#define R(part) (snprintf(k, sizeof k, "%s." part, cases[c]), ref(k))
        const float *sh = R("shape").data;
        int n = (int)sh[0], h = (int)sh[1], cin = (int)sh[3], cout = (int)sh[4], ks = (int)sh[5];
        int stride = (int)sh[6], pad = (int)sh[7], bias = (int)sh[9];
        snprintf(cfg, sizeof cfg, "input size=%d channels=%d\nconv filters=%d size=%d stride=%d pad=%d bias=%d\n", h,
                 cin, cout, ks, stride, pad, bias);
        nn_net *net = NULL;
        CHECK_OK(nn_net_from_cfg(&net, cfg, cases[c]));
        if (!net) return;
        CHECK_OK(nn_net_set_precision(net, NN_BF16));
        CHECK_OK(nn_net_set_batch(net, n));
        const nn_layer *L = &net->layers[1];
        CHECK(nn_bf16_layer_on(net, 1));
        ref_t w = R("w"), x = R("x"), dy = R("dy");
        memcpy(net->params + L->w_off, w.data, w.n * 4);
        if (bias) memcpy(net->params + L->b_off, R("b").data, (size_t)cout * 4);
        float *dx = malloc(x.n * 4);
        nn_net_zero_grad(net);
        CHECK_OK(nn_net_forward(net, x.data, n, 1));
        CHECK_EQ_INT(net->n_out * n, (int)dy.n);
        memcpy(net->dlogits, dy.data, dy.n * 4);
        CHECK_OK(nn_net_backward_dx(net, dx));
        const char *tags[] = {"y", "dx", "dw"};
        const float *got[] = {nn_net_output(net), dx, net->grads + L->w_off};
        for (int t = 0; t < 3; t++) {
            snprintf(k, sizeof k, "%s.%s_b", cases[c], tags[t]);
            CHECK_CLOSE(got[t], k, 1e-5);
            snprintf(k, sizeof k, "%s.%s", cases[c], tags[t]);
            CHECK_CLOSE(got[t], k, 1e-2);
        }
        if (bias) {
            snprintf(k, sizeof k, "%s.db", cases[c]);
            CHECK_CLOSE(net->grads + L->b_off, k, 1e-5);
        }
#undef R
        free(dx);
        nn_net_free(net);
    }
}

/* A bf16 net (convs of 16+ channels in bf16, the first conv and bn, linear
 * in fp32) gives what the fp32 net gives within bf16 tolerances (2e-2;
 * seen: 1.3e-3 for the gradients); data-
 * parallel passes on 2 threads give what 1 thread gives; and a bf16 run's
 * checkpoint resumes bit for bit. */
static const char bf16_cfg[] = "input size=24\nconv filters=16 size=3 pad=1 bias=0\nbn\nrelu name=a\n"
                               "conv filters=16 size=3 pad=1 bias=0\nbn\nadd from=a\nrelu\nmaxpool size=2\n"
                               "conv filters=32 size=3 pad=1\nrelu\ngap\nlinear out=7\n";

static nn_net *bf16_net(int precision, int threads) {
    nn_net *net = NULL;
    CHECK_OK(nn_net_from_cfg(&net, bf16_cfg, "bf16"));
    if (!net) return NULL;
    nn_net_init_params(net, 21);
    nn_net_set_threads(net, threads);
    CHECK_OK(nn_net_set_precision(net, precision));
    CHECK_OK(nn_net_set_batch(net, 6));
    return net;
}

static void bf16_step(nn_net *net, const float *x, const int *lab, float *dx, float *loss) {
    nn_net_zero_grad(net);
    CHECK_OK(nn_net_forward(net, x, 6, 1));
    CHECK_OK(nn_loss_softmax_ce_labels(net, lab, 0.1f, loss));
    CHECK_OK(nn_net_backward_dx(net, dx));
}

static void test_bf16_net(void) {
    if (!bf16_here()) return;
    enum { NX = 6 * 24 * 24 };
    nn_net *f = bf16_net(NN_FP32, 1), *b1 = bf16_net(NN_BF16, 1), *b2 = bf16_net(NN_BF16, 2);
    float *x = malloc(NX * 4), *dxf = malloc(NX * 4), *dx1 = malloc(NX * 4), *dx2 = malloc(NX * 4);
    int lab[6] = {0, 1, 2, 3, 4, 5};
    uint64_t seed = 5;
    frand(x, NX, &seed);
    if (!f || !b1 || !b2) goto out;
    CHECK_EQ_INT(nn_bf16_layer_on(b1, 1), 0); /* 1 input channel: fp32 */
    CHECK_EQ_INT(nn_bf16_layer_on(b1, 4), 1);
    float lf, l1, l2;
    bf16_step(f, x, lab, dxf, &lf);
    bf16_step(b1, x, lab, dx1, &l1);
    bf16_step(b2, x, lab, dx2, &l2);
    CHECK_EQ_INT(b2->dp, 2);
    CHECK_MSG(fabsf(l1 - lf) < 1e-2f * fabsf(lf), "loss bf16 %g fp32 %g", l1, lf);
    CHECK_MSG(rel_err(nn_net_output(b1), nn_net_output(f), 42) < 2e-2, "logits %g",
              rel_err(nn_net_output(b1), nn_net_output(f), 42));
    CHECK_MSG(rel_err(b1->grads, f->grads, f->n_params) < 2e-2, "grads %g", rel_err(b1->grads, f->grads, f->n_params));
    CHECK_MSG(rel_err(dx1, dxf, NX) < 2e-2, "dx %g", rel_err(dx1, dxf, NX));
    CHECK_MSG(rel_err(b1->grads, f->grads, f->n_params) > 0, "bf16 and fp32 gave identical gradients");
    /* 2 threads: each image's rounding is the same; only sums are ordered differently */
    CHECK_MSG(fabsf(l2 - l1) < 1e-5f, "loss 2 threads %g, 1 thread %g", l2, l1);
    CHECK_MSG(rel_err(b2->grads, b1->grads, b1->n_params) < 1e-5, "grads 2 threads %g",
              rel_err(b2->grads, b1->grads, b1->n_params));
    CHECK_MSG(rel_err(dx2, dx1, NX) < 1e-5, "dx 2 threads %g", rel_err(dx2, dx1, NX));
    /* inference (the folded net) in bf16 */
    nn_net *fold = NULL;
    CHECK_OK(nn_net_fold(f, &fold));
    if (fold) {
        CHECK_OK(nn_net_set_batch(fold, 6));
        CHECK_OK(nn_net_forward(fold, x, 6, 0));
        float ref32[42];
        memcpy(ref32, nn_net_output(fold), sizeof ref32);
        CHECK_OK(nn_net_set_precision(fold, NN_BF16));
        CHECK_OK(nn_net_forward(fold, x, 6, 0));
        CHECK_MSG(rel_err(nn_net_output(fold), ref32, 42) < 2e-2, "folded logits %g",
                  rel_err(nn_net_output(fold), ref32, 42));
        CHECK_OK(nn_net_set_precision(fold, NN_FP32)); /* and back: exactly fp32 again */
        CHECK_OK(nn_net_forward(fold, x, 6, 0));
        CHECK_EQ_INT(memcmp(nn_net_output(fold), ref32, sizeof ref32), 0);
        nn_net_free(fold);
    }
out:
    nn_net_free(f), nn_net_free(b1), nn_net_free(b2);
    free(x), free(dxf), free(dx1), free(dx2);
}

static void test_bf16_checkpoint_resume(void) {
    if (!bf16_here()) return;
    enum { NX = 6 * 24 * 24 };
    nn_net *a = bf16_net(NN_BF16, 2), *b = NULL;
    float *x = malloc(NX * 4), *dx = malloc(NX * 4), loss;
    int lab[6] = {6, 5, 4, 3, 2, 1};
    nn_optim opt = nn_optim_default(NN_ADAMW), opt2;
    if (!a) goto out;
    for (int s = 0; s < 5; s++) {
        if (s == 2) {
            CHECK_OK(nn_checkpoint_save(a, &opt, test_tmp("bf16.ckpt")));
            CHECK_OK(nn_checkpoint_load(&b, &opt2, test_tmp("bf16.ckpt")));
            if (!b) goto out;
            CHECK_EQ_INT(b->precision, NN_FP32); /* a checkpoint holds fp32 weights; the run picks */
            nn_net_set_threads(b, 2);
            CHECK_OK(nn_net_set_precision(b, NN_BF16));
            CHECK_OK(nn_net_set_batch(b, 6));
        }
        uint64_t seed = 100 + (uint64_t)s;
        frand(x, NX, &seed);
        bf16_step(a, x, lab, dx, &loss);
        CHECK_OK(nn_optim_step(a, &opt, NULL));
        if (b) {
            bf16_step(b, x, lab, dx, &loss);
            CHECK_OK(nn_optim_step(b, &opt2, NULL));
        }
    }
    if (b) {
        CHECK_EQ_INT(memcmp(a->params, b->params, a->n_params * 4), 0);
        CHECK_EQ_INT(memcmp(a->stats, b->stats, a->n_stats * 4), 0);
    }
out:
    nn_net_free(a), nn_net_free(b);
    free(x), free(dx);
}

static const test_case cases[] = {
    {"conv_ref_torch", test_conv_ref_torch},
    {"conv_fast_torch", test_conv_fast_torch},
    {"conv_fast_vs_naive", test_conv_fast_vs_naive},
    {"bn_torch", test_bn_torch},
    {"pool_torch", test_pool_torch},
    {"act_linear_torch", test_act_linear_torch},
    {"linear_vs_naive", test_linear_vs_naive},
    {"softmax_ce_torch", test_softmax_ce_torch},
    {"net_torch", test_net_torch},
    {"optim_torch", test_optim_torch},
    {"gradcheck", test_gradcheck},
    {"vgg_param_counts", test_vgg_param_counts},
    {"cfg_errors", test_cfg_errors},
    {"model_round_trip", test_model_round_trip},
    {"model_unfolded_layers", test_model_unfolded_layers},
    {"model_bad_files", test_model_bad_files},
    {"checkpoint_resume", test_checkpoint_resume},
    {"nan_detected", test_nan_detected},
    {"threads_agree", test_threads_agree},
    {"data_parallel", test_data_parallel},
    {"schedules", test_schedules},
    {"dropout", test_dropout},
    {"bf16_convert", test_bf16_convert},
    {"bf16_conv_torch", test_bf16_conv_torch},
    {"bf16_net", test_bf16_net},
    {"bf16_checkpoint_resume", test_bf16_checkpoint_resume},
};

int main(int argc, char **argv) {
    int r = test_main(cases, TEST_COUNT(cases), argc, argv);
    free(ref_bytes);
    for (int i = 0; i < n_ref_copies; i++) free(ref_copies[i]);
    return r;
}
