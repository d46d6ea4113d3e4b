/* cmd_video.c — `emo video IN`: every frame of a video through the pipeline;
 * out come an annotated H.264 MP4, a per-frame CSV written as it goes (a
 * killed run keeps what it did), and a timeline plot of each face. */
#include "cli.h"
#include "commands.h"
#include "progress.h"
#include "results.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PLOT_TRACKS 4

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) { (void)sig, stop_requested = 1; }

/* The probabilities of one face track over time, for the timeline plot. */
typedef struct series {
    int id;
    int n, cap;
    float *t, *p; /* n times; (n, nclasses) probabilities */
} series;

typedef struct timeline {
    series *s;
    int n, cap, nclasses;
} timeline;

static int timeline_add(timeline *tl, int id, double t, const float *p) {
    series *s = NULL;
    for (int i = 0; i < tl->n; i++)
        if (tl->s[i].id == id) s = &tl->s[i];
    if (!s) {
        if (tl->n == tl->cap) {
            int cap = tl->cap ? tl->cap * 2 : 8;
            series *ns = realloc(tl->s, sizeof *ns * cap);
            if (!ns) return -1;
            tl->s = ns, tl->cap = cap;
        }
        s = &tl->s[tl->n++];
        memset(s, 0, sizeof *s);
        s->id = id;
    }
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 256;
        float *nt = realloc(s->t, sizeof(float) * cap), *np = nt ? realloc(s->p, sizeof(float) * cap * tl->nclasses) : NULL;
        if (nt) s->t = nt;
        if (!nt || !np) return -1;
        s->p = np, s->cap = cap;
    }
    s->t[s->n] = (float)t;
    memcpy(s->p + (size_t)s->n * tl->nclasses, p, sizeof(float) * tl->nclasses);
    s->n++;
    return 0;
}

static void timeline_free(timeline *tl) {
    for (int i = 0; i < tl->n; i++) free(tl->s[i].t), free(tl->s[i].p);
    free(tl->s);
}

static int by_length_desc(const void *a, const void *b) {
    return ((const series *)b)->n - ((const series *)a)->n;
}

/* One panel per face track (the longest MAX_PLOT_TRACKS), stacked. */
static int timeline_plot(timeline *tl, const char *path, const char *video, double duration,
                         const char *const *names) {
    qsort(tl->s, tl->n, sizeof *tl->s, by_length_desc);
    int np = CLI_MIN(tl->n, MAX_PLOT_TRACKS), W = 1000, H = 340, s = EMO_OK;
    if (np == 0) np = 1; /* an empty plot says "no face" better than no file */
    emo_image all = {0}, panel = {0};
    if ((s = emo_image_alloc(&all, W, H * np, 3))) return s;
    memset(all.data, 255, (size_t)all.stride * all.height);
    const char *base = strrchr(video, '/') ? strrchr(video, '/') + 1 : video;
    for (int i = 0; i < np && s == EMO_OK; i++) {
        char title[256];
        if (tl->n == 0) { /* axes and legend with no line: one point of NaNs */
            float t0[2] = {0, duration > 0 ? (float)duration : 1}, nan[2 * EMO_PIPELINE_MAX_CLASSES];
            for (int c = 0; c < 2 * tl->nclasses; c++) nan[c] = NAN;
            snprintf(title, sizeof title, "%s: no face found", base);
            s = emo_plot_timeline(&panel, W, H, title, t0, nan, 2, tl->nclasses, names);
        } else {
            series *se = &tl->s[i];
            snprintf(title, sizeof title, "%s: face #%d (%d frames)", base, se->id, se->n);
            s = emo_plot_timeline(&panel, W, H, title, se->t, se->p, se->n, tl->nclasses, names);
        }
        if (s == EMO_OK)
            for (int y = 0; y < H; y++)
                memcpy(all.data + (size_t)(i * H + y) * all.stride, panel.data + (size_t)y * panel.stride, (size_t)W * 3);
    }
    if (s == EMO_OK) s = emo_image_save(&all, path, 95);
    emo_image_free(&all);
    emo_image_free(&panel);
    return s;
}

