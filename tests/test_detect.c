/* test_detect.c — the cascade loader and face detector: parity with OpenCV
 * 4.6 (tests/data/detect/refs.txt, made by tests/ref/make_detect_refs.py),
 * the vector evaluator against the plain one, grouping, and bad input. */
#include "emo.h"
#include "test.h"

#include "cascade.h"
#include "detect.h"

#include <stdint.h>

static const char *cascade_dir(void) {
    const char *d = getenv("EMO_CASCADE_DIR");
    return d && *d ? d : "/usr/share/opencv4";
}

static double iou(emo_rect a, emo_rect b) {
    int x0 = a.x > b.x ? a.x : b.x, y0 = a.y > b.y ? a.y : b.y;
    int x1 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w, y1 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
    if (x1 <= x0 || y1 <= y0) return 0;
    double in = (double)(x1 - x0) * (y1 - y0);
    return in / ((double)a.w * a.h + (double)b.w * b.h - in);
}

static int64_t grey_sum(const emo_image *g) {
    int64_t s = 0;
    for (int y = 0; y < g->height; y++)
        for (int x = 0; x < g->width; x++) s += g->data[(size_t)y * g->stride + x];
    return s;
}

/* ---- parity with OpenCV ---------------------------------------------------- */

typedef struct parity_stats {
    int lines, identical, refs, matched, ours, extra, decode_diff;
} parity_stats;

#define MAXBOX 512

static void run_parity(const char *only_prefix, parity_stats *st, int threads) {
    FILE *f = fopen("tests/data/detect/refs.txt", "r");
    CHECK_MSG(f != NULL, "tests/data/detect/refs.txt missing (run tests/ref/make_detect_refs.py)");
    if (!f) return;
    static char line[65536];
    char prev_img[2048] = "";
    emo_image img = {0};
    int64_t sum = 0;
    emo_detector *dets[16] = {0};
    char names[16][64] = {{0}};
    emo_rect ours[MAXBOX], refs[MAXBOX];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char src[16], path[512], casc[64];
        double sf;
        int mn, mins, maxs, w, h, n, off;
        long long gsum;
        if (sscanf(line, "%15s %511s %63s %lf %d %d %d %d %d %lld %d%n", src, path, casc, &sf, &mn, &mins, &maxs, &w,
                   &h, &gsum, &n, &off) != 11) {
            CHECK_MSG(0, "bad refs line: %.80s", line);
            continue;
        }
        if (only_prefix && strncmp(path, only_prefix, strlen(only_prefix)) != 0) continue;
        char *p = line + off;
        for (int i = 0; i < n && i < MAXBOX; i++) {
            int k;
            sscanf(p, "%d %d %d %d%n", &refs[i].x, &refs[i].y, &refs[i].w, &refs[i].h, &k);
            p += k;
        }
        n = n < MAXBOX ? n : MAXBOX;
        char full[2048];
        snprintf(full, sizeof full, "%s", strcmp(src, "shared") == 0 ? test_shared(path) : path);
        if (strcmp(full, prev_img) != 0) {
            if (emo_image_load(&img, full, 1) != EMO_OK) {
                CHECK_MSG(0, "%s: %s", full, emo_last_error());
                continue;
            }
            snprintf(prev_img, sizeof prev_img, "%s", full);
            sum = grey_sum(&img);
            if (sum != gsum) st->decode_diff++;
        }
        int di = 0;
        while (di < 16 && names[di][0] && strcmp(names[di], casc) != 0) di++;
        if (di == 16) continue;
        if (!names[di][0]) {
            if (emo_detector_open(&dets[di], casc) != EMO_OK) {
                CHECK_MSG(0, "open %s: %s", casc, emo_last_error());
                continue;
            }
            snprintf(names[di], sizeof names[di], "%s", casc);
        }
        emo_detect_params prm = emo_detect_params_default();
        prm.scale_factor = sf;
        prm.min_neighbors = mn;
        prm.min_size = mins;
        prm.max_size = maxs;
        prm.threads = threads;
        int m = emo_detect(dets[di], &img, &prm, ours, MAXBOX);
        CHECK_MSG(m >= 0, "%s %s: %s", path, casc, emo_last_error());
        if (m < 0) continue;
        m = m < MAXBOX ? m : MAXBOX;
        st->lines++;
        st->refs += n;
        st->ours += m;
        int same = m == n;
        for (int i = 0; i < n; i++) {
            int hit = 0;
            for (int j = 0; j < m; j++) hit |= iou(refs[i], ours[j]) >= 0.9;
            st->matched += hit;
            if (same && (i >= m || memcmp(&refs[i], &ours[i], sizeof refs[i]) != 0)) same = 0;
        }
        for (int j = 0; j < m; j++) {
            int hit = 0;
            for (int i = 0; i < n; i++) hit |= iou(refs[i], ours[j]) >= 0.9;
            st->extra += !hit;
        }
        st->identical += same;
        if (!same && getenv("EMO_TEST_VERBOSE")) {
            printf("    differs: %s %s %g %d %d %d: opencv", path, casc, sf, mn, mins, maxs);
            for (int i = 0; i < n; i++) printf(" (%d %d %d %d)", refs[i].x, refs[i].y, refs[i].w, refs[i].h);
            printf(" emo");
            for (int j = 0; j < m; j++) printf(" (%d %d %d %d)", ours[j].x, ours[j].y, ours[j].w, ours[j].h);
            printf("\n");
        }
    }
    fclose(f);
    emo_image_free(&img);
    for (int i = 0; i < 16; i++) emo_detector_close(dets[i]);
}

