/* test_draw.c — overlays and plots. Font versions change glyph shapes, so
 * nothing is compared with golden images; the tests check properties: what
 * changed, where, in which colours, and that nothing leaves the image.
 * With EMO_DRAW_DEMO_DIR set, the demo case writes example images there
 * (docs/img/ was made this way). */
#include "emo.h"
#include "test.h"

#include <stdbool.h>
#include <time.h>

#define MAXI(a, b) ((a) > (b) ? (a) : (b))

static const float happy_probs[7] = {0.02f, 0.01f, 0.03f, 0.81f, 0.02f, 0.08f, 0.03f};

static emo_drawer *open_default(void) {
    emo_drawer *d = NULL;
    CHECK_OK(emo_drawer_open(&d, NULL));
    return d;
}

static void flat(emo_image *img, int w, int h, int channels, uint8_t v) {
    CHECK_OK(emo_image_alloc(img, w, h, channels));
    memset(img->data, v, (size_t)img->stride * h);
}

static bool is_inside(const int r[4], int W, int H) {
    return r[2] > 0 && r[3] > 0 && r[0] >= 0 && r[1] >= 0 && r[0] + r[2] <= W && r[1] + r[3] <= H;
}

/* Pixels (RGB) that differ between a and b, inside rectangle r (or all). */
static long changed(const emo_image *a, const emo_image *b, const int *r) {
    long n = 0;
    int x0 = r ? r[0] : 0, y0 = r ? r[1] : 0, x1 = r ? r[0] + r[2] : a->width, y1 = r ? r[1] + r[3] : a->height;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            n += memcmp(a->data + (size_t)y * a->stride + (size_t)x * a->channels,
                        b->data + (size_t)y * b->stride + (size_t)x * b->channels, (size_t)a->channels) != 0;
    return n;
}

static void copy_image(const emo_image *src, emo_image *dst) {
    CHECK_OK(emo_image_alloc(dst, src->width, src->height, src->channels));
    for (int y = 0; y < src->height; y++)
        memcpy(dst->data + (size_t)y * dst->stride, src->data + (size_t)y * src->stride, (size_t)src->width * src->channels);
}

static void test_open_errors(void) {
    emo_drawer *d = NULL;
    emo_draw_params p = emo_draw_params_default;
    p.font_path = "/nonexistent/font.ttf";
    CHECK_EQ_INT(emo_drawer_open(&d, &p), EMO_ENOTFOUND);
    CHECK_STR_CONTAINS(emo_last_error(), "/nonexistent/font.ttf");
    CHECK(d == NULL);
    p = emo_draw_params_default;
    p.emoji_font_path = "/nonexistent/emoji.ttf";
    CHECK_EQ_INT(emo_drawer_open(&d, &p), EMO_ENOTFOUND);
    CHECK_STR_CONTAINS(emo_last_error(), "fonts-noto-color-emoji");
    p = emo_draw_params_default;
    p.emoji_font_path = "tests/test_draw.c"; /* not a font */
    CHECK_EQ_INT(emo_drawer_open(&d, &p), EMO_EFORMAT);
    p = emo_draw_params_default;
    p.emoji_font_path = p.font_path; /* a font, but not a colour emoji font */
    CHECK_EQ_INT(emo_drawer_open(&d, &p), EMO_EUNSUPPORTED);
    p = emo_draw_params_default;
    const char *names[] = {"a", NULL};
    p.class_names = names;
    p.nclasses = 2;
    CHECK_EQ_INT(emo_drawer_open(&d, &p), EMO_EINVAL);
    p.nclasses = 0;
    CHECK_EQ_INT(emo_drawer_open(&d, &p), EMO_EINVAL);
    p = emo_draw_params_default;
    p.text_scale = 0;
    CHECK_EQ_INT(emo_drawer_open(&d, &p), EMO_EINVAL);
    CHECK_EQ_INT(emo_drawer_open(NULL, NULL), EMO_EINVAL);
    emo_drawer_close(NULL);
}

/* The emoji lands in its layout rectangle, in emoji colours, and nothing
 * else changes when only the emoji is asked for. */
static void test_emoji_pixels(void) {
    emo_drawer *d = open_default();
    if (!d) return;
    /* For each class: the share of the emoji's area in its typical colours. */
    for (int cls = 0; cls < 7; cls++) {
        emo_image img = {0}, orig = {0};
        flat(&img, 400, 300, 3, 128);
        copy_image(&img, &orig);
        emo_draw_item it = {120, 80, 150, 150, NULL, cls, -1};
        emo_draw_layout lay;
        CHECK_OK(emo_draw_faces(d, &img, &it, 1, EMO_DRAW_EMOJI, &lay));
        CHECK(is_inside(lay.emoji, 400, 300));
        CHECK_EQ_INT(lay.chart[2], 0);
        CHECK_EQ_INT(lay.label[2], 0);
        long inside = changed(&img, &orig, lay.emoji), all = changed(&img, &orig, NULL);
        long area = (long)lay.emoji[2] * lay.emoji[3];
        CHECK_MSG(inside > area / 2, "class %d: %ld of %ld emoji pixels changed", cls, inside, area);
        CHECK_EQ_INT(all, inside);
        /* Yellow face (or green for disgust): saturated, bright pixels. */
        long yellow = 0, green = 0;
        for (int y = lay.emoji[1]; y < lay.emoji[1] + lay.emoji[3]; y++)
            for (int x = lay.emoji[0]; x < lay.emoji[0] + lay.emoji[2]; x++) {
                const uint8_t *p = img.data + (size_t)y * img.stride + x * 3;
                yellow += p[0] > 200 && p[1] > 140 && p[2] < 110;
                green += p[1] > 120 && p[1] > p[0] + 20 && p[1] > p[2] + 20;
            }
        long want = cls == 1 ? green : yellow;
        CHECK_MSG(want > area / 5, "class %d: only %ld of %ld pixels in the emoji's colour", cls, want, area);
        emo_image_free(&img);
        emo_image_free(&orig);
    }
    emo_drawer_close(d);
}

