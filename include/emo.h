/* emo.h — real-time facial emotion recognition in C. The only public header.
 *
 * USAGE
 *   #include <emo.h>          // cc app.c $(pkg-config --cflags --libs emo)
 *
 *   emo_image img = {0};
 *   if (emo_image_load(&img, "photo.jpg", 1) != EMO_OK) {     // 1 = grey
 *       fprintf(stderr, "%s\n", emo_last_error());
 *       return 1;
 *   }
 *   ... detect faces, classify them (sections below) ...
 *   emo_image_free(&img);
 *
 * OWNERSHIP
 *   - Structs are allocated by the caller (on the stack is fine), zeroed with
 *     `= {0}` before first use. Functions that fill an emo_image reuse its
 *     buffer when `capacity` is large enough and grow it otherwise, so a
 *     per-frame loop allocates nothing once warm. emo_image_free releases it.
 *   - Opaque objects (detectors, models, pipelines) come from the _open and _load functions
 *     and go back with the matching _close or _free; closing NULL is a no-op.
 *   - Output arrays (faces, probabilities) are owned by the caller, who passes
 *     their capacity; functions return how many entries they filled.
 *
 * ERRORS
 *   Every function that can fail returns an emo_status: EMO_OK (0) or a
 *   negative EMO_E* code. emo_last_error() then gives a readable message
 *   naming the file or argument and the problem, for the calling thread.
 *   On failure, outputs are left valid (freeable) and nothing half-written is
 *   left on disk: files are written to a temporary name and renamed.
 *   The library never prints, never calls exit() or abort().
 *
 * LIMITS
 *   Images: at most EMO_MAX_SIDE pixels per side and EMO_MAX_PIXELS pixels in
 *   all; larger images are refused before anything is allocated.
 *
 * THREADS
 *   Functions are reentrant; an object (detector, model, pipeline) is used by
 *   one thread at a time. Functions that take a `threads` parameter spread
 *   their own work over that many threads (0 = all cores).
 */
#ifndef EMO_H
#define EMO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EMO_VERSION_STRING "0.1.0"

/* ======================================================================== */
/* Errors                                                                   */
/* ======================================================================== */

/* X(name, value, message) */
#define EMO_STATUS_MAP(X)                                              \
    X(EINVAL, -1, "invalid argument")                                  \
    X(ENOMEM, -2, "out of memory")                                     \
    X(EIO, -3, "input/output error")                                   \
    X(EFORMAT, -4, "malformed data")                                   \
    X(ELIMIT, -5, "size above the documented limit")                   \
    X(EUNSUPPORTED, -6, "unsupported format or feature")               \
    X(ENOTFOUND, -7, "not found")                                      \
    X(ENUMERIC, -8, "numerical failure (NaN or Inf)")                  \
    X(ESTATE, -9, "object in the wrong state for this call")           \
    X(EEOF, -10, "end of stream")                                      \
    X(EAGAIN, -11, "not ready, try again")

typedef enum emo_status {
    EMO_OK = 0,
#define EMO_STATUS_ENUM_(name, value, msg) EMO_##name = value,
    EMO_STATUS_MAP(EMO_STATUS_ENUM_)
#undef EMO_STATUS_ENUM_
} emo_status;

/* Fixed text for a status code ("invalid argument"); never NULL. */
const char *emo_strerror(int status);
/* The calling thread's message for its last failure ("x.png: truncated PNG
 * data"); "" if there was none. Valid until the next failing call. */
const char *emo_last_error(void);
/* Library version, "MAJOR.MINOR.PATCH". */
const char *emo_version(void);

/* ======================================================================== */
/* Images (src/image.c)                                                     */
/* ======================================================================== */

#define EMO_MAX_SIDE 16384
#define EMO_MAX_PIXELS 256000000u /* 256 Mpixel */

/* 8-bit interleaved pixels: channels 1 (grey), 3 (RGB) or 4 (RGBA).
 * Row y starts at data + y * stride. `capacity` is the allocated size in
 * bytes, so buffers can be reused frame after frame. */
typedef struct emo_image {
    int width, height, channels, stride;
    uint8_t *data;
    size_t capacity;
} emo_image;

typedef enum emo_image_format {
    EMO_FORMAT_UNKNOWN = 0,
    EMO_FORMAT_JPEG,
    EMO_FORMAT_PNG
} emo_image_format;

typedef enum emo_interp {
    EMO_INTERP_LINEAR = 0, /* bilinear, pixel centres at +0.5 (as OpenCV INTER_LINEAR) */
    EMO_INTERP_AREA        /* pixel-area average (as OpenCV INTER_AREA) */
} emo_interp;

/* (Re)shape img to w x h x channels, reusing its buffer if large enough.
 * Pixel contents are unspecified afterwards. */
int emo_image_alloc(emo_image *img, int w, int h, int channels);
void emo_image_free(emo_image *img);
/* Wraps caller-owned pixels without copying (capacity 0: never freed or grown
 * by the library; emo_image_free on it only forgets the pointer). */
emo_image emo_image_wrap(uint8_t *data, int w, int h, int channels, int stride);

/* Decode JPEG or PNG (detected from the bytes, not the name).
 * channels: 0 keeps the file's own (grey, RGB or RGBA), or 1, 3, 4 to convert.
 * Greyscale conversion uses ITU-R BT.601 weights with OpenCV's rounding.
 * A JPEG's EXIF orientation is applied, as OpenCV's imread does, so portrait
 * photos from phones come out upright (width and height swap for 90 degrees). */
int emo_image_load(emo_image *out, const char *path, int channels);
int emo_image_decode(emo_image *out, const void *bytes, size_t size, int channels);
/* Format of an encoded buffer from its signature. */
emo_image_format emo_image_sniff(const void *bytes, size_t size);
/* Format from a file name's extension (.jpg, .jpeg, .png; any case). */
emo_image_format emo_image_format_of_path(const char *path);
/* Encode; *bytes is malloc'ed, the caller frees it. quality 1..100 (JPEG). */
int emo_image_encode(const emo_image *img, emo_image_format fmt, int quality,
                     uint8_t **bytes, size_t *size);
/* Save by the file's extension (.jpg/.jpeg or .png), atomically. */
int emo_image_save(const emo_image *img, const char *path, int quality);

