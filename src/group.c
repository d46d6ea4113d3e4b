/* group.c — merges overlapping detections the way OpenCV's groupRectangles
 * does (objdetect, 4.6): boxes are "similar" when all four edges lie within
 * eps * (mean of the smaller width and height) of each other; clusters are
 * the connected components of that relation; each cluster becomes the
 * rounded mean of its boxes; clusters with <= threshold members are dropped,
 * and so are small clusters lying inside a bigger, better supported one. */
#include "detect.h"

#include <math.h>
#include <stdlib.h>

static bool similar(const emo_rect *a, const emo_rect *b, double eps) {
    double delta = eps * (EMO_MIN(a->w, b->w) + EMO_MIN(a->h, b->h)) * 0.5;
    return abs(a->x - b->x) <= delta && abs(a->y - b->y) <= delta && abs(a->x + a->w - b->x - b->w) <= delta &&
           abs(a->y + a->h - b->y - b->h) <= delta;
}

static int find(int *parent, int i) {
    int r = i;
    while (parent[r] >= 0) r = parent[r];
    while (parent[i] >= 0) { /* path compression */
        int next = parent[i];
        parent[i] = r;
        i = next;
    }
    return r;
}

int emo_group_rects(emo_rect *rects, int n, int threshold, double eps, int *scratch) {
    if (threshold <= 0 || n <= 0) return n;
    int *parent = scratch, *label = scratch + n, *count = scratch + 2 * n;
    for (int i = 0; i < n; i++) parent[i] = -1;
    /* Connected components of the similarity relation (order-independent). */
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            if (!similar(&rects[i], &rects[j], eps)) continue;
            int a = find(parent, i), b = find(parent, j);
            if (a != b) parent[a > b ? a : b] = a > b ? b : a;
        }
    /* Classes numbered by first appearance, as OpenCV's partition(). */
    int ncls = 0;
    for (int i = 0; i < n; i++) label[i] = -1;
    for (int i = 0; i < n; i++) {
        int r = find(parent, i);
        if (label[r] < 0) label[r] = ncls++;
        label[i] = label[r];
    }
    /* Per class: member count and coordinate sums; the means then overwrite
     * rects[0..ncls) (all sums are taken before). */
    int *sx = scratch + 3 * n, *sy = sx + n, *sw = sy + n;
    for (int k = 0; k < ncls; k++) count[k] = sx[k] = sy[k] = sw[k] = 0;
    int *sh = parent; /* parent no longer needed */
    for (int k = 0; k < ncls; k++) sh[k] = 0;
    for (int i = 0; i < n; i++) {
        int k = label[i];
        sx[k] += rects[i].x;
        sy[k] += rects[i].y;
        sw[k] += rects[i].w;
        sh[k] += rects[i].h;
        count[k]++;
    }
    /* Mean with OpenCV's float arithmetic: saturate_cast<int>(sum * (1.f/n)). */
    for (int k = 0; k < ncls; k++) {
        float s = 1.f / (float)count[k];
        rects[k].x = (int)lrintf((float)sx[k] * s);
        rects[k].y = (int)lrintf((float)sy[k] * s);
        rects[k].w = (int)lrintf((float)sw[k] * s);
        rects[k].h = (int)lrintf((float)sh[k] * s);
    }
    /* label[] is free now: keep[k] = class k survives. */
    int *keep = label;
    for (int i = 0; i < ncls; i++) {
        int n1 = count[i];
        keep[i] = 0;
        if (n1 <= threshold) continue;
        const emo_rect *r1 = &rects[i];
        int j;
        for (j = 0; j < ncls; j++) {
            int n2 = count[j];
            if (j == i || n2 <= threshold) continue;
            const emo_rect *r2 = &rects[j];
            int dx = (int)lrint(r2->w * eps), dy = (int)lrint(r2->h * eps);
            if (r1->x >= r2->x - dx && r1->y >= r2->y - dy && r1->x + r1->w <= r2->x + r2->w + dx &&
                r1->y + r1->h <= r2->y + r2->h + dy && (n2 > EMO_MAX(3, n1) || n1 < 3))
                break;
        }
        keep[i] = j == ncls;
    }
    int out = 0;
    for (int i = 0; i < ncls; i++)
        if (keep[i]) rects[out++] = rects[i];
    return out;
}
