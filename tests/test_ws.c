/* test_ws.c — the server's WebSocket pieces (tools/serve/ws.c) on their
 * own: SHA-1 and base64 against published vectors, the RFC 6455 handshake
 * example, frame headers (lengths, masks, every refusal), UTF-8 checking.
 * The protocol over a socket is tested by tests/serve_ws.py. */
#include "../tools/serve/ws.c"
#include "emo.h"
#include "test.h"

static void hex(const uint8_t *d, int n, char *out) {
    for (int i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_sha1_vectors(void) {
    /* FIPS 180 examples, plus lengths around the 55/56/64-byte padding edges. */
    struct {
        const char *in;
        const char *want;
    } v[] = {
        {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
        {"The quick brown fox jumps over the lazy dog", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t d[20];
        char h[41];
        ws_sha1(v[i].in, strlen(v[i].in), d);
        hex(d, 20, h);
        CHECK_MSG(strcmp(h, v[i].want) == 0, "sha1(\"%s\") = %s, want %s", v[i].in, h, v[i].want);
    }
    /* A million 'a' (FIPS 180-1 appendix C). */
    static char big[1000000];
    memset(big, 'a', sizeof big);
    uint8_t d[20];
    char h[41];
    ws_sha1(big, sizeof big, d);
    hex(d, 20, h);
    CHECK_MSG(strcmp(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f") == 0, "sha1(a x 1e6) = %s", h);
}

static void test_base64(void) {
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"}; /* RFC 4648 */
    for (int i = 0; i < 7; i++) {
        char out[16];
        size_t n = ws_base64((const uint8_t *)in[i], strlen(in[i]), out);
        CHECK_MSG(strcmp(out, want[i]) == 0 && n == strlen(want[i]), "base64(%s) = %s", in[i], out);
    }
}

static void test_accept_key(void) {
    char out[29];
    /* RFC 6455 section 1.3's example. */
    CHECK(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out));
    CHECK_MSG(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0, "accept %s", out);
    CHECK(!ws_accept_key(NULL, out));
    CHECK(!ws_accept_key("short", out));
    CHECK(!ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=x", out));
    CHECK(!ws_accept_key("dGhlIHNhbXBsZSBub25j\"Q==", out));
    CHECK(!ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==x", out));
}

/* A masked client frame header. */
static size_t client_header(uint8_t *b, int b0, uint64_t len, const uint8_t mask[4]) {
    size_t n;
    b[0] = (uint8_t)b0;
    if (len < 126) b[1] = (uint8_t)(0x80 | len), n = 2;
    else if (len < 65536) b[1] = 0x80 | 126, b[2] = (uint8_t)(len >> 8), b[3] = (uint8_t)len, n = 4;
    else {
        b[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++) b[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        n = 10;
    }
    memcpy(b + n, mask, 4);
    return n + 4;
}

static void test_parse_header(void) {
    const uint8_t mask[4] = {1, 2, 3, 4};
    uint8_t b[16];
    ws_frame f;
    int code;
    const uint64_t lens[] = {0, 5, 125, 126, 1000, 65535, 65536, 5000000};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t n = client_header(b, 0x82, lens[i], mask);
        /* Every prefix asks for more bytes. */
        for (size_t k = 0; k < n; k++) CHECK_EQ_INT(ws_parse_header(b, k, 1 << 23, &f, &code), 0);
        CHECK_EQ_INT(ws_parse_header(b, n, 1 << 23, &f, &code), (int)n);
        CHECK_EQ_INT(f.len, lens[i]);
        CHECK(f.fin && f.opcode == WS_BINARY && f.masked && memcmp(f.mask, mask, 4) == 0);
    }
    /* Refusals and their close codes. */
    struct {
        int b0;
        uint64_t len;
        bool mask;
        int code;
    } bad[] = {
        {0x82, 10, false, WS_CLOSE_PROTOCOL},      /* unmasked */
        {0xC2, 10, true, WS_CLOSE_PROTOCOL},       /* RSV1 */
        {0x83, 10, true, WS_CLOSE_PROTOCOL},       /* reserved opcode */
        {0x8B, 10, true, WS_CLOSE_PROTOCOL},       /* reserved control opcode */
        {0x09, 10, true, WS_CLOSE_PROTOCOL},       /* fragmented ping */
        {0x89, 126, true, WS_CLOSE_PROTOCOL},      /* ping over 125 bytes */
        {0x82, 9000000, true, WS_CLOSE_TOO_BIG},   /* above max_payload */
        {0x82, 1ull << 63, true, WS_CLOSE_PROTOCOL} /* 64-bit length with the top bit */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = client_header(b, bad[i].b0, bad[i].len, mask);
        if (!bad[i].mask) b[1] &= 0x7F;
        CHECK_EQ_INT(ws_parse_header(b, n, 1 << 23, &f, &code), -1);
        CHECK_MSG(code == bad[i].code, "case %zu: close code %d, want %d", i, code, bad[i].code);
    }
    /* Non-minimal lengths: 16-bit form for 100, 64-bit form for 1000. */
    uint8_t nm[14] = {0x82, 0x80 | 126, 0, 100, 1, 2, 3, 4};
    CHECK_EQ_INT(ws_parse_header(nm, 8, 1 << 23, &f, &code), -1);
    uint8_t nm64[14] = {0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0x03, 0xE8, 1, 2, 3, 4};
    CHECK_EQ_INT(ws_parse_header(nm64, 14, 1 << 23, &f, &code), -1);
}

static void test_unmask_in_pieces(void) {
    const uint8_t mask[4] = {0xA1, 0xB2, 0xC3, 0xD4};
    uint8_t p[11], q[11];
    for (int i = 0; i < 11; i++) p[i] = q[i] = (uint8_t)(i * 7);
    ws_unmask(p, 11, mask, 0);
    ws_unmask(q, 3, mask, 0);
    ws_unmask(q + 3, 8, mask, 3);
    CHECK(memcmp(p, q, 11) == 0);
    ws_unmask(p, 11, mask, 0);
    for (int i = 0; i < 11; i++) CHECK_EQ_INT(p[i], i * 7);
}

static void test_server_header(void) {
    uint8_t h[10];
    CHECK_EQ_INT(ws_header(h, WS_TEXT, 5), 2);
    CHECK(h[0] == 0x81 && h[1] == 5);
    CHECK_EQ_INT(ws_header(h, WS_BINARY, 300), 4);
    CHECK(h[0] == 0x82 && h[1] == 126 && h[2] == 1 && h[3] == 44);
    CHECK_EQ_INT(ws_header(h, WS_BINARY, 70000), 10);
    CHECK(h[1] == 127 && h[7] == 1 && h[8] == 0x11 && h[9] == 0x70);
}

static void test_utf8(void) {
    CHECK(ws_utf8_valid((const uint8_t *)"", 0));
    CHECK(ws_utf8_valid((const uint8_t *)"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x84", 15));
    CHECK(!ws_utf8_valid((const uint8_t *)"\xC0\xAF", 2));         /* overlong '/' */
    CHECK(!ws_utf8_valid((const uint8_t *)"\xED\xA0\x80", 3));     /* surrogate */
    CHECK(!ws_utf8_valid((const uint8_t *)"\xF4\x90\x80\x80", 4)); /* above U+10FFFF */
    CHECK(!ws_utf8_valid((const uint8_t *)"\xE2\x82", 2));         /* cut short */
    CHECK(!ws_utf8_valid((const uint8_t *)"\xFF", 1));
}

static const test_case cases[] = {
    {"sha1_vectors", test_sha1_vectors},       {"base64", test_base64},
    {"accept_key", test_accept_key},           {"parse_header", test_parse_header},
    {"unmask_in_pieces", test_unmask_in_pieces}, {"server_header", test_server_header},
    {"utf8", test_utf8},
};

int main(int argc, char **argv) { return test_main(cases, TEST_COUNT(cases), argc, argv); }
