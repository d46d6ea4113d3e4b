/* test_image.c — image module against OpenCV references (tests/data/image,
 * made by tests/ref/make_image_refs.py), round trips, and bad input. */
#include "emo.h"
#include "test.h"

#include <stdbool.h>
#include <zlib.h>

static const char *data_path(const char *name) {
    static char buf[4][512];
    static int i;
    char *b = buf[i++ & 3];
    snprintf(b, sizeof buf[0], "tests/data/image/%s", name);
    return b;
}

/* Largest per-pixel difference, and how many samples differ at all. */
static int max_diff(const emo_image *a, const emo_image *b, long *ndiff) {
    if (ndiff) *ndiff = 0;
    if (a->width != b->width || a->height != b->height || a->channels != b->channels) return 999;
    int m = 0;
    long n = 0;
    for (int y = 0; y < a->height; y++)
        for (int x = 0; x < a->width * a->channels; x++) {
            int d = abs(a->data[y * a->stride + x] - b->data[y * b->stride + x]);
            if (d) n++;
            if (d > m) m = d;
        }
    if (ndiff) *ndiff = n;
    return m;
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(p, 1, n, f);
    fclose(f);
}

/* The first MiB of a file (malloc'ed), or NULL; *n is its length. */
static uint8_t *read_bytes(const char *path, size_t *n) {
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *b = malloc(1 << 20);
    if (b) *n = fread(b, 1, 1 << 20, f);
    fclose(f);
    return b;
}

static void test_decode_matches_opencv(void) {
    emo_image img = {0}, ref = {0};
    CHECK_OK(emo_image_load(&img, test_shared("media/expressions/happy.jpg"), 3));
    CHECK_OK(emo_image_load(&ref, data_path("happy_rgb.png"), 3));
    long n;
    int d = max_diff(&img, &ref, &n);
    CHECK_MSG(d == 0, "JPEG decode differs from OpenCV's imread: max %d, %ld samples", d, n);
    emo_image_free(&img);
    emo_image_free(&ref);
}

static void test_grey_matches_opencv(void) {
    emo_image img = {0}, ref = {0};
    CHECK_OK(emo_image_load(&img, test_shared("media/expressions/happy.jpg"), 1));
    CHECK_OK(emo_image_load(&ref, data_path("happy_grey.png"), 0));
    CHECK_EQ_INT(ref.channels, 1);
    CHECK_EQ_INT(img.channels, 1);
    long n;
    int d = max_diff(&img, &ref, &n);
    CHECK_MSG(d <= 1, "grey differs from cv2.cvtColor(BGR2GRAY): max %d over %ld samples", d, n);
    emo_image_free(&img);
    emo_image_free(&ref);
}

static void test_resize_matches_opencv(void) {
    FILE *f = fopen(data_path("refs.txt"), "r");
    CHECK(f != NULL);
    if (!f) return;
    emo_image grey = {0}, rgb = {0}, ref = {0}, out = {0};
    CHECK_OK(emo_image_load(&grey, data_path("happy_grey.png"), 1));
    CHECK_OK(emo_image_load(&rgb, data_path("happy_rgb.png"), 3));
    char line[512], kind[32], mode[32], file[128];
    int w, h, checked = 0;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%31s %31s %d %d %127s", kind, mode, &w, &h, file) != 5) continue;
        if (strcmp(kind, "resize") && strcmp(kind, "resize_rgb")) continue;
        const emo_image *src = strcmp(kind, "resize") == 0 ? &grey : &rgb;
        emo_interp ip = strcmp(mode, "area") == 0 ? EMO_INTERP_AREA : EMO_INTERP_LINEAR;
        CHECK_OK(emo_image_resize(src, &out, w, h, ip));
        CHECK_OK(emo_image_load(&ref, data_path(file), src->channels));
        long n;
        int d = max_diff(&out, &ref, &n);
        CHECK_MSG(d <= 1, "%s %s %dx%d: max difference %d (%ld samples differ)", kind, mode, w, h, d, n);
        checked++;
    }
    fclose(f);
    CHECK_EQ_INT(checked, 9);
    emo_image_free(&grey), emo_image_free(&rgb), emo_image_free(&ref), emo_image_free(&out);
}

