/* test_train_tech.c — the training techniques of issue 14 (src/nn/train.c,
 * the schedules in optim.c, stochastic depth in net.c, ten-crop views in
 * tools/tta.h): mixup and cutmix mix images and targets by the drawn weight,
 * Beta draws have the right moments, class weights and the weighted loss
 * against hand-computed values and finite differences, EMA and SWA
 * averages, cosine with warm restarts, drop-path's forward, gradient,
 * thread independence and inference, and the ten crops. Under a second. */
#include "emo.h"
#include "nn/nn.h"
#include "test.h"
#include "../tools/tta.h"

#include <math.h>
#include <stdint.h>

static void frand(float *p, size_t n, uint64_t *s) {
    for (size_t i = 0; i < n; i++) {
        *s = *s * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (float)((double)(*s >> 11) / 9007199254740992.0 * 2 - 1);
    }
}

/* ---- mixup / cutmix ------------------------------------------------------------ */

static void test_mix_parse(void) {
    nn_mix m;
    CHECK_OK(nn_mix_parse("mixup=0.2", &m));
    CHECK(m.mixup == 0.2f && m.cutmix == 0 && m.p == 1);
    CHECK_OK(nn_mix_parse("cutmix=1.0,p=0.5", &m));
    CHECK(m.mixup == 0 && m.cutmix == 1 && m.p == 0.5f);
    CHECK_OK(nn_mix_parse("mixup=0.4,cutmix=1", &m));
    CHECK(m.mixup == 0.4f && m.cutmix == 1);
    CHECK_OK(nn_mix_parse("none", &m));
    CHECK(m.p == 0);
    const char *bad[] = {"mixup", "mixup=0", "mixup=-1", "cutmix=abc", "p=0.5", "mixup=0.2,p=0", "mixup=0.2,p=1.5",
                         "mixup=0.2,alpha=1", "mixup=0.2x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_MSG(nn_mix_parse(bad[i], &m) == EMO_EINVAL, "'%s' accepted", bad[i]);
        CHECK_STR_CONTAINS(emo_last_error(), "mix");
    }
}

/* Beta(a, a) has mean 1/2 and variance 1 / (4 (2a + 1)). */
static void test_beta_moments(void) {
    const double as[] = {0.2, 1, 4};
    for (int t = 0; t < 3; t++) {
        uint64_t r = 123 + t;
        double s = 0, s2 = 0;
        enum { N = 40000 };
        for (int i = 0; i < N; i++) {
            double v = nn_beta_sample(&r, as[t]);
            CHECK(v >= 0 && v <= 1);
            s += v;
            s2 += v * v;
        }
        double mean = s / N, var = s2 / N - mean * mean, want = 1 / (4 * (2 * as[t] + 1));
        CHECK_MSG(fabs(mean - 0.5) < 0.01, "Beta(%g): mean %.4f", as[t], mean);
        CHECK_MSG(fabs(var - want) < 0.05 * want, "Beta(%g): variance %.4f, want %.4f", as[t], var, want);
    }
}

enum { MN = 5, MH = 6, MW = 8, MK = 3 };

/* image i is constant i + 1, its target one-hot of class i % 3 */
static void mix_inputs(float *x, float *t) {
    for (int i = 0; i < MN; i++) {
        for (int q = 0; q < MH * MW; q++) x[i * MH * MW + q] = (float)(i + 1);
        for (int j = 0; j < MK; j++) t[i * MK + j] = j == i % MK;
    }
}

