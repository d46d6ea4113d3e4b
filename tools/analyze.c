/* analyze.c — one video or photo through the pipeline (analyze.h). */
#include "analyze.h"
#include "cli.h"
#include "results.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_FACES 64
#define MAX_PLOT_TRACKS 4

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

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* r->error = "what: emo_last_error()" (or "what" when there is none); returns 1. */
static int fail(analyze_result *r, bool with_lib_error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(analyze_result *r, bool with_lib_error, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    const char *e = emo_last_error();
    if (with_lib_error && e && *e && n >= 0 && (size_t)n < sizeof r->error)
        snprintf(r->error + n, sizeof r->error - (size_t)n, ": %s", e);
    return 1;
}

/* Adds this frame's faces to the per-track statistics. */
static int tracks_add(analyze_result *r, const emo_face *faces, int n, double t) {
    for (int i = 0; i < n; i++) {
        const emo_face *f = &faces[i];
        analyze_track *tr = NULL;
        for (int k = r->ntracks - 1; k >= 0 && !tr; k--)
            if (r->tracks[k].id == f->track_id) tr = &r->tracks[k];
        if (!tr) {
            if (r->ntracks == r->tracks_cap) {
                int cap = r->tracks_cap ? r->tracks_cap * 2 : 8;
                analyze_track *nt = realloc(r->tracks, sizeof *nt * cap);
                if (!nt) return -1;
                r->tracks = nt, r->tracks_cap = cap;
            }
            tr = &r->tracks[r->ntracks++];
            memset(tr, 0, sizeof *tr);
            tr->id = f->track_id;
            tr->first_s = t;
        }
        tr->frames++;
        tr->last_s = t;
        tr->label_frames[f->label]++;
        for (int c = 0; c < f->nclasses && c < EMO_PIPELINE_MAX_CLASSES; c++) tr->prob_sum[c] += f->smoothed[c];
    }
    return 0;
}

/* JPEG or PNG by its first bytes; anything else goes to FFmpeg. */
static bool is_photo(const char *path) {
    unsigned char head[16];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t n = read(fd, head, sizeof head);
    close(fd);
    return n > 0 && emo_image_sniff(head, (size_t)n) != EMO_FORMAT_UNKNOWN;
}

static FILE *open_csv(analyze_result *r, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fail(r, false, "cannot write %s: %s", path, strerror(errno));
        return NULL;
    }
    results_csv_header(f, r->names, r->nclasses);
    return f;
}

static int close_csv(analyze_result *r, FILE *f, const char *path, int status) {
    if (!f) return status;
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        int e = errno;
        return status ? status : fail(r, false, "cannot finish %s: %s", path, strerror(e ? e : EIO));
    }
    return status;
}

static int analyze_photo(emo_pipeline *pl, emo_drawer *dr, const char *path, const analyze_opts *o, analyze_result *r) {
    static emo_face faces[MAX_FACES];
    emo_image img = {0};
    int status = 0;
    if (emo_image_load(&img, path, 3) != EMO_OK) return fail(r, true, "cannot read the photo");
    r->photo = true;
    r->width = img.width, r->height = img.height;
    emo_pipeline_params still = o->params ? *o->params : emo_pipeline_params_default();
    still.smooth = 0;
    emo_pipeline_set(pl, &still);
    int n = emo_pipeline_process(pl, &img, faces, MAX_FACES);
    if (o->params) emo_pipeline_set(pl, o->params);
    if (n < 0) {
        status = fail(r, true, "analysis failed");
        goto done;
    }
    n = CLI_MIN(n, MAX_FACES);
    r->frames = 1, r->frames_with_faces = n > 0, r->faces = n;
    if (tracks_add(r, faces, n, 0)) {
        status = fail(r, false, "out of memory");
        goto done;
    }
    if (o->csv) {
        FILE *f = open_csv(r, o->csv);
        if (!f) {
            status = 1;
            goto done;
        }
        results_csv_rows(f, 0, 0, faces, n, r->names);
        if ((status = close_csv(r, f, o->csv, 0))) goto done;
    }
    if (o->annotated) {
        if (results_draw(dr, &img, faces, n, EMO_DRAW_ALL | o->draw_flags) != EMO_OK || emo_image_save(&img, o->annotated, 92) != EMO_OK)
            status = fail(r, true, "cannot write the annotated photo");
    }
    if (o->on_frame) o->on_frame(o->ctx, 1, 0);
done:
    emo_image_free(&img);
    return status;
}

