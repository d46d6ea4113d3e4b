/* cmd_data.c — `emo data PATH`: loads a training dataset as `emo train` would,
 * prints its classes per split and what was left out, and can draw a grid
 * of augmented samples to look at before training. */
#include "cli.h"
#include "commands.h"

#include <stdlib.h>
#include <string.h>

static void warn_cb(void *user, const char *msg) {
    (void)user;
    fprintf(stderr, "emo data: warning: %s\n", msg);
}

int cmd_data(int argc, char **argv) {
    const char *votes = NULL, *labels = "fer2013", *classes = NULL, *preview = NULL, *augment = "default";
    int seed = 1, nrows = 8, copies = 7, threads = 0;
    bool square = false;
    const cli_opt opts[] = {
        {"votes", 0, "FILE", "FER+ votes (fer2013new.csv) for a FER2013 CSV", .out_str = &votes},
        {"labels", 0, "fer2013|majority|soft", "label source (default fer2013; the others need --votes)",
         .out_str = &labels},
        {"classes", 'c', "LIST", "classes in output order, e.g. happy,sad,neutral,angry or neg=angry+sad,happy",
         .out_str = &classes},
        {"square-crop", 0, NULL, "centre-crop non-square images instead of stretching them", .out_flag = &square},
        {"seed", 0, "N", "seed of the 80/10/10 split for data without one, and of the preview (default 1)",
         .out_int = &seed},
        {"threads", 'j', "N", "image decoding threads (default 0 = all cores)", .out_int = &threads},
        {"preview", 'p', "OUT.png", "write a grid: originals, then augmented copies", .out_str = &preview},
        {"rows", 0, "N", "preview: training images, one per line (default 8)", .out_int = &nrows},
        {"copies", 0, "N", "preview: augmented copies per image (default 7)", .out_int = &copies},
        {"augment", 'a', "SPEC", "preview: default, none or key=value,... (rotate=15,erase=0)", .out_str = &augment},
        {0},
    };
    const char *usage = "PATH";
    const char *about = "Loads a dataset (FER2013 CSV[.gz], a folder per class, or a path,label CSV) and prints\n"
                        "its class counts per split. See docs/DATASETS.md.";
    int npos, r = cli_parse(argc, argv, opts, usage, about, &npos);
    if (r) return r == 1 ? 0 : r;
    if (npos != 1) {
        cli_usage(stderr, argv[0], opts, usage, NULL);
        return 2;
    }
    emo_dataset_params p = emo_dataset_params_default();
    if (strcmp(labels, "fer2013") == 0) p.labels = EMO_LABELS_FER2013;
    else if (strcmp(labels, "majority") == 0) p.labels = EMO_LABELS_MAJORITY;
    else if (strcmp(labels, "soft") == 0) p.labels = EMO_LABELS_SOFT;
    else {
        fprintf(stderr, "emo data: --labels wants fer2013, majority or soft, got '%s'\n", labels);
        return 2;
    }
    if (nrows < 1 || nrows > 1000 || copies < 0 || copies > 1000) {
        fprintf(stderr, "emo data: --rows wants 1..1000 and --copies 0..1000\n");
        return 2;
    }
    emo_augment aug;
    if (emo_augment_parse(augment, &aug)) return cli_error("data", "--augment");
    p.classes = classes;
    p.square_crop = square;
    p.threads = threads;
    p.warn = warn_cb;
    emo_dataset ds = {0};
    if (emo_dataset_load(&ds, argv[1], votes, &p)) return cli_error("data", "cannot load %s", argv[1]);
    bool own_split = emo_dataset_rows(&ds, EMO_SPLIT_NONE, NULL, 0) < ds.count;
    if (emo_dataset_rows(&ds, EMO_SPLIT_NONE, NULL, 0) > 0 && emo_dataset_split_random(&ds, (uint64_t)seed, 0.8f, 0.1f)) {
        emo_dataset_free(&ds);
        return cli_error("data", "cannot split");
    }

    printf("%s: %d images, %d classes, labels: %s\n", argv[1], ds.count, ds.nclasses,
           p.labels == EMO_LABELS_SOFT       ? "FER+ vote distributions (majority counted)"
           : p.labels == EMO_LABELS_MAJORITY ? "FER+ majority vote"
                                             : "the data's own");
    static const int splits[3] = {EMO_SPLIT_TRAIN, EMO_SPLIT_VAL, EMO_SPLIT_TEST};
    int counts[3][EMO_DATASET_MAX_CLASSES], totals[3];
    for (int s = 0; s < 3; s++) totals[s] = emo_dataset_class_counts(&ds, splits[s], counts[s]);
    printf("%-16s %8s %8s %8s %8s %7s\n", "class", "train", "val", "test", "total", "share");
    for (int c = 0; c < ds.nclasses; c++) {
        int t = counts[0][c] + counts[1][c] + counts[2][c];
        printf("%-16s %8d %8d %8d %8d %6.1f%%\n", ds.classes[c], counts[0][c], counts[1][c], counts[2][c], t,
               ds.count ? 100.0 * t / ds.count : 0.0);
    }
    printf("%-16s %8d %8d %8d %8d\n", "all", totals[0], totals[1], totals[2], ds.count);
    if (!own_split) printf("split: none in the data; seeded 80/10/10 per class (--seed %d)\n", seed);
    printf("left out: %d with a class not in the list, %d without FER+ votes, %d unreadable images\n",
           ds.dropped_class, ds.dropped_novotes, ds.skipped);

    int status = 0;
    if (preview) {
        /* Random training images (or any, if the training split is empty). */
        int split = totals[0] ? EMO_SPLIT_TRAIN : EMO_SPLIT_ANY;
        int n = emo_dataset_rows(&ds, split, NULL, 0);
        int *rows = malloc(sizeof(int) * (size_t)(n ? n : 1));
        emo_image grid = {0};
        if (!rows) {
            emo_dataset_free(&ds);
            return cli_error("data", "out of memory");
        }
        emo_dataset_rows(&ds, split, rows, n);
        emo_shuffle(rows, n, emo_seed_mix((uint64_t)seed, 0));
        if (emo_dataset_preview(&ds, rows, nrows < n ? nrows : n, copies, &aug, (uint64_t)seed, &grid) ||
            emo_image_save(&grid, preview, 92))
            status = cli_error("data", "cannot write the preview");
        else
            printf("preview: %s (%d images, original then %d augmented copies each)\n", preview,
                   nrows < n ? nrows : n, copies);
        emo_image_free(&grid);
        free(rows);
    }
    emo_dataset_free(&ds);
    return status;
}
