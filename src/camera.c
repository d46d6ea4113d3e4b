/* camera.c — live frames from a V4L2 camera (MJPEG or YUYV), or from a video
 * file played at its own pace as if it were a camera.
 *
 * A capture thread grabs and decodes frames into a back buffer and swaps it
 * with the front one under a mutex (double buffering), so the consumer always
 * gets the newest frame and never waits for the device; frames the consumer
 * was too slow for are dropped and counted. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NBUF 4

struct emo_camera {
    emo_camera_params params;
    char name[256];
    /* V4L2 device */
    int fd;
    uint32_t pixfmt;
    int width, height;
    void *map[NBUF];
    size_t map_len[NBUF];
    int nmap;
    bool streaming;
    /* video file */
    emo_video *video;
    double t0; /* wall-clock start of playback (s) */
    /* capture thread and the two frame buffers */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    emo_image back, front;
    double back_time, front_time;
    uint64_t seq, read_seq, dropped;
    int status; /* EMO_OK while running; EMO_EEOF or an error once it stops */
    char error[512];
    bool stop;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int xioctl(int fd, unsigned long req, void *arg) {
    int r;
    do r = ioctl(fd, req, arg);
    while (r < 0 && errno == EINTR);
    return r;
}

emo_camera_params emo_camera_params_default(void) {
    emo_camera_params p = {.device = "/dev/video0", .width = 640, .height = 480, .fps = 30, .input = NULL};
    return p;
}

/* ------------------------------------------------------------------------ */
/* Pixel formats                                                            */
/* ------------------------------------------------------------------------ */

static inline uint8_t clamp8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

