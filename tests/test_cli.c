/* test_cli.c — the emo program as a user runs it: help, exit codes, and
 * `emo convert` end to end. Runs $BUILD/emo (default build/emo). */
#include "emo.h"
#include "test.h"


static void test_help_and_version(void) {
    CHECK_EQ_INT(test_run_emo("--help"), 0);
    CHECK_STR_CONTAINS(test_emo_output, "convert");
    CHECK_EQ_INT(test_run_emo("--version"), 0);
    CHECK_STR_CONTAINS(test_emo_output, emo_version());
    CHECK_EQ_INT(test_run_emo("convert --help"), 0);
    CHECK_STR_CONTAINS(test_emo_output, "usage: emo convert");
}

static void test_usage_errors(void) {
    CHECK_EQ_INT(test_run_emo("%s", ""), 2);
    CHECK_EQ_INT(test_run_emo("no-such-command"), 2);
    CHECK_STR_CONTAINS(test_emo_output, "unknown command");
    CHECK_EQ_INT(test_run_emo("convert --no-such-option a b"), 2);
    CHECK_STR_CONTAINS(test_emo_output, "unknown option");
    CHECK_EQ_INT(test_run_emo("convert only-one-arg"), 2);
    CHECK_EQ_INT(test_run_emo("convert --resize 12 a.jpg b.png"), 2);
    CHECK_EQ_INT(test_run_emo("convert --quality abc a.jpg b.png"), 2);
}

static void test_convert_grey_matches_opencv(void) {
    char args[1024];
    snprintf(args, sizeof args, "convert %s %s --grey", test_shared("media/expressions/happy.jpg"),
             test_tmp("h.png"));
    CHECK_EQ_INT(test_run_emo("%s", args), 0);
    emo_image a = {0}, b = {0};
    CHECK_OK(emo_image_load(&a, test_tmp("h.png"), 0));
    CHECK_OK(emo_image_load(&b, "tests/data/image/happy_grey.png", 0));
    CHECK_EQ_INT(a.channels, 1);
    CHECK_EQ_INT(a.width, b.width);
    CHECK_EQ_INT(a.height, b.height);
    int m = 0;
    if (a.data && b.data && a.width == b.width && a.height == b.height)
        for (int i = 0; i < a.width * a.height; i++) { int d = abs(a.data[i] - b.data[i]); if (d > m) m = d; }
    CHECK_MSG(m <= 1, "emo convert --grey differs from OpenCV by %d", m);
    emo_image_free(&a), emo_image_free(&b);

    snprintf(args, sizeof args, "convert %s %s --resize 64x48 --interp area",
             test_shared("media/expressions/happy.jpg"), test_tmp("small.jpg"));
    CHECK_EQ_INT(test_run_emo("%s", args), 0);
    CHECK_OK(emo_image_load(&a, test_tmp("small.jpg"), 0));
    CHECK_EQ_INT(a.width, 64);
    CHECK_EQ_INT(a.height, 48);
    CHECK_EQ_INT(a.channels, 3);
    emo_image_free(&a);
}

static void test_convert_bad_inputs(void) {
    char args[1024];
    FILE *f = fopen(test_tmp("not-an-image.jpg"), "w");
    if (f) fputs("just text\n", f), fclose(f);
    snprintf(args, sizeof args, "convert %s %s", test_tmp("not-an-image.jpg"), test_tmp("o.png"));
    CHECK_EQ_INT(test_run_emo("%s", args), 1);
    CHECK_STR_CONTAINS(test_emo_output, "not a JPEG or PNG");
    snprintf(args, sizeof args, "convert %s %s", test_tmpdir(), test_tmp("o.png"));
    CHECK_EQ_INT(test_run_emo("%s", args), 1);
    CHECK_STR_CONTAINS(test_emo_output, "directory");
    snprintf(args, sizeof args, "convert %s /proc/no/such/dir/o.png", test_shared("media/expressions/sad.jpg"));
    CHECK_EQ_INT(test_run_emo("%s", args), 1);
    CHECK_STR_CONTAINS(test_emo_output, "cannot write");
    CHECK(access(test_tmp("o.png"), F_OK) != 0); /* nothing half-written */
}

