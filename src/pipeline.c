/* pipeline.c — one frame in, every face out: detect (or search around known
 * faces), track, crop the way the model was trained, classify in one batch,
 * smooth over time.
 *
 * Per frame, once warm, nothing is allocated: the grey frame, the crops and
 * the probability buffer are kept and reused. */
#include "internal.h"
#include "track.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FACES EMO_TRACK_MAX
/* Whether the classifier's crop is levelled by the eye line unless the
 * caller says otherwise: measured with bench_crop --align (docs/ACCURACY.md). */
#define ALIGN_DEFAULT 1

struct emo_pipeline {
    emo_pipeline_params params;
    char model_path[1024];
    emo_detector *det;
    emo_model *model;
    int nclasses, in_w, in_h;
    const char *names[EMO_PIPELINE_MAX_CLASSES];
    emo_tracker tracker;
    long frame;
    emo_image grey, square, tilted, turned, crops[MAX_FACES];
    emo_rect found[MAX_FACES];
    float angle[MAX_FACES]; /* head tilt of found[i] in radians (0: upright) */
    float probs[MAX_FACES * EMO_PIPELINE_MAX_CLASSES];
    emo_landmarker *lm;     /* NULL: no landmarks */
    emo_detector *confirm;  /* NULL: weak faces are not rescued */
    float points[MAX_FACES][2 * EMO_FACE_POINTS]; /* landmarks of found[i], frame pixels */
    char warning[600];
};

emo_pipeline_params emo_pipeline_params_default(void) {
    emo_pipeline_params p = {
        .model = NULL,
        .cascade = NULL,
        .detect = emo_detect_params_default(),
        .smooth = 0.6f,
        .detect_every = 1,
        .crop_scale = 1.4f,
        .threads = 0,
        .precision = EMO_PRECISION_AUTO,
        .landmarks = NULL,
        .align = ALIGN_DEFAULT,
        .rotated = 0,
    };
    return p;
}

emo_pipeline_params emo_pipeline_params_photo(void) {
    emo_pipeline_params p = emo_pipeline_params_default();
    p.cascade = EMO_PHOTO_CASCADE;
    p.detect.min_size = 20;
    p.smooth = 0;
    p.rotated = 1;
    p.confirm = "haar";
    return p;
}

const char *emo_pipeline_warning(const emo_pipeline *pl) { return pl ? pl->warning : ""; }

/* ------------------------------------------------------------------------ */
/* Finding the shipped model                                                */
/* ------------------------------------------------------------------------ */

#ifndef EMO_DATADIR
#define EMO_DATADIR "/usr/local/share/emo"
#endif

static bool readable(const char *p) { return access(p, R_OK) == 0; }

int emo_default_model_path(const char *name, char *out, size_t cap) {
    if (!name || !*name) name = EMO_DEFAULT_MODEL;
    if (strchr(name, '/') || strstr(name, ".emo")) { /* a path, or a file name in cwd */
        snprintf(out, cap, "%s", name);
        if (readable(out)) return EMO_OK;
        if (strchr(name, '/')) return emo_fail(EMO_ENOTFOUND, "%s: model file not found", name);
    }
    /* A short name ("ferplus") is looked for in, in order: $EMO_MODEL_DIR,
     * ./models, the models folder beside the running program's build
     * directory (build/emo -> models/), and the installed share folder. */
    char exe[PATH_MAX] = "", dirs[4][PATH_MAX];
    int nd = 0;
    const char *env = getenv("EMO_MODEL_DIR");
    if (env && *env) snprintf(dirs[nd++], PATH_MAX, "%s", env);
    snprintf(dirs[nd++], PATH_MAX, "models");
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        snprintf(dirs[nd++], PATH_MAX, "%.3000s/../models", exe);
    }
    snprintf(dirs[nd++], PATH_MAX, "%s/models", EMO_DATADIR);
    const char *ext = strstr(name, ".emo") ? "" : ".emo";
    for (int i = 0; i < nd; i++) {
        snprintf(out, cap, "%s/%s%s", dirs[i], name, ext);
        if (readable(out)) return EMO_OK;
    }
    return emo_fail(EMO_ENOTFOUND, "model '%s' not found (looked in $EMO_MODEL_DIR, ./models, %s/models)", name,
                    EMO_DATADIR);
}

