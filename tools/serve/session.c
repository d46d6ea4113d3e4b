/* session.c — one WebSocket session of the live page (GET /ws): the browser
 * sends camera frames as binary messages (JPEG or PNG), the server answers
 * each with a text message holding the faces (docs/API.md). The session owns
 * its thread, socket and pipeline, so face tracks belong to one client.
 *
 * Keeping up with the camera: frames that arrive while one is being
 * analysed are not queued; only the newest waits, and each one it replaces
 * is answered {"type":"dropped"}, so the page can count what is in flight. */
#include "serve.h"
#include "ws.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
} buf;

static bool buf_reserve(buf *b, size_t n) {
    if (b->cap >= n) return true;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < n) cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) return false;
    b->p = p;
    b->cap = cap;
    return true;
}

typedef struct session {
    server *sv;
    serve_settings s;
    int sock;
    struct MHD_UpgradeResponseHandle *urh;
    buf in;         /* bytes read, not yet parsed */
    buf msg;        /* fragmented message being assembled */
    int msg_op;     /* its opcode, 0 = none */
    buf frame;      /* newest complete frame, waiting for analysis */
    bool has_frame;
    uint64_t frame_no, received; /* the waiting frame's number; frames received */
    emo_pipeline *p;
    emo_image rgb;
    json_buf out;
    emo_face faces[SERVE_MAX_FACES];
    double last_active;
} session;