/* RGB(A) -> grey (BT.601, OpenCV's fixed-point rounding); grey is copied. */
int emo_image_to_grey(const emo_image *src, emo_image *dst);
/* Any channel count to any (grey replicated, alpha 255 or dropped). */
int emo_image_convert(const emo_image *src, emo_image *dst, int channels);
int emo_image_resize(const emo_image *src, emo_image *dst, int w, int h, emo_interp interp);
/* Copy of the rectangle (x, y, w, h); parts outside src replicate the border. */
int emo_image_crop(const emo_image *src, emo_image *dst, int x, int y, int w, int h);
/* dst(x, y) = src(m[0]*x + m[1]*y + m[2], m[3]*x + m[4]*y + m[5]), bilinear,
 * border replicated. m maps destination to source coordinates. */
int emo_image_warp_affine(const emo_image *src, emo_image *dst, const float m[6], int w, int h);

/* ======================================================================== */
/* Datasets for training (src/data.c)                                       */
/* ======================================================================== */
/* Labelled faces held in memory as 48x48 grey, read from
 *   - the Kaggle FER2013 CSV (`emotion,pixels,Usage`, plain or gzip), with the
 *     FER+ votes (`fer2013new.csv`, aligned row by row) as optional labels;
 *   - a folder per class, `ROOT/happy/x.jpg ...`, or with split folders,
 *     `ROOT/train/happy/x.jpg`, `ROOT/val/...`, `ROOT/test/...` (JPEG or PNG,
 *     any size: converted to grey and resized to 48x48 with area averaging);
 *   - an index CSV, `path,label[,split]` (paths relative to the CSV's folder),
 * and turned into float batches (N, 1, 48, 48) with on-the-fly augmentation.
 *
 *   emo_dataset ds = {0};
 *   emo_dataset_params p = emo_dataset_params_default();
 *   p.labels = EMO_LABELS_SOFT;                     // FER+ vote distributions
 *   p.classes = "happy,sad,neutral,angry";          // a 4-class model
 *   if (emo_dataset_load_fer2013(&ds, "fer2013.csv.gz", "fer2013new.csv", &p)) fail();
 *   int n = emo_dataset_rows(&ds, EMO_SPLIT_TRAIN, NULL, 0);
 *   int *rows = malloc(n * sizeof *rows);
 *   emo_dataset_rows(&ds, EMO_SPLIT_TRAIN, rows, n);
 *   emo_augment aug = emo_augment_default();
 *   for (int epoch = 0; epoch < epochs; epoch++) {
 *       uint64_t s = emo_seed_mix(seed, epoch);
 *       emo_shuffle(rows, n, s);
 *       for (int b = 0; b + B <= n; b += B)   // x (B,1,48,48), y (B), soft (B,ds.nclasses)
 *           emo_dataset_batch(&ds, rows + b, B, &aug, s, 0.5f, 0.25f, x, y, soft, 0);
 *   }
 *   emo_dataset_free(&ds);
 *
 * CLASSES. A dataset's classes are the model's outputs, in order. By default
 * the 7 FER2013 classes in FER2013 order: angry disgust fear happy sad surprise
 * neutral (0..6). `params.classes` picks others: "happy,sad,neutral,angry" (in
 * that output order), and "negative=angry+disgust+fear+sad" merges classes.
 * Names are case-insensitive and synonyms map to the canonical names
 * (happiness -> happy, anger -> angry, sadness -> sad, surprised -> surprise,
 * fearful -> fear, disgusted -> disgust, contemptuous -> contempt); folder and
 * index datasets may also use names of their own ("cat,dog"). Rows whose label
 * is a known emotion left out of the list are dropped and counted
 * (dropped_class); a label that is neither selected nor a known emotion is an
 * error (it is most likely a typo). Every class must end up with rows.
 *
 * FER+ LABELS. Votes for contempt, unknown and not-a-face are dropped (unless
 * contempt is selected), as are votes for unselected classes; the rest are
 * renormalised to a distribution (EMO_LABELS_SOFT keeps it in `soft`). Rows
 * with no vote left are dropped and counted (dropped_novotes). The hard label
 * is the most voted class; on a tie it is the row's original FER2013 label if
 * that is among the tied classes, else the tied class that comes first in the
 * class list.
 *
 * SPLITS. Each row is EMO_SPLIT_TRAIN, _VAL, _TEST (FER2013 `Usage` Training,
 * PublicTest, PrivateTest; split folders; the index's split column) or
 * _NONE; emo_dataset_split_random gives _NONE rows a seeded, per-class
 * (stratified) split, 80/10/10 by default.
 *
 * WARNINGS. Unreadable images are skipped, counted in `skipped` and reported
 * to params.warn (if set) one message each, in file order. Malformed CSVs,
 * labels out of range, a vote file whose rows do not match the CSV's, unknown
 * labels and empty classes are errors naming the file and line.
 *
 * DETERMINISM. Augmentation of a row depends only on (seed, row index): the
 * same seed gives the same batch whatever the thread count, batch size or
 * order. Pass a different seed each epoch (emo_seed_mix(seed, epoch)).
 *
 * LIMITS. At most EMO_DATASET_MAX_CLASSES classes, names up to
 * EMO_CLASS_NAME_MAX - 1 bytes, 2^31 - 1 rows, CSV lines up to 1 MiB. */

#define EMO_DATA_SIDE 48
#define EMO_DATA_PIXELS (EMO_DATA_SIDE * EMO_DATA_SIDE)
#define EMO_DATASET_MAX_CLASSES 16
#define EMO_CLASS_NAME_MAX 32

typedef enum emo_split {
    EMO_SPLIT_ANY = -1, /* in queries: every row */
    EMO_SPLIT_NONE = 0, /* the data gave no split */
    EMO_SPLIT_TRAIN = 1,
    EMO_SPLIT_VAL = 2,
    EMO_SPLIT_TEST = 3
} emo_split;

typedef enum emo_label_mode {
    EMO_LABELS_FER2013 = 0, /* the CSV's `emotion` column (or the folder / index label) */
    EMO_LABELS_MAJORITY,    /* FER+ votes: the most voted class */
    EMO_LABELS_SOFT         /* FER+ votes: the distribution in `soft`, majority in `labels` */
} emo_label_mode;

typedef struct emo_dataset_params {
    const char *classes;   /* class list (see CLASSES); NULL or "" = the 7 FER2013 classes */
    emo_label_mode labels; /* MAJORITY and SOFT need a votes file */
    int square_crop;       /* images: 1 = centre-crop to a square before resizing, 0 = stretch */
    int threads;           /* image decoding threads, 0 = all cores */
    void (*warn)(void *user, const char *message); /* skipped images; may be NULL */
    void *warn_user;
} emo_dataset_params;