/* ------------------------------------------------------------------------ */
/* Open / close                                                             */
/* ------------------------------------------------------------------------ */

int emo_pipeline_open(emo_pipeline **out, const emo_pipeline_params *params) {
    if (!out) return emo_fail(EMO_EINVAL, "emo_pipeline_open: no output");
    *out = NULL;
    emo_pipeline_params p = params ? *params : emo_pipeline_params_default();
    if (p.smooth < 0 || p.smooth >= 1)
        return emo_fail(EMO_EINVAL, "smoothing %.3g is outside [0, 1)", (double)p.smooth);
    if (p.detect_every < 1 || p.detect_every > 1000)
        return emo_fail(EMO_EINVAL, "detect_every %d is outside 1..1000", p.detect_every);
    if (!(p.crop_scale >= 0.5f && p.crop_scale <= 3.0f))
        return emo_fail(EMO_EINVAL, "crop scale %.3g is outside 0.5..3", (double)p.crop_scale);
    emo_pipeline *pl = calloc(1, sizeof *pl);
    if (!pl) return emo_fail(EMO_ENOMEM, "out of memory");
    pl->params = p;
    emo_tracker_init(&pl->tracker);
    int s = emo_default_model_path(p.model, pl->model_path, sizeof pl->model_path);
    if (s == EMO_OK) s = emo_model_load(&pl->model, pl->model_path);
    if (s == EMO_OK) {
        pl->nclasses = emo_model_classes(pl->model);
        if (pl->nclasses > EMO_PIPELINE_MAX_CLASSES)
            s = emo_fail(EMO_EUNSUPPORTED, "%s: %d classes, the pipeline handles at most %d", pl->model_path,
                         pl->nclasses, EMO_PIPELINE_MAX_CLASSES);
        for (int i = 0; i < pl->nclasses && i < EMO_PIPELINE_MAX_CLASSES; i++)
            pl->names[i] = emo_model_class_name(pl->model, i);
        emo_model_input_size(pl->model, &pl->in_w, &pl->in_h);
        emo_model_set_threads(pl->model, p.threads);
        if (s == EMO_OK) s = emo_model_set_precision(pl->model, p.precision);
    }
    if (s == EMO_OK) s = emo_detector_open(&pl->det, p.cascade);
    if (s == EMO_OK && p.confirm && *p.confirm) s = emo_detector_open(&pl->confirm, p.confirm);
    if (s == EMO_OK && !(p.landmarks && !strcmp(p.landmarks, "none"))) {
        s = emo_landmarker_open(&pl->lm, p.landmarks);
        if (s == EMO_ENOTFOUND && !p.landmarks) { /* the default model is optional */
            snprintf(pl->warning, sizeof pl->warning,
                     "landmarks off: %s (install the Debian package libdlib-data, or set $EMO_LANDMARK_MODEL)",
                     emo_last_error());
            emo_clear_error();
            s = EMO_OK;
        }
    }
    if (s) {
        emo_pipeline_close(pl);
        return s;
    }
    pl->params.model = NULL; /* the caller's strings need not outlive the call */
    pl->params.cascade = NULL;
    pl->params.landmarks = NULL;
    pl->params.confirm = NULL;
    *out = pl;
    return EMO_OK;
}

void emo_pipeline_close(emo_pipeline *pl) {
    if (!pl) return;
    emo_detector_close(pl->det);
    emo_landmarker_close(pl->lm);
    emo_detector_close(pl->confirm);
    emo_model_free(pl->model);
    emo_image_free(&pl->grey);
    emo_image_free(&pl->square);
    emo_image_free(&pl->tilted);
    emo_image_free(&pl->turned);
    for (int i = 0; i < MAX_FACES; i++) emo_image_free(&pl->crops[i]);
    free(pl);
}

void emo_pipeline_reset(emo_pipeline *pl) {
    if (!pl) return;
    emo_tracker_init(&pl->tracker);
    pl->frame = 0;
}

