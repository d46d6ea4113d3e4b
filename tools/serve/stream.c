/* stream.c — server-camera mode (`emo serve --camera DEV` or `--input
 * VIDEO`): one producer thread reads frames through emo_camera (a V4L2
 * device, or a video file played at its own rate and looped), runs the
 * pipeline, draws the faces and encodes a JPEG; GET /stream.mjpg sends the
 * newest JPEG to each client as multipart/x-mixed-replace (MJPEG).
 *
 * A client that has sent the newest frame is suspended (no thread, no
 * polling) and resumed by the producer when the next one is ready, so a
 * slow client skips frames instead of queueing them. */
#include "serve.h"
#include "../results.h"

#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#define STREAM_MAX_CLIENTS 8
#define BOUNDARY "emoframe"

typedef struct mjpeg_client {
    struct serve_stream *st;
    struct MHD_Connection *c;
    uint64_t seq;   /* frame number of the part in buf */
    uint8_t *buf;   /* the part being sent: boundary, headers, JPEG */
    size_t len, cap, pos;
    bool waiting;   /* suspended until the next frame */
    struct mjpeg_client *next;
} mjpeg_client;

typedef struct serve_stream {
    server *sv;
    char input[1024];
    bool is_device;
    emo_camera *cam;
    pthread_t thread;
    bool started;

    pthread_mutex_t lock;
    uint8_t *jpeg; /* the newest annotated frame */
    size_t jpeg_len, jpeg_cap;
    uint64_t seq;  /* frames published; 0 = none yet */
    bool stop;
    int clients;
    mjpeg_client *waiting;
} serve_stream;

static int camera_open(serve_stream *st) {
    emo_camera_params cp = emo_camera_params_default();
    if (st->is_device) cp.device = st->input;
    else cp.input = st->input;
    return emo_camera_open(&st->cam, &cp);
}

static void publish(serve_stream *st, const uint8_t *jpeg, size_t n) {
    pthread_mutex_lock(&st->lock);
    if (n > st->jpeg_cap) {
        uint8_t *b = realloc(st->jpeg, n);
        if (!b) {
            pthread_mutex_unlock(&st->lock);
            return;
        }
        st->jpeg = b;
        st->jpeg_cap = n;
    }
    memcpy(st->jpeg, jpeg, n);
    st->jpeg_len = n;
    st->seq++;
    for (mjpeg_client *c = st->waiting; c; c = c->next) {
        c->waiting = false;
        MHD_resume_connection(c->c);
    }
    st->waiting = NULL;
    pthread_mutex_unlock(&st->lock);
}

static void *producer(void *arg) {
    serve_stream *st = arg;
    server *sv = st->sv;
    emo_pipeline *pl = NULL;
    emo_drawer *dr = NULL;
    tjhandle tj = tjInitCompress();
    unsigned char *jpeg = NULL;
    unsigned long jpeg_size = 0;
    emo_image frame = {0};
    emo_face faces[SERVE_MAX_FACES];
    serve_settings s = {.model = sv->default_model};
    emo_pipeline_params d = emo_pipeline_params_default();
    s.smooth = d.smooth;
    s.detect_every = SERVE_LIVE_DETECT_EVERY;
    s.neighbors = d.detect.min_neighbors;
    if (!tj || serve_pipe_open(sv, &s, sv->threads, &pl) != EMO_OK || results_drawer_open(&dr, pl) != EMO_OK) {
        fprintf(stderr, "emo serve: server camera stopped: %s\n", tj ? emo_last_error() : "turbojpeg failed");
        goto end;
    }
    double last = 0, fps = 0;
    while (!atomic_load(&sv->stopping)) {
        double t;
        int r = emo_camera_read(st->cam, &frame, &t, 200);
        if (r == EMO_EAGAIN) continue;
        if (r == EMO_EEOF && !st->is_device) { /* a video loops, as a kiosk shows it */
            emo_camera_close(st->cam);
            st->cam = NULL;
            emo_pipeline_reset(pl);
            if (camera_open(st) != EMO_OK) break;
            continue;
        }
        if (r != EMO_OK) {
            fprintf(stderr, "emo serve: server camera stopped: %s\n", emo_last_error());
            break;
        }
        int n = emo_pipeline_process(pl, &frame, faces, SERVE_MAX_FACES);
        if (n < 0) continue;
        atomic_fetch_add(&sv->frames, 1);
        results_draw(dr, &frame, faces, EMO_MIN(n, SERVE_MAX_FACES), EMO_DRAW_ALL);
        double now = serve_now();
        if (last > 0) fps = fps > 0 ? 0.9 * fps + 0.1 / (now - last) : 1 / (now - last);
        last = now;
        if (fps > 0) emo_draw_fps(dr, &frame, (float)fps);
        /* The JPEG buffer is reused (turbojpeg grows it when needed). */
        if (tjCompress2(tj, frame.data, frame.width, frame.stride, frame.height, TJPF_RGB, &jpeg, &jpeg_size,
                        TJSAMP_420, 80, 0) != 0)
            continue;
        publish(st, jpeg, jpeg_size);
    }
end:
    /* No more frames: viewers waiting for one get the end of the stream. */
    pthread_mutex_lock(&st->lock);
    st->stop = true;
    for (mjpeg_client *c = st->waiting; c; c = c->next) {
        c->waiting = false;
        MHD_resume_connection(c->c);
    }
    st->waiting = NULL;
    pthread_mutex_unlock(&st->lock);
    emo_pipeline_close(pl);
    emo_drawer_close(dr);
    if (tj) tjDestroy(tj);
    tjFree(jpeg);
    emo_image_free(&frame);
    return NULL;
}

