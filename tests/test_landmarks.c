/* test_landmarks.c — the 68-point landmark predictor (src/landmarks.c)
 * against dlib's own points (tests/data/landmarks/refs.txt, made by
 * tests/ref/make_landmark_refs.py), hostile model files, head pose. */
#include "emo.h"
#include "test.h"

#include <stdint.h>
#include <time.h>

#define REFS "tests/data/landmarks/refs.txt"

static const char *model_path(void) {
    const char *e = getenv("EMO_LANDMARK_MODEL");
    return e && *e ? e : EMO_LANDMARK_MODEL;
}

/* Every face of the reference file: same grey pixels as dlib saw (the
 * grey sum), then every point within 0.5 px of dlib's (in fact ~1e-4: the
 * same arithmetic in the same order). */
static void test_matches_dlib(void) {
    emo_landmarker *lm = NULL;
    CHECK_OK(emo_landmarker_open(&lm, NULL));
    FILE *f = fopen(REFS, "r");
    CHECK(f != NULL);
    if (!lm || !f) {
        if (f) fclose(f);
        emo_landmarker_close(lm);
        return;
    }
    CHECK_EQ_INT(emo_landmarker_points(lm), 68);
    static char line[1 << 14];
    emo_image img = {0};
    char cur[256] = "";
    int faces = 0, images = 0, far = 0;
    double worst = 0, sum = 0;
    while (fgets(line, sizeof line, f)) {
        char name[256], src[32];
        int w, h, n;
        long long gs;
        if (sscanf(line, "IMAGE %255s %d %d %lld", name, &w, &h, &gs) == 4) {
            emo_image_free(&img);
            CHECK_OK(emo_image_load(&img, test_shared(name), 1));
            CHECK_EQ_INT(img.width, w);
            CHECK_EQ_INT(img.height, h);
            long long s = 0;
            for (int y = 0; y < img.height; y++)
                for (int x = 0; x < img.width; x++) s += img.data[(size_t)y * img.stride + x];
            /* libjpeg-turbo's and OpenCV's libjpeg differ by a level in a
             * few pixels of some photos; the points hardly move for that */
            CHECK_MSG(llabs(s - gs) <= 16, "%s: grey sum %lld, dlib saw %lld (decoder differs)", name, s, gs);
            if (s != gs) printf("    %s: grey sum %lld, dlib saw %lld\n", name, s, gs);
            snprintf(cur, sizeof cur, "%s", name);
            images++;
            continue;
        }
        emo_rect box;
        if (sscanf(line, "%255s %31s %d %d %d %d%n", name, src, &box.x, &box.y, &box.w, &box.h, &n) != 6) continue;
        CHECK_MSG(!strcmp(name, cur), "%s: face line before its IMAGE line", name);
        float ref[136], xy[136];
        const char *p = line + n;
        int k = 0;
        for (; k < 136; k++) {
            char *end;
            ref[k] = strtof(p, &end);
            if (end == p) break;
            p = end;
        }
        CHECK_EQ_INT(k, 136);
        CHECK_EQ_INT(emo_landmarks(lm, &img, box, xy), 68);
        double face_worst = 0;
        for (int i = 0; i < 136; i++) {
            double d = fabs(xy[i] - ref[i]);
            face_worst = d > face_worst ? d : face_worst;
            sum += d;
        }
        if (face_worst > 0.5) {
            far++;
            printf("    %s %s box %d %d %d %d: off by %.3f px\n", name, src, box.x, box.y, box.w, box.h, face_worst);
        }
        worst = face_worst > worst ? face_worst : worst;
        faces++;
    }
    fclose(f);
    emo_image_free(&img);
    printf("    %d faces in %d photos: largest difference %.2g px, mean %.2g px\n", faces, images, worst,
           faces ? sum / (faces * 136.0) : 0.0);
    CHECK(images >= 13);
    CHECK(faces >= 70);
    CHECK_EQ_INT(far, 0);
    CHECK(worst <= 0.5);
    emo_landmarker_close(lm);
}

/* Faces hanging off the image, a 1x1 box, a box as large as the image: the
 * points are finite, and pixels outside read as 0 (as in dlib). */
