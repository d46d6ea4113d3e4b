/* cmd_detect.c — `emo detect IMAGE...`: faces found by a cascade, as text or
 * JSON, optionally drawn into a copy of the image. */
#include "cli.h"
#include "json.h"
#include "commands.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FACES 4096

/* A plain rectangle outline, `t` pixels thick, clipped to the image. */
static void draw_rect(emo_image *img, emo_rect r, int t, const uint8_t rgb[3]) {
    for (int y = r.y; y < r.y + r.h; y++) {
        if (y < 0 || y >= img->height) continue;
        bool edge_row = y < r.y + t || y >= r.y + r.h - t;
        uint8_t *row = img->data + (size_t)y * img->stride;
        for (int x = r.x; x < r.x + r.w; x++) {
            if (x < 0 || x >= img->width) continue;
            if (!edge_row && x >= r.x + t && x < r.x + r.w - t) {
                x = r.x + r.w - t - 1; /* jump to the right edge */
                continue;
            }
            uint8_t *px = row + (size_t)x * img->channels;
            for (int c = 0; c < img->channels && c < 3; c++) px[c] = img->channels >= 3 ? rgb[c] : rgb[1];
        }
    }
}

static bool is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int cmd_detect(int argc, char **argv) {
    const char *cascade = NULL, *out = NULL, *scale_s = "1.1";
    int neighbors = 3, min_size = 30, max_size = 0, threads = 0;
    bool json = false;
    const cli_opt opts[] = {
        {"cascade", 'c', "NAME|PATH",
         "cascade file or short name: haar, haar-alt, haar-alt2, haar-tree, lbp, lbp-old, or NAME for "
         "haarcascade_NAME.xml (default " EMO_DETECT_DEFAULT_CASCADE ")",
         .out_str = &cascade},
        {"scale", 0, "F", "scale step between window sizes, > 1 (default 1.1)", .out_str = &scale_s},
        {"neighbors", 'n', "N", "keep boxes found at least N+1 times (default 3; 0 = raw hits)", .out_int = &neighbors},
        {"min-size", 0, "PX", "smallest face side (default 30)", .out_int = &min_size},
        {"max-size", 0, "PX", "largest face side, 0 = no limit (default 0)", .out_int = &max_size},
        {"threads", 't', "N", "threads (default 0 = all cores)", .out_int = &threads},
        {"json", 'j', NULL, "one JSON object per image: {\"image\",\"width\",\"height\",\"faces\":[{x,y,w,h}]}",
         .out_flag = &json},
        {"output", 'o', "PATH", "write the image with boxes drawn (a folder when several images)", .out_str = &out},
        {0},
    };
    int npos, r = cli_parse(argc, argv, opts, "IMAGE...",
                            "Finds faces with an OpenCV cascade (same boxes as OpenCV 4.6's detectMultiScale).",
                            &npos);
    if (r) return r == 1 ? 0 : r;
    if (npos < 1) {
        cli_usage(stderr, argv[0], opts, "IMAGE...", NULL);
        return 2;
    }
    char *end;
    double scale = strtod(scale_s, &end);
    if (*end || end == scale_s || !(scale > 1.0)) {
        fprintf(stderr, "emo detect: --scale wants a number > 1, got '%s'\n", scale_s);
        return 2;
    }
    if (out && npos > 1 && !is_dir(out)) {
        fprintf(stderr, "emo detect: with several images, -o must name an existing folder\n");
        return 2;
    }
    emo_detector *det;
    if (emo_detector_open(&det, cascade) != EMO_OK) return cli_error("detect", "cannot open the cascade");
    emo_detect_params p = emo_detect_params_default();
    p.scale_factor = scale;
    p.min_neighbors = neighbors;
    p.min_size = min_size;
    p.max_size = max_size;
    p.threads = threads;
    emo_rect *faces = malloc(MAX_FACES * sizeof *faces);
    emo_image grey = {0}, colour = {0};
    int status = 0;
    if (!faces) {
        emo_detector_close(det);
        return cli_error("detect", "out of memory");
    }
    for (int i = 0; i < npos; i++) {
        const char *path = argv[1 + i];
        if (emo_image_load(&colour, path, 3) != EMO_OK || emo_image_to_grey(&colour, &grey) != EMO_OK) {
            cli_error("detect", "cannot read the image");
            status = 1;
            continue;
        }
        int n = emo_detect(det, &grey, &p, faces, MAX_FACES);
        if (n < 0) {
            cli_error("detect", "%s: detection failed", path);
            status = 1;
            continue;
        }
        int shown = n < MAX_FACES ? n : MAX_FACES;
        if (json) {
            printf("{\"image\":");
            json_print_str(stdout, path);
            printf(",\"width\":%d,\"height\":%d,\"faces\":[", grey.width, grey.height);
            for (int k = 0; k < shown; k++)
                printf("%s{\"x\":%d,\"y\":%d,\"w\":%d,\"h\":%d}", k ? "," : "", faces[k].x, faces[k].y, faces[k].w,
                       faces[k].h);
            printf("]}\n");
        } else {
            printf("%s: %d face%s", path, n, n == 1 ? "" : "s");
            for (int k = 0; k < shown; k++) printf(" %d,%d,%dx%d", faces[k].x, faces[k].y, faces[k].w, faces[k].h);
            printf("\n");
        }
        if (out) {
            char dst[2048];
            if (npos > 1) {
                const char *base = strrchr(path, '/');
                snprintf(dst, sizeof dst, "%s/%s", out, base ? base + 1 : path);
            } else {
                snprintf(dst, sizeof dst, "%s", out);
            }
            static const uint8_t green[3] = {0, 255, 0};
            int t = colour.width > 800 ? 3 : 2;
            for (int k = 0; k < shown; k++) draw_rect(&colour, faces[k], t, green);
            if (emo_image_save(&colour, dst, 92) != EMO_OK) {
                cli_error("detect", "cannot write %s", dst);
                status = 1;
            }
        }
    }
    fflush(stdout);
    free(faces);
    emo_image_free(&grey);
    emo_image_free(&colour);
    emo_detector_close(det);
    return status;
}
