/* test_video.c — video reading (real files, damaged files, wrong files) and
 * writing (write, read back, check with ffprobe when it is installed).
 * Frame counts and sizes were measured with
 *   ffprobe -v error -select_streams v:0 -count_frames \
 *     -show_entries stream=width,height,r_frame_rate,nb_frames,nb_read_frames,duration FILE */
#include "emo.h"
#include "test.h"

#include <errno.h>
#include <stdint.h>

static void check_file(const char *rel, int w, int h, double fps, double duration, int64_t frames_est, int frames,
                       int channels) {
    emo_video *v = NULL;
    CHECK_OK(emo_video_open(&v, test_shared(rel)));
    if (!v) return;
    const emo_video_info *in = emo_video_get_info(v);
    CHECK_EQ_INT(in->width, w);
    CHECK_EQ_INT(in->height, h);
    CHECK_NEAR(in->fps, fps, 0.01);
    CHECK_NEAR(in->duration, duration, 0.05);
    CHECK_EQ_INT(in->frames, frames_est);
    CHECK(strcmp(in->codec, "h264") == 0);
    emo_image img = {0};
    double t, last = -1;
    int n = 0, s, bad_time = 0, bad_size = 0;
    while ((s = emo_video_read(v, &img, channels, &t)) == EMO_OK) {
        if (!(t > last)) bad_time++;
        last = t;
        if (img.width != w || img.height != h || img.channels != channels) bad_size++;
        n++;
    }
    CHECK_EQ_INT(s, EMO_EEOF);
    CHECK_EQ_INT(n, frames);
    CHECK_EQ_INT(bad_time, 0);
    CHECK_EQ_INT(bad_size, 0);
    CHECK_NEAR(last, (frames - 1) / fps, 0.1);
    emo_video_stats st;
    emo_video_get_stats(v, &st);
    CHECK_EQ_INT(st.frames, frames);
    CHECK_EQ_INT(st.errors, 0);
    CHECK_EQ_INT(st.missing, 0);
    CHECK_EQ_INT(emo_video_read(v, &img, channels, &t), EMO_EEOF); /* stays at the end */
    emo_image_free(&img);
    emo_video_close(v);
}

static void test_read_pexels(void) {
    /* ffprobe: 640x360, 24000/1001 fps, 19.685 s, nb_frames 472, read 472 */
    check_file("media/video/WolfgangLanger_Pexels.mp4", 640, 360, 24000.0 / 1001, 19.685, 472, 472, 3);
}

static void test_read_single_face_grey(void) {
    /* ffprobe: 640x360, 30 fps, 2.4 s, 72 frames */
    check_file("media/video/single_face.mp4", 640, 360, 30, 2.4, 72, 72, 1);
}

static void test_read_no_face_rgba(void) {
    /* ffprobe: 960x540, 24 fps, 3.945 s; the container says 98 frames, its
     * edit list leaves 95 to show (ffprobe -count_frames: 95) */
    check_file("media/video/no_face.mp4", 960, 540, 24, 3.945, 98, 95, 4);
}

/* The first frame of the Pexels clip, as RGB and as grey, agree with each
 * other (BT.601 luma) and look like a photo, not a blank or garbage. */
static void test_first_frame_content(void) {
    emo_video *v = NULL;
    CHECK_OK(emo_video_open(&v, test_shared("media/video/WolfgangLanger_Pexels.mp4")));
    if (!v) return;
    emo_image rgb = {0}, grey = {0}, g2 = {0};
    CHECK_OK(emo_video_read(v, &rgb, 3, NULL));
    emo_video_close(v);
    v = NULL;
    CHECK_OK(emo_video_open(&v, test_shared("media/video/WolfgangLanger_Pexels.mp4")));
    if (!v) return;
    CHECK_OK(emo_video_read(v, &grey, 1, NULL));
    emo_video_close(v);
    CHECK_OK(emo_image_to_grey(&rgb, &g2));
    double diff = 0, mean = 0, var = 0;
    size_t n = (size_t)grey.width * grey.height;
    for (int y = 0; y < grey.height; y++)
        for (int x = 0; x < grey.width; x++) {
            double a = grey.data[(size_t)y * grey.stride + x], b = g2.data[(size_t)y * g2.stride + x];
            diff += fabs(a - b);
            mean += a;
            var += a * a;
        }
    mean /= n;
    var = var / n - mean * mean;
    CHECK_MSG(diff / n < 2.0, "grey vs RGB->grey differ by %.2f on average", diff / n);
    CHECK_MSG(mean > 30 && mean < 220 && var > 100, "first frame mean %.1f, variance %.1f", mean, var);
    emo_image_free(&rgb);
    emo_image_free(&grey);
    emo_image_free(&g2);
}