static void test_odd_boxes(void) {
    emo_landmarker *lm = NULL;
    CHECK_OK(emo_landmarker_open(&lm, NULL));
    if (!lm) return;
    emo_image img = {0};
    CHECK_OK(emo_image_load(&img, test_shared("media/faces/Tom_Cruise_avp_2014_4.jpg"), 1));
    emo_rect boxes[] = {{-50, -50, 100, 100}, {img.width - 10, img.height - 10, 200, 200}, {5, 5, 1, 1},
                        {0, 0, img.width, img.height}, {10, 10, 1, 300}};
    for (size_t b = 0; b < sizeof boxes / sizeof boxes[0]; b++) {
        float xy[136];
        CHECK_EQ_INT(emo_landmarks(lm, &img, boxes[b], xy), 68);
        int finite = 0;
        for (int i = 0; i < 136; i++) finite += isfinite(xy[i]);
        CHECK_EQ_INT(finite, 136);
    }
    float xy[136];
    CHECK_EQ_INT(emo_landmarks(lm, &img, (emo_rect){0, 0, 0, 10}, xy), EMO_EINVAL);
    emo_image rgb = {0};
    CHECK_OK(emo_image_convert(&img, &rgb, 3));
    CHECK_EQ_INT(emo_landmarks(lm, &rgb, (emo_rect){0, 0, 50, 50}, xy), EMO_EINVAL);
    CHECK_STR_CONTAINS(emo_last_error(), "grey");
    emo_image_free(&rgb);
    emo_image_free(&img);
    emo_landmarker_close(lm);
}

/* Opening a path twice shares the model; each open needs its close. */
static void test_shared_open(void) {
    emo_landmarker *a = NULL, *b = NULL;
    CHECK_OK(emo_landmarker_open(&a, model_path()));
    CHECK_OK(emo_landmarker_open(&b, model_path()));
    CHECK(a != NULL && a == b);
    emo_landmarker_stats st;
    emo_landmarker_info(a, &st);
    CHECK_EQ_INT(st.points, 68);
    CHECK_EQ_INT(st.levels, 15);
    CHECK_EQ_INT(st.trees, 7500);
    CHECK_EQ_INT(st.depth, 4);
    emo_landmarker_close(a);
    emo_landmarker_close(b);
    emo_landmarker_close(NULL);
    emo_landmarker *c = NULL;
    CHECK_EQ_INT(emo_landmarker_open(&c, "/nonexistent/model.dat"), EMO_ENOTFOUND);
    CHECK(c == NULL);
    CHECK_STR_CONTAINS(emo_last_error(), "/nonexistent/model.dat");
}

/* ------------------------------------------------------------------------ */
/* Hostile files: a small model written here in dlib's encoding, then broken */
/* ------------------------------------------------------------------------ */

typedef struct bytes {
    uint8_t b[1 << 16];
    size_t n;
} bytes;

static void put_int(bytes *o, int64_t v) {
    uint8_t neg = v < 0 ? 0x80 : 0;
    uint64_t u = v < 0 ? (uint64_t)(-v) : (uint64_t)v;
    uint8_t buf[9];
    int n = 0;
    do {
        buf[1 + n++] = u & 0xFF;
        u >>= 8;
    } while (u);
    buf[0] = (uint8_t)n | neg;
    memcpy(o->b + o->n, buf, (size_t)n + 1);
    o->n += (size_t)n + 1;
}

static void put_float(bytes *o, float f) {
    if (!isfinite(f)) { /* dlib's codes for inf and NaN */
        put_int(o, 0);
        put_int(o, isnan(f) ? 32002 : 32000);
        return;
    }
    int e;
    double m = frexp(f, &e);
    put_int(o, (int64_t)ldexp(m, 24));
    put_int(o, e - 24);
}

static void put_vec(bytes *o, const float *v, int n) {
    put_int(o, -n);
    put_int(o, -1);
    for (int i = 0; i < n; i++) put_float(o, v[i]);
}

/* Where the parts of the tiny model start, to break them. */
typedef struct tiny_at {
    size_t levels, trees, nsplit, idx1, thresh, nleaf, anchor, nfeat2, end;
} tiny_at;

