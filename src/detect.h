/* detect.h — internals of the face detector shared with group.c and tests. */
#ifndef EMO_DETECT_H
#define EMO_DETECT_H

#include "cascade.h"

/* OpenCV's groupRectangles(rects, threshold, eps): clusters similar boxes,
 * averages each cluster, drops clusters of <= threshold members and small
 * clusters inside bigger ones. In place; returns the new count. scratch holds
 * 6 * n ints. threshold <= 0 leaves the list untouched. */
int emo_group_rects(emo_rect *rects, int n, int threshold, double eps, int *scratch);

/* OpenCV 4.6 cv::resize(..., INTER_LINEAR_EXACT) for 8-bit grey: bilinear
 * with 8-bit fixed-point weights, bit for bit. dst is dw x dh with its own
 * stride; scratch holds EMO_RESIZE_SCRATCH(dw) bytes, 4-byte aligned. */
#define EMO_RESIZE_SCRATCH(dw) ((size_t)(dw) * 16 + 512)
void emo_resize_linear_exact(const uint8_t *src, int sw, int sh, int sstride, uint8_t *dst, int dw, int dh,
                             int dstride, void *scratch);

/* Testing hooks: 1 forces the plain C window evaluator, 0 the fastest one. */
void emo_detector_force_scalar(emo_detector *d, int on);
/* Number of raw (ungrouped) candidate windows found by the last emo_detect. */
int emo_detector_candidates(const emo_detector *d);

#endif