/* All arrays are malloc'ed and owned by the dataset; emo_dataset_free
 * releases them. Row i's pixels are pixels + i * EMO_DATA_PIXELS. */
typedef struct emo_dataset {
    int count;    /* rows */
    int nclasses; /* classes, the model's outputs */
    char classes[EMO_DATASET_MAX_CLASSES][EMO_CLASS_NAME_MAX]; /* their names, in order */
    uint8_t *pixels; /* (count, 48, 48) grey, row-major */
    int *labels;     /* (count) class 0..nclasses-1 */
    float *soft;     /* (count, nclasses) distributions summing to 1; NULL unless EMO_LABELS_SOFT */
    uint8_t *split;  /* (count) emo_split of each row */
    int *line;       /* (count) line in the source CSV (header = line 1); 0 for folder images */
    int dropped_class;   /* rows whose label is a known emotion not in the class list */
    int dropped_novotes; /* FER+ rows with no vote left for the selected classes */
    int skipped;         /* unreadable images */
    int capacity;        /* rows allocated */
} emo_dataset;

emo_dataset_params emo_dataset_params_default(void);
/* Loads FER2013 (csv: plain or gzip, detected from the bytes). votes: the
 * FER+ file, needed by EMO_LABELS_MAJORITY / SOFT (not read with
 * EMO_LABELS_FER2013, so it may be NULL). Columns
 * are found by their header names; `Usage` is optional. On failure ds is
 * left empty (count 0) and freeable. */
int emo_dataset_load_fer2013(emo_dataset *ds, const char *csv, const char *votes,
                             const emo_dataset_params *p);
/* Loads a folder-per-class tree (with or without train/val/test folders;
 * also accepted: training, validation, valid, publictest, privatetest). */
int emo_dataset_load_folder(emo_dataset *ds, const char *root, const emo_dataset_params *p);
/* Loads an index CSV: `path,label[,split]`, header optional. */
int emo_dataset_load_index(emo_dataset *ds, const char *csv, const emo_dataset_params *p);
/* Any of the three: a folder, a CSV whose header has a `pixels` column
 * (FER2013), or an index CSV. votes must be NULL except for FER2013. */
int emo_dataset_load(emo_dataset *ds, const char *path, const char *votes, const emo_dataset_params *p);
void emo_dataset_free(emo_dataset *ds);

/* Gives rows without a split (EMO_SPLIT_NONE) a random split, per class, in
 * the proportions train : val : 1 - train - val (rounded per class). Rows
 * that already have a split keep it. EMO_EINVAL for fractions outside [0, 1]. */
int emo_dataset_split_random(emo_dataset *ds, uint64_t seed, float train, float val);
/* Indices of the rows in `split` (EMO_SPLIT_ANY: all), ascending. Writes at
 * most cap of them and returns how many there are in all (rows may be NULL
 * when cap is 0, to size the array). */
int emo_dataset_rows(const emo_dataset *ds, int split, int *rows, int cap);
/* counts[c] = rows of class c in `split` (counts holds ds->nclasses ints);
 * returns the total. */
int emo_dataset_class_counts(const emo_dataset *ds, int split, int *counts);
/* "train"/"training", "val"/"validation"/"valid"/"publictest",
 * "test"/"privatetest" (any case) -> EMO_SPLIT_*; else EMO_EINVAL. */
int emo_split_from_name(const char *name);
const char *emo_split_name(int split); /* "train", "val", "test", "none", "any" */
/* Canonical emotion name for a name or synonym ("Happiness" -> "happy"), or
 * NULL if it is not one of the 7 FER2013 emotions or contempt. */
const char *emo_class_canonical(const char *name);

/* Augmentation: each field switches one transform (0 = off). */
typedef struct emo_augment {
    int shift;        /* random crop: shift by up to this many pixels each way */
    int flip;         /* 1: mirror left-right with probability 1/2 */
    float rotate;     /* rotate by up to this many degrees each way */
    float scale;      /* zoom by a factor in [1 - scale, 1 + scale] */
    float brightness; /* multiply pixels by a factor in [1 - b, 1 + b] */
    float contrast;   /* scale the deviation from the image mean by [1 - c, 1 + c] */
    float erase;      /* probability of erasing one rectangle (2-33% of the image,
                         aspect 0.3-3.3) to the mean, 0 after normalisation */
} emo_augment;

/* shift 4, flip, rotate 10, scale 0.1, brightness 0.2, contrast 0.2, erase 0.25. */
emo_augment emo_augment_default(void);
/* "default", "none", or key=value pairs over the defaults, e.g.
 * "rotate=15,erase=0" (keys: the field names; shift 0..24, flip 0/1,
 * rotate 0..180, scale/brightness/contrast 0..0.99, erase 0..1).
 * EMO_EINVAL names the bad pair. */
int emo_augment_parse(const char *spec, emo_augment *out);

/* One concrete draw of the augmentation. Geometry: the output pixel p is the
 * source at c + F R(-angle) (p - c - (dx, dy)) / scale, c = (23.5, 23.5), F
 * the mirror when flip; bilinear, border replicated. Then
 * v = clamp(((v * brightness) - m) * contrast + m, 0, 255), m the image mean. */
typedef struct emo_transform {
    int flip;
    float angle;      /* degrees, counter-clockwise as seen */
    float scale;      /* > 1 zooms in */
    float dx, dy;     /* shift in pixels (right, down) */
    float brightness; /* factor, 1 = unchanged */
    float contrast;   /* factor, 1 = unchanged */
    int erase_x, erase_y, erase_w, erase_h; /* erased rectangle; erase_w 0 = none */
} emo_transform;

emo_transform emo_transform_identity(void);
/* Draws a transform from aug with a generator seeded by `seed`. The draws
 * come in a fixed order, so switching one transform off leaves the others'
 * values unchanged. aug NULL = identity. */
void emo_augment_draw(const emo_augment *aug, uint64_t seed, emo_transform *t);
/* src (48, 48) uint8 -> dst (48, 48) float, x = (v / 255 - mean) / std. */
void emo_transform_apply(const emo_transform *t, const uint8_t *src, float *dst, float mean, float std);

/* Assembles a batch of the given rows: x (n, 1, 48, 48) normalised as
 * above; y (n) labels; soft (n, nclasses) distributions (one-hot when the
 * dataset has none). y and soft may be NULL. aug NULL = no augmentation; row
 * rows[i] is augmented with emo_augment_draw(aug, emo_seed_mix(seed, rows[i])).
 * threads: 0 = all cores. EMO_EINVAL for a row out of range or std <= 0. */
