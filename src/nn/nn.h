/* nn.h — the CNN engine's internal API: networks from text configs, forward and
 * backward on a batch, loss, optimisers, checkpoints, and the layer kernels.
 * Not installed; the public inference API (emo_model_*) is in include/emo.h.
 *
 * LAYOUT
 *   Activations are NHWC float32: a batch is (N, H, W, C), row-major, so the
 *   value of image n, row y, column x, channel c is at ((n*H + y)*W + x)*C + c.
 *   NHWC keeps channels contiguous: im2col is one GEMM per chunk of images,
 *   (rows, K) x (K, Cout) with rows = N*OH*OW and K = KH*KW*Cin; the direct
 *   and Winograd kernels load 16 channels per AVX-512 vector; batch norm,
 *   pooling and the global average pool run along contiguous channels.
 *   Conv weights are (Cout, KH, KW, Cin/groups); linear weights (Cout, Cin).
 *   A linear layer reads its input flattened in (H, W, C) order (PyTorch's
 *   Flatten is (C, H, W): permute when importing such weights).
 *
 * TRAINING (what a trainer does; see tests/test_nn_train.c)
 *   nn_net *net;
 *   nn_net_from_cfg_file(&net, "models/vgg-s.cfg");
 *   nn_net_init_params(net, seed);                 // Kaiming-uniform like PyTorch
 *   nn_net_set_batch(net, 64);                     // allocates activations once
 *   nn_optim opt = nn_optim_default(NN_ADAMW);     // edit lr, wd, clip...
 *   for (step = 0; step < steps; step++) {
 *       opt.lr = nn_schedule_lr(&sched, step);
 *       nn_net_zero_grad(net);
 *       nn_net_forward(net, x, n, 1);              // x is (n, H, W, Cin), 1 = train mode
 *       nn_loss_softmax_ce(net, target, label_smoothing, &loss);  // or _labels(net, labels, ...)
 *       nn_net_backward(net);
 *       if (nn_optim_step(net, &opt, &gnorm)) ...  // EMO_ENUMERIC on NaN/Inf
 *   }
 *   nn_checkpoint_save(net, &opt, "run.ckpt");     // --resume: nn_checkpoint_load
 *   nn_model_save(net, &meta, "model.emo");        // BN folded, for emo_model_load
 *   nn_net_free(net);
 *
 * MEMORY
 *   All parameters, their gradients, the optimiser's two moment buffers and
 *   the batch-norm running statistics live in one block (net->mem); tensors
 *   are views into it listed in net->tensors. zero_grad is one memset, the
 *   optimiser one loop, a checkpoint one write. Activations and their
 *   gradients are a second block sized for net->batch_cap images (a relu
 *   after a bn shares the bn's); a third is convolution scratch (im2col
 *   columns, padded copies, repacked weights). Nothing is allocated per batch. */
#ifndef EMO_NN_H
#define EMO_NN_H

#include "internal.h"
#include <stdint.h>

#define NN_MAX_LAYERS 512
#define NN_MAX_CHANNELS 65536
#define NN_MAX_SIDE 4096
#define NN_MAX_KERNEL 64
#define NN_MAX_PARAMS ((size_t)1 << 30) /* floats */
#define NN_MAX_BATCH 4096
#define NN_MAX_CLASSES 256
#define NN_NAME_LEN 32

typedef enum nn_kind {
    NN_INPUT,
    NN_CONV,    /* conv filters=C size=K [stride=1] [pad=0] [groups=1] [bias=1] [act=none|relu] */
    NN_BN,      /* bn [eps=1e-5] [momentum=0.1] */
    NN_RELU,    /* relu */
    NN_SILU,    /* silu: x * sigmoid(x) */
    NN_MAXPOOL, /* maxpool size=K [stride=K] [pad=0] */
    NN_AVGPOOL, /* avgpool size=K [stride=K] [pad=0] (divides by K*K, PyTorch default) */
    NN_GAP,     /* gap: global average pool to (N, 1, 1, C) */
    NN_DROPOUT, /* dropout p=0.3 (inverted dropout; identity at inference) */
    NN_LINEAR,  /* linear out=C [bias=1]: reads its input flattened (H*W*C) */
    NN_ADD,     /* add from=NAME [drop=0]: previous output + NAME's output (same shape);
                 * drop=P: stochastic depth, the previous output (the residual
                 * branch) is dropped per image with probability P in training */
    NN_FLATTEN, /* flatten: (N, H, W, C) -> (N, 1, 1, H*W*C) */
    NN_KIND_COUNT
} nn_kind;

