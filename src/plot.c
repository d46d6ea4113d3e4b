/* plot.c — small plots drawn with cairo into RGB images: line plots with
 * axes and legend (training curves, a face's emotion over time) and a
 * confusion-matrix heat map. Not for the real-time path: each call loads the
 * fonts and allocates its canvas. */
#include "fonts.h"
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct plot_ctx {
    cairo_surface_t *surf;
    cairo_t *cr;
    cairo_font_face_t *font, *bold;
} plot_ctx;

static void plot_end(plot_ctx *p) {
    if (p->cr) cairo_destroy(p->cr);
    if (p->surf) cairo_surface_destroy(p->surf);
    if (p->font) cairo_font_face_destroy(p->font);
    if (p->bold) cairo_font_face_destroy(p->bold);
    memset(p, 0, sizeof *p);
}

static int plot_begin(plot_ctx *p, int w, int h) {
    memset(p, 0, sizeof *p);
    int s = emo_fonts_load(NULL, NULL, &p->font, &p->bold);
    if (s) return s;
    p->surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    p->cr = cairo_create(p->surf);
    if (cairo_status(p->cr) != CAIRO_STATUS_SUCCESS) {
        plot_end(p);
        return emo_fail(EMO_ENOMEM, "out of memory for a %dx%d plot", w, h);
    }
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
    cairo_set_font_options(p->cr, fo);
    cairo_font_options_destroy(fo);
    cairo_set_source_rgb(p->cr, 1, 1, 1);
    cairo_paint(p->cr);
    return EMO_OK;
}

/* Copies the canvas into out as RGB and ends the plot. */
static int plot_finish(plot_ctx *p, emo_image *out) {
    cairo_surface_flush(p->surf);
    int w = cairo_image_surface_get_width(p->surf), h = cairo_image_surface_get_height(p->surf);
    int s = emo_image_alloc(out, w, h, 3);
    if (!s) {
        const uint8_t *d = cairo_image_surface_get_data(p->surf);
        int st = cairo_image_surface_get_stride(p->surf);
        for (int y = 0; y < h; y++) {
            const uint32_t *row = (const uint32_t *)(d + (size_t)y * st);
            uint8_t *o = out->data + (size_t)y * out->stride;
            for (int x = 0; x < w; x++, o += 3) o[0] = (uint8_t)(row[x] >> 16), o[1] = (uint8_t)(row[x] >> 8), o[2] = (uint8_t)row[x];
        }
    }
    plot_end(p);
    return s;
}

static void set_rgb(cairo_t *cr, uint32_t c, double a) {
    cairo_set_source_rgba(cr, ((c >> 16) & 255) / 255.0, ((c >> 8) & 255) / 255.0, (c & 255) / 255.0, a);
}

static double tw(plot_ctx *p, cairo_font_face_t *f, double size, const char *s) {
    cairo_set_font_face(p->cr, f);
    cairo_set_font_size(p->cr, size);
    cairo_text_extents_t te;
    cairo_text_extents(p->cr, s, &te);
    return te.x_advance;
}

/* Text with its anchor: ax, ay in 0..1 of the text's width and cap height
 * (0.5, 0.5 = centred). */
static void text_at(plot_ctx *p, cairo_font_face_t *f, double size, double x, double y, double ax, double ay,
                    const char *s) {
    double w = tw(p, f, size, s);
    cairo_move_to(p->cr, x - ax * w, y + (1 - ay) * size * 0.73);
    cairo_show_text(p->cr, s);
}

