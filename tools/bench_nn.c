/* bench_nn.c — throughput of the CNN engine: `emo bench train` (a full Adam
 * training step on random data) and `emo bench classify` (emo_classify on a
 * BN-folded model). Prints images/s from the median iteration time (as
 * ../shared/peers/torch/bench.py does) and GFLOP/s counting 2 per multiply-add
 * of conv and linear layers (training = 3x forward), then one line in the
 * peer's format: `emo vgg-s train threads=2 batch=64 img_per_s=... gflops=...`
 * followed by cpu_gflops (the same per second of process CPU time: what the
 * code does while it runs, on a machine shared with other jobs) and
 * peak_gflops (one core's FMA peak measured just after, per CPU second). */
#include "bench_nn.h"
#include "cli.h"
#include "nn/nn.h"

#include <immintrin.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Process CPU time: with other programs on the machine, cpu time per
 * iteration of a 1-thread run shows what the code would do on a quiet core. */
static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void net_name(const char *path, char *out, size_t cap) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(out, cap, "%s", b);
    char *dot = strrchr(out, '.');
    if (dot) *dot = 0;
}

static int set_conv(const char *conv) {
    if (strcmp(conv, "auto") == 0) nn_conv_algo = NN_CONV_AUTO;
    else if (strcmp(conv, "im2col") == 0) nn_conv_algo = NN_CONV_IM2COL;
    else {
        fprintf(stderr, "emo bench: --conv wants auto or im2col, got '%s'\n", conv);
        return 2;
    }
    return 0;
}

/* FP32 FMA throughput of one core right now (12 independent AVX-512 FMA
 * chains), in GFLOP/s of process CPU time: the ceiling the kernels are
 * measured against on a machine shared with other jobs. */
double bench_nn_peak_gflops(double seconds) {
#if defined(__AVX512F__)
    __m512 acc[12], a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
    for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps((float)i);
    long iters = 0;
    double c0 = cpu_seconds(), w0 = omp_get_wtime();
    while (omp_get_wtime() - w0 < seconds) {
        for (int k = 0; k < 1000000; k++)
            for (int j = 0; j < 12; j++) acc[j] = _mm512_fmadd_ps(acc[j], a, b);
        iters += 1000000;
    }
    double dt = cpu_seconds() - c0;
    float sink = 0;
    for (int i = 0; i < 12; i++) sink += _mm512_reduce_add_ps(acc[i]);
    return sink == 12345.0f ? 0 : iters * 12.0 * 32.0 / dt / 1e9;
#else
    (void)seconds;
    return 0;
#endif
}

int bench_nn_peak(int argc, char **argv) {
    float seconds = 1;
    const cli_opt opts[] = {
        {"seconds", 's', "S", "measure for S seconds (default 1)", .out_float = &seconds},
        {0},
    };
    int npos, r = cli_parse(argc, argv, opts, "[OPTIONS]",
                            "FP32 FMA peak of one core now (AVX-512), per second of CPU time: the ceiling for\n"
                            "judging `emo bench train/classify` GFLOP/s on a shared machine. Where bf16 runs,\n"
                            "also oneDNN's bf16 matmul (1024^3, AMX-BF16 or AVX512-BF16) on one core.",
                            &npos);
    if (r) return r == 1 ? 0 : r;
    double g = bench_nn_peak_gflops(seconds);
    if (g <= 0) return cli_error("bench peak", "needs AVX-512");
    printf("emo fma peak threads=1 gflops=%.1f\n", g);
    const char *why = NULL;
    if (!nn_bf16_available(&why)) {
        printf("bf16: %s\n", why);
        return 0;
    }
    double b = nn_bf16_matmul_gflops(1024, seconds);
    if (b <= 0) return cli_error("bench peak", "bf16 matmul failed");
    printf("emo bf16 matmul peak threads=1 m=1024 isa=%s gflops=%.1f\n", nn_bf16_isa(), b);
    return 0;
}

typedef struct timing {
    double *t;
    int n, cap;
} timing;

