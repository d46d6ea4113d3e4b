/* test_data.c — datasets (src/data.c): FER2013 + FER+ on the real files,
 * folder trees and index CSVs from media/labelled-faces, every kind of bad
 * input, splits, augmentation and batches.
 *
 * EMO_DATA_PREVIEW=/tmp/aug.png build/tests/test_data preview
 * writes a grid of augmented FER2013 faces to look at. */
#include "emo.h"
#include "test.h"

#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <zlib.h>

#define FER_CSV "datasets/fer2013/fer2013.csv.gz"
#define FER_VOTES "datasets/fer2013/fer2013new.csv"
#define FACES "media/labelled-faces"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        printf("    cannot write %s\n", path);
        return;
    }
    fputs(text, f);
    fclose(f);
}

/* Collects warnings from the loaders. */
typedef struct warnings {
    int n;
    char first[512];
} warnings;

static void on_warn(void *user, const char *msg) {
    warnings *w = user;
    if (w->n++ == 0) snprintf(w->first, sizeof w->first, "%s", msg);
}

/* ------------------------------------------------------------------------ */
/* Synthetic FER2013 CSVs                                                   */
/* ------------------------------------------------------------------------ */

/* A growing string. */
typedef struct sbuf {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->n + (size_t)k + 1 > b->cap) {
        b->cap = (b->n + (size_t)k + 1) * 2;
        b->s = realloc(b->s, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

/* Pixel i of synthetic row r. */
static int synth_px(int r, int i) { return (r * 31 + i * 7 + (i / 48) * 3) % 256; }

/* One FER2013 data row: label, npix pixels, usage; `bad` replaces pixel 5. */
static void fer_row(sbuf *b, const char *label, int r, int npix, const char *usage, const char *bad) {
    sb_add(b, "%s,", label);
    for (int i = 0; i < npix; i++) {
        if (i == 5 && bad) sb_add(b, "%s%s", i ? " " : "", bad);
        else sb_add(b, "%s%d", i ? " " : "", synth_px(r, i));
    }
    if (usage) sb_add(b, ",%s", usage);
    sb_add(b, "\n");
}

/* A valid CSV of n rows, labels r % 7, Training except every 5th PublicTest. */
static char *fer_csv(int n) {
    sbuf b = {0};
    sb_add(&b, "emotion,pixels,Usage\n");
    for (int r = 0; r < n; r++) {
        char lab[16];
        snprintf(lab, sizeof lab, "%d", r % 7);
        fer_row(&b, lab, r, 2304, r % 5 == 4 ? "PublicTest" : "Training", NULL);
    }
    return b.s;
}

/* Votes for n rows: row r puts 6 votes on FER class r % 7 and 4 on contempt. */
static char *votes_csv(int n, int rows_wanted) {
    /* FER+ column order: neutral,happiness,surprise,sadness,anger,disgust,fear. */
    static const int col_of_fer[7] = {4, 5, 6, 1, 3, 2, 0};
    sbuf b = {0};
    sb_add(&b, "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n");
    for (int r = 0; r < rows_wanted; r++) {
        int v[10] = {0};
        v[col_of_fer[r % 7]] = 6;
        v[7] = 4;
        if (r == 3) memset(v, 0, sizeof v), v[8] = 10; /* all unknown: dropped */
        sb_add(&b, "%s,fer%07d.png", r % 5 == 4 ? "PublicTest" : "Training", r);
        for (int k = 0; k < 10; k++) sb_add(&b, ",%d", v[k]);
        sb_add(&b, "\n");
    }
    (void)n;
    return b.s;
}

static void write_gz(const char *path, const char *text) {
    gzFile g = gzopen(path, "wb");
    gzwrite(g, text, (unsigned)strlen(text));
    gzclose(g);
}

/* Loads csv (text) written to a temp file; returns the status. */
static int load_fer_text(emo_dataset *ds, const char *text, const char *votes_text, emo_label_mode mode,
                         const char *classes) {
    const char *csv = test_tmp("bad.csv"), *votes = test_tmp("bad_votes.csv");
    write_text(csv, text);
    if (votes_text) write_text(votes, votes_text);
    emo_dataset_params p = emo_dataset_params_default();
    p.labels = mode;
    p.classes = classes;
    return emo_dataset_load_fer2013(ds, csv, votes_text ? votes : NULL, &p);
}

/* ------------------------------------------------------------------------ */
/* Real FER2013                                                             */
/* ------------------------------------------------------------------------ */

static void test_fer2013_real(void) {
    emo_dataset ds = {0};
    double t0 = now_s();
    CHECK_OK(emo_dataset_load_fer2013(&ds, test_shared(FER_CSV), NULL, NULL));
    printf("    FER2013 csv.gz loaded in %.2f s\n", now_s() - t0);
    CHECK_EQ_INT(ds.count, 32105);
    CHECK_EQ_INT(ds.nclasses, 7);
    CHECK(ds.soft == NULL);
    CHECK_EQ_INT(emo_dataset_rows(&ds, EMO_SPLIT_TRAIN, NULL, 0), 28529);
    CHECK_EQ_INT(emo_dataset_rows(&ds, EMO_SPLIT_VAL, NULL, 0), 3576);
    CHECK_EQ_INT(emo_dataset_rows(&ds, EMO_SPLIT_TEST, NULL, 0), 0);
    /* README: angry 3964, disgust 435, fear 4077, happy 7181, sad 4793,
     * surprise 3154, neutral 4925 (Training). */
    static const int want[7] = {3964, 435, 4077, 7181, 4793, 3154, 4925};
    int counts[EMO_DATASET_MAX_CLASSES];
    CHECK_EQ_INT(emo_dataset_class_counts(&ds, EMO_SPLIT_TRAIN, counts), 28529);
    for (int c = 0; c < 7; c++) CHECK_EQ_INT(counts[c], want[c]);
    CHECK(strcmp(ds.classes[3], "happy") == 0);
    if (ds.count > 0) {
        /* First row: "0,70 80 82 72 58 58 60 63 54 58 ...,Training" */
        static const uint8_t first[10] = {70, 80, 82, 72, 58, 58, 60, 63, 54, 58};
        CHECK(memcmp(ds.pixels, first, 10) == 0);
        CHECK_EQ_INT(ds.labels[0], 0);
        CHECK_EQ_INT(ds.line[0], 2);
        CHECK_EQ_INT(ds.line[ds.count - 1], 32106);
        CHECK_EQ_INT(ds.split[ds.count - 1], EMO_SPLIT_VAL);
    }
    emo_dataset_free(&ds);
    CHECK(ds.pixels == NULL && ds.count == 0);
}

/* Compares a FER+ load with tests/data/dataset/ferplus_labels.txt (made by
 * tests/ref/make_data_refs.py). */
static void check_ferplus(const char *classes_spec, const char *golden_name) {
    emo_dataset ds = {0};
    emo_dataset_params p = emo_dataset_params_default();
    p.labels = EMO_LABELS_SOFT;
    p.classes = classes_spec;
    CHECK_OK(emo_dataset_load_fer2013(&ds, test_shared(FER_CSV), test_shared(FER_VOTES), &p));
    FILE *f = fopen("tests/data/dataset/ferplus_labels.txt", "r");
    CHECK_MSG(f != NULL, "tests/data/dataset/ferplus_labels.txt missing (run from the repo root)");
    if (!f || ds.count == 0) {
        if (f) fclose(f);
        emo_dataset_free(&ds);
        return;
    }
    /* Dataset row of each CSV data row (-1 when dropped). */
    int nrows = 32105, *row_of = malloc(sizeof(int) * (size_t)nrows);
    for (int i = 0; i < nrows; i++) row_of[i] = -1;
    for (int i = 0; i < ds.count; i++) row_of[ds.line[i] - 2] = i;
    char *line = malloc(1 << 17);
    int majority_lines = 0, soft_lines = 0, dropped = 0, mismatches = 0;
    while (fgets(line, 1 << 17, f)) {
        char kind[16], name[256];
        int off = 0;
        if (line[0] == '#' || sscanf(line, "%15s %255s %n", kind, name, &off) < 2) continue;
        if (strcmp(name, golden_name) != 0) continue;
        const char *rest = line + off;
        if (strcmp(kind, "majority") == 0) {
            majority_lines++;
            for (int i = 0; i < nrows && rest[i] && rest[i] != '\n'; i++) {
                int want = rest[i] == '-' ? -1 : rest[i] - '0';
                int got = row_of[i] < 0 ? -1 : ds.labels[row_of[i]];
                dropped += want < 0;
                if (want != got && mismatches++ < 5) CHECK_MSG(0, "data row %d: label %d, golden %d", i, got, want);
            }
        } else if (strcmp(kind, "soft") == 0) {
            soft_lines++;
            int r, k;
            if (sscanf(rest, "%d %n", &r, &k) != 1) continue;
            rest += k;
            if (*rest == '-') {
                CHECK_MSG(row_of[r] < 0, "data row %d should be dropped (no votes)", r);
                continue;
            }
            CHECK_MSG(row_of[r] >= 0, "data row %d dropped, golden has votes", r);
            if (row_of[r] < 0) continue;
            for (int c = 0; c < ds.nclasses; c++) {
                float want = strtof(rest, (char **)&rest);
                CHECK_NEAR(ds.soft[(size_t)row_of[r] * ds.nclasses + c], want, 1e-6);
            }
        }
    }
    CHECK_EQ_INT(majority_lines, 1);
    CHECK(soft_lines >= 10);
    CHECK_EQ_INT(mismatches, 0);
    CHECK_EQ_INT(ds.dropped_novotes, dropped);
    CHECK_EQ_INT(ds.count + ds.dropped_novotes, nrows);
    for (int i = 0; i < ds.count; i += 97) {
        double sum = 0;
        for (int c = 0; c < ds.nclasses; c++) sum += ds.soft[(size_t)i * ds.nclasses + c];
        CHECK_NEAR(sum, 1.0, 1e-5);
    }
    printf("    %s: %d rows, %d dropped without votes\n", golden_name, ds.count, ds.dropped_novotes);
    free(line);
    free(row_of);
    fclose(f);
    emo_dataset_free(&ds);
}

static void test_ferplus_golden(void) {
    check_ferplus(NULL, "angry,disgust,fear,happy,sad,surprise,neutral");
    check_ferplus("Happiness, sadness ,neutral,ANGER", "happy,sad,neutral,angry");
}

/* ------------------------------------------------------------------------ */
/* Synthetic FER2013: formats, classes, bad input                           */
/* ------------------------------------------------------------------------ */

static void test_fer_small_plain_and_gzip(void) {
    char *text = fer_csv(20);
    const char *plain = test_tmp("small.csv"), *gz = test_tmp("small.csv.gz");
    write_text(plain, text);
    write_gz(gz, text);
    emo_dataset a = {0}, b = {0};
    CHECK_OK(emo_dataset_load_fer2013(&a, plain, NULL, NULL));
    CHECK_OK(emo_dataset_load(&b, gz, NULL, NULL)); /* auto-detected as FER2013 */
    CHECK_EQ_INT(a.count, 20);
    CHECK_EQ_INT(b.count, 20);
    if (a.count == 20 && b.count == 20) {
        CHECK(memcmp(a.pixels, b.pixels, 20 * 2304) == 0);
        CHECK(memcmp(a.labels, b.labels, 20 * sizeof(int)) == 0);
        CHECK_EQ_INT(a.pixels[7 * 2304 + 100], synth_px(7, 100));
        CHECK_EQ_INT(a.labels[9], 2);
        CHECK_EQ_INT(a.split[4], EMO_SPLIT_VAL);
        CHECK_EQ_INT(a.split[5], EMO_SPLIT_TRAIN);
    }
    emo_dataset_free(&b);
    /* CRLF line ends, no trailing newline, quoted header, columns reordered,
     * no Usage column. */
    sbuf s = {0};
    sb_add(&s, "\"pixels\", emotion\r\n");
    for (int r = 0; r < 7; r++) {
        sbuf row = {0};
        char lab[16];
        snprintf(lab, sizeof lab, "%d", r);
        fer_row(&row, lab, r, 2304, NULL, NULL);
        /* move the label behind the pixels */
        char *comma = strchr(row.s, ',');
        row.s[strlen(row.s) - 1] = 0;
        sb_add(&s, "%s,%.*s%s", comma + 1, (int)(comma - row.s), row.s, r < 6 ? "\r\n" : "");
        free(row.s);
    }
    write_text(plain, s.s);
    CHECK_OK(emo_dataset_load_fer2013(&b, plain, NULL, NULL));
    CHECK_EQ_INT(b.count, 7);
    if (b.count == 7) {
        CHECK_EQ_INT(b.labels[6], 6);
        CHECK_EQ_INT(b.split[0], EMO_SPLIT_NONE);
        CHECK(memcmp(a.pixels + 3 * 2304, b.pixels + 3 * 2304, 2304) == 0);
    }
    free(s.s);
    emo_dataset_free(&a);
    emo_dataset_free(&b);
    free(text);
}

static void test_fer_classes(void) {
    char *text = fer_csv(70), *votes = votes_csv(70, 70);
    emo_dataset ds = {0};
    /* A 4-class model in the given order: rows of other classes dropped. */
    CHECK_OK(load_fer_text(&ds, text, NULL, EMO_LABELS_FER2013, "happy,sad,neutral,angry"));
    CHECK_EQ_INT(ds.nclasses, 4);
    CHECK_EQ_INT(ds.count, 40);
    CHECK_EQ_INT(ds.dropped_class, 30);
    if (ds.count == 40) {
        CHECK(strcmp(ds.classes[0], "happy") == 0 && strcmp(ds.classes[3], "angry") == 0);
        CHECK_EQ_INT(ds.labels[0], 3); /* row 0 is FER 0 = angry -> class 3 */
        CHECK_EQ_INT(ds.line[1], 5);   /* next kept: row 3 (happy), line 5 */
        CHECK_EQ_INT(ds.labels[1], 0);
    }
    /* Merging: negative = angry + disgust + fear + sad. */
    CHECK_OK(load_fer_text(&ds, text, NULL, EMO_LABELS_FER2013, "negative=angry+disgust+fear+sad, happy"));
    CHECK_EQ_INT(ds.nclasses, 2);
    int counts[EMO_DATASET_MAX_CLASSES];
    emo_dataset_class_counts(&ds, EMO_SPLIT_ANY, counts);
    CHECK_EQ_INT(counts[0], 40);
    CHECK_EQ_INT(counts[1], 10);
    CHECK(strcmp(ds.classes[0], "negative") == 0);
    /* FER+ votes: 6 for the row's class, 4 contempt (dropped -> 1.0). */
    CHECK_OK(load_fer_text(&ds, text, votes, EMO_LABELS_SOFT, NULL));
    CHECK_EQ_INT(ds.count, 69);
    CHECK_EQ_INT(ds.dropped_novotes, 1);
    if (ds.count == 69) {
        CHECK_EQ_INT(ds.labels[4], 5); /* data row 5; row 3 had no votes left */
        CHECK_NEAR(ds.soft[4 * 7 + 5], 1.0, 0);
    }
    /* With contempt selected its votes count: 6 vs 4. */
    CHECK_OK(load_fer_text(&ds, text, votes, EMO_LABELS_SOFT, "happy,contempt"));
    CHECK_EQ_INT(ds.nclasses, 2);
    if (ds.count > 0) {
        /* row 0 is angry: only contempt's 4 votes are left */
        CHECK_EQ_INT(ds.labels[0], 1);
        CHECK_NEAR(ds.soft[1], 1.0, 0);
        /* first happy row (3 is dropped: all unknown), row 10 */
        int r = -1;
        for (int i = 0; i < ds.count && r < 0; i++)
            if (ds.line[i] == 12) r = i;
        CHECK(r >= 0);
        if (r >= 0) CHECK_NEAR(ds.soft[r * 2 + 0], 0.6, 1e-6);
    }
    /* Majority mode keeps no distribution. */
    CHECK_OK(load_fer_text(&ds, text, votes, EMO_LABELS_MAJORITY, NULL));
    CHECK(ds.soft == NULL);
    CHECK_EQ_INT(ds.count, 69);
    /* Bad class lists. */
    static const struct {
        const char *spec, *msg;
    } bad[] = {
        {"happy,happy", "listed twice"},
        {"happy,happiness", "listed twice"},
        {"happy,cat", "'cat' is not in FER2013's labels"},
        {"happy,contempt", "'contempt' is not in FER2013's labels"},
        {"happy,,sad", "bad class name"},
        {"x=happy+", "bad class name"},
        {"a=happy,b=happy", "listed twice"},
        {"a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", "more than 16 classes"},
    };
    for (int i = 0; i < TEST_COUNT(bad); i++) {
        int s = load_fer_text(&ds, text, NULL, EMO_LABELS_FER2013, bad[i].spec);
        CHECK_MSG(s < 0, "classes \"%s\" accepted", bad[i].spec);
        CHECK_STR_CONTAINS(emo_last_error(), bad[i].msg);
        CHECK_EQ_INT(ds.count, 0);
    }
    /* An empty class is an error. */
    char *few = fer_csv(3); /* labels 0, 1, 2 only */
    CHECK(load_fer_text(&ds, few, NULL, EMO_LABELS_FER2013, NULL) == EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "class 'happy' has no rows");
    free(few);
    emo_dataset_free(&ds);
    free(text);
    free(votes);
}

static void test_fer_bad_input(void) {
    emo_dataset ds = {0};
    sbuf good = {0};
    sb_add(&good, "emotion,pixels,Usage\n");
    for (int r = 0; r < 7; r++) {
        char lab[16];
        snprintf(lab, sizeof lab, "%d", r);
        fer_row(&good, lab, r, 2304, "Training", NULL);
    }
    struct {
        const char *what, *label, *usage, *bad, *msg;
        int npix, status;
    } rows[] = {
        {"ragged", "3", NULL, NULL, "line 10: 2 fields, expected 3", 2304, EMO_EFORMAT},
        {"short", "3", "Training", NULL, "line 10: 2303 pixel values, expected 2304", 2303, EMO_EFORMAT},
        {"long", "3", "Training", NULL, "line 10: 2305 pixel values", 2305, EMO_EFORMAT},
        {"big pixel", "3", "Training", "256", "line 10: pixel 6 is above 255", 2304, EMO_EFORMAT},
        {"not a number", "3", "Training", "12a", "line 10: pixel 6 is not a number", 2304, EMO_EFORMAT},
        {"negative", "3", "Training", "-1", "line 10: pixel 6 is not a number", 2304, EMO_EFORMAT},
        {"label 7", "7", "Training", NULL, "line 10: emotion '7' is out of range", 2304, EMO_EFORMAT},
        {"label -1", "-1", "Training", NULL, "line 10: emotion '-1' is out of range", 2304, EMO_EFORMAT},
        {"label x", "x", "Training", NULL, "line 10: emotion 'x' is out of range", 2304, EMO_EFORMAT},
        {"usage", "3", "Trainingg", NULL, "line 10: unknown Usage 'Trainingg'", 2304, EMO_EFORMAT},
        {"quote", "\"3", "Training", NULL, "line 10: unterminated quoted field", 2304, EMO_EFORMAT},
    };
    for (int i = 0; i < TEST_COUNT(rows); i++) {
        sbuf b = {0};
        sb_add(&b, "%s\n", good.s); /* line 9 blank: skipped, but counted in line numbers */
        fer_row(&b, rows[i].label, 8, rows[i].npix, rows[i].usage, rows[i].bad);
        fer_row(&b, "3", 9, 2304, "Training", NULL);
        int s = load_fer_text(&ds, b.s, NULL, EMO_LABELS_FER2013, NULL);
        CHECK_MSG(s == rows[i].status, "%s: status %d, want %d (%s)", rows[i].what, s, rows[i].status,
                  emo_last_error());
        CHECK_STR_CONTAINS(emo_last_error(), "bad.csv");
        CHECK_STR_CONTAINS(emo_last_error(), rows[i].msg);
        CHECK_EQ_INT(ds.count, 0);
        CHECK(ds.pixels == NULL);
        free(b.s);
    }
    /* Headers and whole files. */
    CHECK(load_fer_text(&ds, "", NULL, EMO_LABELS_FER2013, NULL) == EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "empty file");
    CHECK(load_fer_text(&ds, "emotion,Usage\n3,Training\n", NULL, EMO_LABELS_FER2013, NULL) == EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "no 'pixels' column");
    CHECK(load_fer_text(&ds, "pixels,Usage\n1 2,Training\n", NULL, EMO_LABELS_FER2013, NULL) == EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "no 'emotion' column");
    CHECK(emo_dataset_load_fer2013(&ds, test_tmp("missing.csv"), NULL, NULL) == EMO_ENOTFOUND);
    CHECK_STR_CONTAINS(emo_last_error(), "missing.csv");
    CHECK(emo_dataset_load_fer2013(&ds, test_tmpdir(), NULL, NULL) == EMO_EINVAL);
    CHECK_STR_CONTAINS(emo_last_error(), "is a folder");
    /* A line above 1 MiB. */
    {
        size_t n = (1u << 20) + 100;
        char *big = malloc(n + 64);
        strcpy(big, "emotion,pixels,Usage\n3,");
        size_t k = strlen(big);
        memset(big + k, '1', n - k);
        big[n] = 0;
        CHECK(load_fer_text(&ds, big, NULL, EMO_LABELS_FER2013, NULL) == EMO_ELIMIT);
        CHECK_STR_CONTAINS(emo_last_error(), "line 2: longer than");
        free(big);
    }
    /* Broken gzip: truncated, and corrupt in the middle. */
    {
        const char *gz = test_tmp("broken.csv.gz");
        char *text = fer_csv(30);
        write_gz(gz, text);
        FILE *f = fopen(gz, "rb");
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *bytes = malloc((size_t)size);
        CHECK_EQ_INT(fread(bytes, 1, (size_t)size, f), size);
        fclose(f);
        f = fopen(gz, "wb");
        fwrite(bytes, 1, (size_t)size / 2, f);
        fclose(f);
        CHECK(emo_dataset_load_fer2013(&ds, gz, NULL, NULL) == EMO_EFORMAT);
        CHECK_STR_CONTAINS(emo_last_error(), "truncated gzip");
        for (long i = 40; i < size - 20; i += 7) bytes[i] ^= 0x5a;
        f = fopen(gz, "wb");
        fwrite(bytes, 1, (size_t)size, f);
        fclose(f);
        CHECK(emo_dataset_load_fer2013(&ds, gz, NULL, NULL) == EMO_EFORMAT);
        CHECK_STR_CONTAINS(emo_last_error(), "gzip");
        CHECK_EQ_INT(ds.count, 0);
        free(bytes);
        free(text);
    }
    /* Vote files that do not match the CSV. */
    char *text = fer_csv(10);
    char *fewer = votes_csv(10, 9), *more = votes_csv(10, 11), *ok = votes_csv(10, 10);
    CHECK(load_fer_text(&ds, text, fewer, EMO_LABELS_MAJORITY, NULL) == EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "bad.csv line 11: data row 10 has no row in");
    CHECK_STR_CONTAINS(emo_last_error(), "bad_votes.csv, which has only 9");
    CHECK(load_fer_text(&ds, text, more, EMO_LABELS_SOFT, NULL) == EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "bad_votes.csv has 11 data rows but");
    CHECK_EQ_INT(ds.count, 0);
    /* Usage differs: the files are shifted. */
    char *shifted = strdup(ok);
    char *second = strchr(strchr(shifted, '\n') + 1, '\n') + 1; /* data row 2 */
    memcpy(second, "PublicTest", 10);                            /* was "Training,f" */
    second[10] = ',';
    CHECK(load_fer_text(&ds, text, shifted, EMO_LABELS_SOFT, NULL) == EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "line 3: Usage train, but");
    CHECK_STR_CONTAINS(emo_last_error(), "line 3 says val");
    free(shifted);
    /* Bad vote counts and headers. */
    char *badv = strdup(ok);
    char *p = strstr(badv, ",6,");
    p[1] = 'x';
    CHECK(load_fer_text(&ds, text, badv, EMO_LABELS_SOFT, NULL) == EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "bad_votes.csv line 2:");
    CHECK_STR_CONTAINS(emo_last_error(), "is not a count");
    free(badv);
    CHECK(load_fer_text(&ds, text, "Usage,neutral,happiness\nTraining,1,2\n", EMO_LABELS_SOFT, NULL) ==
          EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "no 'surprise' column");
    char *ragged = strdup(ok);
    p = strstr(ragged, ",0\n");
    memcpy(p, "\n\n\n", 3);
    CHECK(load_fer_text(&ds, text, ragged, EMO_LABELS_SOFT, NULL) == EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "bad_votes.csv line 2: 11 fields, expected 12");
    free(ragged);
    /* Vote labels without a votes file; votes on non-FER data. */
    CHECK(load_fer_text(&ds, text, NULL, EMO_LABELS_SOFT, NULL) == EMO_EINVAL);
    CHECK_STR_CONTAINS(emo_last_error(), "need the votes file");
    free(text);
    free(fewer);
    free(more);
    free(ok);
    free(good.s);
    emo_dataset_free(&ds);
}

/* Random damage to valid CSV, vote and index files: every load must either
 * succeed with sane contents or fail with a message, never crash (run it
 * under `make SANITIZE=1`). */
#define MIN_(a, b) ((a) < (b) ? (a) : (b))

static void test_fuzz_csv(void) {
    char *csv = fer_csv(14), *votes = votes_csv(14, 14);
    size_t n_csv = strlen(csv), n_votes = strlen(votes);
    char *a = malloc(n_csv + 4 * 3000 + 64), *b = malloc(n_votes + 4 * 3000 + 64); /* room for 4 duplications */
    static const char alphabet[] = ",, \n\r\"0123456789a-+.\t";
    uint64_t state = 12345;
    int ok = 0, failed = 0, silent = 0;
    emo_dataset ds = {0};
    for (int iter = 0; iter < 300; iter++) {
        memcpy(a, csv, n_csv + 1);
        memcpy(b, votes, n_votes + 1);
        char *t = iter % 3 == 2 ? b : a;
        size_t len = strlen(t);
        int edits = 1 + (int)((state = emo_seed_mix(state, 1)) % 4);
        for (int e = 0; e < edits; e++) {
            uint64_t r = state = emo_seed_mix(state, 2);
            size_t at = (size_t)(r % len);
            switch ((r >> 32) % 4) {
            case 0: t[at] = alphabet[(r >> 40) % (sizeof alphabet - 1)]; break;
            case 1: { /* delete a span */
                size_t k = MIN_(len - at, (size_t)((r >> 40) % 20000));
                memmove(t + at, t + at + k, len - at - k + 1);
                len -= k;
                break;
            }
            case 2: { /* duplicate a span */
                size_t k = MIN_(len - at, (size_t)((r >> 40) % 3000));
                memmove(t + at + k, t + at, len - at + 1);
                len += k;
                break;
            }
            default: t[at] = (char)(r >> 48); break; /* any byte, NUL included */
            }
            if (len == 0) break;
        }
        emo_label_mode mode = iter % 3 == 0 ? EMO_LABELS_FER2013 : EMO_LABELS_SOFT;
        int s = load_fer_text(&ds, a, iter % 3 ? b : NULL, mode, iter % 2 ? "happy,sad,neutral=neutral+angry" : NULL);
        if (s == 0) {
            ok++;
            CHECK(ds.count > 0 && ds.count <= 14);
            for (int i = 0; i < ds.count; i++) CHECK(ds.labels[i] >= 0 && ds.labels[i] < ds.nclasses);
        } else {
            failed++;
            silent += emo_last_error()[0] == 0;
            CHECK(ds.count == 0 && ds.pixels == NULL);
        }
    }
    /* Damaged index files (the images are missing: skipped or an error). */
    const char *idx = test_tmp("fuzz_index.csv");
    for (int iter = 0; iter < 100; iter++) {
        char text[256] = "path,label,split\na.jpg,happy,train\n\"b.jpg\",sad,val\nc.png,neutral,\n";
        size_t len = strlen(text);
        for (int e = 0; e < 3; e++) {
            uint64_t r = state = emo_seed_mix(state, 3);
            text[r % len] = alphabet[(r >> 40) % (sizeof alphabet - 1)];
        }
        write_text(idx, text);
        emo_dataset_params p = emo_dataset_params_default();
        int s = emo_dataset_load_index(&ds, idx, &p);
        CHECK(s < 0); /* no image exists, so some class is always empty */
        silent += emo_last_error()[0] == 0;
    }
    printf("    %d damaged FER files loaded, %d refused\n", ok, failed);
    CHECK(failed > 100);
    CHECK_EQ_INT(silent, 0);
    emo_dataset_free(&ds);
    free(a);
    free(b);
    free(csv);
    free(votes);
}

/* ------------------------------------------------------------------------ */
/* Folder trees and index CSVs from media/labelled-faces                    */
/* ------------------------------------------------------------------------ */

/* Links `name` of labelled-faces at dir/name. */
static void link_face(const char *dir, const char *name) {
    /* Relative $SHARED paths are made absolute: links resolve from their folder. */
    char src[2048], dst[1024], cwd[512] = "";
    const char *rel = test_shared(FACES);
    if (rel[0] != '/' && !getcwd(cwd, sizeof cwd)) cwd[0] = 0;
    snprintf(src, sizeof src, "%s%s%s/%s", cwd, cwd[0] ? "/" : "", rel, name);
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    if (symlink(src, dst) != 0) printf("    cannot link %s\n", dst);
}

static const char *faces_by_label[][4] = {
    {"happy", "Aaron_Eckhart_0001.jpg", "AJ_Cook_0001.jpg", "Abdullah_Gul_0007.jpg"},
    {"sad", "Avinash_10.jpg", "Avinash_11.jpg", "Avinash_12.jpg"},
    {"surprised", "Abdullah_Nasseef_0001.jpg", "Adam_Mair_0001.jpg", "Al_Sharpton_0005.jpg"},
};

static void mkdirs(const char *path) {
    char b[1024];
    snprintf(b, sizeof b, "%s", path);
    for (char *p = b + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(b, 0755);
            *p = '/';
        }
    mkdir(b, 0755);
}

/* ROOT/<split>/<label>/ with 3 faces each (split NULL: ROOT/<label>/). */
static void make_tree(const char *root, const char *split) {
    for (int c = 0; c < 3; c++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s%s%s/%s", root, split ? "/" : "", split ? split : "", faces_by_label[c][0]);
        mkdirs(dir);
        for (int k = 1; k < 4; k++) link_face(dir, faces_by_label[c][k]);
    }
}

static void test_folder_tree(void) {
    const char *root = test_tmp("tree");
    make_tree(root, "train");
    make_tree(root, "test");
    char path[1024];
    /* Unreadable files: not an image, and a truncated JPEG. */
    snprintf(path, sizeof path, "%s/train/happy/notes.txt", root);
    write_text(path, "not an image\n");
    snprintf(path, sizeof path, "%s/train/sad/broken.jpg", root);
    write_text(path, "\xff\xd8\xff\xe0 truncated");
    snprintf(path, sizeof path, "%s/train/.hidden", root);
    mkdirs(path);
    emo_dataset ds = {0};
    warnings w = {0};
    emo_dataset_params p = emo_dataset_params_default();
    p.classes = "happy,sad,surprise";
    p.warn = on_warn;
    p.warn_user = &w;
    CHECK_OK(emo_dataset_load(&ds, root, NULL, &p));
    CHECK_EQ_INT(ds.count, 18);
    CHECK_EQ_INT(ds.skipped, 2);
    CHECK_EQ_INT(w.n, 2);
    CHECK_STR_CONTAINS(w.first, "train/happy/notes.txt");
    int counts[EMO_DATASET_MAX_CLASSES];
    CHECK_EQ_INT(emo_dataset_class_counts(&ds, EMO_SPLIT_TRAIN, counts), 9);
    CHECK_EQ_INT(counts[0], 3);
    CHECK_EQ_INT(counts[2], 3); /* "surprised" folder -> surprise */
    CHECK_EQ_INT(emo_dataset_rows(&ds, EMO_SPLIT_TEST, NULL, 0), 9);
    /* Pixels: the file decoded grey and area-resized to 48x48. */
    if (ds.count == 18) {
        emo_image img = {0}, small = {0};
        snprintf(path, sizeof path, "%s/%s", test_shared(FACES), "AJ_Cook_0001.jpg");
        CHECK_OK(emo_image_load(&img, path, 1));
        CHECK_OK(emo_image_resize(&img, &small, 48, 48, EMO_INTERP_AREA));
        /* test/ sorts before train/; happy's files sort AJ_Cook first */
        CHECK(small.data && memcmp(ds.pixels, small.data, 2304) == 0);
        CHECK_EQ_INT(ds.split[0], EMO_SPLIT_TEST);
        CHECK_EQ_INT(ds.labels[0], 0);
        CHECK_EQ_INT(ds.line[0], 0);
        emo_image_free(&img);
        emo_image_free(&small);
    }
    /* Default classes (FER's 7): fear and others have no images -> error. */
    CHECK(emo_dataset_load_folder(&ds, root, NULL) == EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "class 'angry' has no rows");
    CHECK_EQ_INT(ds.count, 0);
    /* Classes that leave some folders out: counted as dropped. */
    p.classes = "happy,sad";
    CHECK_OK(emo_dataset_load_folder(&ds, root, &p));
    CHECK_EQ_INT(ds.count, 12);
    CHECK_EQ_INT(ds.dropped_class, 6);
    /* An empty class folder, and one with only unreadable files. */
    p.classes = "happy,sad,surprise,fear";
    snprintf(path, sizeof path, "%s/train/fear", root);
    mkdirs(path);
    CHECK(emo_dataset_load_folder(&ds, root, &p) == EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "class 'fear' has no rows (2 unreadable images were skipped)");
    CHECK_STR_CONTAINS(emo_last_error(), root);
    /* A folder that is no class. */
    snprintf(path, sizeof path, "%s/test/hapy", root);
    mkdirs(path);
    p.classes = "happy,sad,surprise";
    CHECK(emo_dataset_load_folder(&ds, root, &p) == EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "test/hapy: folder 'hapy' is not one of the classes (happy, sad, surprise)");
    rmdir(path);
    /* Split folders beside a class folder. */
    snprintf(path, sizeof path, "%s/happy", root);
    mkdirs(path);
    CHECK(emo_dataset_load_folder(&ds, root, &p) == EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "folder 'happy' is not a split");
    rmdir(path);
    /* Missing root, a file as root, no class folders. */
    CHECK(emo_dataset_load_folder(&ds, test_tmp("no-such-tree"), &p) == EMO_ENOTFOUND);
    CHECK_STR_CONTAINS(emo_last_error(), "no-such-tree");
    snprintf(path, sizeof path, "%s/empty-tree", test_tmpdir());
    mkdirs(path);
    CHECK(emo_dataset_load_folder(&ds, path, &p) == EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "no class folders");
    /* Custom class names work when listed. */
    const char *pets = test_tmp("pets");
    char d[1024];
    snprintf(d, sizeof d, "%s/cat", pets);
    mkdirs(d);
    link_face(d, "AJ_Cook_0001.jpg");
    snprintf(d, sizeof d, "%s/dog", pets);
    mkdirs(d);
    link_face(d, "Avinash_10.jpg");
    link_face(d, "Avinash_11.jpg");
    p.classes = "dog,cat";
    CHECK_OK(emo_dataset_load_folder(&ds, pets, &p));
    CHECK_EQ_INT(ds.count, 3);
    if (ds.count == 3) CHECK_EQ_INT(ds.labels[0], 1);
    CHECK_EQ_INT(ds.split[0], EMO_SPLIT_NONE);
    emo_dataset_free(&ds);
}

static void test_index_real(void) {
    /* media/labelled-faces/labels.csv: 1615 faces (README counts), one of
     * them (an angry one) a WebP file named .jpg: skipped with a warning. */
    emo_dataset ds = {0};
    warnings w = {0};
    emo_dataset_params p = emo_dataset_params_default();
    p.warn = on_warn;
    p.warn_user = &w;
    double t0 = now_s();
    CHECK_OK(emo_dataset_load(&ds, test_shared(FACES "/labels.csv"), NULL, &p));
    printf("    labelled-faces: %d images in %.2f s\n", ds.count, now_s() - t0);
    CHECK_EQ_INT(ds.count, 1614);
    CHECK_EQ_INT(ds.skipped, 1);
    CHECK_EQ_INT(w.n, 1);
    CHECK_STR_CONTAINS(w.first, "facial-expressions_2868588k.jpg: not a JPEG or PNG image");
    int counts[EMO_DATASET_MAX_CLASSES];
    CHECK_EQ_INT(emo_dataset_class_counts(&ds, EMO_SPLIT_ANY, counts), 1614);
    /* angry 252 - 1, disgust 208, fear 21, happy 250, sad 267, surprise 367, neutral 250 */
    static const int want[7] = {251, 208, 21, 250, 267, 367, 250};
    for (int c = 0; c < 7; c++) CHECK_EQ_INT(counts[c], want[c]);
    CHECK_EQ_INT(emo_dataset_rows(&ds, EMO_SPLIT_NONE, NULL, 0), 1614);
    if (ds.count) CHECK_EQ_INT(ds.line[0], 2);
    /* Seeded stratified 80/10/10 split. */
    CHECK_OK(emo_dataset_split_random(&ds, 42, 0.8f, 0.1f));
    CHECK_EQ_INT(emo_dataset_rows(&ds, EMO_SPLIT_NONE, NULL, 0), 0);
    int tr[EMO_DATASET_MAX_CLASSES], va[EMO_DATASET_MAX_CLASSES], te[EMO_DATASET_MAX_CLASSES];
    emo_dataset_class_counts(&ds, EMO_SPLIT_TRAIN, tr);
    emo_dataset_class_counts(&ds, EMO_SPLIT_VAL, va);
    emo_dataset_class_counts(&ds, EMO_SPLIT_TEST, te);
    for (int c = 0; c < 7; c++) {
        CHECK_EQ_INT(tr[c], (int)lround(want[c] * 0.8));
        CHECK_EQ_INT(va[c], (int)lround(want[c] * 0.1));
        CHECK_EQ_INT(tr[c] + va[c] + te[c], want[c]);
    }
    uint8_t *first = malloc((size_t)ds.count);
    if (ds.count) memcpy(first, ds.split, (size_t)ds.count);
    /* Same seed, same split; another seed, another. */
    memset(ds.split, EMO_SPLIT_NONE, (size_t)ds.count);
    CHECK_OK(emo_dataset_split_random(&ds, 42, 0.8f, 0.1f));
    CHECK(ds.count == 0 || memcmp(first, ds.split, (size_t)ds.count) == 0);
    memset(ds.split, EMO_SPLIT_NONE, (size_t)ds.count);
    CHECK_OK(emo_dataset_split_random(&ds, 43, 0.8f, 0.1f));
    CHECK(ds.count == 0 || memcmp(first, ds.split, (size_t)ds.count) != 0);
    free(first);
    CHECK(emo_dataset_split_random(&ds, 1, 0.8f, 0.3f) == EMO_EINVAL);
    CHECK(emo_dataset_split_random(&ds, 1, -0.1f, 0.3f) == EMO_EINVAL);
    /* A 4-class selection drops disgust, fear and surprise. */
    p.classes = "happy,sad,neutral,angry";
    CHECK_OK(emo_dataset_load_index(&ds, test_shared(FACES "/labels.csv"), &p));
    CHECK_EQ_INT(ds.count, 250 + 267 + 250 + 251);
    CHECK_EQ_INT(ds.dropped_class, 208 + 21 + 367);
    emo_dataset_free(&ds);
}

static void test_index_small(void) {
    const char *dir = test_tmp("index");
    mkdirs(dir);
    char img_dir[1024];
    snprintf(img_dir, sizeof img_dir, "%s/img", dir);
    mkdirs(img_dir);
    link_face(img_dir, "AJ_Cook_0001.jpg");
    link_face(img_dir, "Avinash_10.jpg");
    link_face(img_dir, "Adam_Mair_0001.jpg");
    char abs_path[1024];
    snprintf(abs_path, sizeof abs_path, "%s/img/Adam_Mair_0001.jpg", dir);
    if (abs_path[0] != '/') abs_path[0] = 0;
    const char *csv = test_tmp("index/list.csv");
    emo_dataset ds = {0};
    warnings w = {0};
    emo_dataset_params p = emo_dataset_params_default();
    p.classes = "happy,sad,surprise";
    p.warn = on_warn;
    p.warn_user = &w;
    /* No header, split column, synonyms, quoted path, missing file, CRLF. */
    char text[4096];
    snprintf(text, sizeof text,
             "img/AJ_Cook_0001.jpg,Happiness,train\r\n"
             "\"img/Avinash_10.jpg\",sadness,Validation\r\n"
             "img/missing.jpg,happy,train\r\n"
             "%s,surprised,test\r\n"
             "img/AJ_Cook_0001.jpg,fearful,train\r\n",
             abs_path[0] ? abs_path : "img/Adam_Mair_0001.jpg");
    write_text(csv, text);
    CHECK_OK(emo_dataset_load_index(&ds, csv, &p));
    CHECK_EQ_INT(ds.count, 3);
    CHECK_EQ_INT(ds.skipped, 1);
    CHECK_EQ_INT(ds.dropped_class, 1);
    CHECK_EQ_INT(w.n, 1);
    CHECK_STR_CONTAINS(w.first, "img/missing.jpg");
    if (ds.count == 3) {
        CHECK_EQ_INT(ds.labels[0], 0);
        CHECK_EQ_INT(ds.split[0], EMO_SPLIT_TRAIN);
        CHECK_EQ_INT(ds.labels[1], 1);
        CHECK_EQ_INT(ds.split[1], EMO_SPLIT_VAL);
        CHECK_EQ_INT(ds.labels[2], 2);
        CHECK_EQ_INT(ds.split[2], EMO_SPLIT_TEST);
        CHECK_EQ_INT(ds.line[2], 4);
    }
    /* Bad index files. */
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"path,label\nimg/AJ_Cook_0001.jpg,happy\nimg/Avinash_10.jpg\n", "line 3: 1 fields, expected 2"},
        {"path,label\nimg/AJ_Cook_0001.jpg,hapy\n", "line 2: label 'hapy' is not one of the classes"},
        {"img/AJ_Cook_0001.jpg,happy,train\nimg/Avinash_10.jpg,sad,dev\n", "line 2: unknown split 'dev'"},
        {"a\n", "line 1: 1 fields, expected path,label"},
        {"path,label\n,happy\n", "line 2: empty path"},
        {"path,label\n", "no rows"},
        {"path,label\nimg/AJ_Cook_0001.jpg,happy\nimg/AJ_Cook_0001.jpg,sad\n", "class 'surprise' has no rows"},
    };
    for (int i = 0; i < TEST_COUNT(bad); i++) {
        write_text(csv, bad[i].text);
        int s = emo_dataset_load_index(&ds, csv, &p);
        CHECK_MSG(s == EMO_EFORMAT, "case %d: status %d (%s)", i, s, emo_last_error());
        CHECK_STR_CONTAINS(emo_last_error(), "list.csv");
        CHECK_STR_CONTAINS(emo_last_error(), bad[i].msg);
        CHECK_EQ_INT(ds.count, 0);
    }
    CHECK(emo_dataset_load_index(&ds, test_tmp("index/none.csv"), &p) == EMO_ENOTFOUND);
    /* FER+ votes make no sense here. */
    CHECK(emo_dataset_load(&ds, test_shared(FACES "/labels.csv"), test_shared(FER_VOTES), &p) == EMO_EINVAL);
    CHECK_STR_CONTAINS(emo_last_error(), "FER+ votes go with a FER2013 CSV");
    p.labels = EMO_LABELS_SOFT;
    CHECK(emo_dataset_load_index(&ds, csv, &p) == EMO_EINVAL);
    emo_dataset_free(&ds);
}

