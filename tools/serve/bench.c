/* bench.c — `emo bench serve`: load on the web server. Starts `emo serve`
 * on a free loopback port, then N clients post 640x480 JPEG frames to
 * /api/analyze over keep-alive connections for S seconds; reports frames/s,
 * latency percentiles and the server's resident memory at the start and end
 * (flat memory = no leak under load). Connects only to 127.0.0.1. */
#define _GNU_SOURCE /* strcasestr */
#include "../bench_serve.h"
#include "../cli.h"
#include "serve.h"
#include "ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct client {
    int port;
    bool ws;           /* WebSocket session (the page's path) instead of /api/analyze */
    const char *query; /* /ws settings */
    const uint8_t *body;
    size_t size;
    double warm_until, stop_at;
    bool session;      /* s is an open WebSocket session */
    double *lat; /* seconds, one per frame after the warm-up */
    size_t n, cap;
    long errors;
    char error[160];
    pthread_t thread;
} client;

static int dial(int port) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only */
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        close(s);
        return -1;
    }
    return s;
}

static bool send_all(int s, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t w = send(s, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

/* One POST and its answer; the HTTP status, or -1 if the connection broke. */
static int post(client *cl, int s, char *buf, size_t cap) {
    char head[256];
    int hn = snprintf(head, sizeof head,
                      "POST /api/analyze HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: image/jpeg\r\n"
                      "Content-Length: %zu\r\n\r\n", cl->port, cl->size);
    if (!send_all(s, head, (size_t)hn) || !send_all(s, cl->body, cl->size)) return -1;
    size_t n = 0;
    char *end = NULL;
    while (!end) {
        if (n + 1 >= cap) return -1;
        ssize_t r = recv(s, buf + n, cap - 1 - n, 0);
        if (r <= 0) return -1;
        n += (size_t)r;
        buf[n] = 0;
        end = strstr(buf, "\r\n\r\n");
    }
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) return -1;
    const char *cl_h = strcasestr(buf, "\r\nContent-Length:");
    if (!cl_h || cl_h > end) return -1;
    size_t len = strtoul(cl_h + 17, NULL, 10), have = n - (size_t)(end + 4 - buf);
    while (have < len) {
        ssize_t r = recv(s, buf, cap - 1, 0);
        if (r <= 0) return -1;
        have += (size_t)r;
    }
    return status;
}

/* Opens a /ws session: handshake, then the hello message. */
static int ws_open(client *cl, char *buf, size_t cap) {
    int s = dial(cl->port);
    if (s < 0) return -1;
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /ws?%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: ZW1vLWJlbmNoLWtleS0xMg==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     cl->query, cl->port);
    size_t got = 0;
    if (!send_all(s, req, (size_t)n)) goto fail;
    while (got < 4 || memcmp(buf + got - 4, "\r\n\r\n", 4) != 0) { /* byte by byte: the hello may follow */
        if (got + 1 >= cap || recv(s, buf + got, 1, 0) != 1) goto fail;
        got++;
    }
    if (strncmp(buf, "HTTP/1.1 101", 12) != 0) goto fail;
    return s;
fail:
    close(s);
    return -1;
}

/* Reads one server frame's payload into buf; its opcode, or -1. */
static int ws_read(int s, char *buf, size_t cap, size_t *len) {
    uint8_t h[10];
    if (recv(s, h, 2, MSG_WAITALL) != 2) return -1;
    uint64_t n = h[1] & 0x7F;
    if (n == 126) {
        if (recv(s, h + 2, 2, MSG_WAITALL) != 2) return -1;
        n = (uint64_t)h[2] << 8 | h[3];
    } else if (n == 127) {
        if (recv(s, h + 2, 8, MSG_WAITALL) != 8) return -1;
        n = 0;
        for (int i = 0; i < 8; i++) n = n << 8 | h[2 + i];
    }
    if (n >= cap) return -1;
    if (n && recv(s, buf, (size_t)n, MSG_WAITALL) != (ssize_t)n) return -1;
    buf[n] = 0;
    *len = (size_t)n;
    return h[0] & 0x0F;
}