int cmd_video(int argc, char **argv) {
    const char *out = NULL, *csv = NULL, *plot = NULL, *model = NULL, *cascade = NULL, *precision = "auto";
    int every = 1, threads = 0, max_frames = 0;
    float smooth = -1;
    bool quiet = false, landmarks = false;
    const cli_opt opts[] = {
        {"output", 'o', "OUT.mp4", "annotated video (H.264 MP4)", .out_str = &out},
        {"csv", 0, "F.csv", "per-frame rows: frame,time_s,face_id,x,y,w,h,emotion,<classes>,roll,yaw,pitch",
         .out_str = &csv},
        {"landmarks", 0, NULL, "draw the 68 landmarks of each face", .out_flag = &landmarks},
        {"plot", 0, "F.png", "timeline plot of each face's emotions", .out_str = &plot},
        {"every", 0, "N", "full face detection every N frames, tracking in between (default 1)", .out_int = &every},
        {"smooth", 0, "A", "smoothing over time, 0..0.99 (default 0.6; 0 = off)", .out_float = &smooth},
        {"model", 'm', "M", "model name or .emo path (default ferplus)", .out_str = &model},
        {"cascade", 0, "C", "face detector cascade (name or path)", .out_str = &cascade},
        {"threads", 't', "N", "threads (default: all cores)", .out_int = &threads},
        CLI_PRECISION_OPT(&precision),
        {"frames", 0, "N", "stop after N frames", .out_int = &max_frames},
        {"quiet", 'q', NULL, "no progress display", .out_flag = &quiet},
        {0},
    };
    const char *usage = "IN [-o OUT.mp4] [--csv F.csv] [--plot F.png] [--every N]";
    int npos, r = cli_parse(argc, argv, opts, usage,
                            "Finds every face in every frame of IN (any format FFmpeg reads) and writes\n"
                            "the results. The CSV is written as frames are processed.",
                            &npos);
    if (r) return r == 1 ? 0 : r;
    if (npos != 1) {
        cli_usage(stderr, "video", opts, usage, NULL);
        return 2;
    }
    const char *in = argv[1];
    if (!out && !csv && !plot) {
        fprintf(stderr, "emo video: nothing to write: give -o, --csv and/or --plot\n");
        return 2;
    }
    emo_pipeline_params pp = results_pipeline_params(model, cascade, every, threads, smooth);
    if (cli_precision("video", precision, &pp.precision)) return 2;

    int status = 1;
    emo_video *v = NULL;
    emo_pipeline *pl = NULL;
    emo_drawer *dr = NULL;
    emo_video_writer *vw = NULL;
    FILE *cf = NULL;
    emo_image frame = {0};
    emo_face faces[64];
    timeline tl = {0};
    const char *const *names;

    if (emo_video_open(&v, in) != EMO_OK) {
        cli_error("video", "cannot read the video");
        goto done;
    }
    const emo_video_info *vi = emo_video_get_info(v);
    if (emo_pipeline_open(&pl, &pp) != EMO_OK) {
        cli_error("video", "cannot start the pipeline");
        goto done;
    }
    if (*emo_pipeline_warning(pl)) fprintf(stderr, "emo video: %s\n", emo_pipeline_warning(pl));
    int k = emo_pipeline_classes(pl, &names);
    tl.nclasses = k;
    if (out && results_drawer_open(&dr, pl) != EMO_OK) {
        cli_error("video", "cannot load fonts");
        goto done;
    }
    /* Outputs are opened before the long work, so a bad path fails at once. */
    if (csv) {
        if (!(cf = fopen(csv, "w"))) {
            cli_error("video", "cannot write %s", csv);
            goto done;
        }
        results_csv_header(cf, names, k);
    }
    if (out && emo_video_writer_open(&vw, out, vi->width, vi->height, vi->fps > 0 ? vi->fps : 25) != EMO_OK) {
        cli_error("video", "cannot write the video");
        goto done;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (!quiet) progress_start(vi->frames > 0 ? vi->frames : 0, "video");
    long n = 0, with_faces = 0;
    double t = 0, last_t = 0;
    int s;
    status = 0;
    while (!stop_requested && (max_frames <= 0 || n < max_frames)) {
        s = emo_video_read(v, &frame, 3, &t);
        if (s == EMO_EEOF) break;
        if (s != EMO_OK) {
            cli_error("video", "reading stopped at frame %ld", n);
            status = 1;
            break;
        }
        last_t = t;
        int nf = emo_pipeline_process(pl, &frame, faces, 64);
        if (nf < 0) {
            cli_error("video", "frame %ld", n);
            status = 1;
            break;
        }
        nf = CLI_MIN(nf, 64);
        with_faces += nf > 0;
        if (cf) {
            results_csv_rows(cf, n, t, faces, nf, names);
            if (fflush(cf) != 0) {
                cli_error("video", "writing %s failed", csv);
                status = 1;
                break;
            }
        }
        for (int i = 0; plot && i < nf; i++)
            if (timeline_add(&tl, faces[i].track_id, t, faces[i].smoothed)) {
                cli_error("video", "out of memory");
                status = 1;
                goto finish;
            }
        if (vw) {
            results_draw(dr, &frame, faces, nf, EMO_DRAW_ALL | (landmarks ? RESULTS_DRAW_LANDMARKS : 0));
            if (emo_video_write(vw, &frame) != EMO_OK) {
                cli_error("video", "writing the video failed at frame %ld", n);
                status = 1;
                break;
            }
        }
        n++;
        if (!quiet) progress_update(n);
    }
finish:
    if (!quiet) progress_end();
    emo_video_stats st;
    emo_video_get_stats(v, &st);
    if (!quiet || st.errors || st.missing)
        fprintf(stderr, "emo video: %ld frames, %ld with faces%s", n, with_faces, stop_requested ? " (interrupted)" : "");
    if (st.errors || st.corrupt || st.missing)
        fprintf(stderr, "; damaged input: %lld unreadable packets, %lld damaged frames, %lld frames missing at the end",
                (long long)st.errors, (long long)st.corrupt, (long long)st.missing);
    if (!quiet || st.errors || st.missing) fputc('\n', stderr);
    if (plot && timeline_plot(&tl, plot, in, last_t, names) != EMO_OK) status = cli_error("video", "cannot write the plot");
done:
    if (vw) {
        if (emo_video_writer_close(vw) != EMO_OK) status = cli_error("video", "cannot finish %s", out);
        vw = NULL;
    }
    if (cf && fclose(cf) != 0) status = cli_error("video", "cannot finish %s", csv);
    if (status == 0 && !quiet) {
        if (out) fprintf(stderr, "emo video: wrote %s\n", out);
        if (csv) fprintf(stderr, "emo video: wrote %s\n", csv);
        if (plot) fprintf(stderr, "emo video: wrote %s\n", plot);
    }
    timeline_free(&tl);
    emo_video_close(v);
    emo_drawer_close(dr);
    emo_pipeline_close(pl);
    emo_image_free(&frame);
    return status;
}
