/* fonts.h — text fonts for cairo from TrueType files (src/draw.c), shared by
 * the drawing and plotting modules; not installed. */
#ifndef EMO_FONTS_H
#define EMO_FONTS_H

#include <cairo.h>

/* Cairo font faces for the regular and bold files (NULL = DejaVu Sans),
 * hinting off so text widths scale linearly with size. The caller destroys
 * both with cairo_font_face_destroy; the FreeType objects behind them go when
 * cairo lets go of the faces. */
int emo_fonts_load(const char *regular_path, const char *bold_path, cairo_font_face_t **regular,
                   cairo_font_face_t **bold);

#endif
