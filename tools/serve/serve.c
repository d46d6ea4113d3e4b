/* serve.c — `emo serve`: the web demo and JSON API on an embedded
 * libmicrohttpd server. Routes, limits and the request life cycle are here;
 * WebSocket sessions are in session.c, the server-camera stream in stream.c,
 * the page in web/ (embedded by assets.c). The protocol is in docs/API.md. */
#include "serve.h"
#include "../cli.h"
#include "../commands.h"
#include "ws.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

double serve_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* ---- Images ------------------------------------------------------------ */

/* Declared size of a JPEG (first SOF marker) or PNG (IHDR) without decoding. */
static bool probe_size(const uint8_t *b, size_t n, int *w, int *h) {
    if (n >= 24 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0 && memcmp(b + 12, "IHDR", 4) == 0) {
        uint32_t W = (uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 | (uint32_t)b[18] << 8 | b[19];
        uint32_t H = (uint32_t)b[20] << 24 | (uint32_t)b[21] << 16 | (uint32_t)b[22] << 8 | b[23];
        if (W > 0x7FFFFFFF || H > 0x7FFFFFFF) return false;
        *w = (int)W, *h = (int)H;
        return true;
    }
    if (n < 4 || b[0] != 0xFF || b[1] != 0xD8) return false;
    size_t i = 2;
    while (i + 4 <= n) {
        if (b[i] != 0xFF) return false;
        int m = b[i + 1];
        if (m == 0xFF) { /* fill byte */
            i++;
            continue;
        }
        if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { /* no length */
            i += 2;
            continue;
        }
        size_t len = (size_t)b[i + 2] << 8 | b[i + 3];
        if (len < 2) return false;
        bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
        if (sof) {
            if (i + 9 > n || len < 7) return false;
            *h = b[i + 5] << 8 | b[i + 6];
            *w = b[i + 7] << 8 | b[i + 8];
            return true;
        }
        if (m == 0xDA || m == 0xD9) return false; /* scan before any frame header */
        i += 2 + len;
    }
    return false;
}

int serve_decode(const uint8_t *bytes, size_t n, uint64_t max_pixels, emo_image *rgb) {
    emo_image_format fmt = emo_image_sniff(bytes, n);
    if (fmt == EMO_FORMAT_UNKNOWN)
        return emo_fail(EMO_EUNSUPPORTED, "not a JPEG or PNG image (%zu bytes)", n);
    int w = 0, h = 0;
    if (!probe_size(bytes, n, &w, &h))
        return emo_fail(EMO_EFORMAT, "truncated or malformed %s header", fmt == EMO_FORMAT_JPEG ? "JPEG" : "PNG");
    if (w <= 0 || h <= 0) return emo_fail(EMO_EFORMAT, "image declares a size of %dx%d", w, h);
    if ((uint64_t)w * (uint64_t)h > max_pixels)
        return emo_fail(EMO_ELIMIT, "image is %dx%d, above the limit of %llu pixels", w, h,
                        (unsigned long long)max_pixels);
    return emo_image_decode(rgb, bytes, n, 3);
}

int serve_analyze(emo_pipeline *p, const emo_image *rgb, const char *name, json_buf *out, emo_face *faces,
                  int cap) {
    int n = emo_pipeline_process(p, rgb, faces, cap);
    if (n < 0) return n;
    const char *const *names = NULL;
    int nc = emo_pipeline_classes(p, &names);
    json_begin_image(out, name, rgb->width, rgb->height);
    for (int i = 0; i < n; i++) json_face(out, &faces[i], names, nc, true);
    json_end_image(out);
    return out->failed ? emo_fail(EMO_ENOMEM, "out of memory writing JSON") : n;
}

/* ---- Models and settings ----------------------------------------------- */

static void add_model(server *sv, const char *name, size_t namelen, const char *path) {
    if (sv->nmodels >= SERVE_MAX_MODELS || namelen == 0 || namelen >= sizeof sv->models[0].name) return;
    for (int i = 0; i < sv->nmodels; i++)
        if (strlen(sv->models[i].name) == namelen && memcmp(sv->models[i].name, name, namelen) == 0) return;
    serve_model *m = &sv->models[sv->nmodels++];
    memcpy(m->name, name, namelen);
    m->name[namelen] = 0;
    snprintf(m->path, sizeof m->path, "%s", path);
}

static void add_model_path(server *sv, const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len > 4 && strcmp(base + len - 4, ".emo") == 0) len -= 4;
    add_model(sv, base, len, path);
}

/* Every *.emo in dir, sorted by name so the list is stable. */
static void scan_models(server *sv, const char *dir) {
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    if (n < 0) return;
    for (int i = 0; i < n; i++) {
        const char *f = list[i]->d_name;
        size_t len = strlen(f);
        if (len > 4 && strcmp(f + len - 4, ".emo") == 0 && f[0] != '.') {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", dir, f);
            add_model_path(sv, path);
        }
        free(list[i]);
    }
    free(list);
}

