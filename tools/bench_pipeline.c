/* bench_pipeline.c — `emo bench pipeline`: frames per second of the whole
 * real-time path (decode + detect + classify + track) on a video, and of the
 * same without decoding (frames held in memory). */
#include "bench_pipeline.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_FRAMES 300

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* One pass over the file: decode and process every frame. Returns fps, or
 * -1 after printing an error. */
static double pass_with_decode(const char *input, emo_pipeline *pl, emo_image *frame, long *faces_seen) {
    emo_video *v;
    if (emo_video_open(&v, input) != EMO_OK) return cli_error("bench pipeline", "%s", input), -1;
    emo_face faces[64];
    emo_pipeline_reset(pl);
    long n = 0;
    double t0 = now_s();
    int s;
    while ((s = emo_video_read(v, frame, 3, NULL)) == EMO_OK) {
        int nf = emo_pipeline_process(pl, frame, faces, 64);
        if (nf < 0) {
            emo_video_close(v);
            return cli_error("bench pipeline", "frame %ld", n), -1;
        }
        *faces_seen += nf;
        n++;
    }
    double dt = now_s() - t0;
    emo_video_close(v);
    if (s != EMO_EEOF || n == 0) return cli_error("bench pipeline", "%s: no frames", input), -1;
    return n / dt;
}

