/* video.c — video files in and out through FFmpeg (libavformat, libavcodec,
 * libswscale).
 *
 * Reader: demux -> decode -> swscale into the caller's emo_image. Damage is
 * counted and skipped rather than fatal, so that a truncated recording still
 * gives every frame that decodes. Writer: swscale RGB -> YUV 4:2:0 (BT.709,
 * limited range, marked as such) -> libx264 (preset veryfast, CRF 20) -> MP4
 * with the index at the front (+faststart), so browsers can stream it.
 *
 * FFmpeg logs to stderr by default; the library must not print, so a log
 * callback keeps the last error line per thread instead, and error messages
 * quote it where it helps. */
#include "internal.h"

#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* A damaged file can make the demuxer fail on every remaining packet; after
 * this many failures in a row (with no packet read) the stream is ended. */
#define MAX_READ_ERRORS_IN_A_ROW 256

/* ------------------------------------------------------------------------ */
/* FFmpeg's log                                                             */
/* ------------------------------------------------------------------------ */

static _Thread_local char av_last_msg[256];
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void log_callback(void *avcl, int level, const char *fmt, va_list vl) {
    if (level > AV_LOG_ERROR) return;
    vsnprintf(av_last_msg, sizeof av_last_msg, fmt, vl);
    size_t n = strlen(av_last_msg);
    while (n && (av_last_msg[n - 1] == '\n' || av_last_msg[n - 1] == ' ')) av_last_msg[--n] = 0;
}

static void install_log(void) { av_log_set_callback(log_callback); }

static void quiet_ffmpeg(void) {
    pthread_once(&log_once, install_log);
    av_last_msg[0] = 0;
}

static const char *av_err(int e, char *buf, size_t n) {
    av_strerror(e, buf, n);
    return buf;
}

/* ------------------------------------------------------------------------ */
/* Reader                                                                   */
/* ------------------------------------------------------------------------ */

struct emo_video {
    char *path;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    int stream;
    AVRational tb;
    int64_t start_pts; /* AV_NOPTS_VALUE until the first frame */
    double last_t;
    bool demux_done, flushed, done;
    int read_errors_in_a_row;

    struct SwsContext *sws;
    int sws_w, sws_h, sws_src, sws_dst, sws_cs, sws_full; /* what sws was set up for */

    emo_image upright; /* frames before rotation, for rotated video */
    emo_video_info info;
    emo_video_stats stats;
};

void emo_video_close(emo_video *v) {
    if (!v) return;
    sws_freeContext(v->sws);
    emo_image_free(&v->upright);
    av_frame_free(&v->frame);
    av_packet_free(&v->pkt);
    avcodec_free_context(&v->dec);
    avformat_close_input(&v->fmt);
    free(v->path);
    free(v);
}

const emo_video_info *emo_video_get_info(const emo_video *v) { return v ? &v->info : NULL; }

void emo_video_get_stats(const emo_video *v, emo_video_stats *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (v) *out = v->stats;
}