static void test_warp_matches_opencv(void) {
    FILE *f = fopen(data_path("refs.txt"), "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[512], file[128];
    float m[6];
    int w = 0, h = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "warp %f %f %f %f %f %f %d %d %127s", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &w,
                   &h, file) == 9)
            break;
    fclose(f);
    CHECK_EQ_INT(w, 160);
    emo_image grey = {0}, ref = {0}, out = {0};
    CHECK_OK(emo_image_load(&grey, data_path("happy_grey.png"), 1));
    CHECK_OK(emo_image_load(&ref, data_path(file), 1));
    CHECK_OK(emo_image_warp_affine(&grey, &out, m, w, h));
    /* OpenCV quantises source coordinates to 1/32 pixel, so a few pixels on
     * strong edges differ by more than one level. */
    long n;
    int d = max_diff(&out, &ref, &n);
    long big = 0;
    for (int i = 0; i < w * h; i++) big += abs(out.data[i] - ref.data[i]) > 1;
    CHECK_MSG(d <= 6 && big * 100 <= (long)w * h, "warp: max diff %d, %ld of %d pixels off by more than 1", d,
              big, w * h);
    emo_image_free(&grey), emo_image_free(&ref), emo_image_free(&out);
}

/* JPEGs whose EXIF orientation is 1..8 decode upright, as cv2.imread gives
 * them; grey decoding turns the same way. */
static void test_exif_orientation(void) {
    FILE *f = fopen(data_path("refs.txt"), "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[512], jpg[128], png[128];
    int o, checked = 0;
    emo_image img = {0}, ref = {0}, grey = {0}, ref_grey = {0};
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "exif %d %127s %127s", &o, jpg, png) != 3) continue;
        CHECK_OK(emo_image_load(&img, data_path(jpg), 3));
        CHECK_OK(emo_image_load(&ref, data_path(png), 3));
        CHECK_MSG(img.width == ref.width && img.height == ref.height, "orientation %d: %dx%d, OpenCV %dx%d", o,
                  img.width, img.height, ref.width, ref.height);
        long n;
        int d = max_diff(&img, &ref, &n);
        CHECK_MSG(d <= 1, "orientation %d: max difference %d from cv2.imread (%ld samples)", o, d, n);
        CHECK_OK(emo_image_load(&grey, data_path(jpg), 1));
        CHECK_OK(emo_image_to_grey(&ref, &ref_grey));
        d = max_diff(&grey, &ref_grey, &n);
        CHECK_MSG(d <= 1, "orientation %d, grey: max difference %d (%ld samples)", o, d, n);
        checked++;
    }
    fclose(f);
    CHECK_EQ_INT(checked, 8);

    /* A malformed Exif block never fails the decode: the pixels are read as
     * stored. exif_6.jpg: SOI, then APP1 (marker, length, "Exif\0\0", TIFF). */
    size_t n;
    uint8_t *b = read_bytes(data_path("exif_6.jpg"), &n);
    emo_image stored = {0}, turned = {0};
    CHECK_OK(emo_image_load(&stored, data_path("exif_1.jpg"), 3));
    CHECK_OK(emo_image_load(&turned, data_path("exif_6.jpg"), 3));
    CHECK(b && n > 64 && memcmp(b + 6, "Exif", 4) == 0 && memcmp(b + 12, "II", 2) == 0); /* TIFF at 12 */
    struct {
        const char *what;
        size_t at;
        uint8_t value[4];
        int len;
        bool rotated; /* the one good entry is still read */
    } breaks[] = {
        {"IFD offset past the segment", 16, {0xf0, 0xff, 0xff, 0xff}, 4, false},
        {"IFD offset at the segment's last byte", 16, {25, 0, 0, 0}, 4, false},
        {"65535 entries in a short segment", 20, {0xff, 0xff}, 2, true},
        {"orientation 9", 30, {9, 0}, 2, false},
        {"orientation 0", 30, {0, 0}, 2, false},
        {"orientation of type LONG", 24, {4, 0}, 2, false},
        {"not a TIFF byte order", 12, {'X', 'X'}, 2, false},
        {"not TIFF's 42", 14, {43, 0}, 2, false},
    };
    for (size_t i = 0; b && i < TEST_COUNT(breaks); i++) {
        uint8_t *copy = malloc(n);
        memcpy(copy, b, n);
        memcpy(copy + breaks[i].at, breaks[i].value, (size_t)breaks[i].len);
        int s = emo_image_decode(&img, copy, n, 3);
        CHECK_MSG(s == EMO_OK, "%s: %s", breaks[i].what, emo_last_error());
        long nd;
        CHECK_MSG(s || max_diff(&img, breaks[i].rotated ? &turned : &stored, &nd) == 0, "%s: not decoded %s",
                  breaks[i].what, breaks[i].rotated ? "turned" : "as stored");
        free(copy);
    }
    free(b);
    emo_image_free(&img), emo_image_free(&ref), emo_image_free(&grey), emo_image_free(&ref_grey);
    emo_image_free(&stored), emo_image_free(&turned);
}

