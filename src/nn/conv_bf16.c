/* conv_bf16.c — convolutions in bfloat16 with fp32 accumulation, on oneDNN's
 * primitives: forward, backward-data and backward-weights, with the AMX
 * kernels on CPUs that have AMX-BF16 and the AVX512-BF16 ones elsewhere
 * (oneDNN picks; ONEDNN_MAX_CPU_ISA lowers its choice).
 *
 * What stays fp32: the master weights (net->params), gradients, optimiser
 * state, loss, batch norm, every activation between layers, and the
 * accumulators inside the primitives. A conv in bf16 mode rounds its input
 * to bf16 once (kept for the weight gradient), its weights once per
 * parameter version (reordered into the layout the primitive wants), and its
 * output gradient once per backward pass; outputs and input gradients come
 * back in fp32. Layers that gain nothing stay on the fp32 kernels
 * (bf16_layer_ok). Nothing is allocated per pass once a batch size has been
 * seen: nn_bf16_prepare, outside any parallel region, builds the primitives
 * for the slices a pass will run, packs the weights and sizes the buffers;
 * the per-layer calls then only convert and execute. */
#include "nn/nn.h"

#include <dnnl.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BF16_ENTRIES 8 /* primitive sets per layer (batch sizes, thread counts) */
#define BF16_PACKS 3   /* weight layouts per layer (forward, backward-data, ...) */
#define BF16_THREADS 256

/* ---- conversion ------------------------------------------------------------ */

/* Round to nearest even; NaN stays a (quiet) NaN, +-Inf stays Inf. */
static inline uint16_t bf16_round(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

void nn_f32_to_bf16(size_t n, const float *x, uint16_t *y) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) y[i] = bf16_round(x[i]);
}

void nn_bf16_to_f32(size_t n, const uint16_t *x, float *y) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)x[i] << 16;
        memcpy(&y[i], &u, 4);
    }
}

/* ---- availability ---------------------------------------------------------- */

static void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
#if defined(__x86_64__) || defined(__i386__)
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
#else
    r[0] = r[1] = r[2] = r[3] = 0;
#endif
}

int nn_cpu_bf16_hw(int *amx) {
    unsigned r[4];
    cpuid(0, 0, r);
    int has = 0, a = 0;
    if (r[0] >= 7) {
        cpuid(7, 0, r);
        a = (r[3] >> 22) & 1; /* AMX-BF16 */
        unsigned max_sub = r[0];
        if (max_sub >= 1) {
            cpuid(7, 1, r);
            has = (r[0] >> 5) & 1; /* AVX512-BF16 */
        }
    }
    if (amx) *amx = a;
    return has || a;
}