typedef enum nn_act { NN_ACT_NONE = 0, NN_ACT_RELU } nn_act;

/* Arithmetic of the convolutions: fp32 everywhere, or bf16 inputs and
 * weights with fp32 accumulation (conv_bf16.c); everything else is fp32 in
 * both. */
typedef enum nn_precision { NN_FP32 = 0, NN_BF16 = 1 } nn_precision;
typedef struct nn_bf16 nn_bf16; /* conv_bf16.c's primitives and buffers */

typedef struct nn_layer {
    nn_kind kind;
    int line;                /* line in the cfg text, for messages */
    char name[NN_NAME_LEN];  /* "" unless named with name= */
    int in, in2;             /* input layer indices; in2 only for add; -1 none */
    int h, w, c;             /* output shape per image */
    int size, stride, pad, groups, bias; /* conv / pool / linear */
    nn_act act;              /* conv: activation fused after bias; bn: relu fused (set by the parser) */
    float p, eps, momentum;  /* dropout, add (drop=) / bn */
    /* Offsets (in floats) of this layer's tensors in the parameter part of
     * net->mem, or SIZE_MAX. conv: w (Cout, KH, KW, Cin/g), b (Cout);
     * linear: w (Cout, Cin), b (Cout); bn: w = gamma (C), b = beta (C). */
    size_t w_off, b_off;
    size_t mean_off, var_off; /* bn running statistics in net->stats */
    size_t out_off;           /* output (N, h, w, c) in net->acts / net->dacts */
    size_t aux_off;           /* bn: mean, invstd (2C); dropout: mask (N,h,w,c); add with drop: scale (N) */
    int last_use;             /* index of the last layer reading this output */
    int fused;                /* relu computed by the bn before it (shares its buffers) */
} nn_layer;

/* A named parameter tensor (a view into net->params). */
typedef struct nn_tensor {
    char name[48];  /* "3.conv.w" = layer index, kind, part */
    size_t off, n;  /* in floats */
    int decay;      /* 1 if weight decay applies (conv/linear weights) */
} nn_tensor;

typedef struct nn_net {
    nn_layer *layers;
    int n_layers;
    int in_h, in_w, in_c; /* input image shape */
    int n_out;            /* classes: the last layer's h*w*c */
    char *cfg;            /* the config text it was built from */

    nn_tensor *tensors;
    int n_tensors;
    size_t n_params, n_stats;
    /* One block: params | grads | opt_m | opt_v (n_params each) | stats. */
    float *mem;
    float *params, *grads, *opt_m, *opt_v, *stats;
    long long step; /* optimiser steps taken (Adam bias correction, schedules) */

    int batch_cap, batch; /* activations sized for batch_cap; batch = last forward */
    int training;         /* mode of the last forward */
    size_t n_acts;        /* floats per activation block */
    float *acts, *dacts;  /* (batch_cap-sized) outputs and their gradients */
    float *aux;           /* bn statistics, dropout masks */
    size_t n_aux;
    float *scratch;       /* convolution scratch, shared by the threads of one kernel */
    size_t scratch_per_thread; /* its size in floats */
    int scratch_threads;       /* the thread count it was sized for */
    int threads;          /* OpenMP threads (>= 1) */
    uint64_t rng;         /* dropout */
    float *dlogits;       /* (batch_cap, n_out): loss gradient, backward's input */
    double *prof;         /* optional (n_layers, 2): CPU seconds in forward, backward, summed */
    /* Inference keeps conv weights repacked for the direct kernels; they are
     * redone when param_version (bumped by the optimiser, init and loading;
     * bump it after writing params directly) differs from packed_version. */
    float *packed;
    size_t *packed_off; /* per layer, into packed, or SIZE_MAX */
    long long param_version, packed_version;
    float *probs;         /* (batch_cap, n_out): softmax of the last loss call */
    /* Data-parallel training (nn_data_parallel): each of `dp` threads runs
     * every layer on its slice of the batch with single-threaded kernels;
     * bn adds up its statistics over all slices, so the result does not
     * depend on the thread count beyond rounding. */
    int dp;               /* threads the last forward split the batch over; 0: one slice */
    int dp_cap_threads, dp_cap_batch; /* what the buffers below are sized for */
    float *dp_grads;      /* (dp_cap_threads - 1, n_params): gradients of threads 1..; zero between passes */
    float *dp_scratch;    /* (dp_cap_threads, dp_scratch_per): convolution scratch per thread */
    size_t dp_scratch_per;
    double *dp_sums;      /* (dp_cap_threads, 2, dp_max_c): bn partial sums per thread */
    float *dp_k;          /* (2, dp_max_c): bn backward's mean dout, mean dout xhat */
    int dp_max_c;
    nn_precision precision; /* NN_FP32 unless nn_net_set_precision */
    nn_bf16 *bf16;          /* NN_BF16: the layers' oneDNN primitives, packed weights, buffers */
} nn_net;

