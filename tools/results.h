/* results.h — what the frame-processing commands (image, video, camera,
 * serve) share: drawing a frame's faces and writing them as CSV rows. */
#ifndef EMO_RESULTS_H
#define EMO_RESULTS_H

#include "emo.h"
#include <stdio.h>

/* Pipeline parameters from the frame commands' common options (smooth < 0:
 * the default). */
emo_pipeline_params results_pipeline_params(const char *model, const char *cascade, int every, int threads,
                                            float smooth);
/* A drawer that labels with the pipeline's class names. */
int results_drawer_open(emo_drawer **out, emo_pipeline *pl);
/* With the EMO_DRAW_* flags: also the landmarks, as dots. */
#define RESULTS_DRAW_LANDMARKS 0x100
/* Draws each face (box, label, emoji, chart) with its smoothed probabilities. */
int results_draw(emo_drawer *d, emo_image *frame, const emo_face *faces, int n, unsigned flags);
/* CSV: frame,time_s,face_id,x,y,w,h,emotion,<one column per class>,roll,yaw,pitch
 * (head pose in degrees; empty without landmarks). */
void results_csv_header(FILE *f, const char *const *names, int nclasses);
void results_csv_rows(FILE *f, long frame, double time_s, const emo_face *faces, int n, const char *const *names);

#endif
