/* draw.c — overlays on images: face boxes, labels, colour emoji, probability
 * charts, fps counter.
 *
 * Text, boxes and panels are drawn with cairo on an ARGB32 canvas that holds
 * a copy of the part of the image being drawn on; the canvas is then copied
 * back. The canvas only grows, so once warm a frame allocates nothing.
 *
 * Emoji: Noto Color Emoji has one colour bitmap strike (109 ppem, glyphs
 * about 136x128, BGRA premultiplied). Each class's glyph is loaded once at
 * open; for each size asked for, it is resampled here with a Catmull-Rom
 * filter widened for downscaling (premultiplied, so edges get no dark
 * fringes) and cached. Sizes are rounded to a few steps so a jittering face
 * box hits the cache. Blending is premultiplied "over":
 * dst = src + dst * (1 - src_alpha). */
#include "fonts.h"
#include "internal.h"

#include <cairo-ft.h>
#include <cairo.h>
#include <ft2build.h>
#include FT_FREETYPE_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const emo_draw_default_classes[7] = {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"};

const emo_draw_params emo_draw_params_default = {
    .font_path = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    .bold_font_path = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    .emoji_font_path = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
    .class_names = NULL,
    .nclasses = 7,
    .text_scale = 1.0f,
    .panel_opacity = 0.68f,
};

/* ------------------------------------------------------------------------ */
/* Class names, colours, emoji                                              */
/* ------------------------------------------------------------------------ */

typedef struct known_class {
    const char *names[4]; /* accepted spellings, the first is canonical */
    uint32_t rgb, emoji;
} known_class;

/* Colours chosen to be told apart at a glance and to read on dark panels. */
static const known_class known_classes[] = {
    {{"angry", "anger"}, 0xE5484D, 0x1F620},                     /* 😠 */
    {{"disgust", "disgusted", "contempt"}, 0x30A46C, 0x1F922},   /* 🤢 */
    {{"fear", "fearful", "afraid", "scared"}, 0x8E4EC6, 0x1F628}, /* 😨 */
    {{"happy", "happiness", "joy"}, 0xFFB224, 0x1F604},          /* 😄 */
    {{"sad", "sadness"}, 0x3E63DD, 0x1F622},                     /* 😢 */
    {{"surprise", "surprised"}, 0x05A2C2, 0x1F62E},              /* 😮 */
    {{"neutral", "calm"}, 0x8B8D98, 0x1F610},                    /* 😐 */
};
#define NKNOWN ((int)(sizeof known_classes / sizeof known_classes[0]))

/* For class names we do not know: distinct, readable colours. */
static const uint32_t fallback_palette[] = {0xF76B15, 0x12A594, 0xD6409F, 0x5B5BD6, 0x978365, 0x46A758, 0x0D74CE};

static int known_index(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < NKNOWN; i++)
        for (int j = 0; j < 4 && known_classes[i].names[j]; j++)
            if (strcasecmp(name, known_classes[i].names[j]) == 0) return i;
    return -1;
}

uint32_t emo_draw_class_colour(const char *class_name) {
    int k = known_index(class_name);
    if (k >= 0) return known_classes[k].rgb;
    uint32_t h = 2166136261u; /* FNV-1a: the same unknown name always gets the same colour */
    for (const char *p = class_name ? class_name : ""; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
    return fallback_palette[h % (sizeof fallback_palette / sizeof fallback_palette[0])];
}

uint32_t emo_draw_class_emoji(const char *class_name) {
    int k = known_index(class_name);
    return k >= 0 ? known_classes[k].emoji : 0;
}

/* ------------------------------------------------------------------------ */
/* The drawer                                                               */
/* ------------------------------------------------------------------------ */

#define EMOJI_CACHE 48
#define NAME_MAX_LEN 48

typedef struct emoji_bitmap {
    int w, h;    /* pixels */
    uint8_t *px; /* (h, w, 4) B,G,R,A premultiplied (cairo ARGB32 on little-endian) */
} emoji_bitmap;

typedef struct emoji_entry {
    int cls, size, w, h; /* size: the rounded height asked for; cls -1 = empty slot */
    uint64_t used;       /* for least-recently-used replacement */
    uint8_t *px;
    size_t cap;
} emoji_entry;

/* FreeType faces are handed to cairo, which may keep them in its caches after
 * the drawer is gone; the library is released when its last face is. */
typedef struct ft_shared {
    FT_Library lib;
    int refs;
} ft_shared;

typedef struct face_ref {
    ft_shared *ft;
    FT_Face face;
} face_ref;

struct emo_drawer {
    int nclasses;
    char names[EMO_DRAW_MAX_CLASSES][NAME_MAX_LEN];
    double rgb[EMO_DRAW_MAX_CLASSES][3];
    int glyph[EMO_DRAW_MAX_CLASSES]; /* index into emoji[], -1 = none */
    float text_scale, panel_opacity;

    emoji_bitmap emoji[EMO_DRAW_MAX_CLASSES];
    emoji_entry cache[EMOJI_CACHE];
    uint64_t tick;
    float *scratch; /* resampling: weights and the horizontal pass */
    size_t scratch_cap;

    cairo_font_face_t *font, *bold;
    /* Text widths at 100 px (hinting off, so they scale linearly). */
    double name_w100[EMO_DRAW_MAX_CLASSES], bold_name_w100[EMO_DRAW_MAX_CLASSES], pct_w100;

    struct item_layout *lay; /* emo_draw_faces' layouts, grows only */
    int lay_cap;

    cairo_surface_t *canvas; /* ARGB32, grows only */
    cairo_t *cr;
    int canvas_w, canvas_h;
};

static void face_ref_destroy(void *p) {
    face_ref *r = p;
    FT_Done_Face(r->face);
    if (--r->ft->refs == 0) {
        FT_Done_FreeType(r->ft->lib);
        free(r->ft);
    }
    free(r);
}

static const cairo_user_data_key_t face_key;

/* A cairo font face for a TrueType file, hinting off so that widths scale. */
static int load_font(ft_shared *ft, const char *path, cairo_font_face_t **out) {
    *out = NULL;
    FT_Face face;
    FT_Error e = FT_New_Face(ft->lib, path, 0, &face);
    if (e) {
        FILE *f = fopen(path, "rb");
        if (!f)
            return emo_fail(EMO_ENOTFOUND, "%s: font not found (Debian package fonts-dejavu-core)", path);
        fclose(f);
        return emo_fail(EMO_EFORMAT, "%s: not a font FreeType can read (error %d)", path, e);
    }
    face_ref *r = malloc(sizeof *r);
    if (!r) {
        FT_Done_Face(face);
        return emo_fail(EMO_ENOMEM, "out of memory loading %s", path);
    }
    r->ft = ft;
    r->face = face;
    cairo_font_face_t *cf = cairo_ft_font_face_create_for_ft_face(face, FT_LOAD_NO_HINTING);
    if (cairo_font_face_status(cf) != CAIRO_STATUS_SUCCESS ||
        cairo_font_face_set_user_data(cf, &face_key, r, face_ref_destroy) != CAIRO_STATUS_SUCCESS) {
        cairo_font_face_destroy(cf);
        FT_Done_Face(face);
        free(r);
        return emo_fail(EMO_ENOMEM, "%s: cairo cannot use this font", path);
    }
    ft->refs++;
    *out = cf;
    return EMO_OK;
}

int emo_fonts_load(const char *regular_path, const char *bold_path, cairo_font_face_t **regular,
                   cairo_font_face_t **bold) {
    *regular = *bold = NULL;
    ft_shared *ft = calloc(1, sizeof *ft);
    if (!ft || FT_Init_FreeType(&ft->lib)) {
        free(ft);
        return emo_fail(EMO_ENOMEM, "cannot start FreeType");
    }
    int s = load_font(ft, regular_path ? regular_path : emo_draw_params_default.font_path, regular);
    if (!s) s = load_font(ft, bold_path ? bold_path : emo_draw_params_default.bold_font_path, bold);
    if (ft->refs == 0) { /* no face took ownership of the library */
        FT_Done_FreeType(ft->lib);
        free(ft);
    }
    if (s) {
        if (*regular) cairo_font_face_destroy(*regular);
        *regular = NULL;
    }
    return s;
}

/* Loads the colour bitmap of each class's emoji from the strike. */
static int load_emoji(emo_drawer *d, const char *path) {
    FT_Library lib;
    if (FT_Init_FreeType(&lib)) return emo_fail(EMO_ENOMEM, "cannot start FreeType");
    FT_Face face;
    FT_Error e = FT_New_Face(lib, path, 0, &face);
    int status = EMO_OK;
    if (e) {
        FILE *f = fopen(path, "rb");
        if (f) fclose(f);
        status = f ? emo_fail(EMO_EFORMAT, "%s: not a font FreeType can read (error %d)", path, e)
                   : emo_fail(EMO_ENOTFOUND, "%s: emoji font not found (Debian package fonts-noto-color-emoji)",
                              path);
        FT_Done_FreeType(lib);
        return status;
    }
    if (!FT_HAS_COLOR(face) || face->num_fixed_sizes < 1) {
        status = emo_fail(EMO_EUNSUPPORTED, "%s: not a colour bitmap emoji font", path);
        goto done;
    }
    /* The largest strike gives the best quality after resampling. */
    int best = 0;
    for (int i = 1; i < face->num_fixed_sizes; i++)
        if (face->available_sizes[i].height > face->available_sizes[best].height) best = i;
    if (FT_Select_Size(face, best)) {
        status = emo_fail(EMO_EFORMAT, "%s: cannot select bitmap strike %d", path, best);
        goto done;
    }
    for (int c = 0; c < d->nclasses; c++) {
        uint32_t cp = emo_draw_class_emoji(d->names[c]);
        FT_UInt gi = cp ? FT_Get_Char_Index(face, cp) : 0;
        if (!gi) continue;
        if (FT_Load_Glyph(face, gi, FT_LOAD_COLOR) || FT_Render_Glyph(face->glyph, FT_RENDER_MODE_NORMAL)) continue;
        FT_Bitmap *bm = &face->glyph->bitmap;
        if (bm->pixel_mode != FT_PIXEL_MODE_BGRA || bm->width == 0 || bm->rows == 0) continue;
        emoji_bitmap *eb = &d->emoji[c];
        eb->w = (int)bm->width;
        eb->h = (int)bm->rows;
        eb->px = malloc((size_t)eb->w * eb->h * 4);
        if (!eb->px) {
            status = emo_fail(EMO_ENOMEM, "out of memory loading emoji");
            goto done;
        }
        for (int y = 0; y < eb->h; y++)
            memcpy(eb->px + (size_t)y * eb->w * 4, bm->buffer + (ptrdiff_t)y * bm->pitch, (size_t)eb->w * 4);
        d->glyph[c] = c;
    }
done:
    FT_Done_Face(face);
    FT_Done_FreeType(lib);
    return status;
}

static double text_width(cairo_t *cr, cairo_font_face_t *f, double px, const char *s) {
    cairo_set_font_face(cr, f);
    cairo_set_font_size(cr, px);
    cairo_text_extents_t te;
    cairo_text_extents(cr, s, &te);
    return te.x_advance;
}

static int ensure_canvas(emo_drawer *d, int w, int h) {
    if (d->canvas && w <= d->canvas_w && h <= d->canvas_h) return EMO_OK;
    int nw = EMO_MAX(w, d->canvas_w), nh = EMO_MAX(h, d->canvas_h);
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, nw, nh);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return emo_fail(EMO_ENOMEM, "out of memory for a %dx%d drawing canvas", nw, nh);
    }
    cairo_t *cr = cairo_create(s);
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        cairo_destroy(cr);
        cairo_surface_destroy(s);
        return emo_fail(EMO_ENOMEM, "out of memory for a cairo context");
    }
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
    cairo_set_font_options(cr, fo);
    cairo_font_options_destroy(fo);
    if (d->cr) cairo_destroy(d->cr);
    if (d->canvas) cairo_surface_destroy(d->canvas);
    d->canvas = s;
    d->cr = cr;
    d->canvas_w = nw;
    d->canvas_h = nh;
    return EMO_OK;
}