static bool parse_float(const char *v, float lo, float hi, float *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi)) return false;
    *out = (float)x;
    return true;
}

static bool parse_int(const char *v, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) return false;
    *out = (int)x;
    return true;
}

bool serve_settings_parse(server *sv, struct MHD_Connection *c, serve_settings *s, char *err, size_t errn) {
    emo_pipeline_params d = emo_pipeline_params_default();
    *s = (serve_settings){.model = sv->default_model, .smooth = d.smooth, .detect_every = SERVE_LIVE_DETECT_EVERY,
                          .min_face = d.detect.min_size, .neighbors = d.detect.min_neighbors};
    const char *v;
    if ((v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "model")) && *v) {
        int i = 0;
        while (i < sv->nmodels && strcmp(sv->models[i].name, v) != 0) i++;
        if (i == sv->nmodels) {
            snprintf(err, errn, "unknown model '%.64s' (GET /api/models lists them)", v);
            return false;
        }
        s->model = i;
    }
    if ((v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "smooth")) && !parse_float(v, 0, 0.99f, &s->smooth)) {
        snprintf(err, errn, "smooth wants a number in [0, 0.99], got '%.32s'", v);
        return false;
    }
    if ((v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "detect_every")) &&
        !parse_int(v, 1, 30, &s->detect_every)) {
        snprintf(err, errn, "detect_every wants an integer in [1, 30], got '%.32s'", v);
        return false;
    }
    if ((v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "min_face")) &&
        !parse_int(v, 0, 4096, &s->min_face)) {
        snprintf(err, errn, "min_face wants pixels in [0, 4096], got '%.32s'", v);
        return false;
    }
    if ((v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "neighbors")) &&
        !parse_int(v, 0, 50, &s->neighbors)) {
        snprintf(err, errn, "neighbors wants an integer in [0, 50], got '%.32s'", v);
        return false;
    }
    return true;
}

static emo_pipeline_params pipe_params(server *sv, const serve_settings *s, int threads) {
    emo_pipeline_params pp = s->photo ? emo_pipeline_params_photo() : emo_pipeline_params_default();
    pp.model = sv->models[s->model].path;
    pp.smooth = s->smooth;
    pp.detect_every = s->detect_every;
    pp.threads = threads;
    pp.precision = sv->precision;
    if (s->min_face > 0) pp.detect.min_size = s->min_face;
    pp.detect.min_neighbors = s->neighbors;
    return pp;
}

int serve_pipe_open(server *sv, const serve_settings *s, int threads, emo_pipeline **out) {
    emo_pipeline_params pp = pipe_params(sv, s, threads);
    return emo_pipeline_open(out, &pp);
}

/* Pipelines for /api/analyze: each image is analysed on its own (tracks
 * reset), so only the model and the detector settings matter. */
static serve_pipe *pool_acquire(server *sv, const serve_settings *want) {
    serve_settings s = *want;
    s.smooth = 0;
    s.detect_every = 1;
    s.photo = 1;
    pthread_mutex_lock(&sv->pool_lock);
    serve_pipe *got = NULL;
    while (!got && !atomic_load(&sv->stopping)) {
        for (int i = 0; i < sv->npool && !got; i++)
            if (!sv->pool[i].busy && sv->pool[i].p && memcmp(&sv->pool[i].s, &s, sizeof s) == 0) got = &sv->pool[i];
        for (int i = 0; i < sv->npool && !got; i++)
            if (!sv->pool[i].busy) got = &sv->pool[i];
        if (!got) pthread_cond_wait(&sv->pool_cond, &sv->pool_lock);
    }
    if (got) got->busy = true;
    pthread_mutex_unlock(&sv->pool_lock);
    if (!got) return NULL;
    if (got->p && got->s.model == s.model && memcmp(&got->s, &s, sizeof s) != 0) {
        /* Same model, other detector settings: no need to load it again. */
        emo_pipeline_params pp = pipe_params(sv, &s, 1);
        if (emo_pipeline_set(got->p, &pp) == EMO_OK) got->s = s;
    }
    if (!got->p || memcmp(&got->s, &s, sizeof s) != 0) {
        emo_pipeline_close(got->p);
        got->p = NULL;
        if (serve_pipe_open(sv, &s, 1, &got->p) != EMO_OK) got->p = NULL;
        got->s = s;
    }
    return got;
}

static void pool_release(server *sv, serve_pipe *sp) {
    pthread_mutex_lock(&sv->pool_lock);
    sp->busy = false;
    pthread_cond_signal(&sv->pool_cond);
    pthread_mutex_unlock(&sv->pool_lock);
}

/* ---- Responses ---------------------------------------------------------- */

