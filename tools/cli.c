/* cli.c — option parsing shared by the emo subcommands. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void cli_usage(FILE *f, const char *cmd, const cli_opt *opts, const char *usage, const char *about) {
    fprintf(f, "usage: emo %s %s\n", cmd, usage);
    if (about) fprintf(f, "\n%s\n", about);
    if (opts && opts[0].name) fprintf(f, "\noptions:\n");
    for (const cli_opt *o = opts; o && o->name; o++) {
        char left[64];
        if (o->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(f, "  %-26s %s\n", left, o->help);
    }
    fprintf(f, "  %-26s %s\n", "-h, --help", "show this help");
}

static int set_value(const char *cmd, const cli_opt *o, const char *v) {
    char *end;
    if (o->out_str) {
        *o->out_str = v;
    } else if (o->out_int) {
        errno = 0;
        long x = strtol(v, &end, 10);
        if (errno || *end || end == v || x < -2147483647L || x > 2147483647L) {
            fprintf(stderr, "emo %s: --%s wants an integer, got '%s'\n", cmd, o->name, v);
            return 2;
        }
        *o->out_int = (int)x;
    } else if (o->out_float) {
        errno = 0;
        float x = strtof(v, &end);
        if (errno || *end || end == v) {
            fprintf(stderr, "emo %s: --%s wants a number, got '%s'\n", cmd, o->name, v);
            return 2;
        }
        *o->out_float = x;
    }
    return 0;
}

int cli_parse(int argc, char **argv, const cli_opt *opts, const char *usage, const char *about, int *npos) {
    const char *cmd = argv[0];
    int pos = 0;
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == 0) {
            argv[1 + pos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cli_usage(stdout, cmd, opts, usage, about);
            return 1;
        }
        const cli_opt *o = NULL;
        const char *inline_val = NULL;
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            for (const cli_opt *p = opts; p && p->name; p++)
                if (strlen(p->name) == len && strncmp(p->name, name, len) == 0) o = p;
            if (eq) inline_val = eq + 1;
        } else if (a[2] == 0) {
            for (const cli_opt *p = opts; p && p->name; p++)
                if (p->short_name == a[1]) o = p;
        }
        if (!o) {
            fprintf(stderr, "emo %s: unknown option '%s'\n", cmd, a);
            cli_usage(stderr, cmd, opts, usage, about);
            return 2;
        }
        if (!o->arg) {
            if (inline_val) {
                fprintf(stderr, "emo %s: --%s takes no value\n", cmd, o->name);
                return 2;
            }
            if (o->out_flag) *o->out_flag = true;
            continue;
        }
        const char *v = inline_val;
        if (!v) {
            if (i + 1 >= argc) {
                fprintf(stderr, "emo %s: --%s needs a value (%s)\n", cmd, o->name, o->arg);
                return 2;
            }
            v = argv[++i];
        }
        int r = set_value(cmd, o, v);
        if (r) return r;
    }
    *npos = pos;
    return 0;
}

int cli_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "emo %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    const char *e = emo_last_error();
    if (e && *e) fprintf(stderr, ": %s", e);
    fprintf(stderr, "\n");
    return 1;
}

bool cli_parse_size(const char *s, int *w, int *h) {
    char *end;
    long a = strtol(s, &end, 10);
    if (end == s || (*end != 'x' && *end != 'X')) return false;
    const char *t = end + 1;
    long b = strtol(t, &end, 10);
    if (end == t || *end || a <= 0 || b <= 0 || a > EMO_MAX_SIDE || b > EMO_MAX_SIDE) return false;
    *w = (int)a;
    *h = (int)b;
    return true;
}

int cli_precision(const char *cmd, const char *value, emo_precision *out) {
    int p = emo_precision_parse(value);
    if (p < 0) {
        fprintf(stderr, "emo %s: --precision %s: expected auto, fp32 or bf16\n", cmd, value ? value : "");
        return -1;
    }
    const char *why = NULL, *isa = emo_bf16_isa(&why);
    if (p == EMO_PRECISION_BF16 && !isa) {
        fprintf(stderr, "emo %s: --precision bf16: %s; use --precision fp32 (or auto)\n", cmd, why);
        return -1;
    }
    *out = p == EMO_PRECISION_AUTO ? (isa ? EMO_PRECISION_BF16 : EMO_PRECISION_FP32) : (emo_precision)p;
    return 0;
}
