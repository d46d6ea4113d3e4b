/* cmd_eval.c — `emo eval`: accuracy, macro-F1, per-class precision / recall /
 * F1 and the confusion matrix of a .emo model on a dataset split, through the
 * public inference path (emo_classify), optionally with flip/shift/ten-crop test-time
 * augmentation; as text or JSON, with PNG plots (confusion heat map, and
 * training curves from an `emo train` log). */
#include "cli.h"
#include "json.h"
#include "commands.h"
#include "progress.h"
#include "train_util.h"
#include "tta.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CHUNK 128 /* faces classified per emo_classify call (x views) */

static void warn_cb(void *user, const char *msg) {
    (void)user;
    fprintf(stderr, "emo eval: warning: %s\n", msg);
}

/* A training log (`emo train` CSV): columns found by header name. */
typedef struct log_cols {
    int n;
    float *epoch, *train_loss, *val_loss, *train_acc, *val_acc, *val_f1;
} log_cols;

static void log_free(log_cols *l) {
    free(l->epoch);
    free(l->train_loss);
    free(l->val_loss);
    free(l->train_acc);
    free(l->val_acc);
    free(l->val_f1);
}

static int log_read(const char *path, log_cols *l) {
    memset(l, 0, sizeof *l);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "emo eval: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int col[6] = {-1, -1, -1, -1, -1, -1}, ncol = 0;
    static const char *const want[6] = {"epoch", "train_loss", "val_loss", "train_acc", "val_acc", "val_macro_f1"};
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        fprintf(stderr, "emo eval: %s: empty log\n", path);
        return -1;
    }
    line[strcspn(line, "\r\n")] = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, ",", &save); t; t = strtok_r(NULL, ",", &save), ncol++)
        for (int k = 0; k < 6; k++)
            if (strcmp(t, want[k]) == 0) col[k] = ncol;
    if (col[0] < 0 || col[1] < 0 || col[2] < 0 || col[4] < 0) {
        fclose(f);
        fprintf(stderr, "emo eval: %s: not an emo train log (needs epoch, train_loss, val_loss, val_acc columns)\n",
                path);
        return -1;
    }
    int cap = 0, lineno = 1;
    float **dst[6] = {&l->epoch, &l->train_loss, &l->val_loss, &l->train_acc, &l->val_acc, &l->val_f1};
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        if (l->n == cap) {
            cap = cap ? cap * 2 : 64;
            for (int k = 0; k < 6; k++) {
                float *np = realloc(*dst[k], (size_t)cap * sizeof(float));
                if (!np) {
                    fclose(f);
                    fprintf(stderr, "emo eval: out of memory\n");
                    return -1;
                }
                *dst[k] = np;
            }
        }
        float v[64];
        int nv = 0;
        char *p = line;
        for (;;) {
            char *end;
            float x = strtof(p, &end);
            if (end == p || nv >= 64) {
                fclose(f);
                fprintf(stderr, "emo eval: %s:%d: not a number\n", path, lineno);
                return -1;
            }
            v[nv++] = x;
            if (*end == ',') p = end + 1;
            else if (!*end) break;
            else {
                fclose(f);
                fprintf(stderr, "emo eval: %s:%d: not a number\n", path, lineno);
                return -1;
            }
        }
        if (nv != ncol) {
            fclose(f);
            fprintf(stderr, "emo eval: %s:%d: %d fields, the header has %d\n", path, lineno, nv, ncol);
            return -1;
        }
        for (int k = 0; k < 6; k++) (*dst[k])[l->n] = col[k] >= 0 ? v[col[k]] : NAN;
        l->n++;
    }
    fclose(f);
    if (!l->n) {
        fprintf(stderr, "emo eval: %s: the log has no epochs\n", path);
        return -1;
    }
    return 0;
}

static int save_png(const emo_image *img, const char *dir, const char *name) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (emo_image_save(img, path, 90)) return cli_error("eval", "cannot write %s", path);
    fprintf(stderr, "emo eval: wrote %s\n", path);
    return 0;
}