static int copy_bytes(const char *from, const char *to, double keep_fraction, long garble_at, long garble_len) {
    FILE *f = fopen(from, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(b);
        return -1;
    }
    fclose(f);
    long keep = (long)(n * keep_fraction);
    uint32_t r = 12345;
    for (long i = garble_at; i < garble_at + garble_len && i < n; i++) {
        r = r * 1103515245u + 12345u;
        b[i] = (unsigned char)(r >> 16);
    }
    FILE *o = fopen(to, "wb");
    if (!o) {
        free(b);
        return -1;
    }
    fwrite(b, 1, (size_t)keep, o);
    fclose(o);
    free(b);
    return 0;
}

static int read_all(const char *path, emo_video_stats *st, int *status) {
    emo_video *v = NULL;
    int s = emo_video_open(&v, path);
    if (s) {
        *status = s;
        return -1;
    }
    emo_image img = {0};
    int n = 0;
    while ((s = emo_video_read(v, &img, 3, NULL)) == EMO_OK) n++;
    *status = s;
    emo_video_get_stats(v, st);
    emo_image_free(&img);
    emo_video_close(v);
    return n;
}

static void test_truncated(void) {
    /* The Pexels file has its index (moov) first: cut at 40% the first part
     * of the frames decodes and the rest is reported missing. */
    const char *p = test_tmp("truncated.mp4");
    CHECK(copy_bytes(test_shared("media/video/WolfgangLanger_Pexels.mp4"), p, 0.4, 0, 0) == 0);
    emo_video_stats st;
    int s, n = read_all(p, &st, &s);
    CHECK_EQ_INT(s, EMO_EEOF);
    CHECK_MSG(n > 100 && n < 300, "%d frames from a 40%% file of 472", n);
    CHECK_EQ_INT(st.missing, 472 - n);
    printf("    truncated at 40%%: %d of 472 frames, %lld errors, %lld missing\n", n, (long long)st.errors,
           (long long)st.missing);
    /* single_face.mp4 keeps its index at the end: cut, it has no index. */
    p = test_tmp("truncated2.mp4");
    CHECK(copy_bytes(test_shared("media/video/single_face.mp4"), p, 0.5, 0, 0) == 0);
    emo_video *v = NULL;
    s = emo_video_open(&v, p);
    if (s == EMO_OK) { /* an FFmpeg that can read it anyway must still not crash */
        emo_image img = {0};
        while (emo_video_read(v, &img, 3, NULL) == EMO_OK) {}
        emo_image_free(&img);
        emo_video_close(v);
    } else {
        CHECK_EQ_INT(s, EMO_EFORMAT);
        CHECK_STR_CONTAINS(emo_last_error(), "truncated2.mp4");
    }
}

static void test_corrupt_middle(void) {
    /* 64 KB of noise in the middle of the frame data: frames around it are
     * damaged, the rest decode. */
    const char *p = test_tmp("corrupt.mp4");
    CHECK(copy_bytes(test_shared("media/video/WolfgangLanger_Pexels.mp4"), p, 1.0, 800000, 65536) == 0);
    emo_video_stats st;
    int s, n = read_all(p, &st, &s);
    CHECK_EQ_INT(s, EMO_EEOF);
    CHECK_MSG(n > 400 && n <= 472, "%d frames", n);
    CHECK_MSG(st.errors + st.corrupt > 0, "damage not noticed: %lld errors, %lld corrupt frames",
              (long long)st.errors, (long long)st.corrupt);
    printf("    noise in the middle: %d frames, %lld errors, %lld corrupt\n", n, (long long)st.errors,
           (long long)st.corrupt);
}

/* Cut anywhere, or noise in the index: a clean error or some frames, never
 * a crash or a hang (run under ASan by `make SANITIZE=1 test`). */
