/* bench_data.c — dataset loading and batch assembly speed (src/data.c).
 *
 *   build/bench/bench_data [FER2013.csv.gz [fer2013new.csv]]   (default: $SHARED/datasets/fer2013)
 *
 * Prints the median of 3 runs of: the FER2013 csv.gz load (hard labels and
 * FER+ soft labels), zlib inflate alone (the floor: the text must be
 * inflated), the Python peer (bench/peer_data_load.py: gzip + csv + numpy, as
 * PyTorch training scripts do) once, and batch assembly of 256-image batches
 * with the default augmentation on 1 and all threads. */
#include "emo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median3(double v[3]) {
    qsort(v, 3, sizeof v[0], cmp_double);
    return v[1];
}

/* Seconds to inflate the whole file (gzread into a scratch buffer). */
static double inflate_only(const char *path) {
    double t0 = now_s();
    gzFile g = gzopen(path, "rb");
    if (!g) return -1;
    gzbuffer(g, 1 << 20);
    static char buf[1 << 20];
    while (gzread(g, buf, sizeof buf) > 0) {}
    gzclose(g);
    return now_s() - t0;
}

int main(int argc, char **argv) {
    const char *shared = getenv("SHARED");
    char csv[1024], votes[1024];
    snprintf(csv, sizeof csv, "%s/datasets/fer2013/fer2013.csv.gz", shared && *shared ? shared : "../shared");
    snprintf(votes, sizeof votes, "%s/datasets/fer2013/fer2013new.csv", shared && *shared ? shared : "../shared");
    if (argc > 1) snprintf(csv, sizeof csv, "%s", argv[1]);
    if (argc > 2) snprintf(votes, sizeof votes, "%s", argv[2]);

    emo_dataset ds = {0};
    emo_dataset_params p = emo_dataset_params_default();
    double t_hard[3], t_soft[3], t_inflate[3];
    for (int i = 0; i < 3; i++) {
        t_inflate[i] = inflate_only(csv);
        double t0 = now_s();
        p.labels = EMO_LABELS_SOFT;
        if (emo_dataset_load_fer2013(&ds, csv, votes, &p)) {
            fprintf(stderr, "bench_data: %s\n", emo_last_error());
            return 1;
        }
        t_soft[i] = now_s() - t0;
        t0 = now_s();
        p.labels = EMO_LABELS_FER2013;
        if (emo_dataset_load_fer2013(&ds, csv, NULL, &p)) {
            fprintf(stderr, "bench_data: %s\n", emo_last_error());
            return 1;
        }
        t_hard[i] = now_s() - t0;
    }
    printf("FER2013 csv.gz, %d rows (1 thread):\n", ds.count);
    printf("  %-34s %7.3f s\n", "zlib inflate alone (floor)", median3(t_inflate));
    printf("  %-34s %7.3f s\n", "emo load, FER2013 labels", median3(t_hard));
    printf("  %-34s %7.3f s\n", "emo load, FER+ soft labels", median3(t_soft));
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 bench/peer_data_load.py '%s' 2>/dev/null", csv);
    FILE *f = popen(cmd, "r");
    double t_peer = 0;
    int peer_rows = 0;
    if (f && fscanf(f, "%lf %d", &t_peer, &peer_rows) == 2 && peer_rows == ds.count)
        printf("  %-34s %7.3f s  (emo is %.1fx faster)\n", "Python gzip+csv+numpy peer", t_peer,
               t_peer / median3(t_hard));
    else
        printf("  Python peer: not run (needs /usr/bin/python3 with numpy, from the repo root)\n");
    if (f) pclose(f);

    /* Batch assembly: one epoch of the training split in batches of 256. */
    int n = emo_dataset_rows(&ds, EMO_SPLIT_TRAIN, NULL, 0), B = 256;
    int *rows = malloc(sizeof(int) * (size_t)n), *y = malloc(sizeof(int) * B);
    float *x = malloc(sizeof(float) * (size_t)B * EMO_DATA_PIXELS);
    emo_dataset_rows(&ds, EMO_SPLIT_TRAIN, rows, n);
    emo_augment aug = emo_augment_default();
    printf("batches of %d, default augmentation, %d training images:\n", B, n);
    for (int threads = 1; threads <= 2; threads++) {
        double t[3];
        for (int k = 0; k < 3; k++) {
            double t0 = now_s();
            emo_shuffle(rows, n, emo_seed_mix(1, (uint64_t)k));
            for (int b = 0; b + B <= n; b += B)
                emo_dataset_batch(&ds, rows + b, B, &aug, emo_seed_mix(1, (uint64_t)k), 0.5f, 0.25f, x, y, NULL,
                                  threads == 1 ? 1 : 0);
            t[k] = now_s() - t0;
        }
        double m = median3(t);
        printf("  %-34s %7.3f s  (%.0f images/s, %.1f us/image)\n", threads == 1 ? "1 thread" : "all threads", m,
               (n / B * B) / m, m / (n / B * B) * 1e6);
    }
    free(rows);
    free(y);
    free(x);
    emo_dataset_free(&ds);
    return 0;
}