int emo_dataset_batch(const emo_dataset *ds, const int *rows, int n, const emo_augment *aug,
                      uint64_t seed, float mean, float std, float *x, int *y, float *soft,
                      int threads);
/* Seeds derived from a seed and a counter (epoch, row): SplitMix64 finaliser. */
uint64_t emo_seed_mix(uint64_t seed, uint64_t k);
/* Fisher-Yates shuffle of a[0..n), seeded. */
void emo_shuffle(int *a, int n, uint64_t seed);
/* A grey grid for looking at augmentation: one line per row in `rows`, the
 * original first, then `copies` augmented versions (copy j = 0, 1, ... as
 * emo_dataset_batch with seed + j makes it), 48x48 cells 2 pixels apart on white; erased
 * rectangles show mid grey. At most 1000 x 1000 cells. */
int emo_dataset_preview(const emo_dataset *ds, const int *rows, int n, int copies,
                        const emo_augment *aug, uint64_t seed, emo_image *out);

/* ======================================================================== */
/* Drawing (src/draw.c) and plots (src/plot.c)                              */
/* ======================================================================== */
/* Overlays for result images and live video: a face box, a label
 * ("happy 87%"), the class's colour emoji scaled to the face, a bar chart of
 * the class probabilities beside the face, and an fps counter.
 *
 *   emo_drawer *d;
 *   if (emo_drawer_open(&d, NULL) != EMO_OK) ...      // NULL = defaults
 *   emo_draw_item it = {.x = 120, .y = 80, .w = 150, .h = 150,
 *                       .probs = probs, .label = -1, .track_id = -1};
 *   emo_draw_faces(d, &frame, &it, 1, EMO_DRAW_ALL, NULL);  // frame: RGB
 *   emo_draw_fps(d, &frame, 29.7f);
 *   emo_drawer_close(d);
 *
 * Images may be grey (drawn in luma), RGB or RGBA (colour drawn, alpha left
 * as it was). Text is DejaVu Sans through cairo; emoji come from Noto Color
 * Emoji (fixed-size colour bitmaps, resampled and alpha-blended here).
 * Everything is clipped to the image; the chart is moved so that it stays
 * whole inside the image, or left out if the image is too small for it.
 * The drawer keeps one layout per face of the largest frame so far.
 * A drawer caches its emoji bitmaps per size (text sizes go in half-pixel
 * steps, so cairo's glyph cache is hit too) and reuses its canvas: once warm
 * its own buffers are not reallocated, though cairo's rasteriser makes
 * short-lived allocations inside each call (~150 per face, freed before it
 * returns). About 1.3 ms per 640x360 frame with two faces.
 * One thread at a time per drawer. */

#define EMO_DRAW_MAX_CLASSES 32

typedef struct emo_draw_params {
    const char *font_path;       /* regular text font; default DejaVu Sans */
    const char *bold_font_path;  /* default DejaVu Sans Bold */
    const char *emoji_font_path; /* colour emoji font; default Noto Color Emoji;
                                    "" = draw no emoji */
    const char *const *class_names; /* nclasses names; NULL = EMO's 7 classes */
    int nclasses;                /* 1..EMO_DRAW_MAX_CLASSES (used when class_names set) */
    float text_scale;            /* multiplies every text size; default 1 */
    float panel_opacity;         /* 0..1, opacity of the dark text panels; default 0.68 */
} emo_draw_params;
extern const emo_draw_params emo_draw_params_default;

/* The 7 classes, in the FER2013 order the classifier uses:
 * angry, disgust, fear, happy, sad, surprise, neutral. */
extern const char *const emo_draw_default_classes[7];

typedef enum emo_draw_flags {
    EMO_DRAW_BOX = 1,        /* the face box, coloured by the shown class */
    EMO_DRAW_LABEL = 2,      /* "#3 happy 87%" below (or above) the box */
    EMO_DRAW_EMOJI = 4,      /* the class's emoji at the box's top-right corner */
    EMO_DRAW_CHART = 8,      /* probability bars beside the face */
    EMO_DRAW_EMOJI_OVER = 16, /* with EMO_DRAW_EMOJI: the emoji covers the face */
    EMO_DRAW_ALL = 15
} emo_draw_flags;

/* One face to draw. The box may lie partly or wholly outside the image. */
typedef struct emo_draw_item {
    float x, y, w, h;   /* face box, pixels */
    const float *probs; /* the drawer's nclasses probabilities, or NULL */
    int label;          /* class shown; -1 = the most probable (none without probs) */
    int track_id;       /* shown as "#3" when >= 0 */
} emo_draw_item;

/* Where emo_draw_faces put each part (pixels, inside the image; w = 0 when
 * that part is not drawn). */
typedef struct emo_draw_layout {
    int label[4], emoji[4], chart[4]; /* x, y, w, h */
} emo_draw_layout;

typedef struct emo_drawer emo_drawer;

/* Loads the fonts and emoji. params NULL = emo_draw_params_default. Fails
 * with EMO_ENOTFOUND naming the font file (and the Debian package) when a
 * font is missing. */
int emo_drawer_open(emo_drawer **out, const emo_draw_params *params);
void emo_drawer_close(emo_drawer *d);
/* Draws n faces onto img. No label, emoji or chart covers another face's
 * box or another annotation: in a crowd each is moved (a chart as far as a
 * few face sizes, joined by a leader line), made smaller, shortened (the
 * label to "happy 87%" or "#3") or left out, in that order; only its own
 * face may be covered, when nothing else fits. layout (may be NULL)
 * receives n entries. */
int emo_draw_faces(emo_drawer *d, emo_image *img, const emo_draw_item *items, int n, unsigned flags,
                   emo_draw_layout *layout);
/* "29.7 fps" in a panel at the top-left corner. */
int emo_draw_fps(emo_drawer *d, emo_image *img, float fps);
/* A standalone probability chart: out becomes an RGB image (dark panel on
 * white when channels = 3) or RGBA (transparent background when 4) whose
 * size follows from font_px (text height in pixels, 6..200). */
int emo_draw_chart(emo_drawer *d, const float *probs, int label, float font_px, int channels, emo_image *out);
/* The colour (0xRRGGBB) used for a class name ("happy", also "happiness",
 * "surprised"...); a fixed palette colour for names it does not know. */
uint32_t emo_draw_class_colour(const char *class_name);
/* The emoji's code point for a class name, 0 for names it does not know. */
uint32_t emo_draw_class_emoji(const char *class_name);

/* ---- Plots (src/plot.c): PNG-ready RGB images drawn with cairo ---------- */