static void test_png_round_trip(void) {
    for (int c = 1; c <= 4; c++) {
        if (c == 2) continue;
        emo_image img = {0}, back = {0};
        CHECK_OK(emo_image_alloc(&img, 37, 23, c));
        for (int i = 0; i < 37 * 23 * c; i++) img.data[i] = (uint8_t)(i * 7 + c);
        uint8_t *bytes = NULL;
        size_t size = 0;
        CHECK_OK(emo_image_encode(&img, EMO_FORMAT_PNG, 90, &bytes, &size));
        CHECK_EQ_INT(emo_image_sniff(bytes, size), EMO_FORMAT_PNG);
        CHECK_OK(emo_image_decode(&back, bytes, size, 0));
        CHECK_EQ_INT(back.channels, c);
        long n;
        CHECK_EQ_INT(max_diff(&img, &back, &n), 0);
        free(bytes);
        emo_image_free(&img), emo_image_free(&back);
    }
}

static void test_jpeg_round_trip(void) {
    emo_image img = {0}, back = {0};
    CHECK_OK(emo_image_load(&img, test_shared("media/expressions/happy.jpg"), 0));
    CHECK_EQ_INT(img.channels, 3);
    CHECK_OK(emo_image_save(&img, test_tmp("rt.jpg"), 95));
    CHECK_OK(emo_image_load(&back, test_tmp("rt.jpg"), 0));
    CHECK_EQ_INT(back.width, img.width);
    CHECK_EQ_INT(back.height, img.height);
    double se = 0;
    size_t n = (size_t)img.width * img.height * 3;
    for (size_t i = 0; i < n && back.data; i++) se += (img.data[i] - back.data[i]) * (double)(img.data[i] - back.data[i]);
    double psnr = 10 * log10(255.0 * 255.0 / (se / n + 1e-9));
    CHECK_MSG(psnr > 35, "JPEG q95 round trip PSNR %.1f dB", psnr);
    /* Grey JPEG stays one channel. */
    emo_image g = {0};
    CHECK_OK(emo_image_to_grey(&img, &g));
    CHECK_OK(emo_image_save(&g, test_tmp("rt_grey.jpg"), 90));
    CHECK_OK(emo_image_load(&back, test_tmp("rt_grey.jpg"), 0));
    CHECK_EQ_INT(back.channels, 1);
    emo_image_free(&img), emo_image_free(&back), emo_image_free(&g);
}

static void test_buffer_reuse(void) {
    emo_image a = {0};
    CHECK_OK(emo_image_alloc(&a, 100, 100, 3));
    uint8_t *p = a.data;
    CHECK_OK(emo_image_alloc(&a, 50, 40, 1)); /* smaller: same buffer */
    CHECK(a.data == p);
    CHECK_EQ_INT(a.stride, 50);
    emo_image_free(&a);
    CHECK(a.data == NULL && a.capacity == 0);
    /* Wrapped memory is never freed or grown. */
    uint8_t px[12] = {0};
    emo_image w = emo_image_wrap(px, 2, 2, 3, 6);
    CHECK(emo_image_alloc(&w, 10, 10, 3) == EMO_EINVAL);
    emo_image_free(&w);
}