static void check_parity(const char *what, const parity_stats *st) {
    printf("    %s: %d runs, %d identical; OpenCV boxes %d, matched %d; ours %d, extra %d; images decoded "
           "differently from OpenCV: %d\n",
           what, st->lines, st->identical, st->refs, st->matched, st->ours, st->extra, st->decode_diff);
    CHECK(st->lines > 0);
    CHECK_MSG(st->matched >= 0.99 * st->refs, "%s: only %d of %d OpenCV boxes matched", what, st->matched, st->refs);
    CHECK_MSG(st->extra <= 0.01 * st->refs, "%s: %d extra boxes for %d OpenCV boxes", what, st->extra, st->refs);
}

static void test_parity_photos(void) {
    parity_stats st = {0};
    run_parity("media/", &st, 1);
    check_parity("photos", &st);
}

static void test_parity_video_frames(void) {
    parity_stats st = {0};
    run_parity("tests/", &st, 1);
    check_parity("video frames", &st);
}

/* ---- internals ------------------------------------------------------------- */

static void test_all_cascades_load(void) {
    const char *sub[] = {"haarcascades", "lbpcascades"};
    int loaded = 0, refused_old = 0;
    for (int s = 0; s < 2; s++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "ls %s/%s/*.xml 2>/dev/null", cascade_dir(), sub[s]);
        FILE *ls = popen(cmd, "r");
        if (!ls) continue;
        char path[1024];
        while (fgets(path, sizeof path, ls)) {
            path[strcspn(path, "\n")] = 0;
            emo_cascade c;
            int r = emo_cascade_load(&c, path);
            if (strstr(path, "licence_plate_rus_16stages")) { /* the one old-format file */
                CHECK_EQ_INT(r, EMO_EUNSUPPORTED);
                CHECK_STR_CONTAINS(emo_last_error(), "old pre-2.4");
                refused_old++;
            } else {
                CHECK_MSG(r == EMO_OK, "%s: %s", path, emo_last_error());
                loaded += r == EMO_OK;
            }
            emo_cascade_free(&c);
        }
        pclose(ls);
    }
    CHECK_MSG(loaded >= 20, "only %d cascades loaded", loaded);
    CHECK_EQ_INT(refused_old, 1);
}

static void test_cascade_contents(void) {
    emo_cascade c;
    char path[512];
    snprintf(path, sizeof path, "%s/haarcascades/haarcascade_frontalface_default.xml", cascade_dir());
    CHECK_OK(emo_cascade_load(&c, path));
    CHECK_EQ_INT(c.feature_type, EMO_FEATURE_HAAR);
    CHECK_EQ_INT(c.win_w, 24);
    CHECK_EQ_INT(c.nstages, 25);
    CHECK_EQ_INT(c.stages[0].ntrees, 9);
    CHECK_EQ_INT(c.max_nodes, 1);
    CHECK_NEAR(c.stages[0].threshold, -5.0425500869750977f - 1e-5f, 1e-7);
    emo_cascade_free(&c);
    snprintf(path, sizeof path, "%s/lbpcascades/lbpcascade_frontalface_improved.xml", cascade_dir());
    CHECK_OK(emo_cascade_load(&c, path));
    CHECK_EQ_INT(c.feature_type, EMO_FEATURE_LBP);
    CHECK_EQ_INT(c.ncategories, 256);
    CHECK_EQ_INT(c.win_w, 45);
    CHECK_EQ_INT(c.stages[0].ntrees, 6);
    CHECK_EQ_INT((int32_t)c.subsets[2], -17409); /* "0 -1 26 -1 -1 -17409 ..." */
    emo_cascade_free(&c);
}

