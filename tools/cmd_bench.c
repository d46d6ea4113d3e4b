/* cmd_bench.c — `emo bench WHAT ...`: speed measurements, one entry per area.
 * Each entry is `int fn(int argc, char **argv)` with argv[0] = WHAT, and ends
 * its output with one machine-readable line, `emo NAME MODE key=value ...`,
 * in the format of the PyTorch peer (../shared/peers/torch/bench.py). */
#include "bench_detect.h"
#include "bench_nn.h"
#include "bench_pipeline.h"
#include "bench_serve.h"
#include "cli.h"
#include "commands.h"

#include <string.h>

typedef struct bench_entry {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} bench_entry;

static const bench_entry benches[] = {
    {"detect", bench_detect, "face detection vs OpenCV detectMultiScale (--cascade C --threads 1,2)"},
    {"train", bench_nn_train, "CNN training steps/s (--net CFG --batch N --threads N --seconds S)"},
    {"pipeline", bench_pipeline, "decode+detect+classify+track fps on a video (--input F --threads N)"},
    {"classify", bench_nn_classify, "emo_classify faces/s (--net CFG|--model EMO --batch N --threads N)"},
    {"peak", bench_nn_peak, "FP32 FMA and bf16 matmul peak of one core now (the ceilings for the GFLOP/s above)"},
    {"serve", bench_serve, "web server load: N clients streaming 640x480 frames (--clients N --seconds S)"},
};

static void bench_usage(FILE *f) {
    fprintf(f, "usage: emo bench WHAT [OPTIONS]\n\nwhat:\n");
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
        fprintf(f, "  %-10s %s\n", benches[i].name, benches[i].help);
    fprintf(f, "\n`emo bench WHAT --help` lists its options.\n");
}

int cmd_bench(int argc, char **argv) {
    if (argc < 2) {
        bench_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        bench_usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
        if (strcmp(argv[1], benches[i].name) == 0) {
            static char full[64]; /* "bench train", so usage reads "emo bench train" */
            snprintf(full, sizeof full, "bench %s", benches[i].name);
            argv[1] = full;
            return benches[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "emo bench: unknown benchmark '%s'\n\n", argv[1]);
    bench_usage(stderr);
    return 2;
}