void emo_drawer_close(emo_drawer *d) {
    if (!d) return;
    if (d->cr) cairo_destroy(d->cr);
    if (d->canvas) cairo_surface_destroy(d->canvas);
    if (d->font) cairo_font_face_destroy(d->font);
    if (d->bold) cairo_font_face_destroy(d->bold);
    for (int i = 0; i < EMO_DRAW_MAX_CLASSES; i++) free(d->emoji[i].px);
    for (int i = 0; i < EMOJI_CACHE; i++) free(d->cache[i].px);
    free(d->scratch);
    free(d->lay);
    free(d);
}

int emo_drawer_open(emo_drawer **out, const emo_draw_params *params) {
    if (!out) return emo_fail(EMO_EINVAL, "emo_drawer_open: no output pointer");
    *out = NULL;
    const emo_draw_params *p = params ? params : &emo_draw_params_default;
    const char *const *names = p->class_names ? p->class_names : emo_draw_default_classes;
    int n = p->class_names ? p->nclasses : 7;
    if (n < 1 || n > EMO_DRAW_MAX_CLASSES)
        return emo_fail(EMO_EINVAL, "emo_drawer_open: %d classes (want 1..%d)", n, EMO_DRAW_MAX_CLASSES);
    if (!(p->text_scale > 0.1f && p->text_scale <= 10.0f))
        return emo_fail(EMO_EINVAL, "emo_drawer_open: text_scale %g out of 0.1..10", (double)p->text_scale);
    if (!(p->panel_opacity >= 0.0f && p->panel_opacity <= 1.0f))
        return emo_fail(EMO_EINVAL, "emo_drawer_open: panel_opacity %g out of 0..1", (double)p->panel_opacity);
    for (int i = 0; i < n; i++) {
        if (!names[i] || !names[i][0] || strlen(names[i]) >= NAME_MAX_LEN)
            return emo_fail(EMO_EINVAL, "emo_drawer_open: class %d has no name or one of %d+ bytes", i,
                            NAME_MAX_LEN);
    }
    emo_drawer *d = calloc(1, sizeof *d);
    if (!d) return emo_fail(EMO_ENOMEM, "out of memory for a drawer");
    d->nclasses = n;
    d->text_scale = p->text_scale;
    d->panel_opacity = p->panel_opacity;
    for (int i = 0; i < n; i++) {
        snprintf(d->names[i], NAME_MAX_LEN, "%s", names[i]);
        uint32_t c = emo_draw_class_colour(names[i]);
        d->rgb[i][0] = ((c >> 16) & 255) / 255.0;
        d->rgb[i][1] = ((c >> 8) & 255) / 255.0;
        d->rgb[i][2] = (c & 255) / 255.0;
        d->glyph[i] = -1;
    }
    for (int i = 0; i < EMOJI_CACHE; i++) d->cache[i].cls = -1;

    int s = emo_fonts_load(p->font_path, p->bold_font_path, &d->font, &d->bold);
    const char *ep = p->emoji_font_path ? p->emoji_font_path : emo_draw_params_default.emoji_font_path;
    if (!s && ep[0]) s = load_emoji(d, ep);
    if (!s) s = ensure_canvas(d, 64, 64);
    if (s) {
        emo_drawer_close(d);
        return s;
    }
    for (int i = 0; i < n; i++) {
        d->name_w100[i] = text_width(d->cr, d->font, 100, d->names[i]);
        d->bold_name_w100[i] = text_width(d->cr, d->bold, 100, d->names[i]);
    }
    d->pct_w100 = text_width(d->cr, d->bold, 100, "100%");
    *out = d;
    return EMO_OK;
}

