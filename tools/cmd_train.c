/* cmd_train.c — `emo train`: trains an emotion CNN (models/NAME.cfg) on a
 * dataset (FER2013 CSV with optional FER+ votes, a folder tree or an index
 * CSV), keeps the best model on the validation split, writes a CSV log and
 * atomic checkpoints that resume bit for bit.
 *
 * DETERMINISM. Everything random derives from --seed: the initial weights,
 * the order of epoch e (emo_shuffle with emo_seed_mix(seed, e)), each row's
 * augmentation (emo_dataset_batch with a per-epoch seed, so a row's draw
 * depends on (seed, epoch, row) only), and dropout (the net's rng, saved in
 * the checkpoint). A checkpoint holds the epoch and the batch reached, the
 * running sums of the epoch, the history and the optimiser state, so a run
 * killed and resumed with the same thread count ends with the same weights as
 * one that never stopped.
 *
 * CHECKPOINT FILE ("EMOT", docs/TRAINING.md): magic, version, the training
 * settings and progress written field by field, then the engine's own
 * checkpoint (nn_checkpoint_save: config, weights, optimiser moments, bn
 * statistics) as a length-prefixed blob, then a CRC-32 of everything before.
 * Written to a temporary name and renamed: a crash or a full disk while
 * saving leaves the previous checkpoint as it was. */
#include "cli.h"
#include "commands.h"
#include "nn/nn.h"
#include "progress.h"
#include "train_util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define TRAIN_MAGIC "EMOT"
#define TRAIN_VERSION 3u /* 3 added mixing, restarts, averaging, class weights; 2 the teacher; 1 and 2 are still read */
#define PATH_CAP 1024
#define UNSET_INT INT_MIN

/* Settings fixed for the life of a run (saved in the checkpoint). */
typedef struct train_cfg {
    char data[PATH_CAP], votes[PATH_CAP], classes[512], out[PATH_CAP], log[PATH_CAP], ckpt[PATH_CAP];
    char augment[256], val_split[32], net_origin[PATH_CAP];
    int labels; /* emo_label_mode */
    int epochs, batch, max_rows, early_stop, freeze, checkpoint_every;
    int optimizer; /* 0 sgd, 1 nesterov, 2 adam, 3 adamw */
    int schedule;  /* nn_sched_kind */
    float lr, min_lr, warmup, momentum, weight_decay, smoothing, clip;
    float mean, std;
    uint64_t seed;
    char teacher[PATH_CAP]; /* distillation: a .emo whose softened outputs join the targets */
    float distill, temperature; /* weight of the teacher's distribution in the target; its softmax temperature */
    /* version 3: issue 14's techniques (defaults = off, as older checkpoints ran) */
    char mix[128];             /* nn_mix_parse spec: "none", "mixup=0.2", "cutmix=1,p=0.5" */
    float restart_period;      /* cosine-restarts: first cycle in epochs */
    float restart_mult;        /* its growth per cycle, >= 1 */
    float ema;                 /* EMA decay of the weights, 0 = off */
    int swa_epochs;            /* SWA: average the weights at the end of each of the last N epochs, 0 = off */
    char class_weights[64];    /* "none", "balanced", "effective=BETA" */
} train_cfg;

typedef struct epoch_rec {
    int epoch;
    long long step;
    float lr, train_loss, train_acc, val_loss, val_acc, val_f1;
    double seconds; /* training time since the run began, at the end of this epoch */
} epoch_rec;

/* Progress (saved in the checkpoint). */
typedef struct train_state {
    int epoch, batch_in_epoch; /* next batch to run */
    double loss_sum;           /* sums over the batches of this epoch run so far */
    long long correct, seen;
    float best_acc;
    int best_epoch, bad_epochs, finished;
    double elapsed;
    int n_hist;
    epoch_rec *hist;
} train_state;

static const char *const optim_names[] = {"sgd", "nesterov", "adam", "adamw"};
static const char *const sched_names[] = {"const", "cosine", "step", "cosine-restarts"};
static const char *const label_names[] = {"fer2013", "ferplus-majority", "ferplus-soft"};

/* Ctrl-C (SIGINT) and SIGTERM are blocked in every thread of a run (the
 * library's OpenMP and oneDNN threads are created after the block and
 * inherit it) and polled once per training step: a signal never interrupts
 * the computation, the stop is handled between steps. Asynchronous delivery
 * to a computing thread coincided with heap-corruption aborts in oneDNN. */
static sigset_t stop_signals;

static void block_stop_signals(void) {
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
}

/* Takes a pending SIGINT/SIGTERM; returns it, or 0 if none. */
static int stop_requested(void) {
    static int seen;
    if (seen) return seen;
    struct timespec zero = {0, 0};
    int sig = sigtimedwait(&stop_signals, NULL, &zero);
    if (sig > 0) seen = sig;
    return seen;
}

