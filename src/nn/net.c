/* net.c — networks: the config parser, shape inference, the parameter block,
 * forward/backward over the layer list, the loss, and batch-norm folding. */
#include "nn/nn.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const kind_names[NN_KIND_COUNT] = {
    "input", "conv", "bn", "relu", "silu", "maxpool", "avgpool", "gap", "dropout", "linear", "add", "flatten",
};

/* Options each layer accepts (besides name= and in=). */
static const char *const kind_opts[NN_KIND_COUNT] = {
    "size w h channels", "filters size stride pad groups bias act", "eps momentum", "", "",
    "size stride pad", "size stride pad", "", "p", "out bias", "from drop", "",
};

const char *nn_kind_name(nn_kind kind) {
    return (unsigned)kind < NN_KIND_COUNT ? kind_names[kind] : "?";
}

/* ---- config parsing --------------------------------------------------------- */

typedef struct parser {
    const char *origin;
    int line;
    char key[16][32], val[16][64];
    int nkv;
    int used[16];
} parser;

static int perr(const parser *p, const char *fmt, const char *a, const char *b) {
    char msg[256];
    snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
    return emo_fail(EMO_EFORMAT, "%s:%d: %s", p->origin, p->line, msg);
}

static const char *opt_str(parser *p, const char *key) {
    for (int i = 0; i < p->nkv; i++)
        if (strcmp(p->key[i], key) == 0) {
            p->used[i] = 1;
            return p->val[i];
        }
    return NULL;
}

/* Integer option in [lo, hi]; *out = def if absent and def >= lo, else required. */
static int opt_int(parser *p, const char *key, int def, int lo, int hi, int *out) {
    const char *v = opt_str(p, key);
    if (!v) {
        if (def < lo) return perr(p, "missing option %s=", key, NULL);
        *out = def;
        return EMO_OK;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi) {
        char range[64];
        snprintf(range, sizeof range, "an integer in [%d, %d]", lo, hi);
        char what[128];
        snprintf(what, sizeof what, "%s=%s", key, v);
        return perr(p, "%s: want %s", what, range);
    }
    *out = (int)x;
    return EMO_OK;
}

static int opt_float(parser *p, const char *key, float def, float lo, float hi, float *out) {
    const char *v = opt_str(p, key);
    if (!v) {
        *out = def;
        return EMO_OK;
    }
    char *end;
    errno = 0;
    float x = strtof(v, &end);
    if (errno || *end || end == v || !(x >= lo && x <= hi)) {
        char what[128], range[64];
        snprintf(what, sizeof what, "%s=%s", key, v);
        snprintf(range, sizeof range, "a number in [%g, %g]", lo, hi);
        return perr(p, "%s: want %s", what, range);
    }
    *out = x;
    return EMO_OK;
}

static int find_layer(const nn_net *net, int upto, const char *name) {
    for (int i = upto - 1; i >= 0; i--)
        if (strcmp(net->layers[i].name, name) == 0) return i;
    return -1;
}

static int ref_layer(parser *p, const nn_net *net, int self, const char *key, int *out) {
    const char *v = opt_str(p, key);
    if (!v) return perr(p, "missing option %s=", key, NULL);
    if (net->layers[self].name[0] && strcmp(v, net->layers[self].name) == 0)
        return perr(p, "%s=%s refers to the layer itself (cycles are not allowed)", key, v);
    int j = find_layer(net, self, v);
    if (j < 0)
        return perr(p, "%s=%s: no layer of that name above this line (layers may only read earlier "
                       "layers, so cycles are impossible)", key, v);
    *out = j;
    return EMO_OK;
}

static int conv_out(int in, int k, int stride, int pad) {
    long v = ((long)in + 2L * pad - k);
    return v < 0 ? 0 : (int)(v / stride + 1);
}