const char *nn_bf16_isa(void) {
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if ((isa & dnnl_cpu_isa_avx512_core_amx) == dnnl_cpu_isa_avx512_core_amx) return "amx-bf16";
    if ((isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16) return "avx512-bf16";
    return NULL;
}

int nn_bf16_available(const char **why) {
    static const char *no_hw = "this CPU has neither AVX512-BF16 nor AMX-BF16";
    static const char *no_dnnl = "oneDNN is limited below AVX512-BF16 on this machine (ONEDNN_MAX_CPU_ISA)";
    const char *w = NULL;
    if (!nn_cpu_bf16_hw(NULL)) w = no_hw;
    else if (!nn_bf16_isa()) w = no_dnnl;
    if (why) *why = w;
    return w == NULL;
}

/* ---- oneDNN engine, one stream per thread ------------------------------------ */

static dnnl_engine_t g_engine;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static __thread dnnl_stream_t t_stream;

static pthread_key_t g_stream_key; /* destroys a thread's stream when the thread ends */

static void stream_free(void *s) { dnnl_stream_destroy((dnnl_stream_t)s); }

static void engine_init(void) {
    if (pthread_key_create(&g_stream_key, stream_free) != 0 || dnnl_engine_create(&g_engine, dnnl_cpu, 0) != dnnl_success)
        g_engine = NULL;
}

static dnnl_stream_t stream(void) {
    if (!t_stream && g_engine && dnnl_stream_create(&t_stream, g_engine, dnnl_stream_default_flags) == dnnl_success)
        pthread_setspecific(g_stream_key, t_stream);
    return t_stream;
}

/* ---- state --------------------------------------------------------------- */

typedef struct bf16_pack {
    dnnl_memory_desc_t md; /* bf16 weights in a primitive's layout */
    uint16_t *buf;
    size_t bytes;
    long long version; /* net->param_version it was packed from; -1 never */
} bf16_pack;

/* The primitives of one layer for `n` images run with `threads` threads. */
typedef struct bf16_entry {
    int n, threads, train;
    long long used; /* for eviction */
    dnnl_primitive_t fwd, bwd_d, bwd_w, dw_add;
    dnnl_memory_desc_t x_md, y_md, dx_md, dy_md, dw_md, dwo_md, b_md;
    int pack_f, pack_b;                            /* indices into the layer's packs */
    size_t pad_f, pad_b, pad_w, pad_r, dw_bytes; /* scratchpad bytes; diff-weights bytes */
} bf16_entry;

typedef struct bf16_layer {
    int on;
    bf16_entry e[BF16_ENTRIES];
    int n_e;
    bf16_pack p[BF16_PACKS];
    int n_p;
    uint16_t *x16; /* (batch_cap, h, w, cin): the input in bf16, for the weight gradient */
    size_t x16_bytes;
    dnnl_primitive_t w_reorder[BF16_PACKS]; /* fp32 (Cout, KH, KW, Cin) -> pack */
} bf16_layer;

typedef struct bf16_tbuf {
    uint8_t *p;
    size_t cap;
} bf16_tbuf;

struct nn_bf16 {
    bf16_layer *layers;
    int n_layers;
    long long clock;
    bf16_tbuf tbuf[BF16_THREADS]; /* per data-parallel thread: dout in bf16, temporaries, scratchpads */
    int status;                   /* first failure inside a pass (EMO_OK if none) */
};

/* Which convs run in bf16: ungrouped, with at least 16 input channels (the
 * first layer of a grey-image net has 1: it is 1% of the FLOPs and oneDNN's
 * bf16 kernels run it at a third of their speed, measured). */
static int bf16_layer_ok(const nn_net *net, const nn_layer *L) {
    return L->kind == NN_CONV && L->groups == 1 && net->layers[L->in].c >= 16;
}

static void entry_free(bf16_entry *e) {
    if (e->fwd) dnnl_primitive_destroy(e->fwd);
    if (e->bwd_d) dnnl_primitive_destroy(e->bwd_d);
    if (e->bwd_w) dnnl_primitive_destroy(e->bwd_w);
    if (e->dw_add) dnnl_primitive_destroy(e->dw_add);
    memset(e, 0, sizeof *e);
}

void nn_bf16_free(nn_bf16 *b) {
    if (!b) return;
    for (int i = 0; i < b->n_layers; i++) {
        bf16_layer *L = &b->layers[i];
        for (int j = 0; j < L->n_e; j++) entry_free(&L->e[j]);
        for (int j = 0; j < L->n_p; j++) {
            free(L->p[j].buf);
            if (L->w_reorder[j]) dnnl_primitive_destroy(L->w_reorder[j]);
        }
        free(L->x16);
    }
    for (int t = 0; t < BF16_THREADS; t++) free(b->tbuf[t].p);
    free(b->layers);
    free(b);
}

int nn_net_set_precision(nn_net *net, nn_precision p) {
    if (p == NN_FP32) {
        nn_bf16_free(net->bf16);
        net->bf16 = NULL;
        net->precision = NN_FP32;
        return EMO_OK;
    }
    const char *why;
    if (!nn_bf16_available(&why)) return emo_fail(EMO_EUNSUPPORTED, "bf16 precision: %s", why);
    pthread_once(&g_once, engine_init);
    if (!g_engine) return emo_fail(EMO_EUNSUPPORTED, "bf16 precision: oneDNN has no CPU engine");
    if (net->bf16) return EMO_OK;
    nn_bf16 *b = calloc(1, sizeof *b);
    if (!b || !(b->layers = calloc((size_t)net->n_layers, sizeof *b->layers))) {
        free(b);
        return emo_fail(EMO_ENOMEM, "bf16 precision: out of memory");
    }
    b->n_layers = net->n_layers;
    for (int i = 0; i < net->n_layers; i++) b->layers[i].on = bf16_layer_ok(net, &net->layers[i]);
    net->bf16 = b;
    net->precision = NN_BF16;
    return EMO_OK;
}

/* ---- building primitives --------------------------------------------------- */

static int dnnl_err(dnnl_status_t s, const char *what, int layer) {
    return emo_fail(s == dnnl_out_of_memory ? EMO_ENOMEM : EMO_EUNSUPPORTED,
                    "bf16 convolution (layer %d): oneDNN %s failed (status %d)", layer, what, (int)s);
}

static dnnl_primitive_attr_t user_pad_attr(void) {
    dnnl_primitive_attr_t a;
    if (dnnl_primitive_attr_create(&a) != dnnl_success) return NULL;
    dnnl_primitive_attr_set_scratchpad_mode(a, dnnl_scratchpad_mode_user);
    return a;
}

static size_t pad_bytes(const_dnnl_primitive_desc_t pd) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    return md ? dnnl_memory_desc_get_size(md) : 0;
}

