/* test_json.c — tools/json.c, the JSON writer of `emo serve`: escaping,
 * invalid UTF-8, numbers, separators, and the face format of `emo image
 * --json` and POST /api/analyze, byte for byte; and the reader
 * (tools/json_parse.c) of `emo batch` summaries: round trips and malformed text. */
#include "../tools/json.c"
#include "../tools/json_parse.c"
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

/* What the writer writes, the reader reads back: strings with escapes and
 * UTF-8, numbers, nesting, look-ups. */
static void test_parse_round_trip(void) {
    json_buf j = {0};
    json_lit(&j, "{");
    json_key(&j, "path"), json_str(&j, "a \"b\"\\c\nd\t\x01 \xC3\xA9t\xC3\xA9 \xF0\x9F\x98\x84");
    json_key(&j, "n"), json_lit(&j, "-12.5e1");
    json_key(&j, "list"), json_lit(&j, "[1, [true, false, null], {\"x\": {}}, []]");
    json_lit(&j, "}");
    json_value v;
    char err[128];
    CHECK_MSG(json_parse(j.data, j.len, &v, err, sizeof err) == 0, "parse: %s", err);
    CHECK_MSG(json_get_str(&v, "path") && strcmp(json_get_str(&v, "path"), "a \"b\"\\c\nd\t\x01 \xC3\xA9t\xC3\xA9 \xF0\x9F\x98\x84") == 0,
              "got %s", json_get_str(&v, "path"));
    CHECK_NEAR(json_get_num(&v, "n", 0), -125, 0);
    const json_value *l = json_get(&v, "list");
    CHECK(l && l->type == JSON_ARR && l->n == 4);
    if (l && l->n == 4) {
        CHECK(l->items[1].type == JSON_ARR && l->items[1].n == 3 && l->items[1].items[0].b && l->items[1].items[2].type == JSON_NULL);
        CHECK(json_get(&l->items[2], "x") && json_get(&l->items[2], "x")->type == JSON_OBJ);
        CHECK(l->items[3].type == JSON_ARR && l->items[3].n == 0);
    }
    CHECK(json_get(&v, "absent") == NULL && json_get_num(&v, "path", 7) == 7 && json_get_str(&v, "n") == NULL);
    json_value_free(&v);
    json_free(&j);
    /* \u escapes, a surrogate pair among them */
    const char *u = "\"\\u00e9\\ud83d\\ude04\\u002F\"";
    CHECK_OK(json_parse(u, strlen(u), &v, err, sizeof err));
    CHECK_MSG(v.str && strcmp(v.str, "\xC3\xA9\xF0\x9F\x98\x84/") == 0, "got %s", v.str);
    json_value_free(&v);
}

/* Malformed text is refused with the line, never read past its end. */
static void test_parse_malformed(void) {
    static const char *const bad[] = {
        "", "{", "[1,", "{\"a\" 1}", "{\"a\":1,}", "[1 2]", "\"abc", "\"a\\q\"", "\"\\u12\"", "\"\\ud83d\"",
        "\"\\u0000\"", "tru", "nul", "01x", "{} x", "\"a\nb\"", "{1:2}", "-",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_value v;
        char err[128] = "";
        int r = json_parse(bad[i], strlen(bad[i]), &v, err, sizeof err);
        CHECK_MSG(r == -1 && strncmp(err, "line ", 5) == 0, "'%s' -> %d (%s)", bad[i], r, err);
        CHECK(v.type == JSON_NULL && v.items == NULL);
    }
    /* deeper than 64 */
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    json_value v;
    char err[128];
    CHECK(json_parse(deep, sizeof deep, &v, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, "deeper");
    const char *two = "{\n\"a\": 1,\n\"b\" 2}";
    CHECK(json_parse(two, strlen(two), &v, err, sizeof err) == -1);
    CHECK_STR_CONTAINS(err, "line 3");
}

static const test_case cases[] = {
    {"parse_round_trip", test_parse_round_trip},
    {"parse_malformed", test_parse_malformed},
    {"strings", test_strings},
    {"numbers_and_separators", test_numbers_and_separators},
    {"grows", test_grows},
    {"face_format", test_face_format},
};

int main(int argc, char **argv) { return test_main(cases, TEST_COUNT(cases), argc, argv); }