static void test_damage_everywhere(void) {
    const double cuts[] = {0.0, 0.0005, 0.003, 0.007, 0.05, 0.5, 0.97, 0.9999};
    const char *p = test_tmp("cut.mp4");
    for (int i = 0; i < (int)(sizeof cuts / sizeof cuts[0]); i++) {
        CHECK(copy_bytes(test_shared("media/video/single_face.mp4"), p, cuts[i], 0, 0) == 0);
        emo_video_stats st;
        int s, n = read_all(p, &st, &s);
        CHECK_MSG(n < 0 ? (s == EMO_EFORMAT || s == EMO_EUNSUPPORTED) : s == EMO_EEOF, "cut at %g: %d frames, status %d",
                  cuts[i], n, s);
        CHECK(n <= 72);
    }
    const long at[] = {40, 300, 2000, 9000};
    for (int i = 0; i < 4; i++) {
        CHECK(copy_bytes(test_shared("media/video/WolfgangLanger_Pexels.mp4"), p, 0.1, at[i], 1500) == 0);
        emo_video_stats st;
        int s, n = read_all(p, &st, &s);
        CHECK_MSG(n < 0 ? (s == EMO_EFORMAT || s == EMO_EUNSUPPORTED) : s == EMO_EEOF,
                  "noise at %ld: %d frames, status %d (%s)", at[i], n, s, emo_last_error());
        CHECK(n <= 472);
    }
}

/* A display matrix (phone video) turns the frames upright, as players do:
 * rotated.mp4 is plain.mp4's stream with "rotate 90 counter-clockwise". */
static void test_rotation(void) {
    emo_video *a = NULL, *b = NULL;
    CHECK_OK(emo_video_open(&a, "tests/data/video/plain.mp4"));
    CHECK_OK(emo_video_open(&b, "tests/data/video/rotated.mp4"));
    if (!a || !b) {
        emo_video_close(a);
        emo_video_close(b);
        return;
    }
    CHECK_EQ_INT(emo_video_get_info(a)->rotation, 0);
    CHECK_EQ_INT(emo_video_get_info(b)->rotation, 270);
    CHECK_EQ_INT(emo_video_get_info(b)->width, 48);
    CHECK_EQ_INT(emo_video_get_info(b)->height, 64);
    emo_image fa = {0}, fb = {0};
    int n = 0, bad = 0;
    while (emo_video_read(a, &fa, 3, NULL) == EMO_OK) {
        CHECK_OK(emo_video_read(b, &fb, 3, NULL));
        CHECK(fb.width == 48 && fb.height == 64);
        /* fb(x, y) = fa(w - 1 - y, x) for a quarter turn counter-clockwise */
        for (int y = 0; y < 64 && fb.width == 48; y++)
            for (int x = 0; x < 48; x++)
                bad += memcmp(fb.data + (size_t)y * fb.stride + x * 3, fa.data + (size_t)x * fa.stride + (63 - y) * 3, 3) != 0;
        n++;
    }
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(bad, 0);
    emo_image_free(&fa);
    emo_image_free(&fb);
    emo_video_close(a);
    emo_video_close(b);
}

/* Noise in the index (moov, bytes 32..11314 of the Pexels file) at 24
 * pseudo-random places, file cut at 8%: a clean error or frames, each time. */
static void test_fuzz_index(void) {
    const char *p = test_tmp("fuzz.mp4");
    uint32_t r = 2024;
    for (int i = 0; i < 24; i++) {
        r = r * 1664525u + 1013904223u;
        long at = 32 + (long)(r >> 8) % 11200;
        CHECK(copy_bytes(test_shared("media/video/WolfgangLanger_Pexels.mp4"), p, 0.08, at, 16 + i * 4) == 0);
        emo_video_stats st;
        int s, n = read_all(p, &st, &s);
        CHECK_MSG(n < 0 ? s < 0 && s != EMO_EEOF : s == EMO_EEOF, "noise at %ld: %d frames, status %d", at, n, s);
    }
}

