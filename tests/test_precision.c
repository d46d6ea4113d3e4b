/* test_precision.c — --precision as a user meets it: bf16 refused with a
 * clear message where it cannot run (oneDNN held below AVX512-BF16 with
 * ONEDNN_MAX_CPU_ISA, as on a CPU without it), auto falling back to fp32
 * there, and the shipped models labelling FER2013 PublicTest the same in bf16
 * as in fp32 (at most 0.3% of the faces may change). Runs $BUILD/emo. */
#include "emo.h"
#include "test.h"

/* Runs emo with oneDNN held below AVX512-BF16. */
#define run_no_bf16(...) (setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE", 1), run_then_unset(test_run_emo(__VA_ARGS__)))
static int run_then_unset(int rc) {
    unsetenv("ONEDNN_MAX_CPU_ISA");
    return rc;
}

static int bf16_runs_here(void) {
    const char *why = NULL;
    if (emo_bf16_isa(&why)) return 1;
    printf("note: bf16 not run here: %s\n", why);
    return 0;
}

static void test_bad_values(void) {
    CHECK_EQ_INT(test_run_emo("bench classify --precision fp16 --seconds 0.1"), 2);
    CHECK_STR_CONTAINS(test_emo_output, "--precision fp16: expected auto, fp32 or bf16");
    CHECK_EQ_INT(test_run_emo("image --precision %s", test_shared("media/expressions/happy.jpg")), 2);
    CHECK_EQ_INT(test_run_emo("train --precision BF16 --data x.csv"), 2);
    CHECK_STR_CONTAINS(test_emo_output, "expected auto, fp32 or bf16");
}

/* Without bf16: --precision bf16 is an error naming the cause, on every
 * command that runs a network; auto runs fp32. */
static void test_bf16_unavailable(void) {
    const char *cmds[] = {"bench classify --seconds 0.1 --warmup 0",
                          "bench train --seconds 0.1",
                          "eval --model models/ferplus.emo --data /nonexistent.csv",
                          "image /nonexistent.jpg",
                          "video /nonexistent.mp4 --csv /dev/null",
                          "serve --port 0"};
    for (int i = 0; i < 6; i++) {
        int rc = run_no_bf16("%s --precision bf16", cmds[i]);
        CHECK_MSG(rc == 2, "emo %s --precision bf16: exit %d\n%s", cmds[i], rc, test_emo_output);
        CHECK_STR_CONTAINS(test_emo_output, "--precision bf16: oneDNN is limited below AVX512-BF16");
        CHECK_STR_CONTAINS(test_emo_output, "use --precision fp32");
    }
    CHECK_EQ_INT(run_no_bf16("bench classify --seconds 0.2 --warmup 0 --batch 8"), 0);
    CHECK_STR_CONTAINS(test_emo_output, "dtype=fp32");
    CHECK_EQ_INT(run_no_bf16("bench peak --seconds 0.1"), 0);
    CHECK_STR_CONTAINS(test_emo_output, "bf16: oneDNN is limited below AVX512-BF16");
    if (!bf16_runs_here()) return;
    CHECK_EQ_INT(test_run_emo("bench classify --seconds 0.2 --warmup 0 --batch 8"), 0);
    CHECK_STR_CONTAINS(test_emo_output, "dtype=bf16");
    CHECK_EQ_INT(test_run_emo("bench peak --seconds 0.1"), 0);
    CHECK_STR_CONTAINS(test_emo_output, "emo bf16 matmul peak threads=1");
}

/* The same photo in both precisions: the same face, the same label, scores
 * within 0.02. */