int emo_pipeline_classes(const emo_pipeline *pl, const char *const **names) {
    if (!pl) return 0;
    if (names) *names = pl->names;
    return pl->nclasses;
}

const char *emo_pipeline_model_path(const emo_pipeline *pl) { return pl ? pl->model_path : ""; }

int emo_pipeline_set(emo_pipeline *pl, const emo_pipeline_params *p) {
    if (!pl || !p) return emo_fail(EMO_EINVAL, "emo_pipeline_set: no pipeline or parameters");
    if (p->smooth < 0 || p->smooth >= 1 || p->detect_every < 1 || p->detect_every > 1000 ||
        !(p->crop_scale >= 0.5f && p->crop_scale <= 3.0f))
        return emo_fail(EMO_EINVAL, "emo_pipeline_set: smoothing, detect_every or crop scale out of range");
    /* Model and cascade stay; the rest changes from the next frame on. */
    pl->params.detect = p->detect;
    pl->params.smooth = p->smooth;
    pl->params.detect_every = p->detect_every;
    pl->params.crop_scale = p->crop_scale;
    pl->params.threads = p->threads;
    pl->params.align = p->align;
    pl->params.rotated = p->rotated;
    emo_model_set_threads(pl->model, p->threads);
    return EMO_OK;
}

/* ------------------------------------------------------------------------ */
/* Per frame                                                                */
/* ------------------------------------------------------------------------ */

/* True when a face centred at (cx, cy) of side w is already among the
 * first n found: centres closer than half the larger side. */
static bool already_found(const emo_pipeline *pl, int n, float cx, float cy, int w) {
    for (int i = 0; i < n; i++) {
        emo_rect q = pl->found[i];
        float d = 0.5f * (float)EMO_MAX(q.w, w);
        if (fabsf(q.x + q.w * 0.5f - cx) < d && fabsf(q.y + q.h * 0.5f - cy) < d) return true;
    }
    return false;
}

/* Small faces in photos (under ~50 px) often give the frontal cascade too
 * few raw hits to pass min_neighbors. Clusters of 2 or more hits, smaller
 * than CONFIRM_MAX_SIDE and away from the faces found, are searched again
 * by a second cascade in a window 2x their size; a face of about the same
 * size there keeps them (measured on the shared photos: +2 faces of
 * training.xml, no false box; docs/ACCURACY.md). */
#define CONFIRM_MAX_SIDE 64
#define CONFIRM_NEIGHBORS 4

static bool near_any(const emo_rect *r, int n, float cx, float cy, int w) {
    for (int i = 0; i < n; i++) {
        float d = 0.5f * (float)EMO_MAX(r[i].w, w);
        if (fabsf(r[i].x + r[i].w * 0.5f - cx) < d && fabsf(r[i].y + r[i].h * 0.5f - cy) < d) return true;
    }
    return false;
}

/* Faces of img (the frame's grey or a turned canvas) into out: the main
 * cascade's, then, with a confirming cascade, the confirmed weak ones. */
static int detect_confirmed(emo_pipeline *pl, const emo_image *img, const emo_detect_params *dp, emo_rect *out,
                            int cap, bool confirm) {
    int n = emo_detect(pl->det, img, dp, out, cap);
    if (n < 0 || !confirm || !pl->confirm) return n;
    n = EMO_MIN(n, cap);
    emo_detect_params wp = *dp;
    wp.min_neighbors = 1;
    wp.max_size = CONFIRM_MAX_SIDE;
    emo_rect weak[MAX_FACES];
    int nw = emo_detect(pl->det, img, &wp, weak, MAX_FACES);
    if (nw < 0) return nw;
    for (int i = 0; i < EMO_MIN(nw, MAX_FACES) && n < cap; i++) {
        emo_rect r = weak[i];
        if (near_any(out, n, r.x + r.w * 0.5f, r.y + r.h * 0.5f, r.w)) continue;
        emo_detect_params cp = *dp;
        cp.scale_factor = 1.05;
        cp.min_neighbors = CONFIRM_NEIGHBORS;
        cp.min_size = EMO_MAX(1, r.w * 7 / 10);
        cp.max_size = r.w * 3 / 2;
        cp.threads = 1;
        int x0 = EMO_MAX(r.x - r.w / 2, 0), y0 = EMO_MAX(r.y - r.h / 2, 0);
        int x1 = EMO_MIN(r.x + r.w * 3 / 2, img->width), y1 = EMO_MIN(r.y + r.h * 3 / 2, img->height);
        if (EMO_MIN(x1 - x0, y1 - y0) < cp.min_size) continue;
        cp.roi = (emo_rect){x0, y0, x1 - x0, y1 - y0};
        emo_rect c[4];
        int got = emo_detect(pl->confirm, img, &cp, c, 4);
        if (got < 0) return got;
        if (got > 0) out[n++] = r;
    }
    return n;
}

