/* cascade.c — loads OpenCV's boosted cascade XML (the "new" 2.4+ format that
 * opencv_traincascade writes: <cascade> with stageType BOOST and featureType
 * HAAR or LBP) into an emo_cascade, checking every index and size so that a
 * malformed file is refused with a message instead of crashing the detector.
 *
 * Parsing goes through expat into a small DOM (elements, their text, their
 * children), then the DOM is walked the way OpenCV's FileStorage reader does:
 * the first element under <opencv_storage> is the cascade; sequences are
 * children named "_"; numbers are whitespace-separated in an element's text. */
#include "cascade.h"

#include <errno.h>
#include <expat.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- DOM ---------------------------------------------------------------- */

typedef struct dom_node {
    int name;        /* offset of the name in text */
    int text, ntext; /* element text (only for elements without children) */
    int type_id;     /* offset of the type_id attribute, -1 if none */
    int parent, first, last, next;
} dom_node;

typedef struct dom {
    dom_node *n;
    int count, cap;
    char *text;
    size_t ntext, captext;
    int cur, depth;
    int failed; /* an emo status, set by a callback */
    const char *name;
} dom;

#define DOM_MAX_DEPTH 64
#define DOM_MAX_NODES 20000000

static int dom_text_add(dom *d, const char *s, size_t len) {
    if (d->ntext + len + 1 > d->captext) {
        size_t cap = d->captext ? d->captext : 65536;
        while (cap < d->ntext + len + 1) cap *= 2;
        char *t = realloc(d->text, cap);
        if (!t) return -1;
        d->text = t;
        d->captext = cap;
    }
    if (d->ntext > (size_t)INT32_MAX - len - 1) return -1;
    int off = (int)d->ntext;
    memcpy(d->text + d->ntext, s, len);
    d->ntext += len;
    d->text[d->ntext] = 0;
    return off;
}

static void XMLCALL dom_start(void *ud, const XML_Char *name, const XML_Char **attr) {
    dom *d = ud;
    if (d->failed) return;
    if (d->depth >= DOM_MAX_DEPTH) {
        d->failed = emo_fail(EMO_EFORMAT, "%s: XML nested deeper than %d elements", d->name, DOM_MAX_DEPTH);
        return;
    }
    if (d->count >= DOM_MAX_NODES) {
        d->failed = emo_fail(EMO_ELIMIT, "%s: more than %d XML elements", d->name, DOM_MAX_NODES);
        return;
    }
    if (d->count == d->cap) {
        int cap = d->cap ? d->cap * 2 : 4096;
        dom_node *n = realloc(d->n, (size_t)cap * sizeof *n);
        if (!n) {
            d->failed = emo_fail(EMO_ENOMEM, "%s: out of memory parsing XML", d->name);
            return;
        }
        d->n = n;
        d->cap = cap;
    }
    int i = d->count++;
    dom_node *e = &d->n[i];
    /* Text of an element that gets children is not used: drop it. */
    if (d->cur >= 0 && d->n[d->cur].first < 0) d->n[d->cur].ntext = 0;
    e->name = dom_text_add(d, name, strlen(name) + 1);
    e->text = -1;
    e->ntext = 0;
    e->type_id = -1;
    e->parent = d->cur;
    e->first = e->last = e->next = -1;
    for (int a = 0; attr[a]; a += 2)
        if (strcmp(attr[a], "type_id") == 0) e->type_id = dom_text_add(d, attr[a + 1], strlen(attr[a + 1]) + 1);
    if (e->name < 0) {
        d->failed = emo_fail(EMO_ENOMEM, "%s: out of memory parsing XML", d->name);
        return;
    }
    if (d->cur >= 0) {
        dom_node *p = &d->n[d->cur];
        if (p->last >= 0) d->n[p->last].next = i;
        else p->first = i;
        p->last = i;
    }
    d->cur = i;
    d->depth++;
}

static void XMLCALL dom_end(void *ud, const XML_Char *name) {
    dom *d = ud;
    (void)name;
    if (d->failed || d->cur < 0) return;
    d->cur = d->n[d->cur].parent;
    d->depth--;
}