static bool send_all(session *ss, const void *data, size_t n) {
    const uint8_t *p = data;
    while (n) {
        ssize_t w = send(ss->sock, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Header and payload in one sendmsg: two writes would wait for the
 * peer's delayed ACK (40 ms) whenever the payload is small. */
static bool send_frame(session *ss, int opcode, const void *payload, size_t n) {
    uint8_t h[10];
    size_t hn = ws_header(h, opcode, n);
    struct iovec iov[2] = {{h, hn}, {(void *)payload, n}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = n ? 2 : 1};
    ssize_t w;
    do w = sendmsg(ss->sock, &m, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w < 0) return false;
    size_t sent = (size_t)w;
    if (sent < hn) return send_all(ss, h + sent, hn - sent) && (n == 0 || send_all(ss, payload, n));
    return send_all(ss, (const uint8_t *)payload + (sent - hn), n - (sent - hn));
}

static bool send_json_msg(session *ss) {
    if (ss->out.failed) return false;
    return send_frame(ss, WS_TEXT, ss->out.data, ss->out.len);
}

static void send_close(session *ss, int code, const char *reason) {
    uint8_t p[125];
    size_t n = strlen(reason);
    if (n > sizeof p - 2) n = sizeof p - 2;
    p[0] = (uint8_t)(code >> 8);
    p[1] = (uint8_t)code;
    memcpy(p + 2, reason, n);
    send_frame(ss, WS_CLOSE, p, n + 2);
}

static bool send_error_msg(session *ss, long long frame, const char *msg) {
    json_clear(&ss->out);
    json_lit(&ss->out, "{\"type\":\"error\"");
    if (frame >= 0) json_printf(&ss->out, ",\"frame\":%lld", frame);
    json_key(&ss->out, "error");
    json_str(&ss->out, msg);
    json_lit(&ss->out, "}");
    return send_json_msg(ss);
}

static bool send_hello(session *ss) {
    server *sv = ss->sv;
    const char *const *names = NULL;
    int nc = emo_pipeline_classes(ss->p, &names);
    json_buf *j = &ss->out;
    json_clear(j);
    json_lit(j, "{\"type\":\"hello\",\"model\":");
    json_str(j, sv->models[ss->s.model].name);
    json_lit(j, ",\"classes\":[");
    for (int i = 0; i < nc; i++) json_sep(j), json_str(j, names[i]);
    json_printf(j,
                "],\"settings\":{\"smooth\":%.2f,\"detect_every\":%d,\"min_face\":%d,\"neighbors\":%d},"
                "\"max_message\":%u}",
                ss->s.smooth, ss->s.detect_every, ss->s.min_face, ss->s.neighbors, SERVE_MAX_WS_MESSAGE);
    return send_json_msg(ss);
}

/* A complete binary message: it becomes the waiting frame. */
static bool take_frame(session *ss, const uint8_t *p, size_t n) {
    uint64_t no = ss->received++;
    if (ss->has_frame) {
        json_clear(&ss->out);
        json_printf(&ss->out, "{\"type\":\"dropped\",\"frame\":%llu}", (unsigned long long)ss->frame_no);
        if (!send_json_msg(ss)) return false;
    }
    if (!buf_reserve(&ss->frame, n)) return false;
    memcpy(ss->frame.p, p, n);
    ss->frame.len = n;
    ss->frame_no = no;
    ss->has_frame = true;
    return true;
}

static bool analyse_frame(session *ss) {
    ss->has_frame = false;
    double t0 = serve_now();
    int st = serve_decode(ss->frame.p, ss->frame.len, SERVE_MAX_FRAME_PIXELS, &ss->rgb);
    if (st != EMO_OK) return send_error_msg(ss, (long long)ss->frame_no, emo_last_error());
    int n = emo_pipeline_process(ss->p, &ss->rgb, ss->faces, SERVE_MAX_FACES);
    if (n < 0) return send_error_msg(ss, (long long)ss->frame_no, emo_last_error());
    atomic_fetch_add(&ss->sv->frames, 1);
    const char *const *names = NULL;
    int nc = emo_pipeline_classes(ss->p, &names);
    json_buf *j = &ss->out;
    json_clear(j);
    json_printf(j, "{\"type\":\"result\",\"frame\":%llu,\"width\":%d,\"height\":%d,\"ms\":%.1f,\"faces\":[",
                (unsigned long long)ss->frame_no, ss->rgb.width, ss->rgb.height, (serve_now() - t0) * 1e3);
    for (int i = 0; i < n; i++) json_face(j, &ss->faces[i], names, nc, true);
    json_lit(j, "]}");
    return send_json_msg(ss);
}

/* Handles one complete frame (header h, payload p unmasked). Returns false
 * when the session must end (after sending a close frame if due). */
static bool handle_frame(session *ss, const ws_frame *f, uint8_t *p) {
    switch (f->opcode) {
    case WS_PING: return send_frame(ss, WS_PONG, p, (size_t)f->len);
    case WS_PONG: return true;
    case WS_CLOSE: {
        int code = WS_CLOSE_NORMAL;
        if (f->len == 1) code = WS_CLOSE_PROTOCOL;
        else if (f->len >= 2) {
            int c = p[0] << 8 | p[1];
            bool valid = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1011) || (c >= 3000 && c <= 4999);
            if (!valid) code = WS_CLOSE_PROTOCOL;
            else if (!ws_utf8_valid(p + 2, (size_t)f->len - 2)) code = WS_CLOSE_BAD_DATA;
        }
        send_close(ss, code, "");
        return false;
    }
    default: break;
    }
    /* Data: a whole message, the start of a fragmented one, or a piece of it. */
    if (f->opcode != WS_CONT && ss->msg_op) {
        send_close(ss, WS_CLOSE_PROTOCOL, "new message inside a fragmented one");
        return false;
    }
    if (f->opcode == WS_CONT && !ss->msg_op) {
        send_close(ss, WS_CLOSE_PROTOCOL, "continuation without a message");
        return false;
    }
    const uint8_t *data = p;
    size_t n = (size_t)f->len;
    int op = f->opcode;
    if (op == WS_CONT || !f->fin) {
        if (op != WS_CONT) ss->msg_op = op, ss->msg.len = 0;
        if (ss->msg.len + n > SERVE_MAX_WS_MESSAGE) {
            send_close(ss, WS_CLOSE_TOO_BIG, "message above the limit");
            return false;
        }
        if (!buf_reserve(&ss->msg, ss->msg.len + n)) {
            send_close(ss, WS_CLOSE_INTERNAL, "out of memory");
            return false;
        }
        memcpy(ss->msg.p + ss->msg.len, p, n);
        ss->msg.len += n;
        if (!f->fin) return true;
        op = ss->msg_op;
        data = ss->msg.p;
        n = ss->msg.len;
        ss->msg_op = 0;
    }
    if (op == WS_TEXT) {
        if (!ws_utf8_valid(data, n)) {
            send_close(ss, WS_CLOSE_BAD_DATA, "text is not UTF-8");
            return false;
        }
        return send_error_msg(ss, -1, "send frames as binary messages (JPEG or PNG); settings go in the /ws query");
    }
    return take_frame(ss, data, n);
}

/* Parses every complete frame in the input buffer. */
static bool parse_input(session *ss) {
    size_t at = 0;
    bool ok = true;
    while (ok) {
        ws_frame f;
        int code;
        int h = ws_parse_header(ss->in.p + at, ss->in.len - at, SERVE_MAX_WS_MESSAGE, &f, &code);
        if (h < 0) {
            send_close(ss, code, code == WS_CLOSE_TOO_BIG ? "frame above the limit" : "malformed frame");
            return false;
        }
        if (h == 0 || ss->in.len - at - (size_t)h < f.len) break;
        uint8_t *p = ss->in.p + at + h;
        ws_unmask(p, (size_t)f.len, f.mask, 0);
        ok = handle_frame(ss, &f, p);
        at += (size_t)h + (size_t)f.len;
    }
    memmove(ss->in.p, ss->in.p + at, ss->in.len - at);
    ss->in.len -= at;
    return ok;
}

static void *session_main(void *arg) {
    session *ss = arg;
    server *sv = ss->sv;
    /* Our socket now: blocking writes with a timeout, reads through poll. */
    int fl = fcntl(ss->sock, F_GETFL);
    if (fl >= 0) fcntl(ss->sock, F_SETFL, fl & ~O_NONBLOCK);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(ss->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1; /* answers go out at once (Nagle would hold small ones back) */
    setsockopt(ss->sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ss->last_active = serve_now();

    if (serve_pipe_open(sv, &ss->s, sv->threads, &ss->p) != EMO_OK) {
        send_error_msg(ss, -1, emo_last_error());
        send_close(ss, WS_CLOSE_INTERNAL, "cannot open the pipeline");
        goto end;
    }
    if (!send_hello(ss)) goto end;
    bool ok = ss->in.len == 0 || parse_input(ss);
    while (ok) {
        if (atomic_load(&sv->stopping)) {
            send_close(ss, WS_CLOSE_GOING_AWAY, "server stopping");
            break;
        }
        struct pollfd pfd = {.fd = ss->sock, .events = POLLIN};
        int r = poll(&pfd, 1, ss->has_frame ? 0 : 250);
        if (r < 0 && errno != EINTR) break;
        if (r > 0) {
            /* Room for the largest frame allowed plus a header. */
            if (!buf_reserve(&ss->in, ss->in.len + 65536)) break;
            ssize_t got = recv(ss->sock, ss->in.p + ss->in.len, ss->in.cap - ss->in.len, MSG_DONTWAIT);
            if (got == 0) break; /* peer went away */
            if (got < 0) {
                if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
                break;
            }
            ss->in.len += (size_t)got;
            ss->last_active = serve_now();
            if (ss->in.len > SERVE_MAX_WS_MESSAGE + WS_MAX_HEADER + 65536) {
                send_close(ss, WS_CLOSE_TOO_BIG, "frame above the limit");
                break;
            }
            ok = parse_input(ss);
            continue; /* drain what is readable before analysing */
        }
        if (ss->has_frame) {
            ok = analyse_frame(ss);
            ss->last_active = serve_now();
        } else if (serve_now() - ss->last_active > SERVE_WS_IDLE_S) {
            send_close(ss, WS_CLOSE_GOING_AWAY, "idle");
            break;
        }
    }
end:
    MHD_upgrade_action(ss->urh, MHD_UPGRADE_ACTION_CLOSE);
    emo_pipeline_close(ss->p);
    emo_image_free(&ss->rgb);
    json_free(&ss->out);
    free(ss->in.p);
    free(ss->msg.p);
    free(ss->frame.p);
    free(ss);
    pthread_mutex_lock(&sv->session_lock);
    sv->sessions--;
    pthread_cond_broadcast(&sv->session_cond);
    pthread_mutex_unlock(&sv->session_lock);
    return NULL;
}

int serve_session_start(server *sv, const serve_settings *s, int sock, const char *extra, size_t nextra,
                        struct MHD_UpgradeResponseHandle *urh) {
    session *ss = calloc(1, sizeof *ss);
    if (!ss) return EMO_ENOMEM;
    ss->sv = sv;
    ss->s = *s;
    ss->sock = sock;
    ss->urh = urh;
    if (nextra) {
        if (!buf_reserve(&ss->in, nextra)) {
            free(ss);
            return EMO_ENOMEM;
        }
        memcpy(ss->in.p, extra, nextra);
        ss->in.len = nextra;
    }
    pthread_mutex_lock(&sv->session_lock);
    if (sv->sessions >= SERVE_MAX_SESSIONS || atomic_load(&sv->stopping)) {
        pthread_mutex_unlock(&sv->session_lock);
        free(ss->in.p);
        free(ss);
        return EMO_ELIMIT;
    }
    sv->sessions++;
    pthread_mutex_unlock(&sv->session_lock);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int e = pthread_create(&t, &attr, session_main, ss);
    pthread_attr_destroy(&attr);
    if (e != 0) {
        pthread_mutex_lock(&sv->session_lock);
        sv->sessions--;
        pthread_mutex_unlock(&sv->session_lock);
        free(ss->in.p);
        free(ss);
        return EMO_ENOMEM;
    }
    return EMO_OK;
}

void serve_sessions_wait(server *sv) {
    pthread_mutex_lock(&sv->session_lock);
    while (sv->sessions > 0) pthread_cond_wait(&sv->session_cond, &sv->session_lock);
    pthread_mutex_unlock(&sv->session_lock);
}