/* Index of the layer's pack with this layout, added if new. */
static int find_pack(bf16_layer *L, const dnnl_memory_desc_t *md, int layer) {
    for (int j = 0; j < L->n_p; j++)
        if (dnnl_memory_desc_equal(&L->p[j].md, md)) return j;
    if (L->n_p == BF16_PACKS) return emo_fail(EMO_EUNSUPPORTED, "bf16 convolution (layer %d): too many weight layouts", layer);
    bf16_pack *p = &L->p[L->n_p];
    p->md = *md;
    p->bytes = dnnl_memory_desc_get_size(md);
    p->version = -1;
    if (!(p->buf = malloc(p->bytes ? p->bytes : 1)))
        return emo_fail(EMO_ENOMEM, "bf16 convolution (layer %d): out of memory for weights", layer);
    return L->n_p++;
}

static int build_entry(const nn_net *net, int li, bf16_layer *BL, bf16_entry *e, int n, int threads, int train) {
    const nn_layer *L = &net->layers[li], *I = &net->layers[L->in];
    dnnl_dims_t xd = {n, I->c, I->h, I->w}, yd = {n, L->c, L->h, L->w}, wd = {L->c, I->c, L->size, L->size};
    dnnl_dims_t bd = {L->c}, st = {L->stride, L->stride}, pl = {L->pad, L->pad};
    /* padding_r so that the output size is the one the net computed */
    dnnl_dims_t pr = {(L->h - 1) * L->stride + L->size - I->h - L->pad, (L->w - 1) * L->stride + L->size - I->w - L->pad};
    dnnl_memory_desc_t w_any, dw_any;
    dnnl_status_t s;
    memset(e, 0, sizeof *e);
    e->n = n;
    e->threads = threads;
    e->train = train;
    dnnl_memory_desc_init_by_tag(&e->x_md, 4, xd, dnnl_bf16, dnnl_nhwc);
    dnnl_memory_desc_init_by_tag(&e->y_md, 4, yd, dnnl_f32, dnnl_nhwc);
    dnnl_memory_desc_init_by_tag(&e->dx_md, 4, xd, dnnl_f32, dnnl_nhwc);
    dnnl_memory_desc_init_by_tag(&e->dy_md, 4, yd, dnnl_bf16, dnnl_nhwc);
    dnnl_memory_desc_init_by_tag(&e->dwo_md, 4, wd, dnnl_f32, dnnl_ohwi);
    dnnl_memory_desc_init_by_tag(&e->b_md, 1, bd, dnnl_f32, dnnl_x);
    dnnl_memory_desc_init_by_tag(&w_any, 4, wd, dnnl_bf16, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&dw_any, 4, wd, dnnl_f32, dnnl_format_tag_any);

    dnnl_primitive_attr_t attr = user_pad_attr();
    if (!attr) return emo_fail(EMO_ENOMEM, "bf16 convolution: out of memory");
    if (L->act == NN_ACT_RELU) {
        dnnl_post_ops_t po;
        dnnl_post_ops_create(&po);
        dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
        dnnl_primitive_attr_set_post_ops(attr, po);
        dnnl_post_ops_destroy(po);
    }
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t fpd = NULL, bpd = NULL, wpd = NULL, rpd = NULL;
    int st_ = EMO_OK;
    s = dnnl_convolution_forward_desc_init(&cd, train ? dnnl_forward_training : dnnl_forward_inference,
                                           dnnl_convolution_direct, &e->x_md, &w_any, L->bias ? &e->b_md : NULL,
                                           &e->y_md, st, pl, pr);
    if (!s) s = dnnl_primitive_desc_create(&fpd, &cd, attr, g_engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (s) return dnnl_err(s, "forward descriptor", li);
    if ((st_ = find_pack(BL, dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0), li)) < 0) goto out;
    e->pack_f = st_;
    st_ = EMO_OK;
    e->pad_f = pad_bytes(fpd);
    if ((s = dnnl_primitive_create(&e->fwd, fpd))) {
        st_ = dnnl_err(s, "forward primitive", li);
        goto out;
    }
    if (train) {
        attr = user_pad_attr();
        s = dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &e->dx_md, &w_any, &e->dy_md, st,
                                                     pl, pr);
        if (!s) s = dnnl_primitive_desc_create(&bpd, &cd, attr, g_engine, fpd);
        if (!s) {
            if ((st_ = find_pack(BL, dnnl_primitive_desc_query_md(bpd, dnnl_query_weights_md, 0), li)) < 0) goto out_a;
            e->pack_b = st_;
            st_ = EMO_OK;
            e->pad_b = pad_bytes(bpd);
            s = dnnl_primitive_create(&e->bwd_d, bpd);
        }
        if (s) {
            st_ = dnnl_err(s, "backward-data primitive", li);
            goto out_a;
        }
        s = dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &e->x_md, &dw_any, NULL,
                                                        &e->dy_md, st, pl, pr);
        if (!s) s = dnnl_primitive_desc_create(&wpd, &cd, attr, g_engine, fpd);
        if (!s) {
            e->dw_md = *dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_weights_md, 0);
            e->dw_bytes = dnnl_memory_desc_get_size(&e->dw_md);
            e->pad_w = pad_bytes(wpd);
            s = dnnl_primitive_create(&e->bwd_w, wpd);
        }
        if (s) {
            st_ = dnnl_err(s, "backward-weights primitive", li);
            goto out_a;
        }
        /* dw (our layout, fp32) += the primitive's diff weights */
        dnnl_primitive_attr_destroy(attr);
        attr = user_pad_attr();
        dnnl_post_ops_t po;
        dnnl_post_ops_create(&po);
        dnnl_post_ops_append_sum(po, 1.0f);
        dnnl_primitive_attr_set_post_ops(attr, po);
        dnnl_post_ops_destroy(po);
        s = dnnl_reorder_primitive_desc_create(&rpd, &e->dw_md, g_engine, &e->dwo_md, g_engine, attr);
        if (!s) {
            e->pad_r = pad_bytes(rpd);
            s = dnnl_primitive_create(&e->dw_add, rpd);
        }
        if (s) st_ = dnnl_err(s, "weight-gradient reorder", li);
    out_a:
        dnnl_primitive_attr_destroy(attr);
    }