/* 2 points, 1 level of 1 tree of depth 1 on 2 feature pixels: the left
 * leaf moves point 0 right by 0.25 of the box, the right leaf point 1 down.
 * Feature 0 hangs 0.1 left of point 0, feature 1 on point 1. */
static void tiny_model(bytes *o, tiny_at *at, float thresh) {
    o->n = 0;
    put_int(o, 1);
    const float init[4] = {0.25f, 0.5f, 0.75f, 0.5f};
    put_vec(o, init, 4);
    at->levels = o->n;
    put_int(o, 1);         /* levels */
    at->trees = o->n;
    put_int(o, 1);         /* trees */
    at->nsplit = o->n;
    put_int(o, 1);         /* splits */
    at->idx1 = o->n;
    put_int(o, 0);         /* idx1 */
    put_int(o, 1);         /* idx2 */
    at->thresh = o->n;
    put_float(o, thresh);
    at->nleaf = o->n;
    put_int(o, 2);         /* leaves */
    const float l0[4] = {0.25f, 0, 0, 0}, l1[4] = {0, 0, 0, 0.25f};
    put_vec(o, l0, 4);
    put_vec(o, l1, 4);
    put_int(o, 1);         /* anchor levels */
    put_int(o, 2);
    at->anchor = o->n;
    put_int(o, 0);
    put_int(o, 1);
    put_int(o, 1);         /* delta levels */
    at->nfeat2 = o->n;
    put_int(o, 2);
    put_float(o, -0.1f), put_float(o, 0);
    put_float(o, 0), put_float(o, 0);
    at->end = o->n;
}

static int parse(const bytes *o, size_t n) {
    emo_landmarker *m = NULL;
    int s = emo_landmarker_parse(&m, o->b, n, "tiny.dat");
    if (s == EMO_OK) CHECK(m != NULL);
    else CHECK(m == NULL);
    emo_landmarker_close(m);
    return s;
}

static void test_tiny_model(void) {
    bytes o;
    tiny_at at;
    tiny_model(&o, &at, 10.0f);
    emo_landmarker *m = NULL;
    CHECK_OK(emo_landmarker_parse(&m, o.b, o.n, "tiny.dat"));
    if (!m) return;
    CHECK_EQ_INT(emo_landmarker_points(m), 2);
    /* 101x101 box at the origin: u -> 100 u. Feature 0 at (15, 50),
     * feature 1 at (75, 50). */
    uint8_t px[101 * 101];
    memset(px, 0, sizeof px);
    emo_image img = emo_image_wrap(px, 101, 101, 1, 101);
    float xy[4];
    px[50 * 101 + 15] = 200; /* 200 - 0 > 10: left leaf, point 0 moves */
    CHECK_EQ_INT(emo_landmarks(m, &img, (emo_rect){0, 0, 101, 101}, xy), 2);
    CHECK_NEAR(xy[0], 50, 1e-4);
    CHECK_NEAR(xy[1], 50, 1e-4);
    CHECK_NEAR(xy[2], 75, 1e-4);
    CHECK_NEAR(xy[3], 50, 1e-4);
    px[50 * 101 + 15] = 5; /* 5 - 0 <= 10: right leaf, point 1 moves */
    CHECK_EQ_INT(emo_landmarks(m, &img, (emo_rect){0, 0, 101, 101}, xy), 2);
    CHECK_NEAR(xy[0], 25, 1e-4);
    CHECK_NEAR(xy[3], 75, 1e-4);
    /* the same box moved by (-20, 0) puts feature 0 off the image: reads 0 */
    px[50 * 101 + 15] = 0;
    px[50 * 101 + 55] = 0;
    CHECK_EQ_INT(emo_landmarks(m, &img, (emo_rect){-20, 0, 101, 101}, xy), 2);
    CHECK_NEAR(xy[3], 75, 1e-4);
    emo_landmarker_close(m);
}