/* Minimal cascades for the bad-input cases. */
#define XML_HEAD                                                                                       \
    "<?xml version=\"1.0\"?><opencv_storage><cascade type_id=\"opencv-cascade-classifier\">"            \
    "<stageType>BOOST</stageType><featureType>HAAR</featureType><height>4</height><width>4</width>"     \
    "<stageParams><maxWeakCount>1</maxWeakCount></stageParams>"                                        \
    "<featureParams><maxCatCount>0</maxCatCount></featureParams><stageNum>1</stageNum>"
#define XML_STAGES                                                                                     \
    "<stages><_><maxWeakCount>1</maxWeakCount><stageThreshold>-1.</stageThreshold><weakClassifiers>"   \
    "<_><internalNodes>0 -1 0 0.5</internalNodes><leafValues>-1. 1.</leafValues></_>"                  \
    "</weakClassifiers></_></stages>"
#define XML_TAIL                                                                                       \
    "<features><_><rects><_>0 0 2 2 -1.</_><_>1 1 1 1 4.</_></rects><tilted>0</tilted></_></features>" \
    "</cascade></opencv_storage>"
static const char *good_xml = XML_HEAD XML_STAGES XML_TAIL;

static int parse_str(const char *xml, emo_cascade *c) { return emo_cascade_parse(c, xml, strlen(xml), "t.xml"); }

static char *replace(const char *s, const char *from, const char *to) {
    static char buf[8192];
    const char *p = strstr(s, from);
    if (!p) return NULL;
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
    return buf;
}