static int analyze_video(emo_pipeline *pl, emo_drawer *dr, const char *path, const analyze_opts *o, analyze_result *r) {
    static emo_face faces[MAX_FACES];
    emo_video *v = NULL;
    emo_video_writer *vw = NULL;
    emo_image frame = {0};
    FILE *cf = NULL;
    timeline tl = {.nclasses = r->nclasses};
    int status = 0;
    double t = 0, last_t = 0;
    if (emo_video_open(&v, path) != EMO_OK) return fail(r, true, "cannot read the video");
    const emo_video_info *vi = emo_video_get_info(v);
    r->width = vi->width, r->height = vi->height, r->fps = vi->fps;
    /* Outputs are opened before the long work, so a bad path fails at once. */
    if (o->csv && !(cf = open_csv(r, o->csv))) {
        status = 1;
        goto done;
    }
    if (o->annotated && emo_video_writer_open(&vw, o->annotated, vi->width, vi->height, vi->fps > 0 ? vi->fps : 25) != EMO_OK) {
        status = fail(r, true, "cannot write the video");
        goto done;
    }
    long n = 0;
    while (!(o->stop && *o->stop) && (o->max_frames <= 0 || n < o->max_frames)) {
        int s = emo_video_read(v, &frame, 3, &t);
        if (s == EMO_EEOF) break;
        if (s != EMO_OK) {
            status = fail(r, true, "reading stopped at frame %ld", n);
            break;
        }
        last_t = t;
        int nf = emo_pipeline_process(pl, &frame, faces, MAX_FACES);
        if (nf < 0) {
            status = fail(r, true, "frame %ld", n);
            break;
        }
        nf = CLI_MIN(nf, MAX_FACES);
        r->frames_with_faces += nf > 0;
        r->faces += nf;
        if (tracks_add(r, faces, nf, t)) {
            status = fail(r, false, "out of memory");
            break;
        }
        if (cf) {
            results_csv_rows(cf, n, t, faces, nf, r->names);
            if (fflush(cf) != 0) {
                status = fail(r, false, "writing %s failed: %s", o->csv, strerror(errno));
                break;
            }
        }
        for (int i = 0; o->plot && i < nf; i++)
            if (timeline_add(&tl, faces[i].track_id, t, faces[i].smoothed)) {
                status = fail(r, false, "out of memory");
                goto done;
            }
        if (vw) {
            results_draw(dr, &frame, faces, nf, EMO_DRAW_ALL | o->draw_flags);
            if (emo_video_write(vw, &frame) != EMO_OK) {
                status = fail(r, true, "writing the video failed at frame %ld", n);
                break;
            }
        }
        n++;
        if (o->on_frame) o->on_frame(o->ctx, n, t);
    }
    r->frames = n;
    r->interrupted = o->stop && *o->stop;
    r->duration = n > 0 ? last_t + (vi->fps > 0 ? 1 / vi->fps : 0) : 0;
    emo_video_get_stats(v, &r->damage);
    if (!status && o->plot && timeline_plot(&tl, o->plot, path, last_t, r->names) != EMO_OK)
        status = fail(r, true, "cannot write the plot");
done:
    if (vw) {
        if (status) emo_video_writer_discard(vw);
        else if (emo_video_writer_close(vw) != EMO_OK) status = fail(r, true, "cannot finish %s", o->annotated);
    }
    status = close_csv(r, cf, o->csv, status);
    timeline_free(&tl);
    emo_video_close(v);
    emo_image_free(&frame);
    return status;
}

int analyze_input(emo_pipeline *pl, emo_drawer *dr, const char *path, const analyze_opts *o, analyze_result *r) {
    memset(r, 0, sizeof *r);
    double t0 = now_s();
    r->nclasses = emo_pipeline_classes(pl, &r->names);
    emo_pipeline_reset(pl);
    int s = is_photo(path) ? analyze_photo(pl, dr, path, o, r) : analyze_video(pl, dr, path, o, r);
    r->seconds = now_s() - t0;
    return s;
}

void analyze_result_free(analyze_result *r) {
    free(r->tracks);
    r->tracks = NULL;
    r->ntracks = r->tracks_cap = 0;
}