static void test_hostile_files(void) {
    bytes o;
    tiny_at at;
    tiny_model(&o, &at, 10.0f);
    CHECK_OK(parse(&o, o.n));
    /* every truncation fails cleanly */
    int bad = 0;
    for (size_t n = 0; n < o.n; n++) bad += parse(&o, n) != EMO_OK;
    CHECK_EQ_INT(bad, (int)o.n);
    CHECK_EQ_INT(parse(&o, at.end - 3), EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "truncated");
    /* trailing garbage */
    o.b[o.n] = 0;
    CHECK_EQ_INT(parse(&o, o.n + 1), EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "bytes after");

    struct {
        const char *what;
        size_t *at;
        int64_t value;
        const char *message;
    } cases[] = {
        {"levels claiming 2^40", &at.levels, (int64_t)1 << 40, "limit"},
        {"trees claiming 5000 (bytes)", &at.trees, 5000, "more bytes than the file has"},
        {"splits claiming 2^33", &at.nsplit, (int64_t)1 << 33, "limit"},
        {"split index out of range", &at.idx1, 7, "feature 7 of 2"},
        {"split index negative", &at.idx1, -1, "negative"},
        {"leaves != splits + 1", &at.nleaf, 3, "leaf count"},
        {"anchor out of range", &at.anchor, 2, "not a point"},
        {"deltas count differs", &at.nfeat2, 3, "differs"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tiny_model(&o, &at, 10.0f);
        bytes b;
        size_t pos = *cases[c].at;
        /* replace the integer at pos (its control byte gives its length) */
        size_t old = 1 + (o.b[pos] & 0x0F);
        b.n = 0;
        memcpy(b.b, o.b, pos);
        b.n = pos;
        put_int(&b, cases[c].value);
        memcpy(b.b + b.n, o.b + pos + old, o.n - pos - old);
        b.n += o.n - pos - old;
        int s = parse(&b, b.n);
        CHECK_MSG(s == EMO_EFORMAT, "%s: status %d (%s)", cases[c].what, s, emo_last_error());
        CHECK_MSG(strstr(emo_last_error(), cases[c].message), "%s: \"%s\" lacks \"%s\"", cases[c].what,
                  emo_last_error(), cases[c].message);
        CHECK_STR_CONTAINS(emo_last_error(), "tiny.dat: byte ");
    }
    /* NaN and infinite thresholds: exponent codes 32002 and 32000 */
    tiny_model(&o, &at, NAN);
    CHECK_EQ_INT(parse(&o, o.n), EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "NaN");
    tiny_model(&o, &at, INFINITY);
    CHECK_EQ_INT(parse(&o, o.n), EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "infinite");
    /* version 2, a text-format byte */
    tiny_model(&o, &at, 10.0f);
    o.b[1] = 2;
    CHECK_EQ_INT(parse(&o, o.n), EMO_EFORMAT);
    CHECK_STR_CONTAINS(emo_last_error(), "version 2");
    o.b[1] = 1;
    o.b[2] = '1'; /* an ASCII digit where the control byte of -4 is */
    CHECK_EQ_INT(parse(&o, o.n), EMO_EFORMAT);
    CHECK_EQ_INT(parse(&o, 0), EMO_EFORMAT);
    CHECK_EQ_INT(emo_landmarker_parse(NULL, o.b, o.n, "x"), EMO_EINVAL);
}

/* The real file cut short at many places, and with bytes flipped at random:
 * an error or (for a flip that keeps the structure) a model; never a crash. */
static void test_real_file_damaged(void) {
    FILE *f = fopen(model_path(), "rb");
    CHECK(f != NULL);
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)size);
    CHECK(buf && fread(buf, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    if (!buf) return;
    const long cuts[] = {1, 2, 5, 100, 1000, 123456, size / 2, size - 1000, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        emo_landmarker *m = NULL;
        CHECK_EQ_INT(emo_landmarker_parse(&m, buf, (size_t)cuts[i], "cut.dat"), EMO_EFORMAT);
        CHECK(m == NULL);
    }
    uint64_t r = 12345;
    int ok = 0, failed = 0;
    for (int t = 0; t < 6; t++) {
        size_t pos[8];
        uint8_t was[8];
        for (int k = 0; k < 8; k++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            pos[k] = (size_t)((r >> 20) % (uint64_t)size);
            was[k] = buf[pos[k]];
            buf[pos[k]] ^= (uint8_t)(1u << ((r >> 8) & 7));
        }
        emo_landmarker *m = NULL;
        if (emo_landmarker_parse(&m, buf, (size_t)size, "flipped.dat") == EMO_OK) ok++;
        else failed++;
        emo_landmarker_close(m);
        for (int k = 7; k >= 0; k--) buf[pos[k]] = was[k];
    }
    printf("    flipped bits: %d models still read, %d refused\n", ok, failed);
    free(buf);
}

/* ------------------------------------------------------------------------ */
/* Head pose                                                                */
/* ------------------------------------------------------------------------ */

/* The generic head of emo_head_pose turned by known angles and projected
 * orthographically: the angles come back. */
static void test_head_pose_synthetic(void) {
    static const int idx[6] = {30, 8, 36, 45, 48, 54};
    static const double X[6][3] = {{0, 0, 0},          {0, 330, -65},     {-225, -170, -135},
                                   {225, -170, -135},  {-150, 150, -125}, {150, 150, -125}};
    const double deg = 3.14159265358979323846 / 180;
    const float angles[][3] = {{0, 0, 0}, {20, 0, 0}, {0, 30, 0}, {0, 0, 15}, {-10, -25, 10}, {35, 15, -20}};
    for (size_t a = 0; a < sizeof angles / sizeof angles[0]; a++) {
        double r = angles[a][0] * deg, y = angles[a][1] * deg, p = angles[a][2] * deg;
        double Rz[3][3] = {{cos(r), -sin(r), 0}, {sin(r), cos(r), 0}, {0, 0, 1}};
        double Ry[3][3] = {{cos(y), 0, sin(y)}, {0, 1, 0}, {-sin(y), 0, cos(y)}};
        double Rx[3][3] = {{1, 0, 0}, {0, cos(p), -sin(p)}, {0, sin(p), cos(p)}};
        double T[3][3], R[3][3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                T[i][j] = 0;
                for (int k = 0; k < 3; k++) T[i][j] += Ry[i][k] * Rx[k][j];
            }
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                R[i][j] = 0;
                for (int k = 0; k < 3; k++) R[i][j] += Rz[i][k] * T[k][j];
            }
        float xy[136] = {0};
        for (int i = 0; i < 6; i++)
            for (int k = 0; k < 2; k++)
                xy[2 * idx[i] + k] =
                    (float)(300 + 0.4 * (R[k][0] * X[i][0] + R[k][1] * X[i][1] + R[k][2] * X[i][2]));
        float ro, ya, pi;
        CHECK_OK(emo_head_pose(xy, &ro, &ya, &pi));
        CHECK_NEAR(ro, angles[a][0], 0.05);
        CHECK_NEAR(ya, angles[a][1], 0.05);
        CHECK_NEAR(pi, angles[a][2], 0.05);
    }
    float zero[136] = {0}, ro, ya, pi;
    CHECK_EQ_INT(emo_head_pose(zero, &ro, &ya, &pi), EMO_ENUMERIC);
}

