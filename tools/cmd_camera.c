/* cmd_camera.c — `emo camera`: live emotions from a V4L2 camera (or a video
 * file played as one), in an SDL2 window when there is a display, recorded to
 * a video and/or CSV otherwise. */
#include "cli.h"
#include "commands.h"
#include "results.h"

#include <SDL2/SDL.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) { (void)sig, stop_requested = 1; }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The live window; all SDL state in one place so headless runs skip it. */
typedef struct window {
    SDL_Window *win;
    SDL_Renderer *ren;
    SDL_Texture *tex;
    int w, h;
} window;

static bool window_open(window *wd, int w, int h) {
    if (!getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY")) return false;
    if (SDL_Init(SDL_INIT_VIDEO) != 0) return false;
    wd->win = SDL_CreateWindow("emo camera", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, w, h, SDL_WINDOW_RESIZABLE);
    if (wd->win) wd->ren = SDL_CreateRenderer(wd->win, -1, 0);
    if (wd->ren) wd->tex = SDL_CreateTexture(wd->ren, SDL_PIXELFORMAT_RGB24, SDL_TEXTUREACCESS_STREAMING, w, h);
    wd->w = w, wd->h = h;
    if (!wd->tex) {
        if (wd->ren) SDL_DestroyRenderer(wd->ren);
        if (wd->win) SDL_DestroyWindow(wd->win);
        SDL_Quit();
        memset(wd, 0, sizeof *wd);
        return false;
    }
    return true;
}

/* Shows a frame; false when the user closed the window or pressed q/Esc. */
static bool window_show(window *wd, const emo_image *img) {
    SDL_Event ev;
    while (SDL_PollEvent(&ev)) {
        if (ev.type == SDL_QUIT) return false;
        if (ev.type == SDL_KEYDOWN && (ev.key.keysym.sym == SDLK_ESCAPE || ev.key.keysym.sym == SDLK_q)) return false;
    }
    if (img->width != wd->w || img->height != wd->h) return true; /* size changed mid-stream: skip */
    SDL_UpdateTexture(wd->tex, NULL, img->data, img->stride);
    SDL_RenderClear(wd->ren);
    SDL_RenderCopy(wd->ren, wd->tex, NULL, NULL);
    SDL_RenderPresent(wd->ren);
    return true;
}

static void window_close(window *wd) {
    if (!wd->win) return;
    SDL_DestroyTexture(wd->tex);
    SDL_DestroyRenderer(wd->ren);
    SDL_DestroyWindow(wd->win);
    SDL_Quit();
}

int cmd_camera(int argc, char **argv) {
    const char *device = "/dev/video0", *size = "640x480", *input = NULL, *out = NULL, *csv = NULL;
    const char *model = NULL, *cascade = NULL, *precision = "auto";
    int fps = 30, every = 1, threads = 0, max_frames = 0;
    float smooth = -1, seconds = 0;
    bool no_window = false, quiet = false;
    const cli_opt opts[] = {
        {"device", 'd', "PATH", "V4L2 camera (default /dev/video0)", .out_str = &device},
        {"size", 0, "WxH", "wanted frame size (default 640x480)", .out_str = &size},
        {"fps", 0, "N", "wanted frame rate, also of the -o video (default 30)", .out_int = &fps},
        {"input", 'i', "FILE", "play a video file as if it were a camera (real-time pace)", .out_str = &input},
        {"output", 'o', "OUT.mp4", "record the annotated video", .out_str = &out},
        {"csv", 0, "FILE", "write one row per face per frame, as it goes", .out_str = &csv},
        {"model", 'm', "M", "model name or .emo path (default ferplus)", .out_str = &model},
        {"cascade", 0, "C", "face detector cascade (name or path)", .out_str = &cascade},
        {"every", 0, "N", "full face detection every N frames (default 1)", .out_int = &every},
        {"smooth", 0, "A", "smoothing over time, 0..0.99 (default 0.6; 0 = off)", .out_float = &smooth},
        {"threads", 't', "N", "threads (default: all cores)", .out_int = &threads},
        CLI_PRECISION_OPT(&precision),
        {"frames", 0, "N", "stop after N frames", .out_int = &max_frames},
        {"seconds", 0, "S", "stop after S seconds", .out_float = &seconds},
        {"no-window", 0, NULL, "never open a window", .out_flag = &no_window},
        {"quiet", 'q', NULL, "no status line", .out_flag = &quiet},
        {0},
    };
    const char *usage = "[--device /dev/video0] [--size 640x480] [-o OUT.mp4] [--csv F]";
    int npos, r = cli_parse(argc, argv, opts, usage,
                            "Live emotions from a camera: a window when a display exists, recording otherwise.\n"
                            "Stop with q/Esc in the window or Ctrl-C.",
                            &npos);
    if (r) return r == 1 ? 0 : r;
    emo_camera_params cp = emo_camera_params_default();
    if (npos != 0 || !cli_parse_size(size, &cp.width, &cp.height) || fps < 0 || fps > 1000) {
        cli_usage(stderr, "camera", opts, usage, NULL);
        return 2;
    }
    cp.device = device;
    cp.fps = fps;
    cp.input = input;
    emo_pipeline_params pp = results_pipeline_params(model, cascade, every, threads, smooth);
    if (cli_precision("camera", precision, &pp.precision)) return 2;

    int status = 1;
    emo_camera *cam = NULL;
    emo_pipeline *pl = NULL;
    emo_drawer *dr = NULL;
    emo_video_writer *vw = NULL;
    FILE *cf = NULL;
    window wd = {0};
    emo_image frame = {0};
    emo_face faces[64];
    const char *const *names;

    if (emo_pipeline_open(&pl, &pp) != EMO_OK) {
        cli_error("camera", "cannot start the pipeline");
        goto done;
    }
    if (*emo_pipeline_warning(pl)) fprintf(stderr, "emo camera: %s\n", emo_pipeline_warning(pl));
    int k = emo_pipeline_classes(pl, &names);
    if (results_drawer_open(&dr, pl) != EMO_OK) {
        cli_error("camera", "cannot load fonts");
        goto done;
    }
    if (emo_camera_open(&cam, &cp) != EMO_OK) {
        cli_error("camera", "no camera");
        goto done;
    }
    int w, h;
    emo_camera_size(cam, &w, &h);
    if (csv) {
        if (!(cf = fopen(csv, "w"))) {
            cli_error("camera", "cannot write %s", csv);
            goto done;
        }
        results_csv_header(cf, names, k);
    }
    if (out && emo_video_writer_open(&vw, out, w, h, fps > 0 ? fps : 30) != EMO_OK) {
        cli_error("camera", "cannot record");
        goto done;
    }
    bool show = !no_window && window_open(&wd, w, h);
    if (!show && !out && !csv && !quiet)
        fprintf(stderr, "emo camera: no display; printing results only (use -o or --csv to record)\n");
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    double t0 = now_s(), last = t0, rate = 0, t;
    long n = 0;
    int s;
    status = 0;
    while (!stop_requested && (max_frames <= 0 || n < max_frames) && (seconds <= 0 || now_s() - t0 < seconds)) {
        s = emo_camera_read(cam, &frame, &t, 1000);
        if (s == EMO_EAGAIN) continue;
        if (s == EMO_EEOF) break;
        if (s != EMO_OK) {
            cli_error("camera", "capture stopped after %ld frames", n);
            status = 1;
            break;
        }
        int nf = emo_pipeline_process(pl, &frame, faces, 64);
        if (nf < 0) {
            cli_error("camera", "frame %ld", n);
            status = 1;
            break;
        }
        nf = CLI_MIN(nf, 64);
        double now = now_s();
        rate = rate == 0 ? 1 / CLI_MAX(now - last, 1e-3) : 0.9 * rate + 0.1 / CLI_MAX(now - last, 1e-3);
        last = now;
        if (cf) {
            results_csv_rows(cf, n, t, faces, nf, names);
            fflush(cf);
        }
        if (show || vw) {
            results_draw(dr, &frame, faces, nf, EMO_DRAW_ALL);
            emo_draw_fps(dr, &frame, (float)rate);
            if (show && !window_show(&wd, &frame)) break;
            if (vw && emo_video_write(vw, &frame) != EMO_OK) {
                cli_error("camera", "recording failed at frame %ld", n);
                status = 1;
                break;
            }
        }
        if (!quiet && !show && isatty(2)) {
            fprintf(stderr, "\rframe %ld  %.1f fps  %d face%s", n, rate, nf, nf == 1 ? "" : "s");
            for (int i = 0; i < nf && i < 3; i++)
                fprintf(stderr, "  #%d %s %.0f%%", faces[i].track_id, names[faces[i].label],
                        100 * faces[i].smoothed[faces[i].label]);
            fprintf(stderr, "\033[K");
        }
        n++;
    }
    if (!quiet && !show && isatty(2)) fputc('\n', stderr);
    if (!quiet)
        fprintf(stderr, "emo camera: %ld frames in %.1f s, %llu dropped as stale\n", n, now_s() - t0,
                (unsigned long long)emo_camera_dropped(cam));
done:
    window_close(&wd);
    if (vw) {
        if (emo_video_writer_close(vw) != EMO_OK) status = cli_error("camera", "cannot finish %s", out);
        else if (!quiet) fprintf(stderr, "emo camera: wrote %s\n", out);
    }
    if (cf && fclose(cf) != 0) status = cli_error("camera", "cannot finish %s", csv);
    emo_camera_close(cam);
    emo_drawer_close(dr);
    emo_pipeline_close(pl);
    emo_image_free(&frame);
    return status;
}