static void test_names(void) {
    CHECK(strcmp(emo_class_canonical("Happiness"), "happy") == 0);
    CHECK(strcmp(emo_class_canonical("anger"), "angry") == 0);
    CHECK(strcmp(emo_class_canonical("SADNESS"), "sad") == 0);
    CHECK(strcmp(emo_class_canonical("surprised"), "surprise") == 0);
    CHECK(strcmp(emo_class_canonical("fearful"), "fear") == 0);
    CHECK(strcmp(emo_class_canonical("disgusted"), "disgust") == 0);
    CHECK(strcmp(emo_class_canonical("neutral"), "neutral") == 0);
    CHECK(emo_class_canonical("cat") == NULL);
    CHECK(emo_class_canonical(NULL) == NULL);
    CHECK_EQ_INT(emo_split_from_name("Training"), EMO_SPLIT_TRAIN);
    CHECK_EQ_INT(emo_split_from_name("PublicTest"), EMO_SPLIT_VAL);
    CHECK_EQ_INT(emo_split_from_name("validation"), EMO_SPLIT_VAL);
    CHECK_EQ_INT(emo_split_from_name("PrivateTest"), EMO_SPLIT_TEST);
    CHECK_EQ_INT(emo_split_from_name("test"), EMO_SPLIT_TEST);
    CHECK(emo_split_from_name("dev") == EMO_EINVAL);
    CHECK_STR_CONTAINS(emo_last_error(), "unknown split 'dev'");
    CHECK(strcmp(emo_split_name(EMO_SPLIT_VAL), "val") == 0);
}