/* Fills layer i from the parser's options; checks shapes against its input. */
static int build_layer(parser *p, nn_net *net, int i) {
    nn_layer *L = &net->layers[i];
    int st;
    if (L->kind == NN_INPUT) {
        int size;
        if ((st = opt_int(p, "size", 0, 0, NN_MAX_SIDE, &size))) return st;
        if ((st = opt_int(p, "w", size ? size : -1, 1, NN_MAX_SIDE, &L->w))) return st;
        if ((st = opt_int(p, "h", size ? size : -1, 1, NN_MAX_SIDE, &L->h))) return st;
        if ((st = opt_int(p, "channels", 1, 1, NN_MAX_CHANNELS, &L->c))) return st;
        L->in = -1;
        return EMO_OK;
    }
    if (opt_str(p, "in")) {
        if ((st = ref_layer(p, net, i, "in", &L->in))) return st;
    } else {
        L->in = i - 1;
    }
    const nn_layer *I = &net->layers[L->in];
    L->in2 = -1;
    L->h = I->h;
    L->w = I->w;
    L->c = I->c;
    char shape[64];
    snprintf(shape, sizeof shape, "%dx%dx%d", I->h, I->w, I->c);
    switch (L->kind) {
    case NN_CONV: {
        const char *act;
        if ((st = opt_int(p, "filters", -1, 1, NN_MAX_CHANNELS, &L->c))) return st;
        if ((st = opt_int(p, "size", -1, 1, NN_MAX_KERNEL, &L->size))) return st;
        if ((st = opt_int(p, "stride", 1, 1, NN_MAX_KERNEL, &L->stride))) return st;
        if ((st = opt_int(p, "pad", 0, 0, NN_MAX_KERNEL, &L->pad))) return st;
        if ((st = opt_int(p, "groups", 1, 1, NN_MAX_CHANNELS, &L->groups))) return st;
        if ((st = opt_int(p, "bias", 1, 0, 1, &L->bias))) return st;
        act = opt_str(p, "act");
        if (!act || strcmp(act, "none") == 0) L->act = NN_ACT_NONE;
        else if (strcmp(act, "relu") == 0) L->act = NN_ACT_RELU;
        else return perr(p, "act=%s: want none or relu", act, NULL);
        if (I->c % L->groups || L->c % L->groups)
            return perr(p, "groups must divide the input channels and filters (input is %s)", shape, NULL);
        L->h = conv_out(I->h, L->size, L->stride, L->pad);
        L->w = conv_out(I->w, L->size, L->stride, L->pad);
        if (L->h < 1 || L->w < 1) return perr(p, "kernel larger than the padded input %s", shape, NULL);
        break;
    }
    case NN_MAXPOOL:
    case NN_AVGPOOL:
        if ((st = opt_int(p, "size", -1, 1, NN_MAX_KERNEL, &L->size))) return st;
        if ((st = opt_int(p, "stride", L->size, 1, NN_MAX_KERNEL, &L->stride))) return st;
        if ((st = opt_int(p, "pad", 0, 0, L->size / 2, &L->pad))) return st;
        L->h = conv_out(I->h, L->size, L->stride, L->pad);
        L->w = conv_out(I->w, L->size, L->stride, L->pad);
        if (L->h < 1 || L->w < 1) return perr(p, "pool window larger than the input %s", shape, NULL);
        break;
    case NN_BN:
        if ((st = opt_float(p, "eps", 1e-5f, 1e-12f, 1.0f, &L->eps))) return st;
        if ((st = opt_float(p, "momentum", 0.1f, 0.0f, 1.0f, &L->momentum))) return st;
        break;
    case NN_DROPOUT:
        if ((st = opt_float(p, "p", 0.5f, 0.0f, 0.99f, &L->p))) return st;
        break;
    case NN_GAP:
        L->h = L->w = 1;
        break;
    case NN_FLATTEN:
    case NN_LINEAR: {
        long flat = (long)I->h * I->w * I->c;
        if (flat > NN_MAX_CHANNELS * 16L) return perr(p, "input %s too large to flatten", shape, NULL);
        L->h = L->w = 1;
        L->c = (int)flat;
        if (L->kind == NN_LINEAR) {
            if ((st = opt_int(p, "out", -1, 1, NN_MAX_CHANNELS, &L->c))) return st;
            if ((st = opt_int(p, "bias", 1, 0, 1, &L->bias))) return st;
        }
        break;
    }
    case NN_ADD: {
        if ((st = ref_layer(p, net, i, "from", &L->in2))) return st;
        if ((st = opt_float(p, "drop", 0.0f, 0.0f, 0.99f, &L->p))) return st;
        const nn_layer *J = &net->layers[L->in2];
        if (J->h != I->h || J->w != I->w || J->c != I->c) {
            char other[64];
            snprintf(other, sizeof other, "%dx%dx%d", J->h, J->w, J->c);
            return perr(p, "add: shapes differ: input %s, from= %s", shape, other);
        }
        break;
    }
    default:
        break;
    }
    return EMO_OK;
}

static int parse_kind(const char *word) {
    for (int k = 0; k < NN_KIND_COUNT; k++)
        if (strcmp(word, kind_names[k]) == 0) return k;
    return -1;
}

static int opt_allowed(int kind, const char *key) {
    if (strcmp(key, "name") == 0 || (kind != NN_INPUT && strcmp(key, "in") == 0)) return 1;
    const char *o = kind_opts[kind];
    size_t n = strlen(key);
    while (*o) {
        const char *e = strchr(o, ' ');
        size_t len = e ? (size_t)(e - o) : strlen(o);
        if (len == n && strncmp(o, key, n) == 0) return 1;
        o += len + (e ? 1 : 0);
    }
    return 0;
}

/* Splits one line into kind and key=value pairs; returns the kind, 0 for a
 * blank line, or a negative status. */
static int split_line(parser *p, char *s, int *kind) {
    char *hash = strchr(s, '#');
    if (hash) *hash = 0;
    char *tok = strtok(s, " \t\r");
    if (!tok) return 0;
    int k = parse_kind(tok);
    if (k < 0) return perr(p, "unknown layer '%s'", tok, NULL);
    *kind = k;
    p->nkv = 0;
    while ((tok = strtok(NULL, " \t\r"))) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || !eq[1]) return perr(p, "'%s': options are written key=value", tok, NULL);
        *eq = 0;
        if (p->nkv == 16) return perr(p, "too many options", NULL, NULL);
        if (strlen(tok) >= sizeof p->key[0] || strlen(eq + 1) >= sizeof p->val[0])
            return perr(p, "option '%s' too long", tok, NULL);
        if (!opt_allowed(k, tok)) return perr(p, "%s: unknown option '%s'", kind_names[k], tok);
        for (int i = 0; i < p->nkv; i++)
            if (strcmp(p->key[i], tok) == 0) return perr(p, "option '%s' given twice", tok, NULL);
        strcpy(p->key[p->nkv], tok);
        strcpy(p->val[p->nkv], eq + 1);
        p->used[p->nkv] = 0;
        p->nkv++;
    }
    return 1;
}