/* A ':' in a file name is not a protocol ("http:", "concat:") to FFmpeg. */
static void test_colon_in_name(void) {
    const char *in = test_tmp("concat:clip.mp4"), *out = test_tmp("out:put.mp4");
    CHECK(copy_bytes("tests/data/video/plain.mp4", in, 1.0, 0, 0) == 0);
    emo_video *v = NULL;
    CHECK_OK(emo_video_open(&v, in));
    emo_image img = {0};
    emo_video_writer *w = NULL;
    CHECK_OK(emo_video_writer_open(&w, out, 64, 48, 5));
    int n = 0;
    while (v && w && emo_video_read(v, &img, 3, NULL) == EMO_OK) {
        CHECK_OK(emo_video_write(w, &img));
        n++;
    }
    CHECK_EQ_INT(n, 3);
    CHECK_OK(emo_video_writer_close(w));
    CHECK(access(out, F_OK) == 0);
    emo_video_close(v);
    emo_image_free(&img);
}

static void test_audio_only(void) {
    emo_video *v = NULL;
    CHECK_EQ_INT(emo_video_open(&v, "tests/data/video/audio_only.m4a"), EMO_EUNSUPPORTED);
    CHECK(v == NULL);
    CHECK_STR_CONTAINS(emo_last_error(), "no video stream");
    CHECK_STR_CONTAINS(emo_last_error(), "audio_only.m4a");
}

static void test_unknown_codec(void) {
    emo_video *v = NULL;
    CHECK_EQ_INT(emo_video_open(&v, "tests/data/video/unknown_codec.avi"), EMO_EUNSUPPORTED);
    CHECK(v == NULL);
    CHECK_STR_CONTAINS(emo_last_error(), "EMOX");
    CHECK_STR_CONTAINS(emo_last_error(), "cannot be decoded");
}

static void test_not_a_video(void) {
    const char *p = test_tmp("notes.mp4");
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs("this is a text file, not a video\n", f);
    fclose(f);
    emo_video *v = NULL;
    CHECK_EQ_INT(emo_video_open(&v, p), EMO_EFORMAT);
    CHECK(v == NULL);
    CHECK_STR_CONTAINS(emo_last_error(), "notes.mp4");
    CHECK_EQ_INT(emo_video_open(&v, test_tmp("missing.mp4")), EMO_ENOTFOUND);
    CHECK_EQ_INT(emo_video_open(&v, test_tmpdir()), EMO_EINVAL);
    CHECK_EQ_INT(emo_video_open(&v, ""), EMO_EINVAL);
    CHECK_EQ_INT(emo_video_open(NULL, p), EMO_EINVAL);
    emo_video_close(NULL);
}

/* Frame i: four flat quadrants (red, green, blue, grey) and a white square
 * moving left to right. */
static void make_frame(emo_image *img, int i) {
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++) {
            uint8_t *p = img->data + (size_t)y * img->stride + (size_t)x * 3;
            int q = (y >= img->height / 2) * 2 + (x >= img->width / 2);
            static const uint8_t col[4][3] = {{200, 40, 40}, {40, 180, 60}, {50, 60, 200}, {128, 128, 128}};
            memcpy(p, col[q], 3);
            int sx = 4 + i * 2, sy = img->height / 2 - 8;
            if (x >= sx && x < sx + 16 && y >= sy && y < sy + 16) p[0] = p[1] = p[2] = 250;
        }
}