/* "conv", "bn", ...: the config word of a layer kind. */
const char *nn_kind_name(nn_kind kind);

/* ---- building ---------------------------------------------------------- */

/* Parses a config (format in docs/FORMATS.md) and builds the network with
 * parameters zeroed and no activations. `origin` names the text in errors
 * ("models/vgg-s.cfg:12: unknown layer 'cnv'"). */
int nn_net_from_cfg(nn_net **out, const char *text, const char *origin);
int nn_net_from_cfg_file(nn_net **out, const char *path);
/* Same, failing before any allocation if the network has more than
 * max_params parameters (file readers: what the remaining bytes can hold). */
int nn_net_from_cfg_limit(nn_net **out, const char *text, const char *origin, size_t max_params);
void nn_net_free(nn_net *net);
/* PyTorch-like init: conv/linear weights and biases uniform(+-1/sqrt(fan_in))
 * scaled as kaiming_uniform(a=sqrt 5); bn gamma 1, beta 0, running var 1. */
void nn_net_init_params(nn_net *net, uint64_t seed);
/* Allocates activations for up to `batch` images (grows only). */
int nn_net_set_batch(nn_net *net, int batch);
void nn_net_set_threads(nn_net *net, int threads); /* 0 = all cores */
/* NN_BF16 fails with EMO_EUNSUPPORTED, saying why, where the CPU lacks
 * AVX512-BF16 and AMX-BF16 or oneDNN is held below them (ONEDNN_MAX_CPU_ISA);
 * the network is then unchanged. Parameters, files and results other than
 * rounding do not depend on the precision. */
int nn_net_set_precision(nn_net *net, nn_precision p);
/* 1 if bf16 can run here; else 0 and *why (may be NULL) says why not. */
int nn_bf16_available(const char **why);
/* "amx-bf16", "avx512-bf16" (what oneDNN will use) or NULL. */
const char *nn_bf16_isa(void);
/* CPUID: 1 if the CPU has AVX512-BF16 or AMX-BF16; *amx (may be NULL) = AMX-BF16. */
int nn_cpu_bf16_hw(int *amx);
/* oneDNN bf16 matmul (m x m by m x m, fp32 out) on one thread, GFLOP/s per
 * second of process CPU time; -1 where bf16 cannot run. */
double nn_bf16_matmul_gflops(int m, double seconds);
/* Total forward FLOPs per image (2 per multiply-add of conv and linear). */
double nn_net_flops(const nn_net *net);
/* Writes the network back as config text (malloc'ed; caller frees). */
char *nn_net_to_cfg(const nn_net *net);
/* Returns the inference network: each bn folded into the conv before it
 * (bias added), conv+bn+relu fused, dropout removed. */
int nn_net_fold(const nn_net *net, nn_net **out);

/* ---- running ------------------------------------------------------------ */

/* x is (n, in_h, in_w, in_c); n <= batch_cap. train: batch statistics for
 * bn and updates of its running statistics, dropout active. Returns the
 * logits, (n, n_out), valid until the next forward.
 * With several threads, training passes of at least 2 images per thread
 * split the batch over the threads (nn_data_parallel = 1, the default;
 * 0: every layer split over the threads instead, for comparisons). */