static int timing_add(timing *tm, double dt) {
    if (tm->n == tm->cap) {
        int cap = tm->cap ? tm->cap * 2 : 256;
        double *t = realloc(tm->t, (size_t)cap * sizeof *t);
        if (!t) return -1;
        tm->t = t;
        tm->cap = cap;
    }
    tm->t[tm->n++] = dt;
    return 0;
}

static double timing_median(timing *tm) {
    qsort(tm->t, (size_t)tm->n, sizeof *tm->t, cmp_double);
    return tm->n % 2 ? tm->t[tm->n / 2] : 0.5 * (tm->t[tm->n / 2 - 1] + tm->t[tm->n / 2]);
}

static void print_profile(const nn_net *net, int iters) {
    double tot = 0;
    for (int i = 0; i < 2 * net->n_layers; i++) tot += net->prof[i];
    printf("per layer, CPU ms per iteration (forward, backward):\n");
    for (int i = 0; i < net->n_layers; i++) {
        const nn_layer *L = &net->layers[i];
        printf("  %2d %-8s %4dx%-4dx%-4d %8.3f %8.3f\n", i, nn_kind_name(L->kind), L->h, L->w, L->c,
               1e3 * net->prof[2 * i] / iters, 1e3 * net->prof[2 * i + 1] / iters);
    }
    printf("  total %.3f ms\n", 1e3 * tot / iters);
}

int bench_nn_train(int argc, char **argv) {
    const char *cfg = "models/vgg-s.cfg";
    int batch = 64, threads = 1;
    float seconds = 10, warmup = 2;
    bool profile = false;
    const char *conv = "auto", *split = "batch", *precision = "auto";
    const cli_opt opts[] = {
        {"net", 0, "PATH", "network config (default models/vgg-s.cfg)", .out_str = &cfg},
        CLI_PRECISION_OPT(&precision),
        {"batch", 'b', "N", "images per step (default 64)", .out_int = &batch},
        {"threads", 't', "N", "threads (default 1; 0 = all cores)", .out_int = &threads},
        {"seconds", 's', "S", "timed window (default 10)", .out_float = &seconds},
        {"warmup", 0, "S", "untimed warm-up (default 2)", .out_float = &warmup},
        {"profile", 0, NULL, "print time per layer", .out_flag = &profile},
        {"conv", 0, "auto|im2col", "convolution kernels (default auto: direct AVX-512 where it applies)", .out_str = &conv},
        {"split", 0, "batch|layers", "with several threads: each thread runs a slice of the batch (default), or "
                                     "every layer is split over the threads", .out_str = &split},
        {0},
    };
    int npos, r = cli_parse(argc, argv, opts, "[OPTIONS]",
                            "Times training steps (forward, softmax cross-entropy, backward, Adam) on random data.",
                            &npos);
    if (r) return r == 1 ? 0 : r;
    if (set_conv(conv)) return 2;
    if (strcmp(split, "batch") && strcmp(split, "layers")) {
        cli_error("bench train", "--split %s: expected batch or layers", split);
        return 2;
    }
    nn_data_parallel = strcmp(split, "batch") == 0;
    emo_precision prec;
    if (cli_precision("bench train", precision, &prec)) return 2;
    nn_net *net;
    if (nn_net_from_cfg_file(&net, cfg)) return cli_error("bench train", "cannot build the network");
    nn_net_init_params(net, 1);
    nn_net_set_threads(net, threads);
    if (nn_net_set_precision(net, prec == EMO_PRECISION_BF16 ? NN_BF16 : NN_FP32)) {
        nn_net_free(net);
        return cli_error("bench train", "cannot set the precision");
    }
    if (nn_net_set_batch(net, batch)) {
        nn_net_free(net);
        return cli_error("bench train", "cannot allocate");
    }
    size_t per = (size_t)net->in_h * net->in_w * net->in_c;
    float *x = malloc(4 * (size_t)batch * per * sizeof *x);
    int *labels = malloc(4 * (size_t)batch * sizeof *labels);
    uint64_t s = 42;
    for (size_t i = 0; i < 4 * (size_t)batch * per; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2 - 1);
    }
    for (int i = 0; i < 4 * batch; i++) labels[i] = i % net->n_out;
    nn_optim opt = nn_optim_default(NN_ADAM);
    timing tm = {0};
    int status = 0, it = 0;
    double start = omp_get_wtime(), t_start = 0, c_start = 0;
    int timed = 0;
    for (;;) {
        double now = omp_get_wtime();
        if (!timed && now - start >= warmup && it >= 3) {
            timed = 1;
            t_start = now;
            c_start = cpu_seconds();
            if (profile) net->prof = calloc(2 * (size_t)net->n_layers, sizeof(double));
        }
        if (timed && now - t_start >= seconds && tm.n >= 5) break;
        int b = it % 4;
        float loss;
        double t0 = omp_get_wtime();
        nn_net_zero_grad(net);
        if (nn_net_forward(net, x + (size_t)b * batch * per, batch, 1) ||
            nn_loss_softmax_ce_labels(net, labels + b * batch, 0, &loss) || nn_net_backward(net) ||
            nn_optim_step(net, &opt, NULL)) {
            status = cli_error("bench train", "step %d failed", it);
            break;
        }
        if (timed) timing_add(&tm, omp_get_wtime() - t0);
        it++;
    }
    if (!status) {
        double wall = omp_get_wtime() - t_start, med = timing_median(&tm), cpu = cpu_seconds() - c_start;
        double ips = batch / med, fwd = nn_net_flops(net);
        char name[64];
        net_name(cfg, name, sizeof name);
        printf("net=%s forward=%.2f MFLOP/img params=%zu batch=%d threads=%d split=%s\n", name, fwd / 1e6, net->n_params,
               batch, net->threads, net->dp ? "batch" : "layers");
        printf("iters=%d wall=%.1fs median_iter=%.3fms img/s median=%.1f mean=%.1f cpu_ms_per_iter=%.3f (%.2f cores)\n",
               tm.n, wall, med * 1e3, ips, batch * tm.n / wall, 1e3 * cpu / tm.n, cpu / wall);
        if (net->prof) print_profile(net, tm.n);
        double peak = bench_nn_peak_gflops(0.3), cpu_g = 3 * fwd * batch * tm.n / cpu / 1e9;
        printf("emo %s train threads=%d batch=%d img_per_s=%.1f gflops=%.2f cpu_gflops=%.2f peak_gflops=%.1f dtype=%s\n",
               name, net->threads, batch, ips, ips * 3 * fwd / 1e9, cpu_g, peak, emo_precision_name(prec));
    }
    free(net->prof);
    net->prof = NULL;
    free(tm.t);
    free(x);
    free(labels);
    nn_net_free(net);
    return status;
}

