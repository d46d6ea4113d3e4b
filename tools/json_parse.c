/* json_parse.c — the JSON reader of json.h: recursive descent into a small
 * DOM. Built for summaries of a few KiB; refuses rather than guesses. */
#include "json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

typedef struct parser {
    const char *s, *end, *start;
    char *err;
    size_t errcap;
    bool failed;
} parser;

static int perr(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(parser *p, const char *fmt, ...) {
    if (p->failed) return -1;
    p->failed = true;
    int line = 1;
    for (const char *c = p->start; c < p->s && c < p->end; c++) line += *c == '\n';
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->err && p->errcap) snprintf(p->err, p->errcap, "line %d: %s", line, msg);
    return -1;
}

static void skip_ws(parser *p) {
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')) p->s++;
}

static int hex4(parser *p, unsigned *out) {
    if (p->end - p->s < 4) return perr(p, "cut \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p->s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return perr(p, "bad \\u escape");
    }
    p->s += 4;
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) return o[0] = (char)cp, 1;
    if (cp < 0x800) return o[0] = (char)(0xC0 | cp >> 6), o[1] = (char)(0x80 | (cp & 63)), 2;
    if (cp < 0x10000)
        return o[0] = (char)(0xE0 | cp >> 12), o[1] = (char)(0x80 | ((cp >> 6) & 63)), o[2] = (char)(0x80 | (cp & 63)), 3;
    o[0] = (char)(0xF0 | cp >> 18), o[1] = (char)(0x80 | ((cp >> 12) & 63));
    o[2] = (char)(0x80 | ((cp >> 6) & 63)), o[3] = (char)(0x80 | (cp & 63));
    return 4;
}

/* p->s at the opening quote. The decoded string is never longer than the
 * quoted text, so one allocation of that size is enough. */
static char *parse_string(parser *p) {
    p->s++;
    const char *q = p->s;
    while (q < p->end && *q != '"') q += *q == '\\' ? 2 : 1;
    if (q >= p->end) return perr(p, "unterminated string"), NULL;
    char *out = malloc((size_t)(q - p->s) + 1), *o = out;
    if (!out) return perr(p, "out of memory"), NULL;
    while (*p->s != '"') {
        unsigned char c = (unsigned char)*p->s++;
        if (c < 0x20) {
            free(out);
            return perr(p, "control character in a string"), NULL;
        }
        if (c != '\\') {
            *o++ = (char)c;
            continue;
        }
        char e = *p->s++;
        unsigned cp;
        switch (e) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u':
            if (hex4(p, &cp)) break;
            if (cp >= 0xD800 && cp < 0xDC00) { /* a surrogate pair: \uD83D\uDE04 */
                unsigned lo;
                if (p->end - p->s < 6 || p->s[0] != '\\' || p->s[1] != 'u') {
                    perr(p, "lone surrogate in \\u escape");
                    break;
                }
                p->s += 2;
                if (hex4(p, &lo)) break;
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    perr(p, "bad surrogate pair");
                    break;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp < 0xE000) {
                perr(p, "lone surrogate in \\u escape");
                break;
            } else if (cp == 0) {
                perr(p, "\\u0000 in a string");
                break;
            }
            o += put_utf8(o, cp);
            break;
        default: perr(p, "bad escape '\\%c'", e);
        }
        if (p->failed) {
            free(out);
            return NULL;
        }
    }
    p->s++;
    *o = 0;
    return out;
}

static int parse_value(parser *p, json_value *v, int depth);

/* Appends to a growing array of values (and keys, for objects). */
static int push(parser *p, json_value *v, int *cap, char *key) {
    if (v->n == *cap) {
        int nc = *cap ? *cap * 2 : 8;
        json_value *ni = realloc(v->items, sizeof *ni * (size_t)nc);
        if (!ni) return free(key), perr(p, "out of memory");
        v->items = ni;
        if (v->type == JSON_OBJ) {
            char **nk = realloc(v->keys, sizeof *nk * (size_t)nc);
            if (!nk) return free(key), perr(p, "out of memory");
            v->keys = nk;
        }
        *cap = nc;
    }
    memset(&v->items[v->n], 0, sizeof v->items[0]);
    if (v->type == JSON_OBJ) v->keys[v->n] = key;
    v->n++;
    return 0;
}