int bench_pipeline(int argc, char **argv) {
    const char *input = NULL, *model = NULL, *cascade = NULL, *precision = "auto";
    int threads = 0, every = 1, align = -1;
    bool no_landmarks = false;
    float seconds = 10;
    const cli_opt opts[] = {
        {"input", 'i', "VIDEO", "video to process (required)", .out_str = &input},
        {"threads", 't', "N", "threads (default: all cores)", .out_int = &threads},
        {"every", 0, "N", "full detection every N frames (default 1)", .out_int = &every},
        {"seconds", 's', "S", "time per measurement (default 10)", .out_float = &seconds},
        {"model", 'm', "M", "model (default ferplus)", .out_str = &model},
        {"cascade", 0, "C", "detector cascade (default as emo_detector_open)", .out_str = &cascade},
        CLI_PRECISION_OPT(&precision),
        {"no-landmarks", 0, NULL, "without landmarks (and so without alignment)", .out_flag = &no_landmarks},
        {"align", 0, "0|1", "level the classifier's crop by the eyes (default 1)", .out_int = &align},
        {0},
    };
    const char *usage = "--input VIDEO [--threads N] [--seconds S] [--every N]";
    int npos, r = cli_parse(argc, argv, opts, usage,
                            "Frames per second of decode+detect+classify+track, and of the same without\n"
                            "decoding (the first 300 frames held in memory). Medians over repeated passes.",
                            &npos);
    if (r) return r == 1 ? 0 : r;
    if (!input || npos || seconds <= 0) {
        cli_usage(stderr, argv[0], opts, usage, NULL);
        return 2;
    }
    emo_pipeline_params pp = emo_pipeline_params_default();
    if (cli_precision("bench pipeline", precision, &pp.precision)) return 2;
    pp.model = model;
    pp.cascade = cascade;
    pp.threads = threads;
    pp.detect_every = every;
    if (no_landmarks) pp.landmarks = "none";
    if (align >= 0) pp.align = align;
    emo_pipeline *pl;
    if (emo_pipeline_open(&pl, &pp) != EMO_OK) return cli_error("bench pipeline", "cannot start the pipeline");
    if (*emo_pipeline_warning(pl)) fprintf(stderr, "emo bench pipeline: %s\n", emo_pipeline_warning(pl));

    int status = 1, nframes = 0, w = 0, h = 0;
    emo_image *frames = calloc(MAX_FRAMES, sizeof *frames), scratch = {0};
    double fps[1000], nodec[1000];
    int np = 0, nn = 0;
    long faces_seen = 0;
    emo_face faces[64];
    if (!frames) goto done;

    /* With decoding: whole passes over the file until the time is used. */
    double t_end = now_s() + seconds;
    pass_with_decode(input, pl, &scratch, &faces_seen); /* warm-up */
    do {
        double f = pass_with_decode(input, pl, &scratch, &faces_seen);
        if (f < 0) goto done;
        fps[np++] = f;
    } while (now_s() < t_end && np < 1000);

    /* Without decoding: the frames in memory, processed in order. */
    emo_video *v;
    if (emo_video_open(&v, input) != EMO_OK) {
        cli_error("bench pipeline", "%s", input);
        goto done;
    }
    while (nframes < MAX_FRAMES && emo_video_read(v, &frames[nframes], 3, NULL) == EMO_OK) nframes++;
    emo_video_close(v);
    w = frames[0].width, h = frames[0].height;
    t_end = now_s() + seconds;
    do {
        emo_pipeline_reset(pl);
        double t0 = now_s();
        for (int i = 0; i < nframes; i++)
            if (emo_pipeline_process(pl, &frames[i], faces, 64) < 0) {
                cli_error("bench pipeline", "frame %d", i);
                goto done;
            }
        nodec[nn++] = nframes / (now_s() - t0);
    } while (now_s() < t_end && nn < 1000);

    /* Landmarks alone: every face of the held frames, the best of 5 rounds. */
    double lm_ms = 0;
    long lm_faces = 0;
    emo_landmarker *lm = NULL;
    if (!no_landmarks && emo_landmarker_open(&lm, NULL) == EMO_OK) {
        static emo_rect boxes[MAX_FRAMES][4];
        static int nbox[MAX_FRAMES];
        emo_pipeline_reset(pl);
        for (int i = 0; i < nframes; i++) {
            int nf = emo_pipeline_process(pl, &frames[i], faces, 64);
            nbox[i] = nf < 0 ? 0 : nf < 4 ? nf : 4;
            for (int k = 0; k < nbox[i]; k++) boxes[i][k] = emo_landmark_box(faces[k].box);
        }
        emo_image grey = {0};
        float xy[2 * EMO_LANDMARKS_MAX];
        lm_ms = 1e9;
        for (int round = 0; round < 5; round++) {
            double t = 0;
            long nfaces = 0;
            for (int i = 0; i < nframes; i++) {
                if (!nbox[i] || emo_image_to_grey(&frames[i], &grey) != EMO_OK) continue;
                double t0 = now_s();
                for (int k = 0; k < nbox[i]; k++) emo_landmarks(lm, &grey, boxes[i][k], xy);
                t += now_s() - t0;
                nfaces += nbox[i];
            }
            if (nfaces && t * 1e3 / nfaces < lm_ms) lm_ms = t * 1e3 / nfaces;
            lm_faces = nfaces;
        }
        emo_image_free(&grey);
        emo_landmarker_close(lm);
    }

    double mf = median(fps, np), mn = median(nodec, nn);
    printf("input %s (%dx%d), %d passes with decoding, %d without (%d frames each)\n", input, w, h, np, nn, nframes);
    printf("decode+detect+classify+track: %.1f fps (median)\n", mf);
    printf("detect+classify+track:        %.1f fps (median)\n", mn);
    if (lm_faces) printf("landmarks alone:              %.3f ms per face (best of 5 rounds over %ld faces)\n", lm_ms, lm_faces);
    printf("emo pipeline threads=%d fps=%.1f fps_nodecode=%.1f width=%d height=%d every=%d dtype=%s landmarks=%d "
           "align=%d landmark_ms=%.3f\n",
           threads, mf, mn, w, h, every, emo_precision_name(pp.precision), !no_landmarks && lm_faces > 0,
           align < 0 ? 1 : align, lm_ms);
    status = 0;
done:
    for (int i = 0; frames && i < MAX_FRAMES; i++) emo_image_free(&frames[i]);
    free(frames);
    emo_image_free(&scratch);
    emo_pipeline_close(pl);
    return status;
}