/* Photos: frontal cascades find heads tilted up to ~15 degrees. The frame
 * turned by each of TURNS (on a canvas large enough to keep all of it) is
 * searched too, with one more neighbour required (the measured false boxes
 * of these passes go away, docs/ACCURACY.md), and its faces not found
 * upright are added with their tilt. Weak faces are not confirmed here:
 * that found 5 more turned faces of 84 but added 2 false boxes upright. */
static const float TURNS[] = {0.5235988f, -0.5235988f}; /* +-30 degrees */
#define TURN_EXTRA_NEIGHBORS 1

static int add_turned(emo_pipeline *pl, const emo_detect_params *dp, int n) {
    const int W = pl->grey.width, H = pl->grey.height;
    for (size_t k = 0; k < sizeof TURNS / sizeof TURNS[0] && n < MAX_FACES; k++) {
        float a = TURNS[k], ca = cosf(a), sa = sinf(a);
        int cw = (int)ceilf(W * fabsf(ca) + H * fabsf(sa)), ch = (int)ceilf(W * fabsf(sa) + H * fabsf(ca));
        if ((size_t)cw * (size_t)ch > EMO_MAX_PIXELS) continue;
        float hx = cw * 0.5f, hy = ch * 0.5f, fx = W * 0.5f, fy = H * 0.5f;
        /* canvas pixel (u, v) -> frame (fx, fy) + R(a) (u - hx, v - hy) */
        float m[6] = {ca, -sa, fx - ca * hx + sa * hy, sa, ca, fy - sa * hx - ca * hy};
        int s = emo_image_warp_affine(&pl->grey, &pl->turned, m, cw, ch);
        if (s) return s;
        emo_detect_params rp = *dp;
        rp.min_neighbors += TURN_EXTRA_NEIGHBORS;
        emo_rect r[MAX_FACES];
        int got = detect_confirmed(pl, &pl->turned, &rp, r, MAX_FACES, false);
        if (got < 0) return got;
        for (int i = 0; i < EMO_MIN(got, MAX_FACES) && n < MAX_FACES; i++) {
            float u = r[i].x + r[i].w * 0.5f, v = r[i].y + r[i].h * 0.5f;
            float cx = m[0] * u + m[1] * v + m[2], cy = m[3] * u + m[4] * v + m[5];
            if (cx < 0 || cy < 0 || cx >= W || cy >= H) continue; /* on the canvas' filled corners */
            if (already_found(pl, n, cx, cy, r[i].w)) continue;
            int w = r[i].w;
            pl->found[n] = (emo_rect){(int)lrintf(cx - w * 0.5f), (int)lrintf(cy - w * 0.5f), w, w};
            pl->angle[n++] = a;
        }
    }
    return n;
}

/* Full detection, or (between full detections) a search in a window around
 * each known face, which costs a small fraction of a full-frame search. */