/* ------------------------------------------------------------------------ */
/* Emoji resampling and blending                                            */
/* ------------------------------------------------------------------------ */

/* Catmull-Rom cubic (a = -0.5): sharp, little ringing. */
static float cubic(float x) {
    x = fabsf(x);
    if (x < 1.0f) return (1.5f * x - 2.5f) * x * x + 1.0f;
    if (x < 2.0f) return ((-0.5f * x + 2.5f) * x - 4.0f) * x + 2.0f;
    return 0.0f;
}

/* Filter taps for resampling n source samples to m: for output i, taps
 * first[i] .. first[i] + ntaps - 1 with weights w[i * ntaps + k] (zero past
 * the edges, which are transparent anyway). */
static int taps_for(int n, int m) {
    float scale = (float)m / n, support = 2.0f * (scale < 1.0f ? 1.0f / scale : 1.0f);
    return (int)ceilf(2.0f * support) + 2;
}

static void make_taps(int n, int m, int ntaps, int *first, float *w) {
    float scale = (float)m / n, fscale = scale < 1.0f ? scale : 1.0f, support = 2.0f / fscale;
    for (int i = 0; i < m; i++) {
        float centre = (i + 0.5f) / scale - 0.5f;
        int lo = (int)ceilf(centre - support);
        float sum = 0.0f;
        for (int k = 0; k < ntaps; k++) {
            int j = lo + k;
            float v = (j >= 0 && j < n) ? cubic((j - centre) * fscale) : 0.0f;
            w[i * ntaps + k] = v;
            sum += v;
        }
        if (sum != 0.0f)
            for (int k = 0; k < ntaps; k++) w[i * ntaps + k] /= sum;
        first[i] = lo;
    }
}

/* src (sh, sw, 4) premultiplied -> dst (dh, dw, 4) premultiplied. */
static int resample_bgra(emo_drawer *d, const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh) {
    int tx = taps_for(sw, dw), ty = taps_for(sh, dh);
    size_t need = (size_t)dw * tx + (size_t)dh * ty + (size_t)dw + dh + (size_t)sh * dw * 4;
    if (need > d->scratch_cap) {
        float *p = realloc(d->scratch, need * sizeof(float));
        if (!p) return emo_fail(EMO_ENOMEM, "out of memory resampling an emoji");
        d->scratch = p;
        d->scratch_cap = need;
    }
    float *wx = d->scratch, *wy = wx + (size_t)dw * tx, *mid = wy + (size_t)dh * ty;
    int *fx = (int *)(mid + (size_t)sh * dw * 4), *fy = fx + dw; /* int and float are both 4 bytes */
    make_taps(sw, dw, tx, fx, wx);
    make_taps(sh, dh, ty, fy, wy);
    /* Horizontal pass: mid is (sh, dw, 4). */
    for (int y = 0; y < sh; y++) {
        const uint8_t *row = src + (size_t)y * sw * 4;
        for (int x = 0; x < dw; x++) {
            float a[4] = {0, 0, 0, 0};
            for (int k = 0; k < tx; k++) {
                int j = fx[x] + k;
                if (j < 0 || j >= sw) continue;
                float wk = wx[x * tx + k];
                for (int c = 0; c < 4; c++) a[c] += wk * row[j * 4 + c];
            }
            memcpy(mid + ((size_t)y * dw + x) * 4, a, sizeof a);
        }
    }
    /* Vertical pass, then keep colour <= alpha (cubic overshoot would break
     * the premultiplied invariant). */
    for (int y = 0; y < dh; y++) {
        for (int x = 0; x < dw; x++) {
            float a[4] = {0, 0, 0, 0};
            for (int k = 0; k < ty; k++) {
                int j = fy[y] + k;
                if (j < 0 || j >= sh) continue;
                float wk = wy[y * ty + k];
                const float *m = mid + ((size_t)j * dw + x) * 4;
                for (int c = 0; c < 4; c++) a[c] += wk * m[c];
            }
            uint8_t *o = dst + ((size_t)y * dw + x) * 4;
            float al = EMO_CLAMP(a[3], 0.0f, 255.0f);
            o[3] = (uint8_t)lrintf(al);
            for (int c = 0; c < 3; c++) o[c] = (uint8_t)EMO_MIN(lrintf(EMO_CLAMP(a[c], 0.0f, 255.0f)), (long)o[3]);
        }
    }
    return EMO_OK;
}

/* Rounds an emoji height to a few steps so that small changes in face size
 * reuse the cached bitmap. */
static int emoji_step(int size) {
    if (size < 8) size = 8;
    if (size > 512) size = 512;
    int q = size < 48 ? 2 : size < 96 ? 4 : size < 192 ? 8 : 16;
    return (size + q / 2) / q * q;
}

/* The class's emoji at (rounded) height `size`, from the cache or made now. */
static const emoji_entry *emoji_get(emo_drawer *d, int cls, int size) {
    const emoji_bitmap *src = &d->emoji[cls];
    if (!src->px) return NULL;
    size = emoji_step(size);
    emoji_entry *slot = &d->cache[0];
    for (int i = 0; i < EMOJI_CACHE; i++) {
        emoji_entry *e = &d->cache[i];
        if (e->cls == cls && e->size == size) {
            e->used = ++d->tick;
            return e;
        }
        if (e->used < slot->used) slot = e;
    }
    int h = size, w = (int)lrintf((float)src->w * size / src->h);
    if (w < 1) w = 1;
    size_t need = (size_t)w * h * 4;
    if (need > slot->cap) {
        uint8_t *p = realloc(slot->px, need);
        if (!p) return NULL;
        slot->px = p;
        slot->cap = need;
    }
    slot->cls = -1;
    if (resample_bgra(d, src->px, src->w, src->h, slot->px, w, h)) return NULL;
    slot->cls = cls;
    slot->size = size;
    slot->w = w;
    slot->h = h;
    slot->used = ++d->tick;
    return slot;
}

static inline uint32_t div255(uint32_t v) { return (v + 128 + ((v + 128) >> 8)) >> 8; }