/* Premultiplied "over": drawn on black and on white, every emoji pixel
 * differs by the same amount in all channels (255 * (1 - alpha)), and the
 * opaque middle is identical. */
static void test_emoji_blend(void) {
    emo_drawer *d = open_default();
    if (!d) return;
    emo_image k = {0}, w = {0};
    flat(&k, 200, 200, 3, 0);
    flat(&w, 200, 200, 3, 255);
    emo_draw_item it = {50, 50, 100, 100, NULL, 3, -1};
    emo_draw_layout lk, lw;
    CHECK_OK(emo_draw_faces(d, &k, &it, 1, EMO_DRAW_EMOJI | EMO_DRAW_EMOJI_OVER, &lk));
    CHECK_OK(emo_draw_faces(d, &w, &it, 1, EMO_DRAW_EMOJI | EMO_DRAW_EMOJI_OVER, &lw));
    CHECK(memcmp(lk.emoji, lw.emoji, sizeof lk.emoji) == 0);
    int worst = 0;
    long partial = 0;
    for (int y = 0; y < 200; y++)
        for (int x = 0; x < 200; x++) {
            const uint8_t *a = k.data + (size_t)y * k.stride + x * 3, *b = w.data + (size_t)y * w.stride + x * 3;
            int d0 = b[0] - a[0], d1 = b[1] - a[1], d2 = b[2] - a[2];
            worst = MAXI(worst, MAXI(abs(d0 - d1), abs(d1 - d2)));
            if (d0 < 0 || d1 < 0 || d2 < 0) worst = 999;
            partial += d0 > 0 && d0 < 255;
        }
    CHECK_MSG(worst <= 2, "black/white backgrounds disagree by %d levels between channels", worst);
    CHECK_MSG(partial > 50, "only %ld anti-aliased edge pixels", partial);
    int cx = lk.emoji[0] + lk.emoji[2] / 2, cy = lk.emoji[1] + lk.emoji[3] / 2;
    CHECK(memcmp(k.data + (size_t)cy * k.stride + cx * 3, w.data + (size_t)cy * w.stride + cx * 3, 3) == 0);
    emo_image_free(&k);
    emo_image_free(&w);
    emo_drawer_close(d);
}

/* Boxes at every corner and edge, small and large, half outside: the chart
 * stays whole inside the image, and off the face when there is room. */
static void test_chart_inside(void) {
    emo_drawer *d = open_default();
    if (!d) return;
    const int W = 640, H = 480;
    emo_image img = {0};
    flat(&img, W, H, 3, 60);
    float sizes[] = {60, 200, 420};
    int bad = 0, overlap = 0, tried = 0;
    for (int si = 0; si < 3; si++) {
        float s = sizes[si];
        float xs[] = {-s / 3, 0, (W - s) / 2, W - s, W - 2 * s / 3};
        float ys[] = {-s / 3, 0, (H - s) / 2, H - s, H - 2 * s / 3};
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 5; j++) {
                emo_draw_item it = {xs[i], ys[j], s, s, happy_probs, -1, 7};
                emo_draw_layout lay;
                CHECK_OK(emo_draw_faces(d, &img, &it, 1, EMO_DRAW_ALL, &lay));
                tried++;
                if (!is_inside(lay.chart, W, H) || !is_inside(lay.label, W, H) || !is_inside(lay.emoji, W, H)) {
                    bad++;
                    printf("    box (%g,%g,%g): chart %d,%d %dx%d\n", xs[i], ys[j], s, lay.chart[0], lay.chart[1],
                           lay.chart[2], lay.chart[3]);
                }
                /* A 60-pixel face leaves room everywhere: the chart is beside it. */
                if (s == 60) {
                    float ox = fminf(lay.chart[0] + lay.chart[2], it.x + s) - fmaxf(lay.chart[0], it.x);
                    float oy = fminf(lay.chart[1] + lay.chart[3], it.y + s) - fmaxf(lay.chart[1], it.y);
                    if (ox > 0 && oy > 0) overlap++;
                }
            }
    }
    CHECK_MSG(bad == 0, "%d of %d layouts leave the image", bad, tried);
    CHECK_MSG(overlap == 0, "%d charts cover their small face", overlap);
    emo_image_free(&img);
    emo_drawer_close(d);
}