static void test_mixup(void) {
    nn_mix m = {0.4f, 0, 1};
    float x[MN * MH * MW], t[MN * MK], lam = -1;
    mix_inputs(x, t);
    CHECK_EQ_INT(nn_mix_batch(&m, 77, MN, MH, MW, 1, x, MK, t, &lam), NN_MIXED_MIXUP);
    CHECK(lam >= 0 && lam <= 1);
    for (int i = 0; i < MN; i++) {
        int pair = MN - 1 - i;
        float want = lam * (i + 1) + (1 - lam) * (pair + 1);
        if (pair == i) want = (float)(i + 1); /* the middle image of an odd batch stays */
        for (int q = 0; q < MH * MW; q++) CHECK_NEAR(x[i * MH * MW + q], want, 1e-5);
        float sum = 0;
        for (int j = 0; j < MK; j++) {
            float tw = pair == i ? (j == i % MK) : lam * (j == i % MK) + (1 - lam) * (j == pair % MK);
            CHECK_NEAR(t[i * MK + j], tw, 1e-6);
            sum += t[i * MK + j];
        }
        CHECK_NEAR(sum, 1, 1e-6);
    }
    /* the same seed, the same mix; p < 1 mixes about that share of batches */
    float x2[MN * MH * MW], t2[MN * MK], lam2;
    mix_inputs(x2, t2);
    nn_mix_batch(&m, 77, MN, MH, MW, 1, x2, MK, t2, &lam2);
    CHECK(lam2 == lam && memcmp(x, x2, sizeof x) == 0);
    nn_mix half = {0.4f, 0, 0.3f};
    int mixed = 0;
    for (int s = 0; s < 2000; s++) {
        mix_inputs(x, t);
        mixed += nn_mix_batch(&half, emo_seed_mix(5, (uint64_t)s), MN, MH, MW, 1, x, MK, t, NULL) != NN_MIXED_NONE;
    }
    CHECK_NEAR(mixed / 2000.0, 0.3, 0.04);
}

static void test_cutmix(void) {
    nn_mix m = {0, 1, 1};
    int boxes = 0;
    for (int s = 0; s < 50; s++) {
        float x[MN * MH * MW], t[MN * MK], lam;
        mix_inputs(x, t);
        CHECK_EQ_INT(nn_mix_batch(&m, (uint64_t)s * 31 + 1, MN, MH, MW, 1, x, MK, t, &lam), NN_MIXED_CUTMIX);
        /* each image holds its own value or its pair's, the pair's on exactly
         * (1 - lambda) of the pixels, in one rectangle, the same for all */
        int n_other = 0, y0 = MH, y1 = -1, x0 = MW, x1 = -1;
        for (int q = 0; q < MH * MW; q++)
            if (x[q] != 1) {
                CHECK(x[q] == MN);
                n_other++;
                int yy = q / MW, xx = q % MW;
                y0 = yy < y0 ? yy : y0, y1 = yy > y1 ? yy : y1, x0 = xx < x0 ? xx : x0, x1 = xx > x1 ? xx : x1;
            }
        CHECK_NEAR(n_other, (1 - lam) * MH * MW, 1e-3);
        if (n_other) {
            boxes++;
            CHECK_EQ_INT(n_other, (y1 - y0 + 1) * (x1 - x0 + 1));
        }
        for (int i = 1; i < MN; i++)
            for (int q = 0; q < MH * MW; q++) {
                int own = x[q] == 1;
                float v = x[i * MH * MW + q];
                if (i == MN / 2) CHECK(v == i + 1);
                else CHECK(v == (own ? i + 1 : MN - i));
            }
        CHECK_NEAR(t[0 * MK + 0], lam, 1e-6);                 /* image 0: class 0 ... */
        CHECK_NEAR(t[0 * MK + (MN - 1) % MK], 1 - lam, 1e-6); /* ... and its pair's class 1 */
    }
    CHECK_MSG(boxes > 25, "only %d of 50 cutmix batches pasted a box", boxes);
}

/* ---- class weights ----------------------------------------------------------- */