extern int nn_data_parallel;
int nn_net_forward(nn_net *net, const float *x, int n, int train);
const float *nn_net_output(const nn_net *net);
/* Softmax cross-entropy of the last forward's logits, mean over the batch.
 * target is (n, n_out) class probabilities (one-hot for hard labels, vote
 * distributions for FER+); smoothing eps mixes in eps/n_out of each class
 * (PyTorch's label_smoothing). Fills net->dlogits for nn_net_backward. */
int nn_loss_softmax_ce(nn_net *net, const float *target, float smoothing, float *loss);
/* Same with hard labels, labels[i] in [0, n_out). */
int nn_loss_softmax_ce_labels(nn_net *net, const int *labels, float smoothing, float *loss);
/* Back-propagates net->dlogits; accumulates into net->grads. If dx is not
 * NULL it receives the gradient for the input, (n, in_h, in_w, in_c). */
int nn_net_backward_dx(nn_net *net, float *dx);
static inline int nn_net_backward(nn_net *net) { return nn_net_backward_dx(net, NULL); }
void nn_net_zero_grad(nn_net *net);

/* ---- optimisers and schedules ------------------------------------------ */

typedef enum nn_optim_kind { NN_SGD, NN_ADAM, NN_ADAMW } nn_optim_kind;

typedef struct nn_optim {
    nn_optim_kind kind;
    float lr;
    float momentum;     /* SGD; 0 = plain SGD */
    int nesterov;       /* SGD */
    float beta1, beta2, eps; /* Adam/AdamW */
    float weight_decay; /* SGD, Adam: L2 added to the gradient; AdamW: decoupled */
    float clip_norm;    /* > 0: scale gradients to this global L2 norm at most */
} nn_optim;

nn_optim nn_optim_default(nn_optim_kind kind);
/* One update of every parameter with net->grads (the tensors' `decay` flag
 * says which get weight decay). Fails with EMO_ENUMERIC, naming the step,
 * if a gradient is NaN/Inf; parameters are then left unchanged.
 * *grad_norm (may be NULL) gets the global norm before clipping. */
int nn_optim_step(nn_net *net, const nn_optim *opt, float *grad_norm);

typedef enum nn_sched_kind { NN_SCHED_CONST, NN_SCHED_COSINE, NN_SCHED_STEP, NN_SCHED_COSINE_RESTARTS } nn_sched_kind;
typedef struct nn_schedule {
    nn_sched_kind kind;
    float base_lr, min_lr; /* cosine decays base_lr -> min_lr at total_steps */
    long long warmup_steps; /* linear from base_lr/warmup to base_lr */
    long long total_steps;  /* cosine */
    long long step_size;    /* step: multiply by gamma every step_size steps */
    float gamma;
    /* cosine-restarts (SGDR): after warm-up, cycles of period_steps,
     * period_steps * period_mult, ... (each rounded up to whole steps), each a
     * cosine from base_lr down to min_lr; the lr jumps back to base_lr at the
     * start of every cycle. period_steps <= 0: plain cosine. */
    long long period_steps;
    float period_mult; /* >= 1 */
} nn_schedule;
float nn_schedule_lr(const nn_schedule *s, long long step);

/* ---- training techniques (train.c) -------------------------------------------
 * What `emo train` adds around the plain loop: mixed batches (mixup, cutmix),
 * class-weighted loss, and averages of the weights (EMA, SWA). */

/* Mixing of a batch: each image i is paired with image n-1-i (the batch is in
 * shuffled order), mixed with weight lambda ~ Beta(alpha, alpha) drawn once
 * per batch, and its target becomes lambda t_i + (1 - lambda) t_pair.
 * mixup: x_i = lambda x_i + (1 - lambda) x_pair; cutmix: a box of about
 * (1 - lambda) of the image is pasted from the pair, and lambda is then the
 * exact share of the image kept. alpha 0 = that kind off; with both on, each
 * mixed batch takes one of the two with even odds. p: share of batches mixed. */
