/* test_camera.c — the camera frame source: missing devices, non-camera
 * files, and a video file played in real time with stale frames dropped. */
#include "emo.h"
#include "test.h"

#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void test_missing_device(void) {
    emo_camera_params p = emo_camera_params_default();
    p.device = "/dev/video-emo-does-not-exist";
    emo_camera *c = (emo_camera *)1;
    CHECK_EQ_INT(emo_camera_open(&c, &p), EMO_ENOTFOUND);
    CHECK(c == NULL);
    CHECK_STR_CONTAINS(emo_last_error(), "video-emo-does-not-exist");
    p.device = "/dev/null";
    CHECK_EQ_INT(emo_camera_open(&c, &p), EMO_EUNSUPPORTED);
    CHECK_STR_CONTAINS(emo_last_error(), "not a V4L2 device");
    p.width = 0;
    CHECK_EQ_INT(emo_camera_open(&c, &p), EMO_EINVAL);
}

static void test_file_as_camera(void) {
    emo_camera_params p = emo_camera_params_default();
    p.input = test_shared("media/video/single_face.mp4");
    emo_camera *c = NULL;
    CHECK_OK(emo_camera_open(&c, &p));
    if (!c) return;
    int w, h;
    CHECK_OK(emo_camera_size(c, &w, &h));
    CHECK(w > 0 && h > 0);
    emo_image f = {0};
    double t0 = now_s(), t, last_t = -1;
    int n = 0, s;
    /* A consumer slower than the video: it sees fewer frames than there
     * are, always the newest, in order. */
    while ((s = emo_camera_read(c, &f, &t, 3000)) == EMO_OK) {
        CHECK_EQ_INT(f.width, w);
        CHECK_EQ_INT(f.channels, 3);
        CHECK(t > last_t);
        last_t = t;
        n++;
        struct timespec ts = {0, 90 * 1000000L};
        nanosleep(&ts, NULL);
    }
    double wall = now_s() - t0;
    CHECK_EQ_INT(s, EMO_EEOF);
    CHECK(n > 5);
    CHECK_MSG(emo_camera_dropped(c) > 0, "no frame dropped although the reader was slow");
    /* Real-time pacing: the 2.4 s clip takes about 2.4 s, not less. */
    CHECK_MSG(wall > 1.8 && wall < 8, "playback took %.2f s", wall);
    emo_camera_close(c);
    emo_image_free(&f);
}

static void test_bad_input_file(void) {
    emo_camera_params p = emo_camera_params_default();
    FILE *fp = fopen(test_tmp("not-a-video.mp4"), "w");
    if (fp) fputs("hello\n", fp), fclose(fp);
    p.input = test_tmp("not-a-video.mp4");
    emo_camera *c = NULL;
    CHECK(emo_camera_open(&c, &p) < 0);
    CHECK(c == NULL);
    CHECK_STR_CONTAINS(emo_last_error(), "not-a-video.mp4");
    emo_camera_close(NULL);
}

int main(int argc, char **argv) {
    static const test_case cases[] = {
        {"missing_device", test_missing_device},
        {"file_as_camera", test_file_as_camera},
        {"bad_input_file", test_bad_input_file},
    };
    return test_main(cases, TEST_COUNT(cases), argc, argv);
}
