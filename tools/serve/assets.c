/* assets.c — the web page (the files in web/), embedded into the binary when it is
 * built: the assembler's .incbin copies each file's bytes into .rodata, so
 * the page needs no build step and the server never opens a file to serve
 * it. The Makefile rebuilds this object when a file in web/ changes. */
#include "serve.h"

#include <string.h>

/* Defines NAME (the bytes, followed by a NUL) and NAME_end. Paths are
 * relative to the repository root, where make runs the compiler. */
#define EMBED(name, file)                                                    \
    __asm__(".section .rodata\n"                                             \
            ".global " #name "\n.hidden " #name "\n"                         \
            ".global " #name "_end\n.hidden " #name "_end\n"                 \
            ".balign 16\n" #name ":\n"                                       \
            ".incbin \"" file "\"\n" #name "_end:\n"                         \
            ".byte 0\n.previous\n");                                         \
    extern const unsigned char name[], name##_end[]

EMBED(emo_web_index_html, "web/index.html");
EMBED(emo_web_app_js, "web/app.js");
EMBED(emo_web_style_css, "web/style.css");
EMBED(emo_web_favicon_svg, "web/favicon.svg");

static const serve_asset assets[] = {
    {"/", "text/html; charset=utf-8", emo_web_index_html, emo_web_index_html_end},
    {"/index.html", "text/html; charset=utf-8", emo_web_index_html, emo_web_index_html_end},
    {"/app.js", "text/javascript; charset=utf-8", emo_web_app_js, emo_web_app_js_end},
    {"/style.css", "text/css; charset=utf-8", emo_web_style_css, emo_web_style_css_end},
    {"/favicon.svg", "image/svg+xml", emo_web_favicon_svg, emo_web_favicon_svg_end},
};

const serve_asset *serve_asset_find(const char *url) {
    for (size_t i = 0; i < sizeof assets / sizeof assets[0]; i++)
        if (strcmp(url, assets[i].path) == 0) return &assets[i];
    return NULL;
}