typedef struct nn_mix {
    float mixup, cutmix; /* Beta alphas, 0 = off */
    float p;             /* probability that a batch is mixed, (0, 1] */
} nn_mix;
/* "none" | "mixup=A" | "cutmix=A" | both, optionally ",p=P" (default 1).
 * Fails (EMO_EINVAL, saying why) on unknown keys, alphas outside (0, 100]
 * and P outside (0, 1]. */
int nn_mix_parse(const char *spec, nn_mix *out);
enum { NN_MIXED_NONE = 0, NN_MIXED_MIXUP = 1, NN_MIXED_CUTMIX = 2 };
/* Mixes x (n, h, w, c) and target (n, k) in place; everything drawn from
 * seed. Returns NN_MIXED_*; *lambda (may be NULL) gets the weight of each
 * image's own content (1 when not mixed). */
int nn_mix_batch(const nn_mix *m, uint64_t seed, int n, int h, int w, int c, float *x, int k, float *target,
                 float *lambda);
/* One draw of Beta(a, a) (a > 0) from *rng (splitmix64 state). */
double nn_beta_sample(uint64_t *rng, double a);

/* Per-class loss weights from training counts (k classes, every count > 0):
 * beta = 0 "balanced", w_j = 1 / count_j; 0 < beta < 1 "effective number"
 * (Cui et al. 2019), w_j = (1 - beta) / (1 - beta^count_j). Both scaled so
 * that the mean weight over the training rows is 1. */
int nn_class_weights(int k, const long long *counts, double beta, float *w);
/* nn_loss_softmax_ce with image i's loss and gradient scaled by
 * s_i = sum_j class_w[j] target[i, j] (the weight of its class for one-hot
 * targets, the expected weight for distributions); the mean is over n. */
int nn_loss_softmax_ce_weighted(nn_net *net, const float *target, float smoothing, const float *class_w,
                                float *loss);

/* An average of the network's parameters and bn running statistics:
 * decay in (0, 1): exponential moving average, updated every step, with
 * the warm-up decay min(decay, (1 + count) / (10 + count)) so early
 * averages do not hold the random initial weights; decay 0: the plain mean
 * of every update since the first (SWA). The bn statistics are averaged the
 * same way as the weights, not recomputed. */
typedef struct nn_avg {
    float decay;
    long long count;   /* updates taken */
    size_t n_params, n_stats;
    float *w;          /* (n_params + n_stats): parameters, then statistics */
} nn_avg;
/* Starts the average at the net's current values (count 0). */
int nn_avg_init(nn_avg *a, const nn_net *net, float decay);
void nn_avg_update(nn_avg *a, const nn_net *net);
/* Exchanges the net's parameters and statistics with the average (twice
 * restores both, bit for bit). Fails if the sizes differ. */
int nn_avg_swap(nn_avg *a, nn_net *net);
void nn_avg_free(nn_avg *a);

/* ---- files --------------------------------------------------------------- */

/* Training checkpoint: config, step, parameters, bn statistics, optimiser
 * moments and settings. Written atomically. Loading builds a new network. */
int nn_checkpoint_save(const nn_net *net, const nn_optim *opt, const char *path);
int nn_checkpoint_load(nn_net **out, nn_optim *opt, const char *path);

/* What a .emo model file carries besides the network (docs/FORMATS.md). */
typedef struct nn_model_meta {
    int n_classes;
    char class_names[NN_MAX_CLASSES][NN_NAME_LEN];
    float mean, std; /* input = (pixel / 255 - mean) / std */
} nn_model_meta;
/* Folds bn and writes the inference model atomically. */
int nn_model_save(const nn_net *net, const nn_model_meta *meta, const char *path);
/* Images per forward pass inside emo_classify (default 8; tuning knob). */
extern int nn_infer_chunk;
/* Reads a .emo: the inference network (parameters loaded) and its meta. */
int nn_model_read(nn_net **out, nn_model_meta *meta, const uint8_t *bytes, size_t size,
                  const char *origin);

/* ---- kernels (layers.c, conv.c): forward next to backward -------------------
 * Shapes in NHWC as above. `acc` = 1: add into din instead of overwriting. */

typedef struct nn_conv_shape {
    int n, h, w, cin;     /* input */
    int oh, ow, cout;     /* output */
    int k, stride, pad, groups;
} nn_conv_shape;