static enum MHD_Result send_bytes(struct MHD_Connection *c, unsigned status, const char *type, const void *data,
                                  size_t n, enum MHD_ResponseMemoryMode mode) {
    struct MHD_Response *r = MHD_create_response_from_buffer(n, (void *)data, mode);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    if (strncmp(type, "text/html", 9) == 0) {
        /* The page loads nothing from elsewhere and talks only to us. */
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                                "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'");
        MHD_add_response_header(r, "X-Frame-Options", "DENY");
    }
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD, POST");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, const json_buf *j) {
    if (j->failed) return MHD_NO;
    return send_bytes(c, status, "application/json", j->data, j->len, MHD_RESPMEM_MUST_COPY);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg) {
    json_buf j = {0};
    json_lit(&j, "{\"error\":");
    json_str(&j, msg);
    json_printf(&j, ",\"status\":%u}", status);
    enum MHD_Result r = send_json(c, status, &j);
    json_free(&j);
    return r;
}

/* ---- Request guards ----------------------------------------------------- */

static bool loopback_name(const char *h, size_t n) {
    if (n == 9 && strncasecmp(h, "localhost", 9) == 0) return true;
    if (n == 5 && memcmp(h, "[::1]", 5) == 0) return true;
    char buf[64];
    if (n >= sizeof buf) return false;
    memcpy(buf, h, n);
    buf[n] = 0;
    struct in_addr a;
    return inet_pton(AF_INET, buf, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

/* host[:port] -> length of the host part. */
static size_t host_len(const char *h) {
    if (h[0] == '[') {
        const char *e = strchr(h, ']');
        return e ? (size_t)(e - h) + 1 : strlen(h);
    }
    const char *e = strchr(h, ':');
    return e ? (size_t)(e - h) : strlen(h);
}

/* A server bound to loopback answers only requests addressed to a loopback
 * name (against DNS rebinding: a web page whose name suddenly points to
 * 127.0.0.1), and from pages served by a loopback origin (against other
 * sites' scripts posting to us or opening our WebSocket). */
static const char *request_refused(server *sv, struct MHD_Connection *c) {
    if (!sv->loopback) return NULL;
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (host && !loopback_name(host, host_len(host))) return "Host is not a loopback name; this server is local";
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (origin) {
        const char *p = strstr(origin, "://");
        if (!p || !loopback_name(p + 3, host_len(p + 3))) return "requests from other sites' pages are refused";
    }
    return NULL;
}

/* ---- Routes ------------------------------------------------------------- */

enum route { ROUTE_GET = 1, ROUTE_ANALYZE, ROUTE_VIDEO, ROUTE_DONE };

typedef struct request {
    enum route route;
    uint8_t *body;
    size_t len, cap;
    size_t reserved; /* bytes counted in server.buffered for this body */
    serve_settings s;
    serve_job *job; /* ROUTE_VIDEO: the job being uploaded, until started */
} request;

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = -1;
    fclose(f);
    return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static enum MHD_Result answer_health(server *sv, struct MHD_Connection *c) {
    json_buf j = {0};
    pthread_mutex_lock(&sv->session_lock);
    int sessions = sv->sessions;
    pthread_mutex_unlock(&sv->session_lock);
    json_printf(&j,
                "{\"status\":\"ok\",\"version\":\"%s\",\"uptime_s\":%.1f,\"frames\":%llu,\"requests\":%llu,"
                "\"sessions\":%d,\"workers\":%d,\"stream\":%s,\"rss_kb\":%ld}",
                emo_version(), serve_now() - sv->started, (unsigned long long)atomic_load(&sv->frames),
                (unsigned long long)atomic_load(&sv->requests), sessions, sv->workers,
                sv->stream ? "true" : "false", rss_kb());
    enum MHD_Result r = send_json(c, MHD_HTTP_OK, &j);
    json_free(&j);
    return r;
}

static enum MHD_Result answer_models(server *sv, struct MHD_Connection *c) {
    json_buf j = {0};
    json_lit(&j, "{\"default\":");
    json_str(&j, sv->models[sv->default_model].name);
    json_lit(&j, ",\"classes\":[");
    for (int i = 0; i < sv->nclasses; i++) json_sep(&j), json_str(&j, sv->classes[i]);
    /* Each class's colour and emoji, from the table the drawer uses for the
     * MP4s, annotated images and plots: the page keeps none of its own. */
    json_lit(&j, "],\"colours\":{");
    for (int i = 0; i < sv->nclasses; i++) {
        json_sep(&j);
        json_str(&j, sv->classes[i]);
        json_printf(&j, ":\"#%06X\"", (unsigned)emo_draw_class_colour(sv->classes[i]));
    }
    json_lit(&j, "},\"emoji\":{");
    for (int i = 0; i < sv->nclasses; i++) {
        uint32_t cp = emo_draw_class_emoji(sv->classes[i]);
        char u[5] = {0};
        if (cp >= 0x10000 && cp < 0x110000)
            u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 63)), u[2] = (char)(0x80 | (cp >> 6 & 63)),
            u[3] = (char)(0x80 | (cp & 63));
        else if (cp >= 0x800 && cp < 0x10000)
            u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 63)), u[2] = (char)(0x80 | (cp & 63));
        json_sep(&j);
        json_str(&j, sv->classes[i]);
        json_lit(&j, ":");
        json_str(&j, u);
    }
    json_lit(&j, "},\"models\":[");
    for (int i = 0; i < sv->nmodels; i++) {
        json_sep(&j);
        json_lit(&j, "{\"name\":");
        json_str(&j, sv->models[i].name);
        json_lit(&j, "}");
    }
    emo_pipeline_params d = emo_pipeline_params_default();
    json_printf(&j, "],\"settings\":{\"smooth\":%.2f,\"detect_every\":%d,\"min_face\":%d,\"neighbors\":%d}}", d.smooth,
                SERVE_LIVE_DETECT_EVERY, d.detect.min_size, d.detect.min_neighbors);
    enum MHD_Result r = send_json(c, MHD_HTTP_OK, &j);
    json_free(&j);
    return r;
}

