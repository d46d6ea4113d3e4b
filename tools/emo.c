/* emo.c — the command-line program: dispatches to one subcommand per file. */
#include "cli.h"
#include "commands.h"

#include <stdbool.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} command;

static const command commands[] = {
    {"batch", cmd_batch, "many videos and photos to per-file CSV + JSON summaries; resumable, --jobs, --shard"},
    {"bench", cmd_bench, "speed: CNN training and classification (emo bench --help)"},
    {"camera", cmd_camera, "live emotions from a camera (window, or recording to video/CSV)"},
    {"convert", cmd_convert, "decode an image and write it again (grey, resized)"},
    {"data", cmd_data, "class counts per split of a training dataset; a grid of augmented samples"},
    {"detect", cmd_detect, "find faces with an OpenCV cascade: boxes as text or JSON, annotated image"},
    {"eval", cmd_eval, "accuracy, F1 and confusion matrix of a model on a dataset split"},
    {"image", cmd_image, "emotions of the faces in photos: annotated images, JSON or text"},
    {"report", cmd_report, "merge the summaries of emo batch into corpus CSV/JSON tables and an overview PNG"},
    {"serve", cmd_serve, "the live web demo and JSON API on http://127.0.0.1:2000/"},
    {"train", cmd_train, "train an emotion model (or fine-tune one) on FER2013/FER+ or your own data"},
    {"video", cmd_video, "emotions in a video file: annotated MP4, per-frame CSV, timeline plot"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: emo COMMAND [OPTIONS] [ARGS]\n\n"
               "Real-time facial emotion recognition.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n`emo COMMAND --help` describes a command. `emo --version` prints the version.\n");
}

/* Edit distance (insertions, deletions, substitutions, and swaps of two
 * neighbouring letters) between a and b, for the "did you mean" hint; names
 * longer than 31 bytes count as far from everything. */
static int edit_distance(const char *a, const char *b) {
    enum { N = 32 };
    size_t la = strlen(a), lb = strlen(b);
    if (la >= N || lb >= N) return N;
    int d[N][N];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1, best = sub < del ? sub : del;
            if (ins < best) best = ins;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

/* The command a mistyped name most likely meant: a prefix of one command
 * ("imag", "vid"), else the nearest within 2 edits (1 for short names).
 * NULL when none is close or two are equally close. */
static const char *nearest_command(const char *name) {
    const char *best = NULL;
    int best_d = 1000;
    bool tie = false;
    size_t len = strlen(name);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const char *c = commands[i].name;
        int d = len >= 2 && strncmp(c, name, len) == 0 ? 0 : edit_distance(name, c);
        if (d < best_d) best = c, best_d = d, tie = false;
        else if (d == best_d) tie = true;
    }
    int limit = len <= 4 ? 1 : 2;
    return best && !tie && best_d <= limit ? best : NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0) {
        printf("emo %s\n", emo_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(name, commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    const char *near = nearest_command(name);
    if (near) {
        fprintf(stderr, "emo: unknown command '%s'; did you mean 'emo %s'?\n", name, near);
        return 2;
    }
    fprintf(stderr, "emo: unknown command '%s'\n\n", name);
    usage(stderr);
    return 2;
}