/* Assigns parameter/statistic offsets and the tensor table. */
static int layout_params(nn_net *net, size_t max_params, const char *origin) {
    size_t np = 0, ns = 0;
    int nt = 0;
    nn_tensor *t = calloc((size_t)net->n_layers * 2, sizeof *t);
    if (!t) return emo_fail(EMO_ENOMEM, "out of memory for the tensor table");
    for (int i = 0; i < net->n_layers; i++) {
        nn_layer *L = &net->layers[i];
        L->w_off = L->b_off = L->mean_off = L->var_off = SIZE_MAX;
        size_t nw = 0, nb = 0;
        const nn_layer *I = L->in >= 0 ? &net->layers[L->in] : NULL;
        if (L->kind == NN_CONV) {
            nw = (size_t)L->c * L->size * L->size * (I->c / L->groups);
            nb = L->bias ? (size_t)L->c : 0;
        } else if (L->kind == NN_LINEAR) {
            nw = (size_t)L->c * I->h * I->w * I->c;
            nb = L->bias ? (size_t)L->c : 0;
        } else if (L->kind == NN_BN) {
            nw = nb = (size_t)L->c;
            L->mean_off = ns;
            L->var_off = ns + L->c;
            ns += 2 * (size_t)L->c;
        }
        if (nw) {
            L->w_off = np;
            snprintf(t[nt].name, sizeof t[nt].name, "%d.%s.%s", i, kind_names[L->kind],
                     L->kind == NN_BN ? "gamma" : "w");
            t[nt].off = np;
            t[nt].n = nw;
            t[nt].decay = L->kind != NN_BN;
            nt++;
            np += nw;
        }
        if (nb) {
            L->b_off = np;
            snprintf(t[nt].name, sizeof t[nt].name, "%d.%s.%s", i, kind_names[L->kind],
                     L->kind == NN_BN ? "beta" : "b");
            t[nt].off = np;
            t[nt].n = nb;
            t[nt].decay = 0;
            nt++;
            np += nb;
        }
        if (np > max_params) {
            free(t);
            return emo_fail(max_params < NN_MAX_PARAMS ? EMO_EFORMAT : EMO_ELIMIT,
                            "%s: the network has more than %zu parameters%s", origin, max_params,
                            max_params < NN_MAX_PARAMS ? ", more than the file holds" : "");
        }
    }
    net->tensors = t;
    net->n_tensors = nt;
    net->n_params = np;
    net->n_stats = ns;
    size_t total = 4 * np + ns;
    net->mem = calloc(total ? total : 1, sizeof(float));
    if (!net->mem) return emo_fail(EMO_ENOMEM, "out of memory for %zu parameters", np);
    net->params = net->mem;
    net->grads = net->params + np;
    net->opt_m = net->grads + np;
    net->opt_v = net->opt_m + np;
    net->stats = net->opt_v + np;
    for (int i = 0; i < net->n_layers; i++) {
        nn_layer *L = &net->layers[i];
        if (L->kind == NN_BN)
            for (int j = 0; j < L->c; j++) net->stats[L->var_off + j] = 1;
    }
    return EMO_OK;
}