static int name_index(const char *s, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void copy_str(char *dst, size_t cap, const char *s) { snprintf(dst, cap, "%s", s ? s : ""); }

/* ---- checkpoint file --------------------------------------------------------- */

#define PUT(b, v) emo_buf_put((b), &(v), sizeof(v))
static void put_str(emo_buf *b, const char *s) {
    uint32_t n = (uint32_t)strlen(s);
    PUT(b, n);
    emo_buf_put(b, s, n);
}

typedef struct rd {
    const uint8_t *p;
    size_t n, at;
    int bad;
} rd;

static void get(rd *r, void *d, size_t n) {
    if (n == 0) return; /* d may be NULL then (an empty block) */
    if (r->bad || n > r->n - r->at) {
        r->bad = 1;
        memset(d, 0, n);
        return;
    }
    memcpy(d, r->p + r->at, n);
    r->at += n;
}
#define GET(r, v) get((r), &(v), sizeof(v))
static void get_str(rd *r, char *s, size_t cap) {
    uint32_t n = 0;
    GET(r, n);
    if (n >= cap) r->bad = 1;
    if (r->bad) {
        s[0] = 0;
        return;
    }
    get(r, s, n);
    s[r->bad ? 0 : n] = 0;
}

static void put_cfg(emo_buf *b, const train_cfg *c) {
    put_str(b, c->data);
    put_str(b, c->votes);
    put_str(b, c->classes);
    put_str(b, c->out);
    put_str(b, c->log);
    put_str(b, c->augment);
    put_str(b, c->val_split);
    put_str(b, c->net_origin);
    int32_t ints[] = {c->labels, c->epochs, c->batch, c->max_rows, c->early_stop, c->freeze, c->checkpoint_every,
                      c->optimizer, c->schedule};
    emo_buf_put(b, ints, sizeof ints);
    float fl[] = {c->lr, c->min_lr, c->warmup, c->momentum, c->weight_decay, c->smoothing, c->clip, c->mean, c->std};
    emo_buf_put(b, fl, sizeof fl);
    PUT(b, c->seed);
    put_str(b, c->teacher);
    PUT(b, c->distill);
    PUT(b, c->temperature);
    put_str(b, c->mix);
    float f3[] = {c->restart_period, c->restart_mult, c->ema};
    emo_buf_put(b, f3, sizeof f3);
    int32_t swa = c->swa_epochs;
    PUT(b, swa);
    put_str(b, c->class_weights);
}

static void get_cfg(rd *r, train_cfg *c, uint32_t version) {
    get_str(r, c->data, sizeof c->data);
    get_str(r, c->votes, sizeof c->votes);
    get_str(r, c->classes, sizeof c->classes);
    get_str(r, c->out, sizeof c->out);
    get_str(r, c->log, sizeof c->log);
    get_str(r, c->augment, sizeof c->augment);
    get_str(r, c->val_split, sizeof c->val_split);
    get_str(r, c->net_origin, sizeof c->net_origin);
    int32_t ints[9];
    get(r, ints, sizeof ints);
    c->labels = ints[0], c->epochs = ints[1], c->batch = ints[2], c->max_rows = ints[3], c->early_stop = ints[4];
    c->freeze = ints[5], c->checkpoint_every = ints[6], c->optimizer = ints[7], c->schedule = ints[8];
    float fl[9];
    get(r, fl, sizeof fl);
    c->lr = fl[0], c->min_lr = fl[1], c->warmup = fl[2], c->momentum = fl[3], c->weight_decay = fl[4];
    c->smoothing = fl[5], c->clip = fl[6], c->mean = fl[7], c->std = fl[8];
    GET(r, c->seed);
    if (version >= 2) {
        get_str(r, c->teacher, sizeof c->teacher);
        GET(r, c->distill);
        GET(r, c->temperature);
    }
    copy_str(c->mix, sizeof c->mix, "none");
    copy_str(c->class_weights, sizeof c->class_weights, "none");
    c->restart_period = 0, c->restart_mult = 1, c->ema = 0, c->swa_epochs = 0;
    if (version >= 3) {
        get_str(r, c->mix, sizeof c->mix);
        float f3[3];
        get(r, f3, sizeof f3);
        c->restart_period = f3[0], c->restart_mult = f3[1], c->ema = f3[2];
        int32_t swa;
        GET(r, swa);
        c->swa_epochs = swa;
        get_str(r, c->class_weights, sizeof c->class_weights);
    }
}

/* Saves cfg, state, the weight average (avg may be NULL or empty) and the
 * engine checkpoint of net/opt into one file, atomically. */
static int checkpoint_save(const char *path, const train_cfg *c, const train_state *s, const nn_net *net,
                           const nn_optim *opt, const nn_avg *avg) {
    char tmp[PATH_CAP + 16];
    snprintf(tmp, sizeof tmp, "%s.nn.tmp", path);
    int st = nn_checkpoint_save(net, opt, tmp);
    if (st) return emo_fail_prefix(st, "%s: cannot save checkpoint", path);
    uint8_t *nnb = NULL;
    size_t nnn = 0;
    st = emo_read_file(tmp, 0, &nnb, &nnn);
    unlink(tmp);
    if (st) return st;
    emo_buf b = {0};
    emo_buf_put(&b, TRAIN_MAGIC, 4);
    uint32_t v = TRAIN_VERSION;
    PUT(&b, v);
    put_cfg(&b, c);
    int32_t ints[] = {s->epoch, s->batch_in_epoch, s->best_epoch, s->bad_epochs, s->finished, s->n_hist};
    emo_buf_put(&b, ints, sizeof ints);
    PUT(&b, s->loss_sum);
    int64_t cs[] = {s->correct, s->seen};
    emo_buf_put(&b, cs, sizeof cs);
    PUT(&b, s->best_acc);
    PUT(&b, s->elapsed);
    for (int i = 0; i < s->n_hist; i++) {
        const epoch_rec *h = &s->hist[i];
        int32_t e = h->epoch;
        int64_t stp = h->step;
        float f[] = {h->lr, h->train_loss, h->train_acc, h->val_loss, h->val_acc, h->val_f1};
        PUT(&b, e);
        PUT(&b, stp);
        emo_buf_put(&b, f, sizeof f);
        PUT(&b, h->seconds);
    }
    /* version 3: the weight average, count then (n_params + n_stats) floats (0 floats when off) */
    int64_t avg_count = avg && avg->w ? avg->count : 0;
    uint64_t avg_n = avg && avg->w ? avg->n_params + avg->n_stats : 0;
    PUT(&b, avg_count);
    PUT(&b, avg_n);
    if (avg_n) emo_buf_put(&b, avg->w, avg_n * sizeof(float));
    uint64_t len = nnn;
    PUT(&b, len);
    emo_buf_put(&b, nnb, nnn);
    free(nnb);
    uint32_t crc = b.oom ? 0 : (uint32_t)crc32(0L, b.p, (uInt)b.n);
    PUT(&b, crc);
    if (b.oom) st = emo_fail(EMO_ENOMEM, "%s: out of memory", path);
    else st = emo_write_file_atomic(path, b.p, b.n);
    free(b.p);
    return st;
}

/* Parses a checkpoint's bytes (read from path; freed here). avg (may be
 * NULL: dropped) gets the weight average when the run keeps one. */
static int checkpoint_parse(const char *path, uint8_t *bytes, size_t size, train_cfg *c, train_state *s, nn_net **net,
                            nn_optim *opt, nn_avg *avg) {
    int st;
    if (size < 12 || memcmp(bytes, TRAIN_MAGIC, 4) != 0) {
        free(bytes);
        return emo_fail(EMO_EFORMAT, "%s: not an emo training checkpoint (bad magic, expected %s)", path,
                        TRAIN_MAGIC);
    }
    uint32_t v, crc;
    memcpy(&v, bytes + 4, 4);
    memcpy(&crc, bytes + size - 4, 4);
    if (v < 1 || v > TRAIN_VERSION) {
        free(bytes);
        return emo_fail(EMO_EUNSUPPORTED, "%s: checkpoint version %u, this build reads versions 1 to %u", path, v,
                        TRAIN_VERSION);
    }
    if (crc != (uint32_t)crc32(0L, bytes, (uInt)(size - 4))) {
        free(bytes);
        return emo_fail(EMO_EFORMAT, "%s: checksum mismatch: the checkpoint is corrupted or truncated", path);
    }
    rd r = {bytes, size - 4, 8, 0};
    get_cfg(&r, c, v);
    int32_t ints[6];
    get(&r, ints, sizeof ints);
    s->epoch = ints[0], s->batch_in_epoch = ints[1], s->best_epoch = ints[2], s->bad_epochs = ints[3];
    s->finished = ints[4], s->n_hist = ints[5];
    GET(&r, s->loss_sum);
    int64_t cs[2];
    get(&r, cs, sizeof cs);
    s->correct = cs[0], s->seen = cs[1];
    GET(&r, s->best_acc);
    GET(&r, s->elapsed);
    const size_t rec_bytes = 4 + 8 + 6 * 4 + 8;
    if (r.bad || s->n_hist < 0 || (size_t)s->n_hist > (r.n - r.at) / rec_bytes || c->epochs < 1 || c->batch < 1 ||
        c->batch > NN_MAX_BATCH || s->epoch < 0 || s->batch_in_epoch < 0 || c->optimizer < 0 || c->optimizer > 3 ||
        c->schedule < 0 || c->schedule > 3 || c->labels < 0 || c->labels > 2 || !(c->std > 0) ||
        (c->teacher[0] && !(c->distill > 0 && c->distill <= 1 && c->temperature > 0)) || !(c->restart_period >= 0) ||
        !(c->restart_mult >= 1) || !(c->ema >= 0 && c->ema < 1) || c->swa_epochs < 0) {
        free(bytes);
        return emo_fail(EMO_EFORMAT, "%s: malformed training state", path);
    }
    s->hist = calloc((size_t)s->n_hist + 1, sizeof *s->hist);
    if (!s->hist) {
        free(bytes);
        return emo_fail(EMO_ENOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < s->n_hist; i++) {
        epoch_rec *h = &s->hist[i];
        int32_t e;
        int64_t stp;
        float f[6];
        GET(&r, e);
        GET(&r, stp);
        get(&r, f, sizeof f);
        GET(&r, h->seconds);
        h->epoch = e, h->step = stp, h->lr = f[0], h->train_loss = f[1], h->train_acc = f[2];
        h->val_loss = f[3], h->val_acc = f[4], h->val_f1 = f[5];
    }
    int64_t avg_count = 0;
    uint64_t avg_n = 0;
    float *avg_w = NULL;
    if (v >= 3) {
        GET(&r, avg_count);
        GET(&r, avg_n);
        if (r.bad || avg_count < 0 || avg_n > (r.n - r.at) / sizeof(float)) {
            free(bytes);
            return emo_fail(EMO_EFORMAT, "%s: malformed training state (weight average)", path);
        }
        if (avg_n && !(avg_w = malloc(avg_n * sizeof *avg_w))) {
            free(bytes);
            return emo_fail(EMO_ENOMEM, "%s: out of memory", path);
        }
        get(&r, avg_w, avg_n * sizeof *avg_w);
    }
    uint64_t len = 0;
    GET(&r, len);
    if (r.bad || len != r.n - r.at) {
        free(bytes);
        free(avg_w);
        return emo_fail(EMO_EFORMAT, "%s: malformed training state (network part)", path);
    }
    /* The engine reads its checkpoints from files: hand it the blob through one. */
    char tmp[PATH_CAP + 32];
    snprintf(tmp, sizeof tmp, "%s.nn-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(tmp, sizeof tmp, "/tmp/emo-ckpt-XXXXXX");
        fd = mkstemp(tmp);
    }
    if (fd < 0) {
        int e = errno;
        free(bytes);
        free(avg_w);
        return emo_fail(EMO_EIO, "%s: cannot create a temporary file: %s", path, strerror(e));
    }
    const uint8_t *p = r.p + r.at;
    size_t left = (size_t)len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        p += w;
        left -= (size_t)w;
    }
    close(fd);
    free(bytes);
    if (left) {
        unlink(tmp);
        free(avg_w);
        return emo_fail(EMO_EIO, "%s: cannot write a temporary file (disk full?)", path);
    }
    st = nn_checkpoint_load(net, opt, tmp);
    unlink(tmp);
    if (st) {
        free(avg_w);
        return emo_fail_prefix(st, "%s", path);
    }
    size_t want = (*net)->n_params + (*net)->n_stats;
    if (avg_n && avg_n != want) {
        free(avg_w);
        nn_net_free(*net);
        *net = NULL;
        return emo_fail(EMO_EFORMAT, "%s: the weight average holds %llu floats, the network %zu", path,
                        (unsigned long long)avg_n, want);
    }
    if (avg && avg_n) {
        memset(avg, 0, sizeof *avg);
        avg->w = avg_w;
        avg->count = avg_count;
        avg->decay = c->ema;
        avg->n_params = (*net)->n_params;
        avg->n_stats = (*net)->n_stats;
    } else free(avg_w);
    return EMO_OK;
}

/* ---- network set-up ------------------------------------------------------------ */

/* Rebuilds net with its last layer (linear) giving k outputs, new weights. */
static int resize_head(nn_net **net, int k, const char *origin) {
    nn_net *n0 = *net;
    if (n0->n_out == k) return EMO_OK;
    const nn_layer *last = &n0->layers[n0->n_layers - 1];
    if (last->kind != NN_LINEAR)
        return emo_fail(EMO_EINVAL, "%s: the network has %d outputs and its last layer is not linear, so it cannot "
                                    "be given %d classes; end it with `linear out=%d`",
                        origin, n0->n_out, k, k);
    char *cfg = nn_net_to_cfg(n0);
    if (!cfg) return emo_fail(EMO_ENOMEM, "out of memory");
    size_t len = strlen(cfg);
    while (len && cfg[len - 1] == '\n') cfg[--len] = 0;
    char *ln = strrchr(cfg, '\n');
    ln = ln ? ln + 1 : cfg;
    char *o = strstr(ln, " out=");
    if (!o) {
        free(cfg);
        return emo_fail(EMO_EINVAL, "%s: cannot find the last layer's out=", origin);
    }
    char *rest = o + 5;
    while (*rest >= '0' && *rest <= '9') rest++;
    char *nc = malloc(len + 32);
    if (!nc) {
        free(cfg);
        return emo_fail(EMO_ENOMEM, "out of memory");
    }
    snprintf(nc, len + 32, "%.*s out=%d%s\n", (int)(o - cfg), cfg, k, rest);
    free(cfg);
    nn_net *n1;
    int st = nn_net_from_cfg(&n1, nc, origin);
    free(nc);
    if (st) return st;
    nn_net_free(n0);
    *net = n1;
    return EMO_OK;
}

/* Copies every parameter tensor of src into dst except the last layer's,
 * whose rows are copied class by class where the class names match. */
static void copy_weights(nn_net *dst, const nn_net *src, const nn_model_meta *meta, const emo_dataset *ds) {
    int last = dst->n_layers - 1;
    for (int i = 0; i < dst->n_tensors && i < src->n_tensors; i++) {
        const nn_tensor *a = &dst->tensors[i], *b = &src->tensors[i];
        if (strcmp(a->name, b->name) != 0 || a->n != b->n || atoi(a->name) == last) continue;
        memcpy(dst->params + a->off, src->params + b->off, a->n * sizeof(float));
    }
    if (dst->n_stats == src->n_stats) memcpy(dst->stats, src->stats, dst->n_stats * sizeof(float));
    const nn_layer *L = &dst->layers[last], *S = &src->layers[src->n_layers - 1];
    if (L->kind != NN_LINEAR || S->kind != NN_LINEAR) return;
    const nn_layer *I = &dst->layers[L->in];
    size_t cin = (size_t)I->h * I->w * I->c;
    const nn_layer *SI = &src->layers[S->in];
    if (cin != (size_t)SI->h * SI->w * SI->c) return;
    for (int c = 0; c < ds->nclasses && c < L->c; c++)
        for (int j = 0; j < meta->n_classes; j++)
            if (strcmp(ds->classes[c], meta->class_names[j]) == 0) {
                memcpy(dst->params + L->w_off + c * cin, src->params + S->w_off + j * cin, cin * sizeof(float));
                if (L->bias && S->bias) dst->params[L->b_off + c] = src->params[S->b_off + j];
            }
}

static int checkpoint_load(const char *path, train_cfg *c, train_state *s, nn_net **net, nn_optim *opt,
                           nn_avg *avg) {
    uint8_t *bytes = NULL;
    size_t size = 0;
    int st = emo_read_file(path, 0, &bytes, &size);
    return st ? st : checkpoint_parse(path, bytes, size, c, s, net, opt, avg);
}

/* --init from an emo train checkpoint (its bytes, freed here): its network
 * as trained, batch norm unfolded (fine-tuning keeps it), input
 * normalisation from its settings, and the class names of the model file
 * its run writes (none if that is unreadable: the classifier then starts
 * afresh). */
static int init_source_checkpoint(const char *path, uint8_t *ckpt, size_t ckpt_size, nn_net **src,
                                  nn_model_meta *meta) {
    train_cfg sc;
    train_state ss = {0};
    nn_optim so;
    int st = checkpoint_parse(path, ckpt, ckpt_size, &sc, &ss, src, &so, NULL);
    free(ss.hist);
    if (st) return st;
    uint8_t *bytes;
    size_t size;
    nn_net *m = NULL;
    if (!emo_read_file(sc.out, 0, &bytes, &size)) {
        if (nn_model_read(&m, meta, bytes, size, sc.out)) meta->n_classes = 0;
        nn_net_free(m);
        free(bytes);
    }
    emo_clear_error();
    meta->mean = sc.mean;
    meta->std = sc.std;
    return EMO_OK;
}

/* Floats at the front of net->params that --freeze N keeps fixed: the
 * parameters of every layer before the (N+1)-th conv/linear layer. */
static int frozen_prefix(const nn_net *net, int n, size_t *floats) {
    *floats = 0;
    if (n <= 0) return EMO_OK;
    int seen = 0, total = 0;
    for (int i = 0; i < net->n_layers; i++) total += net->layers[i].kind == NN_CONV || net->layers[i].kind == NN_LINEAR;
    if (n >= total)
        return emo_fail(EMO_EINVAL, "--freeze %d: the network has %d conv/linear layers; at most %d can be frozen", n,
                        total, total - 1);
    for (int i = 0; i < net->n_layers; i++) {
        const nn_layer *L = &net->layers[i];
        if (L->kind == NN_CONV || L->kind == NN_LINEAR) {
            if (seen == n) return EMO_OK;
            seen++;
        }
        for (int t = 0; t < net->n_tensors; t++)
            if (atoi(net->tensors[t].name) == i) *floats = net->tensors[t].off + net->tensors[t].n;
    }
    return EMO_OK;
}

/* ---- distillation ------------------------------------------------------------ */

/* A trained model whose softened outputs are mixed into the targets. */
typedef struct teacher {
    nn_net *net;           /* inference network (bn folded) */
    nn_model_meta meta;    /* its classes and pixel normalisation */
    int map[NN_MAX_CLASSES]; /* student class of each teacher class, -1 = none */
    float *x;              /* (batch, 48, 48) input in the teacher's normalisation */
} teacher;

static void teacher_close(teacher *t) {
    nn_net_free(t->net);
    free(t->x);
    memset(t, 0, sizeof *t);
}

static int teacher_open(teacher *t, const char *path, const emo_dataset *ds, int batch, int threads,
                        nn_precision prec) {
    uint8_t *bytes;
    size_t size;
    int st = emo_read_file(path, 0, &bytes, &size);
    if (st) return st;
    st = nn_model_read(&t->net, &t->meta, bytes, size, path);
    free(bytes);
    if (st) return st;
    if (t->net->in_h != EMO_DATA_SIDE || t->net->in_w != EMO_DATA_SIDE || t->net->in_c != 1)
        return emo_fail(EMO_EUNSUPPORTED, "%s: the teacher takes %dx%dx%d inputs, not 48x48 grey", path,
                        t->net->in_w, t->net->in_h, t->net->in_c);
    int mapped = 0;
    for (int j = 0; j < t->meta.n_classes; j++) {
        t->map[j] = -1;
        for (int k = 0; k < ds->nclasses; k++)
            if (strcmp(t->meta.class_names[j], ds->classes[k]) == 0) t->map[j] = k;
        mapped += t->map[j] >= 0;
    }
    if (!mapped) return emo_fail(EMO_EINVAL, "%s: the teacher has none of the classes being trained", path);
    nn_net_set_threads(t->net, threads);
    if ((st = nn_net_set_precision(t->net, prec)) || (st = nn_net_set_batch(t->net, batch))) return st;
    t->x = malloc((size_t)batch * EMO_DATA_PIXELS * sizeof *t->x);
    if (!t->x) return emo_fail(EMO_ENOMEM, "%s: out of memory", path);
    return EMO_OK;
}

/* target (n, K) = (1 - a) target + a q, q the teacher's softmax(logits / T)
 * over the classes it shares with the student, renormalised. x (n, 48, 48)
 * is in the student's normalisation (mean, std). */
static int teacher_mix(teacher *t, const float *x, int n, const train_cfg *c, float *target, int K) {
    float a = c->std / t->meta.std, b = (c->mean - t->meta.mean) / t->meta.std;
    for (size_t i = 0; i < (size_t)n * EMO_DATA_PIXELS; i++) t->x[i] = x[i] * a + b;
    int st = nn_net_forward(t->net, t->x, n, 0);
    if (st) return st;
    const float *lo = nn_net_output(t->net);
    int tk = t->meta.n_classes;
    for (int i = 0; i < n; i++) {
        const float *z = lo + (size_t)i * tk;
        float mx = -INFINITY, q[NN_MAX_CLASSES] = {0}, sum = 0;
        for (int j = 0; j < tk; j++)
            if (t->map[j] >= 0 && z[j] > mx) mx = z[j];
        for (int j = 0; j < tk; j++)
            if (t->map[j] >= 0) {
                float e = expf((z[j] - mx) / c->temperature);
                q[t->map[j]] += e;
                sum += e;
            }
        float *tg = target + (size_t)i * K;
        for (int k = 0; k < K; k++) tg[k] = (1 - c->distill) * tg[k] + c->distill * q[k] / sum;
    }
    return EMO_OK;
}

/* ---- class weights ----------------------------------------------------------------- */

/* "none" (*beta = -1), "balanced" (0) or "effective=BETA" (0 < BETA < 1);
 * -1 if malformed. beta may be NULL. */
static int parse_class_weights(const char *spec, double *beta) {
    double b = -1;
    if (strcmp(spec, "balanced") == 0) b = 0;
    else if (strncmp(spec, "effective=", 10) == 0) {
        char *end;
        b = strtod(spec + 10, &end);
        if (end == spec + 10 || *end || !(b > 0 && b < 1)) return -1;
    } else if (strcmp(spec, "none") != 0) return -1;
    if (beta) *beta = b;
    return 0;
}

/* ---- logging --------------------------------------------------------------------- */

static int write_log(const char *path, const train_state *s) {
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f) return emo_fail(EMO_ENOMEM, "%s: out of memory", path);
    fprintf(f, "epoch,step,lr,train_loss,train_acc,val_loss,val_acc,val_macro_f1,seconds\n");
    for (int i = 0; i < s->n_hist; i++) {
        const epoch_rec *h = &s->hist[i];
        fprintf(f, "%d,%lld,%.6g,%.5f,%.5f,%.5f,%.5f,%.5f,%.1f\n", h->epoch, h->step, h->lr, h->train_loss,
                h->train_acc, h->val_loss, h->val_acc, h->val_f1, h->seconds);
    }
    fclose(f);
    int st = emo_write_file_atomic(path, text, size);
    free(text);
    return st;
}