static enum MHD_Result answer_asset(struct MHD_Connection *c, const serve_asset *a) {
    return send_bytes(c, MHD_HTTP_OK, a->type, a->data, (size_t)(a->end - a->data), MHD_RESPMEM_PERSISTENT);
}

static void on_upgrade(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra, size_t nextra,
                       MHD_socket sock, struct MHD_UpgradeResponseHandle *urh) {
    server *sv = cls;
    request *rq = con_cls;
    if (serve_session_start(sv, &rq->s, sock, extra, nextra, urh) != EMO_OK)
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

/* Does the comma-separated header value list contain token (any case)? */
static bool has_token(const char *list, const char *token) {
    size_t n = strlen(token);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == ',' || *p == '\t') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t')) t--;
        if ((size_t)(t - p) == n && strncasecmp(p, token, n) == 0) return true;
        p = e;
    }
    return false;
}

static enum MHD_Result answer_websocket(server *sv, struct MHD_Connection *c, request *rq) {
    const char *upgrade = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_UPGRADE);
    const char *conn = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONNECTION);
    const char *version = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Version");
    const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Key");
    if (!upgrade || strcasecmp(upgrade, "websocket") != 0 || !has_token(conn, "upgrade"))
        return send_error(c, MHD_HTTP_BAD_REQUEST, "/ws is a WebSocket: send Upgrade: websocket");
    if (!version || strcmp(version, "13") != 0) {
        struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (!r) return MHD_NO;
        MHD_add_response_header(r, "Sec-WebSocket-Version", "13");
        enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_UPGRADE_REQUIRED, r);
        MHD_destroy_response(r);
        return ok;
    }
    char accept[29];
    if (!ws_accept_key(key, accept)) return send_error(c, MHD_HTTP_BAD_REQUEST, "bad Sec-WebSocket-Key");
    char err[160];
    if (!serve_settings_parse(sv, c, &rq->s, err, sizeof err)) return send_error(c, MHD_HTTP_BAD_REQUEST, err);
    pthread_mutex_lock(&sv->session_lock);
    int n = sv->sessions;
    pthread_mutex_unlock(&sv->session_lock);
    if (n >= SERVE_MAX_SESSIONS) return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "too many live sessions");
    struct MHD_Response *r = MHD_create_response_for_upgrade(on_upgrade, sv);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "websocket");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "Upgrade");
    MHD_add_response_header(r, "Sec-WebSocket-Accept", accept);
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result answer_analyze(server *sv, struct MHD_Connection *c, request *rq) {
    if (rq->len == 0) return send_error(c, MHD_HTTP_BAD_REQUEST, "empty body: POST a JPEG or PNG image");
    const char *name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "name");
    emo_image rgb = {0};
    int st = serve_decode(rq->body, rq->len, SERVE_MAX_PIXELS, &rgb);
    if (st != EMO_OK) {
        unsigned code = st == EMO_EUNSUPPORTED ? MHD_HTTP_UNSUPPORTED_MEDIA_TYPE
                        : st == EMO_ELIMIT     ? MHD_HTTP_CONTENT_TOO_LARGE
                        : st == EMO_ENOMEM     ? MHD_HTTP_SERVICE_UNAVAILABLE
                                               : MHD_HTTP_BAD_REQUEST;
        enum MHD_Result r = send_error(c, code, emo_last_error());
        emo_image_free(&rgb);
        return r;
    }
    serve_pipe *sp = pool_acquire(sv, &rq->s);
    if (!sp) {
        emo_image_free(&rgb);
        return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "server is stopping");
    }
    json_buf j = {0};
    enum MHD_Result r;
    if (!sp->p) {
        r = send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, emo_last_error());
    } else {
        emo_face faces[SERVE_MAX_FACES];
        emo_pipeline_reset(sp->p);
        st = serve_analyze(sp->p, &rgb, name && *name ? name : "upload", &j, faces, SERVE_MAX_FACES);
        atomic_fetch_add(&sv->frames, 1);
        r = st < 0 ? send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, emo_last_error()) : send_json(c, MHD_HTTP_OK, &j);
    }
    pool_release(sv, sp);
    json_free(&j);
    emo_image_free(&rgb);
    return r;
}