static void write_read_back(int w, int h) {
    char name[64];
    snprintf(name, sizeof name, "written_%dx%d.mp4", w, h);
    const char *path = test_tmp(name);
    unlink(path);
    emo_video_writer *wr = NULL;
    CHECK_OK(emo_video_writer_open(&wr, path, w, h, 25));
    if (!wr) return;
    emo_image img = {0};
    CHECK_OK(emo_image_alloc(&img, w, h, 3));
    const int N = 40;
    for (int i = 0; i < N; i++) {
        make_frame(&img, i);
        CHECK_OK(emo_video_write(wr, &img));
    }
    CHECK(access(path, F_OK) != 0); /* not there until finished */
    CHECK_OK(emo_video_writer_close(wr));
    CHECK(access(path, F_OK) == 0);

    emo_video *v = NULL;
    CHECK_OK(emo_video_open(&v, path));
    if (!v) return;
    const emo_video_info *in = emo_video_get_info(v);
    CHECK_EQ_INT(in->width, (w + 1) & ~1);
    CHECK_EQ_INT(in->height, (h + 1) & ~1);
    CHECK_NEAR(in->fps, 25, 1e-6);
    CHECK_EQ_INT(in->frames, N);
    emo_image got = {0};
    double t;
    int n = 0, s;
    double worst = 0;
    while ((s = emo_video_read(v, &got, 3, &t)) == EMO_OK) {
        CHECK_NEAR(t, n / 25.0, 1e-6);
        make_frame(&img, n);
        /* Compare the quadrants' centres, away from edges and the square. */
        int pts[4][2] = {{w / 4, h / 6}, {3 * w / 4, h / 6}, {w / 4, 5 * h / 6}, {3 * w / 4, 5 * h / 6}};
        for (int k = 0; k < 4; k++)
            for (int c = 0; c < 3; c++) {
                double a = img.data[(size_t)pts[k][1] * img.stride + pts[k][0] * 3 + c];
                double b = got.data[(size_t)pts[k][1] * got.stride + pts[k][0] * 3 + c];
                worst = fmax(worst, fabs(a - b));
            }
        n++;
    }
    CHECK_EQ_INT(s, EMO_EEOF);
    CHECK_EQ_INT(n, N);
    CHECK_MSG(worst <= 3, "colours came back off by up to %.0f levels", worst);
    emo_video_stats st;
    emo_video_get_stats(v, &st);
    CHECK_EQ_INT(st.errors, 0);
    emo_video_close(v);
    emo_image_free(&img);
    emo_image_free(&got);

    /* ffprobe (Debian's ffmpeg, a test dependency) must agree. */
    if (system("command -v ffprobe >/dev/null 2>&1") == 0) {
        char cmd[1200], line[256] = "";
        snprintf(cmd, sizeof cmd,
                 "ffprobe -v error -select_streams v:0 -count_frames -show_entries "
                 "stream=codec_name,nb_read_frames,pix_fmt -of csv=p=0 '%s'", path);
        FILE *p = popen(cmd, "r");
        CHECK(p != NULL);
        if (p) {
            if (!fgets(line, sizeof line, p)) line[0] = 0;
            CHECK_EQ_INT(pclose(p), 0);
            CHECK_STR_CONTAINS(line, "yuv420p");
            CHECK_STR_CONTAINS(line, ",40");
            CHECK(strstr(line, "h264") || strstr(line, "mpeg4"));
        }
    } else {
        printf("    (ffprobe not installed: skipped its check)\n");
    }
}

static void test_write_read_back(void) { write_read_back(160, 120); }

/* NTSC rates are kept exact (30000/1001), not rounded to 29.97. */
static void test_write_ntsc_rate(void) {
    const char *p = test_tmp("ntsc.mp4");
    emo_video_writer *w = NULL;
    CHECK_OK(emo_video_writer_open(&w, p, 32, 32, 29.97002997));
    if (!w) return;
    emo_image img = {0};
    CHECK_OK(emo_image_alloc(&img, 32, 32, 3));
    memset(img.data, 128, img.capacity);
    for (int i = 0; i < 30; i++) CHECK_OK(emo_video_write(w, &img));
    CHECK_OK(emo_video_writer_close(w));
    emo_video *v = NULL;
    CHECK_OK(emo_video_open(&v, p));
    if (v) {
        CHECK_NEAR(emo_video_get_info(v)->fps, 30000.0 / 1001, 1e-9);
        double t = 0;
        for (int i = 0; i < 30; i++) CHECK_OK(emo_video_read(v, &img, 1, &t));
        CHECK_NEAR(t, 29 * 1001 / 30000.0, 1e-6);
    }
    emo_video_close(v);
    emo_image_free(&img);
}
static void test_write_odd_size(void) { write_read_back(161, 97); }

