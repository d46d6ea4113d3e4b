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
 * Greyscale conversion uses ITU-R BT.601 weights with OpenCV's rounding. */
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
 * A drawer caches its glyphs and emoji per size and reuses its canvas, so a
 * per-frame loop allocates nothing once the sizes it meets have been seen.
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
/* Draws n faces onto img. Charts are placed to avoid the other faces' boxes
 * and each other where there is room. layout (may be NULL) receives n
 * entries. */
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
/* Confusion matrix heat map: counts is (n, n) row-major, rows = true class,
 * columns = predicted. Cells are coloured by the row-normalised fraction and
 * show it ("0.83") above the count. out's size follows from n (1..32). */
int emo_plot_confusion(emo_image *out, const char *title, const double *counts, int n,
                       const char *const *class_names);

#ifdef __cplusplus
}
#endif
#endif /* EMO_H */
