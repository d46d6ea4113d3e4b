/* test_nn_train.c — end to end: a small CNN trained for 300 steps on 2,000
 * FER2013 training rows must lower its loss clearly and beat chance (1/7) on
 * 500 PublicTest rows by a margin (loss down by over 10 %, accuracy over 2/7); then it is saved as a .emo model and
 * emo_classify must agree with the training network. One core, < 60 s. */
#include "emo.h"
#include "nn/nn.h"
#include "test.h"

#include <zlib.h>

#define N_TRAIN 2000
#define N_VAL 500
#define PIX 2304

static float *train_x, *val_x;
static int train_y[N_TRAIN], val_y[N_VAL];

/* Reads `emotion,pixels,Usage` rows: the first N_TRAIN Training rows and
 * the first N_VAL PublicTest rows. */
static int load_rows(void) {
    gzFile f = gzopen(test_shared("datasets/fer2013/fer2013.csv.gz"), "rb");
    if (!f) return -1;
    static char line[16384];
    int nt = 0, nv = 0;
    train_x = malloc(sizeof(float) * N_TRAIN * PIX);
    val_x = malloc(sizeof(float) * N_VAL * PIX);
    gzgets(f, line, sizeof line); /* header */
    while ((nt < N_TRAIN || nv < N_VAL) && gzgets(f, line, sizeof line)) {
        char *p = line, *end;
        int label = (int)strtol(p, &end, 10);
        if (end == p || *end != ',' || label < 0 || label > 6) continue;
        char *usage = strrchr(line, ',');
        int is_train = strncmp(usage + 1, "Training", 8) == 0, is_val = strncmp(usage + 1, "PublicTest", 10) == 0;
        if ((is_train && nt >= N_TRAIN) || (is_val && nv >= N_VAL) || (!is_train && !is_val)) continue;
        float *dst = is_train ? train_x + (size_t)nt * PIX : val_x + (size_t)nv * PIX;
        p = end + 1;
        int k;
        for (k = 0; k < PIX; k++) {
            long v = strtol(p, &end, 10);
            if (end == p) break;
            dst[k] = ((float)v / 255.0f - 0.5f) / 0.25f;
            p = end;
        }
        if (k < PIX) continue;
        if (is_train) train_y[nt++] = label;
        else val_y[nv++] = label;
    }
    gzclose(f);
    return nt == N_TRAIN && nv == N_VAL ? 0 : -1;
}

static const char *NET = "# small 4-stage CNN, 4.3 MFLOP per face\n"
                         "input size=48\n"
                         "conv filters=8 size=3 pad=1 bias=0\nbn\nrelu\nmaxpool size=2\n"
                         "conv filters=16 size=3 pad=1 bias=0\nbn\nrelu\nmaxpool size=2\n"
                         "conv filters=32 size=3 pad=1 bias=0\nbn\nrelu\nmaxpool size=2\n"
                         "conv filters=64 size=3 pad=1 bias=0\nbn\nrelu\ngap\ndropout p=0.1\nlinear out=7\n";

static double accuracy(nn_net *net, const float *x, const int *y, int n) {
    int right = 0;
    for (int i0 = 0; i0 < n; i0 += 50) {
        int nb = EMO_MIN(50, n - i0);
        nn_net_forward(net, x + (size_t)i0 * PIX, nb, 0);
        const float *z = nn_net_output(net);
        for (int i = 0; i < nb; i++) {
            int best = 0;
            for (int k = 1; k < 7; k++)
                if (z[i * 7 + k] > z[i * 7 + best]) best = k;
            right += best == y[i0 + i];
        }
    }
    return (double)right / n;
}

