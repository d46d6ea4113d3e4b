/* bench_video.c — video decode/encode and overlay drawing speed, against
 * the ffmpeg CLI and OpenCV's VideoCapture (when installed) on the same file.
 *
 *   build/bench/bench_video [VIDEO]   (default $SHARED/media/video/WolfgangLanger_Pexels.mp4)
 *
 * Each figure is the median of 3 runs. The ffmpeg CLI figures include its
 * process start (~30 ms); the OpenCV figure is timed inside Python. */
#include "emo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median3(double v[3]) {
    qsort(v, 3, sizeof v[0], cmp);
    return v[1];
}

/* Seconds to decode every frame to RGB; *frames gets the count. */
static double decode_all(const char *path, int *frames) {
    emo_video *v;
    if (emo_video_open(&v, path) != EMO_OK) {
        fprintf(stderr, "bench_video: %s\n", emo_last_error());
        exit(1);
    }
    emo_image img = {0};
    int n = 0;
    double t0 = now();
    while (emo_video_read(v, &img, 3, NULL) == EMO_OK) n++;
    double t = now() - t0;
    emo_video_close(v);
    emo_image_free(&img);
    *frames = n;
    return t;
}

static double run_cmd(const char *cmd) {
    double t0 = now();
    int r = system(cmd);
    double t = now() - t0;
    return r == 0 ? t : -1;
}

int main(int argc, char **argv) {
    char def[1024];
    const char *shared = getenv("SHARED");
    snprintf(def, sizeof def, "%s/media/video/WolfgangLanger_Pexels.mp4", shared && *shared ? shared : "../shared");
    const char *path = argc > 1 ? argv[1] : def;
    int frames = 0;
    double t[3];

    /* Decode to RGB. */
    for (int i = 0; i < 3; i++) t[i] = decode_all(path, &frames);
    double ours = median3(t);
    printf("decode+RGB  emo          %4d frames  %7.1f fps\n", frames, frames / ours);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "ffmpeg -v error -i '%s' -f rawvideo -pix_fmt rgb24 -y /dev/null", path);
    if (system("command -v ffmpeg >/dev/null 2>&1") == 0) {
        for (int i = 0; i < 3; i++) t[i] = run_cmd(cmd);
        double ff = median3(t);
        if (ff > 0) printf("decode+RGB  ffmpeg CLI   %4d frames  %7.1f fps   emo/ffmpeg speed %.2fx\n", frames, frames / ff, ff / ours);
    }
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import cv2,time,sys\nc=cv2.VideoCapture(sys.argv[1]); n=0; t=time.time()\n"
             "while True:\n ok,f=c.read()\n if not ok: break\n n+=1\nprint(n, time.time()-t)\" '%s' 2>/dev/null",
             path);
    FILE *p = popen(cmd, "r");
    if (p) {
        double cv[3] = {0};
        int ok = 1, n = 0;
        for (int i = 0; i < 3 && ok; i++) {
            if (i > 0) p = popen(cmd, "r");
            ok = p && fscanf(p, "%d %lf", &n, &cv[i]) == 2;
            if (p) pclose(p);
        }
        if (ok) {
            double c = median3(cv);
            printf("decode+BGR  OpenCV       %4d frames  %7.1f fps   emo/OpenCV speed %.2fx\n", n, n / c, c / ours);
        }
    }

    /* Overlay: two faces with charts, emoji and the fps counter. */
    emo_drawer *d;
    if (emo_drawer_open(&d, NULL) != EMO_OK) {
        fprintf(stderr, "bench_video: %s\n", emo_last_error());
        return 1;
    }
    emo_image img = {0};
    emo_image_alloc(&img, 640, 360, 3);
    memset(img.data, 90, img.capacity);
    const float probs[7] = {0.05f, 0.02f, 0.03f, 0.7f, 0.05f, 0.1f, 0.05f};
    emo_draw_item it[2] = {{120, 80, 140, 150, probs, -1, 1}, {420, 120, 100, 110, probs, 5, 2}};
    const int N = 300;
    for (int k = 0; k < 3; k++) {
        double t0 = now();
        for (int i = 0; i < N; i++) {
            it[0].x = 120 + (i % 7);
            emo_draw_faces(d, &img, it, 2, EMO_DRAW_ALL, NULL);
            emo_draw_fps(d, &img, 30);
        }
        t[k] = (now() - t0) / N;
    }
    printf("draw        2 faces + fps on 640x360     %6.2f ms/frame\n", median3(t) * 1e3);
    emo_drawer_close(d);

    /* Encode: decode the clip and write it again (H.264, veryfast, CRF 20). */
    char out[256];
    snprintf(out, sizeof out, "/tmp/emo-bench-%ld.mp4", (long)getpid());
    for (int k = 0; k < 3; k++) {
        emo_video *v;
        emo_video_writer *w = NULL;
        if (emo_video_open(&v, path) != EMO_OK) return 1;
        const emo_video_info *in = emo_video_get_info(v);
        double t0 = now();
        int n = 0;
        while (emo_video_read(v, &img, 3, NULL) == EMO_OK) {
            if (!w && emo_video_writer_open(&w, out, img.width, img.height, in->fps > 0 ? in->fps : 25) != EMO_OK) {
                fprintf(stderr, "bench_video: %s\n", emo_last_error());
                return 1;
            }
            emo_video_write(w, &img);
            n++;
        }
        emo_video_writer_close(w);
        t[k] = now() - t0;
        emo_video_close(v);
        frames = n;
    }
    ours = median3(t);
    printf("transcode   emo          %4d frames  %7.1f fps\n", frames, frames / ours);
    snprintf(cmd, sizeof cmd, "ffmpeg -v error -i '%s' -an -c:v libx264 -preset veryfast -crf 20 -pix_fmt yuv420p -y '%s'",
             path, out);
    if (system("command -v ffmpeg >/dev/null 2>&1") == 0) {
        for (int i = 0; i < 3; i++) t[i] = run_cmd(cmd);
        double ff = median3(t);
        if (ff > 0)
            printf("transcode   ffmpeg CLI   %4d frames  %7.1f fps   emo/ffmpeg speed %.2fx\n", frames, frames / ff, ff / ours);
    }
    unlink(out);
    emo_image_free(&img);
    return 0;
}