static void test_class_weights(void) {
    long long counts[3] = {100, 10, 40};
    float w[3];
    CHECK_OK(nn_class_weights(3, counts, 0, w));
    /* w ~ 1/count with mean 1 over the 150 rows: 150 / (3 * count) */
    CHECK_NEAR(w[0], 0.5, 1e-6);
    CHECK_NEAR(w[1], 5, 1e-5);
    CHECK_NEAR(w[2], 1.25, 1e-6);
    CHECK_OK(nn_class_weights(3, counts, 0.99, w));
    double raw[3], mean = 0;
    for (int j = 0; j < 3; j++) raw[j] = 0.01 / (1 - pow(0.99, (double)counts[j]));
    double scale = 150 / (100 * raw[0] + 10 * raw[1] + 40 * raw[2]);
    for (int j = 0; j < 3; j++) {
        CHECK_NEAR(w[j], raw[j] * scale, 1e-5);
        mean += counts[j] * w[j] / 150.0;
    }
    CHECK_NEAR(mean, 1, 1e-6);
    CHECK(w[1] > w[2] && w[2] > w[0]);
    long long zero[2] = {5, 0};
    CHECK_EQ_INT(nn_class_weights(2, zero, 0, w), EMO_EINVAL);
    CHECK_EQ_INT(nn_class_weights(3, counts, 1, w), EMO_EINVAL);
}

static double weighted_loss_at(nn_net *net, const float *x, const float *t, const float *cw) {
    float l = 0;
    nn_net_forward(net, x, 4, 1);
    nn_loss_softmax_ce_weighted(net, t, 0.1f, cw, &l);
    return l;
}

static void test_weighted_loss(void) {
    nn_net *net = NULL;
    CHECK_OK(nn_net_from_cfg(&net, "input w=2 h=1 channels=2\nlinear out=3\n", "wl"));
    if (!net) return;
    nn_net_init_params(net, 9);
    CHECK_OK(nn_net_set_batch(net, 4));
    uint64_t seed = 3;
    float x[16], t[12] = {1, 0, 0, 0, 1, 0, 0.2f, 0.3f, 0.5f, 0, 0, 1}, cw[3] = {0.5f, 4, 1.5f}, ones[3] = {1, 1, 1};
    frand(x, 16, &seed);
    /* weights 1: the plain loss and gradient, bit for bit */
    float l1, l2;
    CHECK_OK(nn_net_forward(net, x, 4, 1));
    CHECK_OK(nn_loss_softmax_ce(net, t, 0.1f, &l1));
    float d1[12];
    memcpy(d1, net->dlogits, sizeof d1);
    CHECK_OK(nn_loss_softmax_ce_weighted(net, t, 0.1f, ones, &l2));
    CHECK_NEAR(l2, l1, 1e-6);
    for (int i = 0; i < 12; i++) CHECK_NEAR(net->dlogits[i], d1[i], 1e-7);
    /* by hand: mean of s_i * CE_i, s = (0.5, 4, 0.2*0.5 + 0.3*4 + 0.5*1.5, 1.5) */
    CHECK_OK(nn_loss_softmax_ce_weighted(net, t, 0.1f, cw, &l2));
    const float *z = nn_net_output(net);
    double want = 0, s[4] = {0.5, 4, 0.1 + 1.2 + 0.75, 1.5};
    for (int i = 0; i < 4; i++) {
        double mx = fmax(fmax(z[i * 3], z[i * 3 + 1]), z[i * 3 + 2]), se = 0, ce = 0;
        for (int j = 0; j < 3; j++) se += exp(z[i * 3 + j] - mx);
        for (int j = 0; j < 3; j++) ce -= (0.9 * t[i * 3 + j] + 0.1 / 3) * (z[i * 3 + j] - mx - log(se));
        want += s[i] * ce / 4;
    }
    CHECK_NEAR(l2, want, 1e-5);
    /* gradient against central differences on the parameters */
    nn_net_zero_grad(net);
    weighted_loss_at(net, x, t, cw);
    CHECK_OK(nn_net_backward(net));
    for (size_t i = 0; i < net->n_params; i++) {
        float v = net->params[i], h = 1e-2f;
        net->params[i] = v + h;
        double lp = weighted_loss_at(net, x, t, cw);
        net->params[i] = v - h;
        double lm = weighted_loss_at(net, x, t, cw);
        net->params[i] = v;
        double num = (lp - lm) / (2 * h);
        CHECK_MSG(fabs(num - net->grads[i]) < 2e-2 * fabs(num) + 2e-3, "param %zu: numeric %.6g analytic %.6g", i,
                  num, net->grads[i]);
    }
    nn_net_free(net);
}

