/* image.c — 8-bit images: decode/encode JPEG (libturbojpeg) and PNG (libspng),
 * grey conversion, resize, crop and affine warp.
 *
 * Where OpenCV is the reference (grey weights, resize coordinate mapping),
 * results match it to within 1 grey level; tests/ref/make_image_refs.py makes
 * the reference files. */
#include "internal.h"

#include <math.h>
#include <spng.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <turbojpeg.h>

/* Encoded files larger than this are refused before reading (1 GiB). */
#define MAX_FILE_BYTES ((size_t)1 << 30)

/* ------------------------------------------------------------------------ */
/* Allocation                                                               */
/* ------------------------------------------------------------------------ */

static int check_size(int w, int h, const char *what) {
    if (w <= 0 || h <= 0) return emo_fail(EMO_EINVAL, "%s: empty image (%dx%d)", what, w, h);
    if (w > EMO_MAX_SIDE || h > EMO_MAX_SIDE || (uint64_t)w * (uint64_t)h > EMO_MAX_PIXELS)
        return emo_fail(EMO_ELIMIT, "%s: %dx%d pixels is above the limit (%d per side, %u pixels)", what, w,
                        h, EMO_MAX_SIDE, EMO_MAX_PIXELS);
    return EMO_OK;
}

int emo_image_alloc(emo_image *img, int w, int h, int channels) {
    if (!img) return emo_fail(EMO_EINVAL, "emo_image_alloc: no image");
    if (channels != 1 && channels != 3 && channels != 4)
        return emo_fail(EMO_EINVAL, "emo_image_alloc: %d channels (want 1, 3 or 4)", channels);
    int s = check_size(w, h, "emo_image_alloc");
    if (s) return s;
    size_t need = (size_t)w * (size_t)h * (size_t)channels;
    if (need > img->capacity) {
        if (img->data && img->capacity == 0)
            return emo_fail(EMO_EINVAL, "emo_image_alloc: image wraps caller memory too small for %dx%dx%d", w,
                            h, channels);
        uint8_t *p = realloc(img->data, need);
        if (!p) return emo_fail(EMO_ENOMEM, "out of memory for a %dx%dx%d image", w, h, channels);
        img->data = p;
        img->capacity = need;
    }
    img->width = w;
    img->height = h;
    img->channels = channels;
    img->stride = w * channels;
    return EMO_OK;
}

void emo_image_free(emo_image *img) {
    if (!img) return;
    if (img->capacity) free(img->data);
    memset(img, 0, sizeof *img);
}

emo_image emo_image_wrap(uint8_t *data, int w, int h, int channels, int stride) {
    emo_image img = {w, h, channels, stride ? stride : w * channels, data, 0};
    return img;
}

static bool image_valid(const emo_image *img) {
    return img && img->data && img->width > 0 && img->height > 0 &&
           (img->channels == 1 || img->channels == 3 || img->channels == 4) &&
           img->stride >= img->width * img->channels;
}

