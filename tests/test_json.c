/* test_json.c — tools/json.c, the JSON writer of `emo serve`: escaping,
 * invalid UTF-8, numbers, separators, and the face format of `emo image
 * --json` and POST /api/analyze, byte for byte. */
#include "../tools/json.c"
#include "test.h"

static void test_strings(void) {
    json_buf j = {0};
    json_str(&j, "a\"b\\c\nd\te\r\x01 \xC3\xA9 \xF0\x9F\x98\x84");
    CHECK_STR_CONTAINS(j.data, "\"a\\\"b\\\\c\\nd\\te\\r\\u0001 \xC3\xA9 \xF0\x9F\x98\x84\"");
    json_clear(&j);
    /* Invalid UTF-8 (a lone continuation byte, an overlong '/', a surrogate,
     * a cut sequence) becomes U+FFFD, so the output stays valid JSON. */
    json_str(&j, "x\x80y\xC0\xAFz\xED\xA0\x80w\xE2\x82");
    CHECK_MSG(strcmp(j.data, "\"x\xEF\xBF\xBDy\xEF\xBF\xBD\xEF\xBF\xBDz\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDw"
                             "\xEF\xBF\xBD\xEF\xBF\xBD\"") == 0,
              "got %s", j.data);
    json_clear(&j);
    json_str(&j, NULL);
    CHECK(strcmp(j.data, "null") == 0);
    json_free(&j);
}

static void test_numbers_and_separators(void) {
    json_buf j = {0};
    json_lit(&j, "{");
    json_key(&j, "a");
    json_num(&j, 0.5);
    json_key(&j, "b");
    json_num(&j, NAN);
    json_key(&j, "c");
    json_lit(&j, "[");
    json_sep(&j), json_num(&j, 1);
    json_sep(&j), json_num(&j, INFINITY);
    json_lit(&j, "]}");
    CHECK_MSG(strcmp(j.data, "{\"a\":0.5,\"b\":null,\"c\":[1,null]}") == 0, "got %s", j.data);
    json_free(&j);
}

static void test_grows(void) {
    json_buf j = {0};
    for (int i = 0; i < 100000; i++) json_printf(&j, "%d,", i % 10);
    CHECK(!j.failed);
    CHECK_EQ_INT(j.len, 200000);
    CHECK_EQ_INT(strlen(j.data), 200000);
    json_free(&j);
}

/* The format documented in docs/API.md, byte for byte (both `emo image
 * --json` and the server print through json_face). */
static void test_face_format(void) {
    static const char *const names[] = {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"};
    emo_face faces[2] = {0};
    faces[0] = (emo_face){.box = {257, 79, 121, 121}, .track_id = 1, .label = 3, .nclasses = 7};
    faces[1] = (emo_face){.box = {0, 0, 30, 31}, .track_id = 2, .label = 6, .nclasses = 7};
    const float p[7] = {0.0123f, 0.00049f, 0.01f, 0.9312f, 0.0101f, 0.02f, 0.01559f};
    for (int c = 0; c < 7; c++) faces[0].smoothed[c] = p[c], faces[1].smoothed[c] = p[6 - c];
    json_buf j = {0};
    json_begin_image(&j, "dir/ph\"oto.jpg", 500, 282);
    for (int i = 0; i < 2; i++) json_face(&j, &faces[i], names, 7, true);
    json_end_image(&j);
    const char *want =
        "{\"image\":\"dir/ph\\\"oto.jpg\",\"width\":500,\"height\":282,\"faces\":["
        "{\"box\":[257,79,121,121],\"track_id\":1,\"emotion\":\"happy\",\"scores\":{\"angry\":0.0123,"
        "\"disgust\":0.0005,\"fear\":0.0100,\"happy\":0.9312,\"sad\":0.0101,\"surprise\":0.0200,\"neutral\":0.0156}},"
        "{\"box\":[0,0,30,31],\"track_id\":2,\"emotion\":\"neutral\",\"scores\":{\"angry\":0.0156,"
        "\"disgust\":0.0200,\"fear\":0.0101,\"happy\":0.9312,\"sad\":0.0100,\"surprise\":0.0005,\"neutral\":0.0123}}]}";
    CHECK_MSG(j.data && strcmp(j.data, want) == 0, "\n  got:  %s\n  want: %s", j.data, want);
    /* with landmarks: the pose always, the points when asked; a tilt */
    faces[0].npoints = 68;
    for (int k = 0; k < 68; k++) faces[0].points[2 * k] = 100 + k, faces[0].points[2 * k + 1] = 50.25f;
    faces[0].roll = -13.84f, faces[0].yaw = 5.0f, faces[0].pitch = 0;
    faces[0].tilt = 30;
    for (int pts = 0; pts < 2; pts++) {
        json_clear(&j);
        json_face(&j, &faces[0], names, 7, pts);
        CHECK_STR_CONTAINS(j.data, "\"neutral\":0.0156},\"pose\":{\"roll\":-13.8,\"yaw\":5.0,\"pitch\":0.0}");
        CHECK_STR_CONTAINS(j.data, pts ? "\"landmarks\":[[100.0,50.2],[101.0,50.2]," : "\"pose\"");
        CHECK_STR_CONTAINS(j.data, pts ? "[167.0,50.2]],\"tilt\":30}" : "},\"tilt\":30}");
        CHECK(pts || !strstr(j.data, "landmarks"));
    }
    json_free(&j);
}

static const test_case cases[] = {
    {"strings", test_strings},
    {"numbers_and_separators", test_numbers_and_separators},
    {"grows", test_grows},
    {"face_format", test_face_format},
};

int main(int argc, char **argv) { return test_main(cases, TEST_COUNT(cases), argc, argv); }