/* ------------------------------------------------------------------------ */
/* Augmentation and batches                                                 */
/* ------------------------------------------------------------------------ */

/* A 48x48 test card: gradients plus a bright off-centre square. */
static void card(uint8_t *img) {
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 48; x++) img[y * 48 + x] = (uint8_t)(x * 4 + y);
    for (int y = 8; y < 16; y++)
        for (int x = 30; x < 40; x++) img[y * 48 + x] = 250;
}

/* mean 0, std 1/255 gives back raw pixel values. */
#define RAW 0.0f, (1.0f / 255.0f)

static void test_transform_exact(void) {
    uint8_t src[2304], back[2304];
    float out[2304], again[2304];
    card(src);
    emo_transform t = emo_transform_identity();
    /* Identity: exactly the normalisation. */
    emo_transform_apply(&t, src, out, 0.5f, 0.25f);
    for (int i = 0; i < 2304; i += 37) CHECK_NEAR(out[i], (src[i] / 255.0f - 0.5f) / 0.25f, 1e-5);
    /* Flip twice is the identity; once mirrors. */
    t.flip = 1;
    emo_transform_apply(&t, src, out, RAW);
    for (int i = 0; i < 2304; i++) back[i] = (uint8_t)lrintf(out[i]);
    CHECK_NEAR(out[10 * 48 + 3], src[10 * 48 + 44], 1e-3);
    emo_transform_apply(&t, back, again, RAW);
    int diff = 0;
    for (int i = 0; i < 2304; i++) diff += fabsf(again[i] - src[i]) > 1e-3f;
    CHECK_EQ_INT(diff, 0);
    /* Integer shift moves content right/down; borders replicate. */
    t = emo_transform_identity();
    t.dx = 3;
    t.dy = -2;
    emo_transform_apply(&t, src, out, RAW);
    CHECK_NEAR(out[20 * 48 + 33], src[22 * 48 + 30], 1e-3);
    CHECK_NEAR(out[47 * 48 + 0], src[47 * 48 + 0], 1e-3);
    CHECK_NEAR(out[5 * 48 + 1], src[7 * 48 + 0], 1e-3);
    /* 90 degrees counter-clockwise: dst(x, y) = src(47 - y, x). */
    t = emo_transform_identity();
    t.angle = 90;
    emo_transform_apply(&t, src, out, RAW);
    double worst = 0;
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 48; x++) worst = fmax(worst, fabs(out[y * 48 + x] - src[x * 48 + (47 - y)]));
    CHECK_NEAR(worst, 0, 1e-2);
    /* The bright square at top right moves to the top left. */
    CHECK_NEAR(out[10 * 48 + 10], 250, 1e-2);
    /* 360 degrees is back where it started. */
    t.angle = 360;
    emo_transform_apply(&t, src, out, RAW);
    worst = 0;
    for (int i = 0; i < 2304; i++) worst = fmax(worst, fabs(out[i] - src[i]));
    CHECK_NEAR(worst, 0, 1e-2);
    /* Zoom x2: output (x, y) samples the source at c + (p - c) / 2; the card
     * is linear (4x + y) away from its square, so bilinear is exact there. */
    t = emo_transform_identity();
    t.scale = 2;
    emo_transform_apply(&t, src, out, RAW);
    CHECK_NEAR(out[24 * 48 + 24], 23.75 * 4 + 23.75, 1e-3);
    CHECK_NEAR(out[20 * 48 + 32], 27.75 * 4 + 21.75, 1e-3);
    /* Brightness multiplies (and clips), contrast 0 gives the mean. */
    t = emo_transform_identity();
    t.brightness = 1.1f;
    emo_transform_apply(&t, src, out, RAW);
    CHECK_NEAR(out[100], fminf(src[100] * 1.1f, 255), 1e-2);
    CHECK_NEAR(out[10 * 48 + 32], 255, 1e-3);
    t.brightness = 1;
    t.contrast = 0;
    emo_transform_apply(&t, src, out, RAW);
    double mean = 0;
    for (int i = 0; i < 2304; i++) mean += src[i];
    mean /= 2304;
    CHECK_NEAR(out[0], mean, 1e-2);
    CHECK_NEAR(out[2303], mean, 1e-2);
    /* Erasing sets a rectangle to 0 after normalisation (the mean). */
    t = emo_transform_identity();
    t.erase_x = 5, t.erase_y = 6, t.erase_w = 10, t.erase_h = 4;
    emo_transform_apply(&t, src, out, 0.5f, 0.25f);
    CHECK_NEAR(out[6 * 48 + 5], 0, 0);
    CHECK_NEAR(out[9 * 48 + 14], 0, 0);
    CHECK_NEAR(out[10 * 48 + 14], (src[10 * 48 + 14] / 255.0f - 0.5f) / 0.25f, 1e-5);
    CHECK_NEAR(out[9 * 48 + 15], (src[9 * 48 + 15] / 255.0f - 0.5f) / 0.25f, 1e-5);
}