static int parse_container(parser *p, json_value *v, int depth) {
    bool obj = *p->s == '{';
    char close = obj ? '}' : ']';
    v->type = obj ? JSON_OBJ : JSON_ARR;
    p->s++;
    int cap = 0;
    skip_ws(p);
    if (p->s < p->end && *p->s == close) {
        p->s++;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(p);
        if (obj) {
            if (p->s >= p->end || *p->s != '"') return perr(p, "expected a key");
            if (!(key = parse_string(p))) return -1;
            skip_ws(p);
            if (p->s >= p->end || *p->s != ':') return free(key), perr(p, "expected ':'");
            p->s++;
        }
        if (push(p, v, &cap, key)) return -1;
        if (parse_value(p, &v->items[v->n - 1], depth + 1)) return -1;
        skip_ws(p);
        if (p->s < p->end && *p->s == ',') {
            p->s++;
            continue;
        }
        if (p->s < p->end && *p->s == close) {
            p->s++;
            return 0;
        }
        return perr(p, "expected ',' or '%c'", close);
    }
}

static int parse_value(parser *p, json_value *v, int depth) {
    memset(v, 0, sizeof *v);
    if (depth > MAX_DEPTH) return perr(p, "nested deeper than %d", MAX_DEPTH);
    skip_ws(p);
    if (p->s >= p->end) return perr(p, "unexpected end");
    char c = *p->s;
    size_t left = (size_t)(p->end - p->s);
    if (c == '{' || c == '[') return parse_container(p, v, depth);
    if (c == '"') {
        v->type = JSON_STR;
        return (v->str = parse_string(p)) ? 0 : -1;
    }
    if (left >= 4 && memcmp(p->s, "null", 4) == 0) return p->s += 4, 0;
    if (left >= 4 && memcmp(p->s, "true", 4) == 0) return v->type = JSON_BOOL, v->b = true, p->s += 4, 0;
    if (left >= 5 && memcmp(p->s, "false", 5) == 0) return v->type = JSON_BOOL, p->s += 5, 0;
    if (c == '-' || (c >= '0' && c <= '9')) {
        char buf[64];
        size_t n = 0;
        while (n < left && n < sizeof buf - 1 && strchr("+-0123456789.eE", p->s[n])) n++;
        memcpy(buf, p->s, n);
        buf[n] = 0;
        char *e;
        errno = 0;
        v->num = strtod(buf, &e);
        if (e == buf || *e) return perr(p, "bad number '%s'", buf);
        v->type = JSON_NUM;
        p->s += n;
        return 0;
    }
    return perr(p, "unexpected character '%c'", c);
}

void json_value_free(json_value *v) {
    if (!v) return;
    for (int i = 0; i < v->n; i++) {
        json_value_free(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    memset(v, 0, sizeof *v);
}

int json_parse(const char *text, size_t len, json_value *out, char *err, size_t errcap) {
    parser p = {.s = text, .end = text + len, .start = text, .err = err, .errcap = errcap};
    if (err && errcap) err[0] = 0;
    int r = parse_value(&p, out, 0);
    if (!r) {
        skip_ws(&p);
        if (p.s != p.end) r = perr(&p, "text after the value");
    }
    if (r) json_value_free(out);
    return r;
}

const json_value *json_get(const json_value *v, const char *key) {
    if (!v || v->type != JSON_OBJ) return NULL;
    for (int i = 0; i < v->n; i++)
        if (strcmp(v->keys[i], key) == 0) return &v->items[i];
    return NULL;
}

double json_get_num(const json_value *v, const char *key, double def) {
    const json_value *x = json_get(v, key);
    return x && x->type == JSON_NUM ? x->num : def;
}

const char *json_get_str(const json_value *v, const char *key) {
    const json_value *x = json_get(v, key);
    return x && x->type == JSON_STR ? x->str : NULL;
}