static void test_bad_cascades(void) {
    emo_cascade c;
    CHECK_OK(parse_str(good_xml, &c));
    CHECK_EQ_INT(c.nstages, 1);
    emo_cascade_free(&c);
    struct {
        const char *from, *to, *msg;
        int status;
    } cases[] = {
        {"</opencv_storage>", "", "malformed XML", EMO_EFORMAT},
        {XML_STAGES, "<stages></stages>", "zero stages", EMO_EFORMAT},
        {"HAAR", "HOG", "HOG", EMO_EUNSUPPORTED},
        {"HAAR", "SURF", "unsupported featureType", EMO_EUNSUPPORTED},
        {"BOOST", "GENTLE", "not BOOST", EMO_EUNSUPPORTED},
        {"<width>4</width>", "<width>100000</width>", "window size", EMO_ELIMIT},
        {"<width>4</width>", "<width>-3</width>", "window size", EMO_ELIMIT},
        {"0 -1 0 0.5", "0 -1 7 0.5", "feature 7", EMO_EFORMAT},
        {"0 -1 0 0.5", "0 5 0 0.5", "child indices", EMO_EFORMAT},
        {"0 -1 0 0.5", "0 -1 0 zz", "malformed number", EMO_EFORMAT},
        {"-1. 1.</leafValues>", "-1.</leafValues>", "leaf values", EMO_EFORMAT},
        {"0 0 2 2 -1.", "3 3 2 2 -1.", "outside", EMO_EFORMAT},
        {"<cascade type_id=\"opencv-cascade-classifier\">", "<cascade type_id=\"opencv-haar-classifier\">",
         "old pre-2.4", EMO_EUNSUPPORTED},
        {"<stageThreshold>-1.</stageThreshold>", "", "stageThreshold", EMO_EFORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *x = replace(good_xml, cases[i].from, cases[i].to);
        CHECK(x != NULL);
        if (!x) continue;
        int r = parse_str(x, &c);
        CHECK_MSG(r == cases[i].status, "case %zu (%s): status %d, want %d (%s)", i, cases[i].msg, r,
                  cases[i].status, emo_last_error());
        CHECK_STR_CONTAINS(emo_last_error(), cases[i].msg);
        emo_cascade_free(&c);
    }
    /* Truncated at every length: never a crash, always an error. */
    size_t n = strlen(good_xml);
    for (size_t len = 0; len < n - 20; len += 7) {
        int r = emo_cascade_parse(&c, good_xml, len, "cut.xml");
        CHECK_MSG(r < 0, "truncated at %zu accepted", len);
        emo_cascade_free(&c);
    }
    CHECK_EQ_INT(emo_cascade_load(&c, "/nonexistent/x.xml"), EMO_ENOTFOUND);
    emo_detector *d = NULL;
    CHECK_EQ_INT(emo_detector_open(&d, "no-such-cascade-name"), EMO_ENOTFOUND);
    CHECK(d == NULL);
}

static void test_group(void) {
    /* Three near-identical boxes and a lone one; threshold 1 keeps the trio. */
    emo_rect r[] = {{100, 100, 50, 50}, {102, 101, 50, 50}, {98, 99, 52, 52}, {300, 300, 40, 40}};
    int scratch[6 * 4];
    int n = emo_group_rects(r, 4, 1, 0.2, scratch);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(r[0].x, 100);
    CHECK_EQ_INT(r[0].y, 100);
    CHECK_EQ_INT(r[0].w, 51); /* (50+50+52)/3 = 50.67 */
    /* threshold 0: untouched */
    emo_rect s[] = {{1, 2, 3, 4}, {1, 2, 3, 4}};
    CHECK_EQ_INT(emo_group_rects(s, 2, 0, 0.2, scratch), 2);
}

/* The exact resize against cv2.resize(..., INTER_LINEAR_EXACT) of the same
 * synthetic patterns (values and checksums computed with OpenCV 4.6). */
static void test_resize_exact(void) {
    static int32_t scratch[EMO_RESIZE_SCRATCH(128) / 4]; /* 4-byte aligned */
    uint8_t src[7 * 5], dst[3 * 2];
    for (int i = 0; i < 35; i++) src[i] = (uint8_t)(i * 37 % 251);
    emo_resize_linear_exact(src, 7, 5, 7, dst, 3, 2, 3, scratch);
    const uint8_t want[6] = {31, 117, 203, 51, 137, 202};
    for (int i = 0; i < 6; i++) CHECK_EQ_INT(dst[i], want[i]);
    static uint8_t big[97 * 61], out[97 * 61];
    for (int i = 0; i < 97 * 61; i++) big[i] = (uint8_t)((long)i * 7919 % 256);
    const struct {
        int w, h;
        long long sum, weighted;
    } cases[] = {{88, 55, 617028, 1476044336LL}, {50, 31, 197746, 153001737LL}, {13, 9, 15006, 853996LL},
                 {97, 61, 754314, 1847576254LL}};
    for (int k = 0; k < 4; k++) {
        emo_resize_linear_exact(big, 97, 61, 97, out, cases[k].w, cases[k].h, cases[k].w, scratch);
        long long sum = 0, weighted = 0;
        for (int i = 0; i < cases[k].w * cases[k].h; i++) {
            sum += out[i];
            weighted += (long long)out[i] * i % 1000003;
        }
        CHECK_MSG(sum == cases[k].sum && weighted == cases[k].weighted, "%dx%d: sums %lld %lld, OpenCV %lld %lld",
                  cases[k].w, cases[k].h, sum, weighted, cases[k].sum, cases[k].weighted);
    }
    /* flat image stays flat */
    uint8_t flat[64], o[16];
    memset(flat, 77, sizeof flat);
    emo_resize_linear_exact(flat, 8, 8, 8, o, 4, 4, 4, scratch);
    for (int i = 0; i < 16; i++) CHECK_EQ_INT(o[i], 77);
}

/* Vector and plain evaluators give the same candidates on real images. */
static void test_simd_equals_scalar(void) {
    const char *names[] = {"haar", "haar-alt2", "lbp", "eye_tree_eyeglasses"};
    emo_image img = {0};
    CHECK_OK(emo_image_load(&img, test_shared("media/faces/2008_001322.jpg"), 1));
    if (!img.data) return;
    for (int k = 0; k < 4; k++) {
        emo_detector *d;
        if (emo_detector_open(&d, names[k]) != EMO_OK) {
            CHECK_MSG(0, "%s: %s", names[k], emo_last_error());
            continue;
        }
        emo_detect_params p = emo_detect_params_default();
        p.min_neighbors = 0; /* raw hits */
        p.min_size = 0;
        emo_rect a[4096], b[4096];
        emo_detector_force_scalar(d, 1);
        int na = emo_detect(d, &img, &p, a, 4096);
        emo_detector_force_scalar(d, 0);
        p.threads = 2;
        int nb = emo_detect(d, &img, &p, b, 4096);
        CHECK_MSG(na == nb, "%s: scalar %d vs fast %d raw hits", names[k], na, nb);
        CHECK(na > 0);
        if (na == nb && na <= 4096) CHECK_MSG(memcmp(a, b, (size_t)na * sizeof a[0]) == 0, "%s: hits differ", names[k]);
        emo_detector_close(d);
    }
    emo_image_free(&img);
}

static void test_threads_and_roi(void) {
    emo_image img = {0};
    CHECK_OK(emo_image_load(&img, test_shared("media/faces/bald_guys.jpg"), 1));
    if (!img.data) return;
    emo_detector *d;
    CHECK_OK(emo_detector_open(&d, "lbp"));
    emo_detect_params p = emo_detect_params_default();
    emo_rect a[256], b[256], c[256];
    p.threads = 1;
    int na = emo_detect(d, &img, &p, a, 256);
    p.threads = 2;
    int nb = emo_detect(d, &img, &p, b, 256);
    CHECK(na > 5);
    CHECK_EQ_INT(na, nb);
    if (na == nb) CHECK(memcmp(a, b, (size_t)na * sizeof a[0]) == 0);
    /* capacity smaller than the count: count still returned */
    CHECK_EQ_INT(emo_detect(d, &img, &p, c, 2), na);
    CHECK(memcmp(c, a, 2 * sizeof c[0]) == 0);
    /* ROI around one face: that face is found again, in image coordinates */
    emo_rect f = a[na / 2];
    p.roi = (emo_rect){f.x - f.w / 2, f.y - f.h / 2, f.w * 2, f.h * 2};
    int nr = emo_detect(d, &img, &p, c, 256);
    int found = 0;
    for (int i = 0; i < nr; i++) found |= iou(c[i], f) > 0.6;
    CHECK_MSG(found, "face (%d %d %d %d) not found in its ROI (%d boxes)", f.x, f.y, f.w, f.h, nr);
    for (int i = 0; i < nr; i++)
        CHECK(c[i].x >= p.roi.x && c[i].y >= p.roi.y && c[i].x + c[i].w <= p.roi.x + p.roi.w &&
              c[i].y + c[i].h <= p.roi.y + p.roi.h);
    emo_detector_close(d);
    emo_image_free(&img);
}

static void test_bad_detect_input(void) {
    emo_detector *d;
    CHECK_OK(emo_detector_open(&d, "haar"));
    uint8_t px[100 * 80];
    memset(px, 128, sizeof px);
    emo_image img = emo_image_wrap(px, 100, 80, 1, 100);
    emo_detect_params p = emo_detect_params_default();
    emo_rect r[8];
    CHECK_EQ_INT(emo_detect(d, &img, &p, r, 8), 0); /* flat image: nothing */
    p.min_size = 90;
    CHECK_EQ_INT(emo_detect(d, &img, &p, r, 8), EMO_EINVAL);
    CHECK_STR_CONTAINS(emo_last_error(), "min_size 90 is larger");
    p = emo_detect_params_default();
    p.scale_factor = 1.0;
    CHECK_EQ_INT(emo_detect(d, &img, &p, r, 8), EMO_EINVAL);
    p.scale_factor = 0.0 / 0.0;
    CHECK_EQ_INT(emo_detect(d, &img, &p, r, 8), EMO_EINVAL);
    p = emo_detect_params_default();
    p.min_neighbors = -1;
    CHECK_EQ_INT(emo_detect(d, &img, &p, r, 8), EMO_EINVAL);
    p = emo_detect_params_default();
    p.roi = (emo_rect){500, 500, 10, 10};
    CHECK_EQ_INT(emo_detect(d, &img, &p, r, 8), EMO_EINVAL);
    p = emo_detect_params_default();
    emo_image empty = {0};
    CHECK_EQ_INT(emo_detect(d, &empty, &p, r, 8), EMO_EINVAL);
    CHECK_STR_CONTAINS(emo_last_error(), "empty image");
    emo_image rgb = emo_image_wrap(px, 20, 20, 3, 60);
    CHECK_EQ_INT(emo_detect(d, &rgb, &p, r, 8), EMO_EINVAL);
    CHECK_EQ_INT(emo_detect(d, &img, &p, NULL, 8), EMO_EINVAL);
    /* smaller than the window: no faces, not an error */
    emo_image tiny = emo_image_wrap(px, 20, 20, 1, 20);
    p.min_size = 0;
    CHECK_EQ_INT(emo_detect(d, &tiny, &p, r, 8), 0);
    emo_detector_close(d);
    emo_detector_close(NULL);
}

/* Precision and recall against the hand-drawn boxes of faces/training.xml
 * (docs/ACCURACY.md): a detection matches an unmatched truth box when
 * IoU >= 0.5, or (loose) when its centre lies in the box and the sizes are
 * within a factor of 2. Also counts boxes on dogs.jpg (no people). */
static void test_accuracy(void) {
    FILE *f = fopen(test_shared("media/faces/training.xml"), "r");
    CHECK(f != NULL);
    if (!f) return;
    enum { MAXT = 64 };
    struct {
        char file[64];
        emo_rect box[16];
        int n;
    } imgs[8];
    int nimg = 0;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char file[64];
        int t, l, w, h;
        if (sscanf(line, " <image file='%63[^']'", file) == 1 && nimg < 8) {
            snprintf(imgs[nimg].file, sizeof imgs[nimg].file, "%s", file);
            imgs[nimg++].n = 0;
        } else if (nimg > 0 && sscanf(line, " <box top='%d' left='%d' width='%d' height='%d'", &t, &l, &w, &h) == 4 &&
                   imgs[nimg - 1].n < 16) {
            imgs[nimg - 1].box[imgs[nimg - 1].n++] = (emo_rect){l, t, w, h};
        }
    }
    fclose(f);
    CHECK_EQ_INT(nimg, 4);
    const char *names[] = {"haar", "haar-alt", "haar-alt2", "haar-tree", "lbp", "lbp-old"};
    printf("    %-10s %5s %5s %5s | %9s %9s | %s\n", "cascade", "truth", "found", "iou.5", "precision", "recall",
           "loose P/R, boxes on dogs.jpg, 1 face on expressions");
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        emo_detector *d;
        if (emo_detector_open(&d, names[k]) != EMO_OK) continue;
        emo_detect_params p = emo_detect_params_default();
        p.min_size = 20;
        int truth = 0, found = 0, hit = 0, loose = 0;
        for (int i = 0; i < nimg; i++) {
            char path[128];
            snprintf(path, sizeof path, "media/faces/%.63s", imgs[i].file);
            emo_image img = {0};
            if (emo_image_load(&img, test_shared(path), 1) != EMO_OK) continue;
            emo_rect r[MAXT];
            int n = emo_detect(d, &img, &p, r, MAXT);
            n = n < MAXT ? n : MAXT;
            int used[16] = {0}, used2[16] = {0};
            truth += imgs[i].n;
            found += n;
            for (int j = 0; j < n; j++) {
                for (int b = 0; b < imgs[i].n; b++)
                    if (!used[b] && iou(r[j], imgs[i].box[b]) >= 0.5) {
                        used[b] = 1;
                        hit++;
                        break;
                    }
                int cx = r[j].x + r[j].w / 2, cy = r[j].y + r[j].h / 2;
                for (int b = 0; b < imgs[i].n; b++) {
                    emo_rect t = imgs[i].box[b];
                    if (!used2[b] && cx >= t.x && cx < t.x + t.w && cy >= t.y && cy < t.y + t.h && r[j].w <= 2 * t.w &&
                        t.w <= 2 * r[j].w) {
                        used2[b] = 1;
                        loose++;
                        break;
                    }
                }
            }
            emo_image_free(&img);
        }
        emo_image dog = {0};
        int ndog = -1;
        if (emo_image_load(&dog, test_shared("media/faces/dogs.jpg"), 1) == EMO_OK) {
            emo_rect r[MAXT];
            ndog = emo_detect(d, &dog, &p, r, MAXT);
        }
        emo_image_free(&dog);
        /* the 7 expression photos hold one face each */
        const char *expr[] = {"angry", "disgusted", "fearful", "happy", "neutral", "sad", "surprised"};
        int one = 0;
        for (int e = 0; e < 7; e++) {
            char path[64];
            snprintf(path, sizeof path, "media/expressions/%s.jpg", expr[e]);
            emo_image img = {0};
            emo_rect r[MAXT];
            if (emo_image_load(&img, test_shared(path), 1) == EMO_OK) one += emo_detect(d, &img, &p, r, MAXT) == 1;
            emo_image_free(&img);
        }
        printf("    %-10s %5d %5d %5d | %9.3f %9.3f | %.3f/%.3f, %d, %d/7\n", names[k], truth, found, hit,
               found ? (double)hit / found : 0.0, (double)hit / truth, found ? (double)loose / found : 0.0,
               (double)loose / truth, ndog, one);
        /* The 24x24 / 20x20 Haar face cascades must find most of these
         * small (37-90 px) faces; the LBP ones have 24 / 45 px windows. */
        if (strcmp(names[k], "haar") == 0 || strncmp(names[k], "haar-alt", 8) == 0)
            CHECK_MSG((double)loose / truth >= 0.7, "%s: loose recall %d/%d", names[k], loose, truth);
        if (strcmp(names[k], "haar-tree") != 0) /* a weak cascade, shown for reference */
            CHECK_MSG(one >= 5, "%s: one face in only %d of 7 expression photos", names[k], one);
        emo_detector_close(d);
    }
}