/* ---- weight averages ---------------------------------------------------------- */

static void test_weight_average(void) {
    nn_net *net = NULL;
    CHECK_OK(nn_net_from_cfg(&net, "input w=2 h=2 channels=1\nconv filters=2 size=1\nbn\nlinear out=2\n", "avg"));
    if (!net) return;
    nn_net_init_params(net, 1);
    size_t np = net->n_params, ns = net->n_stats;
    nn_avg ema, swa;
    CHECK_OK(nn_avg_init(&ema, net, 0.9f));
    CHECK_OK(nn_avg_init(&swa, net, 0));
    float *start = malloc(np * sizeof *start), *mean = calloc(np, sizeof *mean), *e = malloc(np * sizeof *e);
    memcpy(start, net->params, np * sizeof *start);
    memcpy(e, start, np * sizeof *e);
    for (int u = 0; u < 30; u++) {
        for (size_t i = 0; i < np; i++) net->params[i] = start[i] + (float)u;
        for (size_t i = 0; i < ns; i++) net->stats[i] = (float)(2 * u);
        nn_avg_update(&ema, net);
        nn_avg_update(&swa, net);
        double d = fmin(0.9, (1.0 + u) / (10.0 + u));
        for (size_t i = 0; i < np; i++) {
            e[i] = (float)(d * e[i] + (1 - d) * net->params[i]);
            mean[i] += net->params[i] / 30.0f;
        }
    }
    CHECK_EQ_INT(ema.count, 30);
    for (size_t i = 0; i < np; i++) {
        CHECK_NEAR(ema.w[i], e[i], 1e-4);
        CHECK_NEAR(swa.w[i], mean[i], 1e-4); /* start + 14.5 */
    }
    CHECK_NEAR(swa.w[np], 29, 1e-4); /* the statistics are averaged too: mean of 2u */
    /* swap in, swap back: bit for bit */
    float *p0 = malloc(np * sizeof *p0), *s0 = malloc(ns * sizeof *s0);
    memcpy(p0, net->params, np * sizeof *p0);
    memcpy(s0, net->stats, ns * sizeof *s0);
    long long v = net->param_version;
    CHECK_OK(nn_avg_swap(&swa, net));
    CHECK(net->param_version != v);
    CHECK_NEAR(net->params[0], mean[0], 1e-4);
    CHECK_OK(nn_avg_swap(&swa, net));
    CHECK_EQ_INT(memcmp(net->params, p0, np * sizeof *p0), 0);
    CHECK_EQ_INT(memcmp(net->stats, s0, ns * sizeof *s0), 0);
    nn_avg_free(&ema);
    nn_avg_free(&swa);
    CHECK_EQ_INT(nn_avg_init(&swa, net, 1), EMO_EINVAL);
    CHECK(swa.w == NULL);
    free(start), free(mean), free(e), free(p0), free(s0);
    nn_net_free(net);
}

/* ---- cosine with warm restarts -------------------------------------------------- */