int serve_stream_open(server *sv, const char *input) {
    serve_stream *st = calloc(1, sizeof *st);
    if (!st) return emo_fail(EMO_ENOMEM, "out of memory");
    st->sv = sv;
    snprintf(st->input, sizeof st->input, "%s", input);
    st->is_device = strncmp(input, "/dev/", 5) == 0;
    pthread_mutex_init(&st->lock, NULL);
    int r = camera_open(st);
    if (r != EMO_OK) {
        pthread_mutex_destroy(&st->lock);
        free(st);
        return r;
    }
    sv->stream = st;
    if (pthread_create(&st->thread, NULL, producer, st) != 0) {
        serve_stream_close(sv);
        return emo_fail(EMO_ENOMEM, "cannot start the camera thread");
    }
    st->started = true;
    return EMO_OK;
}

/* Fills the client's part buffer with the newest frame. Called locked. */
static bool next_part(mjpeg_client *cl) {
    serve_stream *st = cl->st;
    char head[128];
    int hn = snprintf(head, sizeof head, "--" BOUNDARY "\r\nContent-Type: image/jpeg\r\nContent-Length: %zu\r\n\r\n",
                      st->jpeg_len);
    size_t need = (size_t)hn + st->jpeg_len + 2;
    if (need > cl->cap) {
        uint8_t *b = realloc(cl->buf, need);
        if (!b) return false;
        cl->buf = b;
        cl->cap = need;
    }
    memcpy(cl->buf, head, (size_t)hn);
    memcpy(cl->buf + hn, st->jpeg, st->jpeg_len);
    memcpy(cl->buf + hn + st->jpeg_len, "\r\n", 2);
    cl->len = need;
    cl->pos = 0;
    cl->seq = st->seq;
    return true;
}

static ssize_t mjpeg_read(void *cls, uint64_t pos, char *out, size_t max) {
    mjpeg_client *cl = cls;
    serve_stream *st = cl->st;
    if (cl->pos == cl->len) {
        pthread_mutex_lock(&st->lock);
        if (st->stop) {
            pthread_mutex_unlock(&st->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (st->seq == cl->seq) { /* nothing new: sleep until publish() */
            cl->waiting = true;
            cl->next = st->waiting;
            st->waiting = cl;
            MHD_suspend_connection(cl->c);
            pthread_mutex_unlock(&st->lock);
            return 0;
        }
        bool ok = next_part(cl);
        pthread_mutex_unlock(&st->lock);
        if (!ok) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = EMO_MIN(max, cl->len - cl->pos);
    memcpy(out, cl->buf + cl->pos, n);
    cl->pos += n;
    return (ssize_t)n;
}

static void mjpeg_free(void *cls) {
    mjpeg_client *cl = cls;
    serve_stream *st = cl->st;
    pthread_mutex_lock(&st->lock);
    for (mjpeg_client **p = &st->waiting; *p; p = &(*p)->next)
        if (*p == cl) {
            *p = cl->next;
            break;
        }
    st->clients--;
    pthread_mutex_unlock(&st->lock);
    free(cl->buf);
    free(cl);
}

int serve_stream_answer(server *sv, struct MHD_Connection *c) {
    serve_stream *st = sv->stream;
    pthread_mutex_lock(&st->lock);
    bool ended = st->stop, full = st->clients >= STREAM_MAX_CLIENTS;
    if (!ended && !full) st->clients++;
    pthread_mutex_unlock(&st->lock);
    if (ended) return emo_fail(EMO_EEOF, "the server camera has stopped (see the server's log)");
    if (full) return emo_fail(EMO_ELIMIT, "too many stream viewers (%d)", STREAM_MAX_CLIENTS);
    mjpeg_client *cl = calloc(1, sizeof *cl);
    if (!cl) {
        pthread_mutex_lock(&st->lock);
        st->clients--;
        pthread_mutex_unlock(&st->lock);
        return emo_fail(EMO_ENOMEM, "out of memory");
    }
    cl->st = st;
    cl->c = c;
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 65536, mjpeg_read, cl, mjpeg_free);
    if (!r) {
        mjpeg_free(cl);
        return emo_fail(EMO_ENOMEM, "out of memory");
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "multipart/x-mixed-replace; boundary=" BOUNDARY);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok == MHD_YES ? EMO_OK : emo_fail(EMO_EIO, "cannot answer");
}

void serve_stream_stop(server *sv) {
    serve_stream *st = sv->stream;
    if (st->started) pthread_join(st->thread, NULL);
    st->started = false;
    pthread_mutex_lock(&st->lock);
    st->stop = true;
    for (mjpeg_client *c = st->waiting; c; c = c->next) {
        c->waiting = false;
        MHD_resume_connection(c->c);
    }
    st->waiting = NULL;
    pthread_mutex_unlock(&st->lock);
}

void serve_stream_close(server *sv) {
    serve_stream *st = sv->stream;
    if (!st) return;
    if (st->started) pthread_join(st->thread, NULL);
    emo_camera_close(st->cam);
    free(st->jpeg);
    pthread_mutex_destroy(&st->lock);
    free(st);
    sv->stream = NULL;
}
