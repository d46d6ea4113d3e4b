/* emo.c — the command-line program: dispatches to one subcommand per file. */
#include "cli.h"
#include "commands.h"

#include <string.h>

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} command;

static const command commands[] = {
    {"bench", cmd_bench, "speed: CNN training and classification (emo bench --help)"},
    {"camera", cmd_camera, "live emotions from a camera (window, or recording to video/CSV)"},
    {"convert", cmd_convert, "decode an image and write it again (grey, resized)"},
    {"data", cmd_data, "class counts per split of a training dataset; a grid of augmented samples"},
    {"detect", cmd_detect, "find faces with an OpenCV cascade: boxes as text or JSON, annotated image"},
    {"eval", cmd_eval, "accuracy, F1 and confusion matrix of a model on a dataset split"},
    {"image", cmd_image, "emotions of the faces in photos: annotated images, JSON or text"},
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
    fprintf(stderr, "emo: unknown command '%s'\n\n", name);
    usage(stderr);
    return 2;
}