out:
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    if (bpd) dnnl_primitive_desc_destroy(bpd);
    if (wpd) dnnl_primitive_desc_destroy(wpd);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (st_) entry_free(e);
    return st_;
}

static bf16_entry *find_entry(bf16_layer *L, int n, int threads, int train) {
    for (int j = 0; j < L->n_e; j++) {
        bf16_entry *e = &L->e[j];
        if (e->n == n && e->threads == threads && (e->train || !train)) return e;
    }
    return NULL;
}

/* Runs a primitive with the calling thread's stream; records a failure. */
static void run(nn_bf16 *b, dnnl_primitive_t p, int nargs, const dnnl_exec_arg_t *args) {
    dnnl_status_t s = dnnl_primitive_execute(p, stream(), nargs, args);
    if (s == dnnl_success) s = dnnl_stream_wait(stream());
    if (s != dnnl_success) {
#pragma omp critical(nn_bf16_status)
        if (!b->status) b->status = EMO_EUNSUPPORTED;
    }
}

/* A memory object over caller-owned bytes (NULL on failure). */
static dnnl_memory_t mem(const dnnl_memory_desc_t *md, void *p) {
    dnnl_memory_t m = NULL;
    if (dnnl_memory_create(&m, md, g_engine, p) != dnnl_success) return NULL;
    return m;
}