static void XMLCALL dom_chars(void *ud, const XML_Char *s, int len) {
    dom *d = ud;
    if (d->failed || d->cur < 0) return;
    dom_node *e = &d->n[d->cur];
    if (e->first >= 0) return; /* text between children: not data */
    /* A leaf's text arrives in chunks with nothing in between: append. */
    int off = dom_text_add(d, s, (size_t)len);
    if (off < 0) {
        d->failed = emo_fail(EMO_ENOMEM, "%s: out of memory parsing XML", d->name);
        return;
    }
    if (e->text < 0 || e->ntext == 0) e->text = off;
    e->ntext += len;
}

static void dom_free(dom *d) {
    free(d->n);
    free(d->text);
    memset(d, 0, sizeof *d);
}

static int dom_parse(dom *d, const char *xml, size_t size, const char *name) {
    memset(d, 0, sizeof *d);
    d->cur = -1;
    d->name = name;
    XML_Parser p = XML_ParserCreate(NULL);
    if (!p) return emo_fail(EMO_ENOMEM, "%s: cannot create XML parser", name);
    XML_SetUserData(p, d);
    XML_SetElementHandler(p, dom_start, dom_end);
    XML_SetCharacterDataHandler(p, dom_chars);
    int st = EMO_OK;
    if (size > (size_t)INT32_MAX) {
        st = emo_fail(EMO_ELIMIT, "%s: XML too large", name);
    } else if (XML_Parse(p, xml, (int)size, 1) == XML_STATUS_ERROR) {
        if (d->failed) st = d->failed;
        else
            st = emo_fail(EMO_EFORMAT, "%s: malformed XML at line %lu: %s", name,
                          (unsigned long)XML_GetCurrentLineNumber(p), XML_ErrorString(XML_GetErrorCode(p)));
    } else if (d->failed) {
        st = d->failed;
    } else if (d->count == 0) {
        st = emo_fail(EMO_EFORMAT, "%s: no XML elements", name);
    }
    XML_ParserFree(p);
    if (st) dom_free(d);
    return st;
}

static const char *dom_name(const dom *d, int i) { return d->text + d->n[i].name; }

static int dom_child(const dom *d, int i, const char *name) {
    if (i < 0) return -1;
    for (int c = d->n[i].first; c >= 0; c = d->n[c].next)
        if (strcmp(dom_name(d, c), name) == 0) return c;
    return -1;
}

static int dom_count(const dom *d, int i) {
    int k = 0;
    for (int c = d->n[i].first; c >= 0; c = d->n[c].next) k++;
    return k;
}

/* Tokens of an element's text, one number at a time. */
typedef struct tok {
    const char *p, *end;
} tok;

static tok dom_tokens(const dom *d, int i) {
    tok t = {"", ""};
    if (i >= 0 && d->n[i].text >= 0) {
        t.p = d->text + d->n[i].text;
        t.end = t.p + d->n[i].ntext;
    }
    return t;
}