static void test_odd_boxes(void) {
    emo_drawer *d = open_default();
    if (!d) return;
    emo_image img = {0};
    flat(&img, 320, 240, 3, 90);
    emo_draw_item items[] = {
        {10, 10, 1, 1, happy_probs, -1, 1},          {100, 100, 0, 0, happy_probs, -1, 2},
        {-1000, -1000, 5000, 5000, happy_probs, 3, 3}, {5000, 5000, 100, 100, happy_probs, -1, 4},
        {-200, 50, 100, 100, happy_probs, -1, 5},     {310, 230, 200, 200, happy_probs, -1, 6},
        {0, 0, 320, 240, happy_probs, -1, 123456789},
    };
    emo_draw_layout lay[7];
    CHECK_OK(emo_draw_faces(d, &img, items, 7, EMO_DRAW_ALL, lay));
    for (int i = 0; i < 7; i++) {
        int *rs[3] = {lay[i].label, lay[i].emoji, lay[i].chart};
        for (int k = 0; k < 3; k++) CHECK(rs[k][2] == 0 || is_inside(rs[k], 320, 240));
    }
    /* A tiny image: whatever fits is drawn, nothing fails. */
    emo_image tiny = {0};
    flat(&tiny, 3, 2, 3, 0);
    CHECK_OK(emo_draw_faces(d, &tiny, items, 7, EMO_DRAW_ALL, NULL));
    CHECK_OK(emo_draw_fps(d, &tiny, 30));
    /* Bad input. */
    emo_draw_item bad = {NAN, 0, 10, 10, NULL, -1, -1};
    CHECK_EQ_INT(emo_draw_faces(d, &img, &bad, 1, EMO_DRAW_ALL, NULL), EMO_EINVAL);
    bad = (emo_draw_item){0, 0, -5, 10, NULL, -1, -1};
    CHECK_EQ_INT(emo_draw_faces(d, &img, &bad, 1, EMO_DRAW_ALL, NULL), EMO_EINVAL);
    bad = (emo_draw_item){0, 0, 5, 10, NULL, 7, -1};
    CHECK_EQ_INT(emo_draw_faces(d, &img, &bad, 1, EMO_DRAW_ALL, NULL), EMO_EINVAL);
    CHECK_EQ_INT(emo_draw_faces(d, &img, NULL, 1, EMO_DRAW_ALL, NULL), EMO_EINVAL);
    CHECK_OK(emo_draw_faces(d, &img, NULL, 0, EMO_DRAW_ALL, NULL));
    emo_image empty = {0};
    CHECK_EQ_INT(emo_draw_faces(d, &empty, items, 1, EMO_DRAW_ALL, NULL), EMO_EINVAL);
    /* More faces than one layout batch (64). */
    emo_draw_item many[150];
    for (int i = 0; i < 150; i++) many[i] = (emo_draw_item){(float)(i * 37 % 300), (float)(i * 53 % 220), 20, 24, happy_probs, -1, i};
    emo_draw_layout mlay[150];
    CHECK_OK(emo_draw_faces(d, &img, many, 150, EMO_DRAW_ALL, mlay));
    for (int i = 0; i < 150; i++) CHECK(mlay[i].chart[2] == 0 || is_inside(mlay[i].chart, 320, 240));
    /* NaN probabilities draw as 0%, no crash. */
    float nanp[7] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    emo_draw_item it = {100, 60, 100, 100, nanp, -1, -1};
    CHECK_OK(emo_draw_faces(d, &img, &it, 1, EMO_DRAW_ALL, NULL));
    emo_image_free(&img);
    emo_image_free(&tiny);
    emo_drawer_close(d);
}

/* Grey images get the drawing in luma; RGBA keeps its alpha. */
static void test_grey_rgba(void) {
    emo_drawer *d = open_default();
    if (!d) return;
    emo_image g = {0}, g0 = {0}, a = {0};
    flat(&g, 320, 240, 1, 128);
    copy_image(&g, &g0);
    emo_draw_item it = {100, 60, 100, 100, happy_probs, -1, 1};
    CHECK_OK(emo_draw_faces(d, &g, &it, 1, EMO_DRAW_ALL, NULL));
    CHECK(changed(&g, &g0, NULL) > 2000);
    flat(&a, 320, 240, 4, 77);
    CHECK_OK(emo_draw_faces(d, &a, &it, 1, EMO_DRAW_ALL, NULL));
    CHECK_OK(emo_draw_fps(d, &a, 12.5f));
    long alpha_changed = 0, colour_changed = 0;
    for (size_t i = 0; i < (size_t)320 * 240; i++) {
        alpha_changed += a.data[i * 4 + 3] != 77;
        colour_changed += a.data[i * 4] != 77 || a.data[i * 4 + 1] != 77 || a.data[i * 4 + 2] != 77;
    }
    CHECK_EQ_INT(alpha_changed, 0);
    CHECK(colour_changed > 2000);
    emo_image_free(&g);
    emo_image_free(&g0);
    emo_image_free(&a);
    emo_drawer_close(d);
}

