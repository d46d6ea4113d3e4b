/* tta.h — the test-time augmentation views of `emo eval --tta`: each face
 * and its mirror image (flip), plus 4 copies shifted by PX pixels (flip with
 * --tta-shift), or ten crops: the face enlarged by 2*PX pixels in each side,
 * its centre and 4 corner crops at the model's size, and their mirrors.
 * Header-only (static inline): one user and its test. */
#ifndef EMO_TTA_H
#define EMO_TTA_H

#include "emo.h"
#include <string.h>

typedef enum tta_mode { TTA_NONE = 0, TTA_FLIP, TTA_CROPS } tta_mode;

/* Views per face: none 1; flip 2, or 10 with a shift; crops 10. */
static inline int tta_view_count(tta_mode m, int shift) {
    return m == TTA_NONE ? 1 : m == TTA_CROPS ? 10 : shift ? 10 : 2;
}

static inline const char *tta_name(tta_mode m, int shift) {
    return m == TTA_NONE ? "none" : m == TTA_CROPS ? "crops" : shift ? "flip+shift" : "flip";
}

/* Copies the w x h window of src (sw x sh, rows `stride` bytes apart) at (x0, y0),
 * mirrored left-right if `mirror`; sx, sy are clamped to the source (the
 * border is replicated). */
static inline void tta_window(const uint8_t *src, int sw, int sh, int stride, int x0, int y0, int mirror, int w,
                              int h, uint8_t *dst) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int sx = x0 + (mirror ? w - 1 - x : x), sy = y0 + y;
            sx = sx < 0 ? 0 : sx >= sw ? sw - 1 : sx;
            sy = sy < 0 ? 0 : sy >= sh ? sh - 1 : sy;
            dst[y * w + x] = src[(size_t)sy * stride + sx];
        }
}

/* Writes the tta_view_count(m, px) views of one w x h grey face (rows
 * contiguous) to dst, w*h bytes each: view 2s + mirror, s = 0 the centre.
 * flip: s = 1..4 shifted by px left, right, up, down. crops: the face is
 * resized (bilinear) to (w + 2px) x (h + 2px) into *scratch (reused across
 * calls; the caller frees it), s = 1..4 the top-left, top-right,
 * bottom-left and bottom-right crops. Fails only if the resize does. */
static inline int tta_make_views(const uint8_t *src, int w, int h, tta_mode m, int px, uint8_t *dst,
                                 emo_image *scratch) {
    int V = tta_view_count(m, px);
    size_t fp = (size_t)w * h;
    if (m != TTA_CROPS) {
        for (int v = 0; v < V; v++) {
            int s = v >> 1, dx = s == 1 ? px : s == 2 ? -px : 0, dy = s == 3 ? px : s == 4 ? -px : 0;
            tta_window(src, w, h, w, dx, dy, v & 1, w, h, dst + v * fp);
        }
        return EMO_OK;
    }
    emo_image face = emo_image_wrap((uint8_t *)src, w, h, 1, w);
    int st = emo_image_resize(&face, scratch, w + 2 * px, h + 2 * px, EMO_INTERP_LINEAR);
    if (st) return st;
    int W = w + 2 * px, H = h + 2 * px;
    const int ox[5] = {px, 0, 2 * px, 0, 2 * px}, oy[5] = {px, 0, 0, 2 * px, 2 * px};
    for (int v = 0; v < 10; v++) tta_window(scratch->data, W, H, scratch->stride, ox[v >> 1], oy[v >> 1], v & 1, w, h, dst + v * fp);
    return EMO_OK;
}

#endif