/* A mistyped command gets the nearest one; a name near nothing (or near two
 * equally) gets the usage only. */
static void test_did_you_mean(void) {
    static const char *const typos[][2] = {
        {"imag", "emo image"}, {"vidoe", "emo video"}, {"serv", "emo serve"}, {"trian", "emo train"},
        {"camra", "emo camera"}, {"detetc", "emo detect"}, {"Image", "emo image"},
    };
    for (size_t i = 0; i < sizeof typos / sizeof typos[0]; i++) {
        CHECK_EQ_INT(test_run_emo("%s", typos[i][0]), 2);
        char want[64];
        snprintf(want, sizeof want, "did you mean '%s'?", typos[i][1]);
        CHECK_STR_CONTAINS(test_emo_output, want);
    }
    CHECK_EQ_INT(test_run_emo("xyzzy"), 2);
    CHECK(strstr(test_emo_output, "did you mean") == NULL);
    CHECK_STR_CONTAINS(test_emo_output, "usage: emo COMMAND");
}

/* `emo video` on a photo: refused (exit 2, no file written) with a pointer
 * to `emo image`; a PNG named .mp4 is caught by its bytes. */
static void test_video_refuses_stills(void) {
    const char *photo = test_shared("media/expressions/happy.jpg");
    CHECK_EQ_INT(test_run_emo("video %s -o %s", photo, test_tmp("still.mp4")), 2);
    CHECK_STR_CONTAINS(test_emo_output, "is a still image (JPEG), not a video");
    CHECK_STR_CONTAINS(test_emo_output, "emo image");
    CHECK(access(test_tmp("still.mp4"), F_OK) != 0);
    CHECK_EQ_INT(test_run_emo("video tests/data/image/happy_rgb.png --csv %s", test_tmp("still.csv")), 2);
    CHECK_STR_CONTAINS(test_emo_output, "still image (PNG)");
    CHECK(access(test_tmp("still.csv"), F_OK) != 0);
}

/* No face found: a hint of what to try, on stderr (JSON output stays JSON). */
static void test_no_face_hint(void) {
    const char *dogs = test_shared("media/faces/dogs.jpg");
    CHECK_EQ_INT(test_run_emo("image %s", dogs), 0);
    CHECK_STR_CONTAINS(test_emo_output, "0 faces");
    CHECK_STR_CONTAINS(test_emo_output, "no face found in");
    CHECK_STR_CONTAINS(test_emo_output, "--min-size");
    CHECK_EQ_INT(test_run_emo("image --json %s 2>/dev/null | cat", dogs), 0);
    CHECK(strstr(test_emo_output, "no face found") == NULL);
    CHECK_STR_CONTAINS(test_emo_output, "\"faces\":[]");
    CHECK_EQ_INT(test_run_emo("image %s", test_shared("media/expressions/happy.jpg")), 0);
    CHECK(strstr(test_emo_output, "no face found") == NULL);
}

/* `emo image -o` on the crowded photo: inside every face's box (less its
 * stroke), the output differs from the photo only where that face's own
 * label, emoji or chart is. Where those are comes from drawing the same
 * faces (boxes, track ids, scores from --json) with the library. */
