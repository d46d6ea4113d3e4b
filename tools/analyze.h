/* analyze.h — one input (a video or a photo) through an open pipeline, as
 * `emo video` and `emo batch` run it: the per-frame CSV, the annotated MP4
 * (or JPEG for a photo), the timeline plot, and per-track statistics.
 *
 *   analyze_opts o = {.csv = "out.csv", .plot = "out.png"};
 *   analyze_result r = {0};
 *   if (analyze_input(pl, dr, "in.mp4", &o, &r) != 0) fprintf(stderr, "%s\n", r.error);
 *   ... r.frames, r.tracks[i].label_frames[c] ...
 *   analyze_result_free(&r);
 *
 * Outputs are written to the paths given: the CSV as frames go (a killed run
 * keeps what it did; callers that want it atomic pass a temporary name and
 * rename it), the MP4 and the plot atomically by the library. On failure
 * r.error says what and where, the MP4 and plot are not left behind, and
 * the CSV is left as far as it got (the caller removes it if it must). */
#ifndef EMO_ANALYZE_H
#define EMO_ANALYZE_H

#include "emo.h"
#include <signal.h>
#include <stdbool.h>

typedef struct analyze_opts {
    const char *csv;       /* per-frame CSV (results_csv_header/rows); NULL = none */
    const char *annotated; /* video: annotated MP4; photo: annotated JPEG/PNG; NULL = none */
    const char *plot;      /* timeline PNG of the longest tracks (videos only); NULL = none */
    unsigned draw_flags;   /* added to EMO_DRAW_ALL on the annotated output (RESULTS_DRAW_LANDMARKS) */
    long max_frames;       /* stop after this many frames; <= 0 = all */
    /* The parameters the pipeline was opened with: a photo is processed with
     * smoothing off (one frame: nothing to smooth over), then they are set back. */
    const emo_pipeline_params *params;
    volatile sig_atomic_t *stop; /* set by a signal handler: stop after the current frame */
    /* Called after each frame with the frames done so far and the frame's time (progress). */
    void (*on_frame)(void *ctx, long frames, double time_s);
    void *ctx;
} analyze_opts;

/* One face track: the frames it was seen in, and per class the frames it was
 * labelled with that class and the sum of its smoothed probabilities. */
typedef struct analyze_track {
    int id;
    long frames;
    double first_s, last_s;
    long label_frames[EMO_PIPELINE_MAX_CLASSES];
    double prob_sum[EMO_PIPELINE_MAX_CLASSES];
} analyze_track;

typedef struct analyze_result {
    bool photo;          /* the input decoded as a JPEG or PNG photo */
    int width, height;
    double fps, duration; /* video: frame rate and seconds (last frame's time + one frame); photo: 0 */
    long frames, frames_with_faces, faces;
    int nclasses;
    const char *const *names;
    analyze_track *tracks; /* ntracks, in order of first appearance */
    int ntracks, tracks_cap;
    emo_video_stats damage; /* video: unreadable packets, damaged and missing frames */
    bool interrupted;      /* stopped by opts.stop */
    double seconds;        /* wall time of the analysis (decode + pipeline + writing) */
    char error[1024];
} analyze_result;

/* Returns 0, or 1 with r->error set. The pipeline is reset first (tracks
 * belong to one input). dr may be NULL when opts->annotated is NULL. */
int analyze_input(emo_pipeline *pl, emo_drawer *dr, const char *path, const analyze_opts *opts, analyze_result *r);
void analyze_result_free(analyze_result *r);

#endif