/* Premultiplied "over" of e at canvas position (x0, y0), clipped to cw x ch. */
static void blend_emoji(uint8_t *canvas, int stride, int cw, int ch, const emoji_entry *e, int x0, int y0) {
    for (int y = EMO_MAX(0, -y0); y < e->h && y0 + y < ch; y++) {
        uint8_t *drow = canvas + (size_t)(y0 + y) * stride;
        const uint8_t *srow = e->px + (size_t)y * e->w * 4;
        for (int x = EMO_MAX(0, -x0); x < e->w && x0 + x < cw; x++) {
            const uint8_t *s = srow + x * 4;
            if (s[3] == 0) continue;
            uint8_t *o = drow + (size_t)(x0 + x) * 4;
            uint32_t inv = 255u - s[3];
            for (int c = 0; c < 4; c++) o[c] = (uint8_t)(s[c] + div255(o[c] * inv));
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Canvas <-> image                                                         */
/* ------------------------------------------------------------------------ */

static void copy_in(emo_drawer *d, const emo_image *img, int rx, int ry, int rw, int rh) {
    cairo_surface_flush(d->canvas);
    uint8_t *cv = cairo_image_surface_get_data(d->canvas);
    int cs = cairo_image_surface_get_stride(d->canvas);
    for (int y = 0; y < rh; y++) {
        const uint8_t *s = img->data + (size_t)(ry + y) * img->stride + (size_t)rx * img->channels;
        uint32_t *o = (uint32_t *)(cv + (size_t)y * cs);
        if (img->channels == 1)
            for (int x = 0; x < rw; x++) o[x] = 0xFF000000u | s[x] * 0x010101u;
        else
            for (int x = 0; x < rw; x++, s += img->channels)
                o[x] = 0xFF000000u | (uint32_t)s[0] << 16 | (uint32_t)s[1] << 8 | s[2];
    }
    cairo_surface_mark_dirty(d->canvas);
}

static void copy_out(emo_drawer *d, emo_image *img, int rx, int ry, int rw, int rh) {
    cairo_surface_flush(d->canvas);
    const uint8_t *cv = cairo_image_surface_get_data(d->canvas);
    int cs = cairo_image_surface_get_stride(d->canvas);
    for (int y = 0; y < rh; y++) {
        uint8_t *o = img->data + (size_t)(ry + y) * img->stride + (size_t)rx * img->channels;
        const uint32_t *s = (const uint32_t *)(cv + (size_t)y * cs);
        if (img->channels == 1) {
            /* BT.601 luma in Q14, as emo_image_to_grey. */
            for (int x = 0; x < rw; x++) {
                uint32_t p = s[x];
                o[x] = (uint8_t)((((p >> 16) & 255) * 4899 + ((p >> 8) & 255) * 9617 + (p & 255) * 1868 + 8192) >> 14);
            }
        } else {
            for (int x = 0; x < rw; x++, o += img->channels) {
                o[0] = (uint8_t)(s[x] >> 16);
                o[1] = (uint8_t)(s[x] >> 8);
                o[2] = (uint8_t)s[x];
            }
        }
    }
}

static bool image_ok(const emo_image *img) {
    return img && img->data && img->width > 0 && img->height > 0 &&
           (img->channels == 1 || img->channels == 3 || img->channels == 4) &&
           img->stride >= img->width * img->channels;
}

/* ------------------------------------------------------------------------ */
/* Shapes and text                                                          */
/* ------------------------------------------------------------------------ */

typedef struct rectf {
    double x, y, w, h;
} rectf;

static void rounded_rect(cairo_t *cr, double x, double y, double w, double h, double r) {
    r = fmin(r, fmin(w, h) / 2);
    cairo_new_sub_path(cr);
    cairo_arc(cr, x + w - r, y + r, r, -M_PI / 2, 0);
    cairo_arc(cr, x + w - r, y + h - r, r, 0, M_PI / 2);
    cairo_arc(cr, x + r, y + h - r, r, M_PI / 2, M_PI);
    cairo_arc(cr, x + r, y + r, r, M_PI, 3 * M_PI / 2);
    cairo_close_path(cr);
}

/* Black or white, whichever contrasts more with the colour (WCAG luminance). */
static double lin(double c) { return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4); }
static bool dark_text_on(const double rgb[3]) {
    double L = 0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2]);
    return (L + 0.05) / 0.05 > 1.05 / (L + 0.05);
}

static double inter_area(rectf a, rectf b) {
    double w = fmin(a.x + a.w, b.x + b.w) - fmax(a.x, b.x), h = fmin(a.y + a.h, b.y + b.h) - fmax(a.y, b.y);
    return w > 0 && h > 0 ? w * h : 0;
}

/* ------------------------------------------------------------------------ */
/* Layout                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct chart_geom {
    double fs, pad, row_h, name_w, bar_w, pct_w, gap, w, h;
} chart_geom;

static chart_geom chart_size_bars(const emo_drawer *d, double fs, double bar_em) {
    chart_geom g;
    g.fs = fs;
    g.pad = fs * 0.7;
    g.row_h = fs * 1.6;
    g.gap = fs * 0.6;
    g.name_w = 0;
    for (int i = 0; i < d->nclasses; i++) g.name_w = fmax(g.name_w, d->bold_name_w100[i] * fs / 100);
    g.bar_w = fs * bar_em;
    g.pct_w = d->pct_w100 * fs / 100;
    g.w = 2 * g.pad + g.name_w + g.gap + g.bar_w + g.gap + g.pct_w;
    g.h = 2 * g.pad + d->nclasses * g.row_h - (g.row_h - fs * 1.25);
    return g;
}

static chart_geom chart_size(const emo_drawer *d, double fs) { return chart_size_bars(d, fs, 6.5); }

typedef struct item_layout {
    int cls;            /* shown class, -1 none */
    double prob;        /* its probability, -1 unknown */
    double line_w, label_fs;
    rectf box, label, emoji, chart;
    bool has_label, has_emoji, has_chart;
    bool want_label, want_emoji, want_chart; /* asked for and possible: placed by place_* */
    chart_geom cg;
    const emoji_entry *em;
    char text[96], id[24], cls_text[64]; /* the full label; "#3"; "happy 87%" */
    double text_w;
} item_layout;

/* Text sizes go in half-pixel steps: cairo caches rendered glyphs per size,
 * and a face box that changes a little every frame then reuses them. */
static double text_size(double px) { return round(px * 2) / 2; }

static int shown_class(const emo_drawer *d, const emo_draw_item *it, double *prob) {
    int cls = it->label;
    *prob = -1;
    if (cls < 0 && it->probs) {
        cls = 0;
        for (int i = 1; i < d->nclasses; i++)
            if (it->probs[i] > it->probs[cls]) cls = i;
    }
    if (cls >= d->nclasses) cls = -1;
    if (cls >= 0 && it->probs && isfinite(it->probs[cls])) *prob = it->probs[cls];
    return cls;
}

static rectf clamp_into(rectf r, double W, double H) {
    if (r.x + r.w > W) r.x = W - r.w;
    if (r.y + r.h > H) r.y = H - r.h;
    if (r.x < 0) r.x = 0;
    if (r.y < 0) r.y = 0;
    return r;
}

static bool inside_image(rectf r, double W, double H) {
    return r.x >= 0 && r.y >= 0 && r.x + r.w <= W + 1e-9 && r.y + r.h <= H + 1e-9;
}

/* The face box with its stroke: corner brackets are 2.2 line widths wide,
 * with a 2 px halo. Other faces' annotations keep out of this. */
static rectf box_outer(const item_layout *L) {
    double m = L->line_w * 1.1 + 1.5;
    return (rectf){L->box.x - m, L->box.y - m, L->box.w + 2 * m, L->box.h + 2 * m};
}

/* Sizes and texts of each part; where they go is decided for all faces
 * together (place_label, place_emoji, place_chart). */
static void layout_item(emo_drawer *d, const emo_image *img, const emo_draw_item *it, unsigned flags,
                        item_layout *L) {
    double H = img->height, sc = d->text_scale;
    memset(L, 0, sizeof *L);
    L->box = (rectf){it->x, it->y, it->w, it->h};
    double side = fmax(1.0, fmin(it->w, it->h));
    L->cls = shown_class(d, it, &L->prob);
    L->line_w = EMO_CLAMP(side / 70.0, 1.5, 6.0);

    if ((flags & EMO_DRAW_LABEL) && (L->cls >= 0 || it->track_id >= 0)) {
        if (it->track_id >= 0) snprintf(L->id, sizeof L->id, "#%d", it->track_id);
        if (L->cls >= 0 && L->prob >= 0)
            snprintf(L->cls_text, sizeof L->cls_text, "%s %.0f%%", d->names[L->cls],
                     100.0 * EMO_CLAMP(L->prob, 0.0, 1.0));
        else if (L->cls >= 0)
            snprintf(L->cls_text, sizeof L->cls_text, "%s", d->names[L->cls]);
        snprintf(L->text, sizeof L->text, "%s%s%s", L->id, L->id[0] && L->cls_text[0] ? " " : "", L->cls_text);
        L->label_fs = text_size(fmin(EMO_CLAMP(side * 0.11, 11.0, fmax(30.0, H / 36)) * sc, fmax(6.0, H / 6)));
        L->want_label = true;
    }
    L->want_emoji = (flags & EMO_DRAW_EMOJI) && L->cls >= 0 && d->glyph[L->cls] >= 0;
    if ((flags & EMO_DRAW_CHART) && it->probs) {
        double fs = text_size(EMO_CLAMP(side * 0.085, 10.0, fmax(22.0, H / 50)) * sc);
        L->cg = chart_size(d, fs);
        L->has_chart = true; /* asked for: place_chart decides whether it fits */
    }
}