/* A chunked body that grows past a limit. libmicrohttpd 0.9 cannot queue a
 * response while a body is coming in, so the answer is written to the
 * socket here, the sending side shut, and the connection dropped (MHD_NO). */
static enum MHD_Result refuse_midway(struct MHD_Connection *c, unsigned status, const char *why) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return MHD_NO;
    char msg[256];
    int body = snprintf(msg, sizeof msg, "{\"error\":\"%s\",\"status\":%u}", why, status);
    char head[192];
    int hn = snprintf(head, sizeof head,
                      "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\n"
                      "Connection: close\r\nContent-Length: %d\r\n\r\n",
                      status, status == MHD_HTTP_CONTENT_TOO_LARGE ? "Content Too Large" : "Service Unavailable", body);
    if (send(ci->connect_fd, head, (size_t)hn, MSG_NOSIGNAL | MSG_DONTWAIT) == hn)
        send(ci->connect_fd, msg, (size_t)body, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(ci->connect_fd, SHUT_WR);
    return MHD_NO;
}

/* Counts n more body bytes against SERVE_MAX_BUFFERED; false if over. */
static bool reserve(server *sv, request *rq, uint64_t n) {
    unsigned long long cur = atomic_load(&sv->buffered);
    do {
        if (n > SERVE_MAX_BUFFERED || cur + n > SERVE_MAX_BUFFERED) return false;
    } while (!atomic_compare_exchange_weak(&sv->buffered, &cur, cur + n));
    rq->reserved += (size_t)n;
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    server *sv = cls;
    request *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        if (!rq) return MHD_NO;
        *con_cls = rq;
        atomic_fetch_add(&sv->requests, 1);
        rq->route = ROUTE_DONE;
        const char *why = request_refused(sv, c);
        if (why) return send_error(c, MHD_HTTP_FORBIDDEN, why);
        bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
        if (strcmp(url, "/api/analyze") == 0) {
            if (strcmp(method, "POST") != 0) return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST an image");
            /* Refuse a declared oversize body before reading any of it. */
            const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
            if (cl && strtoull(cl, NULL, 10) > SERVE_MAX_BODY) {
                char msg[96];
                snprintf(msg, sizeof msg, "body above the limit of %u bytes", SERVE_MAX_BODY);
                return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, msg);
            }
            char err[160];
            if (!serve_settings_parse(sv, c, &rq->s, err, sizeof err)) return send_error(c, MHD_HTTP_BAD_REQUEST, err);
            /* Bodies held at once are bounded too (1000 connections x 32 MiB
             * would be 32 GB): a declared length is reserved now. */
            if (cl && !reserve(sv, rq, strtoull(cl, NULL, 10)))
                return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "server busy: too many uploads at once");
            rq->route = ROUTE_ANALYZE;
            return MHD_YES;
        }
        if (strcmp(url, "/api/video") == 0) {
            if (strcmp(method, "POST") != 0) return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST a video");
            const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
            if (cl && strtoull(cl, NULL, 10) > SERVE_MAX_VIDEO) {
                char msg[96];
                snprintf(msg, sizeof msg, "video above the limit of %u bytes", SERVE_MAX_VIDEO);
                return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, msg);
            }
            char err[160];
            if (!serve_settings_parse(sv, c, &rq->s, err, sizeof err)) return send_error(c, MHD_HTTP_BAD_REQUEST, err);
            int st = serve_job_create(sv, &rq->s, &rq->job);
            if (st != EMO_OK)
                return send_error(c, st == EMO_EAGAIN ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_INTERNAL_SERVER_ERROR,
                                  emo_last_error());
            rq->route = ROUTE_VIDEO;
            return MHD_YES;
        }
        if (!get) return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD here");
        /* Answered on the next call: a response queued before the (empty)
         * body is read makes libmicrohttpd 0.9 close the connection. */
        rq->route = ROUTE_GET;
        return MHD_YES;
    }
    if (rq->route == ROUTE_GET) {
        if (*upload_size) return MHD_NO; /* a GET with a body: drop the connection */
        rq->route = ROUTE_DONE;
        if (strcmp(url, "/api/health") == 0) return answer_health(sv, c);
        if (strcmp(url, "/api/models") == 0) return answer_models(sv, c);
        if (strcmp(url, "/ws") == 0) return answer_websocket(sv, c, rq);
        if (strcmp(url, "/stream.mjpg") == 0) {
            if (!sv->stream) return send_error(c, MHD_HTTP_NOT_FOUND, "no server camera: start with --input or --camera");
            if (serve_stream_answer(sv, c) != EMO_OK) return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, emo_last_error());
            return MHD_YES;
        }
        if (strncmp(url, "/api/jobs/", 10) == 0) {
            struct MHD_Response *r;
            unsigned code = serve_job_answer(sv, url + 10, &r);
            if (!code) return send_error(c, MHD_HTTP_NOT_FOUND, "no such job");
            MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
            MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
            enum MHD_Result ok = MHD_queue_response(c, code, r);
            MHD_destroy_response(r);
            return ok;
        }
        const serve_asset *a = serve_asset_find(url);
        if (a) return answer_asset(c, a);
        return send_error(c, MHD_HTTP_NOT_FOUND, "not found");
    }
    if (rq->route == ROUTE_VIDEO) {
        if (*upload_size) {
            size_t n = *upload_size;
            *upload_size = 0;
            rq->len += n;
            if (rq->len > SERVE_MAX_VIDEO) /* on_completed aborts the job */
                return refuse_midway(c, MHD_HTTP_CONTENT_TOO_LARGE, "video above the limit of " EMO_STR(SERVE_MAX_VIDEO_MB) " MiB");
            return serve_job_write(rq->job, upload, n) == EMO_OK ? MHD_YES : MHD_NO;
        }
        rq->route = ROUTE_DONE;
        serve_job *j = rq->job;
        rq->job = NULL;
        if (rq->len == 0) {
            serve_job_abort(sv, j);
            return send_error(c, MHD_HTTP_BAD_REQUEST, "empty body: POST a video file");
        }
        if (serve_job_start(sv, j) != EMO_OK) return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, emo_last_error());
        json_buf b = {0};
        json_printf(&b, "{\"job\":\"%s\",\"status\":\"/api/jobs/%s\"}", serve_job_id(j), serve_job_id(j));
        enum MHD_Result r = send_json(c, MHD_HTTP_ACCEPTED, &b);
        json_free(&b);
        return r;
    }
    if (rq->route != ROUTE_ANALYZE) return MHD_NO;
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (rq->len + n > SERVE_MAX_BODY)
            return refuse_midway(c, MHD_HTTP_CONTENT_TOO_LARGE, "body above the limit of " EMO_STR(SERVE_MAX_BODY_MB) " MiB");
        if (rq->len + n > rq->reserved && !reserve(sv, rq, rq->len + n - rq->reserved))
            return refuse_midway(c, MHD_HTTP_SERVICE_UNAVAILABLE, "server busy: too many uploads at once");
        if (rq->len + n > rq->cap) {
            size_t cap = rq->cap ? rq->cap : 65536;
            while (cap < rq->len + n) cap *= 2;
            uint8_t *b = realloc(rq->body, cap);
            if (!b) return MHD_NO;
            rq->body = b;
            rq->cap = cap;
        }
        memcpy(rq->body + rq->len, upload, n);
        rq->len += n;
        return MHD_YES;
    }
    rq->route = ROUTE_DONE;
    return answer_analyze(sv, c, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    server *sv = cls;
    request *rq = *con_cls;
    if (!rq) return;
    if (rq->job) serve_job_abort(sv, rq->job); /* the upload broke off */
    if (rq->reserved) atomic_fetch_sub(&sv->buffered, rq->reserved);
    free(rq->body);
    free(rq);
    *con_cls = NULL;
}