static void test_writer_errors(void) {
    emo_video_writer *w = NULL;
    /* A folder that does not exist: fails at open, naming the file. */
    CHECK_EQ_INT(emo_video_writer_open(&w, "/nonexistent-folder/out.mp4", 64, 48, 25), EMO_EIO);
    CHECK(w == NULL);
    CHECK_STR_CONTAINS(emo_last_error(), "/nonexistent-folder/out.mp4");
    CHECK_EQ_INT(emo_video_writer_open(&w, test_tmp("out.txt"), 64, 48, 25), EMO_EINVAL);
    CHECK_EQ_INT(emo_video_writer_open(&w, test_tmp("out.mp4"), 1, 48, 25), EMO_EINVAL);
    CHECK_EQ_INT(emo_video_writer_open(&w, test_tmp("out.mp4"), 64, 48, 0), EMO_EINVAL);
    CHECK_EQ_INT(emo_video_writer_open(&w, test_tmp("out.mp4"), 64, 48, NAN), EMO_EINVAL);

    /* Wrong frame size; closing with no frames leaves no file. */
    const char *p = test_tmp("empty.mp4");
    CHECK_OK(emo_video_writer_open(&w, p, 64, 48, 25));
    emo_image img = {0};
    CHECK_OK(emo_image_alloc(&img, 32, 48, 3));
    memset(img.data, 0, img.capacity);
    CHECK_EQ_INT(emo_video_write(w, &img), EMO_EINVAL);
    CHECK_EQ_INT(emo_video_writer_close(w), EMO_ESTATE);
    CHECK(access(p, F_OK) != 0);

    /* Discarding leaves nothing, not even the temporary file. */
    p = test_tmp("discarded.mp4");
    CHECK_OK(emo_video_writer_open(&w, p, 32, 48, 25));
    CHECK_OK(emo_video_write(w, &img));
    emo_video_writer_discard(w);
    CHECK(access(p, F_OK) != 0);
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q 'discarded.mp4.tmp'", test_tmpdir());
    CHECK(system(cmd) != 0);
    CHECK_EQ_INT(emo_video_writer_close(NULL), EMO_OK);
    emo_image_free(&img);
}

/* Grey and RGBA frames are accepted by the writer too. */
static void test_write_grey_rgba(void) {
    const char *p = test_tmp("grey_rgba.mkv");
    emo_video_writer *w = NULL;
    CHECK_OK(emo_video_writer_open(&w, p, 64, 48, 10));
    if (!w) return;
    emo_image g = {0}, a = {0};
    CHECK_OK(emo_image_alloc(&g, 64, 48, 1));
    CHECK_OK(emo_image_alloc(&a, 64, 48, 4));
    memset(g.data, 90, g.capacity);
    memset(a.data, 200, a.capacity);
    for (int i = 0; i < 5; i++) {
        CHECK_OK(emo_video_write(w, &g));
        CHECK_OK(emo_video_write(w, &a));
    }
    CHECK_OK(emo_video_writer_close(w));
    emo_video_stats st;
    int s, n = read_all(p, &st, &s);
    CHECK_EQ_INT(n, 10);
    CHECK_EQ_INT(s, EMO_EEOF);
    /* Grey 90 and RGBA 200 come back as those greys (BT.709 both ways). */
    emo_video *v = NULL;
    CHECK_OK(emo_video_open(&v, p));
    emo_image got = {0};
    for (int i = 0; v && i < 2; i++) {
        CHECK_OK(emo_video_read(v, &got, 3, NULL));
        const uint8_t *px = got.data + (size_t)24 * got.stride + 32 * 3;
        int want = i == 0 ? 90 : 200;
        CHECK_MSG(abs(px[0] - want) <= 2 && abs(px[1] - want) <= 2 && abs(px[2] - want) <= 2, "frame %d: %d,%d,%d for %d",
                  i, px[0], px[1], px[2], want);
    }
    emo_video_close(v);
    emo_image_free(&got);
    emo_image_free(&g);
    emo_image_free(&a);
}

static const test_case cases[] = {
    {"read_pexels", test_read_pexels},
    {"read_single_face_grey", test_read_single_face_grey},
    {"read_no_face_rgba", test_read_no_face_rgba},
    {"first_frame_content", test_first_frame_content},
    {"truncated", test_truncated},
    {"corrupt_middle", test_corrupt_middle},
    {"damage_everywhere", test_damage_everywhere},
    {"fuzz_index", test_fuzz_index},
    {"rotation", test_rotation},
    {"colon_in_name", test_colon_in_name},
    {"audio_only", test_audio_only},
    {"unknown_codec", test_unknown_codec},
    {"not_a_video", test_not_a_video},
    {"write_read_back", test_write_read_back},
    {"write_odd_size", test_write_odd_size},
    {"write_ntsc_rate", test_write_ntsc_rate},
    {"write_grey_rgba", test_write_grey_rgba},
    {"writer_errors", test_writer_errors},
};

int main(int argc, char **argv) { return test_main(cases, TEST_COUNT(cases), argc, argv); }