/* Sends the frame (masked, as clients must) and waits for its answer:
 * 200 for a result, 500 for an error message, -1 if the session broke. */
static int ws_roundtrip(client *cl, int s, uint8_t *masked, char *buf, size_t cap) {
    uint8_t h[14];
    size_t hn = ws_header(h, WS_BINARY, cl->size);
    h[1] |= 0x80;
    memset(h + hn, 0, 4); /* a zero mask: the payload goes as it is */
    if (!send_all(s, h, hn + 4) || !send_all(s, masked, cl->size)) return -1;
    for (;;) {
        size_t n;
        int op = ws_read(s, buf, cap, &n);
        if (op < 0 || op == WS_CLOSE) return -1;
        if (op != WS_TEXT) continue;
        if (strstr(buf, "\"type\":\"result\"")) return 200;
        if (strstr(buf, "\"type\":\"error\"")) return 500;
    }
}

static void *client_main(void *arg) {
    client *cl = arg;
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    int s = -1;
    while (buf && serve_now() < cl->stop_at) {
        if (s < 0 && (s = dial(cl->port)) < 0) {
            snprintf(cl->error, sizeof cl->error, "connect: %s", strerror(errno));
            cl->errors++;
            usleep(10000);
            continue;
        }
        if (cl->ws && s >= 0 && !cl->session) {
            close(s);
            s = ws_open(cl, buf, cap);
            if (s < 0) {
                cl->errors++;
                snprintf(cl->error, sizeof cl->error, "WebSocket handshake failed");
                usleep(10000);
                continue;
            }
            cl->session = true;
        }
        double t0 = serve_now();
        int st = cl->ws ? ws_roundtrip(cl, s, (uint8_t *)cl->body, buf, cap) : post(cl, s, buf, cap);
        double t1 = serve_now();
        if (st != 200) {
            if (st < 0) close(s), s = -1, cl->session = false;
            snprintf(cl->error, sizeof cl->error, st < 0 ? "connection broke" : "HTTP %d", st);
            cl->errors++;
            continue;
        }
        if (t0 < cl->warm_until) continue;
        if (cl->n == cl->cap) {
            size_t nc = cl->cap ? cl->cap * 2 : 4096;
            double *l = realloc(cl->lat, nc * sizeof *l);
            if (!l) break;
            cl->lat = l;
            cl->cap = nc;
        }
        cl->lat[cl->n++] = t1 - t0;
    }
    if (s >= 0) close(s);
    free(buf);
    return NULL;
}

static long rss_of(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1) break;
    fclose(f);
    return kb;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A frame of the shared face video with a face the detector finds (from
 * 5 s in), its centre cropped to w:h and resized to w x h without
 * stretching the face, as JPEG in memory. */
static int make_frame(const char *video, int w, int h, uint8_t **jpeg, size_t *size) {
    emo_video *v = NULL;
    emo_detector *d = NULL;
    emo_image f = {0}, c = {0}, r = {0}, g = {0};
    int st = emo_video_open(&v, video);
    if (st == EMO_OK) st = emo_detector_open(&d, NULL);
    double t = 0;
    bool found = false;
    while (st == EMO_OK && !found && (st = emo_video_read(v, &f, 3, &t)) == EMO_OK) {
        if (t < 5.0) continue;
        int cw = f.width, ch = f.height;
        if ((int64_t)cw * h > (int64_t)ch * w) cw = (int)((int64_t)ch * w / h);
        else ch = (int)((int64_t)cw * h / w);
        emo_rect face;
        emo_detect_params dp = emo_detect_params_default();
        if ((st = emo_image_crop(&f, &c, (f.width - cw) / 2, (f.height - ch) / 2, cw, ch)) != EMO_OK ||
            (st = emo_image_resize(&c, &r, w, h, EMO_INTERP_AREA)) != EMO_OK || (st = emo_image_to_grey(&r, &g)) != EMO_OK)
            break;
        found = emo_detect(d, &g, &dp, &face, 1) > 0;
        if (t > 15.0) break;
    }
    if (st == EMO_EEOF || (st == EMO_OK && !found)) st = emo_fail(EMO_ENOTFOUND, "%s: no face found from 5 s to 15 s", video);
    if (st == EMO_OK) st = emo_image_encode(&r, EMO_FORMAT_JPEG, 85, jpeg, size);
    emo_video_close(v);
    emo_detector_close(d);
    emo_image_free(&f);
    emo_image_free(&c);
    emo_image_free(&r);
    emo_image_free(&g);
    return st;
}