/* YUYV 4:2:2, BT.601 limited range -> RGB, 16.16 fixed point. */
static void yuyv_to_rgb(const uint8_t *src, size_t len, emo_image *dst) {
    int w = dst->width, h = dst->height;
    size_t need = (size_t)w * h * 2;
    if (len < need) h = (int)(len / ((size_t)w * 2)); /* short frame: convert what is there */
    for (int y = 0; y < h; y++) {
        const uint8_t *s = src + (size_t)y * w * 2;
        uint8_t *d = dst->data + (size_t)y * dst->stride;
        for (int x = 0; x + 1 < w; x += 2, s += 4, d += 6) {
            int u = s[1] - 128, v = s[3] - 128;
            int ru = 104597 * v, gu = -25675 * u - 53279 * v, bu = 132201 * u;
            for (int k = 0; k < 2; k++) {
                int yy = 76309 * (s[2 * k] - 16);
                d[3 * k + 0] = clamp8((yy + ru + 32768) >> 16);
                d[3 * k + 1] = clamp8((yy + gu + 32768) >> 16);
                d[3 * k + 2] = clamp8((yy + bu + 32768) >> 16);
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* V4L2                                                                     */
/* ------------------------------------------------------------------------ */

static int v4l2_open(emo_camera *c) {
    const char *dev = c->params.device;
    c->fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (c->fd < 0)
        return emo_fail(errno == ENOENT ? EMO_ENOTFOUND : EMO_EIO, "%s: cannot open camera: %s", dev,
                        strerror(errno));
    struct v4l2_capability cap = {0};
    if (xioctl(c->fd, VIDIOC_QUERYCAP, &cap) < 0)
        return emo_fail(EMO_EUNSUPPORTED, "%s: not a V4L2 device (%s)", dev, strerror(errno));
    uint32_t caps = cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities;
    if (!(caps & V4L2_CAP_VIDEO_CAPTURE) || !(caps & V4L2_CAP_STREAMING))
        return emo_fail(EMO_EUNSUPPORTED, "%s: device cannot stream video capture", dev);
    /* MJPEG first: USB cameras deliver it at full frame rate; YUYV otherwise. */
    static const uint32_t formats[] = {V4L2_PIX_FMT_MJPEG, V4L2_PIX_FMT_YUYV};
    bool ok = false;
    for (size_t i = 0; i < 2 && !ok; i++) {
        struct v4l2_format f = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
        f.fmt.pix.width = (uint32_t)c->params.width;
        f.fmt.pix.height = (uint32_t)c->params.height;
        f.fmt.pix.pixelformat = formats[i];
        f.fmt.pix.field = V4L2_FIELD_ANY;
        if (xioctl(c->fd, VIDIOC_S_FMT, &f) == 0 && f.fmt.pix.pixelformat == formats[i]) {
            ok = true;
            c->pixfmt = formats[i];
            c->width = (int)f.fmt.pix.width;
            c->height = (int)f.fmt.pix.height;
        }
    }
    if (!ok) return emo_fail(EMO_EUNSUPPORTED, "%s: camera offers neither MJPEG nor YUYV", dev);
    if (c->width <= 0 || c->height <= 0 || c->width > EMO_MAX_SIDE || c->height > EMO_MAX_SIDE)
        return emo_fail(EMO_EUNSUPPORTED, "%s: camera reports a %dx%d frame", dev, c->width, c->height);
    if (c->params.fps > 0) {
        struct v4l2_streamparm sp = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
        sp.parm.capture.timeperframe.numerator = 1;
        sp.parm.capture.timeperframe.denominator = (uint32_t)c->params.fps;
        xioctl(c->fd, VIDIOC_S_PARM, &sp); /* a hint; cameras may ignore it */
    }
    struct v4l2_requestbuffers rb = {.count = NBUF, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP};
    if (xioctl(c->fd, VIDIOC_REQBUFS, &rb) < 0 || rb.count < 2)
        return emo_fail(EMO_EIO, "%s: cannot get capture buffers (%s)", dev, strerror(errno));
    for (uint32_t i = 0; i < rb.count && i < NBUF; i++) {
        struct v4l2_buffer b = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP, .index = i};
        if (xioctl(c->fd, VIDIOC_QUERYBUF, &b) < 0) return emo_fail(EMO_EIO, "%s: %s", dev, strerror(errno));
        c->map[i] = mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, b.m.offset);
        if (c->map[i] == MAP_FAILED) {
            c->map[i] = NULL;
            return emo_fail(EMO_EIO, "%s: cannot map buffer: %s", dev, strerror(errno));
        }
        c->map_len[i] = b.length;
        c->nmap = (int)i + 1;
        if (xioctl(c->fd, VIDIOC_QBUF, &b) < 0) return emo_fail(EMO_EIO, "%s: %s", dev, strerror(errno));
    }
    enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    if (xioctl(c->fd, VIDIOC_STREAMON, &type) < 0)
        return emo_fail(EMO_EIO, "%s: cannot start streaming: %s", dev, strerror(errno));
    c->streaming = true;
    return EMO_OK;
}

/* Waits for and decodes one frame into c->back. */
static int v4l2_grab(emo_camera *c, double *t) {
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    int r = poll(&pfd, 1, 2000);
    if (r == 0) return emo_fail(EMO_EIO, "%s: no frame from the camera for 2 s", c->name);
    if (r < 0) return errno == EINTR ? EMO_EAGAIN : emo_fail(EMO_EIO, "%s: %s", c->name, strerror(errno));
    if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))
        return emo_fail(EMO_EIO, "%s: camera disappeared", c->name);
    struct v4l2_buffer b = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP};
    if (xioctl(c->fd, VIDIOC_DQBUF, &b) < 0) {
        if (errno == EAGAIN) return EMO_EAGAIN;
        return emo_fail(EMO_EIO, "%s: camera disappeared (%s)", c->name, strerror(errno));
    }
    int s = EMO_OK;
    if (b.index >= (uint32_t)c->nmap || b.bytesused > c->map_len[b.index]) {
        s = emo_fail(EMO_EIO, "%s: driver returned a bad buffer", c->name);
    } else if (c->pixfmt == V4L2_PIX_FMT_MJPEG) {
        s = emo_image_decode_named(&c->back, c->map[b.index], b.bytesused, 3, c->name);
        if (s == EMO_EFORMAT || s == EMO_EUNSUPPORTED) s = EMO_EAGAIN; /* a damaged frame: skip it */
    } else if ((s = emo_image_alloc(&c->back, c->width, c->height, 3)) == EMO_OK) {
        yuyv_to_rgb(c->map[b.index], b.bytesused, &c->back);
    }
    *t = now_s() - c->t0;
    if (xioctl(c->fd, VIDIOC_QBUF, &b) < 0 && s == EMO_OK)
        s = emo_fail(EMO_EIO, "%s: camera disappeared (%s)", c->name, strerror(errno));
    return s;
}

/* ------------------------------------------------------------------------ */
/* Video file played in real time                                           */
/* ------------------------------------------------------------------------ */

static int file_grab(emo_camera *c, double *t) {
    int s = emo_video_read(c->video, &c->back, 3, t);
    if (s) return s;
    /* Pace: show frame at time t after the start, as a camera would. */
    double wait = *t - (now_s() - c->t0);
    if (wait > 0) {
        struct timespec ts = {(time_t)wait, (long)((wait - (time_t)wait) * 1e9)};
        nanosleep(&ts, NULL);
    }
    return EMO_OK;
}

/* ------------------------------------------------------------------------ */
/* Capture thread and consumer side                                         */
/* ------------------------------------------------------------------------ */

