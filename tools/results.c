/* results.c — drawing and CSV rows for the frame-processing commands. */
#include "results.h"

#include <math.h>

emo_pipeline_params results_pipeline_params(const char *model, const char *cascade, int every, int threads,
                                            float smooth) {
    emo_pipeline_params pp = emo_pipeline_params_default();
    pp.model = model;
    pp.cascade = cascade;
    pp.detect_every = every;
    pp.threads = threads;
    if (smooth >= 0) pp.smooth = smooth;
    return pp;
}

int results_drawer_open(emo_drawer **out, emo_pipeline *pl) {
    const char *const *names;
    int k = emo_pipeline_classes(pl, &names);
    emo_draw_params dp = emo_draw_params_default;
    dp.class_names = names;
    dp.nclasses = k;
    return emo_drawer_open(out, &dp);
}

int results_draw(emo_drawer *d, emo_image *frame, const emo_face *faces, int n, unsigned flags) {
    emo_draw_item items[256]; /* as many as emo image keeps */
    if (n > 256) n = 256;
    for (int i = 0; i < n; i++) {
        const emo_face *f = &faces[i];
        items[i] = (emo_draw_item){(float)f->box.x, (float)f->box.y, (float)f->box.w, (float)f->box.h,
                                   f->smoothed, f->label, f->track_id};
    }
    int s = emo_draw_faces(d, frame, items, n, flags & ~RESULTS_DRAW_LANDMARKS, NULL);
    if (s || !(flags & RESULTS_DRAW_LANDMARKS)) return s;
    /* landmarks: a dot per point, its radius growing with the face */
    const int C = frame->channels;
    for (int i = 0; i < n; i++) {
        const emo_face *f = &faces[i];
        int r = f->box.w >= 200 ? 2 : f->box.w >= 80 ? 1 : 0;
        for (int k = 0; k < f->npoints; k++) {
            int px = (int)lrintf(f->points[2 * k]), py = (int)lrintf(f->points[2 * k + 1]);
            for (int y = py - r; y <= py + r; y++)
                for (int x = px - r; x <= px + r; x++) {
                    if (x < 0 || y < 0 || x >= frame->width || y >= frame->height) continue;
                    uint8_t *p = frame->data + (size_t)y * frame->stride + (size_t)x * C;
                    if (C == 1) p[0] = 255;
                    else p[0] = 40, p[1] = 255, p[2] = 90; /* green */
                }
        }
    }
    return EMO_OK;
}

void results_csv_header(FILE *f, const char *const *names, int nclasses) {
    fputs("frame,time_s,face_id,x,y,w,h,emotion", f);
    for (int c = 0; c < nclasses; c++) fprintf(f, ",%s", names[c]);
    fputs(",roll,yaw,pitch\n", f);
}

void results_csv_rows(FILE *f, long frame, double time_s, const emo_face *faces, int n, const char *const *names) {
    for (int i = 0; i < n; i++) {
        const emo_face *fc = &faces[i];
        fprintf(f, "%ld,%.3f,%d,%d,%d,%d,%d,%s", frame, time_s, fc->track_id, fc->box.x, fc->box.y, fc->box.w,
                fc->box.h, names[fc->label]);
        for (int c = 0; c < fc->nclasses; c++) fprintf(f, ",%.4f", fc->smoothed[c]);
        if (fc->npoints > 0) fprintf(f, ",%.1f,%.1f,%.1f\n", fc->roll, fc->yaw, fc->pitch);
        else fputs(",,,\n", f); /* no landmarks: pose unknown */
    }
}