/* "Nice" tick step (1, 2 or 5 x 10^k) giving about `target` intervals. */
static double nice_step(double span, int target) {
    double raw = span / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void fmt_tick(char *buf, size_t n, double v, double step) {
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (fabs(v) < step * 1e-6) v = 0;
    snprintf(buf, n, "%.*f", EMO_MIN(dec, 6), v);
}

int emo_plot_lines(emo_image *out, int width, int height, const emo_plot_axes *axes, const emo_plot_series *series,
                   int nseries) {
    if (!out) return emo_fail(EMO_EINVAL, "emo_plot_lines: no output image");
    if (width < 160 || height < 160 || width > 8192 || height > 8192)
        return emo_fail(EMO_EINVAL, "emo_plot_lines: %dx%d plot (want 160..8192 per side)", width, height);
    if (nseries < 0 || (nseries > 0 && !series)) return emo_fail(EMO_EINVAL, "emo_plot_lines: %d series and no array", nseries);
    for (int i = 0; i < nseries; i++)
        if (series[i].n < 0 || (series[i].n > 0 && (!series[i].x || !series[i].y)))
            return emo_fail(EMO_EINVAL, "emo_plot_lines: series %d has %d points and no data", i, series[i].n);
    emo_plot_axes ax = axes ? *axes : (emo_plot_axes){0};
    /* Ranges from the data where not given. */
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < nseries; i++)
        for (int k = 0; k < series[i].n; k++) {
            float x = series[i].x[k], y = series[i].y[k];
            if (!isfinite(x) || !isfinite(y)) continue;
            x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
        }
    if (!(x0 <= x1)) x0 = 0, x1 = 1;
    if (!(y0 <= y1)) y0 = 0, y1 = 1;
    if (ax.xmin != ax.xmax && isfinite(ax.xmin) && isfinite(ax.xmax)) x0 = ax.xmin, x1 = ax.xmax;
    else if (x0 == x1) x0 -= fmax(0.5, fabs(x0) * 0.1), x1 += fmax(0.5, fabs(x1) * 0.1);
    if (ax.ymin != ax.ymax && isfinite(ax.ymin) && isfinite(ax.ymax)) {
        y0 = ax.ymin, y1 = ax.ymax;
    } else {
        if (y0 == y1) y0 -= fmax(0.5, fabs(y0) * 0.1), y1 += fmax(0.5, fabs(y1) * 0.1);
        double pad = (y1 - y0) * 0.05;
        y0 -= pad, y1 += pad;
    }
    if (x0 > x1) { double t = x0; x0 = x1; x1 = t; }
    if (y0 > y1) { double t = y0; y0 = y1; y1 = t; }
    /* Ticks loop over the range in steps: keep it wide enough to step
     * through, and finite (k < 100 in the loops bounds the rest). */
    if (!(x1 - x0 > 1e-9 * fmax(fabs(x0), fabs(x1))) || !isfinite(x1 - x0))
        return emo_fail(EMO_EINVAL, "emo_plot_lines: x range %g..%g is empty or too wide", x0, x1);
    if (!(y1 - y0 > 1e-9 * fmax(fabs(y0), fabs(y1))) || !isfinite(y1 - y0))
        return emo_fail(EMO_EINVAL, "emo_plot_lines: y range %g..%g is empty or too wide", y0, y1);

    plot_ctx P;
    int s = plot_begin(&P, width, height);
    if (s) return s;
    cairo_t *cr = P.cr;
    double fs = EMO_CLAMP(fmin(width, height) / 38.0, 10.0, 20.0), tfs = fs * 1.3;
    double xstep = nice_step(x1 - x0, EMO_CLAMP(width / 110, 3, 10)), ystep = nice_step(y1 - y0, EMO_CLAMP(height / 70, 3, 10));
    char buf[64];
    double ylab_w = 0;
    for (double v = ceil(y0 / ystep - 1e-9) * ystep, k = 0; v <= y1 + ystep * 1e-9 && k < 100; v += ystep, k++) {
        fmt_tick(buf, sizeof buf, v, ystep);
        ylab_w = fmax(ylab_w, tw(&P, P.font, fs, buf));
    }
    /* Legend on the right, outside the plot area. */
    double leg_w = 0;
    int nleg = 0;
    for (int i = 0; i < nseries; i++)
        if (series[i].name) {
            leg_w = fmax(leg_w, tw(&P, P.font, fs, series[i].name));
            nleg++;
        }
    if (nleg) leg_w += fs * 3.2;
    if (leg_w > width * 0.35) leg_w = 0; /* too narrow a plot: legend goes inside */
    double L = fs * 0.8 + (ax.ylabel ? fs * 1.8 : 0) + ylab_w + fs * 0.6;
    double T = ax.title ? tfs * 2.4 : fs * 1.2;
    double R = width - fs * 1.2 - (leg_w > 0 ? leg_w + fs : 0);
    double B = height - fs * 2.2 - (ax.xlabel ? fs * 1.8 : 0);
    if (R - L < 40 || B - T < 40) {
        plot_end(&P);
        return emo_fail(EMO_EINVAL, "emo_plot_lines: %dx%d leaves no room for the plot", width, height);
    }
#define PX(v) (L + ((v) - x0) / (x1 - x0) * (R - L))
#define PY(v) (B - ((v) - y0) / (y1 - y0) * (B - T))
    /* Grid and tick labels. */
    cairo_set_line_width(cr, 1);
    for (double v = ceil(y0 / ystep - 1e-9) * ystep, k = 0; v <= y1 + ystep * 1e-9 && k < 100; v += ystep, k++) {
        double y = round(PY(v)) + 0.5;
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.92);
        cairo_move_to(cr, L, y), cairo_line_to(cr, R, y), cairo_stroke(cr);
        fmt_tick(buf, sizeof buf, v, ystep);
        cairo_set_source_rgb(cr, 0.3, 0.3, 0.33);
        text_at(&P, P.font, fs, L - fs * 0.5, PY(v), 1, 0.5, buf);
    }
    for (double v = ceil(x0 / xstep - 1e-9) * xstep, k = 0; v <= x1 + xstep * 1e-9 && k < 100; v += xstep, k++) {
        double x = round(PX(v)) + 0.5;
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.92);
        cairo_move_to(cr, x, T), cairo_line_to(cr, x, B), cairo_stroke(cr);
        fmt_tick(buf, sizeof buf, v, xstep);
        cairo_set_source_rgb(cr, 0.3, 0.3, 0.33);
        text_at(&P, P.font, fs, PX(v), B + fs * 0.6, 0.5, 0, buf);
    }
    cairo_set_source_rgb(cr, 0.35, 0.35, 0.38);
    cairo_rectangle(cr, round(L) + 0.5, round(T) + 0.5, round(R) - round(L), round(B) - round(T));
    cairo_stroke(cr);
    /* Labels. */
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.12);
    if (ax.title) text_at(&P, P.bold, tfs, (L + R) / 2, tfs * 1.1, 0.5, 0.5, ax.title);
    if (ax.xlabel) text_at(&P, P.font, fs, (L + R) / 2, height - fs * 1.2, 0.5, 0.5, ax.xlabel);
    if (ax.ylabel) {
        cairo_save(cr);
        cairo_translate(cr, fs * 1.4, (T + B) / 2);
        cairo_rotate(cr, -M_PI / 2);
        text_at(&P, P.font, fs, 0, 0, 0.5, 0.5, ax.ylabel);
        cairo_restore(cr);
    }
    /* Lines, clipped to the plot area; NaN breaks a line. */
    cairo_save(cr);
    cairo_rectangle(cr, L, T, R - L, B - T);
    cairo_clip(cr);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    cairo_set_line_width(cr, EMO_CLAMP(fs / 6.5, 1.5, 3.0));
    for (int i = 0; i < nseries; i++) {
        const emo_plot_series *se = &series[i];
        bool pen = false;
        int npts = 0;
        for (int k = 0; k < se->n; k++) {
            if (!isfinite(se->x[k]) || !isfinite(se->y[k])) {
                pen = false;
                continue;
            }
            double px = PX(se->x[k]), py = PY(se->y[k]);
            if (pen) cairo_line_to(cr, px, py);
            else cairo_move_to(cr, px, py);
            pen = true;
            npts++;
        }
        set_rgb(cr, se->rgb, 1);
        cairo_stroke(cr);
        if (npts == 1 || se->n <= 40) { /* dots where points are few enough to see */
            for (int k = 0; k < se->n; k++) {
                if (!isfinite(se->x[k]) || !isfinite(se->y[k])) continue;
                cairo_arc(cr, PX(se->x[k]), PY(se->y[k]), EMO_CLAMP(fs / 4.5, 2.0, 4.0), 0, 2 * M_PI);
                cairo_fill(cr);
            }
        }
    }
    cairo_restore(cr);
    /* Legend: outside on the right, or inside the top-right corner. */
    if (nleg) {
        double rowh = fs * 1.5, lw = leg_w > 0 ? leg_w : 0;
        if (lw == 0) {
            for (int i = 0; i < nseries; i++)
                if (series[i].name) lw = fmax(lw, tw(&P, P.font, fs, series[i].name));
            lw += fs * 3.2;
        }
        double lx = leg_w > 0 ? R + fs : R - lw - fs * 0.5, ly = T + (leg_w > 0 ? 0 : fs * 0.5);
        cairo_rectangle(cr, lx, ly, lw, nleg * rowh + fs * 0.6);
        cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
        cairo_fill_preserve(cr);
        cairo_set_source_rgb(cr, 0.8, 0.8, 0.83);
        cairo_set_line_width(cr, 1);
        cairo_stroke(cr);
        int r = 0;
        for (int i = 0; i < nseries; i++) {
            if (!series[i].name) continue;
            double cy = ly + fs * 0.3 + rowh * (r + 0.5);
            set_rgb(cr, series[i].rgb, 1);
            cairo_set_line_width(cr, 3);
            cairo_move_to(cr, lx + fs * 0.5, cy), cairo_line_to(cr, lx + fs * 2.0, cy), cairo_stroke(cr);
            cairo_set_source_rgb(cr, 0.15, 0.15, 0.17);
            text_at(&P, P.font, fs, lx + fs * 2.6, cy, 0, 0.5, series[i].name);
            r++;
        }
    }