/* The fps counter's text size; like the others, its cap grows with the
 * image so that 4K frames stay readable. */
static double fps_font(const emo_drawer *d, double H) {
    return text_size(EMO_CLAMP(H / 28.0, 11.0, fmax(28.0, H / 50)) * d->text_scale);
}

/* Where emo_draw_fps puts its panel ("999.9 fps" wide), so charts avoid it. */
static rectf fps_rect(const emo_drawer *d, double W, double H) {
    double fs = fps_font(d, H);
    return (rectf){0, 0, fs * 0.5 + d->pct_w100 * fs / 100 * 2.4 + fs * 1.2, fs * 0.5 + fs * 1.8};
}

/* Whether r would cover something it must not: another face's box, or any
 * label, emoji or chart already placed (its own face's too; its own box is
 * the caller's choice). The rule that keeps crowded photos readable: an
 * annotation may cover its own face when there is no room, never another. */
static bool blocked(const item_layout *all, int n, int idx, rectf r, bool own_box) {
    r = (rectf){r.x - 1, r.y - 1, r.w + 2, r.h + 2}; /* rects are reported rounded out to whole pixels */
    for (int j = 0; j < n; j++) {
        const item_layout *o = &all[j];
        if ((j != idx || own_box) && inter_area(r, box_outer(o)) > 0) return true;
        if (o->has_label && inter_area(r, o->label) > 0) return true;
        if (o->has_emoji && inter_area(r, o->emoji) > 0) return true;
        if (j != idx && o->has_chart && o->chart.w > 0 && inter_area(r, o->chart) > 0) return true;
    }
    return false;
}

/* The label: below the box, else above, else inside its bottom edge; at
 * full size, then smaller (down to 9 px text), then as "happy 87%" or just
 * "#3". Left out when none of these keeps off the other faces. */
static void place_label(emo_drawer *d, item_layout *all, int n, int idx, double W, double H) {
    item_layout *L = &all[idx];
    const char *texts[3] = {L->text, L->cls_text, L->id};
    double fs0 = L->label_fs, lw = L->line_w;
    rectf b = L->box;
    for (double f = fs0; f >= fmin(fs0, 9.0); f = f > 14 ? f * 0.85 : f - 1.5) {
        double fs = text_size(f);
        for (int t = 0; t < 3; t++) {
            if (!texts[t][0] || (t > 0 && strcmp(texts[t], texts[0]) == 0)) continue;
            double tw = text_width(d->cr, d->bold, fs, texts[t]), rw = tw + fs, rh = fs * 1.6;
            if (rw > W || rh > H) continue;
            double below = b.y + b.h + lw * 1.1 + 2, above = b.y - lw * 1.1 - 2 - rh;
            rectf cand[] = {
                {b.x - lw / 2, below, rw, rh},           {b.x + (b.w - rw) / 2, below, rw, rh},
                {b.x + b.w - rw + lw / 2, below, rw, rh}, {b.x - lw / 2, above, rw, rh},
                {b.x + (b.w - rw) / 2, above, rw, rh},   {b.x + (b.w - rw) / 2, b.y + b.h - rh - lw * 1.5, rw, rh},
            };
            for (size_t c = 0; c < sizeof cand / sizeof cand[0]; c++) {
                rectf r = clamp_into(cand[c], W, H);
                /* Clamped into the image it may land on its own face (allowed), never another. */
                if (!inside_image(r, W, H) || blocked(all, n, idx, r, false)) continue;
                char chosen[sizeof L->text];
                snprintf(chosen, sizeof chosen, "%s", texts[t]); /* texts[0] is L->text itself */
                memcpy(L->text, chosen, sizeof chosen);
                L->label_fs = fs;
                L->text_w = tw;
                L->label = r;
                L->has_label = true;
                return;
            }
        }
    }
}

/* The emoji at the box's top-right corner, half outside it; else inside
 * that corner; smaller if need be. With EMOJI_OVER it covers the face. */
static void place_emoji(emo_drawer *d, item_layout *all, int n, int idx, double W, double H, unsigned flags) {
    item_layout *L = &all[idx];
    rectf b = L->box;
    double side = fmax(1.0, fmin(b.w, b.h));
    bool over = flags & EMO_DRAW_EMOJI_OVER;
    double es0 = over ? side * 0.92 : EMO_CLAMP(side * 0.36, 18.0, 400.0);
    es0 = fmin(es0, fmin(W, H));
    for (double k = 1.0; k >= 0.49; k -= 0.25) {
        double es = es0 * k;
        if (es < 8) break;
        const emoji_entry *em = emoji_get(d, L->cls, (int)lrint(es));
        if (!em) return;
        double ew = em->w, eh = em->h;
        double cx[3], cy[3];
        int nc = 0;
        if (over) {
            cx[nc] = b.x + b.w / 2, cy[nc++] = b.y + b.h / 2;
        } else {
            cx[nc] = b.x + b.w - ew * 0.1, cy[nc++] = b.y + eh * 0.1;
            cx[nc] = b.x + b.w - ew / 2 - L->line_w * 2, cy[nc++] = b.y + eh / 2 + L->line_w * 2;
            cx[nc] = b.x + ew / 2 + L->line_w * 2, cy[nc++] = b.y + eh / 2 + L->line_w * 2;
        }
        for (int c = 0; c < nc; c++) {
            rectf r = clamp_into((rectf){floor(cx[c] - ew / 2), floor(cy[c] - eh / 2), ew, eh}, W, H);
            if (!inside_image(r, W, H) || blocked(all, n, idx, r, false)) continue;
            L->em = em;
            L->emoji = r;
            L->has_emoji = true;
            return;
        }
    }
}

/* Cost of the chart at r, once it is known to be allowed: how much of its
 * own face it covers, the fps counter, how far it moved. */
static double spot_cost(const item_layout *L, rectf r, rectf want, rectf fps_zone, int order) {
    double dx = r.x - want.x, dy = r.y - want.y;
    return inter_area(r, L->box) * 4.0 + inter_area(r, fps_zone) + (dx * dx + dy * dy) * 0.05 + order * 0.5;
}

/* The best allowed spot beside, below or above the face for a cw x ch
 * chart; false if none. *own = how much of its own face it covers there. */
static bool best_spot(emo_drawer *d, item_layout *all, int n, int idx, double cw, double ch, double fs, double W,
                      double H, rectf *out, double *own) {
    item_layout *L = &all[idx];
    rectf b = L->box;
    double gap = fmax(6.0, fs * 0.6);
    double emoji_bottom = L->has_emoji ? L->emoji.y + L->emoji.h + gap : b.y;
    double label_bottom = L->has_label ? L->label.y + L->label.h + gap : b.y + b.h + gap;
    rectf cand[] = {
        {b.x + b.w + gap, b.y, cw, ch},
        {b.x + b.w + gap, emoji_bottom, cw, ch},
        {b.x - gap - cw, b.y, cw, ch},
        {b.x + b.w + gap, b.y + b.h - ch, cw, ch},
        {b.x - gap - cw, b.y + b.h - ch, cw, ch},
        {b.x, fmax(label_bottom, b.y + b.h + gap), cw, ch},
        {b.x + b.w - cw, fmax(label_bottom, b.y + b.h + gap), cw, ch},
        {b.x, b.y - gap - ch, cw, ch},
        {b.x + b.w - cw, b.y - gap - ch, cw, ch},
        {b.x + b.w - cw - L->line_w * 2, b.y + L->line_w * 2, cw, ch}, /* inside, last resort */
    };
    int nc = (int)(sizeof cand / sizeof cand[0]);
    rectf fps_zone = fps_rect(d, W, H);
    double best = INFINITY;
    for (int c = 0; c < nc; c++) {
        rectf r = clamp_into(cand[c], W, H);
        if (!inside_image(r, W, H) || blocked(all, n, idx, r, false)) continue;
        double cost = spot_cost(L, r, cand[c], fps_zone, c);
        if (cost < best) {
            best = cost;
            *out = r;
            *own = inter_area(r, b);
        }
    }
    return best < INFINITY;
}