static void test_cosine_restarts(void) {
    nn_schedule s = {.kind = NN_SCHED_COSINE_RESTARTS, .base_lr = 1, .min_lr = 0, .warmup_steps = 10,
                     .total_steps = 1000, .period_steps = 20, .period_mult = 1};
    CHECK_NEAR(nn_schedule_lr(&s, 0), 0.1, 1e-7); /* warm-up as before */
    CHECK_NEAR(nn_schedule_lr(&s, 10), 1, 1e-7);  /* cycle 1 starts */
    CHECK_NEAR(nn_schedule_lr(&s, 20), 0.5, 1e-6);
    CHECK_NEAR(nn_schedule_lr(&s, 29), 0.5 * (1 + cos(M_PI * 19 / 20)), 1e-6);
    CHECK_NEAR(nn_schedule_lr(&s, 30), 1, 1e-7); /* restart */
    CHECK_NEAR(nn_schedule_lr(&s, 55), 0.5 * (1 + cos(M_PI * 5 / 20)), 1e-6);
    s.period_mult = 2; /* cycles of 20, 40, 80 steps after the warm-up: restarts at 30, 70, 150 */
    CHECK_NEAR(nn_schedule_lr(&s, 30), 1, 1e-7);
    CHECK_NEAR(nn_schedule_lr(&s, 50), 0.5, 1e-6);
    CHECK_NEAR(nn_schedule_lr(&s, 69), 0.5 * (1 + cos(M_PI * 39 / 40)), 1e-6);
    CHECK_NEAR(nn_schedule_lr(&s, 70), 1, 1e-7);
    CHECK_NEAR(nn_schedule_lr(&s, 110), 0.5, 1e-6);
    CHECK_NEAR(nn_schedule_lr(&s, 150), 1, 1e-7);
    s.period_mult = 1.5f; /* 20, 30, 45 */
    CHECK_NEAR(nn_schedule_lr(&s, 60), 1, 1e-7);
    CHECK_NEAR(nn_schedule_lr(&s, 75), 0.75, 1e-6); /* 15 steps into 45 */
    CHECK_NEAR(nn_schedule_lr(&s, 105), 1, 1e-7);
    s.min_lr = 0.01f;
    CHECK(nn_schedule_lr(&s, 104) > 0.01f && nn_schedule_lr(&s, 104) < 0.012f);
}

/* ---- stochastic depth ------------------------------------------------------------ */

static const char *DP_CFG = "input w=4 h=3 channels=2\nconv filters=2 size=1 name=a\nsilu\nbn\nadd from=a drop=0.5\n"
                            "linear out=3\n";

static double dp_loss(nn_net *net, const float *x, const float *t, uint64_t rng) {
    net->rng = rng; /* the same drops every time */
    float l = 0;
    nn_net_forward(net, x, 8, 1);
    nn_loss_softmax_ce(net, t, 0, &l);
    return l;
}