#undef PX
#undef PY
    return plot_finish(&P, out);
}

int emo_plot_timeline(emo_image *out, int width, int height, const char *title, const float *t, const float *probs,
                      int n, int nclasses, const char *const *class_names) {
    if (!t || !probs || n < 1) return emo_fail(EMO_EINVAL, "emo_plot_timeline: no data (%d points)", n);
    if (!class_names && nclasses != 7)
        return emo_fail(EMO_EINVAL, "emo_plot_timeline: %d classes without names (the default names are 7)", nclasses);
    if (nclasses < 1 || nclasses > 64) return emo_fail(EMO_EINVAL, "emo_plot_timeline: %d classes", nclasses);
    const char *const *names = class_names ? class_names : emo_draw_default_classes;
    size_t cells;
    if (!emo_mul_size((size_t)n, (size_t)nclasses, &cells) || cells > ((size_t)1 << 28))
        return emo_fail(EMO_ELIMIT, "emo_plot_timeline: %d points x %d classes is too many", n, nclasses);
    float *y = malloc(cells * sizeof *y);
    emo_plot_series *se = malloc((size_t)nclasses * sizeof *se);
    if (!y || !se) {
        free(y);
        free(se);
        return emo_fail(EMO_ENOMEM, "emo_plot_timeline: out of memory");
    }
    for (int c = 0; c < nclasses; c++) {
        for (int i = 0; i < n; i++) y[(size_t)c * n + i] = probs[(size_t)i * nclasses + c];
        se[c] = (emo_plot_series){names[c], t, y + (size_t)c * n, n, emo_draw_class_colour(names[c])};
    }
    emo_plot_axes ax = {title, "time (s)", "probability", 0, 0, 0, 1};
    int s = emo_plot_lines(out, width, height, &ax, se, nclasses);
    free(y);
    free(se);
    return s;
}