/* Whether the leader line from the face to a chart at r would cross another
 * face's box (sampled every few pixels along it). */
static void leader_ends(rectf b, rectf c, double *bx, double *by, double *cx, double *cy) {
    *bx = EMO_CLAMP(c.x + c.w / 2, b.x, b.x + b.w), *by = EMO_CLAMP(c.y + c.h / 2, b.y, b.y + b.h);
    *cx = EMO_CLAMP(*bx, c.x, c.x + c.w), *cy = EMO_CLAMP(*by, c.y, c.y + c.h);
    *bx = EMO_CLAMP(*cx, b.x, b.x + b.w), *by = EMO_CLAMP(*cy, b.y, b.y + b.h);
}

static bool leader_crosses(const item_layout *all, int n, int idx, rectf r) {
    double bx, by, cx, cy;
    leader_ends(all[idx].box, r, &bx, &by, &cx, &cy);
    int steps = (int)(hypot(cx - bx, cy - by) / 4) + 1;
    for (int s = 0; s <= steps; s++) {
        double x = bx + (cx - bx) * s / steps, y = by + (cy - by) * s / steps;
        for (int j = 0; j < n; j++) {
            if (j == idx) continue;
            rectf o = box_outer(&all[j]);
            if (x >= o.x && x <= o.x + o.w && y >= o.y && y <= o.y + o.h) return true;
        }
    }
    return false;
}

/* In a crowd: the nearest free spot within a few face sizes, on a grid,
 * off every face and whose leader line crosses no other face. */
static bool free_spot(const item_layout *all, int n, int idx, double cw, double ch, double W, double H, rectf *out) {
    rectf b = all[idx].box;
    double side = fmax(b.w, b.h), R = fmax(2.5 * side, fmax(cw, ch));
    double step = fmax(4.0, fmin(cw, ch) / 6);
    double bx = b.x + b.w / 2, by = b.y + b.h / 2, best = INFINITY;
    for (double y = fmax(0, b.y - R - ch); y + ch <= fmin(H, b.y + b.h + R + ch); y += step)
        for (double x = fmax(0, b.x - R - cw); x + cw <= fmin(W, b.x + b.w + R + cw); x += step) {
            rectf r = {floor(x), floor(y), cw, ch};
            double dx = EMO_CLAMP(bx, r.x, r.x + r.w) - bx, dy = EMO_CLAMP(by, r.y, r.y + r.h) - by;
            double dist = dx * dx + dy * dy;
            if (dist >= best || blocked(all, n, idx, r, true) || leader_crosses(all, n, idx, r)) continue;
            best = dist;
            *out = r;
        }
    return best < INFINITY;
}

/* Places the chart. Beside, below or above the face first, each spot moved
 * inside the image and allowed only where it covers no other face and no
 * label, emoji or chart; where it would cover its own face, shorter bars
 * and smaller text (down to 8 px) are tried. With no such spot (a crowd),
 * the nearest free spot a little further away, joined by a leader line;
 * failing that, no chart: the label still names the emotion. */
static void place_chart(emo_drawer *d, item_layout *all, int n, int idx, double W, double H) {
    item_layout *L = &all[idx];
    double own = 0, least = INFINITY, fs0 = L->cg.fs;
    chart_geom best_g = L->cg;
    rectf best_r = {0};
    L->has_chart = false;
    for (double f = fs0; f >= fmin(fs0, 8.0) && least > 0; f -= 1.0) {
        for (int k = 0; k < 2 && least > 0; k++) {
            double fs = text_size(f);
            chart_geom g = chart_size_bars(d, fs, k == 0 ? 6.5 : 3.5);
            if (g.w > W || g.h > H) continue;
            rectf r;
            if (best_spot(d, all, n, idx, g.w, g.h, fs, W, H, &r, &own) && own < least * 0.999) {
                least = own;
                best_r = r;
                best_g = g;
            }
        }
    }
    if (least == INFINITY || least > 0) {
        /* Covering its own face, or nowhere near it: look further out,
         * from the largest size down, for a spot that covers no face. */
        for (double f = fs0; f >= fmin(fs0, 8.0); f -= 2.0) {
            chart_geom g = chart_size_bars(d, text_size(f), 3.5);
            rectf r;
            if (g.w <= W && g.h <= H && free_spot(all, n, idx, g.w, g.h, W, H, &r)) {
                best_r = r, best_g = g, least = 0;
                break;
            }
        }
    }
    if (least == INFINITY) return;
    L->cg = best_g;
    L->chart = best_r;
    L->chart.x = floor(L->chart.x);
    L->chart.y = floor(L->chart.y);
    L->has_chart = true;
}

/* ------------------------------------------------------------------------ */
/* Painting                                                                 */
/* ------------------------------------------------------------------------ */

static void paint_box(emo_drawer *d, const item_layout *L) {
    cairo_t *cr = d->cr;
    rectf b = L->box;
    const double *c = L->cls >= 0 ? d->rgb[L->cls] : (const double[3]){0.95, 0.95, 0.95};
    double lw = L->line_w, arm = fmin(b.w, b.h) * 0.22;
    /* A thin full outline, then bold corner brackets; a dark halo (pass 0,
     * 2 px wider) under both keeps them visible on light backgrounds. */
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    for (int pass = 0; pass < 2; pass++) {
        double halo = pass ? 0 : 2;
        cairo_rectangle(cr, b.x, b.y, b.w, b.h);
        if (pass == 0) cairo_set_source_rgba(cr, 0, 0, 0, 0.35);
        else cairo_set_source_rgba(cr, c[0], c[1], c[2], 0.7);
        cairo_set_line_width(cr, lw + halo);
        cairo_stroke(cr);
        double x0 = b.x, y0 = b.y, x1 = b.x + b.w, y1 = b.y + b.h;
        cairo_move_to(cr, x0, y0 + arm), cairo_line_to(cr, x0, y0), cairo_line_to(cr, x0 + arm, y0);
        cairo_move_to(cr, x1 - arm, y0), cairo_line_to(cr, x1, y0), cairo_line_to(cr, x1, y0 + arm);
        cairo_move_to(cr, x1, y1 - arm), cairo_line_to(cr, x1, y1), cairo_line_to(cr, x1 - arm, y1);
        cairo_move_to(cr, x0 + arm, y1), cairo_line_to(cr, x0, y1), cairo_line_to(cr, x0, y1 - arm);
        if (pass == 1) cairo_set_source_rgb(cr, c[0], c[1], c[2]);
        cairo_set_line_width(cr, lw * 2.2 + halo);
        cairo_stroke(cr);
    }
}

static void paint_label(emo_drawer *d, const item_layout *L) {
    cairo_t *cr = d->cr;
    rectf r = L->label;
    const double *c = L->cls >= 0 ? d->rgb[L->cls] : (const double[3]){0.2, 0.2, 0.2};
    rounded_rect(cr, r.x, r.y, r.w, r.h, r.h * 0.3);
    cairo_set_source_rgba(cr, c[0], c[1], c[2], 0.92);
    cairo_fill(cr);
    double fs = L->label_fs;
    cairo_set_font_face(cr, d->bold);
    cairo_set_font_size(cr, fs);
    bool dark = dark_text_on(c);
    cairo_set_source_rgb(cr, dark ? 0.07 : 1, dark ? 0.07 : 1, dark ? 0.08 : 1);
    /* Baseline so that capitals sit centred: DejaVu's cap height is ~0.73 em. */
    cairo_move_to(cr, r.x + (r.w - L->text_w) / 2, r.y + r.h / 2 + fs * 0.365);
    cairo_show_text(cr, L->text);
}

static void paint_panel(emo_drawer *d, rectf r, double radius) {
    cairo_t *cr = d->cr;
    rounded_rect(cr, r.x, r.y, r.w, r.h, radius);
    cairo_set_source_rgba(cr, 0.06, 0.07, 0.09, d->panel_opacity);
    cairo_fill_preserve(cr);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.10 * d->panel_opacity / 0.68);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
}