static void test_crop_and_convert(void) {
    emo_image img = {0}, c = {0}, g = {0}, rgba = {0};
    CHECK_OK(emo_image_alloc(&img, 4, 3, 1));
    for (int i = 0; i < 12; i++) img.data[i] = (uint8_t)(10 * i);
    CHECK_OK(emo_image_crop(&img, &c, 1, 1, 2, 2));
    CHECK_EQ_INT(c.data[0], 50);
    CHECK_EQ_INT(c.data[3], 100);
    CHECK_OK(emo_image_crop(&img, &c, -2, -1, 3, 2)); /* border replicated */
    CHECK_EQ_INT(c.data[0], 0);
    CHECK_EQ_INT(c.data[2], 0);
    CHECK_EQ_INT(c.data[3], 0);
    CHECK_OK(emo_image_crop(&img, &c, 3, 2, 3, 1));
    CHECK_EQ_INT(c.data[0], 110);
    CHECK_EQ_INT(c.data[2], 110);
    CHECK_OK(emo_image_convert(&img, &rgba, 4));
    CHECK_EQ_INT(rgba.data[4 * 5 + 1], 50);
    CHECK_EQ_INT(rgba.data[4 * 5 + 3], 255);
    CHECK_OK(emo_image_to_grey(&rgba, &g));
    CHECK_EQ_INT(g.data[5], 50);
    emo_image_free(&img), emo_image_free(&c), emo_image_free(&g), emo_image_free(&rgba);
}

/* A PNG whose header claims w x h pixels, with valid CRCs, and no data. */
static size_t make_png_header(uint8_t *b, uint32_t w, uint32_t h) {
    memcpy(b, "\x89PNG\r\n\x1a\n", 8);
    uint8_t *c = b + 8;
    c[0] = 0, c[1] = 0, c[2] = 0, c[3] = 13;
    memcpy(c + 4, "IHDR", 4);
    uint8_t *d = c + 8;
    d[0] = w >> 24, d[1] = w >> 16, d[2] = w >> 8, d[3] = w;
    d[4] = h >> 24, d[5] = h >> 16, d[6] = h >> 8, d[7] = h;
    d[8] = 8, d[9] = 0, d[10] = 0, d[11] = 0, d[12] = 0;
    uint32_t crc = (uint32_t)crc32(0, c + 4, 17);
    uint8_t *e = d + 13;
    e[0] = crc >> 24, e[1] = crc >> 16, e[2] = crc >> 8, e[3] = crc;
    return 8 + 4 + 4 + 13 + 4;
}

static void expect_load_error(const char *path, int want, const char *msg_part) {
    emo_image img = {0};
    int s = emo_image_load(&img, path, 0);
    CHECK_MSG(s == want, "%s: status %d (%s), want %d", path, s, emo_last_error(), want);
    CHECK_STR_CONTAINS(emo_last_error(), msg_part);
    CHECK(img.width >= 0); /* left valid: freeing it below must not fault */
    emo_image_free(&img);
}