static void test_drop_path(void) {
    nn_net *net = NULL;
    CHECK_OK(nn_net_from_cfg(&net, DP_CFG, "dp"));
    if (!net) return;
    nn_net_init_params(net, 4);
    CHECK_OK(nn_net_set_batch(net, 8));
    enum { PER = 4 * 3 * 2 };
    float x[8 * PER], t[8 * 3], dx[8 * PER];
    uint64_t seed = 17;
    frand(x, 8 * PER, &seed);
    for (int i = 0; i < 24; i++) t[i] = i % 3 == i / 3 % 3;
    /* forward: out = a + scale * bn, scale 0 or 2 per image, some of each */
    const nn_layer *A = &net->layers[1], *Bn = &net->layers[3], *Ad = &net->layers[4];
    net->rng = 42;
    CHECK_OK(nn_net_forward(net, x, 8, 1));
    int kept = 0, dropped = 0;
    for (int m = 0; m < 8; m++) {
        const float *a = net->acts + A->out_off + m * PER, *b = net->acts + Bn->out_off + m * PER,
                    *o = net->acts + Ad->out_off + m * PER;
        int is_kept = fabsf(o[0] - a[0] - 2 * b[0]) < 1e-5f, is_dropped = o[0] == a[0];
        CHECK(is_kept != is_dropped);
        for (int j = 0; j < PER; j++) CHECK_NEAR(o[j], a[j] + (is_kept ? 2 * b[j] : 0), 1e-5);
        kept += is_kept;
        dropped += is_dropped;
    }
    CHECK_MSG(kept && dropped, "rng 42 kept %d of 8 residual branches: pick a seed that mixes", kept);
    /* gradient: central differences, inputs and parameters */
    dp_loss(net, x, t, 42);
    nn_net_zero_grad(net);
    CHECK_OK(nn_net_backward_dx(net, dx));
    float *g = malloc(net->n_params * sizeof *g);
    memcpy(g, net->grads, net->n_params * sizeof *g);
    for (int k = 0; k < 40; k++) {
        int is_x = k % 2 == 0;
        size_t i = (size_t)(k * 7919) % (is_x ? 8 * PER : net->n_params);
        float *p = is_x ? &x[i] : &net->params[i], v = *p, h = 1e-2f;
        *p = v + h;
        double lp = dp_loss(net, x, t, 42);
        *p = v - h;
        double lm = dp_loss(net, x, t, 42);
        *p = v;
        double num = (lp - lm) / (2 * h), ana = is_x ? dx[i] : g[i];
        CHECK_MSG(fabs(num - ana) <= 2e-2 * fmax(fabs(num), fabs(ana)) + 2e-3, "d/d%s[%zu]: numeric %.6g analytic %.6g",
                  is_x ? "x" : "param", i, num, ana);
    }
    free(g);
    /* the drop rate is p over many images */
    int n_drop = 0;
    for (int r = 0; r < 200; r++) {
        CHECK_OK(nn_net_forward(net, x, 8, 1));
        for (int m = 0; m < 8; m++) n_drop += net->aux[Ad->aux_off + m] == 0;
    }
    CHECK_NEAR(n_drop / 1600.0, 0.5, 0.05);
    /* inference: no drops, no scale, the plain sum; the same as without drop= */
    nn_net *plain = NULL;
    char cfg2[256];
    snprintf(cfg2, sizeof cfg2, "%s", DP_CFG);
    char *d = strstr(cfg2, " drop=0.5");
    memmove(d, d + 9, strlen(d + 9) + 1);
    CHECK_OK(nn_net_from_cfg(&plain, cfg2, "plain"));
    if (plain) {
        memcpy(plain->params, net->params, net->n_params * sizeof(float));
        memcpy(plain->stats, net->stats, net->n_stats * sizeof(float));
        plain->param_version++;
        CHECK_OK(nn_net_set_batch(plain, 8));
        CHECK_OK(nn_net_forward(net, x, 8, 0));
        CHECK_OK(nn_net_forward(plain, x, 8, 0));
        CHECK_EQ_INT(memcmp(nn_net_output(net), nn_net_output(plain), 8 * 3 * sizeof(float)), 0);
        nn_net_free(plain);
    }
    /* the config round-trips with drop=, the folded (inference) net has none */
    char *txt = nn_net_to_cfg(net);
    CHECK(txt && strstr(txt, "drop=0.5"));
    free(txt);
    nn_net *folded = NULL;
    CHECK_OK(nn_net_fold(net, &folded));
    if (folded) {
        CHECK(!strstr(folded->cfg, "drop"));
        nn_net_free(folded);
    }
    nn_net_free(net);
    nn_net *badnet = NULL;
    CHECK_EQ_INT(nn_net_from_cfg(&badnet, "input size=4\nrelu name=a\nrelu\nadd from=a drop=1.5\nlinear out=2\n", "bad"),
                 EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "drop=1.5");
}

/* Data-parallel training draws the same drops as one thread. */
static void test_drop_path_threads(void) {
    nn_net *net[2] = {0};
    float x[8 * 24], t[8 * 3] = {0}, dx[2][8 * 24];
    uint64_t seed = 5;
    frand(x, 8 * 24, &seed);
    for (int i = 0; i < 8; i++) t[i * 3 + i % 3] = 1;
    for (int r = 0; r < 2; r++) {
        CHECK_OK(nn_net_from_cfg(&net[r], DP_CFG, "dp"));
        if (!net[r]) return;
        nn_net_init_params(net[r], 4);
        nn_net_set_threads(net[r], r + 1);
        CHECK_OK(nn_net_set_batch(net[r], 8));
        for (int step = 0; step < 3; step++) {
            nn_net_zero_grad(net[r]);
            CHECK_OK(nn_net_forward(net[r], x, 8, 1));
            CHECK_OK(nn_loss_softmax_ce(net[r], t, 0, NULL));
            CHECK_OK(nn_net_backward_dx(net[r], dx[r]));
        }
    }
    CHECK_EQ_INT(net[1]->dp, 2);
    CHECK(net[0]->rng == net[1]->rng);
    const nn_layer *Ad = &net[0]->layers[4];
    CHECK_EQ_INT(memcmp(net[0]->aux + Ad->aux_off, net[1]->aux + Ad->aux_off, 8 * sizeof(float)), 0);
    for (int i = 0; i < 8 * 24; i++) CHECK_NEAR(dx[1][i], dx[0][i], 1e-6);
    for (size_t i = 0; i < net[0]->n_params; i++) CHECK_NEAR(net[1]->grads[i], net[0]->grads[i], 1e-5);
    nn_net_free(net[0]);
    nn_net_free(net[1]);
}

