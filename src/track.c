/* track.c — follows faces from frame to frame by box overlap and smooths
 * each face's probabilities over time.
 *
 * Greedy matching by IoU is enough here: faces rarely cross, the detector
 * runs at video rate, and the table is small (EMO_TRACK_MAX). */
#include "track.h"

#include <string.h>

void emo_tracker_init(emo_tracker *t) {
    memset(t, 0, sizeof *t);
    t->next_id = 1;
    t->min_iou = 0.3f;
    t->max_missing = 50; /* 2 s at 25 fps: a face turned away for a moment keeps its id */
}

float emo_track_iou(emo_track_box a, emo_track_box b) {
    int x0 = EMO_MAX(a.x, b.x), y0 = EMO_MAX(a.y, b.y);
    int x1 = EMO_MIN(a.x + a.w, b.x + b.w), y1 = EMO_MIN(a.y + a.h, b.y + b.h);
    if (x1 <= x0 || y1 <= y0) return 0;
    double inter = (double)(x1 - x0) * (y1 - y0);
    double uni = (double)a.w * a.h + (double)b.w * b.h - inter;
    return uni > 0 ? (float)(inter / uni) : 0;
}

void emo_tracker_update(emo_tracker *t, const emo_track_box *boxes, int n, int *slot) {
    bool used_track[EMO_TRACK_MAX] = {0};
    for (int i = 0; i < n; i++) slot[i] = -1;
    /* Repeatedly take the best remaining (box, track) pair above threshold. */
    for (;;) {
        float best = t->min_iou;
        int bi = -1, bt = -1;
        for (int i = 0; i < n; i++) {
            if (slot[i] >= 0) continue;
            for (int k = 0; k < t->n; k++) {
                if (used_track[k]) continue;
                float iou = emo_track_iou(boxes[i], t->tracks[k].box);
                if (iou >= best) best = iou, bi = i, bt = k;
            }
        }
        if (bi < 0) break;
        slot[bi] = bt;
        used_track[bt] = true;
    }
    for (int k = 0; k < t->n; k++) {
        t->tracks[k].age++;
        if (used_track[k]) t->tracks[k].missing = 0;
        else t->tracks[k].missing++;
    }
    for (int i = 0; i < n; i++) {
        if (slot[i] >= 0) {
            t->tracks[slot[i]].box = boxes[i];
            continue;
        }
        if (t->n == EMO_TRACK_MAX) continue;
        emo_track *tr = &t->tracks[t->n];
        memset(tr, 0, sizeof *tr);
        tr->id = t->next_id++;
        tr->box = boxes[i];
        used_track[t->n] = true;
        slot[i] = t->n++;
    }
    /* Drop stale tracks, compacting the table and renumbering slots. */
    int remap[EMO_TRACK_MAX], m = 0;
    for (int k = 0; k < t->n; k++) {
        if (t->tracks[k].missing > t->max_missing) {
            remap[k] = -1;
            continue;
        }
        remap[k] = m;
        if (m != k) t->tracks[m] = t->tracks[k];
        m++;
    }
    t->n = m;
    for (int i = 0; i < n; i++)
        if (slot[i] >= 0) slot[i] = remap[slot[i]];
}

void emo_track_smooth(emo_track *tr, const float *probs, int nclasses, float a, float *out) {
    if (nclasses > 16) nclasses = 16;
    if (!tr->has_probs || tr->nclasses != nclasses || a <= 0) {
        memcpy(tr->smoothed, probs, sizeof(float) * (size_t)nclasses);
        tr->nclasses = nclasses;
        tr->has_probs = 1;
    } else {
        for (int c = 0; c < nclasses; c++) tr->smoothed[c] = a * tr->smoothed[c] + (1 - a) * probs[c];
    }
    memcpy(out, tr->smoothed, sizeof(float) * (size_t)nclasses);
}
