/* cmd_image.c — `emo image IMG...`: emotions of every face in photos, as
 * annotated images, JSON, or a short text summary. */
#include "cli.h"
#include "commands.h"
#include "json.h"
#include "results.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FACES 256

/* DIR/<name without extension>.<ext of OUT or .jpg> */
static void outdir_path(char *buf, size_t cap, const char *dir, const char *in) {
    const char *base = strrchr(in, '/') ? strrchr(in, '/') + 1 : in;
    const char *dot = strrchr(base, '.');
    int len = dot ? (int)(dot - base) : (int)strlen(base);
    snprintf(buf, cap, "%s/%.*s.emo.jpg", dir, len, base);
}

int cmd_image(int argc, char **argv) {
    const char *out = NULL, *outdir = NULL, *model = NULL, *cascade = NULL, *precision = "auto";
    bool json = false, no_chart = false, landmarks = false, upright = false;
    int threads = 0, min_size = 0;
    const cli_opt opts[] = {
        {"output", 'o', "OUT", "annotated image (.jpg or .png; one input only)", .out_str = &out},
        {"outdir", 0, "DIR", "annotated images as DIR/NAME.emo.jpg", .out_str = &outdir},
        {"json", 0, NULL, "one JSON object per image on stdout", .out_flag = &json},
        {"model", 'm', "M", "model name or .emo path (default ferplus)", .out_str = &model},
        {"cascade", 0, "C", "face detector cascade (name or path)", .out_str = &cascade},
        {"min-size", 0, "N", "smallest face side in pixels (default 30)", .out_int = &min_size},
        {"no-chart", 0, NULL, "draw boxes, labels and emoji but no bar charts", .out_flag = &no_chart},
        {"landmarks", 0, NULL, "68 landmarks per face: in the JSON and drawn", .out_flag = &landmarks},
        {"upright", 0, NULL, "search upright faces only (no +-30 degree passes; faster)", .out_flag = &upright},
        {"threads", 't', "N", "threads (default: all cores)", .out_int = &threads},
        CLI_PRECISION_OPT(&precision),
        {0},
    };
    const char *usage = "IMG... [-o OUT | --outdir DIR] [--json] [--model M] [--cascade C]";
    int npos, r = cli_parse(argc, argv, opts, usage,
                            "Finds the faces in each photo (JPEG or PNG) and the probability of each emotion.", &npos);
    if (r) return r == 1 ? 0 : r;
    if (npos < 1 || (out && npos > 1) || (out && outdir) || min_size < 0) {
        if (out && npos > 1) fprintf(stderr, "emo image: -o takes one input; use --outdir for several\n");
        cli_usage(stderr, "image", opts, usage, NULL);
        return 2;
    }
    if (outdir && mkdir(outdir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "emo image: cannot create %s: %s\n", outdir, strerror(errno));
        return 1;
    }
    emo_pipeline_params pp = emo_pipeline_params_photo(); /* stills: photo detection, no smoothing */
    if (cli_precision("image", precision, &pp.precision)) return 2;
    pp.model = model;
    if (cascade) pp.cascade = cascade;
    pp.threads = threads;
    if (upright) pp.rotated = 0;
    if (min_size > 0) pp.detect.min_size = min_size;
    emo_pipeline *pl = NULL;
    emo_drawer *dr = NULL;
    if (emo_pipeline_open(&pl, &pp) != EMO_OK) return cli_error("image", "cannot start the pipeline");
    if (*emo_pipeline_warning(pl)) fprintf(stderr, "emo image: %s\n", emo_pipeline_warning(pl));
    if ((out || outdir) && results_drawer_open(&dr, pl) != EMO_OK) {
        emo_pipeline_close(pl);
        return cli_error("image", "cannot load fonts");
    }
    const char *const *names;
    emo_pipeline_classes(pl, &names);
    static emo_face faces[MAX_FACES];
    emo_image img = {0};
    json_buf js = {0};
    int failures = 0;
    for (int i = 1; i <= npos; i++) {
        const char *in = argv[i];
        emo_pipeline_reset(pl);
        if (emo_image_load(&img, in, 3) != EMO_OK) {
            cli_error("image", "skipping");
            failures++;
            continue;
        }
        int n = emo_pipeline_process(pl, &img, faces, MAX_FACES);
        if (n < 0) {
            cli_error("image", "%s", in);
            failures++;
            continue;
        }
        n = CLI_MIN(n, MAX_FACES);
        if (n == 0)
            fprintf(stderr,
                    "emo image: no face found in %s; faces must be upright, facing the camera and at least %d px "
                    "(try --min-size %d for smaller faces, or a sharper, better-lit photo)\n",
                    in, pp.detect.min_size, CLI_MAX(12, pp.detect.min_size * 2 / 3));
        if (json) {
            json_clear(&js);
            json_begin_image(&js, in, img.width, img.height);
            for (int k = 0; k < n; k++) json_face(&js, &faces[k], names, faces[k].nclasses, landmarks);
            json_end_image(&js);
            if (js.failed) {
                fprintf(stderr, "emo image: out of memory\n");
                failures++;
                continue;
            }
            fwrite(js.data, 1, js.len, stdout);
            fputc('\n', stdout);
        } else if (!out && !outdir) {
            printf("%s: %d face%s\n", in, n, n == 1 ? "" : "s");
            for (int k = 0; k < n; k++) {
                const emo_face *f = &faces[k];
                printf("  [%d,%d %dx%d] %-8s %3.0f%%", f->box.x, f->box.y, f->box.w, f->box.h, names[f->label],
                       100 * f->smoothed[f->label]);
                for (int c = 0; c < f->nclasses; c++) printf("  %s %.2f", names[c], f->smoothed[c]);
                printf("\n");
            }
        }
        if (out || outdir) {
            char path[4096];
            if (outdir) outdir_path(path, sizeof path, outdir, in);
            else snprintf(path, sizeof path, "%s", out);
            unsigned flags = no_chart ? EMO_DRAW_BOX | EMO_DRAW_LABEL | EMO_DRAW_EMOJI : EMO_DRAW_ALL;
            if (landmarks) flags |= RESULTS_DRAW_LANDMARKS;
            if (results_draw(dr, &img, faces, n, flags) != EMO_OK || emo_image_save(&img, path, 92) != EMO_OK) {
                cli_error("image", "cannot write the annotated image");
                failures++;
            } else if (!json) {
                fprintf(stderr, "%s: %d face%s -> %s\n", in, n, n == 1 ? "" : "s", path);
            }
        }
    }
    emo_image_free(&img);
    json_free(&js);
    emo_drawer_close(dr);
    emo_pipeline_close(pl);
    return failures ? 1 : 0;
}