static int plot_curves(const char *logpath, const char *dir) {
    log_cols l;
    if (log_read(logpath, &l)) {
        log_free(&l);
        return 1;
    }
    emo_image img = {0};
    int st = 0;
    for (int i = 0; i < l.n; i++) {
        l.train_acc[i] *= 100;
        l.val_acc[i] *= 100;
    }
    emo_plot_series loss[2] = {{"train", l.epoch, l.train_loss, l.n, 0x1f77b4}, {"validation", l.epoch, l.val_loss, l.n, 0xd62728}};
    emo_plot_axes ax = {"Loss", "epoch", "cross-entropy", 0, 0, 0, 0};
    if (emo_plot_lines(&img, 800, 500, &ax, loss, 2)) st = cli_error("eval", "cannot plot %s", logpath);
    else st = save_png(&img, dir, "loss.png");
    if (!st) {
        emo_plot_series acc[2] = {{"train", l.epoch, l.train_acc, l.n, 0x1f77b4},
                                  {"validation", l.epoch, l.val_acc, l.n, 0xd62728}};
        emo_plot_axes ay = {"Accuracy", "epoch", "accuracy (%)", 0, 0, 0, 0};
        if (emo_plot_lines(&img, 800, 500, &ay, acc, 2)) st = cli_error("eval", "cannot plot %s", logpath);
        else st = save_png(&img, dir, "accuracy.png");
    }
    emo_image_free(&img);
    log_free(&l);
    return st;
}

static const char *about =
    "Evaluates a model on a dataset split: accuracy, macro-F1, per-class precision/recall/F1 and the\n"
    "confusion matrix (rows = true class). DATA is read as by `emo train` (FER2013 CSV(.gz) with optional\n"
    "--ferplus votes, class folders, or an index CSV); the model's classes select the rows.\n"
    "--tta (or --tta flip) averages the face and its mirror image (--tta-shift PX adds 4 shifted copies of\n"
    "each); --tta crops averages ten crops: the centre and 4 corners of the face enlarged by 2*PX pixels\n"
    "(--tta-shift, default 2), and their mirrors.\n"
    "--plots DIR writes confusion.png, and loss.png / accuracy.png from --log (an `emo train` CSV log).";

/* `--tta` takes an optional word (flip, crops, none): taken out of argv
 * here, before the option parser sees a bare --tta flag. -1 on a bad word. */
static int take_tta_mode(int *argc, char **argv, tta_mode *mode) {
    int n = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i], *w = NULL;
        if (strcmp(a, "--") == 0) {
            while (i < *argc) argv[n++] = argv[i++];
            break;
        }
        if (strncmp(a, "--tta=", 6) == 0) w = a + 6;
        else if (strcmp(a, "--tta") == 0 && i + 1 < *argc && argv[i + 1][0] != '-') w = argv[++i]; /* eval has no positionals */
        if (w) {
            if (strcmp(w, "flip") == 0) *mode = TTA_FLIP;
            else if (strcmp(w, "crops") == 0) *mode = TTA_CROPS;
            else if (strcmp(w, "none") == 0) *mode = TTA_NONE;
            else {
                fprintf(stderr, "emo eval: --tta wants flip, crops or none, got '%s'\n", w);
                return -1;
            }
            continue;
        }
        if (strcmp(a, "--tta") == 0) {
            *mode = TTA_FLIP;
            continue;
        }
        argv[n++] = argv[i];
    }
    *argc = n;
    argv[n] = NULL;
    return 0;
}