static void test_image_crowd_covers_no_face(void) {
    const char *in = test_shared("media/faces/bald_guys.jpg");
    CHECK_EQ_INT(test_run_emo("image --json %s 2>/dev/null | cat", in), 0);
    static emo_draw_item items[256];
    static float probs[256][7];
    int n = 0;
    for (const char *p = strstr(test_emo_output, "\"box\":["); p && n < 256; p = strstr(p + 1, "\"box\":[")) {
        int x, y, w, h, id;
        if (sscanf(p, "\"box\":[%d,%d,%d,%d],\"track_id\":%d", &x, &y, &w, &h, &id) != 5) break;
        const char *sc = strstr(p, "\"scores\":{");
        for (int c = 0; c < 7 && sc; c++) {
            sc = strchr(sc, ':');
            if (sc && c == 0) sc = strchr(sc + 1, ':'); /* past "scores": to the first class */
            if (sc) probs[n][c] = strtof(sc + 1, NULL), sc++;
        }
        items[n] = (emo_draw_item){(float)x, (float)y, (float)w, (float)h, probs[n], -1, id};
        n++;
    }
    CHECK_MSG(n >= 15, "%d faces in the JSON", n);
    CHECK_EQ_INT(test_run_emo("image %s -o %s", in, test_tmp("crowd.png")), 0);
    emo_image orig = {0}, out = {0}, mine = {0};
    CHECK_OK(emo_image_load(&orig, in, 3));
    CHECK_OK(emo_image_load(&out, test_tmp("crowd.png"), 3));
    CHECK_OK(emo_image_load(&mine, in, 3));
    emo_drawer *d = NULL;
    CHECK_OK(emo_drawer_open(&d, NULL));
    static emo_draw_layout lay[256];
    if (d && mine.data) CHECK_OK(emo_draw_faces(d, &mine, items, n, EMO_DRAW_ALL, lay));
    if (!orig.data || !out.data || !d || out.width != orig.width || out.height != orig.height) {
        CHECK_MSG(0, "cannot compare the images");
        n = 0;
    }
    long stray = 0, same_as_lib = 0, total = 0;
    for (int j = 0; j < n; j++) {
        float side = fminf(items[j].w, items[j].h), lw = fminf(fmaxf(side / 70.0f, 1.5f), 6.0f), m = lw * 1.1f + 2.5f;
        for (int y = (int)ceilf(items[j].y + m); y < (int)floorf(items[j].y + items[j].h - m) && y < out.height; y++)
            for (int x = (int)ceilf(items[j].x + m); x < (int)floorf(items[j].x + items[j].w - m) && x < out.width; x++) {
                size_t o = (size_t)y * out.stride + (size_t)x * 3;
                total++;
                same_as_lib += memcmp(out.data + o, mine.data + o, 3) == 0;
                if (memcmp(out.data + o, orig.data + o, 3) == 0) continue;
                int *r[3] = {lay[j].label, lay[j].emoji, lay[j].chart}, own = 0;
                for (int k = 0; k < 3; k++)
                    own |= r[k][2] > 0 && x >= r[k][0] && x < r[k][0] + r[k][2] && y >= r[k][1] && y < r[k][1] + r[k][3];
                stray += !own;
            }
    }
    /* The PNG is lossless, so the CLI's drawing is the library's, pixel for
     * pixel, up to a label's rounding: if not, the layout above is not the
     * CLI's and the check means nothing. */
    CHECK_MSG(total > 0 && same_as_lib >= total * 0.99, "%ld of %ld pixels as the library draws them", same_as_lib, total);
    CHECK_MSG(stray == 0, "%ld pixels inside faces changed by other faces' annotations", stray);
    emo_drawer_close(d);
    emo_image_free(&orig), emo_image_free(&out), emo_image_free(&mine);
}

int main(int argc, char **argv) {
    static const test_case cases[] = {
        {"help_and_version", test_help_and_version},
        {"usage_errors", test_usage_errors},
        {"convert_grey_matches_opencv", test_convert_grey_matches_opencv},
        {"convert_bad_inputs", test_convert_bad_inputs},
        {"did_you_mean", test_did_you_mean},
        {"video_refuses_stills", test_video_refuses_stills},
        {"no_face_hint", test_no_face_hint},
        {"image_crowd_covers_no_face", test_image_crowd_covers_no_face},
    };
    return test_main(cases, TEST_COUNT(cases), argc, argv);
}
