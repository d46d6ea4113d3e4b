/* track.h — faces followed across frames by box overlap (internal). */
#ifndef EMO_TRACK_H
#define EMO_TRACK_H

#include "internal.h"

#define EMO_TRACK_MAX 64

typedef struct emo_track_box { int x, y, w, h; } emo_track_box;

typedef struct emo_track {
    int id;            /* from 1, never reused within a tracker's life */
    emo_track_box box; /* last box seen */
    int missing;       /* frames since last matched */
    int age;           /* frames since created */
    int nclasses;
    float smoothed[16]; /* exponentially smoothed probabilities */
    int has_probs;
} emo_track;

typedef struct emo_tracker {
    emo_track tracks[EMO_TRACK_MAX];
    int n;
    int next_id;
    float min_iou;   /* a detection continues a track when IoU >= this (0.3) */
    int max_missing; /* a track is dropped after this many frames unseen (50) */
} emo_tracker;

void emo_tracker_init(emo_tracker *t);
/* Intersection over union of two boxes, 0..1. */
float emo_track_iou(emo_track_box a, emo_track_box b);
/* Matches n boxes of the current frame to tracks (greedy by IoU), starts new
 * tracks for the rest, ages and drops unseen ones. slot[i] receives the index
 * into t->tracks for box i (-1 if the table is full). */
void emo_tracker_update(emo_tracker *t, const emo_track_box *boxes, int n, int *slot);
/* Folds a frame's probabilities into the track: s = a*s + (1-a)*p, starting
 * from p; a = 0 turns smoothing off. Writes the smoothed values to out. */
void emo_track_smooth(emo_track *tr, const float *probs, int nclasses, float a, float *out);

#endif