int nn_net_from_cfg_limit(nn_net **out, const char *text, const char *origin, size_t max_params) {
    *out = NULL;
    if (!text) return emo_fail(EMO_EINVAL, "no network config given");
    if (!origin) origin = "network";
    nn_net *net = calloc(1, sizeof *net);
    char *buf = strdup(text);
    if (!net || !buf || !(net->cfg = strdup(text)) ||
        !(net->layers = calloc(NN_MAX_LAYERS, sizeof *net->layers))) {
        free(buf);
        nn_net_free(net);
        return emo_fail(EMO_ENOMEM, "%s: out of memory", origin);
    }
    net->threads = 1;
    net->rng = 0x5eed;
    net->packed_version = -1;
    parser p = {.origin = origin};
    int st = EMO_OK;
    /* strtok is used inside split_line, so walk lines by hand. */
    char *line = buf;
    while (line && st == EMO_OK) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        p.line++;
        int kind = 0;
        int r = split_line(&p, line, &kind);
        if (r < 0) {
            st = r;
        } else if (r > 0) {
            int i = net->n_layers;
            if (i == NN_MAX_LAYERS) {
                st = perr(&p, "more than %s layers", "512", NULL);
                break;
            }
            if ((i == 0) != (kind == NN_INPUT)) {
                st = perr(&p, i == 0 ? "the first layer must be 'input', not '%s'"
                                     : "'%s' may only be the first layer",
                          kind_names[kind], NULL);
                break;
            }
            nn_layer *L = &net->layers[i];
            memset(L, 0, sizeof *L);
            L->kind = (nn_kind)kind;
            L->line = p.line;
            L->in = L->in2 = -1;
            L->groups = 1;
            const char *name = opt_str(&p, "name");
            if (name) {
                if (strlen(name) >= NN_NAME_LEN) {
                    st = perr(&p, "name '%s' too long", name, NULL);
                    break;
                }
                if (find_layer(net, i, name) >= 0) {
                    st = perr(&p, "name '%s' already used above", name, NULL);
                    break;
                }
                strcpy(L->name, name);
            }
            net->n_layers++;
            st = build_layer(&p, net, i);
            for (int k = 0; st == EMO_OK && k < p.nkv; k++)
                if (!p.used[k]) st = perr(&p, "%s: option '%s' not used", kind_names[kind], p.key[k]);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(buf);
    if (st == EMO_OK && net->n_layers < 2)
        st = emo_fail(EMO_EFORMAT, "%s: needs an input line and at least one layer", origin);
    if (st == EMO_OK) {
        /* Every output but the last must be read by a later layer: a dead
         * branch would get no gradient. last_use: the last reader. */
        for (int i = 0; i < net->n_layers; i++) net->layers[i].last_use = -1;
        for (int i = 1; i < net->n_layers; i++) {
            net->layers[net->layers[i].in].last_use = i;
            if (net->layers[i].in2 >= 0) net->layers[net->layers[i].in2].last_use = i;
        }
        for (int i = 0; i + 1 < net->n_layers && st == EMO_OK; i++)
            if (net->layers[i].last_use < 0)
                st = emo_fail(EMO_EFORMAT, "%s:%d: the output of this %s layer is never used", origin,
                              net->layers[i].line, kind_names[net->layers[i].kind]);
    }
    if (st == EMO_OK) {
        /* bn -> relu with nothing else reading the bn: one fused pass */
        for (int i = 1; i < net->n_layers; i++) {
            nn_layer *L = &net->layers[i], *B = &net->layers[L->in];
            int readers = 0;
            for (int j = 1; j < net->n_layers; j++)
                readers += (net->layers[j].in == L->in) + (net->layers[j].in2 == L->in);
            if (L->kind == NN_RELU && B->kind == NN_BN && readers == 1) {
                B->act = NN_ACT_RELU;
                L->fused = 1;
            }
        }
    }
    if (st == EMO_OK) {
        nn_layer *I = &net->layers[0], *O = &net->layers[net->n_layers - 1];
        net->in_h = I->h;
        net->in_w = I->w;
        net->in_c = I->c;
        long nout = (long)O->h * O->w * O->c;
        if (nout > NN_MAX_CLASSES)
            st = emo_fail(EMO_EFORMAT, "%s:%d: the last layer gives %ld outputs; at most %d classes", origin,
                          O->line, nout, NN_MAX_CLASSES);
        net->n_out = (int)nout;
    }
    if (st == EMO_OK) st = layout_params(net, EMO_MIN(max_params, NN_MAX_PARAMS), origin);
    if (st != EMO_OK) {
        nn_net_free(net);
        return st;
    }
    *out = net;
    return EMO_OK;
}

int nn_net_from_cfg(nn_net **out, const char *text, const char *origin) {
    return nn_net_from_cfg_limit(out, text, origin, NN_MAX_PARAMS);
}

int nn_net_from_cfg_file(nn_net **out, const char *path) {
    uint8_t *bytes;
    size_t size;
    *out = NULL;
    int st = emo_read_file(path, 1 << 20, &bytes, &size);
    if (st) return st;
    char *text = malloc(size + 1);
    if (!text) {
        free(bytes);
        return emo_fail(EMO_ENOMEM, "%s: out of memory", path);
    }
    memcpy(text, bytes, size);
    text[size] = 0;
    free(bytes);
    if (strlen(text) != size) {
        free(text);
        return emo_fail(EMO_EFORMAT, "%s: contains a NUL byte; not a network config", path);
    }
    st = nn_net_from_cfg(out, text, path);
    free(text);
    return st;
}

static void dp_free(nn_net *net);

void nn_net_free(nn_net *net) {
    if (!net) return;
    free(net->layers);
    free(net->cfg);
    free(net->tensors);
    free(net->mem);
    free(net->acts);
    free(net->dacts);
    free(net->aux);
    free(net->scratch);
    free(net->probs);
    free(net->packed);
    free(net->packed_off);
    dp_free(net);
    nn_bf16_free(net->bf16);
    free(net);
}

static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float rng_uniform(uint64_t *s) { return (float)((rng_next(s) >> 40) * (1.0 / 16777216.0)); }

void nn_net_init_params(nn_net *net, uint64_t seed) {
    uint64_t s = seed;
    memset(net->mem, 0, (4 * net->n_params + net->n_stats) * sizeof(float));
    for (int i = 0; i < net->n_layers; i++) {
        nn_layer *L = &net->layers[i];
        const nn_layer *I = L->in >= 0 ? &net->layers[L->in] : NULL;
        if (L->kind == NN_CONV || L->kind == NN_LINEAR) {
            size_t fan_in = L->kind == NN_CONV ? (size_t)L->size * L->size * (I->c / L->groups)
                                               : (size_t)I->h * I->w * I->c;
            size_t nw = (size_t)L->c * fan_in;
            float bound = 1.0f / sqrtf((float)fan_in);
            for (size_t j = 0; j < nw; j++) net->params[L->w_off + j] = (2 * rng_uniform(&s) - 1) * bound;
            if (L->bias)
                for (int j = 0; j < L->c; j++) net->params[L->b_off + j] = (2 * rng_uniform(&s) - 1) * bound;
        } else if (L->kind == NN_BN) {
            for (int j = 0; j < L->c; j++) {
                net->params[L->w_off + j] = 1;
                net->stats[L->var_off + j] = 1;
            }
        }
    }
    net->step = 0;
    net->rng = seed ^ 0xd1b54a32d192ed03ull;
    net->param_version++;
}

static nn_conv_shape conv_shape(const nn_net *net, const nn_layer *L, int n) {
    const nn_layer *I = &net->layers[L->in];
    nn_conv_shape s = {n, I->h, I->w, I->c, L->h, L->w, L->c, L->size, L->stride, L->pad, L->groups};
    return s;
}

static nn_pool_shape pool_shape(const nn_net *net, const nn_layer *L, int n) {
    const nn_layer *I = &net->layers[L->in];
    nn_pool_shape s = {n, I->h, I->w, I->c, L->h, L->w, L->size, L->stride, L->pad};
    return s;
}

void nn_net_set_threads(nn_net *net, int threads) {
    if (threads <= 0) threads = omp_get_num_procs();
    net->threads = threads;
}

int nn_net_set_batch(nn_net *net, int batch) {
    if (batch < 1 || batch > NN_MAX_BATCH)
        return emo_fail(EMO_EINVAL, "batch size %d outside [1, %d]", batch, NN_MAX_BATCH);
    if (batch <= net->batch_cap) return EMO_OK;
    size_t acts = 0, aux = 0, scratch = 0;
    for (int i = 0; i < net->n_layers; i++) {
        nn_layer *L = &net->layers[i];
        size_t per = (size_t)L->h * L->w * L->c, n;
        if (!emo_mul_size(per, (size_t)batch, &n) || acts + n < acts)
            return emo_fail(EMO_ELIMIT, "activations for batch %d overflow", batch);
        if (L->fused) { /* relu done by the bn before it, in place */
            L->out_off = net->layers[L->in].out_off;
            continue;
        }
        L->out_off = acts;
        acts += n;
        L->aux_off = aux;
        if (L->kind == NN_BN) aux += 2 * (size_t)L->c;
        if (L->kind == NN_DROPOUT) aux += n;
        if (L->kind == NN_ADD && L->p > 0) aux += (size_t)batch;
        if (L->kind == NN_CONV) {
            nn_conv_shape s = conv_shape(net, L, batch);
            size_t f = nn_conv_scratch_floats(&s, net->threads);
            scratch = EMO_MAX(scratch, f);
        }
    }
    if (acts > ((size_t)1 << 34))
        return emo_fail(EMO_ELIMIT, "activations for batch %d need %zu floats; too many", batch, acts);
    free(net->acts);
    free(net->dacts);
    free(net->aux);
    free(net->scratch);
    free(net->probs);
    net->acts = malloc(acts * sizeof(float));
    net->dacts = malloc(acts * sizeof(float));
    net->aux = malloc((aux ? aux : 1) * sizeof(float));
    net->scratch = malloc((scratch ? scratch : 1) * sizeof(float));
    net->probs = malloc((size_t)batch * net->n_out * 2 * sizeof(float));
    if (!net->acts || !net->dacts || !net->aux || !net->scratch || !net->probs) {
        free(net->acts);
        free(net->dacts);
        free(net->aux);
        free(net->scratch);
        free(net->probs);
        net->acts = net->dacts = net->aux = net->scratch = net->probs = NULL;
        net->batch_cap = 0;
        return emo_fail(EMO_ENOMEM, "out of memory for activations of batch %d (%zu floats)", batch, 2 * acts);
    }
    net->n_acts = acts;
    net->n_aux = aux;
    net->scratch_per_thread = scratch;
    net->scratch_threads = net->threads;
    net->batch_cap = batch;
    net->dlogits = net->dacts + net->layers[net->n_layers - 1].out_off;
    return EMO_OK;
}

double nn_net_flops(const nn_net *net) {
    double f = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const nn_layer *L = &net->layers[i];
        if (L->kind == NN_CONV) {
            const nn_layer *I = &net->layers[L->in];
            f += 2.0 * L->h * L->w * L->c * L->size * L->size * (I->c / L->groups);
        } else if (L->kind == NN_LINEAR) {
            const nn_layer *I = &net->layers[L->in];
            f += 2.0 * L->c * I->h * I->w * I->c;
        }
    }
    return f;
}