typedef struct emo_plot_series {
    const char *name;   /* legend entry; NULL = not in the legend */
    const float *x, *y; /* n points; NaN y breaks the line */
    int n;
    uint32_t rgb;       /* 0xRRGGBB */
} emo_plot_series;

typedef struct emo_plot_axes {
    const char *title, *xlabel, *ylabel; /* any may be NULL */
    float xmin, xmax, ymin, ymax;        /* xmin == xmax (or ymin == ymax): from the data */
} emo_plot_axes;

/* Line plot with axes, ticks, grid and legend into out (RGB, width x height,
 * each 160..8192). */
int emo_plot_lines(emo_image *out, int width, int height, const emo_plot_axes *axes,
                   const emo_plot_series *series, int nseries);
/* One face track over time: probs is (n, nclasses) row-major, t in seconds;
 * one line per class in the class's colour, y from 0 to 1. class_names NULL
 * = emo_draw_default_classes (nclasses must then be 7). */
int emo_plot_timeline(emo_image *out, int width, int height, const char *title, const float *t,
                      const float *probs, int n, int nclasses, const char *const *class_names);
/* Stacked horizontal bars, one row per item (a file of a batch): row i's
 * shares are shares[i * nclasses ...] (any scale; each row is normalised to
 * its sum; a row summing to 0 is drawn grey: no face). Bars in the classes'
 * colours with a legend; row_labels (may be NULL) on the left, cut to 60
 * bytes. The height follows from nrows: rows of 22 px, thinner (down to
 * 1 px, unlabelled below 9 px) so the image stays within EMO_MAX_SIDE; more
 * rows than fit are the caller's to merge. width 320..8192. */
int emo_plot_shares(emo_image *out, int width, const char *title, const char *const *row_labels, const float *shares,
                    int nrows, int nclasses, const char *const *class_names);
/* Confusion matrix heat map: counts is (n, n) row-major, rows = true class,
 * columns = predicted. Cells are coloured by the row-normalised fraction and
 * show it ("0.83") above the count. out's size follows from n (1..32). */
int emo_plot_confusion(emo_image *out, const char *title, const double *counts, int n,
                       const char *const *class_names);

/* ======================================================================== */
/* Emotion classification: a CNN from a .emo model file (src/nn/)           */
/* ======================================================================== */

/*   emo_model *m;
 *   if (emo_model_load(&m, "models/emotion.emo") != EMO_OK) ...emo_last_error()...
 *   float probs[16 * EMO_MAX_CLASSES];             // n * emo_model_classes(m)
 *   emo_classify(m, faces, n, probs);              // faces: n grey 48x48 crops
 *   best = argmax of probs[i*K .. i*K+K-1]; emo_model_class_name(m, best)
 *   emo_model_free(m);
 *
 * The file (docs/FORMATS.md) holds the network config, the class names, the
 * input size and pixel normalisation, and the weights with batch norm folded
 * into the convolutions. Loading checks magic, version, CRC and every size
 * before allocating; a bad file gives EMO_EFORMAT/EMO_EUNSUPPORTED.
 * emo_classify runs the faces in batches of up to 64 (faster per face than
 * one at a time) and allocates only on the first call with a larger n. */
#define EMO_MAX_CLASSES 256

typedef struct emo_model emo_model;

int emo_model_load(emo_model **model, const char *path);
/* Same from bytes in memory; `name` is used in error messages. */
int emo_model_load_memory(emo_model **model, const void *bytes, size_t size, const char *name);
void emo_model_free(emo_model *model);
/* Number of classes (0 for NULL) and the name of class i (NULL if out of range). */
int emo_model_classes(const emo_model *model);
const char *emo_model_class_name(const emo_model *model, int i);
/* Face crop size the model takes (48 x 48 for the shipped models). */
void emo_model_input_size(const emo_model *model, int *w, int *h);
/* Threads for emo_classify (default 1; 0 = all cores). Several faces are
 * split between threads in chunks of 8; one face is split inside each layer.
 * On a machine busy with other programs, OMP_WAIT_POLICY=passive in the
 * environment keeps waiting threads from spinning (docs/BENCHMARKS.md). */
void emo_model_set_threads(emo_model *model, int threads);
/* Forward FLOPs per face (2 per multiply-add of conv and linear layers). */
double emo_model_flops(const emo_model *model);
/* Arithmetic of the convolutions. FP32 (the default of emo_model_load) is
 * exact float arithmetic; BF16 rounds conv inputs and weights to bfloat16
 * and accumulates in fp32 on the CPU's matrix units (AMX-BF16, or
 * AVX512-BF16): 2-3x faster, labels change for about 0.1% of faces
 * (docs/ACCURACY.md). AUTO = BF16 where the CPU has either, else FP32. BF16
 * on a CPU without them fails with EMO_EUNSUPPORTED and the model stays as
 * it was. Weights and files are the same in every precision. */
typedef enum emo_precision { EMO_PRECISION_FP32 = 0, EMO_PRECISION_BF16 = 1, EMO_PRECISION_AUTO = 2 } emo_precision;
int emo_model_set_precision(emo_model *model, emo_precision precision);
/* What the model runs in now: EMO_PRECISION_FP32 or EMO_PRECISION_BF16. */
emo_precision emo_model_precision(const emo_model *model);
/* "amx-bf16" or "avx512-bf16": the bf16 kernels this machine runs; NULL if
 * none, and then *why (may be NULL) says why. */
const char *emo_bf16_isa(const char **why);
/* "auto", "fp32", "bf16" <-> the enum (-1 / NULL for anything else). */
int emo_precision_parse(const char *name);
const char *emo_precision_name(emo_precision precision);
/* Classifies n grey crops of exactly the model's input size (any stride);
 * probs receives n * emo_model_classes(model) softmax probabilities, face
 * after face. EMO_EINVAL names the first face of the wrong size. */
int emo_classify(emo_model *model, const emo_image *faces, int n, float *probs);

