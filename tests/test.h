/* test.h — the project's test harness: a table of named cases per file.
 *
 *   static void test_round_trip(void) { CHECK(x == 1); CHECK_EQ_INT(a, b); }
 *   static const test_case cases[] = {{"round_trip", test_round_trip}, ...};
 *   int main(int argc, char **argv) { return test_main(cases, TEST_COUNT(cases), argc, argv); }
 *
 * Each case prints "ok NAME" or "FAIL NAME" with every failed check (both
 * values); the program ends with "N passed, M failed" and exits non-zero on
 * any failure. `test_x NAME...` runs only the named cases.
 * Shared data: test_shared("media/faces/dogs.jpg") -> "$SHARED/media/...".
 * Scratch files go under test_tmpdir(), removed by tests/run.sh. */
#ifndef EMO_TEST_H
#define EMO_TEST_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct test_case {
    const char *name;
    void (*fn)(void);
} test_case;

#define TEST_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int test_failed_checks_;

#define TEST_FAIL_(...)                                                      \
    do {                                                                     \
        test_failed_checks_++;                                               \
        printf("    %s:%d: ", __FILE__, __LINE__);                           \
        printf(__VA_ARGS__);                                                 \
        printf("\n");                                                        \
    } while (0)

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) TEST_FAIL_("CHECK(%s) failed", #cond);                  \
    } while (0)
#define CHECK_MSG(cond, ...)                                                 \
    do {                                                                     \
        if (!(cond)) TEST_FAIL_(__VA_ARGS__);                                \
    } while (0)
#define CHECK_EQ_INT(a, b)                                                   \
    do {                                                                     \
        long long a_ = (long long)(a), b_ = (long long)(b);                  \
        if (a_ != b_) TEST_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);  \
    } while (0)
#define CHECK_NEAR(a, b, tol)                                                \
    do {                                                                     \
        double a_ = (double)(a), b_ = (double)(b);                           \
        if (!(fabs(a_ - b_) <= (tol)))                                       \
            TEST_FAIL_("%s ~ %s: %.9g vs %.9g (tol %g)", #a, #b, a_, b_, (double)(tol)); \
    } while (0)
#define CHECK_STR_CONTAINS(hay, needle)                                      \
    do {                                                                     \
        const char *h_ = (hay), *n_ = (needle);                              \
        if (!h_ || !strstr(h_, n_)) TEST_FAIL_("\"%s\" does not contain \"%s\"", h_ ? h_ : "(null)", n_); \
    } while (0)
/* A call that must succeed; prints emo_last_error() if it does not. */
#define CHECK_OK(call)                                                       \
    do {                                                                     \
        int s_ = (call);                                                     \
        if (s_ != 0) TEST_FAIL_("%s -> %d (%s)", #call, s_, emo_last_error()); \
    } while (0)

static inline const char *test_shared(const char *rel) {
    static char buf[8][1024];
    static int i;
    const char *root = getenv("SHARED");
    char *b = buf[i++ & 7];
    snprintf(b, sizeof buf[0], "%s/%s", root && *root ? root : "../shared", rel);
    return b;
}

static inline const char *test_tmpdir(void) {
    static char dir[512];
    if (!dir[0]) {
        const char *t = getenv("EMO_TEST_TMP");
        snprintf(dir, sizeof dir, "%s", t && *t ? t : "/tmp/emo-test");
        mkdir(dir, 0755);
    }
    return dir;
}

static inline const char *test_tmp(const char *name) {
    static char buf[8][1024];
    static int i;
    char *b = buf[i++ & 7];
    snprintf(b, sizeof buf[0], "%s/%s", test_tmpdir(), name);
    return b;
}

/* Runs `$BUILD/emo ARGS` (printf-style; BUILD defaults to build) through the
 * shell, its stdout and stderr captured in test_emo_output; returns the exit
 * status, or -1 if it did not exit normally. */
#define TEST_EMO_OUTPUT_CAP (1 << 16)
static inline char *test_emo_output_buf(void) {
    static char buf[TEST_EMO_OUTPUT_CAP];
    return buf;
}
#define test_emo_output (test_emo_output_buf())
static inline int test_run_emo(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int test_run_emo(const char *fmt, ...) {
    char args[4096], cmd[4200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    const char *b = getenv("BUILD");
    snprintf(cmd, sizeof cmd, "%s/emo %s 2>&1", b && *b ? b : "build", args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(test_emo_output, 1, TEST_EMO_OUTPUT_CAP - 1, p);
    test_emo_output[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline int test_main(const test_case *cases, int n, int argc, char **argv) {
    int passed = 0, failed = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < n; i++) {
        if (argc > 1) {
            int want = 0;
            for (int a = 1; a < argc; a++) want |= strcmp(argv[a], cases[i].name) == 0;
            if (!want) continue;
        }
        int before = test_failed_checks_;
        cases[i].fn();
        if (test_failed_checks_ == before) {
            passed++;
            printf("ok   %s\n", cases[i].name);
        } else {
            failed++;
            printf("FAIL %s\n", cases[i].name);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#endif