static int pack_weights(nn_net *net, int li, bf16_layer *BL, int j) {
    bf16_pack *p = &BL->p[j];
    if (p->version == net->param_version) return EMO_OK;
    const nn_layer *L = &net->layers[li], *I = &net->layers[L->in];
    dnnl_dims_t wd = {L->c, I->c, L->size, L->size};
    dnnl_memory_desc_t w32;
    dnnl_memory_desc_init_by_tag(&w32, 4, wd, dnnl_f32, dnnl_ohwi);
    dnnl_status_t s;
    if (!BL->w_reorder[j]) {
        dnnl_primitive_desc_t rpd;
        s = dnnl_reorder_primitive_desc_create(&rpd, &w32, g_engine, &p->md, g_engine, NULL);
        if (!s) {
            s = dnnl_primitive_create(&BL->w_reorder[j], rpd);
            dnnl_primitive_desc_destroy(rpd);
        }
        if (s) return dnnl_err(s, "weight reorder", li);
    }
    dnnl_memory_t a = mem(&w32, net->params + L->w_off), c = mem(&p->md, p->buf);
    int st = EMO_OK;
    if (!a || !c) st = emo_fail(EMO_ENOMEM, "bf16 convolution: out of memory");
    else {
        dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, a}, {DNNL_ARG_TO, c}};
        nn_bf16 *b = net->bf16;
        int before = b->status;
        run(b, BL->w_reorder[j], 2, args);
        if (b->status != before) st = emo_fail(b->status, "bf16 convolution (layer %d): weight reorder failed", li);
    }
    if (a) dnnl_memory_destroy(a);
    if (c) dnnl_memory_destroy(c);
    if (!st) p->version = net->param_version;
    return st;
}

static int grow(void **p, size_t *cap, size_t need) {
    if (need <= *cap) return EMO_OK;
    void *q = malloc(need);
    if (!q) return emo_fail(EMO_ENOMEM, "bf16 convolution: out of memory (%zu bytes)", need);
    free(*p);
    *p = q;
    *cap = need;
    return EMO_OK;
}