static void warn_cb(void *user, const char *msg) {
    (void)user;
    fprintf(stderr, "emo train: warning: %s\n", msg);
}

static int mkdirs(const char *path) {
    char tmp[PATH_CAP];
    copy_str(tmp, sizeof tmp, path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    return 0;
}

/* 0 if the folder that will hold path exists and is writable. */
static int check_dir_of(const char *what, const char *path) {
    char dir[PATH_CAP];
    copy_str(dir, sizeof dir, path);
    char *slash = strrchr(dir, '/');
    if (!slash) copy_str(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    if (access(dir, W_OK) != 0) {
        fprintf(stderr, "emo train: %s %s: cannot write into %s: %s\n", what, path, dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- validation ------------------------------------------------------------------ */

/* Eval-mode pass over rows: mean loss against the training targets (no
 * smoothing), accuracy and macro-F1 against the hard labels. */
static int validate(nn_net *net, const emo_dataset *ds, const int *rows, int n, int batch, const train_cfg *c,
                    float *x, int *y, float *soft, float *loss, float *acc, float *f1) {
    int k = ds->nclasses;
    long long *conf = calloc((size_t)k * k, sizeof *conf);
    if (!conf) return emo_fail(EMO_ENOMEM, "out of memory");
    double lsum = 0;
    int st = EMO_OK;
    for (int b = 0; b < n && !st; b += batch) {
        int m = n - b < batch ? n - b : batch;
        if ((st = emo_dataset_batch(ds, rows + b, m, NULL, 0, c->mean, c->std, x, y, soft, 0))) break;
        if ((st = nn_net_forward(net, x, m, 0))) break;
        float l;
        if ((st = nn_loss_softmax_ce(net, soft, 0, &l))) break;
        lsum += (double)l * m;
        const float *lo = nn_net_output(net);
        for (int i = 0; i < m; i++) conf[(size_t)y[i] * k + train_argmax(lo + (size_t)i * k, k)]++;
    }
    if (!st) {
        train_metrics mt;
        train_metrics_compute(conf, k, &mt);
        *loss = (float)(lsum / (n ? n : 1));
        *acc = (float)mt.accuracy;
        *f1 = (float)mt.macro_f1;
    }
    free(conf);
    return st;
}

/* ---- the command ----------------------------------------------------------------- */

static const char *about =
    "Trains an emotion classifier and writes the best model on the validation split to --out (.emo).\n"
    "DATA is a FER2013 CSV (.csv or .csv.gz; --ferplus adds the FER+ votes), a folder per class\n"
    "(ROOT/happy/*.jpg, optionally under train/ val/ test/), or an index CSV (path,label[,split]).\n"
    "Each epoch prints one summary line; progress goes to stderr. A checkpoint is written after\n"
    "every epoch (and every --checkpoint-every steps); `emo train --resume CKPT` continues a run\n"
    "where it stopped, with the same result as an uninterrupted run. Ctrl-C saves and stops.\n"
    "See docs/TRAINING.md.";

int cmd_train(int argc, char **argv) {
    const char *data = NULL, *ferplus = NULL, *labels = NULL, *classes = NULL, *netcfg = NULL, *out = NULL;
    const char *optimizer = NULL, *schedule = NULL, *resume = NULL, *init = NULL, *log = NULL, *ckpt = NULL;
    const char *precision = "auto";
    const char *augment = NULL, *val_split = NULL, *teacher_path = NULL, *mix = NULL, *class_weights = NULL;
    int epochs = UNSET_INT, batch = UNSET_INT, seed = UNSET_INT, threads = 1, every = UNSET_INT;
    int early = UNSET_INT, freeze = UNSET_INT, max_rows = UNSET_INT;
    float lr = NAN, wd = NAN, smoothing = NAN, warmup = NAN, min_lr = NAN, momentum = NAN, clip = NAN;
    float distill = NAN, temperature = NAN, restart_period = NAN, restart_mult = NAN, ema = NAN;
    int swa_epochs = UNSET_INT;
    bool quiet = false;
    const cli_opt opts[] = {
        {"data", 'd', "PATH", "training data: FER2013 CSV(.gz), class folders, or index CSV", .out_str = &data},
        {"ferplus", 0, "CSV", "FER+ votes file (fer2013new.csv) aligned with the FER2013 CSV", .out_str = &ferplus},
        {"labels", 0, "MODE", "fer2013 | ferplus-majority | ferplus-soft (default: ferplus-soft with --ferplus)",
         .out_str = &labels},
        {"classes", 0, "LIST", "classes in output order, e.g. happy,sad,neutral (default: the 7 FER2013)",
         .out_str = &classes},
        {"net", 0, "CFG", "network config (default models/vgg-s.cfg)", .out_str = &netcfg},
        {"out", 'o', "MODEL", "where to write the best model (.emo)", .out_str = &out},
        {"epochs", 'e', "N", "epochs (default 30)", .out_int = &epochs},
        {"batch", 'b', "N", "batch size (default 64)", .out_int = &batch},
        {"lr", 0, "F", "peak learning rate (default 0.002 adamw/adam, 0.05 sgd/nesterov)", .out_float = &lr},
        {"min-lr", 0, "F", "final learning rate of the cosine schedule (default lr/100)", .out_float = &min_lr},
        {"warmup", 0, "EPOCHS", "linear warm-up length in epochs, may be fractional (default 1)",
         .out_float = &warmup},
        {"optimizer", 0, "NAME", "adamw | adam | sgd | nesterov (default adamw)", .out_str = &optimizer},
        {"momentum", 0, "F", "SGD momentum (default 0.9)", .out_float = &momentum},
        {"schedule", 0, "NAME",
         "cosine | cosine-restarts | const | step (default cosine; step: x0.1 at 1/3 and 2/3)", .out_str = &schedule},
        {"restart-period", 0, "EPOCHS", "cosine-restarts: first cycle's length (default: a third of the epochs "
                                        "after warm-up)", .out_float = &restart_period},
        {"restart-mult", 0, "F", "cosine-restarts: each cycle F times the previous, 1..10 (default 1)",
         .out_float = &restart_mult},
        {"weight-decay", 0, "F", "weight decay (default 0.05 adamw, 5e-4 otherwise)", .out_float = &wd},
        {"label-smoothing", 0, "F", "label smoothing (default 0.1 for hard labels, 0 for soft)",
         .out_float = &smoothing},
        {"clip", 0, "F", "clip the gradient's global norm to F (default 5; 0 = off)", .out_float = &clip},
        {"augment", 0, "SPEC", "default | none | key=value,... (shift, flip, rotate, scale, brightness, contrast, erase)",
         .out_str = &augment},
        {"mix", 0, "SPEC", "mix pairs of faces and their targets: none | mixup=ALPHA | cutmix=ALPHA, or both, "
                           "[,p=P] (default none)", .out_str = &mix},
        {"class-weights", 0, "SPEC", "weight the loss per class: none | balanced | effective=BETA (default none)",
         .out_str = &class_weights},
        {"ema", 0, "DECAY", "keep an exponential moving average of the weights, e.g. 0.999; it is validated "
                            "and written", .out_float = &ema},
        {"swa-epochs", 0, "N", "average the weights of the last N epochs (SWA); the average is validated and "
                               "written", .out_int = &swa_epochs},
        {"val", 0, "SPLIT", "validation split: val (= PublicTest) | test | train (default val)",
         .out_str = &val_split},
        {"max-rows", 0, "N", "use only the first N training rows (quick runs)", .out_int = &max_rows},
        {"seed", 0, "N", "random seed (default 1)", .out_int = &seed},
        {"threads", 't', "N", "threads (default 1; 0 = all cores)", .out_int = &threads},
        {"checkpoint", 0, "PATH", "checkpoint file (default ~/.cache/emo/NAME.ckpt, NAME from --out)",
         .out_str = &ckpt},
        {"checkpoint-every", 0, "STEPS", "also checkpoint every STEPS steps (default 0: each epoch only)",
         .out_int = &every},
        {"resume", 'r', "CKPT", "continue the run saved in CKPT (its settings are kept)", .out_str = &resume},
        {"early-stop", 0, "PATIENCE", "stop after PATIENCE epochs without a better validation accuracy",
         .out_int = &early},
        {"init", 0, "MODEL", "start from the weights of a trained .emo, or of an emo train checkpoint (batch norm "
                             "kept unfolded; fine-tuning)", .out_str = &init},
        {"freeze", 0, "N", "with --init: keep the first N conv/linear layers fixed", .out_int = &freeze},
        {"teacher", 0, "MODEL", "distil from a trained .emo: mix its softened outputs into the targets",
         .out_str = &teacher_path},
        {"distill", 0, "F", "with --teacher: the teacher's weight in the targets, 0..1 (default 0.5)",
         .out_float = &distill},
        {"temperature", 0, "T", "with --teacher: softmax temperature of its outputs (default 2)",
         .out_float = &temperature},
        {"log", 0, "CSV", "per-epoch log (default: --out with .csv)", .out_str = &log},
        CLI_PRECISION_OPT(&precision),
        {"quiet", 'q', NULL, "no progress display", .out_flag = &quiet},
        {0},
    };
    int npos, r = cli_parse(argc, argv, opts, "--data PATH --out MODEL [OPTIONS]", about, &npos);
    if (r) return r == 1 ? 0 : r;
    emo_precision eprec;
    if (cli_precision("train", precision, &eprec)) return 2;
    nn_precision prec = eprec == EMO_PRECISION_BF16 ? NN_BF16 : NN_FP32;
    block_stop_signals();
    if (npos) {
        fprintf(stderr, "emo train: unexpected argument '%s'\n", argv[1]);
        return 2;
    }

    train_cfg c = {0};
    train_state s = {0};
    nn_net *net = NULL;
    nn_optim opt = {0};
    emo_dataset ds = {0};
    int *train_rows = NULL, *val_rows = NULL, *order = NULL, *y = NULL;
    float *x = NULL, *soft = NULL, *frozen = NULL, *target = NULL;
    teacher tch = {0};
    nn_avg avg = {0}; /* --ema / --swa-epochs */
    nn_mix mixer = {0};
    float cw[EMO_DATASET_MAX_CLASSES];
    int use_cw = 0;
    size_t frozen_n = 0;
    int status = 1, st;

    if (resume) {
        if (netcfg || init || labels || classes || optimizer || schedule || augment || val_split || batch != UNSET_INT ||
            seed != UNSET_INT || early != UNSET_INT || freeze != UNSET_INT || max_rows != UNSET_INT || !isnan(lr) ||
            !isnan(wd) || !isnan(smoothing) || !isnan(warmup) || !isnan(min_lr) || !isnan(momentum) || !isnan(clip) ||
            teacher_path || !isnan(distill) || !isnan(temperature) || mix || class_weights || !isnan(restart_period) ||
            !isnan(restart_mult) || !isnan(ema) || swa_epochs != UNSET_INT) {
            fprintf(stderr, "emo train: with --resume, only --data, --ferplus, --out, --log, --checkpoint, "
                            "--checkpoint-every, --threads, --precision and --epochs may be given; the rest comes from the "
                            "checkpoint\n");
            return 2;
        }
        if (checkpoint_load(resume, &c, &s, &net, &opt, &avg)) {
            cli_error("train", "cannot resume");
            goto done;
        }
        if (data) copy_str(c.data, sizeof c.data, data);
        if (ferplus) copy_str(c.votes, sizeof c.votes, ferplus);
        if (out) copy_str(c.out, sizeof c.out, out);
        if (log) copy_str(c.log, sizeof c.log, log);
        if (every != UNSET_INT) c.checkpoint_every = every;
        if (epochs != UNSET_INT) {
            if (epochs < s.epoch) {
                fprintf(stderr, "emo train: --epochs %d: the checkpoint has done %d epochs already\n", epochs,
                        s.epoch);
                goto done;
            }
            if (epochs != c.epochs)
                fprintf(stderr, "emo train: note: epochs %d -> %d (the learning-rate schedule stretches)\n",
                        c.epochs, epochs);
            if (epochs > c.epochs) s.finished = 0;
            c.epochs = epochs;
        }
        copy_str(c.ckpt, sizeof c.ckpt, ckpt ? ckpt : resume);
        if (s.finished || s.epoch >= c.epochs) {
            fprintf(stderr, "emo train: %s: this run is finished (%d epochs, best val acc %.2f%% at epoch %d); "
                            "give --epochs N to train longer\n",
                    resume, s.epoch, 100 * s.best_acc, s.best_epoch);
            status = 0;
            goto done;
        }
    } else {
        if (!data || !out) {
            fprintf(stderr, "emo train: --data and --out are required (or --resume CKPT)\n");
            cli_usage(stderr, "train", opts, "--data PATH --out MODEL [OPTIONS]", NULL);
            return 2;
        }
        copy_str(c.data, sizeof c.data, data);
        copy_str(c.votes, sizeof c.votes, ferplus);
        copy_str(c.classes, sizeof c.classes, classes);
        copy_str(c.out, sizeof c.out, out);
        copy_str(c.augment, sizeof c.augment, augment ? augment : "default");
        copy_str(c.val_split, sizeof c.val_split, val_split ? val_split : "val");
        copy_str(c.net_origin, sizeof c.net_origin, init ? init : netcfg ? netcfg : "models/vgg-s.cfg");
        if (log) copy_str(c.log, sizeof c.log, log);
        else {
            size_t n = strlen(out);
            if (n > 4 && strcmp(out + n - 4, ".emo") == 0) n -= 4;
            snprintf(c.log, sizeof c.log, "%.*s.csv", (int)n, out);
        }
        if (ckpt) copy_str(c.ckpt, sizeof c.ckpt, ckpt);
        else {
            const char *home = getenv("HOME"), *base = strrchr(out, '/');
            base = base ? base + 1 : out;
            size_t n = strlen(base);
            if (n > 4 && strcmp(base + n - 4, ".emo") == 0) n -= 4;
            snprintf(c.ckpt, sizeof c.ckpt, "%s/.cache/emo/%.*s.ckpt", home && *home ? home : "/tmp", (int)n, base);
        }
        if (labels) {
            c.labels = name_index(labels, label_names, 3);
            if (c.labels < 0) {
                fprintf(stderr, "emo train: --labels wants fer2013, ferplus-majority or ferplus-soft, got '%s'\n",
                        labels);
                return 2;
            }
        } else c.labels = ferplus ? EMO_LABELS_SOFT : EMO_LABELS_FER2013;
        if (c.labels != EMO_LABELS_FER2013 && !ferplus) {
            fprintf(stderr, "emo train: --labels %s needs --ferplus VOTES\n", label_names[c.labels]);
            return 2;
        }
        c.optimizer = optimizer ? name_index(optimizer, optim_names, 4) : 3;
        if (c.optimizer < 0) {
            fprintf(stderr, "emo train: --optimizer wants adamw, adam, sgd or nesterov, got '%s'\n", optimizer);
            return 2;
        }
        c.schedule = schedule ? name_index(schedule, sched_names, 4) : NN_SCHED_COSINE;
        if (c.schedule < 0) {
            fprintf(stderr, "emo train: --schedule wants cosine, cosine-restarts, const or step, got '%s'\n",
                    schedule);
            return 2;
        }
        int adam = c.optimizer >= 2;
        c.epochs = epochs != UNSET_INT ? epochs : 30;
        c.batch = batch != UNSET_INT ? batch : 64;
        c.lr = !isnan(lr) ? lr : adam ? 0.002f : 0.05f;
        c.min_lr = !isnan(min_lr) ? min_lr : c.lr / 100;
        c.warmup = !isnan(warmup) ? warmup : 1;
        c.momentum = !isnan(momentum) ? momentum : 0.9f;
        c.weight_decay = !isnan(wd) ? wd : c.optimizer == 3 ? 0.05f : 5e-4f;
        c.smoothing = !isnan(smoothing) ? smoothing : c.labels == EMO_LABELS_SOFT ? 0 : 0.1f;
        c.clip = !isnan(clip) ? clip : 5;
        c.seed = seed != UNSET_INT ? (uint64_t)(uint32_t)seed : 1;
        c.early_stop = early != UNSET_INT ? early : 0;
        c.freeze = freeze != UNSET_INT ? freeze : 0;
        c.max_rows = max_rows != UNSET_INT ? max_rows : 0;
        c.checkpoint_every = every != UNSET_INT ? every : 0;
        if (c.epochs < 1 || c.epochs > 100000 || c.batch < 1 || c.batch > NN_MAX_BATCH || !(c.lr > 0) ||
            !(c.min_lr >= 0) || !(c.warmup >= 0) || !(c.weight_decay >= 0) || !(c.smoothing >= 0 && c.smoothing < 1) ||
            !(c.clip >= 0) || !(c.momentum >= 0 && c.momentum < 1) || c.early_stop < 0 || c.freeze < 0 ||
            c.max_rows < 0 || c.checkpoint_every < 0) {
            fprintf(stderr, "emo train: an option is out of range (epochs 1..100000, batch 1..%d, lr > 0, "
                            "smoothing in [0, 1), momentum in [0, 1), counts >= 0)\n",
                    NN_MAX_BATCH);
            return 2;
        }
        copy_str(c.teacher, sizeof c.teacher, teacher_path);
        c.distill = !isnan(distill) ? distill : 0.5f;
        c.temperature = !isnan(temperature) ? temperature : 2;
        if (teacher_path && !(c.distill > 0 && c.distill <= 1 && c.temperature > 0 && c.temperature <= 100)) {
            fprintf(stderr, "emo train: --distill wants (0, 1] and --temperature (0, 100]\n");
            return 2;
        }
        if (!teacher_path && (!isnan(distill) || !isnan(temperature))) {
            fprintf(stderr, "emo train: --distill and --temperature need --teacher MODEL\n");
            return 2;
        }
        if (c.freeze && !init) {
            fprintf(stderr, "emo train: --freeze needs --init MODEL\n");
            return 2;
        }
        /* issue 14's techniques */
        if (c.schedule != NN_SCHED_COSINE_RESTARTS && (!isnan(restart_period) || !isnan(restart_mult))) {
            fprintf(stderr, "emo train: --restart-period and --restart-mult need --schedule cosine-restarts\n");
            return 2;
        }
        c.restart_mult = !isnan(restart_mult) ? restart_mult : 1;
        c.restart_period = !isnan(restart_period) ? restart_period : 0; /* 0: set from the epochs below */
        if (c.schedule == NN_SCHED_COSINE_RESTARTS && c.restart_period == 0)
            c.restart_period = (c.epochs - c.warmup) / 3 > 0 ? (c.epochs - c.warmup) / 3 : 1;
        if (!(c.restart_mult >= 1 && c.restart_mult <= 10) || !(c.restart_period > 0 || c.schedule != NN_SCHED_COSINE_RESTARTS) ||
            !(c.restart_period <= 100000)) {
            fprintf(stderr, "emo train: --restart-period wants EPOCHS > 0 (may be fractional), --restart-mult 1..10\n");
            return 2;
        }
        nn_mix mx;
        if (nn_mix_parse(mix, &mx)) {
            fprintf(stderr, "emo train: --mix: %s\n", emo_last_error());
            return 2;
        }
        copy_str(c.mix, sizeof c.mix, mix ? mix : "none");
        copy_str(c.class_weights, sizeof c.class_weights, class_weights ? class_weights : "none");
        if (parse_class_weights(c.class_weights, NULL)) {
            fprintf(stderr, "emo train: --class-weights wants none, balanced or effective=BETA with 0 < BETA < 1, "
                            "got '%s'\n", c.class_weights);
            return 2;
        }
        c.ema = !isnan(ema) ? ema : 0;
        c.swa_epochs = swa_epochs != UNSET_INT ? swa_epochs : 0;
        if (!isnan(ema) && !(ema > 0 && ema < 1)) {
            fprintf(stderr, "emo train: --ema wants a decay in (0, 1), e.g. 0.999, got %g\n", ema);
            return 2;
        }
        if (c.swa_epochs < 0 || c.swa_epochs > c.epochs) {
            fprintf(stderr, "emo train: --swa-epochs wants 1..%d (the epochs), got %d\n", c.epochs, c.swa_epochs);
            return 2;
        }
        if (c.ema > 0 && c.swa_epochs > 0) {
            fprintf(stderr, "emo train: --ema and --swa-epochs are two ways of averaging the weights; give one\n");
            return 2;
        }
    }
    if (check_dir_of("--out", c.out) || check_dir_of("--log", c.log)) goto done;
    if (nn_mix_parse(c.mix, &mixer)) {
        cli_error("train", "bad --mix");
        goto done;
    }
    emo_augment aug;
    if (emo_augment_parse(c.augment, &aug)) {
        cli_error("train", "bad --augment");
        goto done;
    }
    int vsplit = emo_split_from_name(c.val_split);
    if (vsplit < 0) {
        fprintf(stderr, "emo train: --val wants val, test or train, got '%s'\n", c.val_split);
        goto done;
    }

    /* Data. */
    emo_dataset_params dp = emo_dataset_params_default();
    dp.labels = (emo_label_mode)c.labels;
    dp.classes = c.classes[0] ? c.classes : NULL;
    dp.threads = threads;
    dp.warn = warn_cb;
    double t_load = now_s();
    if (emo_dataset_load(&ds, c.data, c.votes[0] ? c.votes : NULL, &dp)) {
        cli_error("train", "cannot load the training data");
        goto done;
    }
    if (ds.skipped) fprintf(stderr, "emo train: %s: skipped %d unreadable images\n", c.data, ds.skipped);
    if (emo_dataset_rows(&ds, EMO_SPLIT_TRAIN, NULL, 0) == 0 && emo_dataset_rows(&ds, EMO_SPLIT_VAL, NULL, 0) == 0 &&
        emo_dataset_split_random(&ds, c.seed, 0.8f, 0.1f)) {
        cli_error("train", "cannot split the data");
        goto done;
    }
    int ntrain = emo_dataset_rows(&ds, EMO_SPLIT_TRAIN, NULL, 0);
    int nval = emo_dataset_rows(&ds, vsplit, NULL, 0);
    if (ntrain == 0 || nval == 0) {
        fprintf(stderr, "emo train: %s: %d training rows and %d %s rows; both splits need rows\n", c.data, ntrain,
                nval, emo_split_name(vsplit));
        goto done;
    }
    train_rows = malloc((size_t)ntrain * sizeof *train_rows);
    val_rows = malloc((size_t)nval * sizeof *val_rows);
    order = malloc((size_t)ntrain * sizeof *order);
    if (!train_rows || !val_rows || !order) {
        fprintf(stderr, "emo train: out of memory\n");
        goto done;
    }
    emo_dataset_rows(&ds, EMO_SPLIT_TRAIN, train_rows, ntrain);
    emo_dataset_rows(&ds, vsplit, val_rows, nval);
    if (c.max_rows && c.max_rows < ntrain) ntrain = c.max_rows;
    {
        int counts[EMO_DATASET_MAX_CLASSES] = {0};
        for (int i = 0; i < ntrain; i++) counts[ds.labels[train_rows[i]]]++;
        for (int k = 0; k < ds.nclasses; k++)
            if (!counts[k]) {
                fprintf(stderr, "emo train: class '%s' has no training rows\n", ds.classes[k]);
                goto done;
            }
        double beta;
        parse_class_weights(c.class_weights, &beta);
        if (beta >= 0) {
            /* from the (majority) labels of the rows trained on */
            long long cnt[EMO_DATASET_MAX_CLASSES];
            for (int k = 0; k < ds.nclasses; k++) cnt[k] = counts[k];
            if (nn_class_weights(ds.nclasses, cnt, beta, cw)) {
                cli_error("train", "--class-weights");
                goto done;
            }
            use_cw = 1;
            fprintf(stderr, "emo train: class weights (%s):", c.class_weights);
            for (int k = 0; k < ds.nclasses; k++) fprintf(stderr, " %s %.3f", ds.classes[k], cw[k]);
            fprintf(stderr, "\n");
        }
    }
    if (!resume) {
        /* Pixel normalisation from the training rows, rounded so the model file
         * states it plainly. */
        double sum = 0, sq = 0;
        for (int i = 0; i < ntrain; i++) {
            const uint8_t *p = ds.pixels + (size_t)train_rows[i] * EMO_DATA_PIXELS;
            for (int j = 0; j < EMO_DATA_PIXELS; j++) {
                double v = p[j] / 255.0;
                sum += v;
                sq += v * v;
            }
        }
        double cnt = (double)ntrain * EMO_DATA_PIXELS, m = sum / cnt, var = sq / cnt - m * m;
        c.mean = roundf((float)m * 1000) / 1000;
        c.std = roundf((float)sqrt(var > 1e-6 ? var : 1e-6) * 1000) / 1000;
    }
    int B = c.batch < ntrain ? c.batch : ntrain;
    long long spe = ntrain / B, total_steps = spe * c.epochs;
    fprintf(stderr, "emo train: %s: %d training rows, %d validation rows (%s), %d classes, loaded in %.1fs\n",
            c.data, ntrain, nval, emo_split_name(vsplit), ds.nclasses, now_s() - t_load);

    /* Network. */
    nn_model_meta meta = {0};
    if (!resume) {
        if (init) {
            uint8_t *bytes;
            size_t size;
            nn_net *src = NULL;
            nn_model_meta im = {0};
            if (emo_read_file(init, 0, &bytes, &size)) {
                cli_error("train", "--init: cannot read the model");
                goto done;
            }
            if (size >= 4 && memcmp(bytes, TRAIN_MAGIC, 4) == 0) {
                st = init_source_checkpoint(init, bytes, size, &src, &im);
            } else {
                st = nn_model_read(&src, &im, bytes, size, init);
                free(bytes);
            }
            if (st) {
                cli_error("train", "--init: cannot read the model");
                goto done;
            }
            if (!im.n_classes)
                fprintf(stderr, "emo train: --init %s: the classes of its run are unknown (its model file is "
                                "unreadable); the classifier layer starts afresh\n", init);
            char *cfg = nn_net_to_cfg(src);
            st = cfg ? nn_net_from_cfg(&net, cfg, init) : emo_fail(EMO_ENOMEM, "out of memory");
            free(cfg);
            if (!st) st = resize_head(&net, ds.nclasses, init);
            if (st) {
                nn_net_free(src);
                cli_error("train", "--init");
                goto done;
            }
            nn_net_init_params(net, c.seed);
            copy_weights(net, src, &im, &ds);
            nn_net_free(src);
            c.mean = im.mean;
            c.std = im.std;
        } else {
            if (nn_net_from_cfg_file(&net, c.net_origin) || resize_head(&net, ds.nclasses, c.net_origin)) {
                cli_error("train", "bad network");
                goto done;
            }
            nn_net_init_params(net, c.seed);
        }
        opt = nn_optim_default(c.optimizer >= 2 ? (c.optimizer == 3 ? NN_ADAMW : NN_ADAM) : NN_SGD);
        opt.lr = c.lr;
        opt.weight_decay = c.weight_decay;
        opt.clip_norm = c.clip;
        if (c.optimizer < 2) {
            opt.momentum = c.momentum;
            opt.nesterov = c.optimizer == 1;
        }
        s.best_acc = -1;
        s.hist = calloc((size_t)c.epochs + 1, sizeof *s.hist);
        if (!s.hist) {
            fprintf(stderr, "emo train: out of memory\n");
            goto done;
        }
    } else {
        epoch_rec *h = realloc(s.hist, ((size_t)c.epochs + 1) * sizeof *h);
        if (!h) {
            fprintf(stderr, "emo train: out of memory\n");
            goto done;
        }
        s.hist = h;
    }
    if (net->in_h != EMO_DATA_SIDE || net->in_w != EMO_DATA_SIDE || net->in_c != 1) {
        fprintf(stderr, "emo train: %s: the network takes %dx%dx%d inputs; the data is 48x48 grey\n",
                c.net_origin, net->in_w, net->in_h, net->in_c);
        goto done;
    }
    if (net->n_out != ds.nclasses) {
        fprintf(stderr, "emo train: the checkpoint's network has %d outputs, the data %d classes\n", net->n_out,
                ds.nclasses);
        goto done;
    }
    meta.n_classes = ds.nclasses;
    for (int k = 0; k < ds.nclasses; k++) copy_str(meta.class_names[k], NN_NAME_LEN, ds.classes[k]);
    meta.mean = c.mean;
    meta.std = c.std;
    if (frozen_prefix(net, c.freeze, &frozen_n)) {
        cli_error("train", "bad --freeze");
        goto done;
    }
    if (frozen_n) {
        frozen = malloc(frozen_n * sizeof *frozen);
        if (!frozen) {
            fprintf(stderr, "emo train: out of memory\n");
            goto done;
        }
        memcpy(frozen, net->params, frozen_n * sizeof *frozen);
    }
    nn_net_set_threads(net, threads);
    if (nn_net_set_precision(net, prec)) {
        cli_error("train", "--precision");
        goto done;
    }
    int vb = B > 256 ? B : 256;
    if (nn_net_set_batch(net, vb)) {
        cli_error("train", "cannot allocate the network");
        goto done;
    }
    int K = ds.nclasses;
    x = malloc((size_t)vb * EMO_DATA_PIXELS * sizeof *x);
    y = malloc((size_t)vb * sizeof *y);
    soft = malloc((size_t)vb * K * sizeof *soft);
    target = malloc((size_t)vb * K * sizeof *target);
    if (!x || !y || !soft || !target) {
        fprintf(stderr, "emo train: out of memory\n");
        goto done;
    }
    if (c.teacher[0]) {
        if (teacher_open(&tch, c.teacher, &ds, vb, threads, prec)) {
            cli_error("train", "--teacher");
            goto done;
        }
        fprintf(stderr, "emo train: distilling from %s (weight %g, temperature %g)\n", c.teacher, c.distill,
                c.temperature);
    }
    if (mkdirs(c.ckpt) != 0) {
        fprintf(stderr, "emo train: cannot create the folder of %s: %s\n", c.ckpt, strerror(errno));
        goto done;
    }
    nn_schedule sched = {.kind = (nn_sched_kind)c.schedule, .base_lr = c.lr, .min_lr = c.min_lr,
                         .warmup_steps = (long long)(c.warmup * spe + 0.5), .total_steps = total_steps,
                         .step_size = total_steps / 4, .gamma = 1};
    if (c.schedule == NN_SCHED_STEP) { /* x0.1 at 1/3 and 2/3 of the steps after warm-up */
        sched.step_size = (total_steps - sched.warmup_steps) / 3 > 0 ? (total_steps - sched.warmup_steps) / 3 : 1;
        sched.gamma = 0.1f;
    }
    if (c.schedule == NN_SCHED_COSINE_RESTARTS) {
        sched.period_steps = (long long)(c.restart_period * spe + 0.5);
        if (sched.period_steps < 1) sched.period_steps = 1;
        sched.period_mult = c.restart_mult;
        fprintf(stderr, "emo train: warm restarts: first cycle %lld steps (%g epochs), each next x%g\n",
                sched.period_steps, c.restart_period, c.restart_mult);
    }
    if (mixer.p > 0)
        fprintf(stderr, "emo train: mixing batches: %s (targets mixed by the same weight)\n", c.mix);
    if ((c.ema > 0 || c.swa_epochs > 0) && !avg.w) {
        if (nn_avg_init(&avg, net, c.ema)) {
            cli_error("train", "weight average");
            goto done;
        }
    }
    if (c.ema > 0)
        fprintf(stderr, "emo train: EMA of the weights (decay %g) is validated and written; bn statistics "
                        "averaged alike\n", c.ema);
    if (c.swa_epochs > 0)
        fprintf(stderr, "emo train: SWA: the weights at the end of epochs %d..%d are averaged, validated and "
                        "written; bn statistics averaged alike\n", c.epochs - c.swa_epochs + 1, c.epochs);
    fprintf(stderr,
            "emo train: %s: %zu parameters, %.1f MFLOPs per face; %s lr %g wd %g, %s schedule, batch %d, "
            "%lld steps per epoch, %d epochs%s; %s on %d thread%s\n",
            c.net_origin, net->n_params, nn_net_flops(net) / 1e6, optim_names[c.optimizer], c.lr, c.weight_decay,
            sched_names[c.schedule], B, spe, c.epochs, frozen_n ? ", early layers frozen" : "",
            prec == NN_BF16 ? "bf16" : "fp32", net->threads, net->threads == 1 ? "" : "s");
    if (resume)
        fprintf(stderr, "emo train: resuming %s at epoch %d, batch %d/%lld (step %lld)\n", resume, s.epoch + 1,
                s.batch_in_epoch, spe, net->step);

    if (quiet) progress_set_tty(false), progress_interval(1e9);
    double t_run = now_s() - s.elapsed;
    int interrupted = 0;
    while (s.epoch < c.epochs && !s.finished) {
        memcpy(order, train_rows, (size_t)ntrain * sizeof *order);
        emo_shuffle(order, ntrain, emo_seed_mix(c.seed, (uint64_t)s.epoch));
        uint64_t aug_seed = emo_seed_mix(c.seed ^ 0xa5a5a5a5a5a5a5a5ull, (uint64_t)s.epoch);
        uint64_t mix_seed = emo_seed_mix(c.seed ^ 0x6d69786d69786d69ull, (uint64_t)s.epoch);
        char label[64];
        snprintf(label, sizeof label, "epoch %d/%d", s.epoch + 1, c.epochs);
        progress_start(spe, label);
        progress_update(s.batch_in_epoch);
        while (s.batch_in_epoch < spe) {
            const int *rows = order + (size_t)s.batch_in_epoch * B;
            opt.lr = nn_schedule_lr(&sched, net->step);
            if ((st = emo_dataset_batch(&ds, rows, B, &aug, aug_seed, c.mean, c.std, x, y, soft, threads))) break;
            if ((mixer.p > 0 || use_cw) && c.labels != EMO_LABELS_SOFT)
                for (int i = 0; i < B; i++) /* the hard labels as distributions, to mix or weigh */
                    for (int k = 0; k < K; k++) soft[(size_t)i * K + k] = k == y[i];
            /* mixed faces, mixed targets; a teacher then sees the mixed faces */
            int mixed = nn_mix_batch(&mixer, emo_seed_mix(mix_seed, (uint64_t)s.batch_in_epoch), B, EMO_DATA_SIDE,
                                     EMO_DATA_SIDE, 1, x, K, soft, NULL);
            nn_net_zero_grad(net);
            float loss;
            if ((st = nn_net_forward(net, x, B, 1))) break;
            const float *tg = soft;
            if (tch.net) {
                /* soft holds the batch's distributions (one-hot for hard labels) */
                memcpy(target, soft, (size_t)B * K * sizeof *target);
                if ((st = teacher_mix(&tch, x, B, &c, target, K))) break;
                tg = target;
            }
            if (use_cw) st = nn_loss_softmax_ce_weighted(net, tg, c.smoothing, cw, &loss);
            else if (tch.net || mixed || c.labels == EMO_LABELS_SOFT) st = nn_loss_softmax_ce(net, tg, c.smoothing, &loss);
            else st = nn_loss_softmax_ce_labels(net, y, c.smoothing, &loss);
            if (st) break;
            const float *lo = nn_net_output(net);
            for (int i = 0; i < B; i++) s.correct += train_argmax(lo + (size_t)i * K, K) == y[i];
            if ((st = nn_net_backward(net)) || (st = nn_optim_step(net, &opt, NULL))) break;
            if (frozen_n) memcpy(net->params, frozen, frozen_n * sizeof *frozen);
            if (c.ema > 0) nn_avg_update(&avg, net);
            s.loss_sum += loss * B;
            s.seen += B;
            s.batch_in_epoch++;
            if (c.checkpoint_every && net->step % c.checkpoint_every == 0 && s.batch_in_epoch < spe) {
                s.elapsed = now_s() - t_run;
                if ((st = checkpoint_save(c.ckpt, &c, &s, net, &opt, &avg))) break;
            }
            char info[64];
            snprintf(info, sizeof info, "loss %.3f acc %.1f%%", s.loss_sum / (double)s.seen,
                     100.0 * (double)s.correct / (double)s.seen);
            progress_info(info);
            progress_update(s.batch_in_epoch);
            if (stop_requested()) break;
        }
        progress_end();
        if (st) {
            cli_error("train", "epoch %d, step %lld", s.epoch + 1, net->step);
            goto done;
        }
        if (stop_requested()) {
            interrupted = 1;
            break;
        }
        epoch_rec *h = &s.hist[s.n_hist];
        h->epoch = s.epoch + 1;
        h->step = net->step;
        h->lr = opt.lr;
        h->train_loss = (float)(s.loss_sum / (double)(s.seen ? s.seen : 1));
        h->train_acc = (float)((double)s.correct / (double)(s.seen ? s.seen : 1));
        /* SWA takes the weights at the end of each of its epochs; with an
         * average (EMA, or SWA once begun) validation and the model file use
         * it, swapped in and out around them (the training weights come back
         * bit for bit). */
        if (c.swa_epochs > 0 && s.epoch >= c.epochs - c.swa_epochs) nn_avg_update(&avg, net);
        int use_avg = avg.w && avg.count > 0;
        if (use_avg && nn_avg_swap(&avg, net)) {
            cli_error("train", "weight average");
            goto done;
        }
        st = validate(net, &ds, val_rows, nval, vb, &c, x, y, soft, &h->val_loss, &h->val_acc, &h->val_f1);
        int better = !st && h->val_acc > s.best_acc;
        if (better && (st = nn_model_save(net, &meta, c.out))) {
            if (use_avg) nn_avg_swap(&avg, net);
            cli_error("train", "cannot save the model");
            goto done;
        }
        if (use_avg) nn_avg_swap(&avg, net);
        if (st) {
            cli_error("train", "validation after epoch %d", s.epoch + 1);
            goto done;
        }
        h->seconds = now_s() - t_run;
        s.n_hist++;
        s.epoch++;
        s.batch_in_epoch = 0;
        s.loss_sum = 0;
        s.correct = s.seen = 0;
        if (better) {
            s.best_acc = h->val_acc;
            s.best_epoch = h->epoch;
            s.bad_epochs = 0;
        } else s.bad_epochs++;
        if (c.early_stop && s.bad_epochs >= c.early_stop) s.finished = 1;
        if (s.epoch >= c.epochs) s.finished = 1;
        char d[16];
        printf("epoch %3d/%d  train loss %.4f acc %5.2f%%  val loss %.4f acc %5.2f%% f1 %.4f  lr %.2e  %s%s%s\n",
               h->epoch, c.epochs, h->train_loss, 100 * h->train_acc, h->val_loss, 100 * h->val_acc, h->val_f1, h->lr,
               progress_format_duration(h->seconds, d, 16), better ? "  *best" : "",
               !use_avg ? "" : c.ema > 0 ? "  (ema)" : "  (swa)");
        fflush(stdout);
        s.elapsed = now_s() - t_run;
        if (write_log(c.log, &s)) cli_error("train", "warning: cannot write the log");
        if (checkpoint_save(c.ckpt, &c, &s, net, &opt, &avg)) {
            cli_error("train", "cannot save the checkpoint (the previous one is kept)");
            goto done;
        }
        if (c.early_stop && s.bad_epochs >= c.early_stop && s.epoch < c.epochs) {
            fprintf(stderr, "emo train: no better validation accuracy for %d epochs: stopping early\n",
                    s.bad_epochs);
            break;
        }
    }
    if (interrupted) {
        s.elapsed = now_s() - t_run;
        if (checkpoint_save(c.ckpt, &c, &s, net, &opt, &avg)) {
            cli_error("train", "interrupted, and cannot save the checkpoint");
            goto done;
        }
        fprintf(stderr, "emo train: interrupted at epoch %d, batch %d; resume with: emo train --resume %s\n",
                s.epoch + 1, s.batch_in_epoch, c.ckpt);
        status = 130;
        goto done;
    }
    {
        char d[16];
        fprintf(stderr,
                "emo train: done in %s: best val accuracy %.2f%% at epoch %d -> %s (%zu parameters, %.1f MFLOPs); "
                "log %s, checkpoint %s\n",
                progress_format_duration(s.elapsed, d, 16), 100 * s.best_acc, s.best_epoch, c.out, net->n_params,
                nn_net_flops(net) / 1e6, c.log, c.ckpt);
    }
    status = 0;
done:
    nn_net_free(net);
    emo_dataset_free(&ds);
    free(train_rows);
    free(val_rows);
    free(order);
    free(x);
    free(y);
    free(soft);
    free(frozen);
    free(target);
    teacher_close(&tch);
    nn_avg_free(&avg);
    free(s.hist);
    return status;
}