/* ======================================================================== */
/* Face detection (src/cascade.c, src/detect.c, src/group.c)                */
/* ======================================================================== */
/* Viola-Jones cascades in OpenCV's XML format (the files Debian's
 * opencv-data installs), evaluated the way OpenCV 4.6's
 * CascadeClassifier::detectMultiScale does — same scales, same bit-exact
 * resize, same float arithmetic, same grouping — so the same grey image and
 * parameters give the same boxes, several times faster.
 *
 *   emo_detector *det;
 *   if (emo_detector_open(&det, "lbp") != EMO_OK) fail(emo_last_error());
 *   emo_detect_params p = emo_detect_params_default();
 *   emo_rect faces[64];
 *   int n = emo_detect(det, &grey, &p, faces, 64);  // n < 0: error
 *   for (int i = 0; i < n && i < 64; i++) use(faces[i]);
 *   emo_detector_close(det);
 *
 * CASCADES. `cascade` is a path to an .xml file or a short name looked up in
 * $EMO_CASCADE_DIR or /usr/share/opencv4/{haarcascades,lbpcascades}:
 *   haar       haarcascade_frontalface_default   lbp      lbpcascade_frontalface_improved
 *   haar-alt   haarcascade_frontalface_alt       lbp-old  lbpcascade_frontalface
 *   haar-alt2  haarcascade_frontalface_alt2      NAME     haarcascade_NAME or lbpcascade_NAME
 *   haar-tree  haarcascade_frontalface_alt_tree  (e.g. "eye", "profileface")
 * NULL or "" picks EMO_DETECT_DEFAULT_CASCADE. Only the 2.4+ format
 * (<cascade>, stageType BOOST, featureType HAAR or LBP) is read; the old
 * opencv-haar-classifier format is refused with EMO_EUNSUPPORTED.
 *
 * DEFAULT. "lbp": 2.5-4x faster than "haar-alt2", finds close-up frontal
 * faces (webcam, portraits) with few false boxes, but its 45x45 window
 * misses faces under 45 px and more turned faces (88% of the frames of the
 * shared video against 99% for haar-alt2, which however adds a false box in
 * a few frames). For photos with small faces use "haar-alt2" (see
 * docs/ACCURACY.md and docs/BENCHMARKS.md); the pipeline's photo defaults
 * (emo_pipeline_params_photo) do, with more searches on top.
 *
 * THREADS, MEMORY. A detector is used by one thread at a time; emo_detect
 * spreads its own work over p->threads threads. Buffers grow on the first
 * call for a given image size and are reused: later calls allocate nothing
 * (unless more raw hits turn up than ever before). The integral images of
 * all scales take about 50 bytes per image pixel, capped near 50 MB (scales
 * are then processed in batches; an image above 6 Mpixel needs its first
 * scale's 8 bytes per pixel at once). */
#define EMO_DETECT_DEFAULT_CASCADE "lbp"
/* The cascade of emo_pipeline_params_photo (see docs/ACCURACY.md). */
#define EMO_PHOTO_CASCADE "haar-alt2"

typedef struct emo_rect {
    int x, y, w, h;
} emo_rect;

typedef struct emo_detect_params {
    double scale_factor; /* > 1: each scale is this much larger (1.1) */
    int min_neighbors;   /* keep clusters of more than this many raw hits (3); 0 = raw hits */
    int min_size;        /* smallest face side in pixels (30) */
    int max_size;        /* largest face side, 0 = no limit (0) */
    int threads;         /* 0 = all cores */
    emo_rect roi;        /* search only here (w == 0: whole image); clipped to the image; the
                          * boxes are those found in the cropped region, in image coordinates */
} emo_detect_params;

typedef struct emo_detector emo_detector;

/* {1.1, 3, 30, 0, 0, {0}} */
emo_detect_params emo_detect_params_default(void);
/* Loads a cascade (path or short name, see above). */
int emo_detector_open(emo_detector **out, const char *cascade);
void emo_detector_close(emo_detector *d);
/* Window size the cascade was trained on (24x24 for haar, ...). */
void emo_detector_window(const emo_detector *d, int *w, int *h);
/* Finds faces in a grey (1-channel) image. Returns the number found (>= 0,
 * may exceed capacity: only the first `capacity` are written, sorted by y
 * then x) or a negative emo_status: EMO_EINVAL for a non-grey or empty image,
 * bad parameters, or min_size larger than the image (or the ROI). An image
 * smaller than the cascade window has no faces (returns 0). */
int emo_detect(emo_detector *d, const emo_image *grey, const emo_detect_params *p, emo_rect *faces, int capacity);

/* ======================================================================== */
/* Facial landmarks (src/landmarks.c)                                       */
/* ======================================================================== */
/* 68 points per face (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth
 * 48-67: the iBUG 300-W layout) from dlib's ensemble-of-regression-trees
 * model, the file Debian's libdlib-data installs (`make deps`). The file is
 * read and run by this library (no dlib at run time); the points agree with
 * dlib 19's shape_predictor within 0.01 px for the same pixels and box.
 *
 *   emo_landmarker *lm;
 *   if (emo_landmarker_open(&lm, NULL) != EMO_OK) ...   // EMO_ENOTFOUND: not installed
 *   float xy[2 * EMO_LANDMARKS_MAX];
 *   int n = emo_landmarks(lm, &grey, box, xy);          // n points: x0 y0 x1 y1 ...
 *   emo_landmarker_close(lm);
 *
 * BOX. The model was trained on the boxes of dlib's HOG face detector,
 * which are tighter than the cascades' (emo_landmark_box converts a cascade
 * box); points are found for any box, also one reaching past the image
 * (pixels outside read as 0, as in dlib).
 *
 * SHARING, THREADS. Opening the same path again returns the same model
 * (65 MB for the 68-point file) with a reference count; a model is
 * read-only after opening, so any number of threads may call emo_landmarks
 * on it at once. emo_landmarks allocates nothing (about 100 KB of stack).
 *
 * LIMITS. Files up to 1 GiB; up to EMO_LANDMARKS_MAX points, 64 cascade
 * levels, 8192 trees per level, 4096 feature pixels per level, trees of
 * depth up to 8, all of one depth. Every count is checked against these and
 * against the bytes left in the file before anything is allocated; indices,
 * sizes and values (no NaN or infinity) are checked too: a bad file fails
 * with EMO_EFORMAT naming the byte offset and the field. */
#define EMO_LANDMARKS_MAX 256
/* Where Debian's libdlib-data puts the 68-point model; $EMO_LANDMARK_MODEL
 * overrides it. */
#define EMO_LANDMARK_MODEL "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"

typedef struct emo_landmarker emo_landmarker;

typedef struct emo_landmarker_stats {
    int points, levels, trees, depth;
    size_t bytes; /* memory the model holds */
} emo_landmarker_stats;