static int find_faces(emo_pipeline *pl) {
    emo_detect_params dp = pl->params.detect;
    dp.threads = pl->params.threads;
    bool full = pl->tracker.n == 0 || pl->frame % pl->params.detect_every == 0;
    if (EMO_MIN(pl->grey.width, pl->grey.height) < dp.min_size) return 0; /* no face fits */
    if (full) {
        int n = detect_confirmed(pl, &pl->grey, &dp, pl->found, MAX_FACES, true);
        if (n < 0) return n;
        n = EMO_MIN(n, MAX_FACES);
        return pl->params.rotated ? add_turned(pl, &dp, n) : n;
    }
    int total = 0;
    for (int k = 0; k < pl->tracker.n && total < MAX_FACES; k++) {
        const emo_track *tr = &pl->tracker.tracks[k];
        if (tr->missing > 0) continue; /* lost faces wait for the next full pass */
        emo_track_box b = tr->box;
        int mx = b.w / 2, my = b.h / 2;
        emo_detect_params rp = dp;
        rp.roi = (emo_rect){b.x - mx, b.y - my, b.w + 2 * mx, b.h + 2 * my};
        /* Clip the window; the detector also clips, but min_size must fit. */
        int x0 = EMO_MAX(rp.roi.x, 0), y0 = EMO_MAX(rp.roi.y, 0);
        int x1 = EMO_MIN(rp.roi.x + rp.roi.w, pl->grey.width), y1 = EMO_MIN(rp.roi.y + rp.roi.h, pl->grey.height);
        if (x1 - x0 < 8 || y1 - y0 < 8) continue;
        rp.roi = (emo_rect){x0, y0, x1 - x0, y1 - y0};
        rp.min_size = EMO_MAX(dp.min_size, b.w * 2 / 3);
        rp.max_size = b.w * 3 / 2;
        if (rp.min_size > EMO_MIN(rp.roi.w, rp.roi.h)) rp.min_size = EMO_MIN(rp.roi.w, rp.roi.h);
        int n = emo_detect(pl->det, &pl->grey, &rp, pl->found + total, MAX_FACES - total);
        if (n < 0) return n;
        n = EMO_MIN(n, MAX_FACES - total);
        /* Keep the hit closest to the known face; windows of neighbouring
         * faces can overlap and find the same face twice. */
        int best = -1;
        float best_iou = 0;
        for (int i = 0; i < n; i++) {
            emo_rect r = pl->found[total + i];
            float iou = emo_track_iou((emo_track_box){r.x, r.y, r.w, r.h}, b);
            if (iou > best_iou) best_iou = iou, best = i;
        }
        if (best < 0) continue;
        emo_rect r = pl->found[total + best];
        bool dup = false;
        for (int i = 0; i < total; i++) {
            emo_rect q = pl->found[i];
            dup |= emo_track_iou((emo_track_box){r.x, r.y, r.w, r.h}, (emo_track_box){q.x, q.y, q.w, q.h}) > 0.5f;
        }
        if (!dup) pl->found[total++] = r;
    }
    return total;
}

/* Frontal cascades miss a head tilted by more than ~15 degrees. For a known
 * face the detector lost, search a window around it rotated by +-TILT: the
 * window (side 2x the face) is warped upright, searched for a face of about
 * the known size, and a hit is mapped back to the frame, remembering the
 * tilt so the crop for the classifier is taken upright too. */
#define TILT 0.35f /* 20 degrees */

static bool search_tilted(emo_pipeline *pl, const emo_track *tr, emo_rect *hit, float *angle) {
    emo_track_box b = tr->box;
    int side = 2 * EMO_MAX(b.w, b.h);
    float cx = b.x + b.w * 0.5f, cy = b.y + b.h * 0.5f, half = side * 0.5f;
    emo_detect_params dp = pl->params.detect;
    dp.threads = 1; /* small window: not worth a thread team */
    dp.min_size = EMO_MAX(b.w * 2 / 3, 8);
    dp.max_size = b.w * 3 / 2;
    dp.roi = (emo_rect){0, 0, 0, 0};
    for (int k = 0; k < 2; k++) {
        float a = k ? -TILT : TILT, ca = cosf(a), sa = sinf(a);
        /* window pixel (u, v) -> frame (cx, cy) + R(a) (u - half, v - half) */
        float m[6] = {ca, -sa, cx - ca * half + sa * half, sa, ca, cy - sa * half - ca * half};
        if (emo_image_warp_affine(&pl->grey, &pl->tilted, m, side, side)) return false;
        emo_rect r[8];
        int n = emo_detect(pl->det, &pl->tilted, &dp, r, 8);
        if (n <= 0) continue;
        int best = 0;
        float bd = 1e30f;
        for (int i = 0; i < n && i < 8; i++) {
            float dx = r[i].x + r[i].w * 0.5f - half, dy = r[i].y + r[i].h * 0.5f - half;
            if (dx * dx + dy * dy < bd) bd = dx * dx + dy * dy, best = i;
        }
        float u = r[best].x + r[best].w * 0.5f - half, v = r[best].y + r[best].h * 0.5f - half;
        float fx = cx + ca * u - sa * v, fy = cy + sa * u + ca * v;
        int w = r[best].w;
        *hit = (emo_rect){(int)lrintf(fx - w * 0.5f), (int)lrintf(fy - w * 0.5f), w, w};
        *angle = a;
        return true;
    }
    return false;
}

