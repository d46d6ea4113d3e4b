/* test_track.c — face tracking across frames and probability smoothing. */
#include "test.h"
#include "track.h"

static void test_iou(void) {
    emo_track_box a = {0, 0, 10, 10}, b = {5, 0, 10, 10}, c = {20, 20, 5, 5};
    CHECK_NEAR(emo_track_iou(a, a), 1.0, 1e-6);
    CHECK_NEAR(emo_track_iou(a, b), 50.0 / 150.0, 1e-6);
    CHECK_NEAR(emo_track_iou(a, c), 0.0, 0);
}

static void test_ids_stable_while_moving(void) {
    emo_tracker t;
    emo_tracker_init(&t);
    int slot[2];
    /* Two faces drifting right by 3 px per frame keep their ids. */
    for (int f = 0; f < 50; f++) {
        emo_track_box b[2] = {{10 + 3 * f, 10, 60, 60}, {300 - 3 * f, 200, 80, 80}};
        if (f % 2) { /* order of detections must not matter */
            emo_track_box s = b[0];
            b[0] = b[1], b[1] = s;
        }
        emo_tracker_update(&t, b, 2, slot);
        CHECK(slot[0] >= 0 && slot[1] >= 0);
        int id0 = t.tracks[slot[0]].id, id1 = t.tracks[slot[1]].id;
        CHECK_EQ_INT(f % 2 ? id1 : id0, 1);
        CHECK_EQ_INT(f % 2 ? id0 : id1, 2);
    }
    CHECK_EQ_INT(t.n, 2);
}

static void test_missing_then_dropped(void) {
    emo_tracker t;
    emo_tracker_init(&t);
    int slot[1];
    emo_track_box b = {100, 100, 50, 50};
    emo_tracker_update(&t, &b, 1, slot);
    /* A few frames without the face: the track survives and is re-found. */
    for (int f = 0; f < 5; f++) emo_tracker_update(&t, NULL, 0, slot);
    emo_tracker_update(&t, &b, 1, slot);
    CHECK_EQ_INT(t.tracks[slot[0]].id, 1);
    /* Gone for longer than max_missing: dropped, a new face gets a new id. */
    for (int f = 0; f <= t.max_missing; f++) emo_tracker_update(&t, NULL, 0, slot);
    CHECK_EQ_INT(t.n, 0);
    emo_tracker_update(&t, &b, 1, slot);
    CHECK_EQ_INT(t.tracks[slot[0]].id, 2);
}

static void test_table_full(void) {
    emo_tracker t;
    emo_tracker_init(&t);
    emo_track_box b[EMO_TRACK_MAX + 5];
    int slot[EMO_TRACK_MAX + 5];
    for (int i = 0; i < EMO_TRACK_MAX + 5; i++) b[i] = (emo_track_box){i * 20, 0, 10, 10};
    emo_tracker_update(&t, b, EMO_TRACK_MAX + 5, slot);
    CHECK_EQ_INT(t.n, EMO_TRACK_MAX);
    CHECK_EQ_INT(slot[EMO_TRACK_MAX + 4], -1);
}

static void test_smoothing(void) {
    emo_track tr = {0};
    float p1[3] = {1, 0, 0}, p2[3] = {0, 1, 0}, out[3];
    emo_track_smooth(&tr, p1, 3, 0.8f, out);
    CHECK_NEAR(out[0], 1, 1e-6);
    emo_track_smooth(&tr, p2, 3, 0.8f, out);
    CHECK_NEAR(out[0], 0.8, 1e-6);
    CHECK_NEAR(out[1], 0.2, 1e-6);
    for (int i = 0; i < 60; i++) emo_track_smooth(&tr, p2, 3, 0.8f, out);
    CHECK(out[1] > 0.99f);
    emo_track_smooth(&tr, p1, 3, 0, out); /* off: follows the frame */
    CHECK_NEAR(out[0], 1, 0);
}

int main(int argc, char **argv) {
    static const test_case cases[] = {
        {"iou", test_iou},
        {"ids_stable_while_moving", test_ids_stable_while_moving},
        {"missing_then_dropped", test_missing_then_dropped},
        {"table_full", test_table_full},
        {"smoothing", test_smoothing},
    };
    return test_main(cases, TEST_COUNT(cases), argc, argv);
}