static void test_train_fer2013(void) {
    if (load_rows()) {
        TEST_FAIL_("cannot read %d+%d rows of %s", N_TRAIN, N_VAL, test_shared("datasets/fer2013/fer2013.csv.gz"));
        return;
    }
    nn_net *net = NULL;
    CHECK_OK(nn_net_from_cfg(&net, NET, "small.cfg"));
    if (!net) return;
    nn_net_init_params(net, 2024);
    nn_net_set_threads(net, 1);
    CHECK_OK(nn_net_set_batch(net, 50));
    enum { BATCH = 32, STEPS = 300 };
    nn_optim opt = nn_optim_default(NN_ADAMW);
    opt.weight_decay = 1e-4f;
    opt.clip_norm = 5;
    nn_schedule sched = {.kind = NN_SCHED_COSINE, .base_lr = 3e-3f, .min_lr = 1e-4f, .warmup_steps = 20,
                         .total_steps = STEPS};
    static float xb[BATCH * PIX];
    int yb[BATCH], order[N_TRAIN];
    for (int i = 0; i < N_TRAIN; i++) order[i] = i;
    uint64_t s = 7;
    double first = 0, last = 0;
    int pos = N_TRAIN;
    for (int step = 0; step < STEPS; step++) {
        for (int b = 0; b < BATCH; b++) {
            if (pos == N_TRAIN) { /* reshuffle each epoch */
                for (int i = N_TRAIN - 1; i > 0; i--) {
                    s = s * 6364136223846793005ull + 1442695040888963407ull;
                    int j = (int)((s >> 33) % (uint64_t)(i + 1)), t = order[i];
                    order[i] = order[j];
                    order[j] = t;
                }
                pos = 0;
            }
            int r = order[pos++];
            memcpy(xb + (size_t)b * PIX, train_x + (size_t)r * PIX, PIX * sizeof(float));
            yb[b] = train_y[r];
        }
        float loss;
        opt.lr = nn_schedule_lr(&sched, step);
        nn_net_zero_grad(net);
        CHECK_OK(nn_net_forward(net, xb, BATCH, 1));
        CHECK_OK(nn_loss_softmax_ce_labels(net, yb, 0, &loss));
        CHECK_OK(nn_net_backward(net));
        int st = nn_optim_step(net, &opt, NULL);
        CHECK_OK(st);
        if (st) break;
        if (step < 20) first += loss / 20;
        if (step >= STEPS - 20) last += loss / 20;
    }
    double acc = accuracy(net, val_x, val_y, N_VAL);
    printf("    loss: first 20 steps %.3f, last 20 steps %.3f; validation accuracy %.3f\n", first, last, acc);
    CHECK_MSG(last < 0.9 * first, "training loss fell only from %.3f to %.3f", first, last);
    CHECK_MSG(acc > 2.0 / 7, "validation accuracy %.3f does not beat chance (1/7) by 2x", acc);

    /* the shipped path: .emo file and emo_classify agree with the net */
    nn_model_meta meta = {.n_classes = 7, .mean = 0.5f, .std = 0.25f};
    const char *names[] = {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"};
    for (int i = 0; i < 7; i++) snprintf(meta.class_names[i], NN_NAME_LEN, "%s", names[i]);
    CHECK_OK(nn_model_save(net, &meta, test_tmp("fer.emo")));
    emo_model *m = NULL;
    CHECK_OK(emo_model_load(&m, test_tmp("fer.emo")));
    if (m) {
        static uint8_t pix[N_VAL][PIX];
        static emo_image faces[N_VAL];
        static float probs[N_VAL * 7];
        for (int i = 0; i < N_VAL; i++) {
            for (int k = 0; k < PIX; k++) pix[i][k] = (uint8_t)lrintf((val_x[(size_t)i * PIX + k] * 0.25f + 0.5f) * 255);
            faces[i] = (emo_image){48, 48, 1, 48, pix[i], 0};
        }
        CHECK_OK(emo_classify(m, faces, N_VAL, probs));
        int right = 0;
        for (int i = 0; i < N_VAL; i++) {
            int best = 0;
            for (int k = 1; k < 7; k++)
                if (probs[i * 7 + k] > probs[i * 7 + best]) best = k;
            right += best == val_y[i];
        }
        CHECK_NEAR((double)right / N_VAL, acc, 0.01);
        emo_model_free(m);
    }
    nn_net_free(net);
    free(train_x);
    free(val_x);
}

static const test_case cases[] = {
    {"train_fer2013", test_train_fer2013},
};

int main(int argc, char **argv) { return test_main(cases, TEST_COUNT(cases), argc, argv); }