/* Profile clock: process CPU time, so other programs on the machine do not
 * count (with several threads it sums their time). */
static double prof_clock(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Scratch for more threads than set_batch sized it for (nn_net_set_threads
 * after nn_net_set_batch): allocated once per increase. */
static int grow_scratch(nn_net *net) {
    size_t need = 0;
    for (int i = 0; i < net->n_layers; i++)
        if (net->layers[i].kind == NN_CONV) {
            nn_conv_shape s = conv_shape(net, &net->layers[i], net->batch_cap);
            need = EMO_MAX(need, nn_conv_scratch_floats(&s, net->threads));
        }
    if (need > net->scratch_per_thread) {
        float *p = malloc(need * sizeof *p);
        if (!p) return emo_fail(EMO_ENOMEM, "out of memory for convolution scratch (%zu floats)", need);
        free(net->scratch);
        net->scratch = p;
        net->scratch_per_thread = need;
    }
    net->scratch_threads = net->threads;
    return EMO_OK;
}

/* Repacks every conv's weights for the direct kernels (inference only). */
static int repack(nn_net *net) {
    size_t total = 0;
    if (!net->packed_off && !(net->packed_off = malloc((size_t)net->n_layers * sizeof *net->packed_off)))
        return emo_fail(EMO_ENOMEM, "out of memory for packed weights");
    for (int i = 0; i < net->n_layers; i++) {
        const nn_layer *L = &net->layers[i];
        net->packed_off[i] = SIZE_MAX;
        if (L->kind != NN_CONV) continue;
        nn_conv_shape s = conv_shape(net, L, 1);
        size_t f = nn_conv_packed_floats(&s);
        if (f) {
            net->packed_off[i] = total;
            total += f;
        }
    }
    if (!net->packed && total && !(net->packed = malloc(total * sizeof(float))))
        return emo_fail(EMO_ENOMEM, "out of memory for packed weights");
    for (int i = 0; i < net->n_layers; i++)
        if (net->packed_off[i] != SIZE_MAX) {
            nn_conv_shape s = conv_shape(net, &net->layers[i], 1);
            nn_conv_pack(&s, net->params + net->layers[i].w_off, net->packed + net->packed_off[i], net->threads);
        }
    net->packed_version = net->param_version;
    return EMO_OK;
}

/* ---- forward / backward ---------------------------------------------------- */

int nn_data_parallel = 1;

/* Who runs a pass over which images: one slice of the batch, [lo, lo + n),
 * run by thread t of T with kernels of `threads` threads, its own
 * convolution scratch and gradient block. T = 1: the whole batch, kernels
 * threaded; T > 1: data-parallel, inside one OpenMP parallel region. */
typedef struct team {
    int t, T, lo, n, threads;
    float *scratch, *grads;
} team;

static size_t per_image(const nn_layer *L) { return (size_t)L->h * L->w * L->c; }

static void dp_free(nn_net *net) {
    free(net->dp_grads);
    free(net->dp_scratch);
    free(net->dp_sums);
    free(net->dp_k);
    net->dp_grads = net->dp_scratch = net->dp_k = NULL;
    net->dp_sums = NULL;
    net->dp_cap_threads = net->dp_cap_batch = 0;
}

/* Sizes the data-parallel buffers for T threads over batch_cap images
 * (grows only; nothing is allocated once warm). Each thread's scratch is
 * sized for the largest slice any thread count can give, half of
 * batch_cap, so a later pass with fewer threads still fits. */
static int dp_reserve(nn_net *net, int T) {
    if (T <= net->dp_cap_threads && net->batch_cap <= net->dp_cap_batch) return EMO_OK;
    T = EMO_MAX(T, net->dp_cap_threads);
    int slice = (net->batch_cap + 1) / 2, max_c = 1;
    size_t scratch = 1, grads;
    for (int i = 0; i < net->n_layers; i++) {
        const nn_layer *L = &net->layers[i];
        if (L->kind == NN_CONV) {
            nn_conv_shape s = conv_shape(net, L, slice);
            scratch = EMO_MAX(scratch, nn_conv_scratch_floats(&s, 1));
        }
        if (L->kind == NN_BN) max_c = EMO_MAX(max_c, L->c);
    }
    if (!emo_mul_size(net->n_params, (size_t)(T - 1), &grads) || !emo_mul_size(scratch, (size_t)T, &scratch))
        return emo_fail(EMO_ELIMIT, "data-parallel buffers for %d threads overflow", T);
    dp_free(net);
    net->dp_grads = calloc(grads ? grads : 1, sizeof(float));
    net->dp_scratch = malloc(scratch * sizeof(float));
    net->dp_sums = malloc((size_t)T * 2 * max_c * sizeof(double));
    net->dp_k = malloc((size_t)2 * max_c * sizeof(float));
    if (!net->dp_grads || !net->dp_scratch || !net->dp_sums || !net->dp_k) {
        dp_free(net);
        return emo_fail(EMO_ENOMEM, "out of memory for data-parallel training on %d threads", T);
    }
    net->dp_scratch_per = scratch / T;
    net->dp_max_c = max_c;
    net->dp_cap_threads = T;
    net->dp_cap_batch = net->batch_cap;
    return EMO_OK;
}

/* Threads a training pass of n images splits its batch over (1: none). */
static int dp_threads(const nn_net *net, int n, int train) {
    if (!train || !nn_data_parallel || net->threads < 2) return 1;
    return n >= 2 * net->threads ? net->threads : 1;
}

/* Adds the bn partial sums of threads 1..T-1 into thread 0's (thread 0,
 * between barriers; always in thread order, so runs are repeatable). */
static void dp_add_sums(nn_net *net, int T, int c) {
    double *s0 = net->dp_sums;
    for (int u = 1; u < T; u++) {
        const double *s = net->dp_sums + (size_t)u * 2 * net->dp_max_c;
        for (int j = 0; j < c; j++) {
            s0[j] += s[j];
            s0[net->dp_max_c + j] += s[net->dp_max_c + j];
        }
    }
}

/* Batch norm over a team: one slice runs the kernel as it is; several add
 * up the per-channel sums of their slices (mean first, then the variance
 * around it, as nn_bn_forward does) and thread 0 sets the statistics. */
static void bn_forward_team(nn_net *net, const nn_layer *L, const team *tm, int train, const float *in, float *out) {
    int c = L->c, rows = tm->n * L->h * L->w, all = net->batch * L->h * L->w, relu = L->act == NN_ACT_RELU;
    const float *P = net->params;
    float *mi = net->aux + L->aux_off, *run_mean = net->stats + L->mean_off, *run_var = net->stats + L->var_off;
    if (tm->T == 1) {
        nn_bn_forward(rows, c, in, P + L->w_off, P + L->b_off, run_mean, run_var, L->eps, L->momentum, train, relu, mi,
                      out);
        return;
    }
    double *s = net->dp_sums + (size_t)tm->t * 2 * net->dp_max_c, *s0 = net->dp_sums;
    nn_bn_sums(rows, c, in, NULL, NULL, NULL, NULL, s, s + net->dp_max_c);
#pragma omp barrier
    if (tm->t == 0) {
        dp_add_sums(net, tm->T, c);
        nn_bn_set_stats(all, c, s0, NULL, L->eps, L->momentum, NULL, NULL, mi, NULL);
    }
#pragma omp barrier
    nn_bn_sums(rows, c, in, NULL, NULL, mi, NULL, s, s + net->dp_max_c);
#pragma omp barrier
    if (tm->t == 0) {
        dp_add_sums(net, tm->T, c);
        nn_bn_set_stats(all, c, s0, s0 + net->dp_max_c, L->eps, L->momentum, run_mean, run_var, mi, mi + c);
    }
#pragma omp barrier
    nn_bn_normalise(rows, c, in, P + L->w_off, P + L->b_off, mi, relu, out);
}

static void bn_backward_team(nn_net *net, const nn_layer *L, const team *tm, const float *in, const float *out,
                             const float *dout, float *din, int acc) {
    int c = L->c, rows = tm->n * L->h * L->w, all = net->batch * L->h * L->w;
    const float *gamma = net->params + L->w_off, *mi = net->aux + L->aux_off;
    const float *relu_out = L->act == NN_ACT_RELU ? out : NULL;
    float *dgamma = tm->grads + L->w_off, *dbeta = tm->grads + L->b_off;
    if (tm->T == 1) {
        nn_bn_backward(rows, c, in, gamma, mi, relu_out, dout, dgamma, dbeta, din, acc);
        return;
    }
    double *s = net->dp_sums + (size_t)tm->t * 2 * net->dp_max_c, *s0 = net->dp_sums;
    float *k1 = net->dp_k, *k2 = net->dp_k + net->dp_max_c;
    nn_bn_sums(rows, c, in, dout, relu_out, mi, mi + c, s, s + net->dp_max_c);
#pragma omp barrier
    if (tm->t == 0) {
        dp_add_sums(net, tm->T, c);
        nn_bn_set_grads(all, c, s0, s0 + net->dp_max_c, dgamma, dbeta, k1, k2);
    }
#pragma omp barrier
    if (din) nn_bn_backward_din(rows, c, 0, c, in, gamma, mi, relu_out, dout, k1, k2, din, acc);
}

static void forward_layers(nn_net *net, const float *x, int train, const team *tm);

int nn_net_forward(nn_net *net, const float *x, int n, int train) {
    if (n < 1 || n > net->batch_cap)
        return emo_fail(EMO_EINVAL, "forward: batch of %d images, network sized for %d (nn_net_set_batch)", n,
                        net->batch_cap);
    int st, T = dp_threads(net, n, train);
    if (T == 1 && net->threads > net->scratch_threads && (st = grow_scratch(net))) return st;
    if (T > 1 && (st = dp_reserve(net, T))) return st;
    int caller_threads = omp_get_max_threads();
    /* bf16 primitives are built for the thread count they will run with */
    omp_set_num_threads(T > 1 ? 1 : net->threads);
    if (net->bf16 && (st = nn_bf16_prepare(net, n, T, train))) {
        omp_set_num_threads(caller_threads);
        return st;
    }
    omp_set_num_threads(net->threads); /* for the kernels' pragmas and dnnl_sgemm; restored below */
    net->batch = n;
    net->training = train;
    net->dp = T > 1 ? T : 0;
    /* Inference, and data-parallel training (packed once, read by every
     * thread), use the weights repacked for the fast kernels. */
    if ((!train || T > 1) && net->packed_version != net->param_version && (st = repack(net))) {
        omp_set_num_threads(caller_threads);
        return st;
    }
    if (T == 1) {
        team tm = {0, 1, 0, n, net->threads, net->scratch, net->grads};
        forward_layers(net, x, train, &tm);
    } else {
#pragma omp parallel num_threads(T)
        {
            int t = omp_get_thread_num(), lo = n * t / T, hi = n * (t + 1) / T;
            omp_set_num_threads(1); /* this thread's kernels (dnnl included) run alone */
            team tm = {t, T, lo, hi - lo, 1, net->dp_scratch + (size_t)t * net->dp_scratch_per, NULL};
            forward_layers(net, x, train, &tm);
        }
    }
    omp_set_num_threads(caller_threads);
    if ((st = nn_bf16_status(net))) return emo_fail(st, "forward: a bf16 convolution failed");
    return EMO_OK;
}

/* Runs every layer on the team's slice. Activations are (batch, h, w, c)
 * with the image outermost, so a slice is one contiguous run of each. */
static void forward_layers(nn_net *net, const float *x, int train, const team *tm) {
    int n = tm->n;
    size_t lo = (size_t)tm->lo;
    float *A = net->acts;
    const float *P = net->params;
    int prof = net->prof && tm->t == 0; /* process CPU time: covers every thread */
    double t0 = prof ? prof_clock() : 0;
    for (int i = 0; i < net->n_layers; i++) {
        if (prof && i) {
            double t = prof_clock();
            net->prof[2 * (i - 1)] += t - t0;
            t0 = t;
        }
        nn_layer *L = &net->layers[i];
        float *out = A + L->out_off + lo * per_image(L);
        size_t cnt = (size_t)n * per_image(L);
        if (L->kind == NN_INPUT) {
            memcpy(out, x + lo * per_image(L), cnt * sizeof *out);
            continue;
        }
        const nn_layer *I = &net->layers[L->in];
        const float *in = A + I->out_off + lo * per_image(I);
        switch (L->kind) {
        case NN_CONV: {
            if (nn_bf16_layer_on(net, i)) {
                nn_bf16_conv_forward(net, i, tm->lo, n, tm->t, tm->threads, train, in, out);
                break;
            }
            nn_conv_shape s = conv_shape(net, L, n);
            const float *packed =
                (!train || tm->T > 1) && net->packed_off[i] != SIZE_MAX ? net->packed + net->packed_off[i] : NULL;
            nn_conv_forward(&s, in, P + L->w_off, packed, L->bias ? P + L->b_off : NULL, L->act, out, tm->scratch,
                            tm->threads);
            break;
        }
        case NN_BN: bn_forward_team(net, L, tm, train, in, out); break;
        case NN_RELU:
            if (!L->fused) nn_relu_forward(cnt, in, out);
            break;
        case NN_SILU: nn_silu_forward(cnt, in, out); break;
        case NN_MAXPOOL: {
            nn_pool_shape s = pool_shape(net, L, n);
            nn_maxpool_forward(&s, in, out);
            break;
        }
        case NN_AVGPOOL: {
            nn_pool_shape s = pool_shape(net, L, n);
            nn_avgpool_forward(&s, in, out);
            break;
        }
        case NN_GAP: nn_gap_forward(n, I->h * I->w, L->c, in, out); break;
        case NN_DROPOUT: {
            /* One mask for the whole batch, drawn in image order by thread 0,
             * so it does not depend on the thread count. */
            size_t all = (size_t)net->batch * per_image(L), off = (size_t)tm->lo * per_image(L);
            if (!train || L->p <= 0) {
                memcpy(out, in, cnt * sizeof *out);
                break;
            }
            if (tm->T > 1) {
#pragma omp barrier
            }
            if (tm->t == 0)
                nn_dropout_forward(all, L->p, &net->rng, in - off, net->aux + L->aux_off, out - off);
            if (tm->T > 1) {
#pragma omp barrier
            }
            break;
        }
        case NN_LINEAR:
            nn_linear_forward(n, (int)per_image(I), L->c, in, P + L->w_off, L->bias ? P + L->b_off : NULL, out);
            break;
        case NN_ADD: {
            const float *b = A + net->layers[L->in2].out_off + lo * per_image(L);
            if (!train || L->p <= 0) {
#pragma omp parallel for simd schedule(static)
                for (size_t j = 0; j < cnt; j++) out[j] = in[j] + b[j];
                break;
            }
            /* Stochastic depth: image m keeps its residual branch (the
             * previous layer) with probability 1 - p, scaled by 1 / (1 - p)
             * so inference needs no change. The scales are drawn for the
             * whole batch in image order by thread 0, as dropout's masks. */
            float *scale = net->aux + L->aux_off;
            if (tm->T > 1) {
#pragma omp barrier
            }
            if (tm->t == 0)
                for (int m = 0; m < net->batch; m++) scale[m] = rng_uniform(&net->rng) < L->p ? 0 : 1 / (1 - L->p);
            if (tm->T > 1) {
#pragma omp barrier
            }
            size_t per = per_image(L);
            for (int m = 0; m < n; m++) {
                float sm = scale[tm->lo + m];
                const float *im = in + (size_t)m * per, *bm = b + (size_t)m * per;
                float *om = out + (size_t)m * per;
                for (size_t j = 0; j < per; j++) om[j] = sm * im[j] + bm[j];
            }
            break;
        }
        case NN_FLATTEN: memcpy(out, in, cnt * sizeof *out); break;
        default: break; /* the parser admits no other kind */
        }
    }
    if (prof) net->prof[2 * (net->n_layers - 1)] += prof_clock() - t0;
}

const float *nn_net_output(const nn_net *net) { return net->acts + net->layers[net->n_layers - 1].out_off; }

int nn_loss_softmax_ce(nn_net *net, const float *target, float smoothing, float *loss) {
    if (!net->batch) return emo_fail(EMO_ESTATE, "loss: no forward pass yet");
    float l = nn_softmax_ce(net->batch, net->n_out, nn_net_output(net), target, smoothing, net->probs,
                            net->dlogits);
    if (loss) *loss = l;
    if (!isfinite(l)) return emo_fail(EMO_ENUMERIC, "step %lld: loss is %g", net->step, (double)l);
    return EMO_OK;
}

int nn_loss_softmax_ce_labels(nn_net *net, const int *labels, float smoothing, float *loss) {
    if (!net->batch) return emo_fail(EMO_ESTATE, "loss: no forward pass yet");
    int n = net->batch, k = net->n_out;
    float *t = net->probs + (size_t)net->batch_cap * k; /* second half: targets */
    memset(t, 0, (size_t)n * k * sizeof *t);
    for (int i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= k)
            return emo_fail(EMO_EINVAL, "loss: label %d of image %d outside [0, %d)", labels[i], i, k);
        t[(size_t)i * k + labels[i]] = 1;
    }
    return nn_loss_softmax_ce(net, t, smoothing, loss);
}