/* Adds tilted hits for tracks seen last frame that no box of this frame
 * continues. */
static int add_tilted(emo_pipeline *pl, int n) {
    for (int k = 0; k < pl->tracker.n && n < MAX_FACES; k++) {
        const emo_track *tr = &pl->tracker.tracks[k];
        if (tr->missing > 0) continue;
        bool matched = false;
        for (int i = 0; i < n && !matched; i++) {
            emo_rect r = pl->found[i];
            matched = emo_track_iou((emo_track_box){r.x, r.y, r.w, r.h}, tr->box) >= pl->tracker.min_iou;
        }
        if (!matched && search_tilted(pl, tr, &pl->found[n], &pl->angle[n])) n++;
    }
    return n;
}

/* The model's input crop for a face box: a square of side crop_scale * box
 * around the box centre (border replicated), area-resized to the input size. */
static int crop_face(emo_pipeline *pl, emo_rect r, float angle, emo_image *out) {
    float side = pl->params.crop_scale * (float)EMO_MAX(r.w, r.h);
    float cx = r.x + r.w * 0.5f, cy = r.y + r.h * 0.5f;
    if (angle != 0) {
        /* upright crop of a tilted head: warp to a square of about the
         * face's own resolution (at most 4x the input), then area-resize as
         * the upright crop does, so large faces are averaged, not sampled */
        int n = (int)EMO_CLAMP(lrintf(side), pl->in_w, 4 * pl->in_w);
        float k = side / (float)n, ca = cosf(angle) * k, sa = sinf(angle) * k, h = n * 0.5f;
        float m[6] = {ca, -sa, cx - ca * h + sa * h, sa, ca, cy - sa * h - ca * h};
        int st = emo_image_warp_affine(&pl->grey, &pl->square, m, n, n);
        return st ? st : emo_image_resize(&pl->square, out, pl->in_w, pl->in_h, EMO_INTERP_AREA);
    }
    int s = (int)(side + 0.5f), x = (int)(cx - side * 0.5f + 0.5f), y = (int)(cy - side * 0.5f + 0.5f);
    if (s < 1) s = 1;
    int st = emo_image_crop(&pl->grey, &pl->square, x, y, s, s);
    if (st) return st;
    return emo_image_resize(&pl->square, out, pl->in_w, pl->in_h, EMO_INTERP_AREA);
}

/* Landmarks of the face in box r, tilted by angle (radians): an upright
 * face is read in the frame; a tilted one in a window (side 2x the box)
 * turned upright, its points turned back into the frame. */
static int face_landmarks(emo_pipeline *pl, emo_rect r, float angle, float *xy) {
    if (angle == 0) return emo_landmarks(pl->lm, &pl->grey, emo_landmark_box(r), xy);
    int side = 2 * EMO_MAX(r.w, r.h);
    float cx = r.x + r.w * 0.5f, cy = r.y + r.h * 0.5f, half = side * 0.5f, ca = cosf(angle), sa = sinf(angle);
    float m[6] = {ca, -sa, cx - ca * half + sa * half, sa, ca, cy - sa * half - ca * half};
    int s = emo_image_warp_affine(&pl->grey, &pl->tilted, m, side, side);
    if (s) return s;
    emo_rect in = {(side - r.w) / 2, (side - r.h) / 2, r.w, r.h};
    int n = emo_landmarks(pl->lm, &pl->tilted, emo_landmark_box(in), xy);
    for (int i = 0; i < n; i++) {
        float u = xy[2 * i], v = xy[2 * i + 1];
        xy[2 * i] = m[0] * u + m[1] * v + m[2];
        xy[2 * i + 1] = m[3] * u + m[4] * v + m[5];
    }
    return n;
}

