/* ws.c — WebSocket handshake and framing (RFC 6455); see ws.h. */
#include "ws.h"

#include <string.h>

int ws_parse_header(const uint8_t *b, size_t n, uint64_t max_payload, ws_frame *f, int *close_code) {
    *close_code = 0;
    if (n < 2) return 0;
    f->fin = b[0] & 0x80;
    f->opcode = b[0] & 0x0F;
    f->masked = b[1] & 0x80;
    if (b[0] & 0x70) goto protocol; /* no extension was negotiated */
    bool control = f->opcode & 0x8;
    if (!(f->opcode <= WS_BINARY || (f->opcode >= WS_CLOSE && f->opcode <= WS_PONG))) goto protocol;
    if (!f->masked) goto protocol; /* section 5.1: clients must mask */
    uint64_t len = b[1] & 0x7F;
    size_t h = 2;
    if (len == 126) {
        if (n < 4) return 0;
        len = (uint64_t)b[2] << 8 | b[3];
        if (len < 126) goto protocol;
        h = 4;
    } else if (len == 127) {
        if (n < 10) return 0;
        len = 0;
        for (int i = 0; i < 8; i++) len = len << 8 | b[2 + i];
        if (len >> 63 || len <= 0xFFFF) goto protocol;
        h = 10;
    }
    if (control && (!f->fin || len > 125)) goto protocol;
    if (n < h + 4) return 0;
    memcpy(f->mask, b + h, 4);
    h += 4;
    f->len = len;
    f->header = h;
    if (len > max_payload) {
        *close_code = WS_CLOSE_TOO_BIG;
        return -1;
    }
    return (int)h;
protocol:
    *close_code = WS_CLOSE_PROTOCOL;
    return -1;
}

void ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t offset) {
    for (size_t i = 0; i < n; i++) p[i] ^= mask[(offset + i) & 3];
}

size_t ws_header(uint8_t out[10], int opcode, uint64_t len) {
    out[0] = (uint8_t)(0x80 | (opcode & 0x0F));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

/* SHA-1 (FIPS 180-4), only for the handshake: speed does not matter. */
static uint32_t rol(uint32_t x, int k) { return x << k | x >> (32 - k); }

static void sha1_block(uint32_t s[5], const uint8_t *p) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) f = (b & c) | (~b & d), k = 0x5A827999;
        else if (i < 40) f = b ^ c ^ d, k = 0x6ED9EBA1;
        else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
        else f = b ^ c ^ d, k = 0xCA62C1D6;
        uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d, d = c, c = rol(b, 30), b = a, a = t;
    }
    s[0] += a, s[1] += b, s[2] += c, s[3] += d, s[4] += e;
}

void ws_sha1(const void *data, size_t n, uint8_t out[20]) {
    uint32_t s[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    const uint8_t *p = data;
    size_t left = n;
    for (; left >= 64; left -= 64, p += 64) sha1_block(s, p);
    /* Padding: 0x80, zeros, then the bit length big-endian in the last 8 bytes. */
    uint8_t tail[128] = {0};
    memcpy(tail, p, left);
    tail[left] = 0x80;
    size_t tn = left + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++) tail[tn - 1 - i] = (uint8_t)(bits >> (8 * i));
    sha1_block(s, tail);
    if (tn == 128) sha1_block(s, tail + 64);
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < 4; k++) out[4 * i + k] = (uint8_t)(s[i] >> (24 - 8 * k));
}

size_t ws_base64(const uint8_t *in, size_t n, char *out) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = 0;
    return o;
}

bool ws_accept_key(const char *key, char out[29]) {
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    if (!key || strlen(key) != 24 || key[22] != '=' || key[23] != '=') return false;
    for (int i = 0; i < 22; i++) {
        char c = key[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'))
            return false;
    }
    char buf[24 + sizeof guid];
    memcpy(buf, key, 24);
    memcpy(buf + 24, guid, sizeof guid - 1);
    uint8_t digest[20];
    ws_sha1(buf, 24 + sizeof guid - 1, digest);
    ws_base64(digest, 20, out);
    return true;
}

bool ws_utf8_valid(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int k;
        unsigned cp;
        if ((c & 0xE0) == 0xC0) k = 2, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0) k = 3, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0) k = 4, cp = c & 0x07;
        else return false;
        if (n - i < (size_t)k) return false;
        for (int t = 1; t < k; t++) {
            if ((p[i + t] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (p[i + t] & 0x3F);
        }
        static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += (size_t)k;
    }
    return true;
}