/* A real face: turned by +-30 degrees in the image, roll changes by +-30
 * (within 4); mirrored, roll and yaw change sign. */
static void test_head_pose_photos(void) {
    emo_landmarker *lm = NULL;
    emo_detector *det = NULL;
    CHECK_OK(emo_landmarker_open(&lm, NULL));
    CHECK_OK(emo_detector_open(&det, "haar-alt2"));
    emo_image img = {0}, turned = {0};
    CHECK_OK(emo_image_load(&img, test_shared("media/expressions/happy.jpg"), 1));
    if (!lm || !det || !img.data) goto out;
    emo_detect_params p = emo_detect_params_default();
    emo_rect r[8];
    CHECK_EQ_INT(emo_detect(det, &img, &p, r, 8), 1);
    float xy[136], roll0, yaw0, pitch0;
    CHECK_EQ_INT(emo_landmarks(lm, &img, emo_landmark_box(r[0]), xy), 68);
    CHECK_OK(emo_head_pose(xy, &roll0, &yaw0, &pitch0));
    printf("    happy.jpg: roll %.1f yaw %.1f pitch %.1f\n", roll0, yaw0, pitch0);
    CHECK(yaw0 < -5); /* turned towards the image's left */
    /* mirrored: the same face turned and tilted the other way */
    {
        emo_image mir = {0};
        CHECK_OK(emo_image_alloc(&mir, img.width, img.height, 1));
        for (int y = 0; y < img.height; y++)
            for (int x = 0; x < img.width; x++)
                mir.data[(size_t)y * mir.stride + x] = img.data[(size_t)y * img.stride + img.width - 1 - x];
        emo_rect mb = emo_landmark_box(r[0]);
        mb.x = img.width - mb.x - mb.w;
        float ro, ya, pi;
        CHECK_EQ_INT(emo_landmarks(lm, &mir, mb, xy), 68);
        CHECK_OK(emo_head_pose(xy, &ro, &ya, &pi));
        printf("    mirrored: roll %.1f yaw %.1f pitch %.1f\n", ro, ya, pi);
        CHECK_NEAR(ro, -roll0, 3);
        CHECK_NEAR(ya, -yaw0, 4);
        CHECK_NEAR(pi, pitch0, 4);
        emo_image_free(&mir);
    }
    for (int sgn = -1; sgn <= 1; sgn += 2) {
        /* turn about the face centre by 30 degrees clockwise as seen (sgn 1) */
        float a = sgn * 30 * 3.14159265f / 180, ca = cosf(a), sa = sinf(a);
        float cx = r[0].x + r[0].w * 0.5f, cy = r[0].y + r[0].h * 0.5f;
        /* dst -> src: rotate by -a about the centre */
        float m[6] = {ca, sa, cx - ca * cx - sa * cy, -sa, ca, cy + sa * cx - ca * cy};
        CHECK_OK(emo_image_warp_affine(&img, &turned, m, img.width, img.height));
        float xy2[136], ro, ya, pi;
        CHECK_EQ_INT(emo_landmarks(lm, &turned, emo_landmark_box(r[0]), xy2), 68);
        CHECK_OK(emo_head_pose(xy2, &ro, &ya, &pi));
        printf("    turned %+d: roll %.1f yaw %.1f pitch %.1f\n", sgn * 30, ro, ya, pi);
        CHECK_NEAR(ro - roll0, sgn * 30, 4);
    }
out:
    emo_image_free(&img);
    emo_image_free(&turned);
    emo_detector_close(det);
    emo_landmarker_close(lm);
}