/* Bytes a thread needs for one backward call of entry e. */
static size_t tbuf_need(const nn_layer *L, const nn_layer *I, const bf16_entry *e) {
    size_t dy = (size_t)e->n * L->h * L->w * L->c * 2, dx = (size_t)e->n * I->h * I->w * I->c * 4;
    size_t pad = EMO_MAX(EMO_MAX(e->pad_f, e->pad_b), EMO_MAX(e->pad_w, e->pad_r));
    return ((dy + 63) & ~(size_t)63) + ((dx + 63) & ~(size_t)63) + ((e->dw_bytes + 63) & ~(size_t)63) + pad + 64;
}

int nn_bf16_prepare(nn_net *net, int n, int T, int train) {
    nn_bf16 *b = net->bf16;
    if (!b) return EMO_OK;
    b->status = EMO_OK;
    int threads = T > 1 ? 1 : net->threads, st;
    for (int li = 0; li < net->n_layers; li++) {
        bf16_layer *BL = &b->layers[li];
        if (!BL->on) continue;
        const nn_layer *L = &net->layers[li], *I = &net->layers[L->in];
        if ((st = grow((void **)&BL->x16, &BL->x16_bytes, (size_t)net->batch_cap * I->h * I->w * I->c * 2)))
            return st;
        for (int t = 0; t < T; t++) {
            int m = n * (t + 1) / T - n * t / T;
            bf16_entry *e = find_entry(BL, m, threads, train);
            if (!e) {
                int j = BL->n_e < BF16_ENTRIES ? BL->n_e++ : 0;
                if (BL->n_e == BF16_ENTRIES && j == 0) /* full: replace the least recently used */
                    for (int k = 1; k < BF16_ENTRIES; k++)
                        if (BL->e[k].used < BL->e[j].used) j = k;
                entry_free(&BL->e[j]);
                if ((st = build_entry(net, li, BL, &BL->e[j], m, threads, train))) {
                    BL->e[j] = BL->e[--BL->n_e];
                    memset(&BL->e[BL->n_e], 0, sizeof BL->e[0]);
                    return st;
                }
                e = &BL->e[j];
            }
            e->used = ++b->clock;
            if ((st = pack_weights(net, li, BL, e->pack_f))) return st;
            if (train && (st = pack_weights(net, li, BL, e->pack_b))) return st;
            if (t >= BF16_THREADS) return emo_fail(EMO_ELIMIT, "bf16 convolution: more than %d threads", BF16_THREADS);
            size_t need = tbuf_need(L, I, e);
            if ((st = grow((void **)&b->tbuf[t].p, &b->tbuf[t].cap, need))) return st;
        }
    }
    return EMO_OK;
}

int nn_bf16_status(const nn_net *net) { return net->bf16 ? net->bf16->status : EMO_OK; }

int nn_bf16_layer_on(const nn_net *net, int li) { return net->bf16 && net->bf16->layers[li].on; }

/* ---- per-layer calls (inside a pass; no allocation, no locking) --------------- */

static uint8_t *align64(uint8_t *p) { return (uint8_t *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

void nn_bf16_conv_forward(nn_net *net, int li, int lo, int n, int t, int threads, int train, const float *in,
                          float *out) {
    nn_bf16 *b = net->bf16;
    bf16_layer *BL = &b->layers[li];
    const nn_layer *L = &net->layers[li], *I = &net->layers[L->in];
    bf16_entry *e = find_entry(BL, n, threads, train);
    if (!e) {
#pragma omp critical(nn_bf16_status)
        if (!b->status) b->status = EMO_ESTATE;
        return;
    }
    size_t per = (size_t)I->h * I->w * I->c;
    uint16_t *x = BL->x16 + (size_t)lo * per;
    nn_f32_to_bf16((size_t)n * per, in, x);
    uint8_t *pad = align64(b->tbuf[t].p);
    dnnl_memory_desc_t pmd;
    dnnl_dims_t pd = {(dnnl_dim_t)e->pad_f};
    dnnl_memory_desc_init_by_tag(&pmd, 1, pd, dnnl_u8, dnnl_x);
    dnnl_memory_t mx = mem(&e->x_md, x), mw = mem(&BL->p[e->pack_f].md, BL->p[e->pack_f].buf);
    dnnl_memory_t my = mem(&e->y_md, out), mp = mem(&pmd, pad);
    dnnl_memory_t mb = L->bias ? mem(&e->b_md, net->params + L->b_off) : NULL;
    if (mx && mw && my && mp && (mb || !L->bias)) {
        dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, mx}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, my},
                                  {DNNL_ARG_SCRATCHPAD, mp}, {DNNL_ARG_BIAS, mb}};
        run(b, e->fwd, L->bias ? 5 : 4, args);
    } else {
#pragma omp critical(nn_bf16_status)
        if (!b->status) b->status = EMO_ENOMEM;
    }
    dnnl_memory_t ms[] = {mx, mw, my, mp, mb};
    for (int k = 0; k < 5; k++)
        if (ms[k]) dnnl_memory_destroy(ms[k]);
}

