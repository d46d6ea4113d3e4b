/* cascade.h — Viola-Jones boosted cascades read from OpenCV's XML (internal).
 *
 * The in-memory form mirrors OpenCV 4.6's CascadeClassifierImpl::Data so that
 * evaluation can reproduce its arithmetic exactly: float thresholds and leaf
 * values, stage thresholds lowered by 1e-5f, trees stored as node lists whose
 * child indices are > 0 for internal nodes and <= 0 for leaves (-index). */
#ifndef EMO_CASCADE_H
#define EMO_CASCADE_H

#include "internal.h"

enum { EMO_FEATURE_HAAR = 1, EMO_FEATURE_LBP = 2 };

/* Limits checked by the loader (a cascade beyond them is refused). */
#define EMO_CASCADE_MAX_WIN 512      /* window side in pixels */
#define EMO_CASCADE_MAX_STAGES 4096
#define EMO_CASCADE_MAX_NODES 4000000 /* weak-tree nodes in all */
#define EMO_CASCADE_MAX_FILE (256u << 20)

typedef struct emo_cascade_stage {
    int first_tree, ntrees;
    float threshold; /* file value minus 1e-5f, as OpenCV */
} emo_cascade_stage;

typedef struct emo_cascade_tree {
    int first_node, nnodes, first_leaf; /* leaves: nnodes + 1 of them */
} emo_cascade_tree;

typedef struct emo_cascade_node {
    int feature;
    float threshold; /* HAAR only */
    int left, right; /* > 0: node index within the tree; <= 0: leaf -index */
} emo_cascade_node;

/* Up to three weighted rectangles in window coordinates. Upright rects sum
 * pixels in [x, x+w) x [y, y+h); tilted (45 degree) rects are as OpenCV's. */
typedef struct emo_haar_feature {
    int nrects, tilted;
    int x[3], y[3], w[3], h[3];
    float weight[3];
} emo_haar_feature;

/* A 3x3 grid of w x h blocks with top-left (x, y); code = 8 comparisons of
 * the outer blocks' sums with the centre block's. */
typedef struct emo_lbp_feature {
    int x, y, w, h;
} emo_lbp_feature;

typedef struct emo_cascade {
    int feature_type; /* EMO_FEATURE_HAAR or EMO_FEATURE_LBP */
    int win_w, win_h; /* training window */
    int ncategories;  /* 256 for LBP, 0 for HAAR */
    int nstages, ntrees, nnodes, nleaves, nfeatures;
    int max_nodes;    /* 1: every tree is a stump */
    int has_tilted;
    emo_cascade_stage *stages;
    emo_cascade_tree *trees;
    emo_cascade_node *nodes;
    float *leaves;
    uint32_t *subsets; /* LBP: 8 words (256 bits) per node, bit c set -> left */
    emo_haar_feature *haar;
    emo_lbp_feature *lbp;
} emo_cascade;

/* Parses an OpenCV cascade XML held in memory; `name` is used in messages.
 * On failure *c is left empty (freeable). */
int emo_cascade_parse(emo_cascade *c, const char *xml, size_t size, const char *name);
int emo_cascade_load(emo_cascade *c, const char *path);
void emo_cascade_free(emo_cascade *c);

#endif