static void test_augment_draws(void) {
    emo_augment aug = emo_augment_default();
    emo_transform a, b;
    emo_augment_draw(&aug, 123, &a);
    emo_augment_draw(&aug, 123, &b);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    /* Switching rotation off leaves the other draws as they were. */
    emo_augment no_rot = aug;
    no_rot.rotate = 0;
    emo_augment_draw(&no_rot, 123, &b);
    CHECK(b.angle == 0);
    CHECK(b.flip == a.flip && b.scale == a.scale && b.dx == a.dx && b.erase_w == a.erase_w);
    /* NULL and all-zero augmentations are the identity. */
    emo_transform id = emo_transform_identity();
    emo_augment_draw(NULL, 5, &b);
    CHECK(memcmp(&b, &id, sizeof b) == 0);
    emo_augment zero = {0};
    emo_augment_draw(&zero, 5, &b);
    CHECK(memcmp(&b, &id, sizeof b) == 0);
    /* Statistics over many draws. */
    int n = 4000, flips = 0, erases = 0, shifts[9] = {0};
    double angle_max = 0, scale_lo = 9, scale_hi = 0, area_lo = 1e9, area_hi = 0;
    for (int i = 0; i < n; i++) {
        emo_augment_draw(&aug, emo_seed_mix(7, (uint64_t)i), &a);
        flips += a.flip;
        angle_max = fmax(angle_max, fabs(a.angle));
        scale_lo = fmin(scale_lo, a.scale), scale_hi = fmax(scale_hi, a.scale);
        CHECK(a.dx == floorf(a.dx) && a.dx >= -4 && a.dx <= 4);
        if (a.dx >= -4 && a.dx <= 4) shifts[(int)a.dx + 4]++;
        CHECK(a.brightness >= 0.8f && a.brightness <= 1.2f && a.contrast >= 0.8f && a.contrast <= 1.2f);
        if (a.erase_w) {
            erases++;
            CHECK(a.erase_x >= 0 && a.erase_y >= 0 && a.erase_x + a.erase_w <= 48 && a.erase_y + a.erase_h <= 48);
            double area = a.erase_w * a.erase_h / 2304.0;
            area_lo = fmin(area_lo, area), area_hi = fmax(area_hi, area);
        }
    }
    CHECK_NEAR(flips / (double)n, 0.5, 0.04);
    CHECK_NEAR(erases / (double)n, 0.25, 0.03);
    CHECK(angle_max <= 10 && angle_max > 9.5);
    CHECK(scale_lo >= 0.9 && scale_lo < 0.91 && scale_hi <= 1.1 && scale_hi > 1.09);
    for (int k = 0; k < 9; k++) CHECK_MSG(shifts[k] > n / 9 / 2, "shift %d drawn %d times", k - 4, shifts[k]);
    CHECK(area_lo >= 0.012 && area_hi <= 0.36);
}