/* ---- The command --------------------------------------------------------- */

/* The listening socket, made here rather than by libmicrohttpd so that a
 * port in use gets one clear line from us instead of its raw bind message.
 * Returns the socket, or -1 having printed why. */
static int listen_socket(const struct sockaddr_storage *addr, socklen_t len, const char *host, int port) {
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "emo serve: cannot make a socket: %s\n", strerror(errno));
        return -1;
    }
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (addr->ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    if (bind(fd, (const struct sockaddr *)addr, len) != 0 || listen(fd, 128) != 0) {
        int e = errno;
        close(fd);
        if (e == EADDRINUSE)
            fprintf(stderr, "emo serve: port %d is already in use on %s (another emo serve?): stop that one, or choose "
                            "another port with --port N (--port 0 picks a free one)\n", port, host);
        else if (e == EACCES)
            fprintf(stderr, "emo serve: port %d on %s needs root (ports below 1024): use --port 2000 or above\n", port,
                    host);
        else if (e == EADDRNOTAVAIL)
            fprintf(stderr, "emo serve: %s is not an address of this machine (--host 127.0.0.1 or 0.0.0.0)\n", host);
        else
            fprintf(stderr, "emo serve: cannot listen on %s port %d: %s\n", host, port, strerror(e));
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static const char about[] =
    "Serves the live demo page and the JSON API (docs/API.md) on http://HOST:PORT/.\n"
    "The page shows the browser's camera with an emoji and a probability chart over\n"
    "each face; photos and videos can be dropped on it. Binds 127.0.0.1 by default:\n"
    "nothing leaves this machine. --input or --camera streams the server's own\n"
    "annotated frames to the page as MJPEG (server-camera mode, for kiosks and\n"
    "headless devices). Stops cleanly on Ctrl-C or SIGTERM.";

int cmd_serve(int argc, char **argv) {
    const char *host = "127.0.0.1", *model = NULL, *input = NULL, *camera = NULL, *precision = "auto";
    /* One pipeline thread per live session by default: sessions, HTTP
     * workers and jobs already run side by side, and on a busy 2-core
     * machine a 2-thread pipeline waited on its second thread (measured:
     * 9 frames/s and p99 400 ms against 95 frames/s and p99 33 ms). */
    int port = 2000, threads = 1, workers = 0;
    bool quiet = false;
    const cli_opt opts[] = {
        {"host", 0, "ADDR", "address to listen on (default 127.0.0.1; 0.0.0.0 = every interface)", .out_str = &host},
        {"port", 'p', "N", "port (default 2000; 0 = any free port)", .out_int = &port},
        {"model", 'm', "M", "model: .emo path or short name (default ferplus); the .emo files beside it are offered too",
         .out_str = &model},
        {"threads", 't', "N", "pipeline threads per live session and video job (default 1; 0 = all cores)",
         .out_int = &threads},
        {"workers", 0, "N", "HTTP threads and /api/analyze pipelines (default: cores, at least 2)", .out_int = &workers},
        CLI_PRECISION_OPT(&precision),
        {"input", 'i', "VIDEO", "server-camera mode: stream this video's annotated frames as MJPEG", .out_str = &input},
        {"camera", 0, "DEVICE", "server-camera mode from a camera device (/dev/video0)", .out_str = &camera},
        {"quiet", 'q', NULL, "print only the URL", .out_flag = &quiet},
        {0},
    };
    int npos, r = cli_parse(argc, argv, opts, "[OPTIONS]", about, &npos);
    if (r) return r == 1 ? 0 : r;
    if (npos != 0) {
        cli_usage(stderr, argv[0], opts, "[OPTIONS]", NULL);
        return 2;
    }
    if (port < 0 || port > 65535) {
        fprintf(stderr, "emo serve: --port wants 0..65535, got %d\n", port);
        return 2;
    }
    if (threads < 0 || threads > 256 || workers < 0 || workers > 64) {
        fprintf(stderr, "emo serve: --threads wants 0..256 and --workers 0..64\n");
        return 2;
    }
    if (input && camera) {
        fprintf(stderr, "emo serve: give --input or --camera, not both\n");
        return 2;
    }
    if (camera) input = camera;
    emo_precision prec;
    if (cli_precision("serve", precision, &prec)) return 2;

    server *sv = calloc(1, sizeof *sv);
    if (!sv) return cli_error("serve", "out of memory");
    sv->host = host;
    sv->port = port;
    sv->threads = threads;
    sv->precision = prec;
    sv->quiet = quiet;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    sv->workers = workers ? workers : (int)EMO_MAX(2, EMO_MIN(cores, 8));
    pthread_mutex_init(&sv->pool_lock, NULL);
    pthread_cond_init(&sv->pool_cond, NULL);
    pthread_mutex_init(&sv->session_lock, NULL);
    pthread_cond_init(&sv->session_cond, NULL);
    int status = 1;

    /* The address: loopback unless asked otherwise. */
    struct sockaddr_storage addr = {0};
    socklen_t addrlen;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
    bool v6 = false;
    if (strcmp(host, "localhost") == 0) host = sv->host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        addrlen = sizeof *a4;
        sv->loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        addrlen = sizeof *a6;
        v6 = true;
        sv->loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
    } else {
        fprintf(stderr, "emo serve: --host wants an IP address (127.0.0.1, ::1, 0.0.0.0), got '%s'\n", host);
        free(sv);
        return 2;
    }

    /* Models: the one asked for (path or short name) or the shipped one,
     * then every other .emo beside it, in ./models and in $EMO_MODEL_DIR.
     * Clients choose among these by name, never by path. */
    char path[1024];
    if (emo_default_model_path(model ? model : EMO_DEFAULT_MODEL, path, sizeof path) != EMO_OK) {
        cli_error("serve", "no model");
        goto done;
    }
    add_model_path(sv, path);
    sv->default_model = 0;
    char *slash = strrchr(path, '/');
    if (slash) *slash = 0;
    scan_models(sv, slash ? path : ".");
    scan_models(sv, "models");
    const char *env = getenv("EMO_MODEL_DIR");
    if (env && *env) scan_models(sv, env);

    /* One pipeline per HTTP thread, opened now so a bad model fails here. */
    sv->pool = calloc((size_t)sv->workers, sizeof *sv->pool);
    if (!sv->pool) {
        cli_error("serve", "out of memory");
        goto done;
    }
    sv->npool = sv->workers;
    /* As serve_settings_parse's defaults after pool_acquire's normalisation. */
    serve_settings defaults = {.model = sv->default_model, .smooth = 0, .detect_every = 1, .photo = 1,
                               .min_face = emo_pipeline_params_default().detect.min_size,
                               .neighbors = emo_pipeline_params_default().detect.min_neighbors};
    for (int i = 0; i < sv->npool; i++) {
        sv->pool[i].s = defaults;
        if (serve_pipe_open(sv, &defaults, 1, &sv->pool[i].p) != EMO_OK) {
            cli_error("serve", "cannot open the pipeline");
            goto done;
        }
    }
    const char *const *names = NULL;
    sv->nclasses = emo_pipeline_classes(sv->pool[0].p, &names);
    for (int i = 0; i < sv->nclasses && i < EMO_PIPELINE_MAX_CLASSES; i++)
        snprintf(sv->classes[i], sizeof sv->classes[i], "%s", names[i]);

    if (input && serve_stream_open(sv, input) != EMO_OK) {
        cli_error("serve", "cannot open %s", input);
        goto done;
    }

    /* Signals go to this thread's sigwait only: block them before MHD
     * starts its threads, which inherit the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    sv->started = serve_now();
    int lfd = listen_socket(&addr, addrlen, host, port);
    if (lfd < 0) goto done;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_UPGRADE | MHD_ALLOW_SUSPEND_RESUME |
                     (v6 ? MHD_USE_IPv6 : 0) | (quiet ? 0 : MHD_USE_ERROR_LOG);
    sv->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, sv, MHD_OPTION_LISTEN_SOCKET, lfd,
                                  MHD_OPTION_THREAD_POOL_SIZE, (unsigned)sv->workers, MHD_OPTION_CONNECTION_LIMIT,
                                  (unsigned)SERVE_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
                                  (unsigned)SERVE_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, on_completed, sv,
                                  MHD_OPTION_END);
    if (!sv->daemon) {
        close(lfd);
        fprintf(stderr, "emo serve: cannot start the HTTP server on %s port %d%s%s\n", host, port, errno ? ": " : "",
                errno ? strerror(errno) : "");
        goto done;
    }
    struct sockaddr_storage got = {0};
    socklen_t gotlen = sizeof got;
    int bound = port;
    if (getsockname(lfd, (struct sockaddr *)&got, &gotlen) == 0)
        bound = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                : ((struct sockaddr_in *)&got)->sin_port);
    /* Bound to every interface: the URL to open here is still loopback. */
    bool any = strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
    const char *shown = any ? (v6 ? "::1" : "127.0.0.1") : host;
    printf("emo serve: http://%s%s%s:%d/\n", v6 ? "[" : "", shown, v6 ? "]" : "", bound);
    if (!quiet) {
        if (sv->loopback)
            printf("emo serve: listening on loopback only: other machines cannot connect (--host 0.0.0.0 to share)\n");
        else
            printf("emo serve: WARNING: listening on %s%s: other machines on the network can connect\n", host,
                   any ? " (every interface)" : "");
        printf("emo serve: model %s, %d HTTP workers%s%s; Ctrl-C stops\n", sv->models[sv->default_model].name,
               sv->workers, input ? ", server camera " : "", input ? input : "");
    }
    fflush(stdout);

    int sig = 0;
    sigwait(&sigs, &sig);
    if (!quiet) printf("emo serve: %s, stopping\n", sig == SIGINT ? "interrupted" : "terminated");
    status = 0;

done:
    atomic_store(&sv->stopping, true);
    if (sv->stream) serve_stream_stop(sv);
    pthread_mutex_lock(&sv->pool_lock);
    pthread_cond_broadcast(&sv->pool_cond);
    pthread_mutex_unlock(&sv->pool_lock);
    serve_sessions_wait(sv);
    if (sv->daemon) MHD_stop_daemon(sv->daemon);
    if (sv->stream) serve_stream_close(sv);
    serve_jobs_close(sv);
    for (int i = 0; i < sv->npool; i++) emo_pipeline_close(sv->pool[i].p);
    free(sv->pool);
    pthread_mutex_destroy(&sv->pool_lock);
    pthread_cond_destroy(&sv->pool_cond);
    pthread_mutex_destroy(&sv->session_lock);
    pthread_cond_destroy(&sv->session_cond);
    if (!quiet && status == 0) printf("emo serve: stopped\n");
    free(sv);
    return status;
}