/* path NULL or "": $EMO_LANDMARK_MODEL, else EMO_LANDMARK_MODEL. */
int emo_landmarker_open(emo_landmarker **out, const char *path);
/* The same from bytes in memory (not shared; name is for messages). */
int emo_landmarker_parse(emo_landmarker **out, const void *bytes, size_t size, const char *name);
void emo_landmarker_close(emo_landmarker *lm);
int emo_landmarker_points(const emo_landmarker *lm);
void emo_landmarker_info(const emo_landmarker *lm, emo_landmarker_stats *out);
/* Points of the face in `box` (dlib convention: the box's pixels run from
 * x to x + w - 1) of a grey image; xy receives 2 * points floats, pixel
 * coordinates (pixel centres at integers). Returns the number of points or
 * a negative emo_status (EMO_EINVAL: not grey, empty box). */
int emo_landmarks(const emo_landmarker *lm, const emo_image *grey, emo_rect box, float *xy);
/* The box emo_landmarks expects for a face box of the cascades
 * (emo_detect): the same centre, shifted and shrunk as measured on the
 * shared photos (docs/ACCURACY.md). */
emo_rect emo_landmark_box(emo_rect cascade_box);

/* Head pose in degrees from 68 landmarks: roll (in the image plane,
 * positive = head tilted clockwise as seen, i.e. the right eye as seen
 * lower), yaw (positive = face turned to its left, towards the image's
 * right) and pitch (positive = chin up). A generic 3-D head is fitted to 6
 * points (outer eye corners, nose tip, chin, mouth corners) under scaled
 * orthographic projection: roll follows the face's own tilt within a few
 * degrees (tests: a photo turned by 30 degrees); yaw and pitch carry the
 * generic head's error (some degrees to tens of degrees for unusual faces)
 * and tell frontal from turned or raised faces rather than measure them. */
int emo_head_pose(const float *xy68, float *roll, float *yaw, float *pitch);

/* ======================================================================== */
/* Video (src/video.c)                                                      */
/* ======================================================================== */
/* Reading any video FFmpeg (libavformat/libavcodec 5.1) can decode, and
 * writing H.264 in MP4 (libx264; MPEG-4 part 2 if the FFmpeg build lacks
 * libx264).
 *
 *   emo_video *v;
 *   if (emo_video_open(&v, "in.mp4") != EMO_OK) ...
 *   emo_image frame = {0};
 *   double t;
 *   int s;
 *   while ((s = emo_video_read(v, &frame, 3, &t)) == EMO_OK) { ... }
 *   if (s != EMO_EEOF) ...                   // a real failure
 *   emo_video_stats st; emo_video_get_stats(v, &st);   // st.errors: damage skipped
 *   emo_video_close(v);
 *
 * Damaged input: packets that fail to demux or decode are skipped and
 * counted, and reading goes on with the next frame that decodes, so a
 * truncated or corrupt file gives the frames that survive and then EMO_EEOF.
 * A file with no video stream fails at open ("no video stream"), as does a
 * codec this FFmpeg build cannot decode (named in the message).
 * FFmpeg's own log is silenced (av_log_set_callback) once either side is used:
 * the library prints nothing.
 * Once warm, reading and writing allocate nothing per frame beyond what
 * FFmpeg does inside its codecs. */

typedef struct emo_video emo_video;

typedef struct emo_video_info {
    int width, height;    /* of the first frame as returned (upright); later frames may differ */
    int rotation;         /* 0, 90, 180, 270: clockwise turn applied to each decoded frame
                             because the file says so (phone video); sizes above are after it */
    double fps;           /* average frame rate; 0 if unknown */
    int64_t frames;       /* estimated frame count (container's, or duration x fps); -1 unknown */
    double duration;      /* seconds; 0 if unknown */
    char codec[32];       /* "h264" */
} emo_video_info;

typedef struct emo_video_stats {
    int64_t frames;       /* frames returned so far */
    int64_t errors;       /* packets dropped as unreadable or undecodable */
    int64_t corrupt;      /* frames returned that the decoder flagged as damaged */
    int64_t missing;      /* at the end: frames the container announced that never
                             came because the file stops early (truncated) */
} emo_video_stats;

int emo_video_open(emo_video **out, const char *path);
void emo_video_close(emo_video *v);
const emo_video_info *emo_video_get_info(const emo_video *v);
void emo_video_get_stats(const emo_video *v, emo_video_stats *out);
/* Next frame into out as channels 1 (grey), 3 (RGB) or 4 (RGBA), with its
 * presentation time in seconds from the start (time_s may be NULL).
 * EMO_EEOF after the last frame. Grey is the decoded luma (Y) stretched to
 * full range, skipping the RGB conversion; for BT.601 video it is within a
 * level or two of emo_image_to_grey of the RGB frame. */
int emo_video_read(emo_video *v, emo_image *out, int channels, double *time_s);

typedef struct emo_video_writer emo_video_writer;

/* The container follows path's extension (.mp4, .mkv, .mov, .avi); frames
 * are width x height (2..EMO_MAX_SIDE; an odd size is padded by one pixel,
 * repeating the edge) at fps (0.1..1000) frames per second. The file is
 * written under a temporary name and renamed by emo_video_writer_close; an
 * output folder that cannot be written fails here. */
int emo_video_writer_open(emo_video_writer **out, const char *path, int width, int height, double fps);
/* img: grey, RGB or RGBA, width x height. */
int emo_video_write(emo_video_writer *w, const emo_image *img);
/* Flushes the encoder, finishes and renames the file, frees w. Fails (and
 * leaves no file) if no frame was written or anything failed. */
int emo_video_writer_close(emo_video_writer *w);
/* Frees w and removes the unfinished file. */
void emo_video_writer_discard(emo_video_writer *w);

/* ======================================================================== */
/* Cameras (src/camera.c)                                                   */
/* ======================================================================== */

/* A V4L2 camera (MJPEG or YUYV, converted to RGB), or a video file played at
 * its own frame rate as if it were a camera (`input`). A capture thread keeps
 * the newest frame; emo_camera_read returns it, so a slow consumer drops
 * stale frames instead of falling behind (counted by emo_camera_dropped). */
typedef struct emo_camera emo_camera;

typedef struct emo_camera_params {
    const char *device; /* "/dev/video0" */
    int width, height;  /* wanted size; the camera may choose another */
    int fps;            /* wanted frame rate; 0 = camera's default */
    const char *input;  /* video file to play instead of a device; NULL = device */
} emo_camera_params;

emo_camera_params emo_camera_params_default(void);
/* Fails with EMO_ENOTFOUND if the device does not exist. */
int emo_camera_open(emo_camera **out, const emo_camera_params *params);
/* Actual frame size. */
int emo_camera_size(const emo_camera *c, int *width, int *height);
/* Waits up to timeout_ms (-1: forever) for a frame newer than the last one
 * read and copies it into frame (RGB, or grey if frame->channels is 1 on
 * entry). EMO_EAGAIN on timeout, EMO_EEOF at the end of an input file,
 * EMO_EIO when the camera disappears. */