/* `emo detect` end to end, through test_run_emo ($BUILD/emo). */
static void test_cli(void) {
    char args[1024];
    const char *img = test_shared("media/faces/2008_001322.jpg");
    snprintf(args, sizeof args, "--json -c haar '%s' -o '%s'", img, test_tmp("det.jpg"));
    CHECK_EQ_INT(test_run_emo("detect %s", args), 0);
    /* the boxes OpenCV gives for this photo (tests/data/detect/refs.txt) */
    CHECK_STR_CONTAINS(test_emo_output, "\"width\":500,\"height\":375,\"faces\":[{\"x\":348,\"y\":146,\"w\":100,\"h\":100},"
                            "{\"x\":97,\"y\":148,\"w\":91,\"h\":91},{\"x\":224,\"y\":205,\"w\":77,\"h\":77}]}");
    emo_image a = {0};
    CHECK_OK(emo_image_load(&a, test_tmp("det.jpg"), 3));
    CHECK_EQ_INT(a.width, 500);
    emo_image_free(&a);
    snprintf(args, sizeof args, "'%s'", test_shared("media/expressions/happy.jpg"));
    CHECK_EQ_INT(test_run_emo("detect %s", args), 0);
    CHECK_STR_CONTAINS(test_emo_output, "happy.jpg: 1 face ");
    CHECK_EQ_INT(test_run_emo("detect /nonexistent.jpg"), 1);
    CHECK_STR_CONTAINS(test_emo_output, "cannot read the image");
    CHECK_EQ_INT(test_run_emo("detect --scale 0.9 x.jpg"), 2);
    CHECK_EQ_INT(test_run_emo("detect -c no-such-cascade x.jpg"), 1);
    CHECK_STR_CONTAINS(test_emo_output, "not a file and not a known name");
}

static const test_case cases[] = {
    {"cli", test_cli},
    {"accuracy", test_accuracy},
    {"all_cascades_load", test_all_cascades_load},
    {"cascade_contents", test_cascade_contents},
    {"bad_cascades", test_bad_cascades},
    {"group", test_group},
    {"resize_exact", test_resize_exact},
    {"simd_equals_scalar", test_simd_equals_scalar},
    {"threads_and_roi", test_threads_and_roi},
    {"bad_detect_input", test_bad_detect_input},
    {"parity_photos", test_parity_photos},
    {"parity_video_frames", test_parity_video_frames},
};

int main(int argc, char **argv) { return test_main(cases, TEST_COUNT(cases), argc, argv); }