void nn_bf16_conv_backward(nn_net *net, int li, int lo, int n, int t, int threads, const float *dout, float *dw,
                           float *din, int acc) {
    nn_bf16 *b = net->bf16;
    bf16_layer *BL = &b->layers[li];
    const nn_layer *L = &net->layers[li], *I = &net->layers[L->in];
    bf16_entry *e = find_entry(BL, n, threads, 1);
    if (!e) {
#pragma omp critical(nn_bf16_status)
        if (!b->status) b->status = EMO_ESTATE;
        return;
    }
    size_t nx = (size_t)n * I->h * I->w * I->c, ny = (size_t)n * L->h * L->w * L->c;
    uint8_t *p = align64(b->tbuf[t].p);
    uint16_t *dy = (uint16_t *)p;
    float *dxt = (float *)align64(p + ny * 2);
    void *dwt = align64((uint8_t *)dxt + nx * 4);
    void *pad = align64((uint8_t *)dwt + e->dw_bytes);
    nn_f32_to_bf16(ny, dout, dy);
    size_t pads[] = {e->pad_b, e->pad_w, e->pad_r};
    dnnl_memory_desc_t pmd[3];
    for (int k = 0; k < 3; k++) {
        dnnl_dims_t d = {(dnnl_dim_t)pads[k]};
        dnnl_memory_desc_init_by_tag(&pmd[k], 1, d, dnnl_u8, dnnl_x);
    }
    dnnl_memory_t mdy = mem(&e->dy_md, dy), ok = mdy;
    if (din && mdy) {
        dnnl_memory_t mw = mem(&BL->p[e->pack_b].md, BL->p[e->pack_b].buf);
        dnnl_memory_t mdx = mem(&e->dx_md, acc ? dxt : din), mp = mem(&pmd[0], pad);
        if (mw && mdx && mp) {
            dnnl_exec_arg_t args[] = {{DNNL_ARG_DIFF_DST, mdy}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DIFF_SRC, mdx},
                                      {DNNL_ARG_SCRATCHPAD, mp}};
            run(b, e->bwd_d, 4, args);
            if (acc)
#pragma omp simd
                for (size_t j = 0; j < nx; j++) din[j] += dxt[j];
        } else {
            ok = NULL;
        }
        if (mw) dnnl_memory_destroy(mw);
        if (mdx) dnnl_memory_destroy(mdx);
        if (mp) dnnl_memory_destroy(mp);
    }
    if (dw && ok) {
        size_t per = (size_t)I->h * I->w * I->c;
        dnnl_memory_t mx = mem(&e->x_md, BL->x16 + (size_t)lo * per), mdw = mem(&e->dw_md, dwt);
        dnnl_memory_t mp = mem(&pmd[1], pad), mo = mem(&e->dwo_md, dw), mr = mem(&pmd[2], pad);
        if (mx && mdw && mp && mo && mr) {
            dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, mx}, {DNNL_ARG_DIFF_DST, mdy}, {DNNL_ARG_DIFF_WEIGHTS, mdw},
                                      {DNNL_ARG_SCRATCHPAD, mp}};
            run(b, e->bwd_w, 4, args);
            dnnl_exec_arg_t radd[] = {{DNNL_ARG_FROM, mdw}, {DNNL_ARG_TO, mo}, {DNNL_ARG_SCRATCHPAD, mr}};
            run(b, e->dw_add, 3, radd);
        } else {
            ok = NULL;
        }
        dnnl_memory_t ms[] = {mx, mdw, mp, mo, mr};
        for (int k = 0; k < 5; k++)
            if (ms[k]) dnnl_memory_destroy(ms[k]);
    }
    if (!ok) {
#pragma omp critical(nn_bf16_status)
        if (!b->status) b->status = EMO_ENOMEM;
    }
    if (mdy) dnnl_memory_destroy(mdy);
}