static void test_image_both_ways(void) {
    if (!bf16_runs_here()) return;
    static char out32[TEST_EMO_OUTPUT_CAP];
    const char *img = test_shared("media/expressions/surprised.jpg");
    CHECK_EQ_INT(test_run_emo("image --json --threads 1 --precision fp32 %s", img), 0);
    memcpy(out32, test_emo_output, sizeof out32);
    CHECK_EQ_INT(test_run_emo("image --json --threads 1 --precision bf16 %s", img), 0);
    const char *a = strstr(out32, "\"emotion\":"), *b = strstr(test_emo_output, "\"emotion\":");
    CHECK(a && b);
    if (!a || !b) return;
    CHECK_MSG(strncmp(a, b, 20) == 0, "fp32 %.20s, bf16 %.20s", a, b);
    const char *box32 = strstr(out32, "\"box\":"), *box16 = strstr(test_emo_output, "\"box\":");
    CHECK(box32 && box16 && strncmp(box32, box16, (size_t)(strchr(box32, ']') - box32)) == 0);
    const char *names[] = {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"};
    for (int k = 0; k < 7; k++) {
        char key[32];
        snprintf(key, sizeof key, "\"%s\":", names[k]);
        const char *x = strstr(a, key), *y = strstr(b, key);
        CHECK_MSG(x && y, "no %s in the scores", key);
        if (x && y) CHECK_NEAR(atof(x + strlen(key)), atof(y + strlen(key)), 0.02);
    }
}

/* Reads the `predicted` column of an `emo eval --predictions` file. */
static int read_predictions(const char *path, char (*pred)[16], int cap) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512];
    int n = 0;
    if (!fgets(line, sizeof line, f)) n = -1;
    while (n >= 0 && n < cap && fgets(line, sizeof line, f)) {
        char *c1 = strchr(line, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL, *c3 = c2 ? strchr(c2 + 1, ',') : NULL;
        if (!c3 || c3 - c2 - 1 >= 16) break;
        snprintf(pred[n++], 16, "%.*s", (int)(c3 - c2 - 1), c2 + 1);
    }
    fclose(f);
    return n;
}

static void test_shipped_models_agree(void) {
    if (!bf16_runs_here()) return;
    enum { CAP = 4000 };
    static char p32[CAP][16], p16[CAP][16];
    const char *models[] = {"ferplus", "fer2013"};
    for (int m = 0; m < 2; m++) {
        for (int k = 0; k < 2; k++) {
            const char *prec = k ? "bf16" : "fp32";
            int rc = test_run_emo("eval --model models/%s.emo --data %s --threads 1 --precision %s --json "
                                  "--predictions %s/pred-%s.csv",
                                  models[m], test_shared("datasets/fer2013/fer2013.csv.gz"), prec, test_tmpdir(), prec);
            CHECK_MSG(rc == 0, "eval %s %s: exit %d\n%s", models[m], prec, rc, test_emo_output);
            CHECK_STR_CONTAINS(test_emo_output, k ? "\"precision\":\"bf16\"" : "\"precision\":\"fp32\"");
        }
        int n32 = read_predictions(test_tmp("pred-fp32.csv"), p32, CAP);
        int n16 = read_predictions(test_tmp("pred-bf16.csv"), p16, CAP);
        CHECK_MSG(n32 > 3500, "%d predictions", n32); /* 3,576 of the 3,589 PublicTest rows here */
        CHECK_EQ_INT(n16, n32);
        int changed = 0;
        for (int i = 0; i < n32 && i < n16; i++) changed += strcmp(p32[i], p16[i]) != 0;
        printf("%s: %d of %d PublicTest labels differ between fp32 and bf16\n", models[m], changed, n32);
        CHECK_MSG(changed * 1000 <= 3 * n32, "%s: %d of %d labels changed (> 0.3%%)", models[m], changed, n32);
    }
}

int main(int argc, char **argv) {
    static const test_case cases[] = {
        {"bad_values", test_bad_values},
        {"bf16_unavailable", test_bf16_unavailable},
        {"image_both_ways", test_image_both_ways},
        {"shipped_models_agree", test_shipped_models_agree},
    };
    return test_main(cases, TEST_COUNT(cases), argc, argv);
}
