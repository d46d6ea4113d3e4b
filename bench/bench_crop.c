/* bench_crop.c — which face crop matches how FER2013 faces are framed?
 * Runs the pipeline over labelled real photos at several crop scales and
 * prints accuracy and macro recall per scale (docs/ACCURACY.md).
 *
 *   build/bench/bench_crop [--model M] [--labels ../shared/media/labelled-faces/labels.csv]
 *                          [--scales 0.8,0.9,1.0,1.1,1.2,1.3] [--limit N] [--align 0,1]
 *
 * --align runs each scale with the crop levelled by the eye line (1, needs
 * the landmark model) and/or without (0).
 *
 * A photo counts when the detector finds a face (the largest is used); photos
 * with no face are reported separately. Labels use emo's class names. */
#include "emo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 20000

typedef struct item {
    char path[1600];
    char label[32];
} item;

static int load_labels(const char *csv, item *items, int cap) {
    FILE *f = fopen(csv, "r");
    if (!f) return -1;
    char line[1024], dir[512];
    const char *slash = strrchr(csv, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - csv) : 1, slash ? csv : ".");
    int n = 0;
    while (n < cap && fgets(line, sizeof line, f)) {
        char *comma = strchr(line, ',');
        if (!comma) continue;
        *comma = 0;
        char *lab = comma + 1;
        lab[strcspn(lab, "\r\n")] = 0;
        if (strcmp(line, "path") == 0) continue; /* header */
        snprintf(items[n].path, sizeof items[n].path, "%s/%s", dir, line);
        snprintf(items[n].label, sizeof items[n].label, "%s", lab);
        n++;
    }
    fclose(f);
    return n;
}

int main(int argc, char **argv) {
    const char *model = NULL, *labels = "../shared/media/labelled-faces/labels.csv";
    const char *scales_s = "0.8,0.9,1.0,1.1,1.2,1.3,1.4";
    int limit = 0;
    const char *align_s = "0,1";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--labels") && i + 1 < argc) labels = argv[++i];
        else if (!strcmp(argv[i], "--scales") && i + 1 < argc) scales_s = argv[++i];
        else if (!strcmp(argv[i], "--limit") && i + 1 < argc) limit = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--align") && i + 1 < argc) align_s = argv[++i];
        else {
            fprintf(stderr, "usage: bench_crop [--model M] [--labels CSV] [--scales a,b,c] [--limit N] [--align 0,1]\n");
            return 2;
        }
    }
    static item items[MAX_ITEMS];
    int n = load_labels(labels, items, MAX_ITEMS);
    if (n <= 0) {
        fprintf(stderr, "bench_crop: cannot read %s\n", labels);
        return 1;
    }
    if (limit > 0 && limit < n) n = limit;
    float scales[32];
    int ns = 0;
    for (char *p = (char *)scales_s; *p && ns < 32;) {
        scales[ns++] = strtof(p, &p);
        if (*p == ',') p++;
    }
    emo_pipeline_params pp = emo_pipeline_params_default();
    pp.model = model;
    pp.smooth = 0;
    emo_pipeline *pl;
    if (emo_pipeline_open(&pl, &pp) != EMO_OK) {
        fprintf(stderr, "bench_crop: %s\n", emo_last_error());
        return 1;
    }
    const char *const *names;
    int k = emo_pipeline_classes(pl, &names);
    printf("model %s, %d photos from %s\n", emo_pipeline_model_path(pl), n, labels);
    if (*emo_pipeline_warning(pl)) fprintf(stderr, "bench_crop: %s\n", emo_pipeline_warning(pl));
    printf("%-6s %5s %8s %8s %10s %s\n", "scale", "align", "faces", "accuracy", "macro-rec", "per-class recall");
    emo_image img = {0};
    emo_face faces[32];
    for (int run = 0; run < ns * 2; run++) {
        int si = run / 2, align = run % 2;
        if (!strchr(align_s, '0' + align)) continue;
        pp.crop_scale = scales[si];
        pp.align = align;
        emo_pipeline_set(pl, &pp);
        int found = 0, right = 0, cls_n[16] = {0}, cls_right[16] = {0};
        for (int i = 0; i < n; i++) {
            int want = -1;
            for (int c = 0; c < k; c++)
                if (!strcmp(names[c], items[i].label)) want = c;
            if (want < 0 || emo_image_load(&img, items[i].path, 3) != EMO_OK) continue;
            emo_pipeline_reset(pl);
            int nf = emo_pipeline_process(pl, &img, faces, 32);
            if (nf <= 0) continue;
            int big = 0;
            for (int f = 1; f < nf && f < 32; f++)
                if (faces[f].box.w > faces[big].box.w) big = f;
            found++;
            cls_n[want]++;
            if (faces[big].label == want) right++, cls_right[want]++;
        }
        double macro = 0;
        int used = 0;
        char per[512] = "";
        for (int c = 0; c < k; c++) {
            if (!cls_n[c]) continue;
            double r = (double)cls_right[c] / cls_n[c];
            macro += r, used++;
            size_t len = strlen(per);
            snprintf(per + len, sizeof per - len, " %s %.2f", names[c], r);
        }
        printf("%-6.2f %5d %8d %7.1f%% %9.1f%% %s\n", scales[si], align, found, found ? 100.0 * right / found : 0,
               used ? 100 * macro / used : 0, per);
        fflush(stdout);
    }
    emo_image_free(&img);
    emo_pipeline_close(pl);
    return 0;
}