static void paint_chart(emo_drawer *d, const chart_geom *g, double x, double y, const float *probs, int top,
                        bool panel) {
    cairo_t *cr = d->cr;
    if (panel) {
        paint_panel(d, (rectf){x + 0.5, y + 0.5, g->w - 1, g->h - 1}, g->fs * 0.5);
        /* A stripe in the shown class's colour ties the chart to its face. */
        const double *c = d->rgb[top];
        double r = g->fs * 0.5;
        cairo_save(cr);
        rounded_rect(cr, x + 0.5, y + 0.5, g->w - 1, g->h - 1, r);
        cairo_clip(cr);
        cairo_rectangle(cr, x, y, fmax(3.0, g->fs * 0.22), g->h);
        cairo_set_source_rgba(cr, c[0], c[1], c[2], 0.95);
        cairo_fill(cr);
        cairo_restore(cr);
    }
    double fs = g->fs, bx = x + g->pad + g->name_w + g->gap;
    for (int i = 0; i < d->nclasses; i++) {
        double ry = y + g->pad + i * g->row_h, mid = ry + fs * 0.62;
        double p = isfinite(probs[i]) ? EMO_CLAMP(probs[i], 0.0f, 1.0f) : 0.0;
        bool hi = i == top;
        const double *c = d->rgb[i];
        if (hi) { /* highlight band behind the top class */
            rounded_rect(cr, x + g->pad * 0.4, ry - (g->row_h - fs * 1.25) / 2, g->w - g->pad * 0.8,
                         g->row_h, fs * 0.35);
            cairo_set_source_rgba(cr, c[0], c[1], c[2], 0.22);
            cairo_fill(cr);
        }
        cairo_set_font_face(cr, hi ? d->bold : d->font);
        cairo_set_font_size(cr, fs);
        cairo_set_source_rgba(cr, 1, 1, 1, hi ? 1.0 : 0.82);
        cairo_move_to(cr, x + g->pad, mid + fs * 0.365);
        cairo_show_text(cr, d->names[i]);
        double bh = fs * 0.62;
        rounded_rect(cr, bx, mid - bh / 2, g->bar_w, bh, bh / 2);
        cairo_set_source_rgba(cr, 1, 1, 1, 0.16);
        cairo_fill(cr);
        if (p > 0) {
            double bw = fmax(bh * 0.5, g->bar_w * p);
            rounded_rect(cr, bx, mid - bh / 2, bw, bh, bh / 2);
            cairo_set_source_rgba(cr, c[0], c[1], c[2], hi ? 1.0 : 0.85);
            cairo_fill(cr);
        }
        char pct[16];
        snprintf(pct, sizeof pct, "%.0f%%", p * 100);
        cairo_text_extents_t te;
        cairo_set_font_face(cr, hi ? d->bold : d->font);
        cairo_text_extents(cr, pct, &te);
        cairo_set_source_rgba(cr, 1, 1, 1, hi ? 1.0 : 0.82);
        cairo_move_to(cr, x + g->w - g->pad - te.x_advance, mid + fs * 0.365);
        cairo_show_text(cr, pct);
    }
}

/* When the chart had to move away from its face, a thin line in the face's
 * colour joins the nearest points of box and chart. */
static void paint_leader(emo_drawer *d, const item_layout *L) {
    double bx, by, cx, cy;
    leader_ends(L->box, L->chart, &bx, &by, &cx, &cy);
    double dist = hypot(cx - bx, cy - by);
    if (dist < fmax(12.0, L->cg.fs * 1.5)) return;
    const double *col = L->cls >= 0 ? d->rgb[L->cls] : (const double[3]){0.95, 0.95, 0.95};
    cairo_t *cr = d->cr;
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    for (int pass = 0; pass < 2; pass++) {
        cairo_move_to(cr, bx, by);
        cairo_line_to(cr, cx, cy);
        if (pass == 0) cairo_set_source_rgba(cr, 0, 0, 0, 0.35);
        else cairo_set_source_rgba(cr, col[0], col[1], col[2], 0.9);
        cairo_set_line_width(cr, fmax(1.5, L->line_w * 0.8) + (pass ? 0 : 2));
        cairo_stroke(cr);
    }
    cairo_arc(cr, cx, cy, fmax(2.5, L->line_w * 1.2), 0, 2 * M_PI);
    cairo_set_source_rgba(cr, col[0], col[1], col[2], 1);
    cairo_fill(cr);
}

static void add_rect(int *u, bool *any, rectf r, double margin, int W, int H) {
    int x0 = (int)floor(r.x - margin), y0 = (int)floor(r.y - margin);
    int x1 = (int)ceil(r.x + r.w + margin), y1 = (int)ceil(r.y + r.h + margin);
    x0 = EMO_MAX(x0, 0), y0 = EMO_MAX(y0, 0), x1 = EMO_MIN(x1, W), y1 = EMO_MIN(y1, H);
    if (x1 <= x0 || y1 <= y0) return;
    if (!*any) {
        u[0] = x0, u[1] = y0, u[2] = x1, u[3] = y1;
        *any = true;
    } else {
        u[0] = EMO_MIN(u[0], x0), u[1] = EMO_MIN(u[1], y0), u[2] = EMO_MAX(u[2], x1), u[3] = EMO_MAX(u[3], y1);
    }
}

static void rect_out(rectf r, bool on, int out[4]) {
    if (!on) {
        out[0] = out[1] = out[2] = out[3] = 0;
        return;
    }
    out[0] = (int)floor(r.x), out[1] = (int)floor(r.y);
    out[2] = (int)ceil(r.x + r.w) - out[0], out[3] = (int)ceil(r.y + r.h) - out[1];
}