/* Labels and boxes without probabilities; the label's colour is the class's. */
static void test_label_colour(void) {
    emo_drawer *d = open_default();
    if (!d) return;
    emo_image img = {0};
    flat(&img, 400, 300, 3, 255);
    emo_draw_item it = {100, 50, 150, 150, NULL, 0, 4}; /* angry, no probabilities */
    emo_draw_layout lay;
    CHECK_OK(emo_draw_faces(d, &img, &it, 1, EMO_DRAW_BOX | EMO_DRAW_LABEL | EMO_DRAW_CHART, &lay));
    CHECK(is_inside(lay.label, 400, 300));
    CHECK_EQ_INT(lay.chart[2], 0); /* no probabilities, no chart */
    uint32_t c = emo_draw_class_colour("angry");
    long near = 0;
    for (int y = lay.label[1]; y < lay.label[1] + lay.label[3]; y++)
        for (int x = lay.label[0]; x < lay.label[0] + lay.label[2]; x++) {
            const uint8_t *p = img.data + (size_t)y * img.stride + x * 3;
            near += abs(p[0] - (int)(c >> 16)) < 24 && abs(p[1] - (int)((c >> 8) & 255)) < 24 && abs(p[2] - (int)(c & 255)) < 24;
        }
    CHECK_MSG(near > (long)lay.label[2] * lay.label[3] / 3, "label has %ld pixels in the angry colour", near);
    /* The box's corner is drawn in the class colour too. */
    const uint8_t *p = img.data + (size_t)51 * img.stride + 101 * 3;
    CHECK_MSG(abs(p[0] - (int)(c >> 16)) < 30, "box corner %d,%d,%d", p[0], p[1], p[2]);
    CHECK_EQ_INT(emo_draw_class_colour("happiness"), emo_draw_class_colour("happy"));
    CHECK(emo_draw_class_colour("sad") != emo_draw_class_colour("fear"));
    CHECK_EQ_INT(emo_draw_class_emoji("surprised"), 0x1F62E);
    CHECK_EQ_INT(emo_draw_class_emoji("bored"), 0);
    CHECK_EQ_INT(emo_draw_class_colour("bored"), emo_draw_class_colour("bored"));
    emo_image_free(&img);
    emo_drawer_close(d);
}

/* Class names of our own: unknown names get palette colours and no emoji. */
static void test_custom_classes(void) {
    const char *names[] = {"happy", "bored", "confused"};
    emo_draw_params p = emo_draw_params_default;
    p.class_names = names;
    p.nclasses = 3;
    emo_drawer *d = NULL;
    CHECK_OK(emo_drawer_open(&d, &p));
    if (!d) return;
    emo_image img = {0};
    flat(&img, 300, 200, 3, 30);
    float pr[3] = {0.2f, 0.7f, 0.1f};
    emo_draw_item it = {50, 40, 100, 100, pr, -1, -1};
    emo_draw_layout lay;
    CHECK_OK(emo_draw_faces(d, &img, &it, 1, EMO_DRAW_ALL, &lay));
    CHECK_EQ_INT(lay.emoji[2], 0); /* "bored" has no emoji */
    CHECK(is_inside(lay.chart, 300, 200));
    emo_image_free(&img);
    emo_drawer_close(d);
}

/* ---- Crowds: no annotation covers another face ------------------------------ */

static bool rects_meet(const int a[4], float bx, float by, float bw, float bh) {
    return a[2] > 0 && a[3] > 0 && a[0] < bx + bw && bx < a[0] + a[2] && a[1] < by + bh && by < a[1] + a[3];
}

static bool in_rect(const int r[4], int x, int y) {
    return r[2] > 0 && x >= r[0] && x < r[0] + r[2] && y >= r[1] && y < r[1] + r[3];
}

/* Draws the faces on img (a copy of which is kept) and checks that: no
 * label, emoji or chart rectangle meets another face's box or another
 * annotation; and, in the pixels, that inside every box (less its own
 * stroke) nothing changed but that face's own annotations. Returns how many
 * faces got a chart; *labels = how many got a label. */