void nn_net_zero_grad(nn_net *net) { memset(net->grads, 0, net->n_params * sizeof(float)); }

/* din = dout (or += when acc): add, flatten, inactive dropout. */
static void pass_grad(size_t cnt, const float *dout, float *din, int acc) {
#pragma omp parallel for simd schedule(static)
    for (size_t j = 0; j < cnt; j++) din[j] = acc ? din[j] + dout[j] : dout[j];
}

static void backward_layers(nn_net *net, int want_dx, const team *tm);

int nn_net_backward_dx(nn_net *net, float *dx) {
    int n = net->batch, T = net->dp ? net->dp : 1, st;
    if (!n) return emo_fail(EMO_ESTATE, "backward: no forward pass yet");
    if (T == 1 && net->threads > net->scratch_threads && (st = grow_scratch(net))) return st;
    int caller_threads = omp_get_max_threads();
    omp_set_num_threads(net->threads);
    if (T == 1) {
        team tm = {0, 1, 0, n, net->threads, net->scratch, net->grads};
        backward_layers(net, dx != NULL, &tm);
    } else {
#pragma omp parallel num_threads(T)
        {
            int t = omp_get_thread_num(), lo = n * t / T, hi = n * (t + 1) / T;
            omp_set_num_threads(1);
            float *grads = t ? net->dp_grads + (size_t)(t - 1) * net->n_params : net->grads;
            team tm = {t, T, lo, hi - lo, 1, net->dp_scratch + (size_t)t * net->dp_scratch_per, grads};
            backward_layers(net, dx != NULL, &tm);
#pragma omp barrier
            /* Each thread adds its share of the parameters' other gradient
             * blocks into net->grads, in thread order, and zeroes them. */
            size_t p0 = net->n_params * t / T, p1 = net->n_params * (t + 1) / T;
            for (int u = 1; u < T; u++) {
                float *g = net->dp_grads + (size_t)(u - 1) * net->n_params;
                for (size_t p = p0; p < p1; p++) {
                    net->grads[p] += g[p];
                    g[p] = 0;
                }
            }
        }
    }
    omp_set_num_threads(caller_threads);
    if ((st = nn_bf16_status(net))) return emo_fail(st, "backward: a bf16 convolution failed");
    if (dx) memcpy(dx, net->dacts + net->layers[0].out_off, (size_t)n * net->in_h * net->in_w * net->in_c * sizeof *dx);
    return EMO_OK;
}