/* Sequential colour map, white to deep blue (as ColorBrewer "Blues"). */
static void blues(double v, double rgb[3]) {
    static const double stops[5][3] = {
        {0.969, 0.984, 1.000}, {0.776, 0.859, 0.937}, {0.420, 0.682, 0.839}, {0.129, 0.443, 0.710}, {0.031, 0.188, 0.420}};
    v = EMO_CLAMP(v, 0.0, 1.0) * 4;
    int i = EMO_MIN((int)v, 3);
    double f = v - i;
    for (int c = 0; c < 3; c++) rgb[c] = stops[i][c] * (1 - f) + stops[i + 1][c] * f;
}

int emo_plot_confusion(emo_image *out, const char *title, const double *counts, int n, const char *const *class_names) {
    if (!out || !counts) return emo_fail(EMO_EINVAL, "emo_plot_confusion: no output or no counts");
    if (n < 1 || n > 32) return emo_fail(EMO_EINVAL, "emo_plot_confusion: %d classes (want 1..32)", n);
    if (!class_names && n != 7) return emo_fail(EMO_EINVAL, "emo_plot_confusion: %d classes without names", n);
    const char *const *names = class_names ? class_names : emo_draw_default_classes;
    bool integral = true;
    for (int i = 0; i < n * n; i++) {
        if (!isfinite(counts[i]) || counts[i] < 0)
            return emo_fail(EMO_EINVAL, "emo_plot_confusion: cell %d is %g (want finite, >= 0)", i, counts[i]);
        if (counts[i] != floor(counts[i])) integral = false;
    }
    double cell = EMO_CLAMP(560.0 / n, 34.0, 84.0), fs = EMO_CLAMP(cell * 0.2, 9.0, 15.0), tfs = fs * 1.35;
    /* Measure the labels with a scratch context. */
    plot_ctx P;
    int s = plot_begin(&P, 8, 8);
    if (s) return s;
    double name_w = 0;
    for (int i = 0; i < n; i++) name_w = fmax(name_w, tw(&P, P.font, fs, names[i] ? names[i] : "?"));
    plot_end(&P);
    bool rotate = name_w > cell * 0.92; /* column labels at 45 degrees when wide */
    double L = fs * 2.6 + name_w + fs * 0.6, T = (title ? tfs * 2.6 : fs) + fs * 0.4;
    double grid = cell * n, cb_w = fs * 1.3, cb_gap = fs * 1.2, tick_w = fs * 2.6;
    double bottom = fs * 0.8 + (rotate ? name_w * 0.72 + fs : fs * 1.2) + fs * 2.2;
    int W = (int)ceil(L + grid + cb_gap + cb_w + fs * 0.5 + tick_w + fs), H = (int)ceil(T + grid + bottom);
    s = plot_begin(&P, W, H);
    if (s) return s;
    cairo_t *cr = P.cr;
    char buf[64];
    for (int i = 0; i < n; i++) {
        double total = 0;
        for (int j = 0; j < n; j++) total += counts[i * n + j];
        for (int j = 0; j < n; j++) {
            double x = L + j * cell, y = T + i * cell, c = counts[i * n + j], f = total > 0 ? c / total : 0, rgb[3];
            if (total > 0) blues(f, rgb);
            else rgb[0] = rgb[1] = rgb[2] = 0.93;
            cairo_rectangle(cr, x, y, cell, cell);
            cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
            cairo_fill(cr);
            bool light = total > 0 && f > 0.45;
            cairo_set_source_rgb(cr, light ? 1 : 0.12, light ? 1 : 0.12, light ? 1 : 0.15);
            if (total <= 0) {
                text_at(&P, P.font, fs, x + cell / 2, y + cell / 2, 0.5, 0.5, "-");
                continue;
            }
            snprintf(buf, sizeof buf, "%.2f", f);
            bool two = integral && cell >= fs * 3.2;
            text_at(&P, i == j ? P.bold : P.font, fs * 1.05, x + cell / 2, y + cell / 2 - (two ? fs * 0.45 : 0), 0.5, 0.5, buf);
            if (two) {
                snprintf(buf, sizeof buf, "%.0f", c);
                cairo_set_source_rgba(cr, light ? 1 : 0.12, light ? 1 : 0.12, light ? 1 : 0.15, 0.75);
                text_at(&P, P.font, fs * 0.78, x + cell / 2, y + cell / 2 + fs * 0.75, 0.5, 0.5, buf);
            }
        }
    }
    /* Thin white lines between cells, a frame, and the diagonal outlined. */
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_set_line_width(cr, 1);
    for (int k = 1; k < n; k++) {
        cairo_move_to(cr, L + k * cell, T), cairo_line_to(cr, L + k * cell, T + grid);
        cairo_move_to(cr, L, T + k * cell), cairo_line_to(cr, L + grid, T + k * cell);
    }
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.35, 0.35, 0.38);
    cairo_rectangle(cr, L + 0.5, T + 0.5, grid - 1, grid - 1);
    cairo_stroke(cr);
    /* Labels. */
    cairo_set_source_rgb(cr, 0.12, 0.12, 0.14);
    for (int i = 0; i < n; i++) {
        const char *nm = names[i] ? names[i] : "?";
        text_at(&P, P.font, fs, L - fs * 0.5, T + (i + 0.5) * cell, 1, 0.5, nm);
        if (rotate) {
            cairo_save(cr);
            cairo_translate(cr, L + (i + 0.5) * cell + fs * 0.25, T + grid + fs * 0.6);
            cairo_rotate(cr, -M_PI / 4);
            text_at(&P, P.font, fs, 0, 0, 1, 0.5, nm);
            cairo_restore(cr);
        } else {
            text_at(&P, P.font, fs, L + (i + 0.5) * cell, T + grid + fs * 0.6, 0.5, 0, nm);
        }
    }
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.12);
    if (title) text_at(&P, P.bold, tfs, L + grid / 2, tfs * 1.2, 0.5, 0.5, title);
    text_at(&P, P.bold, fs, L + grid / 2, H - fs * 1.3, 0.5, 0.5, "predicted");
    cairo_save(cr);
    cairo_translate(cr, fs * 1.2, T + grid / 2);
    cairo_rotate(cr, -M_PI / 2);
    text_at(&P, P.bold, fs, 0, 0, 0.5, 0.5, "true");
    cairo_restore(cr);
    /* Colour bar: fraction of the true class's row. */
    double cbx = L + grid + cb_gap;
    for (int k = 0; k < (int)grid; k++) {
        double rgb[3];
        blues(1.0 - (double)k / grid, rgb);
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_rectangle(cr, cbx, T + k, cb_w, 1);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0.35, 0.35, 0.38);
    cairo_rectangle(cr, cbx + 0.5, T + 0.5, cb_w - 1, grid - 1);
    cairo_stroke(cr);
    for (int k = 0; k <= 4; k++) {
        snprintf(buf, sizeof buf, "%.2f", k / 4.0);
        cairo_set_source_rgb(cr, 0.3, 0.3, 0.33);
        text_at(&P, P.font, fs * 0.85, cbx + cb_w + fs * 0.4, T + grid * (1 - k / 4.0), 0, 0.5, buf);
    }
    return plot_finish(&P, out);
}