static int check_crowd(emo_drawer *d, emo_image *img, const emo_draw_item *it, int n, const char *what,
                       int *labels) {
    emo_image orig = {0};
    copy_image(img, &orig);
    emo_draw_layout lay[256];
    CHECK(n <= 256);
    CHECK_OK(emo_draw_faces(d, img, it, n, EMO_DRAW_ALL, lay));
    int bad = 0, charts = 0;
    *labels = 0;
    for (int i = 0; i < n; i++) {
        int *mine[3] = {lay[i].label, lay[i].emoji, lay[i].chart};
        charts += lay[i].chart[2] > 0;
        *labels += lay[i].label[2] > 0;
        for (int k = 0; k < 3; k++) {
            if (mine[k][2] == 0) continue;
            CHECK(is_inside(mine[k], img->width, img->height));
            for (int j = 0; j < n; j++) {
                if (j != i && rects_meet(mine[k], it[j].x, it[j].y, it[j].w, it[j].h)) {
                    if (bad++ < 5)
                        printf("    %s: face %d's %s (%d,%d %dx%d) covers face %d's box (%g,%g %gx%g)\n", what, i,
                               k == 0 ? "label" : k == 1 ? "emoji" : "chart", mine[k][0], mine[k][1], mine[k][2],
                               mine[k][3], j, it[j].x, it[j].y, it[j].w, it[j].h);
                }
                int *theirs[3] = {lay[j].label, lay[j].emoji, lay[j].chart};
                for (int l = 0; l < 3; l++) {
                    if ((j == i && l == k) || theirs[l][2] == 0) continue;
                    if (rects_meet(mine[k], theirs[l][0], theirs[l][1], theirs[l][2], theirs[l][3]) && bad++ < 5)
                        printf("    %s: face %d's part %d meets face %d's part %d\n", what, i, k, j, l);
                }
            }
        }
    }
    /* The pixels: inside face j's box (less its stroke, about 2.2 line
     * widths), only j's own label, emoji or chart may have changed. */
    long stray = 0;
    for (int j = 0; j < n; j++) {
        float side = fminf(it[j].w, it[j].h), lw = fminf(fmaxf(side / 70.0f, 1.5f), 6.0f), m = lw * 1.1f + 2.5f;
        int x0 = MAXI(0, (int)ceilf(it[j].x + m)), y0 = MAXI(0, (int)ceilf(it[j].y + m));
        int x1 = (int)fminf(img->width, floorf(it[j].x + it[j].w - m)), y1 = (int)fminf(img->height, floorf(it[j].y + it[j].h - m));
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++) {
                size_t o = (size_t)y * img->stride + (size_t)x * 3;
                if (memcmp(img->data + o, orig.data + o, 3) == 0) continue;
                if (in_rect(lay[j].label, x, y) || in_rect(lay[j].emoji, x, y) || in_rect(lay[j].chart, x, y)) continue;
                if (stray++ < 3) printf("    %s: pixel %d,%d inside face %d's box changed by another face\n", what, x, y, j);
            }
    }
    CHECK_MSG(bad == 0, "%s: %d annotations cover another face or annotation", what, bad);
    CHECK_MSG(stray == 0, "%s: %ld pixels inside faces changed by other faces' annotations", what, stray);
    emo_image_free(&orig);
    return charts;
}

/* The crowded photo (bald_guys.jpg, 24 people) with the boxes the current
 * detector finds, whatever its defaults: every face keeps a label and most
 * keep their chart, none covering another. */
static void test_crowd_photo(void) {
    emo_drawer *d = open_default();
    if (!d) return;
    emo_image img = {0}, grey = {0};
    CHECK_OK(emo_image_load(&img, test_shared("media/faces/bald_guys.jpg"), 3));
    CHECK_OK(emo_image_to_grey(&img, &grey));
    emo_detector *det = NULL;
    CHECK_OK(emo_detector_open(&det, EMO_DETECT_DEFAULT_CASCADE));
    emo_detect_params dp = emo_detect_params_default();
    emo_rect boxes[256];
    int n = det && grey.data ? emo_detect(det, &grey, &dp, boxes, 256) : 0;
    CHECK_MSG(n >= 15, "%d faces found", n);
    n = n > 256 ? 256 : n;
    emo_draw_item items[256];
    static float probs[256][7];
    for (int i = 0; i < n; i++) {
        for (int c = 0; c < 7; c++) probs[i][c] = 0.02f;
        probs[i][i % 7] = 0.88f;
        items[i] = (emo_draw_item){(float)boxes[i].x, (float)boxes[i].y, (float)boxes[i].w, (float)boxes[i].h,
                                   probs[i], -1, i + 1};
    }
    int labels = 0, charts = img.data ? check_crowd(d, &img, items, n, "bald_guys", &labels) : 0;
    printf("    bald_guys: %d faces, %d labels, %d charts\n", n, labels, charts);
    CHECK_MSG(labels == n, "%d of %d faces labelled", labels, n);
    CHECK_MSG(charts * 4 >= n * 3, "only %d of %d faces kept a chart", charts, n);
    emo_detector_close(det);
    emo_image_free(&img);
    emo_image_free(&grey);
    emo_drawer_close(d);
}

/* Synthetic crowds: grids from roomy to packed (boxes touching), random
 * non-overlapping boxes of mixed sizes, a row along the image's edge. */