int bench_nn_classify(int argc, char **argv) {
    const char *cfg = "models/vgg-s.cfg", *model_path = NULL;
    int batch = 64, threads = 1;
    float seconds = 10, warmup = 2;
    const char *conv = "auto", *precision = "auto";
    const cli_opt opts[] = {
        {"net", 0, "PATH", "network config, random weights (default models/vgg-s.cfg)", .out_str = &cfg},
        CLI_PRECISION_OPT(&precision),
        {"conv", 0, "auto|im2col", "convolution kernels (default auto: direct AVX-512 where it applies)", .out_str = &conv},
        {"chunk", 0, "N", "faces per forward pass inside emo_classify (default 8)", .out_int = &nn_infer_chunk},
        {"model", 'm', "PATH", "a trained .emo model instead of --net", .out_str = &model_path},
        {"batch", 'b', "N", "faces per emo_classify call (default 64)", .out_int = &batch},
        {"threads", 't', "N", "threads (default 1; 0 = all cores)", .out_int = &threads},
        {"seconds", 's', "S", "timed window (default 10)", .out_float = &seconds},
        {"warmup", 0, "S", "untimed warm-up (default 2)", .out_float = &warmup},
        {0},
    };
    int npos, r = cli_parse(argc, argv, opts, "[OPTIONS]",
                            "Times emo_classify on 48x48 grey faces with a BN-folded model.", &npos);
    if (r) return r == 1 ? 0 : r;
    if (set_conv(conv)) return 2;
    if (batch < 1 || batch > 4096) return cli_error("bench classify", "--batch %d outside [1, 4096]", batch);
    emo_precision prec;
    if (cli_precision("bench classify", precision, &prec)) return 2;
    char tmp[64] = "", name[64];
    emo_model *m = NULL;
    if (!model_path) {
        /* random weights, saved and loaded like a trained model */
        nn_net *net;
        if (nn_net_from_cfg_file(&net, cfg)) return cli_error("bench classify", "cannot build the network");
        nn_net_init_params(net, 1);
        nn_model_meta meta = {.n_classes = net->n_out, .mean = 0.5f, .std = 0.25f};
        for (int i = 0; i < net->n_out; i++) snprintf(meta.class_names[i], NN_NAME_LEN, "c%d", i);
        snprintf(tmp, sizeof tmp, "/tmp/emo-bench-%ld.emo", (long)getpid());
        int st = nn_model_save(net, &meta, tmp);
        nn_net_free(net);
        if (st) return cli_error("bench classify", "cannot save the model");
        model_path = tmp;
        net_name(cfg, name, sizeof name);
    } else {
        net_name(model_path, name, sizeof name);
    }
    int st = emo_model_load(&m, model_path);
    if (tmp[0]) unlink(tmp);
    if (st) return cli_error("bench classify", "cannot load %s", model_path);
    emo_model_set_threads(m, threads);
    if (emo_model_set_precision(m, prec)) {
        emo_model_free(m);
        return cli_error("bench classify", "cannot set the precision");
    }
    int w, h;
    emo_model_input_size(m, &w, &h);
    uint8_t *pix = malloc((size_t)batch * w * h);
    emo_image *faces = malloc((size_t)batch * sizeof *faces);
    float *probs = malloc((size_t)batch * emo_model_classes(m) * sizeof *probs);
    for (size_t i = 0; i < (size_t)batch * w * h; i++) pix[i] = (uint8_t)(i * 2654435761u >> 24);
    for (int i = 0; i < batch; i++) faces[i] = (emo_image){w, h, 1, w, pix + (size_t)i * w * h, 0};
    timing tm = {0};
    int status = 0, it = 0, timed = 0;
    double start = omp_get_wtime(), t_start = 0, c_start = 0;
    for (;;) {
        double now = omp_get_wtime();
        if (!timed && now - start >= warmup && it >= 3) {
            timed = 1;
            t_start = now;
            c_start = cpu_seconds();
        }
        if (timed && now - t_start >= seconds && tm.n >= 5) break;
        double t0 = omp_get_wtime();
        if (emo_classify(m, faces, batch, probs)) {
            status = cli_error("bench classify", "emo_classify failed");
            break;
        }
        if (timed) timing_add(&tm, omp_get_wtime() - t0);
        it++;
    }
    if (!status) {
        double wall = omp_get_wtime() - t_start, med = timing_median(&tm), cpu = cpu_seconds() - c_start;
        double ips = batch / med, fwd = emo_model_flops(m);
        int thr = threads > 0 ? threads : omp_get_num_procs();
        printf("net=%s forward=%.2f MFLOP/img batch=%d threads=%d\n", name, fwd / 1e6, batch, thr);
        printf("iters=%d wall=%.1fs median_call=%.3fms (%.3f ms/face) img/s median=%.1f mean=%.1f "
               "cpu_ms_per_call=%.3f (%.2f cores)\n",
               tm.n, wall, med * 1e3, med * 1e3 / batch, ips, batch * tm.n / wall, 1e3 * cpu / tm.n, cpu / wall);
        double peak = bench_nn_peak_gflops(0.3), cpu_g = fwd * batch * tm.n / cpu / 1e9;
        printf("emo %s infer threads=%d batch=%d img_per_s=%.1f gflops=%.2f latency_ms=%.3f cpu_gflops=%.2f "
               "peak_gflops=%.1f dtype=%s\n",
               name, thr, batch, ips, ips * fwd / 1e9, med * 1e3, cpu_g, peak, emo_precision_name(prec));
    }
    free(tm.t);
    free(pix);
    free(faces);
    free(probs);
    emo_model_free(m);
    return status;
}