static void backward_layers(nn_net *net, int want_dx, const team *tm) {
    int n = tm->n;
    size_t lo = (size_t)tm->lo;
    float *A = net->acts, *D = net->dacts, *G = tm->grads;
    const float *P = net->params;
    int prof = net->prof && tm->t == 0;
    double t0 = prof ? prof_clock() : 0;
    for (int i = net->n_layers - 1; i >= 1; i--) {
        if (prof && i < net->n_layers - 1) {
            double t = prof_clock();
            net->prof[2 * (i + 1) + 1] += t - t0;
            t0 = t;
        }
        nn_layer *L = &net->layers[i];
        const nn_layer *I = &net->layers[L->in];
        size_t lo_out = lo * per_image(L), lo_in = lo * per_image(I);
        float *dout = D + L->out_off + lo_out;
        const float *out = A + L->out_off + lo_out, *in = A + I->out_off + lo_in;
        /* The input layer's gradient is only formed when dx is wanted. */
        float *din = (L->in == 0 && !want_dx) ? NULL : D + I->out_off + lo_in;
        int acc = I->last_use != i;
        size_t cnt = (size_t)n * per_image(L);
        switch (L->kind) {
        case NN_CONV: {
            if (L->act == NN_ACT_RELU)
                for (size_t j = 0; j < cnt; j++) dout[j] = out[j] > 0 ? dout[j] : 0;
            if (nn_bf16_layer_on(net, i)) {
                if (L->bias) nn_conv_bias_backward(cnt / L->c, L->c, dout, G + L->b_off);
                nn_bf16_conv_backward(net, i, tm->lo, n, tm->t, tm->threads, dout, G + L->w_off, din, acc);
                break;
            }
            nn_conv_shape s = conv_shape(net, L, n);
            nn_conv_backward(&s, in, P + L->w_off, dout, G + L->w_off, L->bias ? G + L->b_off : NULL, din, acc,
                             tm->scratch, tm->threads);
            break;
        }
        case NN_BN: bn_backward_team(net, L, tm, in, out, dout, din, acc); break;
        case NN_LINEAR:
            nn_linear_backward(n, (int)per_image(I), L->c, in, P + L->w_off, dout, G + L->w_off,
                               L->bias ? G + L->b_off : NULL, din, acc);
            break;
        case NN_ADD: {
            const nn_layer *J = &net->layers[L->in2];
            if (din && net->training && L->p > 0) {
                const float *scale = net->aux + L->aux_off + tm->lo;
                size_t per = per_image(L);
                for (int m = 0; m < n; m++)
                    for (size_t j = 0; j < per; j++) {
                        size_t q = (size_t)m * per + j;
                        din[q] = acc ? din[q] + scale[m] * dout[q] : scale[m] * dout[q];
                    }
            } else if (din) pass_grad(cnt, dout, din, acc);
            if (L->in2 != 0 || want_dx)
                pass_grad(cnt, dout, D + J->out_off + lo_out, J->last_use != i || L->in2 == L->in);
            break;
        }
        default:
            if (!din) break;
            switch (L->kind) {
            case NN_RELU:
                if (!L->fused) nn_relu_backward(cnt, out, dout, din, acc);
                break;
            case NN_SILU: nn_silu_backward(cnt, in, dout, din, acc); break;
            case NN_MAXPOOL: {
                nn_pool_shape s = pool_shape(net, L, n);
                nn_maxpool_backward(&s, in, out, dout, din, acc);
                break;
            }
            case NN_AVGPOOL: {
                nn_pool_shape s = pool_shape(net, L, n);
                nn_avgpool_backward(&s, dout, din, acc);
                break;
            }
            case NN_GAP: nn_gap_backward(n, I->h * I->w, L->c, dout, din, acc); break;
            case NN_DROPOUT:
                if (net->training && L->p > 0) nn_dropout_backward(cnt, net->aux + L->aux_off + lo_out, dout, din, acc);
                else pass_grad(cnt, dout, din, acc);
                break;
            case NN_FLATTEN: pass_grad(cnt, dout, din, acc); break;
            default: break;
            }
        }
    }
    if (prof) net->prof[2 * 1 + 1] += prof_clock() - t0;
}
