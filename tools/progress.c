/* progress.c — the progress bar / periodic progress lines of progress.h. */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
    bool active;
    int tty; /* -1: not decided, follow isatty */
    long long total, done, base; /* base: first count reported (a resumed job's head start) */
    char label[96], info[96];
    double t0, last_draw, interval;
    int drawn_width;
} P = {.tty = -1, .interval = 30};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

const char *progress_format_duration(double s, char *buf, int cap) {
    if (!(s >= 0)) s = 0;
    long t = (long)(s + 0.5);
    if (t < 60) snprintf(buf, (size_t)cap, "%lds", t);
    else if (t < 3600) snprintf(buf, (size_t)cap, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, (size_t)cap, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
    return buf;
}

void progress_interval(double seconds) { P.interval = seconds > 0 ? seconds : 30; }
void progress_set_tty(bool tty) { P.tty = tty ? 1 : 0; }

static bool is_tty(void) { return P.tty >= 0 ? P.tty == 1 : isatty(STDERR_FILENO) == 1; }

/* "1200/4456 38.2/s ETA 1m25s" */
static void status_text(char *buf, size_t cap, double t) {
    double el = t - P.t0, rate = el > 0 && P.base >= 0 ? (double)(P.done - P.base) / el : 0;
    char eta[32] = "";
    if (P.total > 0 && rate > 0 && P.done < P.total) {
        char d[16];
        snprintf(eta, sizeof eta, " ETA %s", progress_format_duration((double)(P.total - P.done) / rate, d, 16));
    }
    if (P.total > 0)
        snprintf(buf, cap, "%lld/%lld %.1f/s%s%s%s", P.done, P.total, rate, eta, P.info[0] ? "  " : "", P.info);
    else snprintf(buf, cap, "%lld %.1f/s%s%s", P.done, rate, P.info[0] ? "  " : "", P.info);
}

static void draw(double t) {
    char st[256];
    status_text(st, sizeof st, t);
    if (is_tty()) {
        char bar[32] = "";
        if (P.total > 0) {
            int w = 20, fill = (int)((double)P.done / (double)P.total * w);
            if (fill > w) fill = w;
            bar[0] = '[';
            for (int i = 0; i < w; i++) bar[1 + i] = i < fill ? '#' : '.';
            bar[w + 1] = ']';
            bar[w + 2] = ' ';
            bar[w + 3] = 0;
        }
        char line[512];
        int n = snprintf(line, sizeof line, "%s %s%s", P.label, bar, st);
        if (n < 0) return;
        if (n >= (int)sizeof line) n = (int)sizeof line - 1;
        /* pad with spaces over a longer previous line */
        fprintf(stderr, "\r%s%*s", line, P.drawn_width > n ? P.drawn_width - n : 0, "");
        P.drawn_width = n;
    } else {
        int pct = P.total > 0 ? (int)(100.0 * (double)P.done / (double)P.total) : -1;
        if (pct >= 0) fprintf(stderr, "%s: %d%% %s\n", P.label, pct, st);
        else fprintf(stderr, "%s: %s\n", P.label, st);
    }
    fflush(stderr);
    P.last_draw = t;
}

void progress_start(long long total, const char *label) {
    if (P.active) progress_end();
    P.active = true;
    P.total = total;
    P.done = 0;
    P.base = -1;
    P.info[0] = 0;
    P.drawn_width = 0;
    snprintf(P.label, sizeof P.label, "%s", label ? label : "");
    P.t0 = now_s();
    P.last_draw = P.t0;
    if (is_tty()) draw(P.t0);
}

void progress_update(long long done) {
    if (!P.active) return;
    P.done = done;
    double t = now_s();
    if (P.base < 0) {
        P.base = done;
        P.t0 = t;
    }
    if (is_tty() ? t - P.last_draw >= 0.1 : t - P.last_draw >= P.interval) draw(t);
}

void progress_info(const char *text) { snprintf(P.info, sizeof P.info, "%s", text ? text : ""); }

void progress_end(void) {
    if (!P.active) return;
    P.active = false;
    if (is_tty()) {
        if (P.drawn_width) fprintf(stderr, "\r%*s\r", P.drawn_width, "");
    } else if (now_s() - P.t0 >= P.interval) {
        char d[16];
        fprintf(stderr, "%s: done, %lld in %s\n", P.label, P.done, progress_format_duration(now_s() - P.t0, d, 16));
    }
    fflush(stderr);
}

void progress_note(const char *line) {
    if (P.active && is_tty() && P.drawn_width) fprintf(stderr, "\r%*s\r", P.drawn_width, "");
    fprintf(stderr, "%s\n", line);
    if (P.active && is_tty()) {
        P.drawn_width = 0;
        draw(now_s());
    }
    fflush(stderr);
}