static void test_crowd_synthetic(void) {
    emo_drawer *d = open_default();
    if (!d) return;
    static emo_draw_item items[256];
    static float probs[256][7];
    for (int i = 0; i < 256; i++) {
        for (int c = 0; c < 7; c++) probs[i][c] = 0.05f;
        probs[i][(i * 3) % 7] = 0.70f;
    }
    char what[64];
    int labels;
    /* Grids: face side 80, gaps 200 .. 0 px. */
    int gaps[] = {200, 90, 40, 12, 0};
    for (int g = 0; g < 5; g++) {
        emo_image img = {0};
        flat(&img, 1280, 900, 3, 100);
        int n = 0, step = 80 + gaps[g];
        for (int y = 20; y + 80 <= 880 && n < 256; y += step)
            for (int x = 20; x + 80 <= 1260 && n < 256; x += step, n++)
                items[n] = (emo_draw_item){(float)x, (float)y, 80, 80, probs[n], -1, n};
        snprintf(what, sizeof what, "grid gap %d", gaps[g]);
        int charts = check_crowd(d, &img, items, n, what, &labels);
        if (gaps[g] >= 200) CHECK_MSG(charts == n, "%s: %d of %d charts with room for all", what, charts, n);
        emo_image_free(&img);
    }
    /* Random crowds. */
    uint64_t seed = 12345;
    for (int trial = 0; trial < 6; trial++) {
        emo_image img = {0};
        flat(&img, 1600, 1000, 3, 140);
        int n = 0;
        for (int tries = 0; tries < 4000 && n < 40; tries++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            float s = 40 + (float)((seed >> 33) % 200);
            float x = (float)((seed >> 13) % 1600) - s / 3, y = (float)((seed >> 40) % 1000) - s / 3;
            bool clash = false;
            for (int j = 0; j < n && !clash; j++)
                clash = x < items[j].x + items[j].w + 4 && items[j].x < x + s + 4 && y < items[j].y + items[j].h + 4 &&
                        items[j].y < y + s + 4;
            if (!clash) items[n] = (emo_draw_item){x, y, s, s, probs[n], -1, n}, n++;
        }
        snprintf(what, sizeof what, "random crowd %d (%d faces)", trial, n);
        check_crowd(d, &img, items, n, what, &labels);
        emo_image_free(&img);
    }
    emo_drawer_close(d);
}

static void test_fps(void) {
    emo_drawer *d = open_default();
    if (!d) return;
    emo_image img = {0}, orig = {0};
    flat(&img, 640, 360, 3, 200);
    copy_image(&img, &orig);
    CHECK_OK(emo_draw_fps(d, &img, 29.97f));
    int quarter[4] = {0, 0, 320, 180};
    long all = changed(&img, &orig, NULL), tl = changed(&img, &orig, quarter);
    CHECK(all > 300);
    CHECK_EQ_INT(all, tl);
    CHECK_OK(emo_draw_fps(d, &img, NAN));
    CHECK_EQ_INT(emo_draw_fps(NULL, &img, 1), EMO_EINVAL);
    emo_image_free(&img);
    emo_image_free(&orig);
    emo_drawer_close(d);
}

static void test_chart_image(void) {
    emo_drawer *d = open_default();
    if (!d) return;
    emo_image c = {0};
    CHECK_OK(emo_draw_chart(d, happy_probs, -1, 14, 3, &c));
    CHECK(c.width > 150 && c.width < 600 && c.height > 120 && c.height < 400 && c.channels == 3);
    CHECK(c.data[0] == 255 && c.data[1] == 255 && c.data[2] == 255); /* white margin */
    uint32_t hc = emo_draw_class_colour("happy");
    long bar = 0;
    for (int i = 0; i < c.width * c.height; i++) {
        const uint8_t *p = c.data + i * 3;
        bar += abs(p[0] - (int)(hc >> 16)) < 10 && abs(p[1] - (int)((hc >> 8) & 255)) < 10 && abs(p[2] - (int)(hc & 255)) < 10;
    }
    CHECK_MSG(bar > 200, "%ld pixels of the happy bar", bar);
    int w14 = c.width;
    CHECK_OK(emo_draw_chart(d, happy_probs, 2, 28, 4, &c));
    CHECK(c.channels == 4 && c.width > w14 * 3 / 2);
    CHECK_EQ_INT(c.data[3], 0); /* transparent corner */
    const uint8_t *mid = c.data + (size_t)(c.height / 2) * c.stride + (c.width / 2) * 4;
    CHECK(mid[3] > 100);
    CHECK_EQ_INT(emo_draw_chart(d, happy_probs, -1, 2, 3, &c), EMO_EINVAL);
    CHECK_EQ_INT(emo_draw_chart(d, happy_probs, -1, 14, 1, &c), EMO_EINVAL);
    emo_image_free(&c);
    emo_drawer_close(d);
}

/* Same input, same pixels (the emoji cache gives back what it made), and
 * the time per frame for a 640x360 frame with two faces. */
static void test_repeat_and_speed(void) {
    emo_drawer *d = open_default();
    if (!d) return;
    emo_image a = {0}, b = {0};
    emo_draw_item it[2] = {{100, 80, 120, 130, happy_probs, -1, 1}, {400, 100, 90, 95, happy_probs, 5, 2}};
    flat(&a, 640, 360, 3, 100);
    CHECK_OK(emo_draw_faces(d, &a, it, 2, EMO_DRAW_ALL, NULL));
    flat(&b, 640, 360, 3, 100);
    CHECK_OK(emo_draw_faces(d, &b, it, 2, EMO_DRAW_ALL, NULL));
    CHECK_EQ_INT(changed(&a, &b, NULL), 0);
    const int N = 50;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < N; i++) {
        it[0].x = 100 + (i % 5);
        it[0].w = 120 + (i % 3);
        CHECK_OK(emo_draw_faces(d, &a, it, 2, EMO_DRAW_ALL, NULL));
        CHECK_OK(emo_draw_fps(d, &a, 30));
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = ((t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6) / N;
    printf("    two faces + fps on 640x360: %.2f ms per frame\n", ms);
    emo_image_free(&a);
    emo_image_free(&b);
    emo_drawer_close(d);
}

/* ---- plots ---- */

static long count_colour(const emo_image *img, uint32_t c, int tol) {
    long n = 0;
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++) {
            const uint8_t *p = img->data + (size_t)y * img->stride + x * 3;
            n += abs(p[0] - (int)(c >> 16)) <= tol && abs(p[1] - (int)((c >> 8) & 255)) <= tol &&
                 abs(p[2] - (int)(c & 255)) <= tol;
        }
    return n;
}