/* Time per face on the shared photos' boxes (the target is 0.5 ms on the
 * project's CPU: docs/BENCHMARKS.md; here only a loose bound for loaded CI
 * machines and sanitizer builds). */
static void test_speed(void) {
    emo_landmarker *lm = NULL;
    CHECK_OK(emo_landmarker_open(&lm, NULL));
    emo_image img = {0};
    CHECK_OK(emo_image_load(&img, test_shared("media/faces/2008_001322.jpg"), 1));
    if (!lm || !img.data) {
        emo_landmarker_close(lm);
        emo_image_free(&img);
        return;
    }
    float xy[136];
    /* the best of 10 rounds of 50 faces: other work on the machine only adds */
    double ms = 1e9;
    for (int round = 0; round < 10; round++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < 50; i++) emo_landmarks(lm, &img, (emo_rect){104 + i % 3, 170, 70, 70}, xy);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double t = ((t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6) / 50;
        ms = t < ms ? t : ms;
    }
    printf("    %.3f ms per face\n", ms);
    CHECK(ms < 20);
    emo_image_free(&img);
    emo_landmarker_close(lm);
}

static const test_case cases[] = {
    {"matches_dlib", test_matches_dlib},
    {"odd_boxes", test_odd_boxes},
    {"shared_open", test_shared_open},
    {"tiny_model", test_tiny_model},
    {"hostile_files", test_hostile_files},
    {"real_file_damaged", test_real_file_damaged},
    {"head_pose_synthetic", test_head_pose_synthetic},
    {"head_pose_photos", test_head_pose_photos},
    {"speed", test_speed},
};

int main(int argc, char **argv) { return test_main(cases, TEST_COUNT(cases), argc, argv); }