#define CHECK_IMAGE(img, fn)                                                                   \
    do {                                                                                       \
        if (!image_valid(img)) return emo_fail(EMO_EINVAL, "%s: empty or invalid image", fn); \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Channel conversion                                                       */
/* ------------------------------------------------------------------------ */

/* OpenCV's cvtColor RGB->GRAY for 8-bit: BT.601 weights in Q14 fixed point. */
static inline uint8_t grey_of(int r, int g, int b) {
    return (uint8_t)((r * 4899 + g * 9617 + b * 1868 + (1 << 13)) >> 14);
}

static void convert_row(const uint8_t *s, int sc, uint8_t *d, int dc, int w) {
    if (sc == dc) {
        memcpy(d, s, (size_t)w * sc);
        return;
    }
    for (int x = 0; x < w; x++, s += sc, d += dc) {
        if (dc == 1) {
            d[0] = grey_of(s[0], s[1], s[2]); /* sc is 3 or 4 */
        } else {
            if (sc == 1) d[0] = d[1] = d[2] = s[0];
            else d[0] = s[0], d[1] = s[1], d[2] = s[2];
            if (dc == 4) d[3] = sc == 4 ? s[3] : 255;
        }
    }
}

int emo_image_convert(const emo_image *src, emo_image *dst, int channels) {
    CHECK_IMAGE(src, "emo_image_convert");
    if (src == dst) return emo_fail(EMO_EINVAL, "emo_image_convert: source and destination are the same");
    int s = emo_image_alloc(dst, src->width, src->height, channels);
    if (s) return s;
    for (int y = 0; y < src->height; y++)
        convert_row(src->data + (size_t)y * src->stride, src->channels, dst->data + (size_t)y * dst->stride,
                    channels, src->width);
    return EMO_OK;
}

int emo_image_to_grey(const emo_image *src, emo_image *dst) { return emo_image_convert(src, dst, 1); }

/* In-place variant used after decoding: converts img to `channels`, reusing
 * a scratch image. */
static int convert_in_place(emo_image *img, int channels, const char *what) {
    if (channels == 0 || channels == img->channels) return EMO_OK;
    emo_image tmp = {0};
    int s = emo_image_convert(img, &tmp, channels);
    if (s) return emo_fail_prefix(s, "%s", what);
    emo_image_free(img);
    *img = tmp;
    return EMO_OK;
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */
/* ------------------------------------------------------------------------ */

emo_image_format emo_image_sniff(const void *bytes, size_t size) {
    const uint8_t *b = bytes;
    if (size >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return EMO_FORMAT_JPEG;
    if (size >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) return EMO_FORMAT_PNG;
    return EMO_FORMAT_UNKNOWN;
}

/* EXIF orientation: tag 0x0112 in IFD0 of the APP1 "Exif" segment says how
 * the camera was held. 1 = upright as stored; 2..8 = mirror and/or rotate to
 * display (phones write 6 or 8 for portrait photos). OpenCV's imread applies
 * it, so we do too. Anything malformed reads as 1: the pixels are still good. */
static unsigned tiff_u16(const uint8_t *p, bool le) {
    return le ? (unsigned)p[0] | (unsigned)p[1] << 8 : (unsigned)p[0] << 8 | p[1];
}

static uint32_t tiff_u32(const uint8_t *p, bool le) {
    return le ? tiff_u16(p, le) | (uint32_t)tiff_u16(p + 2, le) << 16
              : (uint32_t)tiff_u16(p, le) << 16 | tiff_u16(p + 2, le);
}

/* t: the TIFF block inside the Exif segment, n bytes. */
static int tiff_orientation(const uint8_t *t, size_t n) {
    if (n < 8 || (memcmp(t, "II", 2) != 0 && memcmp(t, "MM", 2) != 0)) return 1;
    bool le = t[0] == 'I';
    if (tiff_u16(t + 2, le) != 42) return 1;
    uint32_t ifd = tiff_u32(t + 4, le);
    if (ifd > n - 2) return 1;
    unsigned count = tiff_u16(t + ifd, le);
    for (unsigned k = 0; k < count; k++) {
        size_t e = ifd + 2 + (size_t)k * 12; /* entry: tag, type, count, value */
        if (e + 12 > n) break;
        if (tiff_u16(t + e, le) != 0x0112) continue;
        unsigned v = tiff_u16(t + e + 2, le) == 3 ? tiff_u16(t + e + 8, le) : 0; /* type 3 = SHORT */
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

static int jpeg_orientation(const uint8_t *b, size_t size) {
    size_t i = 2; /* after SOI */
    while (i + 4 <= size && b[i] == 0xFF) {
        int marker = b[i + 1];
        if (marker == 0xFF) { /* fill byte */
            i++;
            continue;
        }
        if (marker == 0xDA || marker == 0xD9) break; /* scan data: no metadata after it */
        size_t len = (size_t)b[i + 2] << 8 | b[i + 3]; /* counts itself, not the marker */
        if (len < 2 || len > size - i - 2) break;
        if (marker == 0xE1 && len >= 2 + 6 + 8 && memcmp(b + i + 4, "Exif\0\0", 6) == 0)
            return tiff_orientation(b + i + 10, len - 8);
        i += 2 + len;
    }
    return 1;
}

/* Turns img upright for EXIF orientation o (2..8). Output pixel (x, y) reads
 * source pixel origin + x * step_x + y * step_y, in (column, row) units. */
static int apply_orientation(emo_image *img, int o) {
    static const int8_t map[9][6] = {
        /* origin x, origin y (1 = far edge), step_x (dx, dy), step_y (dx, dy) */
        [2] = {1, 0, -1, 0, 0, 1},  /* mirrored */
        [3] = {1, 1, -1, 0, 0, -1}, /* rotated 180 */
        [4] = {0, 1, 1, 0, 0, -1},  /* flipped */
        [5] = {0, 0, 0, 1, 1, 0},   /* transposed */
        [6] = {0, 1, 0, -1, 1, 0},  /* needs 90 degrees clockwise */
        [7] = {1, 1, 0, -1, -1, 0}, /* transverse */
        [8] = {1, 0, 0, 1, -1, 0},  /* needs 90 degrees anticlockwise */
    };
    const int8_t *m = map[o];
    int w = img->width, h = img->height, c = img->channels;
    emo_image up = {0};
    int s = emo_image_alloc(&up, o >= 5 ? h : w, o >= 5 ? w : h, c);
    if (s) return s;
    const uint8_t *origin = img->data + (size_t)(m[1] ? h - 1 : 0) * img->stride + (size_t)(m[0] ? w - 1 : 0) * c;
    ptrdiff_t sx = (ptrdiff_t)m[2] * c + (ptrdiff_t)m[3] * img->stride;
    ptrdiff_t sy = (ptrdiff_t)m[4] * c + (ptrdiff_t)m[5] * img->stride;
    for (int y = 0; y < up.height; y++) {
        const uint8_t *p = origin + y * sy;
        uint8_t *d = up.data + (size_t)y * up.stride;
        for (int x = 0; x < up.width; x++, p += sx, d += c) memcpy(d, p, (size_t)c);
    }
    emo_image_free(img);
    *img = up;
    return EMO_OK;
}

static int decode_jpeg(emo_image *out, const uint8_t *bytes, size_t size, int channels, const char *what) {
    tjhandle tj = tjInitDecompress();
    if (!tj) return emo_fail(EMO_ENOMEM, "%s: cannot start the JPEG decoder", what);
    int w, h, subsamp, colorspace, s = EMO_OK;
    if (size > (unsigned long)-1 ||
        tjDecompressHeader3(tj, bytes, (unsigned long)size, &w, &h, &subsamp, &colorspace) != 0) {
        s = emo_fail(EMO_EFORMAT, "%s: not a readable JPEG (%s)", what, tjGetErrorStr2(tj));
        goto done;
    }
    if ((s = check_size(w, h, what))) goto done;
    /* Grey files decode to grey; colour files decode to RGB and are then
     * converted with OpenCV's weights (libjpeg's own grey conversion differs). */
    int file_channels = colorspace == TJCS_GRAY ? 1 : 3;
    if ((s = emo_image_alloc(out, w, h, file_channels))) goto done;
    int pf = file_channels == 1 ? TJPF_GRAY : TJPF_RGB;
    if (tjDecompress2(tj, bytes, (unsigned long)size, out->data, w, out->stride, h, pf, TJFLAG_ACCURATEDCT) != 0) {
        const char *msg = tjGetErrorStr2(tj);
        /* Warnings (e.g. extraneous bytes) still give a full image; a
         * premature end means missing pixels: refuse it. */
        if (tjGetErrorCode(tj) != TJERR_WARNING || strstr(msg, "Premature end")) {
            s = emo_fail(EMO_EFORMAT, "%s: %s JPEG data (%s)", what,
                         strstr(msg, "Premature end") ? "truncated" : "corrupt", msg);
            goto done;
        }
    }
    /* Convert first: turning a grey image moves a third of the bytes. */
    if ((s = convert_in_place(out, channels, what))) goto done;
    int orientation = jpeg_orientation(bytes, size);
    if (orientation != 1 && (s = apply_orientation(out, orientation))) s = emo_fail_prefix(s, "%s", what);
done:
    tjDestroy(tj);
    return s;
}

static int decode_png(emo_image *out, const uint8_t *bytes, size_t size, int channels, const char *what) {
    spng_ctx *ctx = spng_ctx_new(0);
    if (!ctx) return emo_fail(EMO_ENOMEM, "%s: cannot start the PNG decoder", what);
    int s = EMO_OK, e;
    struct spng_ihdr ihdr;
    size_t need;
    /* Bound ancillary chunk memory, so a hostile file cannot exhaust it. */
    spng_set_chunk_limits(ctx, 16u << 20, 64u << 20);
    spng_set_crc_action(ctx, SPNG_CRC_ERROR, SPNG_CRC_ERROR);
    if ((e = spng_set_png_buffer(ctx, bytes, size)) || (e = spng_get_ihdr(ctx, &ihdr))) {
        s = emo_fail(EMO_EFORMAT, "%s: not a readable PNG (%s)", what, spng_strerror(e));
        goto done;
    }
    if (ihdr.width > (uint32_t)EMO_MAX_SIDE || ihdr.height > (uint32_t)EMO_MAX_SIDE) {
        s = emo_fail(EMO_ELIMIT, "%s: %ux%u pixels is above the limit (%d per side, %u pixels)", what,
                     ihdr.width, ihdr.height, EMO_MAX_SIDE, EMO_MAX_PIXELS);
        goto done;
    }
    if ((s = check_size((int)ihdr.width, (int)ihdr.height, what))) goto done;
    /* Everything decodes to RGBA8 (palette, 16-bit, tRNS handled by libspng),
     * then narrows to the file's natural channel count or the one asked for. */
    if ((e = spng_decoded_image_size(ctx, SPNG_FMT_RGBA8, &need))) {
        s = emo_fail(EMO_EFORMAT, "%s: %s", what, spng_strerror(e));
        goto done;
    }
    if ((s = emo_image_alloc(out, (int)ihdr.width, (int)ihdr.height, 4))) goto done;
    if ((e = spng_decode_image(ctx, out->data, need, SPNG_FMT_RGBA8, SPNG_DECODE_TRNS))) {
        s = emo_fail(EMO_EFORMAT, "%s: %s PNG data (%s)", what,
                     e == SPNG_EOF || e == SPNG_IO_EOF ? "truncated" : "corrupt", spng_strerror(e));
        goto done;
    }
    int natural;
    struct spng_trns trns;
    bool has_trns = spng_get_trns(ctx, &trns) == 0;
    switch (ihdr.color_type) {
    case SPNG_COLOR_TYPE_GRAYSCALE: natural = has_trns ? 4 : 1; break;
    case SPNG_COLOR_TYPE_GRAYSCALE_ALPHA:
    case SPNG_COLOR_TYPE_TRUECOLOR_ALPHA: natural = 4; break;
    default: natural = has_trns ? 4 : 3; break;
    }
    if (natural == 1 && channels != 3 && channels != 4) {
        /* Grey file: take R of the replicated RGBA (no weighting needed). */
        emo_image tmp = {0};
        if ((s = emo_image_alloc(&tmp, out->width, out->height, 1))) goto done;
        size_t n = (size_t)out->width * out->height;
        for (size_t i = 0; i < n; i++) tmp.data[i] = out->data[4 * i];
        emo_image_free(out);
        *out = tmp;
    } else {
        s = convert_in_place(out, channels ? channels : natural, what);
    }
done:
    spng_ctx_free(ctx);
    return s;
}

int emo_image_decode(emo_image *out, const void *bytes, size_t size, int channels) {
    return emo_image_decode_named(out, bytes, size, channels, "image");
}

int emo_image_decode_named(emo_image *out, const void *bytes, size_t size, int channels, const char *what) {
    if (!out) return emo_fail(EMO_EINVAL, "emo_image_decode: no output image");
    if (channels != 0 && channels != 1 && channels != 3 && channels != 4)
        return emo_fail(EMO_EINVAL, "%s: %d channels asked (want 0, 1, 3 or 4)", what, channels);
    if (!bytes || size == 0) return emo_fail(EMO_EFORMAT, "%s: empty file", what);
    switch (emo_image_sniff(bytes, size)) {
    case EMO_FORMAT_JPEG: return decode_jpeg(out, bytes, size, channels, what);
    case EMO_FORMAT_PNG: return decode_png(out, bytes, size, channels, what);
    default: return emo_fail(EMO_EUNSUPPORTED, "%s: not a JPEG or PNG image", what);
    }
}

int emo_image_load(emo_image *out, const char *path, int channels) {
    uint8_t *bytes;
    size_t size;
    int s = emo_read_file(path, MAX_FILE_BYTES, &bytes, &size);
    if (s) return s;
    s = emo_image_decode_named(out, bytes, size, channels, path);
    free(bytes);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                 */
/* ------------------------------------------------------------------------ */

static int encode_jpeg(const emo_image *img, int quality, uint8_t **bytes, size_t *size) {
    tjhandle tj = tjInitCompress();
    if (!tj) return emo_fail(EMO_ENOMEM, "cannot start the JPEG encoder");
    int pf = img->channels == 1 ? TJPF_GRAY : img->channels == 3 ? TJPF_RGB : TJPF_RGBX;
    int sub = img->channels == 1 ? TJSAMP_GRAY : quality >= 90 ? TJSAMP_444 : TJSAMP_420;
    unsigned char *buf = NULL;
    unsigned long len = 0;
    int s = EMO_OK;
    if (tjCompress2(tj, img->data, img->width, img->stride, img->height, pf, &buf, &len, sub, quality,
                    TJFLAG_ACCURATEDCT) != 0) {
        s = emo_fail(EMO_EIO, "JPEG encoding failed: %s", tjGetErrorStr2(tj));
        tjFree(buf);
    } else {
        /* Hand back malloc'ed memory, as documented. */
        *bytes = malloc(len);
        if (!*bytes) s = emo_fail(EMO_ENOMEM, "out of memory encoding JPEG");
        else memcpy(*bytes, buf, len), *size = len;
        tjFree(buf);
    }
    tjDestroy(tj);
    return s;
}

static int encode_png(const emo_image *img, uint8_t **bytes, size_t *size) {
    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    if (!ctx) return emo_fail(EMO_ENOMEM, "cannot start the PNG encoder");
    int s = EMO_OK, e;
    uint8_t *packed = NULL;
    const uint8_t *px = img->data;
    size_t row = (size_t)img->width * img->channels, len = row * img->height;
    if ((size_t)img->stride != row) { /* libspng wants contiguous rows */
        packed = malloc(len);
        if (!packed) {
            spng_ctx_free(ctx);
            return emo_fail(EMO_ENOMEM, "out of memory encoding PNG");
        }
        for (int y = 0; y < img->height; y++) memcpy(packed + y * row, img->data + (size_t)y * img->stride, row);
        px = packed;
    }
    struct spng_ihdr ihdr = {
        .width = (uint32_t)img->width,
        .height = (uint32_t)img->height,
        .bit_depth = 8,
        .color_type = img->channels == 1   ? SPNG_COLOR_TYPE_GRAYSCALE
                      : img->channels == 3 ? SPNG_COLOR_TYPE_TRUECOLOR
                                           : SPNG_COLOR_TYPE_TRUECOLOR_ALPHA,
    };
    spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
    if ((e = spng_set_ihdr(ctx, &ihdr)) || (e = spng_encode_image(ctx, px, len, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE))) {
        s = emo_fail(EMO_EIO, "PNG encoding failed: %s", spng_strerror(e));
    } else {
        size_t n;
        void *buf = spng_get_png_buffer(ctx, &n, &e);
        if (!buf) s = emo_fail(EMO_EIO, "PNG encoding failed: %s", spng_strerror(e));
        else *bytes = buf, *size = n; /* malloc'ed by libspng's default allocator */
    }
    free(packed);
    spng_ctx_free(ctx);
    return s;
}

int emo_image_encode(const emo_image *img, emo_image_format fmt, int quality, uint8_t **bytes, size_t *size) {
    CHECK_IMAGE(img, "emo_image_encode");
    if (!bytes || !size) return emo_fail(EMO_EINVAL, "emo_image_encode: no output");
    *bytes = NULL;
    *size = 0;
    if (quality < 1 || quality > 100) return emo_fail(EMO_EINVAL, "JPEG quality %d is outside 1..100", quality);
    switch (fmt) {
    case EMO_FORMAT_JPEG: return encode_jpeg(img, quality, bytes, size);
    case EMO_FORMAT_PNG: return encode_png(img, bytes, size);
    default: return emo_fail(EMO_EINVAL, "emo_image_encode: unknown format %d", (int)fmt);
    }
}

emo_image_format emo_image_format_of_path(const char *path) {
    const char *dot = path ? strrchr(path, '.') : NULL;
    if (!dot) return EMO_FORMAT_UNKNOWN;
    if (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg")) return EMO_FORMAT_JPEG;
    if (!strcasecmp(dot, ".png")) return EMO_FORMAT_PNG;
    return EMO_FORMAT_UNKNOWN;
}

int emo_image_save(const emo_image *img, const char *path, int quality) {
    CHECK_IMAGE(img, "emo_image_save");
    emo_image_format fmt = emo_image_format_of_path(path);
    if (fmt == EMO_FORMAT_UNKNOWN)
        return emo_fail(EMO_EUNSUPPORTED, "%s: unknown image type (use .jpg, .jpeg or .png)", path ? path : "");
    uint8_t *bytes;
    size_t size;
    int s = emo_image_encode(img, fmt, quality, &bytes, &size);
    if (s) return emo_fail_prefix(s, "%s", path);
    s = emo_write_file_atomic(path, bytes, size);
    free(bytes);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Resize                                                                   */
/* ------------------------------------------------------------------------ */

/* One source tap pair per destination coordinate: out = a*s[i0] + (1-a)*s[i1]. */
typedef struct tap2 {
    int i0, i1;
    float a;
} tap2;

/* OpenCV's mapping: linear uses pixel centres; the upscaling branch of
 * INTER_AREA uses its own fraction (sharper edges). */
static void linear_taps(tap2 *t, int dn, int sn, emo_interp interp) {
    double scale = (double)sn / dn;
    for (int d = 0; d < dn; d++) {
        float f;
        int s;
        if (interp == EMO_INTERP_AREA) {
            s = (int)floor(d * scale);
            f = (float)((d + 1) - (s + 1) / scale);
            f = f <= 0 ? 0.f : f - floorf(f);
        } else {
            f = (float)((d + 0.5) * scale - 0.5);
            s = (int)floorf(f);
            f -= (float)s;
        }
        if (s < 0) s = 0, f = 0;
        if (s >= sn - 1) s = sn - 1, f = 0;
        t[d].i0 = s;
        t[d].i1 = EMO_MIN(s + 1, sn - 1);
        t[d].a = 1.f - f;
    }
}

static int resize_linear(const emo_image *src, emo_image *dst, int w, int h, emo_interp interp) {
    int c = src->channels;
    tap2 *tx = malloc(sizeof(tap2) * (size_t)w), *ty = malloc(sizeof(tap2) * (size_t)h);
    float *r0 = malloc(sizeof(float) * (size_t)w * c), *r1 = malloc(sizeof(float) * (size_t)w * c);
    if (!tx || !ty || !r0 || !r1) {
        free(tx), free(ty), free(r0), free(r1);
        return emo_fail(EMO_ENOMEM, "out of memory resizing to %dx%d", w, h);
    }
    linear_taps(tx, w, src->width, interp);
    linear_taps(ty, h, src->height, interp);
    int cached0 = -1, cached1 = -1;
    for (int y = 0; y < h; y++) {
        /* Horizontal pass into two float rows, reused while the source rows
         * stay the same. */
        int want[2] = {ty[y].i0, ty[y].i1};
        for (int k = 0; k < 2; k++) {
            float *r = k ? r1 : r0;
            int *cached = k ? &cached1 : &cached0;
            if (*cached == want[k]) continue;
            const uint8_t *s = src->data + (size_t)want[k] * src->stride;
            for (int x = 0; x < w; x++) {
                const uint8_t *p0 = s + tx[x].i0 * c, *p1 = s + tx[x].i1 * c;
                float a = tx[x].a;
                for (int ch = 0; ch < c; ch++) r[x * c + ch] = a * p0[ch] + (1.f - a) * p1[ch];
            }
            *cached = want[k];
        }
        float b = ty[y].a;
        uint8_t *d = dst->data + (size_t)y * dst->stride;
        for (int i = 0; i < w * c; i++) {
            float v = b * r0[i] + (1.f - b) * r1[i];
            d[i] = (uint8_t)EMO_CLAMP(lrintf(v), 0, 255);
        }
    }
    free(tx), free(ty), free(r0), free(r1);
    return EMO_OK;
}

/* Area weights along one axis: destination d covers source [d*scale,
 * (d+1)*scale); each source pixel contributes its overlap / scale. */
typedef struct area_tab {
    int first, count; /* range into the weight list */
} area_tab;

static int area_weights(int dn, int sn, area_tab *tab, int **idx, float **wt) {
    double scale = (double)sn / dn;
    int cap = (int)ceil(scale) + 2;
    *idx = malloc(sizeof(int) * (size_t)dn * cap);
    *wt = malloc(sizeof(float) * (size_t)dn * cap);
    if (!*idx || !*wt) return EMO_ENOMEM;
    int k = 0;
    for (int d = 0; d < dn; d++) {
        double lo = d * scale, hi = EMO_MIN((d + 1) * scale, (double)sn);
        tab[d].first = k;
        for (int s = (int)floor(lo); s < hi && s < sn; s++) {
            double ov = EMO_MIN(hi, s + 1.0) - EMO_MAX(lo, (double)s);
            if (ov <= 1e-9) continue;
            (*idx)[k] = s;
            (*wt)[k] = (float)(ov / scale);
            k++;
        }
        tab[d].count = k - tab[d].first;
    }
    return EMO_OK;
}

static int resize_area(const emo_image *src, emo_image *dst, int w, int h) {
    int c = src->channels, s = EMO_OK;
    area_tab *tx = malloc(sizeof(area_tab) * (size_t)w), *ty = malloc(sizeof(area_tab) * (size_t)h);
    int *ix = NULL, *iy = NULL;
    float *wx = NULL, *wy = NULL, *row = NULL, *acc = NULL;
    if (!tx || !ty || area_weights(w, src->width, tx, &ix, &wx) || area_weights(h, src->height, ty, &iy, &wy) ||
        !(row = malloc(sizeof(float) * (size_t)w * c)) || !(acc = malloc(sizeof(float) * (size_t)w * c))) {
        s = emo_fail(EMO_ENOMEM, "out of memory resizing to %dx%d", w, h);
        goto done;
    }
    for (int y = 0; y < h; y++) {
        memset(acc, 0, sizeof(float) * (size_t)w * c);
        for (int k = ty[y].first; k < ty[y].first + ty[y].count; k++) {
            const uint8_t *sr = src->data + (size_t)iy[k] * src->stride;
            for (int x = 0; x < w; x++)
                for (int ch = 0; ch < c; ch++) {
                    float v = 0;
                    for (int j = tx[x].first; j < tx[x].first + tx[x].count; j++) v += wx[j] * sr[ix[j] * c + ch];
                    row[x * c + ch] = v;
                }
            for (int i = 0; i < w * c; i++) acc[i] += wy[k] * row[i];
        }
        uint8_t *d = dst->data + (size_t)y * dst->stride;
        for (int i = 0; i < w * c; i++) d[i] = (uint8_t)EMO_CLAMP(lrintf(acc[i]), 0, 255);
    }
done:
    free(tx), free(ty), free(ix), free(iy), free(wx), free(wy), free(row), free(acc);
    return s;
}

int emo_image_resize(const emo_image *src, emo_image *dst, int w, int h, emo_interp interp) {
    CHECK_IMAGE(src, "emo_image_resize");
    if (src == dst) return emo_fail(EMO_EINVAL, "emo_image_resize: source and destination are the same");
    if (interp != EMO_INTERP_LINEAR && interp != EMO_INTERP_AREA)
        return emo_fail(EMO_EINVAL, "emo_image_resize: unknown interpolation %d", (int)interp);
    int s = emo_image_alloc(dst, w, h, src->channels);
    if (s) return s;
    /* As OpenCV: area averaging only when shrinking on both axes; otherwise
     * the area mode becomes a sharp bilinear. */
    if (interp == EMO_INTERP_AREA && w <= src->width && h <= src->height) return resize_area(src, dst, w, h);
    return resize_linear(src, dst, w, h, interp);
}

/* ------------------------------------------------------------------------ */
/* Crop and warp                                                            */
/* ------------------------------------------------------------------------ */

int emo_image_crop(const emo_image *src, emo_image *dst, int x, int y, int w, int h) {
    CHECK_IMAGE(src, "emo_image_crop");
    if (src == dst) return emo_fail(EMO_EINVAL, "emo_image_crop: source and destination are the same");
    int s = emo_image_alloc(dst, w, h, src->channels);
    if (s) return s;
    int c = src->channels;
    for (int r = 0; r < h; r++) {
        int sy = EMO_CLAMP(y + r, 0, src->height - 1);
        const uint8_t *sr = src->data + (size_t)sy * src->stride;
        uint8_t *d = dst->data + (size_t)r * dst->stride;
        /* Inside part with one memcpy, borders replicated pixel by pixel. */
        int in0 = EMO_CLAMP(x, 0, src->width), in1 = EMO_CLAMP(x + w, 0, src->width);
        for (int i = 0; i < w; i++) {
            int sx = x + i;
            if (sx >= in0 && sx < in1) {
                memcpy(d + i * c, sr + sx * c, (size_t)(in1 - sx) * c);
                i += in1 - sx - 1;
                continue;
            }
            memcpy(d + i * c, sr + EMO_CLAMP(sx, 0, src->width - 1) * c, (size_t)c);
        }
    }
    return EMO_OK;
}

int emo_image_warp_affine(const emo_image *src, emo_image *dst, const float m[6], int w, int h) {
    CHECK_IMAGE(src, "emo_image_warp_affine");
    if (src == dst) return emo_fail(EMO_EINVAL, "emo_image_warp_affine: source and destination are the same");
    if (!m) return emo_fail(EMO_EINVAL, "emo_image_warp_affine: no matrix");
    for (int i = 0; i < 6; i++)
        if (!isfinite(m[i])) return emo_fail(EMO_EINVAL, "emo_image_warp_affine: matrix has NaN or Inf");
    int s = emo_image_alloc(dst, w, h, src->channels);
    if (s) return s;
    int c = src->channels, sw = src->width, sh = src->height;
    for (int y = 0; y < h; y++) {
        uint8_t *d = dst->data + (size_t)y * dst->stride;
        for (int x = 0; x < w; x++) {
            float fx = m[0] * x + m[1] * y + m[2], fy = m[3] * x + m[4] * y + m[5];
            /* Clamp far-away coordinates first so the int conversion is safe. */
            fx = EMO_CLAMP(fx, -2.f, (float)sw + 1.f);
            fy = EMO_CLAMP(fy, -2.f, (float)sh + 1.f);
            int x0 = (int)floorf(fx), y0 = (int)floorf(fy);
            float ax = fx - x0, ay = fy - y0;
            int xa = EMO_CLAMP(x0, 0, sw - 1), xb = EMO_CLAMP(x0 + 1, 0, sw - 1);
            int ya = EMO_CLAMP(y0, 0, sh - 1), yb = EMO_CLAMP(y0 + 1, 0, sh - 1);
            const uint8_t *ra = src->data + (size_t)ya * src->stride, *rb = src->data + (size_t)yb * src->stride;
            for (int ch = 0; ch < c; ch++) {
                float top = ra[xa * c + ch] + ax * (ra[xb * c + ch] - ra[xa * c + ch]);
                float bot = rb[xa * c + ch] + ax * (rb[xb * c + ch] - rb[xa * c + ch]);
                float v = top + ay * (bot - top);
                d[x * c + ch] = (uint8_t)EMO_CLAMP(lrintf(v), 0, 255);
            }
        }
    }
    return EMO_OK;
}