static void test_plot_lines(void) {
    float x[50], y1[50], y2[50];
    for (int i = 0; i < 50; i++) x[i] = i, y1[i] = 1.0f / (1 + i), y2[i] = i == 20 ? NAN : 0.5f + 0.01f * i;
    emo_plot_series se[2] = {{"train", x, y1, 50, 0x3E63DD}, {"val", x, y2, 50, 0xE5484D}};
    emo_plot_axes ax = {"Loss", "epoch", "loss", 0, 0, 0, 0};
    emo_image img = {0};
    CHECK_OK(emo_plot_lines(&img, 640, 400, &ax, se, 2));
    CHECK(img.width == 640 && img.height == 400 && img.channels == 3);
    CHECK(count_colour(&img, 0x3E63DD, 12) > 300);
    CHECK(count_colour(&img, 0xE5484D, 12) > 300);
    CHECK(count_colour(&img, 0xFFFFFF, 0) > 640 * 400 / 2); /* white background */
    /* Degenerate data: no points, one point, constant values. */
    float one = 3;
    emo_plot_series odd[3] = {{"none", x, y1, 0, 0x000000}, {"one", &one, &one, 1, 0x00AA00}, {NULL, x, x, 1, 0}};
    CHECK_OK(emo_plot_lines(&img, 300, 200, NULL, odd, 3));
    CHECK_OK(emo_plot_lines(&img, 300, 200, NULL, NULL, 0));
    /* Extreme values: constant and huge, spanning most of float's range. */
    float big[3] = {1e20f, 1e20f, 1e20f}, wide[3] = {-3e38f, 0, 3e38f}, xs[3] = {0, 1, 2};
    emo_plot_series ext[2] = {{"const", xs, big, 3, 0x112233}, {NULL, wide, xs, 3, 0x445566}};
    CHECK_OK(emo_plot_lines(&img, 300, 200, NULL, &ext[0], 1));
    CHECK_OK(emo_plot_lines(&img, 300, 200, NULL, &ext[1], 1));
    emo_plot_axes same = {NULL, NULL, NULL, 5, 5, 1e30f, 1e30f};
    CHECK_OK(emo_plot_lines(&img, 300, 200, &same, &ext[0], 1));
    CHECK_EQ_INT(emo_plot_lines(&img, 100, 200, NULL, se, 2), EMO_EINVAL);
    emo_plot_series bad = {"bad", NULL, NULL, 5, 0};
    CHECK_EQ_INT(emo_plot_lines(&img, 300, 200, NULL, &bad, 1), EMO_EINVAL);
    emo_image_free(&img);
}

static void test_plot_timeline(void) {
    enum { N = 100 };
    float t[N], p[N * 7];
    for (int i = 0; i < N; i++) {
        t[i] = i * 0.1f;
        for (int c = 0; c < 7; c++) p[i * 7 + c] = (float)(0.5 + 0.45 * sin(0.2 * i + c)) / 3.5f;
    }
    emo_image img = {0};
    CHECK_OK(emo_plot_timeline(&img, 800, 400, "track 1", t, p, N, 7, NULL));
    for (int c = 0; c < 7; c++) {
        long n = count_colour(&img, emo_draw_class_colour(emo_draw_default_classes[c]), 10);
        CHECK_MSG(n > 100, "class %s: %ld pixels of its colour", emo_draw_default_classes[c], n);
    }
    CHECK_EQ_INT(emo_plot_timeline(&img, 800, 400, NULL, t, p, N, 5, NULL), EMO_EINVAL);
    CHECK_EQ_INT(emo_plot_timeline(&img, 800, 400, NULL, t, p, 0, 7, NULL), EMO_EINVAL);
    emo_image_free(&img);
}

static void test_plot_confusion(void) {
    double m[49];
    for (int i = 0; i < 49; i++) m[i] = (i % 8 == 0) ? 80 : 3;
    emo_image img = {0};
    CHECK_OK(emo_plot_confusion(&img, "confusion", m, 7, NULL));
    CHECK(img.width > 300 && img.height > 300);
    /* The dark blue of high fractions is there (diagonal cells, 0.8 of each row). */
    long dark = 0;
    for (int i = 0; i < img.width * img.height; i++) {
        const uint8_t *p = img.data + (size_t)i * 3;
        dark += p[2] > 120 && p[0] < 60 && p[2] > p[0] + 60;
    }
    CHECK_MSG(dark > 7 * 1000, "%ld dark blue pixels", dark);
    const char *names[20];
    char buf[20][24];
    double big[400];
    for (int i = 0; i < 20; i++) snprintf(buf[i], sizeof buf[i], "class-%02d", i), names[i] = buf[i];
    for (int i = 0; i < 400; i++) big[i] = i % 21 == 0 ? 10.5 : 0.25;
    CHECK_OK(emo_plot_confusion(&img, NULL, big, 20, names));
    m[3] = -1;
    CHECK_EQ_INT(emo_plot_confusion(&img, NULL, m, 7, NULL), EMO_EINVAL);
    m[3] = NAN;
    CHECK_EQ_INT(emo_plot_confusion(&img, NULL, m, 7, NULL), EMO_EINVAL);
    CHECK_EQ_INT(emo_plot_confusion(&img, NULL, m, 0, NULL), EMO_EINVAL);
    double z[1] = {0};
    CHECK_OK(emo_plot_confusion(&img, NULL, z, 1, (const char *const[]){"only"}));
    emo_image_free(&img);
}

