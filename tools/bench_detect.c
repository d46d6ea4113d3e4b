/* bench_detect.c — `emo bench detect`: emo_detect against OpenCV 4.6's
 * detectMultiScale on the same grey frames and parameters.
 *
 * The frames are the shared photos (or the images given), converted to grey
 * and resized to --size (640x480); they are written as PNGs to a temporary
 * folder so that the OpenCV peer (build/bench/bench_detect_opencv, built by
 * `make bench`) reads exactly the same pixels. For each thread count, emo
 * and the peer run in alternating rounds; the medians of the per-frame times
 * and their ratio are printed, then one machine-readable line per thread
 * count: `emo detect threads=T emo_ms=.. opencv_ms=.. ratio=..`. */
#include "bench_detect.h"
#include "cli.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAMES 64
#define MAX_TIMES 256

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    if (n == 0) return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Runs the peer for `reps` repetitions; appends its per-frame times. */
static int run_peer(const char *peer, const char *cascade_path, const emo_detect_params *p, int threads, int reps,
                    char frames[][512], int nframes, double *times, int *ntimes, long *faces) {
    size_t cap = 4096 + (size_t)nframes * 520;
    char *cmd = malloc(cap);
    if (!cmd) return -1;
    int len = snprintf(cmd, cap, "'%s' '%s' %.17g %d %d %d %d %d", peer, cascade_path, p->scale_factor,
                       p->min_neighbors, p->min_size, p->max_size, threads, reps);
    for (int i = 0; i < nframes; i++) len += snprintf(cmd + len, cap - (size_t)len, " '%s'", frames[i]);
    FILE *f = popen(cmd, "r");
    free(cmd);
    if (!f) return -1;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        double v;
        long n;
        if (sscanf(line, "rep_ms=%lf", &v) == 1 && *ntimes < MAX_TIMES) times[(*ntimes)++] = v;
        else if (sscanf(line, "faces=%ld", &n) == 1) *faces = n;
    }
    return pclose(f) == 0 ? 0 : -1;
}

/* The cascade file emo_detector_open would use, for the peer. */
static void cascade_file(const char *name, char *out, size_t cap) {
    static const char *map[][2] = {
        {"haar", "haarcascades/haarcascade_frontalface_default.xml"},
        {"haar-alt", "haarcascades/haarcascade_frontalface_alt.xml"},
        {"haar-alt2", "haarcascades/haarcascade_frontalface_alt2.xml"},
        {"haar-tree", "haarcascades/haarcascade_frontalface_alt_tree.xml"},
        {"lbp", "lbpcascades/lbpcascade_frontalface_improved.xml"},
        {"lbp-old", "lbpcascades/lbpcascade_frontalface.xml"},
    };
    const char *dir = getenv("EMO_CASCADE_DIR");
    if (!dir || !*dir) dir = "/usr/share/opencv4";
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(name, map[i][0]) == 0) {
            snprintf(out, cap, "%s/%s", dir, map[i][1]);
            return;
        }
    if (strchr(name, '/')) snprintf(out, cap, "%s", name);
    else {
        snprintf(out, cap, "%s/haarcascades/haarcascade_%s.xml", dir, name);
        if (access(out, R_OK) != 0) snprintf(out, cap, "%s/lbpcascades/lbpcascade_%s.xml", dir, name);
    }
}