static void test_bad_inputs(void) {
    write_bytes(test_tmp("empty.jpg"), "", 0);
    expect_load_error(test_tmp("empty.jpg"), EMO_EFORMAT, "empty file");

    size_t size;
    uint8_t *bytes = read_bytes(test_shared("media/expressions/happy.jpg"), &size);
    CHECK(bytes != NULL);
    if (bytes) {
        write_bytes(test_tmp("trunc.jpg"), bytes, size / 2);
        expect_load_error(test_tmp("trunc.jpg"), EMO_EFORMAT, "truncated JPEG");
        /* Garbage in the entropy-coded data after a valid header. */
        for (size_t i = size / 3; i < size - 2; i += 7) bytes[i] ^= 0x5a;
        write_bytes(test_tmp("corrupt.jpg"), bytes, size);
        emo_image img = {0};
        int s = emo_image_load(&img, test_tmp("corrupt.jpg"), 0);
        CHECK(s == EMO_OK || s == EMO_EFORMAT); /* libjpeg may recover; never crash */
        emo_image_free(&img);
        free(bytes);
    }

    emo_image png = {0};
    CHECK_OK(emo_image_load(&png, data_path("happy_grey.png"), 0));
    uint8_t *pb;
    size_t pn;
    CHECK_OK(emo_image_encode(&png, EMO_FORMAT_PNG, 90, &pb, &pn));
    write_bytes(test_tmp("trunc.png"), pb, pn * 2 / 3);
    expect_load_error(test_tmp("trunc.png"), EMO_EFORMAT, "PNG");
    free(pb);
    emo_image_free(&png);

    uint8_t hdr[64];
    size_t hn = make_png_header(hdr, 100000, 100000);
    write_bytes(test_tmp("huge.png"), hdr, hn);
    expect_load_error(test_tmp("huge.png"), EMO_ELIMIT, "above the limit");
    hn = make_png_header(hdr, 16384, 16000); /* each side fine, total too big */
    write_bytes(test_tmp("huge2.png"), hdr, hn);
    expect_load_error(test_tmp("huge2.png"), EMO_ELIMIT, "above the limit");

    write_bytes(test_tmp("text.jpg"), "hello, I am not a picture\n", 26);
    expect_load_error(test_tmp("text.jpg"), EMO_EUNSUPPORTED, "not a JPEG or PNG");
    expect_load_error(test_tmpdir(), EMO_EINVAL, "is a directory");
    expect_load_error(test_tmp("does-not-exist.png"), EMO_ENOTFOUND, "No such file");

    emo_image img = {0};
    CHECK_OK(emo_image_alloc(&img, 8, 8, 1));
    memset(img.data, 128, 64);
    int s = emo_image_save(&img, "/proc/emo-cannot-write-here.png", 90);
    CHECK(s == EMO_EIO);
    CHECK_STR_CONTAINS(emo_last_error(), "cannot write");
    s = emo_image_save(&img, test_tmp("x.bmp"), 90);
    CHECK(s == EMO_EUNSUPPORTED);
    CHECK(emo_image_resize(&img, &img, 4, 4, EMO_INTERP_LINEAR) == EMO_EINVAL);
    emo_image empty = {0}, out = {0};
    CHECK(emo_image_resize(&empty, &out, 4, 4, EMO_INTERP_LINEAR) == EMO_EINVAL);
    CHECK(emo_image_resize(&img, &out, 0, 4, EMO_INTERP_LINEAR) == EMO_EINVAL);
    CHECK(emo_image_resize(&img, &out, 20000, 4, EMO_INTERP_LINEAR) == EMO_ELIMIT);
    emo_image_free(&img);
    emo_image_free(&out);
}

static void test_strerror(void) {
    CHECK_STR_CONTAINS(emo_strerror(EMO_ENOMEM), "memory");
    CHECK_STR_CONTAINS(emo_strerror(12345), "unknown");
    CHECK_STR_CONTAINS(emo_version(), ".");
}

int main(int argc, char **argv) {
    static const test_case cases[] = {
        {"decode_matches_opencv", test_decode_matches_opencv},
        {"grey_matches_opencv", test_grey_matches_opencv},
        {"resize_matches_opencv", test_resize_matches_opencv},
        {"warp_matches_opencv", test_warp_matches_opencv},
        {"exif_orientation", test_exif_orientation},
        {"png_round_trip", test_png_round_trip},
        {"jpeg_round_trip", test_jpeg_round_trip},
        {"buffer_reuse", test_buffer_reuse},
        {"crop_and_convert", test_crop_and_convert},
        {"bad_inputs", test_bad_inputs},
        {"strerror", test_strerror},
    };
    return test_main(cases, TEST_COUNT(cases), argc, argv);
}
