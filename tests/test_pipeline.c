/* test_pipeline.c — the real-time pipeline on real media with the shipped
 * model: expressions photos, a face-free video, a video whose one face goes
 * from crying to laughing; and the `emo image` / `emo video` commands. */
#include "emo.h"
#include "test.h"

#include <stdbool.h>

static const char *model_name(void) {
    const char *m = getenv("EMO_TEST_MODEL");
    return m && *m ? m : "models/ferplus.emo";
}

static emo_pipeline *open_pipeline(float smooth) {
    emo_pipeline_params pp = emo_pipeline_params_default();
    pp.model = model_name();
    pp.smooth = smooth;
    pp.threads = 2;
    emo_pipeline *pl = NULL;
    CHECK_OK(emo_pipeline_open(&pl, &pp));
    return pl;
}

static int class_index(emo_pipeline *pl, const char *name) {
    const char *const *names;
    int k = emo_pipeline_classes(pl, &names);
    for (int i = 0; i < k; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

static void test_expressions_photos(void) {
    static const char *files[7][2] = {{"angry", "angry"},     {"disgusted", "disgust"}, {"fearful", "fear"},
                                      {"happy", "happy"},     {"neutral", "neutral"},   {"sad", "sad"},
                                      {"surprised", "surprise"}};
    emo_pipeline *pl = open_pipeline(0);
    if (!pl) return;
    emo_image img = {0};
    emo_face faces[8];
    int right = 0;
    const char *const *names;
    emo_pipeline_classes(pl, &names);
    for (int i = 0; i < 7; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "media/expressions/%s.jpg", files[i][0]);
        CHECK_OK(emo_image_load(&img, test_shared(rel), 3));
        emo_pipeline_reset(pl);
        int n = emo_pipeline_process(pl, &img, faces, 8);
        CHECK_MSG(n == 1, "%s: %d faces, want 1", rel, n);
        if (n < 1) continue;
        int want = class_index(pl, files[i][1]);
        bool ok = faces[0].label == want;
        right += ok;
        printf("    %-10s -> %-8s %.2f%s\n", files[i][0], names[faces[0].label], faces[0].probs[faces[0].label],
               ok ? "" : "  (wrong)");
    }
    CHECK_MSG(right >= 6, "%d of 7 expression photos right, want at least 6", right);
    emo_image_free(&img);
    emo_pipeline_close(pl);
}

/* A phone's portrait photo: pixels stored on their side, EXIF orientation 6
 * (tests/data/image/happy_portrait.jpg from tests/ref/make_image_refs.py).
 * Turned upright it has the face of media/expressions/happy.jpg; on its side
 * the frontal detector finds nothing. */
static void test_portrait_photo(void) {
    emo_pipeline *pl = open_pipeline(0);
    if (!pl) return;
    emo_image img = {0};
    emo_face faces[8];
    CHECK_OK(emo_image_load(&img, "tests/data/image/happy_portrait.jpg", 3));
    CHECK_MSG(img.width == 500 && img.height == 282, "decoded %dx%d, want the upright 500x282", img.width,
              img.height);
    int n = emo_pipeline_process(pl, &img, faces, 8);
    CHECK_MSG(n == 1, "%d faces, want 1", n);
    if (n == 1) CHECK_EQ_INT(faces[0].label, class_index(pl, "happy"));
    emo_image_free(&img);
    emo_pipeline_close(pl);
}

static void test_no_face_video(void) {
    emo_pipeline *pl = open_pipeline(0.6f);
    emo_video *v = NULL;
    CHECK_OK(emo_video_open(&v, test_shared("media/video/no_face.mp4")));
    if (!pl || !v) return;
    emo_image f = {0};
    emo_face faces[8];
    int frames = 0, found = 0;
    while (emo_video_read(v, &f, 3, NULL) == EMO_OK) {
        int n = emo_pipeline_process(pl, &f, faces, 8);
        CHECK(n >= 0);
        found += n;
        frames++;
    }
    CHECK(frames > 50);
    CHECK_EQ_INT(found, 0);
    emo_image_free(&f);
    emo_video_close(v);
    emo_pipeline_close(pl);
}

/* One woman goes from crying to laughing: one track throughout, sad leads
 * in the first quarter, happy in the last. */
static void test_sad_to_happy_video(void) {
    emo_pipeline *pl = open_pipeline(0.6f);
    emo_video *v = NULL;
    CHECK_OK(emo_video_open(&v, test_shared("media/video/WolfgangLanger_Pexels.mp4")));
    if (!pl || !v) return;
    int sad = class_index(pl, "sad"), happy = class_index(pl, "happy");
    CHECK(sad >= 0 && happy >= 0);
    emo_image f = {0};
    emo_face faces[8];
    double dur = emo_video_get_info(v)->duration, t;
    double early[EMO_PIPELINE_MAX_CLASSES] = {0}, late[EMO_PIPELINE_MAX_CLASSES] = {0};
    int frames = 0, with_face = 0, ids[16], nids = 0, k = emo_pipeline_classes(pl, NULL);
    while (emo_video_read(v, &f, 3, &t) == EMO_OK) {
        int n = emo_pipeline_process(pl, &f, faces, 8);
        CHECK(n >= 0 && n <= 1);
        frames++;
        if (n < 1) continue;
        with_face++;
        bool seen = false;
        for (int i = 0; i < nids; i++) seen |= ids[i] == faces[0].track_id;
        if (!seen && nids < 16) ids[nids++] = faces[0].track_id;
        for (int c = 0; c < k; c++) {
            if (t < dur * 0.25) early[c] += faces[0].probs[c];
            if (t > dur * 0.75) late[c] += faces[0].probs[c];
        }
    }
    CHECK_MSG(with_face > frames * 9 / 10, "face in %d of %d frames", with_face, frames);
    CHECK_MSG(nids == 1, "%d track ids over the clip, want 1", nids);
    int top_early = 0, top_late = 0;
    for (int c = 1; c < k; c++) {
        if (early[c] > early[top_early]) top_early = c;
        if (late[c] > late[top_late]) top_late = c;
    }
    const char *const *names;
    emo_pipeline_classes(pl, &names);
    CHECK_MSG(top_early == sad, "first quarter: %s leads, want sad", names[top_early]);
    CHECK_MSG(top_late == happy, "last quarter: %s leads, want happy", names[top_late]);
    emo_image_free(&f);
    emo_video_close(v);
    emo_pipeline_close(pl);
}

static void test_tracking_between_detections(void) {
    /* detect_every = 5: the face is followed by local search in between, and
     * keeps one id. */
    emo_pipeline_params pp = emo_pipeline_params_default();
    pp.model = model_name();
    pp.detect_every = 5;
    emo_pipeline *pl = NULL;
    CHECK_OK(emo_pipeline_open(&pl, &pp));
    emo_video *v = NULL;
    CHECK_OK(emo_video_open(&v, test_shared("media/video/single_face.mp4")));
    if (!pl || !v) return;
    emo_image f = {0};
    emo_face faces[8];
    int frames = 0, with_face = 0, first_id = -1, id_changes = 0;
    while (emo_video_read(v, &f, 3, NULL) == EMO_OK) {
        int n = emo_pipeline_process(pl, &f, faces, 8);
        frames++;
        if (n < 1) continue;
        with_face++;
        if (first_id < 0) first_id = faces[0].track_id;
        id_changes += faces[0].track_id != first_id;
    }
    CHECK_MSG(with_face > frames * 8 / 10, "face in %d of %d frames", with_face, frames);
    CHECK_EQ_INT(id_changes, 0);
    emo_image_free(&f);
    emo_video_close(v);
    emo_pipeline_close(pl);
}

static void test_bad_inputs(void) {
    emo_pipeline_params pp = emo_pipeline_params_default();
    pp.model = "/nonexistent/model.emo";
    emo_pipeline *pl = NULL;
    CHECK_EQ_INT(emo_pipeline_open(&pl, &pp), EMO_ENOTFOUND);
    CHECK_STR_CONTAINS(emo_last_error(), "/nonexistent/model.emo");
    pp.model = "no-such-model";
    CHECK_EQ_INT(emo_pipeline_open(&pl, &pp), EMO_ENOTFOUND);
    pp = emo_pipeline_params_default();
    pp.model = model_name();
    pp.smooth = 1.5f;
    CHECK_EQ_INT(emo_pipeline_open(&pl, &pp), EMO_EINVAL);
    pp.smooth = 0.5f;
    pp.cascade = "/nonexistent/cascade.xml";
    CHECK(emo_pipeline_open(&pl, &pp) < 0);
    CHECK(pl == NULL);
    pl = open_pipeline(0.5f);
    if (!pl) return;
    emo_image empty = {0}, tiny = {0};
    emo_face faces[4];
    CHECK_EQ_INT(emo_pipeline_process(pl, &empty, faces, 4), EMO_EINVAL);
    CHECK_OK(emo_image_alloc(&tiny, 3, 2, 3));
    memset(tiny.data, 0, 18);
    CHECK_EQ_INT(emo_pipeline_process(pl, &tiny, faces, 4), 0); /* too small for any face */
    emo_image_free(&tiny);
    emo_pipeline_close(pl);
    emo_pipeline_close(NULL);
}

/* ---- the commands ---- */

static int count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

/* Data rows of an `emo video` CSV, and how many distinct frames they name. */
static int csv_rows(const char *path, int *frames) {
    FILE *f = fopen(path, "r");
    *frames = 0;
    if (!f) return -1;
    char line[1024];
    int rows = 0;
    long last = -1;
    while (fgets(line, sizeof line, f)) {
        if (!rows++ && strncmp(line, "frame,", 6) == 0) { rows = 0; continue; } /* header */
        long fr = strtol(line, NULL, 10);
        if (fr != last) (*frames)++, last = fr;
    }
    fclose(f);
    return rows;
}

static void test_cmd_image(void) {
    CHECK_EQ_INT(test_run_emo("image --model %s --json %s", model_name(), test_shared("media/expressions/happy.jpg")), 0);
    CHECK_STR_CONTAINS(test_emo_output, "\"faces\":[{\"box\":[");
    CHECK_STR_CONTAINS(test_emo_output, "\"emotion\":\"happy\"");
    CHECK_EQ_INT(test_run_emo("image --model %s %s -o %s", model_name(), test_shared("media/faces/bald_guys.jpg"),
                     test_tmp("bald.jpg")),
                 0);
    emo_image a = {0};
    CHECK_OK(emo_image_load(&a, test_tmp("bald.jpg"), 0));
    CHECK_EQ_INT(a.width, 1986);
    emo_image_free(&a);
    /* One bad file among good ones: reported, the others still done. */
    FILE *f = fopen(test_tmp("bad.jpg"), "w");
    if (f) fputs("not an image", f), fclose(f);
    CHECK_EQ_INT(test_run_emo("image --model %s --json %s %s", model_name(), test_tmp("bad.jpg"),
                     test_shared("media/expressions/sad.jpg")),
                 1);
    CHECK_STR_CONTAINS(test_emo_output, "not a JPEG or PNG");
    CHECK_STR_CONTAINS(test_emo_output, "sad.jpg");
    CHECK_EQ_INT(test_run_emo("image --model %s %s -o /proc/nope/x.jpg", model_name(), test_shared("media/expressions/sad.jpg")), 1);
}

static void test_cmd_video(void) {
    CHECK_EQ_INT(test_run_emo("video --model %s %s -o %s --csv %s --plot %s -q", model_name(),
                     test_shared("media/video/single_face.mp4"), test_tmp("sf.mp4"), test_tmp("sf.csv"),
                     test_tmp("sf.png")),
                 0);
    /* CSV: a header and one row per face per frame (one face here). */
    emo_video *v = NULL;
    CHECK_OK(emo_video_open(&v, test_tmp("sf.mp4")));
    int frames = 0;
    emo_image f = {0};
    while (v && emo_video_read(v, &f, 3, NULL) == EMO_OK) frames++;
    emo_video_close(v);
    int with_face, rows = csv_rows(test_tmp("sf.csv"), &with_face);
    CHECK_MSG(rows == with_face, "%d CSV rows for %d frames with a face (one face per frame)", rows, with_face);
    CHECK_MSG(with_face >= frames * 8 / 10 && with_face <= frames, "face in %d of %d frames", with_face, frames);
    CHECK_OK(emo_image_load(&f, test_tmp("sf.png"), 0));
    emo_image_free(&f);
    /* A truncated video: what decodes is processed, the damage reported. */
    FILE *in = fopen(test_shared("media/video/WolfgangLanger_Pexels.mp4"), "rb"), *out = fopen(test_tmp("cut.mp4"), "wb");
    if (in && out) {
        static char buf[1 << 16];
        size_t n, total = 0;
        while ((n = fread(buf, 1, sizeof buf, in)) > 0 && total < 600000) fwrite(buf, 1, n, out), total += n;
    }
    if (in) fclose(in);
    if (out) fclose(out);
    int rc = test_run_emo("video --model %s %s --csv %s -q", model_name(), test_tmp("cut.mp4"), test_tmp("cut.csv"));
    CHECK(rc == 0 || rc == 1);
    CHECK(count_lines(test_tmp("cut.csv")) > 1);
    CHECK_EQ_INT(test_run_emo("video --model %s %s --csv /proc/nope/x.csv", model_name(), test_shared("media/video/single_face.mp4")), 1);
    CHECK_EQ_INT(test_run_emo("video --model %s %s", model_name(), test_shared("media/video/single_face.mp4")), 2);
}

int main(int argc, char **argv) {
    static const test_case cases[] = {
        {"expressions_photos", test_expressions_photos},
        {"portrait_photo", test_portrait_photo},
        {"no_face_video", test_no_face_video},
        {"sad_to_happy_video", test_sad_to_happy_video},
        {"tracking_between_detections", test_tracking_between_detections},
        {"bad_inputs", test_bad_inputs},
        {"cmd_image", test_cmd_image},
        {"cmd_video", test_cmd_video},
    };
    return test_main(cases, TEST_COUNT(cases), argc, argv);
}