static void test_augment_parse(void) {
    emo_augment a, d = emo_augment_default(), zero = {0};
    CHECK_OK(emo_augment_parse(NULL, &a));
    CHECK(memcmp(&a, &d, sizeof a) == 0);
    CHECK_OK(emo_augment_parse("default", &a));
    CHECK(memcmp(&a, &d, sizeof a) == 0);
    CHECK_OK(emo_augment_parse("none", &a));
    CHECK(memcmp(&a, &zero, sizeof a) == 0);
    CHECK_OK(emo_augment_parse("rotate=15,erase=0,shift=2,flip=0", &a));
    CHECK(a.rotate == 15 && a.erase == 0 && a.shift == 2 && a.flip == 0 && a.scale == d.scale);
    static const char *const bad[] = {"rotate", "rotate=", "rotate=x", "spin=3", "shift=2.5", "shift=30",
                                      "scale=1", "erase=-0.1", "flip=2", "rotate=15,,erase=0", "rotate=nan"};
    for (int i = 0; i < TEST_COUNT(bad); i++) {
        CHECK_MSG(emo_augment_parse(bad[i], &a) == EMO_EINVAL, "\"%s\" accepted", bad[i]);
        CHECK_STR_CONTAINS(emo_last_error(), bad[i]);
    }
}