/* Example images from the real photos, when EMO_DRAW_DEMO_DIR names a
 * folder. Boxes were picked by hand (OpenCV's frontal-face cascade, checked
 * by eye); the probabilities are made up. */
static void test_demo(void) {
    const char *dir = getenv("EMO_DRAW_DEMO_DIR");
    if (!dir || !*dir) return;
    emo_drawer *d = open_default();
    if (!d) return;
    struct {
        const char *name;
        float box[4];
        int cls;
    } ex[] = {{"angry", {82, 56, 126, 126}, 0},     {"disgusted", {228, 93, 155, 155}, 1},
              {"fearful", {64, 10, 146, 146}, 2},   {"happy", {238, 39, 176, 176}, 3},
              {"sad", {121, 39, 160, 160}, 4},      {"surprised", {174, 71, 176, 176}, 5},
              {"neutral", {225, 55, 161, 161}, 6}};
    char path[1024];
    for (int i = 0; i < 7; i++) {
        emo_image img = {0};
        char rel[96];
        snprintf(rel, sizeof rel, "media/expressions/%s.jpg", ex[i].name);
        CHECK_OK(emo_image_load(&img, test_shared(rel), 3));
        float pr[7];
        for (int k = 0; k < 7; k++) pr[k] = 0.015f + 0.01f * ((k * 3 + i) % 4);
        pr[ex[i].cls] = 0.0f;
        float rest = 0;
        for (int k = 0; k < 7; k++) rest += pr[k];
        pr[(ex[i].cls + 6) % 7] += 0.12f;
        pr[ex[i].cls] = 1.0f - rest - 0.12f;
        emo_draw_item it = {ex[i].box[0], ex[i].box[1], ex[i].box[2], ex[i].box[3], pr, -1, -1};
        CHECK_OK(emo_draw_faces(d, &img, &it, 1, EMO_DRAW_ALL, NULL));
        snprintf(path, sizeof path, "%s/%s.jpg", dir, ex[i].name);
        CHECK_OK(emo_image_save(&img, path, 88));
        emo_image_free(&img);
    }
    emo_image img = {0};
    CHECK_OK(emo_image_load(&img, test_shared("media/faces/bald_guys.jpg"), 3));
    int bx[][4] = {{38, 41, 213, 213},      {500, 64, 240, 240},     {1428, 59, 335, 335}, {761, 790, 201, 201},
                   {1033, 716, 223, 223},   {372, 779, 261, 261},    {848, 369, 207, 207}, {1057, 1274, 206, 206}};
    emo_draw_item items[8];
    float pr[8][7];
    for (int i = 0; i < 8; i++) {
        for (int k = 0; k < 7; k++) pr[i][k] = 0.03f;
        pr[i][(i * 3) % 7] = 0.67f;
        pr[i][(i * 3 + 2) % 7] = 0.15f;
        items[i] = (emo_draw_item){bx[i][0], bx[i][1], bx[i][2], bx[i][3], pr[i], -1, i + 1};
    }
    CHECK_OK(emo_draw_faces(d, &img, items, 8, EMO_DRAW_ALL, NULL));
    CHECK_OK(emo_draw_fps(d, &img, 31.4f));
    emo_image half = {0};
    CHECK_OK(emo_image_resize(&img, &half, img.width / 2, img.height / 2, EMO_INTERP_AREA));
    snprintf(path, sizeof path, "%s/group.jpg", dir);
    CHECK_OK(emo_image_save(&half, path, 78));
    emo_image_free(&half);
    emo_image_free(&img);
    emo_drawer_close(d);
}

static const test_case cases[] = {
    {"open_errors", test_open_errors},
    {"emoji_pixels", test_emoji_pixels},
    {"emoji_blend", test_emoji_blend},
    {"chart_inside", test_chart_inside},
    {"crowd_photo", test_crowd_photo},
    {"crowd_synthetic", test_crowd_synthetic},
    {"odd_boxes", test_odd_boxes},
    {"grey_rgba", test_grey_rgba},
    {"label_colour", test_label_colour},
    {"custom_classes", test_custom_classes},
    {"fps", test_fps},
    {"chart_image", test_chart_image},
    {"repeat_and_speed", test_repeat_and_speed},
    {"plot_lines", test_plot_lines},
    {"plot_timeline", test_plot_timeline},
    {"plot_confusion", test_plot_confusion},
    {"demo", test_demo},
};

int main(int argc, char **argv) { return test_main(cases, TEST_COUNT(cases), argc, argv); }