int cmd_eval(int argc, char **argv) {
    tta_mode ttam = TTA_NONE;
    if (take_tta_mode(&argc, argv, &ttam)) return 2;
    const char *model = NULL, *data = NULL, *ferplus = NULL, *split = "val", *labels = NULL, *plots = NULL;
    const char *log = NULL, *precision = "auto", *pred_path = NULL;
    bool tta = false, json = false;
    int shift = 0, threads = 0, max_rows = 0, seed = 1;
    const cli_opt opts[] = {
        {"model", 'm', "MODEL", "model file or name (default: " EMO_DEFAULT_MODEL ")", .out_str = &model},
        {"data", 'd', "PATH", "dataset: FER2013 CSV(.gz), class folders, or index CSV", .out_str = &data},
        {"ferplus", 0, "CSV", "FER+ votes file aligned with the FER2013 CSV", .out_str = &ferplus},
        {"split", 's', "SPLIT", "val (= PublicTest) | test (= PrivateTest) | train | any (default val)",
         .out_str = &split},
        {"labels", 0, "MODE", "fer2013 | ferplus-majority | ferplus-soft (default: ferplus-majority with --ferplus)",
         .out_str = &labels},
        {"tta", 0, "[flip|crops]", "test-time augmentation: flip (the default word) averages the face with its "
                                   "mirror; crops averages ten crops (4 corners and centre, and mirrors)",
         .out_flag = &tta},
        {"tta-shift", 0, "PX", "with --tta: also average 4 copies shifted by PX pixels; with --tta crops: the "
                               "corner crops' offset from the centre (default 2)", .out_int = &shift},
        {"json", 'j', NULL, "print the results as JSON", .out_flag = &json},
        {"plots", 0, "DIR", "write PNG plots into DIR", .out_str = &plots},
        {"log", 0, "CSV", "training log (from emo train) to plot as curves", .out_str = &log},
        {"seed", 0, "N", "seed of the random split of data without splits (as emo train's; default 1)",
         .out_int = &seed},
        {"max-rows", 0, "N", "evaluate only the first N rows of the split", .out_int = &max_rows},
        {"threads", 't', "N", "threads (default 0 = all cores)", .out_int = &threads},
        CLI_PRECISION_OPT(&precision),
        {"predictions", 0, "CSV", "write each face's row, label, prediction and probabilities", .out_str = &pred_path},
        {0},
    };
    int npos, r = cli_parse(argc, argv, opts, "--data PATH [--model MODEL] [OPTIONS]", about, &npos);
    if (r) return r == 1 ? 0 : r;
    if (npos) {
        fprintf(stderr, "emo eval: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    if (!data && !(plots && log)) {
        fprintf(stderr, "emo eval: --data is required (or --plots DIR --log CSV for curves only)\n");
        return 2;
    }
    int sp = strcmp(split, "any") == 0 ? EMO_SPLIT_ANY : emo_split_from_name(split);
    if (sp == EMO_EINVAL) {
        fprintf(stderr, "emo eval: --split wants val, test, train or any (or PublicTest, PrivateTest), got '%s'\n",
                split);
        return 2;
    }
    emo_label_mode lm = ferplus ? EMO_LABELS_MAJORITY : EMO_LABELS_FER2013;
    if (labels) {
        if (strcmp(labels, "fer2013") == 0) lm = EMO_LABELS_FER2013;
        else if (strcmp(labels, "ferplus-majority") == 0 || strcmp(labels, "ferplus-soft") == 0) lm = EMO_LABELS_MAJORITY;
        else {
            fprintf(stderr, "emo eval: --labels wants fer2013, ferplus-majority or ferplus-soft, got '%s'\n", labels);
            return 2;
        }
    }
    if (lm != EMO_LABELS_FER2013 && !ferplus) {
        fprintf(stderr, "emo eval: --labels %s needs --ferplus VOTES\n", labels);
        return 2;
    }
    if (shift < 0 || shift > 16 || max_rows < 0 || threads < 0) {
        fprintf(stderr, "emo eval: --tta-shift wants 0..16, --max-rows and --threads >= 0\n");
        return 2;
    }
    if (plots && mkdir(plots, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "emo eval: cannot create %s: %s\n", plots, strerror(errno));
        return 1;
    }
    if (!data) return plot_curves(log, plots);
    emo_precision prec;
    if (cli_precision("eval", precision, &prec)) return 2;

    emo_model *m = NULL;
    emo_dataset ds = {0};
    int *rows = NULL, status = 1;
    uint8_t *views = NULL;
    emo_image *faces = NULL;
    float *probs = NULL;
    long long *conf = NULL;
    emo_image sized = {0}, crop = {0};
    FILE *pred = NULL;
    char path[1024];
    if (emo_default_model_path(model ? model : EMO_DEFAULT_MODEL, path, sizeof path) || emo_model_load(&m, path)) {
        cli_error("eval", "cannot load the model");
        goto done;
    }
    emo_model_set_threads(m, threads);
    if (emo_model_set_precision(m, prec)) {
        cli_error("eval", "--precision");
        goto done;
    }
    int K = emo_model_classes(m), W, H;
    emo_model_input_size(m, &W, &H);
    char classes[EMO_DATASET_MAX_CLASSES * EMO_CLASS_NAME_MAX + 16] = "";
    if (K > EMO_DATASET_MAX_CLASSES) {
        fprintf(stderr, "emo eval: the model has %d classes; datasets hold at most %d\n", K, EMO_DATASET_MAX_CLASSES);
        goto done;
    }
    for (int k = 0; k < K; k++) {
        if (k) strcat(classes, ",");
        strncat(classes, emo_model_class_name(m, k), EMO_CLASS_NAME_MAX - 1);
    }
    emo_dataset_params dp = emo_dataset_params_default();
    dp.labels = lm;
    dp.classes = classes;
    dp.threads = threads;
    dp.warn = warn_cb;
    if (emo_dataset_load(&ds, data, ferplus, &dp)) {
        cli_error("eval", "cannot load the data");
        goto done;
    }
    if (ds.skipped) fprintf(stderr, "emo eval: %s: skipped %d unreadable images\n", data, ds.skipped);
    if (sp != EMO_SPLIT_ANY && emo_dataset_rows(&ds, EMO_SPLIT_TRAIN, NULL, 0) == 0 &&
        emo_dataset_rows(&ds, EMO_SPLIT_VAL, NULL, 0) == 0 && emo_dataset_rows(&ds, EMO_SPLIT_TEST, NULL, 0) == 0) {
        /* no splits in the data: the same seeded split `emo train` makes */
        emo_dataset_split_random(&ds, (uint64_t)(uint32_t)seed, 0.8f, 0.1f);
    }
    int n = emo_dataset_rows(&ds, sp, NULL, 0);
    if (n == 0) {
        fprintf(stderr, "emo eval: %s: no rows in split %s\n", data, emo_split_name(sp));
        goto done;
    }
    rows = malloc((size_t)n * sizeof *rows);
    if (!rows) goto oom;
    emo_dataset_rows(&ds, sp, rows, n);
    if (max_rows && max_rows < n) n = max_rows;
    if (ttam == TTA_CROPS && !shift) shift = 2;
    int V = tta_view_count(ttam, shift);
    size_t fp = (size_t)W * H;
    views = malloc((size_t)CHUNK * V * fp);
    faces = calloc((size_t)CHUNK * V, sizeof *faces);
    probs = malloc((size_t)CHUNK * V * K * sizeof *probs);
    conf = calloc((size_t)K * K, sizeof *conf);
    if (!views || !faces || !probs || !conf) goto oom;
    if (pred_path && !(pred = fopen(pred_path, "w"))) {
        fprintf(stderr, "emo eval: cannot write %s: %s\n", pred_path, strerror(errno));
        goto done;
    }
    if (pred) {
        fprintf(pred, "row,label,predicted");
        for (int k = 0; k < K; k++) fprintf(pred, ",%s", emo_model_class_name(m, k));
        fprintf(pred, "\n");
    }
    if (!json) progress_start(n, "eval");
    for (int b = 0; b < n; b += CHUNK) {
        int c = n - b < CHUNK ? n - b : CHUNK;
        for (int i = 0; i < c; i++) {
            const uint8_t *px = ds.pixels + (size_t)rows[b + i] * EMO_DATA_PIXELS;
            if (W != EMO_DATA_SIDE || H != EMO_DATA_SIDE) {
                emo_image w48 = emo_image_wrap((uint8_t *)px, EMO_DATA_SIDE, EMO_DATA_SIDE, 1, EMO_DATA_SIDE);
                if (emo_image_resize(&w48, &sized, W, H, EMO_INTERP_LINEAR)) {
                    cli_error("eval", "resize");
                    goto done;
                }
                px = sized.data;
            }
            if (tta_make_views(px, W, H, ttam, shift, views + (size_t)i * V * fp, &crop)) {
                cli_error("eval", "resize");
                goto done;
            }
            for (int v = 0; v < V; v++) faces[i * V + v] = emo_image_wrap(views + ((size_t)i * V + v) * fp, W, H, 1, W);
        }
        if (emo_classify(m, faces, c * V, probs)) {
            cli_error("eval", "classification failed");
            goto done;
        }
        for (int i = 0; i < c; i++) {
            float avg[TRAIN_MAX_CLASSES] = {0};
            for (int v = 0; v < V; v++)
                for (int k = 0; k < K; k++) avg[k] += probs[((size_t)i * V + v) * K + k];
            int label = ds.labels[rows[b + i]], guess = train_argmax(avg, K);
            conf[(size_t)label * K + guess]++;
            if (pred) {
                fprintf(pred, "%d,%s,%s", rows[b + i], emo_model_class_name(m, label), emo_model_class_name(m, guess));
                for (int k = 0; k < K; k++) fprintf(pred, ",%.6f", avg[k] / V);
                fprintf(pred, "\n");
            }
        }
        if (!json) progress_update(b + c);
    }
    if (!json) progress_end();
    if (pred) {
        int bad = ferror(pred) | fclose(pred);
        pred = NULL;
        if (bad) {
            fprintf(stderr, "emo eval: writing %s failed\n", pred_path);
            goto done;
        }
    }

    train_metrics mt;
    train_metrics_compute(conf, K, &mt);
    const char *lname = lm == EMO_LABELS_FER2013 ? "fer2013" : "ferplus-majority";
    const char *tname = tta_name(ttam, shift);
    if (json) {
        printf("{\"model\":");
        json_print_str(stdout, path);
        printf(",\"data\":");
        json_print_str(stdout, data);
        printf(",\"split\":\"%s\",\"labels\":\"%s\",\"tta\":\"%s\",\"precision\":\"%s\",\"n\":%lld,\"accuracy\":%.6f,"
               "\"macro_f1\":%.6f,\"classes\":[",
               emo_split_name(sp), lname, tname, emo_precision_name(prec), mt.n, mt.accuracy, mt.macro_f1);
        for (int k = 0; k < K; k++) {
            if (k) printf(",");
            json_print_str(stdout, emo_model_class_name(m, k));
        }
        printf("],\"per_class\":{");
        for (int k = 0; k < K; k++) {
            if (k) printf(",");
            json_print_str(stdout, emo_model_class_name(m, k));
            printf(":{\"precision\":%.6f,\"recall\":%.6f,\"f1\":%.6f,\"support\":%lld}", mt.precision[k], mt.recall[k],
                   mt.f1[k], mt.support[k]);
        }
        printf("},\"confusion\":[");
        for (int i = 0; i < K; i++) {
            printf("%s[", i ? "," : "");
            for (int j = 0; j < K; j++) printf("%s%lld", j ? "," : "", conf[(size_t)i * K + j]);
            printf("]");
        }
        printf("]}\n");
    } else {
        printf("model %s\ndata %s, split %s, labels %s, tta %s, precision %s\n", path, data, emo_split_name(sp), lname,
               tname, emo_precision_name(prec));
        printf("n %lld  accuracy %.2f%%  macro-F1 %.4f\n\n", mt.n, 100 * mt.accuracy, mt.macro_f1);
        printf("%-12s %9s %9s %9s %8s\n", "class", "precision", "recall", "f1", "support");
        for (int k = 0; k < K; k++)
            printf("%-12s %9.4f %9.4f %9.4f %8lld\n", emo_model_class_name(m, k), mt.precision[k], mt.recall[k],
                   mt.f1[k], mt.support[k]);
        printf("\nconfusion (rows = true, columns = predicted)\n%-12s", "");
        for (int j = 0; j < K; j++) printf(" %8.8s", emo_model_class_name(m, j));
        printf("\n");
        for (int i = 0; i < K; i++) {
            printf("%-12s", emo_model_class_name(m, i));
            for (int j = 0; j < K; j++) printf(" %8lld", conf[(size_t)i * K + j]);
            printf("\n");
        }
    }
    if (plots) {
        double dc[32 * 32];
        const char *names[32];
        if (K > 32) {
            fprintf(stderr, "emo eval: --plots draws confusion matrices of at most 32 classes\n");
            goto done;
        }
        for (int i = 0; i < K * K; i++) dc[i] = (double)conf[i];
        for (int k = 0; k < K; k++) names[k] = emo_model_class_name(m, k);
        emo_image img = {0};
        char title[1400];
        snprintf(title, sizeof title, "%s, %s split, %.2f%% accuracy", strrchr(path, '/') ? strrchr(path, '/') + 1 : path,
                 emo_split_name(sp), 100 * mt.accuracy);
        int bad = emo_plot_confusion(&img, title, dc, K, names) ? cli_error("eval", "cannot plot the confusion matrix")
                                                                  : save_png(&img, plots, "confusion.png");
        emo_image_free(&img);
        if (bad) goto done;
        if (log && plot_curves(log, plots)) goto done;
    }
    status = 0;
    goto done;
oom:
    fprintf(stderr, "emo eval: out of memory\n");
done:
    if (pred) fclose(pred);
    emo_model_free(m);
    emo_dataset_free(&ds);
    free(rows);
    free(views);
    free(faces);
    free(probs);
    free(conf);
    emo_image_free(&sized);
    emo_image_free(&crop);
    return status;
}