static int tok_count(tok t) {
    int k = 0;
    const char *p = t.p;
    while (p < t.end) {
        while (p < t.end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
        if (p == t.end) break;
        k++;
        while (p < t.end && !(*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    }
    return k;
}

/* Next number as a double; false at the end or on a malformed token. */
static bool tok_double(tok *t, double *v) {
    while (t->p < t->end && (*t->p == ' ' || *t->p == '\t' || *t->p == '\n' || *t->p == '\r')) t->p++;
    if (t->p == t->end) return false;
    char buf[64];
    size_t n = 0;
    while (t->p < t->end && !(*t->p == ' ' || *t->p == '\t' || *t->p == '\n' || *t->p == '\r')) {
        if (n + 1 >= sizeof buf) return false;
        buf[n++] = *t->p++;
    }
    buf[n] = 0;
    char *e;
    errno = 0;
    *v = strtod(buf, &e);
    return *e == 0 && e != buf && errno != ERANGE && isfinite(*v);
}

static bool tok_int(tok *t, int *v) {
    double x;
    if (!tok_double(t, &x) || x != floor(x) || x < -2147483648.0 || x > 4294967295.0) return false;
    /* Subset words are written as signed ints; accept unsigned spellings too. */
    *v = x > 2147483647.0 ? (int)(int64_t)(x - 4294967296.0) : (int)x;
    return true;
}

/* An element holding a single number. */
static bool dom_int(const dom *d, int i, int *v) {
    tok t = dom_tokens(d, i);
    return tok_count(t) == 1 && tok_int(&t, v);
}

static bool dom_double(const dom *d, int i, double *v) {
    tok t = dom_tokens(d, i);
    return tok_count(t) == 1 && tok_double(&t, v);
}

static bool dom_text_is(const dom *d, int i, const char *s) {
    if (i < 0 || d->n[i].text < 0) return false;
    const char *p = d->text + d->n[i].text, *end = p + d->n[i].ntext;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\n' || end[-1] == '\r' || end[-1] == '\t')) end--;
    return (size_t)(end - p) == strlen(s) && memcmp(p, s, (size_t)(end - p)) == 0;
}

/* ---- cascade ------------------------------------------------------------ */

void emo_cascade_free(emo_cascade *c) {
    if (!c) return;
    free(c->stages);
    free(c->trees);
    free(c->nodes);
    free(c->leaves);
    free(c->subsets);
    free(c->haar);
    free(c->lbp);
    memset(c, 0, sizeof *c);
}

static void *grow(void *p, int *cap, int need, size_t elem) {
    if (need <= *cap) return p;
    int ncap = *cap ? *cap : 256;
    while (ncap < need) ncap *= 2;
    void *q = realloc(p, (size_t)ncap * elem);
    if (q) *cap = ncap;
    return q;
}

#define GROW(arr, cap, need)                                                   \
    do {                                                                       \
        void *q_ = grow((arr), &(cap), (need), sizeof *(arr));                 \
        if (!q_) return emo_fail(EMO_ENOMEM, "%s: out of memory", name);       \
        (arr) = q_;                                                            \
    } while (0)

static int read_stages(emo_cascade *c, const dom *d, int root, const char *name) {
    int stages = dom_child(d, root, "stages");
    if (stages < 0) return emo_fail(EMO_EFORMAT, "%s: no <stages>", name);
    int nstages = dom_count(d, stages);
    if (nstages == 0) return emo_fail(EMO_EFORMAT, "%s: the cascade has zero stages", name);
    if (nstages > EMO_CASCADE_MAX_STAGES)
        return emo_fail(EMO_ELIMIT, "%s: %d stages, above the limit of %d", name, nstages, EMO_CASCADE_MAX_STAGES);
    c->stages = calloc((size_t)nstages, sizeof *c->stages);
    if (!c->stages) return emo_fail(EMO_ENOMEM, "%s: out of memory", name);
    int subset_words = (c->ncategories + 31) / 32;
    int node_step = 3 + (c->ncategories > 0 ? subset_words : 1);
    int cap_trees = 0, cap_nodes = 0, cap_leaves = 0, cap_subsets = 0;
    c->max_nodes = 0;
    int si = 0;
    for (int s = d->n[stages].first; s >= 0; s = d->n[s].next, si++) {
        emo_cascade_stage *st = &c->stages[si];
        double thr;
        if (!dom_double(d, dom_child(d, s, "stageThreshold"), &thr))
            return emo_fail(EMO_EFORMAT, "%s: stage %d: missing or bad <stageThreshold>", name, si);
        st->threshold = (float)thr - 1e-5f;
        int weak = dom_child(d, s, "weakClassifiers");
        if (weak < 0 || d->n[weak].first < 0)
            return emo_fail(EMO_EFORMAT, "%s: stage %d: no <weakClassifiers>", name, si);
        st->first_tree = c->ntrees;
        for (int w = d->n[weak].first; w >= 0; w = d->n[w].next) {
            int in = dom_child(d, w, "internalNodes"), lv = dom_child(d, w, "leafValues");
            if (in < 0 || lv < 0)
                return emo_fail(EMO_EFORMAT, "%s: stage %d tree %d: missing <internalNodes> or <leafValues>", name, si,
                                c->ntrees - st->first_tree);
            tok ti = dom_tokens(d, in), tl = dom_tokens(d, lv);
            int nin = tok_count(ti), nlv = tok_count(tl);
            if (nin == 0 || nin % node_step != 0)
                return emo_fail(EMO_EFORMAT, "%s: stage %d: <internalNodes> has %d numbers, not a multiple of %d", name,
                                si, nin, node_step);
            int nn = nin / node_step;
            if (nlv != nn + 1)
                return emo_fail(EMO_EFORMAT, "%s: stage %d: a tree with %d nodes has %d leaf values (want %d)", name, si,
                                nn, nlv, nn + 1);
            if (c->nnodes + nn > EMO_CASCADE_MAX_NODES)
                return emo_fail(EMO_ELIMIT, "%s: more than %d tree nodes", name, EMO_CASCADE_MAX_NODES);
            GROW(c->trees, cap_trees, c->ntrees + 1);
            GROW(c->nodes, cap_nodes, c->nnodes + nn);
            GROW(c->leaves, cap_leaves, c->nleaves + nn + 1 + 16); /* 16 spare: vector reads */
            if (subset_words) GROW(c->subsets, cap_subsets, (c->nnodes + nn) * 8);
            emo_cascade_tree *t = &c->trees[c->ntrees++];
            t->first_node = c->nnodes;
            t->nnodes = nn;
            t->first_leaf = c->nleaves;
            for (int k = 0; k < nn; k++) {
                emo_cascade_node *nd = &c->nodes[c->nnodes + k];
                bool ok = tok_int(&ti, &nd->left) && tok_int(&ti, &nd->right) && tok_int(&ti, &nd->feature);
                if (ok && subset_words) {
                    uint32_t *sub = c->subsets + (size_t)(c->nnodes + k) * 8;
                    memset(sub, 0, 8 * sizeof *sub);
                    for (int j = 0; j < subset_words && ok; j++) {
                        int v = 0;
                        ok = tok_int(&ti, &v);
                        if (j < 8) sub[j] = (uint32_t)v;
                    }
                    nd->threshold = 0.f;
                } else if (ok) {
                    double v;
                    ok = tok_double(&ti, &v);
                    nd->threshold = (float)v;
                }
                if (!ok) return emo_fail(EMO_EFORMAT, "%s: stage %d: malformed number in <internalNodes>", name, si);
                /* Children must come later in the list (as traincascade writes
                 * them): this also rules out loops. */
                if ((nd->left > 0 && (nd->left <= k || nd->left >= nn)) || (nd->left <= 0 && -nd->left > nn) ||
                    (nd->right > 0 && (nd->right <= k || nd->right >= nn)) || (nd->right <= 0 && -nd->right > nn))
                    return emo_fail(EMO_EFORMAT, "%s: stage %d: tree node %d has child indices %d, %d out of range",
                                    name, si, k, nd->left, nd->right);
            }
            for (int k = 0; k <= nn; k++) {
                double v;
                if (!tok_double(&tl, &v))
                    return emo_fail(EMO_EFORMAT, "%s: stage %d: malformed number in <leafValues>", name, si);
                c->leaves[c->nleaves + k] = (float)v;
            }
            c->nnodes += nn;
            c->nleaves += nn + 1;
            c->max_nodes = EMO_MAX(c->max_nodes, nn);
        }
        st->ntrees = c->ntrees - st->first_tree;
    }
    c->nstages = nstages;
    return EMO_OK;
}

static int read_features(emo_cascade *c, const dom *d, int root, const char *name) {
    int feats = dom_child(d, root, "features");
    if (feats < 0) return emo_fail(EMO_EFORMAT, "%s: no <features>", name);
    int n = dom_count(d, feats);
    if (n == 0) return emo_fail(EMO_EFORMAT, "%s: <features> is empty", name);
    if (n > EMO_CASCADE_MAX_NODES) return emo_fail(EMO_ELIMIT, "%s: too many features (%d)", name, n);
    if (c->feature_type == EMO_FEATURE_HAAR) c->haar = calloc((size_t)n, sizeof *c->haar);
    else c->lbp = calloc((size_t)n, sizeof *c->lbp);
    if (!c->haar && !c->lbp) return emo_fail(EMO_ENOMEM, "%s: out of memory", name);
    int i = 0;
    for (int f = d->n[feats].first; f >= 0; f = d->n[f].next, i++) {
        if (c->feature_type == EMO_FEATURE_LBP) {
            emo_lbp_feature *lf = &c->lbp[i];
            tok t = dom_tokens(d, dom_child(d, f, "rect"));
            if (tok_count(t) != 4 || !tok_int(&t, &lf->x) || !tok_int(&t, &lf->y) || !tok_int(&t, &lf->w) ||
                !tok_int(&t, &lf->h))
                return emo_fail(EMO_EFORMAT, "%s: LBP feature %d: <rect> needs 4 integers", name, i);
            if (lf->x < 0 || lf->y < 0 || lf->w <= 0 || lf->h <= 0 || lf->x + 3 * lf->w > c->win_w ||
                lf->y + 3 * lf->h > c->win_h)
                return emo_fail(EMO_EFORMAT, "%s: LBP feature %d (%d %d %d %d) lies outside the %dx%d window", name, i,
                                lf->x, lf->y, lf->w, lf->h, c->win_w, c->win_h);
            continue;
        }
        emo_haar_feature *hf = &c->haar[i];
        int rects = dom_child(d, f, "rects");
        if (rects < 0) return emo_fail(EMO_EFORMAT, "%s: Haar feature %d: no <rects>", name, i);
        int tilted = 0, tnode = dom_child(d, f, "tilted");
        if (tnode >= 0 && !dom_int(d, tnode, &tilted))
            return emo_fail(EMO_EFORMAT, "%s: Haar feature %d: bad <tilted>", name, i);
        hf->tilted = tilted != 0;
        c->has_tilted |= hf->tilted;
        for (int r = d->n[rects].first; r >= 0; r = d->n[r].next) {
            if (hf->nrects == 3) return emo_fail(EMO_EFORMAT, "%s: Haar feature %d has more than 3 rects", name, i);
            int k = hf->nrects++;
            tok t = dom_tokens(d, r);
            double wgt;
            if (tok_count(t) != 5 || !tok_int(&t, &hf->x[k]) || !tok_int(&t, &hf->y[k]) || !tok_int(&t, &hf->w[k]) ||
                !tok_int(&t, &hf->h[k]) || !tok_double(&t, &wgt))
                return emo_fail(EMO_EFORMAT, "%s: Haar feature %d rect %d: want \"x y w h weight\"", name, i, k);
            hf->weight[k] = (float)wgt;
            int x = hf->x[k], y = hf->y[k], w = hf->w[k], h = hf->h[k];
            bool inside = hf->tilted
                              ? x - h >= 0 && y >= 0 && w >= 0 && h >= 0 && x + w <= c->win_w && y + w + h <= c->win_h
                              : x >= 0 && y >= 0 && w >= 0 && h >= 0 && x + w <= c->win_w && y + h <= c->win_h;
            if (!inside)
                return emo_fail(EMO_EFORMAT, "%s: Haar feature %d rect (%d %d %d %d%s) lies outside the %dx%d window",
                                name, i, x, y, w, h, hf->tilted ? ", tilted" : "", c->win_w, c->win_h);
        }
        if (hf->nrects < 1) return emo_fail(EMO_EFORMAT, "%s: Haar feature %d has no rects", name, i);
    }
    c->nfeatures = n;
    for (int k = 0; k < c->nnodes; k++)
        if (c->nodes[k].feature < 0 || c->nodes[k].feature >= n)
            return emo_fail(EMO_EFORMAT, "%s: tree node uses feature %d, but there are %d features", name,
                            c->nodes[k].feature, n);
    return EMO_OK;
}

static int read_cascade(emo_cascade *c, const dom *d, const char *name) {
    int top = d->count > 0 ? d->n[0].first : -1;
    if (top < 0 || strcmp(dom_name(d, 0), "opencv_storage") != 0)
        return emo_fail(EMO_EFORMAT, "%s: not an OpenCV cascade (no <opencv_storage> element)", name);
    const char *type = d->n[top].type_id >= 0 ? d->text + d->n[top].type_id : "";
    if (strcmp(type, "opencv-haar-classifier") == 0 ||
        (dom_child(d, top, "stageType") < 0 && dom_child(d, top, "size") >= 0))
        return emo_fail(EMO_EUNSUPPORTED,
                        "%s: old pre-2.4 cascade format (opencv-haar-classifier) is not supported; use a cascade "
                        "written by opencv_traincascade (<cascade> with <stageType>)",
                        name);
    int st = dom_child(d, top, "stageType");
    if (st < 0) return emo_fail(EMO_EFORMAT, "%s: no <stageType> in <%s>", name, dom_name(d, top));
    if (!dom_text_is(d, st, "BOOST")) return emo_fail(EMO_EUNSUPPORTED, "%s: stageType is not BOOST", name);
    int ft = dom_child(d, top, "featureType");
    if (dom_text_is(d, ft, "HAAR")) c->feature_type = EMO_FEATURE_HAAR;
    else if (dom_text_is(d, ft, "LBP")) c->feature_type = EMO_FEATURE_LBP;
    else if (dom_text_is(d, ft, "HOG"))
        return emo_fail(EMO_EUNSUPPORTED, "%s: featureType HOG is not supported (only HAAR and LBP)", name);
    else return emo_fail(EMO_EUNSUPPORTED, "%s: missing or unsupported featureType (only HAAR and LBP)", name);
    if (!dom_int(d, dom_child(d, top, "width"), &c->win_w) || !dom_int(d, dom_child(d, top, "height"), &c->win_h))
        return emo_fail(EMO_EFORMAT, "%s: missing or bad <width>/<height>", name);
    if (c->win_w < 3 || c->win_h < 3 || c->win_w > EMO_CASCADE_MAX_WIN || c->win_h > EMO_CASCADE_MAX_WIN)
        return emo_fail(EMO_ELIMIT, "%s: window size %dx%d is outside 3..%d", name, c->win_w, c->win_h,
                        EMO_CASCADE_MAX_WIN);
    int fp = dom_child(d, top, "featureParams");
    if (fp < 0) return emo_fail(EMO_EFORMAT, "%s: no <featureParams>", name);
    int mc = dom_child(d, fp, "maxCatCount");
    c->ncategories = 0;
    if (mc >= 0 && !dom_int(d, mc, &c->ncategories))
        return emo_fail(EMO_EFORMAT, "%s: bad <maxCatCount>", name);
    if (c->feature_type == EMO_FEATURE_LBP && c->ncategories != 256)
        return emo_fail(EMO_EUNSUPPORTED, "%s: LBP cascade with maxCatCount %d (want 256)", name, c->ncategories);
    if (c->feature_type == EMO_FEATURE_HAAR && c->ncategories != 0)
        return emo_fail(EMO_EUNSUPPORTED, "%s: Haar cascade with maxCatCount %d (want 0)", name, c->ncategories);
    int s = read_stages(c, d, top, name);
    if (s) return s;
    return read_features(c, d, top, name);
}

int emo_cascade_parse(emo_cascade *c, const char *xml, size_t size, const char *name) {
    if (!c) return emo_fail(EMO_EINVAL, "emo_cascade_parse: no cascade given");
    memset(c, 0, sizeof *c);
    if (!name) name = "cascade";
    if (!xml || size == 0) return emo_fail(EMO_EFORMAT, "%s: empty file", name);
    dom d;
    int s = dom_parse(&d, xml, size, name);
    if (s) return s;
    s = read_cascade(c, &d, name);
    dom_free(&d);
    if (s) emo_cascade_free(c);
    return s;
}

int emo_cascade_load(emo_cascade *c, const char *path) {
    if (c) memset(c, 0, sizeof *c);
    uint8_t *bytes;
    size_t size;
    int s = emo_read_file(path, EMO_CASCADE_MAX_FILE, &bytes, &size);
    if (s) return s;
    s = emo_cascade_parse(c, (const char *)bytes, size, path);
    free(bytes);
    return s;
}