int bench_detect(int argc, char **argv) {
    const char *cascade = "haar", *size = "640x480", *threads_list = "1,2", *peer = NULL;
    const char *scale_s = "1.1";
    int neighbors = 3, min_size = 30, max_size = 0, reps = 10, rounds = 3;
    const cli_opt opts[] = {
        {"cascade", 'c', "NAME|PATH", "cascade (default haar)", .out_str = &cascade},
        {"scale", 0, "F", "scale factor (default 1.1)", .out_str = &scale_s},
        {"neighbors", 0, "N", "min neighbours (default 3)", .out_int = &neighbors},
        {"min-size", 0, "PX", "min face size (default 30)", .out_int = &min_size},
        {"max-size", 0, "PX", "max face size, 0 = none (default 0)", .out_int = &max_size},
        {"threads", 't', "LIST", "thread counts to time (default 1,2)", .out_str = &threads_list},
        {"size", 0, "WxH", "frame size (default 640x480)", .out_str = &size},
        {"reps", 0, "N", "passes over the frames per round (default 10)", .out_int = &reps},
        {"rounds", 0, "N", "alternating emo/OpenCV rounds (default 3)", .out_int = &rounds},
        {"peer", 0, "PATH", "OpenCV peer program (default $BUILD/bench/bench_detect_opencv)", .out_str = &peer},
        {0},
    };
    int npos;
    int r = cli_parse(argc, argv, opts, "[IMAGE...]",
                      "Times emo_detect and OpenCV's detectMultiScale on the same grey frames\n"
                      "(default: the shared photos, resized), 1 and 2 threads; prints medians and ratios.",
                      &npos);
    if (r) return r == 1 ? 0 : r;
    int W, H;
    if (!cli_parse_size(size, &W, &H)) return fprintf(stderr, "emo bench detect: bad --size '%s'\n", size), 2;
    if (reps < 1 || rounds < 1 || reps * rounds > MAX_TIMES)
        return fprintf(stderr, "emo bench detect: --reps x --rounds must be 1..%d\n", MAX_TIMES), 2;
    char peer_buf[512];
    if (!peer) {
        const char *b = getenv("BUILD");
        snprintf(peer_buf, sizeof peer_buf, "%s/bench/bench_detect_opencv", b && *b ? b : "build");
        peer = peer_buf;
    }
    bool have_peer = access(peer, X_OK) == 0;
    if (!have_peer) fprintf(stderr, "emo bench detect: no OpenCV peer at %s (make bench builds it); timing emo only\n", peer);
    /* Input images. */
    static char inputs[MAX_FRAMES][512], frames[MAX_FRAMES][512];
    int ninputs = 0;
    if (npos > 0) {
        for (int i = 0; i < npos && ninputs < MAX_FRAMES; i++) snprintf(inputs[ninputs++], 512, "%s", argv[1 + i]);
    } else {
        const char *sh = getenv("SHARED");
        const char *dirs[] = {"media/faces", "media/expressions"};
        for (int k = 0; k < 2; k++) {
            char dir[256];
            snprintf(dir, sizeof dir, "%s/%s", sh && *sh ? sh : "../shared", dirs[k]);
            struct dirent **list;
            int n = scandir(dir, &list, NULL, alphasort);
            for (int i = 0; i < n; i++) {
                const char *nm = list[i]->d_name;
                size_t l = strlen(nm);
                if (l > 4 && strcmp(nm + l - 4, ".jpg") == 0 && ninputs < MAX_FRAMES)
                    snprintf(inputs[ninputs++], 512, "%s/%s", dir, nm);
                free(list[i]);
            }
            if (n > 0) free(list);
        }
    }
    if (ninputs == 0) return fprintf(stderr, "emo bench detect: no images (give some, or set SHARED)\n"), 2;
    char tmpdir[] = "/tmp/emo-bench-detect.XXXXXX";
    if (!mkdtemp(tmpdir)) return cli_error("bench detect", "cannot make a temporary folder");
    emo_image imgs[MAX_FRAMES] = {{0}};
    emo_image tmp = {0};
    int status = 1, nframes = 0;
    for (int i = 0; i < ninputs; i++) {
        if (emo_image_load(&tmp, inputs[i], 1) != EMO_OK ||
            emo_image_resize(&tmp, &imgs[nframes], W, H, EMO_INTERP_LINEAR) != EMO_OK) {
            cli_error("bench detect", "%s", inputs[i]);
            goto done;
        }
        snprintf(frames[nframes], 512, "%s/f%02d.png", tmpdir, nframes);
        if (emo_image_save(&imgs[nframes], frames[nframes], 90) != EMO_OK) {
            cli_error("bench detect", "%s", frames[nframes]);
            goto done;
        }
        nframes++;
    }
    emo_detector *det;
    if (emo_detector_open(&det, cascade) != EMO_OK) {
        cli_error("bench detect", "cascade %s", cascade);
        goto done;
    }
    char cpath[1024];
    cascade_file(cascade, cpath, sizeof cpath);
    emo_detect_params p = emo_detect_params_default();
    p.scale_factor = strtod(scale_s, NULL); /* a double: 1.1 must be 1.1, as OpenCV gets it */
    p.min_neighbors = neighbors;
    p.min_size = min_size;
    p.max_size = max_size;
    printf("# emo bench detect: %d frames %dx%d, cascade %s, scale %g, neighbors %d, min %d, max %d; "
           "%ld cores\n",
           nframes, W, H, cascade, p.scale_factor, neighbors, min_size, max_size, sysconf(_SC_NPROCESSORS_ONLN));
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        double l;
        if (fscanf(la, "%lf", &l) == 1) printf("# load average %.2f at start\n", l);
        fclose(la);
    }
    char tl[128];
    snprintf(tl, sizeof tl, "%s", threads_list);
    double emo1 = 0, cv1 = 0;
    for (char *tok = strtok(tl, ","); tok; tok = strtok(NULL, ",")) {
        int t = atoi(tok);
        if (t < 1) continue;
        p.threads = t;
        double et[MAX_TIMES], ct[MAX_TIMES];
        int ne = 0, nc = 0;
        long efaces = 0, cfaces = -1;
        emo_rect faces[256];
        for (int f = 0; f < nframes; f++) { /* warm-up: buffers, counts */
            int n = emo_detect(det, &imgs[f], &p, faces, 256);
            if (n < 0) {
                cli_error("bench detect", "detect");
                emo_detector_close(det);
                goto done;
            }
            efaces += n;
        }
        for (int round = 0; round < rounds; round++) {
            for (int k = 0; k < reps; k++) {
                double t0 = now_ms();
                for (int f = 0; f < nframes; f++) emo_detect(det, &imgs[f], &p, faces, 256);
                et[ne++] = (now_ms() - t0) / nframes;
            }
            if (have_peer && run_peer(peer, cpath, &p, t, reps, frames, nframes, ct, &nc, &cfaces) != 0) {
                fprintf(stderr, "emo bench detect: the OpenCV peer failed\n");
                have_peer = false;
            }
        }
        double em = median(et, ne), cm = have_peer ? median(ct, nc) : 0;
        if (t == 1) emo1 = em, cv1 = cm;
        printf("threads %d: emo %.3f ms/frame (%ld faces)", t, em, efaces);
        if (have_peer) printf(", OpenCV %.3f ms/frame (%ld faces), emo is %.2fx faster", cm, cfaces, cm / em);
        if (t > 1 && emo1 > 0) printf("; emo speed-up over 1 thread %.2fx", emo1 / em);
        if (t > 1 && cv1 > 0) printf(", OpenCV's %.2fx", cv1 / cm);
        printf("\n");
        printf("emo detect threads=%d emo_ms=%.4f opencv_ms=%.4f ratio=%.3f\n", t, em, cm, cm > 0 ? cm / em : 0.0);
    }
    emo_detector_close(det);
    status = 0;
done:
    for (int i = 0; i < nframes; i++) {
        unlink(frames[i]);
        emo_image_free(&imgs[i]);
    }
    emo_image_free(&tmp);
    rmdir(tmpdir);
    return status;
}