int bench_serve(int argc, char **argv) {
    int clients = 4, seconds = 30, workers = 2, warmup = 2, detect_every = SERVE_LIVE_DETECT_EVERY, threads = 1;
    const char *image = NULL, *model = NULL, *mode = "ws";
    const char *shared = getenv("SHARED");
    char video[1024];
    snprintf(video, sizeof video, "%s/media/video/WolfgangLanger_Pexels.mp4", shared && *shared ? shared : "../shared");
    const char *video_arg = video;
    const cli_opt opts[] = {
        {"clients", 'c', "N", "concurrent clients, each with one connection (default 4)", .out_int = &clients},
        {"seconds", 's', "S", "measured seconds, after a 2 s warm-up (default 30)", .out_int = &seconds},
        {"mode", 0, "ws|analyze", "ws: WebSocket sessions, as the page (default); analyze: POST /api/analyze",
         .out_str = &mode},
        {"detect-every", 0, "N", "ws: full detection every N frames (default " EMO_STR(SERVE_LIVE_DETECT_EVERY) ")",
         .out_int = &detect_every},
        {"threads", 't', "N", "ws: the server's pipeline threads per session (default 1)", .out_int = &threads},
        {"workers", 'w', "N", "the server's HTTP threads / pipelines (default 2)", .out_int = &workers},
        {"image", 'i', "JPEG", "frame to post (default: a 640x480 frame of --video)", .out_str = &image},
        {"video", 0, "PATH", "video to take the frame from (default $SHARED/media/video/WolfgangLanger_Pexels.mp4)",
         .out_str = &video_arg},
        {"model", 'm', "PATH", "the server's model (default: the shipped one)", .out_str = &model},
        {0},
    };
    int npos, r = cli_parse(argc, argv, opts, "[OPTIONS]",
                            "Starts `emo serve` on a free 127.0.0.1 port and loads it with N clients sending the same\n"
                            "640x480 JPEG: live WebSocket sessions (one frame in flight each) or POSTs to\n"
                            "/api/analyze. Prints frames/s, latency percentiles and the server's memory at the\n"
                            "start and the end of the run.",
                            &npos);
    if (r) return r == 1 ? 0 : r;
    bool ws = strcmp(mode, "ws") == 0;
    if (npos || clients < 1 || clients > 256 || seconds < 1 || workers < 1 || workers > 64 || threads < 0 ||
        detect_every < 1 || detect_every > 30 || (!ws && strcmp(mode, "analyze") != 0)) {
        fprintf(stderr, "emo bench serve: --clients 1..256, --seconds >= 1, --workers 1..64, --detect-every 1..30, "
                        "--mode ws|analyze\n");
        return 2;
    }
    if (ws && clients > SERVE_MAX_SESSIONS) {
        fprintf(stderr, "emo bench serve: at most %d WebSocket clients (the server's session limit)\n",
                SERVE_MAX_SESSIONS);
        return 2;
    }
    char query[96];
    snprintf(query, sizeof query, "detect_every=%d", detect_every);
    uint8_t *body = NULL;
    size_t size = 0;
    int st = image ? emo_read_file(image, SERVE_MAX_BODY, &body, &size) : make_frame(video_arg, 640, 480, &body, &size);
    if (st != EMO_OK) return cli_error("bench serve", "cannot make the frame");

    /* The server, a child on a free port; its first line gives the URL. */
    int out[2];
    if (pipe(out) != 0) return cli_error("bench serve", "pipe: %s", strerror(errno));
    char wbuf[16], tbuf[16];
    snprintf(wbuf, sizeof wbuf, "%d", workers);
    snprintf(tbuf, sizeof tbuf, "%d", threads);
    const char *args[16] = {"emo", "serve", "--port", "0", "--quiet", "--workers", wbuf, "--threads", tbuf};
    int na = 9;
    if (model) args[na++] = "--model", args[na++] = model;
    args[na] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        execv("/proc/self/exe", (char **)args);
        _exit(127);
    }
    close(out[1]);
    FILE *so = fdopen(out[0], "r");
    char line[256] = "";
    int port = 0;
    if (pid < 0 || !so || !fgets(line, sizeof line, so) || sscanf(line, "emo serve: http://127.0.0.1:%d/", &port) != 1) {
        fprintf(stderr, "emo bench serve: the server did not start (%s)\n", line);
        if (pid > 0) kill(pid, SIGTERM), waitpid(pid, NULL, 0);
        free(body);
        return 1;
    }

    client *cl = calloc((size_t)clients, sizeof *cl);
    double t0 = serve_now();
    for (int i = 0; i < clients; i++) {
        cl[i] = (client){.port = port, .ws = ws, .query = query, .body = body, .size = size, .warm_until = t0 + warmup,
                         .stop_at = t0 + warmup + seconds};
        pthread_create(&cl[i].thread, NULL, client_main, &cl[i]);
    }
    usleep((useconds_t)warmup * 1000000);
    long rss0 = rss_of(pid), rss_peak = rss0;
    while (serve_now() < t0 + warmup + seconds - 0.5) {
        usleep(250000);
        long m = rss_of(pid);
        if (m > rss_peak) rss_peak = m;
    }
    long rss1 = rss_of(pid);
    size_t n = 0;
    long errors = 0;
    const char *err = "";
    for (int i = 0; i < clients; i++) {
        pthread_join(cl[i].thread, NULL);
        n += cl[i].n;
        errors += cl[i].errors;
        if (cl[i].error[0]) err = cl[i].error;
    }
    kill(pid, SIGTERM);
    int wst = 0;
    waitpid(pid, &wst, 0);
    fclose(so);

    double *all = malloc((n ? n : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < clients; i++)
        for (size_t j = 0; j < cl[i].n; j++) all[k++] = cl[i].lat[j] * 1e3;
    qsort(all, n, sizeof *all, cmp_double);
#define PCT(p) (n ? all[(size_t)((double)(n - 1) * (p))] : 0.0)
    double fps = (double)n / seconds;
    char what[1100];
    snprintf(what, sizeof what, "%zu-byte %s", size, image ? image : "640x480 JPEG");
    if (ws)
        printf("emo bench serve: %d WebSocket sessions x %d s on 127.0.0.1 (detect_every %d, %d pipeline thread%s "
               "each), %s, one frame in flight per session\n",
               clients, seconds, detect_every, threads, threads == 1 ? "" : "s", what);
    else
        printf("emo bench serve: %d clients x %d s posting to /api/analyze on 127.0.0.1, %s, server --workers %d\n",
               clients, seconds, what, workers);
    printf("  frames   %zu (%.1f/s), errors %ld%s%s\n", n, fps, errors, errors ? ": " : "", errors ? err : "");
    printf("  latency  p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n", PCT(0.5), PCT(0.9), PCT(0.99),
           PCT(1.0));
    printf("  server   RSS %.1f MB at start, %.1f MB at end (peak %.1f MB); exit %s\n", rss0 / 1024.0,
           rss1 / 1024.0, rss_peak / 1024.0, WIFEXITED(wst) && WEXITSTATUS(wst) == 0 ? "clean" : "FAILED");
    printf("emo serve %s clients=%d workers=%d fps=%.1f p50_ms=%.1f p99_ms=%.1f rss_start_kb=%ld "
           "rss_end_kb=%ld errors=%ld\n",
           mode, clients, workers, fps, PCT(0.5), PCT(0.99), rss0, rss1, errors);
#undef PCT
    for (int i = 0; i < clients; i++) free(cl[i].lat);
    free(cl);
    free(all);
    free(body);
    return errors || !WIFEXITED(wst) || WEXITSTATUS(wst) ? 1 : 0;
}