int emo_draw_faces(emo_drawer *d, emo_image *img, const emo_draw_item *items, int n, unsigned flags,
                   emo_draw_layout *layout) {
    if (!d) return emo_fail(EMO_EINVAL, "emo_draw_faces: no drawer");
    if (!image_ok(img)) return emo_fail(EMO_EINVAL, "emo_draw_faces: empty or invalid image");
    if (n < 0 || (n > 0 && !items)) return emo_fail(EMO_EINVAL, "emo_draw_faces: %d items and no array", n);
    for (int i = 0; i < n; i++) {
        const emo_draw_item *it = &items[i];
        if (!isfinite(it->x) || !isfinite(it->y) || !isfinite(it->w) || !isfinite(it->h) || it->w < 0 || it->h < 0 ||
            fabsf(it->x) > 1e6f || fabsf(it->y) > 1e6f || it->w > 1e6f || it->h > 1e6f)
            return emo_fail(EMO_EINVAL, "emo_draw_faces: face %d has a bad box (%g, %g, %g, %g)", i, (double)it->x,
                            (double)it->y, (double)it->w, (double)it->h);
        if (it->label >= d->nclasses)
            return emo_fail(EMO_EINVAL, "emo_draw_faces: face %d has label %d, the drawer has %d classes", i,
                            it->label, d->nclasses);
    }
    if (n == 0) return EMO_OK;
    /* All faces are laid out together, so that none covers another: the
     * layouts live in the drawer, which grows them when a frame has more
     * faces than any before. */
    if (n > d->lay_cap) {
        item_layout *p = realloc(d->lay, sizeof *p * (size_t)n);
        if (!p) return emo_fail(EMO_ENOMEM, "emo_draw_faces: out of memory for %d faces", n);
        d->lay = p;
        d->lay_cap = n;
    }
    item_layout *Ls = d->lay;
    int m = n;
    for (int i = 0; i < m; i++) {
        layout_item(d, img, &items[i], flags, &Ls[i]);
        Ls[i].want_chart = Ls[i].has_chart;
        Ls[i].has_chart = false; /* not placed yet */
    }
    /* Labels first (they name the faces), then emoji, then charts, each
     * kept off the other faces and what is already placed. */
    for (int i = 0; i < m; i++)
        if (Ls[i].want_label) place_label(d, Ls, m, i, img->width, img->height);
    for (int i = 0; i < m; i++)
        if (Ls[i].want_emoji) place_emoji(d, Ls, m, i, img->width, img->height, flags);
    for (int i = 0; i < m; i++)
        if (Ls[i].want_chart) place_chart(d, Ls, m, i, img->width, img->height);
    int u[4] = {0};
    bool any = false;
    for (int i = 0; i < m; i++) {
        item_layout *L = &Ls[i];
        if (flags & EMO_DRAW_BOX) add_rect(u, &any, L->box, L->line_w * 2 + 2, img->width, img->height);
        if (L->has_label) add_rect(u, &any, L->label, 1, img->width, img->height);
        if (L->has_emoji) add_rect(u, &any, L->emoji, 1, img->width, img->height);
        if (L->has_chart) add_rect(u, &any, L->chart, 1, img->width, img->height);
        if (layout) {
            rect_out(L->label, L->has_label, layout[i].label);
            rect_out(L->emoji, L->has_emoji, layout[i].emoji);
            rect_out(L->chart, L->has_chart, layout[i].chart);
        }
    }
    if (!any) return EMO_OK;
    int rx = u[0], ry = u[1], rw = u[2] - u[0], rh = u[3] - u[1];
    int s = ensure_canvas(d, rw, rh);
    if (s) return s;
    copy_in(d, img, rx, ry, rw, rh);
    cairo_t *cr = d->cr;
    cairo_save(cr);
    cairo_reset_clip(cr);
    cairo_rectangle(cr, 0, 0, rw, rh);
    cairo_clip(cr);
    cairo_translate(cr, -rx, -ry);
    uint8_t *cv = cairo_image_surface_get_data(d->canvas);
    int cs = cairo_image_surface_get_stride(d->canvas);
    /* Charts and their leader lines first: a leader may pass under its
     * own face's label. */
    for (int i = 0; i < m; i++) {
        item_layout *L = &Ls[i];
        if (!L->has_chart) continue;
        paint_leader(d, L);
        paint_chart(d, &L->cg, L->chart.x, L->chart.y, items[i].probs, L->cls, true);
    }
    for (int i = 0; i < m; i++) {
        item_layout *L = &Ls[i];
        if (flags & EMO_DRAW_BOX) paint_box(d, L);
        if (L->has_emoji) {
            cairo_surface_flush(d->canvas);
            blend_emoji(cv, cs, rw, rh, L->em, (int)L->emoji.x - rx, (int)L->emoji.y - ry);
            cairo_surface_mark_dirty(d->canvas);
        }
        if (L->has_label) paint_label(d, L);
    }
    cairo_restore(cr);
    copy_out(d, img, rx, ry, rw, rh);
    return EMO_OK;
}

int emo_draw_fps(emo_drawer *d, emo_image *img, float fps) {
    if (!d) return emo_fail(EMO_EINVAL, "emo_draw_fps: no drawer");
    if (!image_ok(img)) return emo_fail(EMO_EINVAL, "emo_draw_fps: empty or invalid image");
    char text[32];
    if (isfinite(fps) && fps >= 0 && fps < 1e5f) snprintf(text, sizeof text, "%.1f fps", (double)fps);
    else snprintf(text, sizeof text, "-- fps");
    double fs = fps_font(d, img->height);
    double tw = text_width(d->cr, d->bold, fs, text);
    double m = fs * 0.5, pw = tw + fs * 1.2, ph = fs * 1.8;
    if (m + pw > img->width || m + ph > img->height) return EMO_OK; /* too small to hold it: skip */
    int rw = (int)ceil(m + pw + 1), rh = (int)ceil(m + ph + 1);
    rw = EMO_MIN(rw, img->width), rh = EMO_MIN(rh, img->height);
    int s = ensure_canvas(d, rw, rh);
    if (s) return s;
    copy_in(d, img, 0, 0, rw, rh);
    cairo_t *cr = d->cr;
    cairo_save(cr);
    cairo_reset_clip(cr);
    cairo_rectangle(cr, 0, 0, rw, rh);
    cairo_clip(cr);
    paint_panel(d, (rectf){m, m, pw, ph}, fs * 0.45);
    cairo_set_font_face(cr, d->bold);
    cairo_set_font_size(cr, fs);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_move_to(cr, m + fs * 0.6, m + ph / 2 + fs * 0.365);
    cairo_show_text(cr, text);
    cairo_restore(cr);
    copy_out(d, img, 0, 0, rw, rh);
    return EMO_OK;
}

int emo_draw_chart(emo_drawer *d, const float *probs, int label, float font_px, int channels, emo_image *out) {
    if (!d || !probs || !out) return emo_fail(EMO_EINVAL, "emo_draw_chart: no drawer, probabilities or output");
    if (!(font_px >= 6 && font_px <= 200))
        return emo_fail(EMO_EINVAL, "emo_draw_chart: font size %g out of 6..200", (double)font_px);
    if (channels != 3 && channels != 4)
        return emo_fail(EMO_EINVAL, "emo_draw_chart: %d channels (want 3 or 4)", channels);
    if (label >= d->nclasses) return emo_fail(EMO_EINVAL, "emo_draw_chart: label %d of %d classes", label, d->nclasses);
    int top = label;
    if (top < 0) {
        top = 0;
        for (int i = 1; i < d->nclasses; i++)
            if (probs[i] > probs[top]) top = i;
    }
    chart_geom g = chart_size(d, font_px);
    double margin = channels == 3 ? font_px * 0.6 : 0;
    int w = (int)ceil(g.w + 2 * margin), h = (int)ceil(g.h + 2 * margin);
    int s = emo_image_alloc(out, w, h, channels);
    if (!s) s = ensure_canvas(d, w, h);
    if (s) return s;
    cairo_t *cr = d->cr;
    cairo_save(cr);
    cairo_reset_clip(cr);
    cairo_rectangle(cr, 0, 0, w, h);
    cairo_clip(cr);
    cairo_set_operator(cr, CAIRO_OPERATOR_SOURCE);
    if (channels == 3) cairo_set_source_rgb(cr, 1, 1, 1);
    else cairo_set_source_rgba(cr, 0, 0, 0, 0);
    cairo_paint(cr);
    cairo_set_operator(cr, CAIRO_OPERATOR_OVER);
    /* On white, a see-through panel would look washed out: make it solid. */
    float opacity = d->panel_opacity;
    if (channels == 3) d->panel_opacity = 1.0f;
    paint_chart(d, &g, margin, margin, probs, top, true);
    d->panel_opacity = opacity;
    cairo_restore(cr);
    cairo_surface_flush(d->canvas);
    const uint8_t *cv = cairo_image_surface_get_data(d->canvas);
    int cs = cairo_image_surface_get_stride(d->canvas);
    for (int y = 0; y < h; y++) {
        const uint32_t *sp = (const uint32_t *)(cv + (size_t)y * cs);
        uint8_t *o = out->data + (size_t)y * out->stride;
        for (int x = 0; x < w; x++, o += channels) {
            uint32_t p = sp[x], a = p >> 24;
            uint32_t r = (p >> 16) & 255, gg = (p >> 8) & 255, b = p & 255;
            if (channels == 4 && a > 0 && a < 255) { /* un-premultiply for straight-alpha RGBA */
                r = (r * 255 + a / 2) / a, gg = (gg * 255 + a / 2) / a, b = (b * 255 + a / 2) / a;
            }
            o[0] = (uint8_t)EMO_MIN(r, 255u), o[1] = (uint8_t)EMO_MIN(gg, 255u), o[2] = (uint8_t)EMO_MIN(b, 255u);
            if (channels == 4) o[3] = (uint8_t)a;
        }
    }
    return EMO_OK;
}