/* ---- peak ------------------------------------------------------------------ */

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

double nn_bf16_matmul_gflops(int m, double seconds) {
    pthread_once(&g_once, engine_init);
    if (!g_engine || !nn_bf16_available(NULL) || m < 16 || m > 8192) return -1;
    dnnl_dims_t d = {m, m};
    dnnl_memory_desc_t a_md, b_any, c_md;
    dnnl_memory_desc_init_by_tag(&a_md, 2, d, dnnl_bf16, dnnl_ab);
    dnnl_memory_desc_init_by_tag(&b_any, 2, d, dnnl_bf16, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&c_md, 2, d, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t p = NULL;
    dnnl_memory_t ma = NULL, mb = NULL, mc = NULL;
    double g = -1;
    if (dnnl_matmul_desc_init(&md, &a_md, &b_any, NULL, &c_md) || dnnl_primitive_desc_create(&pd, &md, NULL, g_engine, NULL))
        return -1;
    const dnnl_memory_desc_t *b_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    if (dnnl_primitive_create(&p, pd) || dnnl_memory_create(&ma, &a_md, g_engine, DNNL_MEMORY_ALLOCATE) ||
        dnnl_memory_create(&mb, b_md, g_engine, DNNL_MEMORY_ALLOCATE) ||
        dnnl_memory_create(&mc, &c_md, g_engine, DNNL_MEMORY_ALLOCATE))
        goto out;
    /* inputs: 1.0 in bf16 (0x3f80) in A, the same bytes in B whatever its layout */
    void *pa, *pb;
    dnnl_memory_get_data_handle(ma, &pa);
    dnnl_memory_get_data_handle(mb, &pb);
    for (size_t i = 0; i < (size_t)m * m; i++) ((uint16_t *)pa)[i] = 0x3f80;
    for (size_t i = 0; i < dnnl_memory_desc_get_size(b_md) / 2; i++) ((uint16_t *)pb)[i] = 0x3c00; /* 2^-7 */
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}};
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    long runs = 0;
    double c0 = 0, w0 = 0;
    for (int it = -1; ; it++) {
        if (it == 0) c0 = cpu_now(), w0 = omp_get_wtime(); /* one warm-up run first */
        if (dnnl_primitive_execute(p, stream(), 3, args) || dnnl_stream_wait(stream())) break;
        if (it >= 0) runs++;
        if (it >= 0 && omp_get_wtime() - w0 >= seconds) break;
    }
    double dt = cpu_now() - c0;
    omp_set_num_threads(saved);
    if (runs > 0 && dt > 0) g = runs * 2.0 * m * m * (double)m / dt / 1e9;
out:
    dnnl_memory_destroy(ma);
    dnnl_memory_destroy(mb);
    dnnl_memory_destroy(mc);
    dnnl_primitive_destroy(p);
    dnnl_primitive_desc_destroy(pd);
    return g;
}