/* ---- ten-crop TTA ------------------------------------------------------------------ */

static void test_tta_crops(void) {
    enum { S = 48 };
    static uint8_t face[S * S], views[10][S * S];
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) face[y * S + x] = (uint8_t)(x * 4 + y); /* rises to the right and down */
    emo_image scratch = {0};
    CHECK_EQ_INT(tta_view_count(TTA_CROPS, 0), 10);
    CHECK_EQ_INT(tta_view_count(TTA_FLIP, 0), 2);
    CHECK_EQ_INT(tta_view_count(TTA_FLIP, 2), 10);
    CHECK_EQ_INT(tta_view_count(TTA_NONE, 0), 1);
    CHECK_OK(tta_make_views(face, S, S, TTA_CROPS, 3, views[0], &scratch));
    emo_image_free(&scratch);
    /* views 2v + 1 are the mirrors of 2v */
    for (int v = 0; v < 10; v += 2)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) CHECK(views[v + 1][y * S + x] == views[v][y * S + S - 1 - x]);
    /* view 0 is the centre of the face enlarged to 54x54: the middle stays,
     * the corners move inwards in the content. Views 2, 4, 6, 8 are the
     * top-left, top-right, bottom-left, bottom-right crops: their first
     * pixels rise by 6 enlarged columns (x4) or rows (x1) from the corner. */
    CHECK_NEAR(views[0][24 * S + 24], face[24 * S + 24], 2);
    CHECK(views[0][0] > face[0] + 5 && views[0][S * S - 1] < face[S * S - 1] - 5);
    CHECK(views[2][0] <= 1);
    CHECK(views[4][0] > views[0][0] && views[0][0] > views[6][0] && views[6][0] > views[2][0]);
    CHECK_NEAR(views[4][0] - views[2][0], 4 * (views[6][0] - views[2][0]), 4);
    CHECK(views[8][S * S - 1] >= face[S * S - 1] - 1);
    for (int v = 2; v <= 8; v += 2) CHECK(memcmp(views[v], views[0], S * S) != 0);
    /* flip keeps its views: the face, its mirror, and shifts */
    CHECK_OK(tta_make_views(face, S, S, TTA_FLIP, 2, views[0], &scratch));
    CHECK_EQ_INT(memcmp(views[0], face, S * S), 0);
    CHECK(views[1][0] == face[S - 1]);
    CHECK(views[2][0] == face[2] && views[4][0] == face[0] && views[6][0] == face[2 * S]);
}

static const test_case cases[] = {
    {"mix_parse", test_mix_parse},
    {"beta_moments", test_beta_moments},
    {"mixup", test_mixup},
    {"cutmix", test_cutmix},
    {"class_weights", test_class_weights},
    {"weighted_loss", test_weighted_loss},
    {"weight_average", test_weight_average},
    {"cosine_restarts", test_cosine_restarts},
    {"drop_path", test_drop_path},
    {"drop_path_threads", test_drop_path_threads},
    {"tta_crops", test_tta_crops},
};

int main(int argc, char **argv) { return test_main(cases, TEST_COUNT(cases), argc, argv); }