int emo_camera_read(emo_camera *c, emo_image *frame, double *time_s, int timeout_ms);
/* Frames captured but never read because a newer one replaced them. */
uint64_t emo_camera_dropped(const emo_camera *c);
void emo_camera_close(emo_camera *c);

/* ======================================================================== */
/* The real-time pipeline (src/pipeline.c, src/track.c)                     */
/* ======================================================================== */
/* Frames in, faces out: detection (or, between full detections, a search
 * around known faces), tracking with stable ids, a crop framed like the
 * training faces, batched classification, and smoothing over time.
 *
 *   emo_pipeline *pl;
 *   emo_pipeline_params pp = emo_pipeline_params_default();   // edit fields
 *   if (emo_pipeline_open(&pl, &pp) != EMO_OK) ...emo_last_error()...
 *   emo_face faces[32];
 *   int n = emo_pipeline_process(pl, &frame, faces, 32);       // per frame
 *   const char *const *names; emo_pipeline_classes(pl, &names);
 *   ... names[faces[i].label], faces[i].smoothed[c] ...
 *   emo_pipeline_close(pl);
 *
 * Once warm, emo_pipeline_process allocates nothing. One thread at a time
 * per pipeline; open one per stream (tracks belong to the stream). */
#define EMO_PIPELINE_MAX_CLASSES 16
/* The model used when none is named: models/ferplus.emo. */
#define EMO_DEFAULT_MODEL "ferplus"

#define EMO_FACE_POINTS 68

typedef struct emo_face {
    emo_rect box;       /* in frame pixels */
    int track_id;       /* stable across frames, from 1 (0: tracker table full) */
    int label;          /* index of the largest smoothed probability */
    int nclasses;       /* entries used in probs and smoothed */
    float probs[EMO_PIPELINE_MAX_CLASSES];    /* this frame's probabilities */
    float smoothed[EMO_PIPELINE_MAX_CLASSES]; /* smoothed over time (== probs when off) */
    int npoints;                        /* 68 with landmarks, 0 without (see emo_pipeline_open) */
    float points[2 * EMO_FACE_POINTS];  /* landmarks x0 y0 x1 y1 ... in frame pixels (emo_landmarks) */
    float roll, yaw, pitch;             /* head pose in degrees (emo_head_pose); 0 without landmarks */
    float tilt;                         /* degrees the face was found turned in the image plane
                                           (rotated search; 0: found upright) */
} emo_face;

typedef struct emo_pipeline_params {
    const char *model;        /* .emo path or short name ("ferplus", "fer2013"); NULL = EMO_DEFAULT_MODEL */
    const char *cascade;      /* detector cascade, see emo_detector_open; NULL = default */
    emo_detect_params detect; /* detection parameters (threads: taken from below) */
    float smooth;             /* exponential smoothing, weight kept from the past, [0, 1); 0 = off (0.6) */
    int detect_every;         /* full detection every N frames; in between, search near known faces (1) */
    float crop_scale;         /* crop side = this x the detector's box side (see docs/ACCURACY.md) */
    int threads;              /* 0 = all cores */
    emo_precision precision;  /* of the classifier (EMO_PRECISION_AUTO); see emo_model_set_precision */
    const char *landmarks;    /* landmark model (emo_landmarker_open): NULL = the default file, and if
                                 that is not installed the pipeline runs without landmarks and
                                 emo_pipeline_warning says so; "none" = off; a path must exist */
    int align;                /* 1: the classifier's crop is turned to level the eyes (needs landmarks) */
    int rotated;              /* 1: full detections also search the frame turned by +-30 degrees, so
                                 heads tilted up to about 45 degrees are found (photos; costs 2 more
                                 detections per frame) */
    const char *confirm;      /* photos: a second cascade that confirms weak faces: clusters of 2-3
                                 raw hits of the main cascade, smaller than 64 px, away from the faces
                                 found, are kept if this cascade finds a face there; NULL = off */
} emo_pipeline_params;

typedef struct emo_pipeline emo_pipeline;

/* Video and camera (the real-time path): EMO_DETECT_DEFAULT_CASCADE,
 * detect_every 1, smoothing 0.6, landmarks and alignment on, no rotated
 * full-frame search (tracked faces that tilt are still followed). */
emo_pipeline_params emo_pipeline_params_default(void);
/* Still photos (emo image, uploads): the same with EMO_PHOTO_CASCADE,
 * min_size 20, the rotated search on, weak faces confirmed by "haar" and no
 * smoothing; chosen by measurement on the shared photos (docs/ACCURACY.md). */
emo_pipeline_params emo_pipeline_params_photo(void);
/* "" or why the pipeline runs without something it would use by default
 * ("landmarks off: ... not found (Debian package libdlib-data)"). Tools
 * print it once. */
const char *emo_pipeline_warning(const emo_pipeline *pl);
/* Loads the model and the cascade. EMO_ENOTFOUND names what is missing. */
int emo_pipeline_open(emo_pipeline **out, const emo_pipeline_params *params);
/* Processes one frame (grey, RGB or RGBA): returns the number of faces (>= 0;
 * only the first `capacity` are written) or a negative emo_status. */
int emo_pipeline_process(emo_pipeline *pl, const emo_image *frame, emo_face *faces, int capacity);
/* Changes smoothing, detection parameters, detect_every and crop_scale for
 * the following frames (model and cascade stay). */
int emo_pipeline_set(emo_pipeline *pl, const emo_pipeline_params *params);
/* Number of classes; *names (may be NULL) receives their names in model order. */
int emo_pipeline_classes(const emo_pipeline *pl, const char *const **names);
/* The model file in use. */
const char *emo_pipeline_model_path(const emo_pipeline *pl);
/* The model's input crop for one face box of a frame (what the pipeline
 * classifies), for inspection and accuracy studies. */
int emo_pipeline_crop(emo_pipeline *pl, const emo_image *frame, emo_rect box, emo_image *out);
/* Forgets all tracks (a new video or stream). */
void emo_pipeline_reset(emo_pipeline *pl);
void emo_pipeline_close(emo_pipeline *pl);
/* Resolves a model name the way emo_pipeline_open does: a path is taken as
 * is; a short name is looked up as NAME.emo in $EMO_MODEL_DIR, ./models, the
 * models folder beside the program's build folder, and the installed share
 * folder. */
int emo_default_model_path(const char *name, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* EMO_H */
