/* serve.h — internals of `emo serve`, shared by the files in tools/serve/.
 *
 * Threads: libmicrohttpd runs a small pool of polling threads (one per core,
 * at least 2) that parse requests and answer them; /api/analyze runs the
 * pipeline right in that thread, with a pipeline borrowed from a pool of the
 * same size. Each WebSocket session gets a thread and a pipeline of its own
 * (tracks belong to one client). The server-camera mode (--input) has one
 * producer thread; MJPEG clients wait for its frames suspended, without
 * holding a thread. */
#ifndef EMO_SERVE_H
#define EMO_SERVE_H

#include "emo.h"
#include "internal.h" /* emo_fail: messages through emo_last_error() */
#include "../json.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Documented limits (docs/API.md). */
#define SERVE_MAX_BODY_MB 32
#define SERVE_MAX_VIDEO_MB 512
#define SERVE_MAX_BODY (SERVE_MAX_BODY_MB * 1048576u)   /* bytes in a POST /api/analyze body */
#define SERVE_MAX_VIDEO (SERVE_MAX_VIDEO_MB * 1048576u) /* bytes in a POST /api/video body */
#define SERVE_MAX_PIXELS (25u << 20)    /* pixels in a posted image */
#define SERVE_MAX_FRAME_PIXELS (9u << 20) /* pixels in a live frame (3840x2160 fits) */
#define SERVE_MAX_BUFFERED (256u << 20) /* request body bytes held at once, all requests */
#define SERVE_MAX_WS_MESSAGE (8u << 20) /* bytes in one WebSocket message */
#define SERVE_MAX_SESSIONS 16           /* WebSocket sessions at once */
#define SERVE_MAX_CONNECTIONS 1000      /* HTTP connections at once */
#define SERVE_TIMEOUT_S 30              /* idle HTTP connection */
#define SERVE_WS_IDLE_S 120             /* idle WebSocket session */
#define SERVE_MAX_FACES 64              /* faces reported per image */
#define SERVE_MAX_MODELS 32
/* Live sessions (camera frames, consecutive): full detection every 4th
 * frame, a search around the known faces in between (see emo.h). */
#define SERVE_LIVE_DETECT_EVERY 4
#define EMO_STR_(x) #x
#define EMO_STR(x) EMO_STR_(x)

typedef struct serve_asset {
    const char *path; /* "/", "/app.js" */
    const char *type; /* Content-Type */
    const unsigned char *data, *end; /* bytes [data, end) */
} serve_asset;

/* The embedded page's file for a URL path, or NULL. Only exact matches:
 * nothing is ever read from the filesystem. */
const serve_asset *serve_asset_find(const char *url);

typedef struct serve_model {
    char name[64];    /* file name without .emo; what clients ask for */
    char path[1024];
} serve_model;

/* Settings a client may choose (query parameters of /ws and /api/analyze). */
typedef struct serve_settings {
    int model;        /* index in server.models */
    float smooth;     /* 0 = off, else weight kept from the past, < 1 */
    int detect_every; /* full detection every N frames */
    int min_face;     /* smallest face side searched, pixels (0 = detector default) */
    int neighbors;    /* detector's min_neighbors: higher = fewer, surer faces */
    int photo;        /* 1: still photos (emo_pipeline_params_photo), 0: video */
} serve_settings;

/* A pipeline and what it was opened with. */
typedef struct serve_pipe {
    emo_pipeline *p;
    serve_settings s;
    bool busy;
} serve_pipe;

typedef struct server {
    /* Options. */
    const char *host;
    int port;
    int threads;     /* pipeline threads per WebSocket session, video job, server camera */
    emo_precision precision; /* of every pipeline's classifier (--precision) */
    int workers;     /* HTTP polling threads = analyze pipelines */
    const char *input;  /* --input video or --camera device, NULL = none */
    bool quiet;
    bool loopback;   /* bound to a loopback address: check Host and Origin */

    struct MHD_Daemon *daemon;
    serve_model models[SERVE_MAX_MODELS];
    int nmodels, default_model;
    char classes[EMO_PIPELINE_MAX_CLASSES][32]; /* the default model's, in its order */
    int nclasses;
    double started; /* monotonic seconds */

    /* Pipelines for /api/analyze. */
    pthread_mutex_t pool_lock;
    pthread_cond_t pool_cond;
    serve_pipe *pool;
    int npool;

    /* WebSocket sessions. */
    pthread_mutex_t session_lock;
    pthread_cond_t session_cond;
    int sessions;

    atomic_bool stopping;
    atomic_ullong frames;   /* frames analysed, all paths */
    atomic_ullong requests; /* HTTP requests answered */
    atomic_ullong buffered; /* bytes of /api/analyze bodies held now (<= SERVE_MAX_BUFFERED) */

    struct serve_stream *stream; /* --input/--camera, or NULL */
    struct serve_jobs *jobs;     /* uploaded videos, made on first use */
} server;

double serve_now(void); /* monotonic seconds */

/* Reads settings from the request's query (model, smooth, detect_every,
 * min_face, neighbors), starting from the defaults. false with a message in err when a
 * value is malformed or the model is unknown. */
bool serve_settings_parse(server *sv, struct MHD_Connection *c, serve_settings *s, char *err, size_t errn);
/* Opens a pipeline for the settings, with `threads` pipeline threads. */
int serve_pipe_open(server *sv, const serve_settings *s, int threads, emo_pipeline **out);

/* Decodes an encoded JPEG/PNG into RGB after checking its declared size
 * against max_pixels (so a tiny file cannot ask for gigabytes).
 * Returns an emo_status; the message is in emo_last_error(). */
int serve_decode(const uint8_t *bytes, size_t n, uint64_t max_pixels, emo_image *rgb);

/* Runs the pipeline on a frame and writes the `emo image --json` object
 * (name may be NULL: no "image" member is written then, for the stream). */
int serve_analyze(emo_pipeline *p, const emo_image *rgb, const char *name, json_buf *out, emo_face *faces,
                  int cap);

/* WebSocket sessions (session.c): called from the upgrade handler. */
int serve_session_start(server *sv, const serve_settings *s, int sock, const char *extra, size_t nextra,
                        struct MHD_UpgradeResponseHandle *urh);
/* Waits for every session to end (after `stopping` is set). */
void serve_sessions_wait(server *sv);

/* Server-camera stream (stream.c). */
int serve_stream_open(server *sv, const char *input);
/* Answers GET /stream.mjpg: a multipart/x-mixed-replace MJPEG stream. */
int serve_stream_answer(server *sv, struct MHD_Connection *c);
/* Stops the producer and resumes every waiting client so MHD can stop. */
void serve_stream_stop(server *sv);
void serve_stream_close(server *sv);

/* Uploaded videos (jobs.c). create: EMO_EAGAIN when a video is being
 * processed already. The upload is written with serve_job_write, then
 * serve_job_start processes it in a thread (or serve_job_abort drops it). */
typedef struct serve_job serve_job;
int serve_job_create(server *sv, const serve_settings *s, serve_job **out);
int serve_job_write(serve_job *j, const void *data, size_t n);
int serve_job_start(server *sv, serve_job *j);
void serve_job_abort(server *sv, serve_job *j);
const char *serve_job_id(const serve_job *j);
/* Answers GET /api/jobs/<rest>: an HTTP status and *r, or 0 for not found. */
unsigned serve_job_answer(server *sv, const char *rest, struct MHD_Response **r);
void serve_jobs_close(server *sv);

#endif