int emo_video_open(emo_video **out, const char *path) {
    if (!out) return emo_fail(EMO_EINVAL, "emo_video_open: no output pointer");
    *out = NULL;
    if (!path || !*path) return emo_fail(EMO_EINVAL, "emo_video_open: no file name given");
    struct stat sb;
    if (stat(path, &sb) != 0)
        return emo_fail(errno == ENOENT ? EMO_ENOTFOUND : EMO_EIO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) return emo_fail(EMO_EINVAL, "%s: is a directory, not a video file", path);
    if (S_ISREG(sb.st_mode) && sb.st_size == 0) return emo_fail(EMO_EFORMAT, "%s: empty file, not a video", path);
    quiet_ffmpeg();

    emo_video *v = calloc(1, sizeof *v);
    if (!v || !(v->path = strdup(path))) {
        free(v);
        return emo_fail(EMO_ENOMEM, "%s: out of memory", path);
    }
    v->start_pts = AV_NOPTS_VALUE;
    char eb[128];
    int status = EMO_OK, r;
    /* "file:" keeps FFmpeg from reading "x:y.mp4" or "http://..." as a
     * protocol: this is a local file (stat said so). */
    char *url = av_asprintf("file:%s", path);
    if (!url) {
        emo_video_close(v);
        return emo_fail(EMO_ENOMEM, "%s: out of memory", path);
    }
    r = avformat_open_input(&v->fmt, url, NULL, NULL);
    av_free(url);
    if (r < 0) {
        status = emo_fail(r == AVERROR(ENOENT) ? EMO_ENOTFOUND : r == AVERROR(EACCES) ? EMO_EIO : EMO_EFORMAT,
                          "%s: not a video file FFmpeg can read (%s)", path, av_last_msg[0] ? av_last_msg : av_err(r, eb, sizeof eb));
        goto fail;
    }
    if ((r = avformat_find_stream_info(v->fmt, NULL)) < 0) {
        status = emo_fail(EMO_EFORMAT, "%s: cannot read the stream headers (%s)", path, av_err(r, eb, sizeof eb));
        goto fail;
    }
    /* The best video stream that is not cover art. */
    v->stream = -1;
    int best = av_find_best_stream(v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (best >= 0 && !(v->fmt->streams[best]->disposition & AV_DISPOSITION_ATTACHED_PIC)) v->stream = best;
    for (unsigned i = 0; v->stream < 0 && i < v->fmt->nb_streams; i++) {
        AVStream *s = v->fmt->streams[i];
        if (s->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && !(s->disposition & AV_DISPOSITION_ATTACHED_PIC))
            v->stream = (int)i;
    }
    if (v->stream < 0) {
        status = emo_fail(EMO_EUNSUPPORTED, "%s: no video stream (the file holds %u stream(s): audio, subtitles "
                                            "or cover art only)", path, v->fmt->nb_streams);
        goto fail;
    }
    AVStream *st = v->fmt->streams[v->stream];
    AVCodecParameters *par = st->codecpar;
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    if (!codec) {
        char tag[AV_FOURCC_MAX_STRING_SIZE] = "";
        av_fourcc_make_string(tag, par->codec_tag);
        if (par->codec_id == AV_CODEC_ID_NONE)
            status = emo_fail(EMO_EUNSUPPORTED, "%s: unknown video codec (tag %s): it cannot be decoded by this FFmpeg build",
                              path, par->codec_tag ? tag : "none");
        else
            status = emo_fail(EMO_EUNSUPPORTED, "%s: video codec '%s' (tag %s) cannot be decoded by this FFmpeg build",
                              path, avcodec_get_name(par->codec_id), par->codec_tag ? tag : "none");
        goto fail;
    }
    if (par->width > EMO_MAX_SIDE || par->height > EMO_MAX_SIDE ||
        (uint64_t)par->width * (uint64_t)par->height > EMO_MAX_PIXELS) {
        status = emo_fail(EMO_ELIMIT, "%s: %dx%d video is above the image size limit", path, par->width, par->height);
        goto fail;
    }
    if (!(v->dec = avcodec_alloc_context3(codec)) || !(v->pkt = av_packet_alloc()) || !(v->frame = av_frame_alloc())) {
        status = emo_fail(EMO_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    if ((r = avcodec_parameters_to_context(v->dec, par)) < 0) {
        status = emo_fail(EMO_EFORMAT, "%s: bad codec parameters (%s)", path, av_err(r, eb, sizeof eb));
        goto fail;
    }
    v->dec->pkt_timebase = st->time_base;
    v->dec->thread_count = 0; /* FFmpeg picks */
    if ((r = avcodec_open2(v->dec, codec, NULL)) < 0) {
        status = emo_fail(EMO_EUNSUPPORTED, "%s: cannot open the %s decoder (%s)", path, codec->name,
                          av_last_msg[0] ? av_last_msg : av_err(r, eb, sizeof eb));
        goto fail;
    }
    v->tb = st->time_base;

    emo_video_info *in = &v->info;
    /* Phones store portrait video as landscape frames plus a display
     * matrix; frames are turned upright here, as players do. */
    const uint8_t *dm = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    if (dm) {
        double theta = -round(av_display_rotation_get((const int32_t *)dm)); /* clockwise degrees */
        int r = (int)(theta - 360 * floor(theta / 360));
        in->rotation = r == 90 || r == 180 || r == 270 ? r : 0;
    }
    bool turned = in->rotation == 90 || in->rotation == 270;
    in->width = turned ? par->height : par->width;
    in->height = turned ? par->width : par->height;
    AVRational fr = av_guess_frame_rate(v->fmt, st, NULL);
    in->fps = fr.num > 0 && fr.den > 0 ? av_q2d(fr) : 0;
    if (st->duration > 0 && st->duration != AV_NOPTS_VALUE) in->duration = st->duration * av_q2d(st->time_base);
    else if (v->fmt->duration > 0) in->duration = v->fmt->duration / (double)AV_TIME_BASE;
    in->frames = st->nb_frames > 0 ? st->nb_frames : in->fps > 0 && in->duration > 0 ? llround(in->duration * in->fps) : -1;
    snprintf(in->codec, sizeof in->codec, "%s", avcodec_get_name(par->codec_id));
    *out = v;
    return EMO_OK;
fail:
    emo_video_close(v);
    return status;
}

/* The swscale colour matrix for a frame. Unmarked video uses BT.601 below
 * 720 lines and BT.709 from there up, as players do. */
static int frame_colourspace(const AVFrame *f) {
    switch (f->colorspace) {
    case AVCOL_SPC_BT709: return SWS_CS_ITU709;
    case AVCOL_SPC_FCC: return SWS_CS_FCC;
    case AVCOL_SPC_SMPTE240M: return SWS_CS_SMPTE240M;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL: return SWS_CS_BT2020;
    case AVCOL_SPC_BT470BG:
    case AVCOL_SPC_SMPTE170M: return SWS_CS_ITU601;
    default: return f->height >= 720 ? SWS_CS_ITU709 : SWS_CS_ITU601;
    }
}

/* The deprecated full-range "J" formats, mapped to their plain twins. */
static enum AVPixelFormat plain_format(enum AVPixelFormat f, int *full) {
    switch (f) {
    case AV_PIX_FMT_YUVJ420P: *full = 1; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *full = 1; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *full = 1; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *full = 1; return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: *full = 1; return AV_PIX_FMT_YUV411P;
    default: return f;
    }
}

/* dst = src turned clockwise by rot (90, 180 or 270) degrees. */
static int rotate_image(const emo_image *src, emo_image *dst, int rot) {
    int w = src->width, h = src->height, c = src->channels;
    int s = rot == 180 ? emo_image_alloc(dst, w, h, c) : emo_image_alloc(dst, h, w, c);
    if (s) return s;
    for (int y = 0; y < h; y++) {
        const uint8_t *row = src->data + (size_t)y * src->stride;
        for (int x = 0; x < w; x++) {
            int dx, dy;
            if (rot == 90) dx = h - 1 - y, dy = x;
            else if (rot == 180) dx = w - 1 - x, dy = h - 1 - y;
            else dx = y, dy = w - 1 - x;
            memcpy(dst->data + (size_t)dy * dst->stride + (size_t)dx * c, row + (size_t)x * c, (size_t)c);
        }
    }
    return EMO_OK;
}

static int convert_frame(emo_video *v, emo_image *out, int channels) {
    AVFrame *f = v->frame;
    if (f->width <= 0 || f->height <= 0 || f->width > EMO_MAX_SIDE || f->height > EMO_MAX_SIDE ||
        (uint64_t)f->width * (uint64_t)f->height > EMO_MAX_PIXELS)
        return emo_fail(EMO_ELIMIT, "%s: decoded frame of %dx%d pixels is out of limits", v->path, f->width, f->height);
    int full = f->color_range == AVCOL_RANGE_JPEG;
    enum AVPixelFormat src = plain_format((enum AVPixelFormat)f->format, &full);
    enum AVPixelFormat dst = channels == 1 ? AV_PIX_FMT_GRAY8 : channels == 3 ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_RGBA;
    int cs = frame_colourspace(f);
    if (!v->sws || v->sws_w != f->width || v->sws_h != f->height || v->sws_src != src || v->sws_dst != dst ||
        v->sws_cs != cs || v->sws_full != full) {
        v->sws = sws_getCachedContext(v->sws, f->width, f->height, src, f->width, f->height, dst,
                                      SWS_BILINEAR, NULL, NULL, NULL);
        if (!v->sws)
            return emo_fail(EMO_EUNSUPPORTED, "%s: cannot convert pixel format %s to %s", v->path,
                            av_get_pix_fmt_name(src) ? av_get_pix_fmt_name(src) : "?", av_get_pix_fmt_name(dst));
        /* brightness 0, contrast and saturation 1.0, in 16.16 fixed point */
        sws_setColorspaceDetails(v->sws, sws_getCoefficients(cs), full, sws_getCoefficients(SWS_CS_DEFAULT), 1, 0,
                                 1 << 16, 1 << 16);
        v->sws_w = f->width, v->sws_h = f->height, v->sws_src = src, v->sws_dst = dst, v->sws_cs = cs;
        v->sws_full = full;
    }
    int rot = v->info.rotation;
    emo_image *to = rot ? &v->upright : out;
    int s = emo_image_alloc(to, f->width, f->height, channels);
    if (s) return s;
    uint8_t *dp[4] = {to->data, NULL, NULL, NULL};
    int ds[4] = {to->stride, 0, 0, 0};
    sws_scale(v->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dp, ds);
    return rot ? rotate_image(to, out, rot) : EMO_OK;
}

/* At the end: if the frames stopped well before the container's duration,
 * the file was cut short; count what the container promised but never came. */
static void finish(emo_video *v) {
    v->done = true;
    const emo_video_info *in = &v->info;
    if (in->fps > 0 && in->duration > 0 && in->frames > v->stats.frames &&
        (v->stats.frames == 0 || v->last_t + 1.5 / in->fps < in->duration))
        v->stats.missing = in->frames - v->stats.frames;
}

int emo_video_read(emo_video *v, emo_image *out, int channels, double *time_s) {
    if (!v || !out) return emo_fail(EMO_EINVAL, "emo_video_read: no video or no output image");
    if (channels != 1 && channels != 3 && channels != 4)
        return emo_fail(EMO_EINVAL, "emo_video_read: %d channels (want 1, 3 or 4)", channels);
    if (v->done) return EMO_EEOF;
    for (;;) {
        int r = avcodec_receive_frame(v->dec, v->frame);
        if (r == 0) {
            if (v->frame->flags & AV_FRAME_FLAG_CORRUPT || v->frame->decode_error_flags) v->stats.corrupt++;
            int64_t pts = v->frame->best_effort_timestamp;
            double t;
            if (pts == AV_NOPTS_VALUE) {
                t = v->stats.frames == 0 ? 0 : v->last_t + (v->info.fps > 0 ? 1.0 / v->info.fps : 0);
            } else {
                if (v->start_pts == AV_NOPTS_VALUE) {
                    int64_t st = v->fmt->streams[v->stream]->start_time;
                    v->start_pts = st != AV_NOPTS_VALUE ? EMO_MIN(st, pts) : pts;
                }
                t = (pts - v->start_pts) * av_q2d(v->tb);
            }
            int s = convert_frame(v, out, channels);
            av_frame_unref(v->frame);
            if (s) return s;
            v->last_t = t;
            v->stats.frames++;
            if (time_s) *time_s = t;
            return EMO_OK;
        }
        if (r == AVERROR_EOF) {
            finish(v);
            return EMO_EEOF;
        }
        if (r == AVERROR(ENOMEM)) return emo_fail(EMO_ENOMEM, "%s: out of memory decoding", v->path);
        if (r != AVERROR(EAGAIN)) {
            v->stats.errors++; /* a frame the decoder gave up on; the next may be fine */
            continue;
        }
        /* The decoder wants input. */
        if (v->demux_done) {
            if (v->flushed) { /* a decoder that never reports EOF after a flush */
                finish(v);
                return EMO_EEOF;
            }
            avcodec_send_packet(v->dec, NULL);
            v->flushed = true;
            continue;
        }
        r = av_read_frame(v->fmt, v->pkt);
        if (r < 0) {
            if (r == AVERROR(ENOMEM)) return emo_fail(EMO_ENOMEM, "%s: out of memory reading", v->path);
            if (r != AVERROR_EOF) {
                v->stats.errors++;
                if (++v->read_errors_in_a_row < MAX_READ_ERRORS_IN_A_ROW && !avio_feof(v->fmt->pb)) continue;
            }
            v->demux_done = true;
            continue;
        }
        v->read_errors_in_a_row = 0;
        if (v->pkt->stream_index != v->stream) {
            av_packet_unref(v->pkt);
            continue;
        }
        r = avcodec_send_packet(v->dec, v->pkt);
        av_packet_unref(v->pkt);
        if (r == AVERROR(ENOMEM)) return emo_fail(EMO_ENOMEM, "%s: out of memory decoding", v->path);
        if (r < 0 && r != AVERROR(EAGAIN)) v->stats.errors++; /* a damaged packet: skip it */
    }
}

/* ------------------------------------------------------------------------ */
/* Writer                                                                   */
/* ------------------------------------------------------------------------ */

struct emo_video_writer {
    char *path, *tmp;
    AVFormatContext *fmt;
    AVCodecContext *enc;
    AVStream *st;
    AVFrame *frame;
    AVPacket *pkt;
    int width, height; /* of the images given; the frame may be 1 larger (even sizes) */
    int64_t next_pts;
    bool failed;
};

static void writer_free(emo_video_writer *w, bool remove_tmp) {
    if (!w) return;
    if (w->fmt && w->fmt->pb) avio_closep(&w->fmt->pb);
    if (remove_tmp && w->tmp) unlink(w->tmp);
    av_frame_free(&w->frame);
    av_packet_free(&w->pkt);
    avcodec_free_context(&w->enc);
    avformat_free_context(w->fmt);
    free(w->path);
    free(w->tmp);
    free(w);
}

void emo_video_writer_discard(emo_video_writer *w) { writer_free(w, true); }

/* RGB(A) or grey -> YUV 4:2:0, BT.709, limited range (Y 16..235, C 16..240),
 * chroma from the mean of each 2x2 block. Frames of W x H (even) are filled
 * from the w x h image, repeating its last column / row where W > w, H > h.
 * (swscale takes ~2.5 ms for a 640x360 frame here, this ~0.75 ms.) Coefficients in
 * Q16: Y = 16 + 219/255 (0.2126 R + 0.7152 G + 0.0722 B),
 * Cb = 128 + 224/255 (B - Y') / 1.8556, Cr = 128 + 224/255 (R - Y') / 1.5748. */
enum {
    YR = 11966, YG = 40254, YB = 4064,           /* 65536 * 219/255 * (0.2126, 0.7152, 0.0722) */
    UR = -6596, UG = -22188, UB = 28784,         /* 65536 * 224/255 * (-0.2126, -0.7152, 0.9278) / 1.8556 */
    VR = 28784, VG = -26145, VB = -2639,         /* 65536 * 224/255 * (0.7874, -0.7152, -0.0722) / 1.5748 */
};

/* One row of luma; c (3 or 4) is a constant after inlining, so the loop
 * vectorises. */
static inline __attribute__((always_inline)) void luma_row(const uint8_t *restrict row, uint8_t *restrict Y, int w,
                                                           int c) {
    for (int x = 0; x < w; x++) {
        const uint8_t *p = row + (size_t)x * c;
        Y[x] = (uint8_t)((YR * p[0] + YG * p[1] + YB * p[2] + (16 << 16) + 32768) >> 16);
    }
}

static inline uint8_t chroma(int k0, int k1, int k2, int R, int G, int B) {
    return (uint8_t)((k0 * R + k1 * G + k2 * B + (128 << 18) + (1 << 17)) >> 18); /* R, G, B are sums of 4 */
}

/* n chroma samples from the 2x2 blocks of rows r0 and r1. */
static inline __attribute__((always_inline)) void chroma_row(const uint8_t *restrict r0, const uint8_t *restrict r1,
                                                             uint8_t *restrict U, uint8_t *restrict V, int n, int c) {
    for (int cx = 0; cx < n; cx++) {
        const uint8_t *a = r0 + (size_t)cx * 2 * c, *b = r1 + (size_t)cx * 2 * c;
        int R = a[0] + a[c] + b[0] + b[c], G = a[1] + a[c + 1] + b[1] + b[c + 1], B = a[2] + a[c + 2] + b[2] + b[c + 2];
        U[cx] = chroma(UR, UG, UB, R, G, B);
        V[cx] = chroma(VR, VG, VB, R, G, B);
    }
}

static void rgb_to_yuv420(const emo_image *img, uint8_t *const plane[], const int linesize[], int W, int H) {
    int w = img->width, h = img->height, c = img->channels;
    for (int y = 0; y < H; y++) {
        const uint8_t *row = img->data + (size_t)EMO_MIN(y, h - 1) * img->stride;
        uint8_t *Y = plane[0] + (size_t)y * linesize[0];
        if (c == 1)
            for (int x = 0; x < w; x++) Y[x] = (uint8_t)((row[x] * 56284 + (16 << 16) + 32768) >> 16); /* 219/255 */
        else if (c == 3)
            luma_row(row, Y, w, 3);
        else
            luma_row(row, Y, w, 4);
        for (int x = w; x < W; x++) Y[x] = Y[w - 1];
    }
    for (int cy = 0; cy < H / 2; cy++) {
        const uint8_t *r0 = img->data + (size_t)EMO_MIN(2 * cy, h - 1) * img->stride;
        const uint8_t *r1 = img->data + (size_t)EMO_MIN(2 * cy + 1, h - 1) * img->stride;
        uint8_t *U = plane[1] + (size_t)cy * linesize[1], *V = plane[2] + (size_t)cy * linesize[2];
        if (c == 1) {
            memset(U, 128, (size_t)W / 2);
            memset(V, 128, (size_t)W / 2);
            continue;
        }
        int n = w / 2;
        if (c == 3) chroma_row(r0, r1, U, V, n, 3);
        else chroma_row(r0, r1, U, V, n, 4);
        if (w & 1) { /* the last column pairs with its own repeat */
            const uint8_t *a = r0 + (size_t)(w - 1) * c, *b = r1 + (size_t)(w - 1) * c;
            int R = 2 * (a[0] + b[0]), G = 2 * (a[1] + b[1]), B = 2 * (a[2] + b[2]);
            U[n] = chroma(UR, UG, UB, R, G, B);
            V[n] = chroma(VR, VG, VB, R, G, B);
        }
    }
}

/* A rational for fps: NTSC rates (23.976...) exactly as 24000/1001. */
static AVRational fps_rational(double fps) {
    double k = fps * 1001.0 / 1000.0;
    if (fabs(k - round(k)) < 1e-3 && fabs(fps - round(fps)) > 1e-3) return (AVRational){(int)round(k) * 1000, 1001};
    return av_d2q(fps, 100000);
}

int emo_video_writer_open(emo_video_writer **out, const char *path, int width, int height, double fps) {
    if (!out) return emo_fail(EMO_EINVAL, "emo_video_writer_open: no output pointer");
    *out = NULL;
    if (!path || !*path) return emo_fail(EMO_EINVAL, "emo_video_writer_open: no file name given");
    if (width < 2 || height < 2 || width > EMO_MAX_SIDE || height > EMO_MAX_SIDE ||
        (uint64_t)width * (uint64_t)height > EMO_MAX_PIXELS)
        return emo_fail(EMO_EINVAL, "%s: frame size %dx%d out of 2..%d per side", path, width, height, EMO_MAX_SIDE);
    if (!(fps >= 0.1 && fps <= 1000)) return emo_fail(EMO_EINVAL, "%s: %g fps out of 0.1..1000", path, fps);
    quiet_ffmpeg();
    char eb[128];
    int r, status = EMO_OK;
    emo_video_writer *w = calloc(1, sizeof *w);
    size_t n = strlen(path);
    if (!w || !(w->path = strdup(path)) || !(w->tmp = malloc(n + 32))) {
        writer_free(w, false);
        return emo_fail(EMO_ENOMEM, "%s: out of memory", path);
    }
    snprintf(w->tmp, n + 32, "%s.tmp.%ld", path, (long)getpid());
    w->width = width, w->height = height;

    if ((r = avformat_alloc_output_context2(&w->fmt, NULL, NULL, path)) < 0 || !w->fmt) {
        writer_free(w, false);
        return emo_fail(EMO_EINVAL, "%s: cannot tell the container from the name (use .mp4, .mkv, .mov or .avi)", path);
    }
    const AVOutputFormat *of = w->fmt->oformat;
    if (of->video_codec == AV_CODEC_ID_NONE) {
        writer_free(w, false);
        return emo_fail(EMO_EINVAL, "%s: the %s format holds no video (use .mp4, .mkv, .mov or .avi)", path, of->name);
    }
    /* H.264 through libx264 where the container takes it, else the
     * container's own default encoder. */
    const AVCodec *codec = NULL;
    if (avformat_query_codec(of, AV_CODEC_ID_H264, FF_COMPLIANCE_NORMAL) == 1) codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) codec = avcodec_find_encoder(of->video_codec);
    if (!codec) {
        status = emo_fail(EMO_EUNSUPPORTED, "%s: this FFmpeg build has no encoder for %s", path,
                          avcodec_get_name(of->video_codec));
        goto fail;
    }
    if (!(w->enc = avcodec_alloc_context3(codec)) || !(w->frame = av_frame_alloc()) || !(w->pkt = av_packet_alloc())) {
        status = emo_fail(EMO_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    AVRational rate = fps_rational(fps);
    AVCodecContext *e = w->enc;
    e->width = (width + 1) & ~1;
    e->height = (height + 1) & ~1;
    e->time_base = av_inv_q(rate);
    e->framerate = rate;
    e->pix_fmt = AV_PIX_FMT_YUV420P;
    e->gop_size = (int)EMO_CLAMP(fps * 2, 1, 600); /* a key frame every 2 s for seeking */
    e->colorspace = AVCOL_SPC_BT709;
    e->color_primaries = AVCOL_PRI_BT709;
    e->color_trc = AVCOL_TRC_BT709;
    e->color_range = AVCOL_RANGE_MPEG;
    e->sample_aspect_ratio = (AVRational){1, 1};
    e->thread_count = 0;
    if (strcmp(codec->name, "libx264") == 0) {
        av_opt_set(e->priv_data, "preset", "veryfast", 0);
        av_opt_set(e->priv_data, "crf", "20", 0);
    } else {
        e->bit_rate = (int64_t)EMO_MAX(400000.0, 0.25 * e->width * e->height * fps);
    }
    if (of->flags & AVFMT_GLOBALHEADER) e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((r = avcodec_open2(e, codec, NULL)) < 0) {
        status = emo_fail(EMO_EUNSUPPORTED, "%s: cannot open the %s encoder (%s)", path, codec->name,
                          av_last_msg[0] ? av_last_msg : av_err(r, eb, sizeof eb));
        goto fail;
    }
    if (!(w->st = avformat_new_stream(w->fmt, NULL))) {
        status = emo_fail(EMO_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    w->st->time_base = e->time_base;
    w->st->avg_frame_rate = rate;
    if ((r = avcodec_parameters_from_context(w->st->codecpar, e)) < 0) {
        status = emo_fail(EMO_ENOMEM, "%s: cannot set stream parameters (%s)", path, av_err(r, eb, sizeof eb));
        goto fail;
    }
    /* The muxer reopens its file by url for +faststart: point it at tmp
     * ("file:" so that a ':' in the name is not taken for a protocol). */
    av_freep(&w->fmt->url);
    if (!(w->fmt->url = av_asprintf("file:%s", w->tmp))) {
        status = emo_fail(EMO_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    if ((r = avio_open(&w->fmt->pb, w->fmt->url, AVIO_FLAG_WRITE)) < 0) {
        status = emo_fail(EMO_EIO, "%s: cannot write (%s)", path, av_err(r, eb, sizeof eb));
        goto fail;
    }
    AVDictionary *opts = NULL;
    if (strcmp(of->name, "mp4") == 0 || strcmp(of->name, "mov") == 0) av_dict_set(&opts, "movflags", "+faststart", 0);
    r = avformat_write_header(w->fmt, &opts);
    av_dict_free(&opts);
    if (r < 0) {
        status = emo_fail(EMO_EIO, "%s: cannot write the header (%s)", path,
                          av_last_msg[0] ? av_last_msg : av_err(r, eb, sizeof eb));
        goto fail;
    }
    w->frame->format = e->pix_fmt;
    w->frame->width = e->width;
    w->frame->height = e->height;
    if ((r = av_frame_get_buffer(w->frame, 0)) < 0) {
        status = emo_fail(EMO_ENOMEM, "%s: out of memory for a frame", path);
        goto fail;
    }
    *out = w;
    return EMO_OK;
fail:
    writer_free(w, true);
    return status;
}

/* Sends frame (NULL = flush) and writes every packet the encoder has ready. */
static int encode(emo_video_writer *w, AVFrame *frame) {
    char eb[128];
    int r = avcodec_send_frame(w->enc, frame);
    if (r < 0 && r != AVERROR_EOF) {
        w->failed = true;
        return emo_fail(EMO_EIO, "%s: encoding failed (%s)", w->path, av_err(r, eb, sizeof eb));
    }
    for (;;) {
        r = avcodec_receive_packet(w->enc, w->pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return EMO_OK;
        if (r < 0) {
            w->failed = true;
            return emo_fail(EMO_EIO, "%s: encoding failed (%s)", w->path, av_err(r, eb, sizeof eb));
        }
        av_packet_rescale_ts(w->pkt, w->enc->time_base, w->st->time_base);
        w->pkt->stream_index = w->st->index;
        r = av_interleaved_write_frame(w->fmt, w->pkt); /* takes the packet's data, leaves pkt blank */
        if (r < 0) {
            w->failed = true;
            return emo_fail(EMO_EIO, "%s: write failed (%s)", w->path, av_err(r, eb, sizeof eb));
        }
    }
}

int emo_video_write(emo_video_writer *w, const emo_image *img) {
    if (!w) return emo_fail(EMO_EINVAL, "emo_video_write: no writer");
    if (w->failed) return emo_fail(EMO_ESTATE, "%s: an earlier write failed", w->path);
    if (!img || !img->data || (img->channels != 1 && img->channels != 3 && img->channels != 4) ||
        img->stride < img->width * img->channels)
        return emo_fail(EMO_EINVAL, "%s: empty or invalid image", w->path);
    if (img->width != w->width || img->height != w->height)
        return emo_fail(EMO_EINVAL, "%s: frame is %dx%d, the video is %dx%d", w->path, img->width, img->height,
                        w->width, w->height);
    /* The encoder may still hold this buffer; then FFmpeg gives a new one. */
    if (av_frame_make_writable(w->frame) < 0) return emo_fail(EMO_ENOMEM, "%s: out of memory for a frame", w->path);
    AVFrame *f = w->frame;
    rgb_to_yuv420(img, f->data, f->linesize, f->width, f->height);
    f->pts = w->next_pts++;
    return encode(w, f);
}

int emo_video_writer_close(emo_video_writer *w) {
    if (!w) return EMO_OK;
    int status = EMO_OK, r;
    char eb[128];
    if (w->failed) status = emo_fail(EMO_ESTATE, "%s: not finished, an earlier write failed", w->path);
    else if (w->next_pts == 0) status = emo_fail(EMO_ESTATE, "%s: no frames were written, no file made", w->path);
    if (!status) status = encode(w, NULL);
    if (!status && (r = av_write_trailer(w->fmt)) < 0)
        status = emo_fail(EMO_EIO, "%s: cannot finish the file (%s)", w->path, av_err(r, eb, sizeof eb));
    if (!status) {
        r = avio_closep(&w->fmt->pb);
        if (r < 0) status = emo_fail(EMO_EIO, "%s: write failed (%s)", w->path, av_err(r, eb, sizeof eb));
    }
    if (!status && rename(w->tmp, w->path) != 0)
        status = emo_fail(EMO_EIO, "%s: cannot rename the finished file: %s", w->path, strerror(errno));
    writer_free(w, status != EMO_OK);
    return status;
}