/* Which fast convolution nn_conv_forward/backward use: AUTO picks, per
 * shape, Winograd (3x3 stride-1 pad-1, even sides, 32+ channels), the
 * AVX-512 direct kernels (stride 1, no groups, channels multiples of 32) or
 * im2col + GEMM, whichever measured fastest (docs/BENCHMARKS.md); IM2COL,
 * DIRECT and WINOGRAD prefer one where it applies (benchmarks, tests).
 * Process-wide, not thread-safe: set it before using networks. */
enum { NN_CONV_AUTO = 0, NN_CONV_IM2COL = 1, NN_CONV_DIRECT = 2, NN_CONV_WINOGRAD = 3 };
extern int nn_conv_algo;
extern int nn_wino_m; /* 0: F(4x4,3x3) where sides are multiples of 4; 2: always F(2x2,3x3) */
extern int nn_wino_dw; /* 1: weight gradients by F(3x3,2x2) where Winograd applies */

/* Naive reference (direct loops) and fast versions (Winograd, direct AVX-512
 * or im2col + dnnl_sgemm, picked per shape: see conv.c).
 * out (n, oh, ow, cout) = conv(in) + b (b may be NULL), then act. */
void nn_conv_forward_ref(const nn_conv_shape *s, const float *in, const float *w, const float *b,
                         nn_act act, float *out);
/* dout already multiplied by the activation's derivative. dw, db (may be
 * NULL) accumulate; din (may be NULL) is overwritten or added to (acc). */
void nn_conv_backward_ref(const nn_conv_shape *s, const float *in, const float *w, const float *dout,
                          float *dw, float *db, float *din, int acc);
/* scratch holds at least nn_conv_scratch_floats(s, threads) floats, for
 * calls with up to `threads` threads. */
size_t nn_conv_scratch_floats(const nn_conv_shape *s, int threads);
/* packed: w rearranged by nn_conv_pack (inference reuses it), or NULL. */
void nn_conv_forward(const nn_conv_shape *s, const float *in, const float *w, const float *packed, const float *b,
                     nn_act act, float *out, float *scratch, int threads);
/* Floats nn_conv_pack writes (0: this shape does not use packed weights). */
size_t nn_conv_packed_floats(const nn_conv_shape *s);
void nn_conv_pack(const nn_conv_shape *s, const float *w, float *packed, int threads);
void nn_conv_backward(const nn_conv_shape *s, const float *in, const float *w, const float *dout,
                      float *dw, float *db, float *din, int acc, float *scratch, int threads);

/* rows = N*H*W positions of C channels. mean_invstd (2C) saved for backward.
 * train: batch statistics, running stats updated (unbiased var, momentum);
 * else running statistics used. relu: a ReLU fused after it (the net does
 * this for bn -> relu); its backward then takes that output as relu_out
 * to mask dout (NULL when not fused). */
void nn_bn_forward(int rows, int c, const float *in, const float *gamma, const float *beta,
                   float *run_mean, float *run_var, float eps, float momentum, int train, int relu,
                   float *mean_invstd, float *out);
void nn_bn_backward(int rows, int c, const float *in, const float *gamma, const float *mean_invstd,
                    const float *relu_out, const float *dout, float *dgamma, float *dbeta, float *din, int acc);
/* The pieces of the two above, for callers that split rows over threads and
 * add up the per-channel sums themselves (net.c's data-parallel training):
 * sums over rows (y NULL: s1 = sum x, s2 = sum (x - shift)^2, shift NULL = 0;
 * else s1 = sum y, s2 = sum y (x - shift) scale, y taken as 0 where mask
 * <= 0), statistics from the sums of all rows (s2 NULL: the mean only),
 * normalisation, and the backward's parameter gradients (k1, k2: mean dout,
 * mean dout xhat) and input gradient for channels [c0, c0 + cb). */
void nn_bn_sums(int rows, int c, const float *x, const float *y, const float *mask, const float *shift,
                const float *scale, double *s1, double *s2);
void nn_bn_set_stats(int rows, int c, const double *s1, const double *s2, float eps, float momentum,
                     float *run_mean, float *run_var, float *mean, float *invstd);