static void *capture_main(void *arg) {
    emo_camera *c = arg;
    for (;;) {
        pthread_mutex_lock(&c->lock);
        bool stop = c->stop;
        pthread_mutex_unlock(&c->lock);
        if (stop) break;
        double t = 0;
        int s = c->video ? file_grab(c, &t) : v4l2_grab(c, &t);
        if (s == EMO_EAGAIN) continue;
        pthread_mutex_lock(&c->lock);
        if (s != EMO_OK) {
            c->status = s;
            snprintf(c->error, sizeof c->error, "%s", s == EMO_EEOF ? "end of input" : emo_last_error());
            pthread_cond_broadcast(&c->cond);
            pthread_mutex_unlock(&c->lock);
            break;
        }
        emo_image tmp = c->front;
        c->front = c->back;
        c->back = tmp;
        c->front_time = t;
        if (c->seq > c->read_seq) c->dropped++; /* the previous one was never read */
        c->seq++;
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
    }
    return NULL;
}

int emo_camera_open(emo_camera **out, const emo_camera_params *params) {
    if (!out) return emo_fail(EMO_EINVAL, "emo_camera_open: no output");
    *out = NULL;
    emo_camera_params p = params ? *params : emo_camera_params_default();
    if (!p.input && !p.device) return emo_fail(EMO_EINVAL, "emo_camera_open: no device and no input file");
    if (p.width <= 0 || p.height <= 0 || p.width > EMO_MAX_SIDE || p.height > EMO_MAX_SIDE)
        return emo_fail(EMO_EINVAL, "emo_camera_open: bad frame size %dx%d", p.width, p.height);
    emo_camera *c = calloc(1, sizeof *c);
    if (!c) return emo_fail(EMO_ENOMEM, "out of memory");
    c->params = p;
    c->fd = -1;
    snprintf(c->name, sizeof c->name, "%s", p.input ? p.input : p.device);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    int s;
    if (p.input) {
        s = emo_video_open(&c->video, p.input);
        if (s == EMO_OK) {
            const emo_video_info *vi = emo_video_get_info(c->video);
            c->width = vi->width;
            c->height = vi->height;
        }
    } else {
        s = v4l2_open(c);
    }
    if (s == EMO_OK) {
        c->t0 = now_s();
        if (pthread_create(&c->thread, NULL, capture_main, c) != 0)
            s = emo_fail(EMO_ENOMEM, "%s: cannot start the capture thread", c->name);
        else c->thread_started = true;
    }
    if (s) {
        emo_camera_close(c);
        return s;
    }
    *out = c;
    return EMO_OK;
}

int emo_camera_size(const emo_camera *c, int *width, int *height) {
    if (!c) return emo_fail(EMO_EINVAL, "emo_camera_size: no camera");
    *width = c->width;
    *height = c->height;
    return EMO_OK;
}

int emo_camera_read(emo_camera *c, emo_image *frame, double *time_s, int timeout_ms) {
    if (!c || !frame) return emo_fail(EMO_EINVAL, "emo_camera_read: no camera or frame");
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) dl.tv_sec++, dl.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&c->lock);
    while (c->seq == c->read_seq && c->status == EMO_OK) {
        if (timeout_ms >= 0 && pthread_cond_timedwait(&c->cond, &c->lock, &dl) == ETIMEDOUT) {
            pthread_mutex_unlock(&c->lock);
            return emo_fail(EMO_EAGAIN, "%s: no new frame within %d ms", c->name, timeout_ms);
        }
        if (timeout_ms < 0) pthread_cond_wait(&c->cond, &c->lock);
    }
    int s = EMO_OK;
    if (c->seq == c->read_seq) { /* stopped and nothing new */
        s = c->status == EMO_EEOF ? emo_fail(EMO_EEOF, "%s: end of input", c->name)
                                  : emo_fail(c->status, "%s", c->error);
    } else {
        s = emo_image_convert(&c->front, frame, frame->channels == 1 ? 1 : 3);
        if (time_s) *time_s = c->front_time;
        c->read_seq = c->seq;
    }
    pthread_mutex_unlock(&c->lock);
    return s;
}

uint64_t emo_camera_dropped(const emo_camera *c) { return c ? c->dropped : 0; }

void emo_camera_close(emo_camera *c) {
    if (!c) return;
    if (c->thread_started) {
        pthread_mutex_lock(&c->lock);
        c->stop = true;
        pthread_mutex_unlock(&c->lock);
        pthread_join(c->thread, NULL);
    }
    if (c->streaming) {
        enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        xioctl(c->fd, VIDIOC_STREAMOFF, &type);
    }
    for (int i = 0; i < c->nmap; i++)
        if (c->map[i]) munmap(c->map[i], c->map_len[i]);
    if (c->fd >= 0) close(c->fd);
    emo_video_close(c->video);
    emo_image_free(&c->back);
    emo_image_free(&c->front);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c);
}