/* The angle of the line from the eye on the image's left to the other
 * (centres of points 36-41 and 42-47), radians, clockwise as seen. */
static float eye_angle(const float *xy) {
    float lx = 0, ly = 0, rx = 0, ry = 0;
    for (int i = 36; i < 42; i++) lx += xy[2 * i], ly += xy[2 * i + 1];
    for (int i = 42; i < 48; i++) rx += xy[2 * i], ry += xy[2 * i + 1];
    return atan2f(ry - ly, rx - lx);
}

int emo_pipeline_crop(emo_pipeline *pl, const emo_image *frame, emo_rect box, emo_image *out) {
    if (!pl || !frame || !out) return emo_fail(EMO_EINVAL, "emo_pipeline_crop: missing argument");
    int s = emo_image_to_grey(frame, &pl->grey);
    return s ? s : crop_face(pl, box, 0, out);
}

int emo_pipeline_process(emo_pipeline *pl, const emo_image *frame, emo_face *faces, int capacity) {
    if (!pl || !frame || (!faces && capacity > 0) || capacity < 0)
        return emo_fail(EMO_EINVAL, "emo_pipeline_process: missing argument");
    if (!frame->data || frame->width <= 0 || frame->height <= 0)
        return emo_fail(EMO_EINVAL, "emo_pipeline_process: empty frame (%dx%d)", frame->width, frame->height);
    int s = emo_image_to_grey(frame, &pl->grey);
    if (s) return s;
    memset(pl->angle, 0, sizeof pl->angle);
    int n = find_faces(pl);
    if (n < 0) return n;
    n = add_tilted(pl, n);
    emo_track_box boxes[MAX_FACES];
    int slot[MAX_FACES];
    for (int i = 0; i < n; i++) boxes[i] = (emo_track_box){pl->found[i].x, pl->found[i].y, pl->found[i].w, pl->found[i].h};
    emo_tracker_update(&pl->tracker, boxes, n, slot);
    pl->frame++;
    bool marks = pl->lm && emo_landmarker_points(pl->lm) == EMO_FACE_POINTS;
    for (int i = 0; i < n; i++) {
        float crop_angle = pl->angle[i];
        if (marks) {
            if ((s = face_landmarks(pl, pl->found[i], pl->angle[i], pl->points[i])) < 0) return s;
            if (pl->params.align) crop_angle = eye_angle(pl->points[i]);
        }
        if ((s = crop_face(pl, pl->found[i], crop_angle, &pl->crops[i]))) return s;
    }
    if (n > 0 && (s = emo_classify(pl->model, pl->crops, n, pl->probs))) return s;
    int K = pl->nclasses;
    for (int i = 0; i < n && i < capacity; i++) {
        emo_face *f = &faces[i];
        memset(f, 0, sizeof *f);
        f->box = pl->found[i];
        memcpy(f->probs, pl->probs + (size_t)i * K, sizeof(float) * K);
        if (slot[i] >= 0) {
            emo_track *tr = &pl->tracker.tracks[slot[i]];
            f->track_id = tr->id;
            emo_track_smooth(tr, f->probs, K, pl->params.smooth, f->smoothed);
        } else { /* tracker full: report the face unsmoothed */
            f->track_id = 0;
            memcpy(f->smoothed, f->probs, sizeof(float) * K);
        }
        int best = 0;
        for (int c = 1; c < K; c++)
            if (f->smoothed[c] > f->smoothed[best]) best = c;
        f->label = best;
        f->nclasses = K;
        f->tilt = pl->angle[i] * (180.0f / 3.14159265f);
        if (marks) {
            f->npoints = EMO_FACE_POINTS;
            memcpy(f->points, pl->points[i], sizeof f->points);
            if (emo_head_pose(f->points, &f->roll, &f->yaw, &f->pitch)) f->roll = f->yaw = f->pitch = 0;
        }
    }
    return n;
}