void nn_bn_normalise(int rows, int c, const float *in, const float *gamma, const float *beta,
                     const float *mean_invstd, int relu, float *out);
void nn_bn_set_grads(int rows, int c, const double *sd, const double *sdx, float *dgamma, float *dbeta, float *k1,
                     float *k2);
void nn_bn_backward_din(int rows, int c, int c0, int cb, const float *in, const float *gamma,
                        const float *mean_invstd, const float *relu_out, const float *dout, const float *k1,
                        const float *k2, float *din, int acc);
void nn_relu_forward(size_t n, const float *in, float *out);
void nn_relu_backward(size_t n, const float *out, const float *dout, float *din, int acc);
void nn_silu_forward(size_t n, const float *in, float *out);
void nn_silu_backward(size_t n, const float *in, const float *dout, float *din, int acc);

typedef struct nn_pool_shape {
    int n, h, w, c, oh, ow, k, stride, pad;
} nn_pool_shape;
void nn_maxpool_forward(const nn_pool_shape *s, const float *in, float *out);
void nn_maxpool_backward(const nn_pool_shape *s, const float *in, const float *out, const float *dout,
                         float *din, int acc);
void nn_avgpool_forward(const nn_pool_shape *s, const float *in, float *out);
void nn_avgpool_backward(const nn_pool_shape *s, const float *dout, float *din, int acc);
/* (n, hw, c) -> (n, c) */
void nn_gap_forward(int n, int hw, int c, const float *in, float *out);
void nn_gap_backward(int n, int hw, int c, const float *dout, float *din, int acc);
/* mask gets 0 or 1/(1-p) per element. */
void nn_dropout_forward(size_t n, float p, uint64_t *rng, const float *in, float *mask, float *out);
void nn_dropout_backward(size_t n, const float *mask, const float *dout, float *din, int acc);
/* in (n, cin), w (cout, cin), b (cout) or NULL -> out (n, cout); dnnl_sgemm,
 * and the naive reference the tests hold it to. */
void nn_linear_forward_ref(int n, int cin, int cout, const float *in, const float *w, const float *b,
                           float *out);
void nn_linear_backward_ref(int n, int cin, int cout, const float *in, const float *w, const float *dout,
                            float *dw, float *db, float *din, int acc);
void nn_linear_forward(int n, int cin, int cout, const float *in, const float *w, const float *b,
                       float *out);
void nn_linear_backward(int n, int cin, int cout, const float *in, const float *w, const float *dout,
                        float *dw, float *db, float *din, int acc);
/* logits (n, k), target (n, k) probabilities -> mean loss, dlogits, probs. */
float nn_softmax_ce(int n, int k, const float *logits, const float *target, float smoothing,
                    float *probs, float *dlogits);

/* bf16 <-> fp32 (round to nearest even; NaN stays NaN). */
void nn_f32_to_bf16(size_t n, const float *x, uint16_t *y);
void nn_bf16_to_f32(size_t n, const uint16_t *x, float *y);
/* conv_bf16.c, called by net.c: prepare builds what a pass of n images over
 * T data-parallel slices needs (outside parallel regions); the layer calls
 * run slice [lo, lo + n) on thread t of the pass; a failure inside a pass
 * is kept in nn_bf16_status. */
void nn_bf16_free(nn_bf16 *b);
int nn_bf16_prepare(nn_net *net, int n, int T, int train);
int nn_bf16_status(const nn_net *net);
int nn_bf16_layer_on(const nn_net *net, int layer);
void nn_bf16_conv_forward(nn_net *net, int layer, int lo, int n, int t, int threads, int train, const float *in,
                          float *out);
/* dw accumulates; din is overwritten or added to (acc); either may be NULL. */
void nn_bf16_conv_backward(nn_net *net, int layer, int lo, int n, int t, int threads, const float *dout, float *dw,
                           float *din, int acc);
/* db[j] += sum over rows of dout[row, j] */
void nn_conv_bias_backward(size_t rows, int cout, const float *dout, float *db);

/* Row-major single-precision GEMM, C = alpha op(A) op(B) + beta C, through
 * dnnl_sgemm (AVX-512 kernels picked at run time). */
void nn_sgemm(char ta, char tb, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc);

#endif