/* Labels longer than this many bytes are cut (at a UTF-8 boundary) with "...". */
#define SHARES_LABEL_MAX 60

/* A row label cut to SHARES_LABEL_MAX bytes on a UTF-8 boundary, "..." if cut. */
static void shares_label(char *buf, size_t cap, const char *l) {
    size_t n = strlen(l);
    if (n > SHARES_LABEL_MAX) {
        n = SHARES_LABEL_MAX;
        while (n > 0 && ((unsigned char)l[n] & 0xC0) == 0x80) n--;
    }
    snprintf(buf, cap, "%.*s%s", (int)n, l, n < strlen(l) ? "..." : "");
}

int emo_plot_shares(emo_image *out, int width, const char *title, const char *const *row_labels, const float *shares,
                    int nrows, int nclasses, const char *const *class_names) {
    if (!out || !shares || nrows < 1 || nclasses < 1 || nclasses > 64)
        return emo_fail(EMO_EINVAL, "emo_plot_shares: %d rows of %d classes (want >= 1 rows, 1..64 classes)", nrows, nclasses);
    if (!class_names && nclasses != 7) return emo_fail(EMO_EINVAL, "emo_plot_shares: %d classes without names", nclasses);
    if (width < 320 || width > 8192) return emo_fail(EMO_EINVAL, "emo_plot_shares: width %d (want 320..8192)", width);
    const char *const *names = class_names ? class_names : emo_draw_default_classes;
    /* Rows shrink to fit EMO_MAX_SIDE; below 9 px they lose their labels. */
    double fs = 12, tfs = 16, T = (title ? tfs * 2.4 : fs) + fs * 2.6, B = fs * 1.2;
    if (T + B + nrows > EMO_MAX_SIDE)
        return emo_fail(EMO_ELIMIT, "emo_plot_shares: %d rows do not fit in %d pixels; merge rows first", nrows, EMO_MAX_SIDE);
    double row = EMO_MIN(22.0, floor((EMO_MAX_SIDE - T - B) / nrows));
    bool labels = row >= 9;
    double lfs = EMO_MIN(fs, row * 0.72);
    plot_ctx P;
    int s = plot_begin(&P, 8, 8);
    if (s) return s;
    double label_w = 0;
    char buf[SHARES_LABEL_MAX + 8];
    for (int i = 0; labels && row_labels && i < nrows; i++) {
        const char *l = row_labels[i] ? row_labels[i] : "";
        shares_label(buf, sizeof buf, l);
        label_w = fmax(label_w, tw(&P, P.font, lfs, buf));
    }
    plot_end(&P);
    double L = labels && row_labels ? EMO_MIN(label_w + fs, width * 0.45) : fs, R = fs * 1.5;
    double bar_w = width - L - R;
    int H = (int)ceil(T + row * nrows + B);
    if (bar_w < 100) return emo_fail(EMO_EINVAL, "emo_plot_shares: width %d leaves no room for the bars", width);
    if ((s = plot_begin(&P, width, H))) return s;
    cairo_t *cr = P.cr;
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.12);
    if (title) text_at(&P, P.bold, tfs, width / 2.0, tfs * 1.2, 0.5, 0.5, title);
    /* Legend: one swatch per class, in a row. */
    double lx = L, ly = T - fs * 1.7;
    for (int c = 0; c < nclasses; c++) {
        const char *nm = names[c] ? names[c] : "?";
        set_rgb(cr, emo_draw_class_colour(nm), 1);
        cairo_rectangle(cr, lx, ly - fs * 0.45, fs * 0.9, fs * 0.9);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0.15, 0.15, 0.18);
        text_at(&P, P.font, fs, lx + fs * 1.2, ly, 0, 0.5, nm);
        lx += fs * 2 + tw(&P, P.font, fs, nm);
    }
    for (int i = 0; i < nrows; i++) {
        double y = T + i * row, x = L, total = 0;
        const float *sh = shares + (size_t)i * nclasses;
        for (int c = 0; c < nclasses; c++) total += isfinite(sh[c]) && sh[c] > 0 ? sh[c] : 0;
        if (total <= 0) { /* no face (or failed): a grey bar */
            cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
            cairo_rectangle(cr, L, y + row * 0.1, bar_w, row * 0.8);
            cairo_fill(cr);
        }
        for (int c = 0; c < nclasses && total > 0; c++) {
            double f = isfinite(sh[c]) && sh[c] > 0 ? sh[c] / total : 0;
            set_rgb(cr, emo_draw_class_colour(names[c] ? names[c] : "?"), 1);
            cairo_rectangle(cr, x, y + (row >= 4 ? row * 0.1 : 0), f * bar_w, row >= 4 ? row * 0.8 : row);
            cairo_fill(cr);
            x += f * bar_w;
        }
        if (labels && row_labels) {
            const char *l = row_labels[i] ? row_labels[i] : "";
            shares_label(buf, sizeof buf, l);
            cairo_set_source_rgb(cr, 0.15, 0.15, 0.18);
            text_at(&P, P.font, lfs, L - fs * 0.5, y + row / 2, 1, 0.5, buf);
        }
    }
    /* Axis: 0, 25, 50, 75, 100 % under the bars. */
    cairo_set_source_rgb(cr, 0.35, 0.35, 0.38);
    for (int k = 0; k <= 4; k++) {
        snprintf(buf, sizeof buf, "%d%%", k * 25);
        text_at(&P, P.font, fs * 0.85, L + bar_w * k / 4.0, T + row * nrows + fs * 0.2, 0.5, 0, buf);
    }
    return plot_finish(&P, out);
}
