/* cmd_convert.c — `emo convert IN OUT`: exercises the image module end to end. */
#include "cli.h"
#include "commands.h"

#include <string.h>

int cmd_convert(int argc, char **argv) {
    bool grey = false;
    const char *resize = NULL, *interp = "linear";
    int quality = 92;
    const cli_opt opts[] = {
        {"grey", 'g', NULL, "convert to grey (BT.601, as OpenCV)", .out_flag = &grey},
        {"resize", 0, "WxH", "resize to W x H pixels", .out_str = &resize},
        {"interp", 0, "linear|area", "resampling for --resize (default linear)", .out_str = &interp},
        {"quality", 'q', "N", "JPEG quality 1..100 (default 92)", .out_int = &quality},
        {0},
    };
    int npos, r = cli_parse(argc, argv, opts, "IN OUT",
                            "Reads a JPEG or PNG and writes OUT as JPEG or PNG (by its extension).", &npos);
    if (r) return r == 1 ? 0 : r;
    if (npos != 2) {
        cli_usage(stderr, argv[0], opts, "IN OUT", NULL);
        return 2;
    }
    int w = 0, h = 0;
    if (resize && !cli_parse_size(resize, &w, &h)) {
        fprintf(stderr, "emo convert: --resize wants WxH, got '%s'\n", resize);
        return 2;
    }
    emo_interp mode = EMO_INTERP_LINEAR;
    if (strcmp(interp, "area") == 0) mode = EMO_INTERP_AREA;
    else if (strcmp(interp, "linear") != 0) {
        fprintf(stderr, "emo convert: --interp wants linear or area, got '%s'\n", interp);
        return 2;
    }
    emo_image img = {0}, tmp = {0};
    int status = 1;
    if (emo_image_load(&img, argv[1], grey ? 1 : 0) != EMO_OK) {
        cli_error("convert", "cannot read image");
        goto done;
    }
    if (resize) {
        if (emo_image_resize(&img, &tmp, w, h, mode) != EMO_OK) {
            cli_error("convert", "cannot resize");
            goto done;
        }
        emo_image t = img;
        img = tmp;
        tmp = t;
    }
    if (emo_image_save(&img, argv[2], quality) != EMO_OK) {
        cli_error("convert", "cannot write image");
        goto done;
    }
    status = 0;
done:
    emo_image_free(&img);
    emo_image_free(&tmp);
    return status;
}
