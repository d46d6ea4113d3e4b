/* cmd_video.c — `emo video IN`: every frame of a video through the pipeline;
 * out come an annotated H.264 MP4, a per-frame CSV written as it goes (a
 * killed run keeps what it did), and a timeline plot of each face. */
#include "cli.h"
#include "commands.h"
#include "analyze.h"
#include "progress.h"
#include "results.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) { (void)sig, stop_requested = 1; }

static void on_frame(void *ctx, long n, double time_s) {
    (void)ctx, (void)time_s;
    progress_update(n);
}

/* FFmpeg reads a JPEG or PNG as a one-frame video; a user who gave one
 * wanted `emo image`. Sniffs the file's first bytes, and the decoder's codec
 * for still formats FFmpeg knows by name. Returns the format's name or NULL. */
static const char *still_image_kind(const char *path, const emo_video_info *vi) {
    unsigned char head[16];
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(head, 1, sizeof head, f) : 0;
    if (f) fclose(f);
    emo_image_format fmt = emo_image_sniff(head, n);
    if (fmt == EMO_FORMAT_JPEG) return "JPEG";
    if (fmt == EMO_FORMAT_PNG) return "PNG";
    static const char *const stills[] = {"bmp", "tiff", "webp", "jpeg2000", "qoi", "pam", "ppm", "pgm"};
    if (vi && vi->frames <= 1)
        for (size_t i = 0; i < sizeof stills / sizeof stills[0]; i++)
            if (strcmp(vi->codec, stills[i]) == 0) return stills[i];
    return NULL;
}

static void refuse_still(const char *in, const char *kind) {
    fprintf(stderr, "emo video: %s is a still image (%s), not a video; for photos use: emo image %s -o OUT.jpg\n", in,
            kind, in);
}

int cmd_video(int argc, char **argv) {
    const char *out = NULL, *csv = NULL, *plot = NULL, *model = NULL, *cascade = NULL, *precision = "auto";
    int every = 1, threads = 0, max_frames = 0;
    float smooth = -1;
    bool quiet = false, landmarks = false;
    const cli_opt opts[] = {
        {"output", 'o', "OUT.mp4", "annotated video (H.264 MP4)", .out_str = &out},
        {"csv", 0, "F.csv", "per-frame rows: frame,time_s,face_id,x,y,w,h,emotion,<classes>,roll,yaw,pitch",
         .out_str = &csv},
        {"landmarks", 0, NULL, "draw the 68 landmarks of each face", .out_flag = &landmarks},
        {"plot", 0, "F.png", "timeline plot of each face's emotions", .out_str = &plot},
        {"every", 0, "N", "full face detection every N frames, tracking in between (default 1)", .out_int = &every},
        {"smooth", 0, "A", "smoothing over time, 0..0.99 (default 0.6; 0 = off)", .out_float = &smooth},
        {"model", 'm', "M", "model name or .emo path (default ferplus)", .out_str = &model},
        {"cascade", 0, "C", "face detector cascade (name or path)", .out_str = &cascade},
        {"threads", 't', "N", "threads (default: all cores)", .out_int = &threads},
        CLI_PRECISION_OPT(&precision),
        {"frames", 0, "N", "stop after N frames", .out_int = &max_frames},
        {"quiet", 'q', NULL, "no progress display", .out_flag = &quiet},
        {0},
    };
    const char *usage = "IN [-o OUT.mp4] [--csv F.csv] [--plot F.png] [--every N]";
    int npos, r = cli_parse(argc, argv, opts, usage,
                            "Finds every face in every frame of IN (any format FFmpeg reads) and writes\n"
                            "the results. The CSV is written as frames are processed.",
                            &npos);
    if (r) return r == 1 ? 0 : r;
    if (npos != 1) {
        cli_usage(stderr, "video", opts, usage, NULL);
        return 2;
    }
    const char *in = argv[1];
    if (!out && !csv && !plot) {
        fprintf(stderr, "emo video: nothing to write: give -o, --csv and/or --plot\n");
        return 2;
    }
    const char *still = still_image_kind(in, NULL);
    if (still) {
        refuse_still(in, still);
        return 2;
    }
    emo_pipeline_params pp = results_pipeline_params(model, cascade, every, threads, smooth);
    if (cli_precision("video", precision, &pp.precision)) return 2;

    int status = 1;
    emo_pipeline *pl = NULL;
    emo_drawer *dr = NULL;
    analyze_result res = {0};
    long long total = 0;
    emo_video *probe = NULL;
    if (emo_video_open(&probe, in) != EMO_OK) {
        cli_error("video", "cannot read the video");
        goto done;
    }
    total = emo_video_get_info(probe)->frames;
    still = still_image_kind(in, emo_video_get_info(probe));
    emo_video_close(probe);
    if (still) {
        refuse_still(in, still);
        status = 2;
        goto done;
    }
    if (emo_pipeline_open(&pl, &pp) != EMO_OK) {
        cli_error("video", "cannot start the pipeline");
        goto done;
    }
    if (*emo_pipeline_warning(pl)) fprintf(stderr, "emo video: %s\n", emo_pipeline_warning(pl));
    if (out && results_drawer_open(&dr, pl) != EMO_OK) {
        cli_error("video", "cannot load fonts");
        goto done;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    analyze_opts ao = {.csv = csv, .annotated = out, .plot = plot, .max_frames = max_frames, .params = &pp,
                       .stop = &stop_requested, .on_frame = quiet ? NULL : on_frame,
                       .draw_flags = landmarks ? RESULTS_DRAW_LANDMARKS : 0};
    if (!quiet) progress_start(total > 0 ? total : 0, "video");
    status = analyze_input(pl, dr, in, &ao, &res);
    if (!quiet) progress_end();
    if (status) fprintf(stderr, "emo video: %s\n", res.error);
    const emo_video_stats *st = &res.damage;
    if (!quiet || st->errors || st->missing)
        fprintf(stderr, "emo video: %ld frames, %ld with faces%s", res.frames, res.frames_with_faces,
                res.interrupted ? " (interrupted)" : "");
    if (st->errors || st->corrupt || st->missing)
        fprintf(stderr, "; damaged input: %lld unreadable packets, %lld damaged frames, %lld frames missing at the end",
                (long long)st->errors, (long long)st->corrupt, (long long)st->missing);
    if (!quiet || st->errors || st->missing) fputc('\n', stderr);
    if (res.frames > 0 && res.frames_with_faces == 0 && !res.interrupted)
        fprintf(stderr, "emo video: no face found in %s; faces must be upright, facing the camera and at least %d px "
                        "(try a closer or better-lit video)\n", in, pp.detect.min_size);
    if (status == 0 && !quiet) {
        if (out) fprintf(stderr, "emo video: wrote %s\n", out);
        if (csv) fprintf(stderr, "emo video: wrote %s\n", csv);
        if (plot) fprintf(stderr, "emo video: wrote %s\n", plot);
    }
done:
    analyze_result_free(&res);
    emo_drawer_close(dr);
    emo_pipeline_close(pl);
    return status;
}