/* `emo data` on a small CSV (needs $BUILD/emo: make test builds it first). */
static void test_cli_data(void) {
    const char *build = getenv("BUILD");
    char emo[512], cmd[4096];
    snprintf(emo, sizeof emo, "%s/emo", build && *build ? build : "build");
    if (access(emo, X_OK) != 0) {
        printf("    %s not built: skipped\n", emo);
        return;
    }
    char *text = fer_csv(70);
    const char *csv = test_tmp("cli.csv"), *out = test_tmp("cli.txt"), *png = test_tmp("cli.png");
    write_text(csv, text);
    free(text);
    snprintf(cmd, sizeof cmd, "'%s' data '%s' -c happy,sad,neutral,angry -p '%s' --rows 3 --copies 2 > '%s' 2>&1",
             emo, csv, png, out);
    CHECK_EQ_INT(system(cmd), 0);
    FILE *f = fopen(out, "r");
    char buf[4096] = "";
    if (f) {
        buf[fread(buf, 1, sizeof buf - 1, f)] = 0;
        fclose(f);
    }
    CHECK_STR_CONTAINS(buf, "40 images, 4 classes");
    CHECK_STR_CONTAINS(buf, "happy                   8        2        0       10");
    CHECK_STR_CONTAINS(buf, "left out: 30 with a class not in the list");
    emo_image img = {0};
    CHECK_OK(emo_image_load(&img, png, 0));
    CHECK_EQ_INT(img.width, 3 * 48 + 2 * 2);
    CHECK_EQ_INT(img.height, 3 * 48 + 2 * 2);
    emo_image_free(&img);
    /* Bad input: exit status 1 and the library's message. */
    snprintf(cmd, sizeof cmd, "'%s' data '%s' -c happy,hapy > '%s' 2>&1", emo, csv, out);
    int st = system(cmd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    f = fopen(out, "r");
    buf[0] = 0;
    if (f) {
        buf[fread(buf, 1, sizeof buf - 1, f)] = 0;
        fclose(f);
    }
    CHECK_STR_CONTAINS(buf, "class 'hapy' is not in FER2013's labels");
}

static void test_batch_and_shuffle(void) {
    char *text = fer_csv(64);
    const char *csv = test_tmp("batch.csv");
    write_text(csv, text);
    free(text);
    emo_dataset ds = {0};
    CHECK_OK(emo_dataset_load_fer2013(&ds, csv, NULL, NULL));
    if (ds.count != 64) {
        CHECK_EQ_INT(ds.count, 64);
        emo_dataset_free(&ds);
        return;
    }
    int rows[64];
    for (int i = 0; i < 64; i++) rows[i] = 63 - i;
    float *x1 = malloc(sizeof(float) * 64 * 2304), *x2 = malloc(sizeof(float) * 64 * 2304);
    float soft[64 * 7];
    int y[64];
    emo_augment aug = emo_augment_default();
    /* Same result whatever the thread count. */
    CHECK_OK(emo_dataset_batch(&ds, rows, 64, &aug, 99, 0.5f, 0.25f, x1, y, soft, 1));
    CHECK_OK(emo_dataset_batch(&ds, rows, 64, &aug, 99, 0.5f, 0.25f, x2, NULL, NULL, 2));
    CHECK(memcmp(x1, x2, sizeof(float) * 64 * 2304) == 0);
    /* ... and whatever the batch: rows 10..13 alone match their slots. */
    CHECK_OK(emo_dataset_batch(&ds, rows + 10, 4, &aug, 99, 0.5f, 0.25f, x2, NULL, NULL, 0));
    CHECK(memcmp(x1 + 10 * 2304, x2, sizeof(float) * 4 * 2304) == 0);
    CHECK_EQ_INT(y[0], 63 % 7);
    CHECK_NEAR(soft[0 * 7 + 63 % 7], 1, 0);
    CHECK_NEAR(soft[0 * 7 + (63 + 1) % 7], 0, 0);
    /* Another seed augments differently; no augmentation is the plain image. */
    CHECK_OK(emo_dataset_batch(&ds, rows, 64, &aug, 100, 0.5f, 0.25f, x2, NULL, NULL, 0));
    CHECK(memcmp(x1, x2, sizeof(float) * 64 * 2304) != 0);
    CHECK_OK(emo_dataset_batch(&ds, rows, 2, NULL, 100, 0.5f, 0.25f, x2, NULL, NULL, 0));
    CHECK_NEAR(x2[2304 + 77], (ds.pixels[62 * 2304 + 77] / 255.0f - 0.5f) / 0.25f, 1e-5);
    /* Normalised values stay in range. */
    float lo = 1e9f, hi = -1e9f;
    for (int i = 0; i < 64 * 2304; i++) lo = fminf(lo, x1[i]), hi = fmaxf(hi, x1[i]);
    CHECK(lo >= -2.0f - 1e-5f && hi <= 2.0f + 1e-5f);
    /* Bad calls. */
    int bad_row = 64;
    CHECK(emo_dataset_batch(&ds, &bad_row, 1, &aug, 1, 0.5f, 0.25f, x2, NULL, NULL, 0) == EMO_EINVAL);
    CHECK_STR_CONTAINS(emo_last_error(), "row 64");
    CHECK(emo_dataset_batch(&ds, rows, 1, &aug, 1, 0.5f, 0, x2, NULL, NULL, 0) == EMO_EINVAL);
    CHECK(emo_dataset_batch(&ds, rows, 1, &aug, 1, 0.5f, 0.25f, NULL, NULL, NULL, 0) == EMO_EINVAL);
    /* Shuffle: a permutation, seeded. */
    int a[64], b[64], seen[64] = {0};
    for (int i = 0; i < 64; i++) a[i] = b[i] = i;
    emo_shuffle(a, 64, 5);
    emo_shuffle(b, 64, 5);
    CHECK(memcmp(a, b, sizeof a) == 0);
    for (int i = 0; i < 64; i++) seen[a[i]]++;
    for (int i = 0; i < 64; i++) CHECK_EQ_INT(seen[i], 1);
    for (int i = 0; i < 64; i++) b[i] = i;
    emo_shuffle(b, 64, 6);
    CHECK(memcmp(a, b, sizeof a) != 0);
    CHECK(emo_seed_mix(1, 0) != emo_seed_mix(1, 1) && emo_seed_mix(1, 0) != emo_seed_mix(2, 0));
    free(x1);
    free(x2);
    emo_dataset_free(&ds);
}

/* Writes a grid of augmented real FER2013 faces (to EMO_DATA_PREVIEW if set)
 * and checks its shape and its first column. */
static void test_preview(void) {
    /* The first 1000 rows of FER2013 (all 7 classes) are enough: read them from a cut CSV. */
    const char *cut = test_tmp("fer_head.csv");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "zcat '%s' 2>/dev/null | head -n 1001 > '%s'", test_shared(FER_CSV), cut);
    CHECK(system(cmd) == 0);
    emo_dataset ds = {0};
    CHECK_OK(emo_dataset_load_fer2013(&ds, cut, NULL, NULL));
    if (ds.count < 8) {
        emo_dataset_free(&ds);
        return;
    }
    int rows[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    emo_augment aug = emo_augment_default();
    emo_image grid = {0};
    CHECK_OK(emo_dataset_preview(&ds, rows, 8, 7, &aug, 1, &grid));
    CHECK_EQ_INT(grid.width, 8 * 48 + 7 * 2);
    CHECK_EQ_INT(grid.height, 8 * 48 + 7 * 2);
    CHECK_EQ_INT(grid.channels, 1);
    if (grid.data) {
        CHECK(memcmp(grid.data + (size_t)(50 + 5) * grid.stride, ds.pixels + 2304 + 5 * 48, 48) == 0);
        CHECK_EQ_INT(grid.data[48], 255); /* the gap */
    }
    const char *out = getenv("EMO_DATA_PREVIEW");
    if (!out || !*out) out = test_tmp("augment_preview.png");
    CHECK_OK(emo_image_save(&grid, out, 90));
    if (getenv("EMO_DATA_PREVIEW")) printf("    wrote %s\n", out);
    CHECK(emo_dataset_preview(&ds, rows, 0, 1, &aug, 1, &grid) == EMO_EINVAL);
    emo_image_free(&grid);
    emo_dataset_free(&ds);
}

static const test_case cases[] = {
    {"names", test_names},
    {"fer_small_plain_and_gzip", test_fer_small_plain_and_gzip},
    {"fer_classes", test_fer_classes},
    {"fer_bad_input", test_fer_bad_input},
    {"fuzz_csv", test_fuzz_csv},
    {"fer2013_real", test_fer2013_real},
    {"ferplus_golden", test_ferplus_golden},
    {"folder_tree", test_folder_tree},
    {"index_small", test_index_small},
    {"index_real", test_index_real},
    {"transform_exact", test_transform_exact},
    {"augment_draws", test_augment_draws},
    {"augment_parse", test_augment_parse},
    {"batch_and_shuffle", test_batch_and_shuffle},
    {"preview", test_preview},
    {"cli_data", test_cli_data},
};

int main(int argc, char **argv) { return test_main(cases, TEST_COUNT(cases), argc, argv); }
