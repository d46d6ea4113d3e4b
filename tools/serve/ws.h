/* ws.h — the WebSocket protocol (RFC 6455) pieces the server needs: the
 * opening handshake's accept key (SHA-1 + base64), frame headers, masking
 * and UTF-8 checking. Pure functions on buffers, no I/O, so they are tested
 * on their own (tests/test_serve_ws.c). */
#ifndef EMO_WS_H
#define EMO_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    WS_CONT = 0x0,
    WS_TEXT = 0x1,
    WS_BINARY = 0x2,
    WS_CLOSE = 0x8,
    WS_PING = 0x9,
    WS_PONG = 0xA,
};

/* Close codes (RFC 6455 section 7.4.1). */
enum {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL = 1002,
    WS_CLOSE_UNSUPPORTED = 1003,
    WS_CLOSE_BAD_DATA = 1007,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL = 1011,
};

#define WS_MAX_HEADER 14 /* 2 + 8 (length) + 4 (mask) */

typedef struct ws_frame {
    bool fin;
    int opcode;
    bool masked;
    uint8_t mask[4];
    uint64_t len;  /* payload bytes */
    size_t header; /* header bytes, payload starts there */
} ws_frame;

/* Parses the frame header at b[0..n). Returns the header's length (> 0),
 * 0 when more bytes are needed, or -1 for a frame the server must refuse,
 * with the close code to send in *close_code: reserved bits set, unknown
 * opcode, an unmasked client frame, a control frame that is fragmented or
 * longer than 125 bytes, a non-minimal or 2^63+ length (WS_CLOSE_PROTOCOL),
 * or a payload above max_payload (WS_CLOSE_TOO_BIG). */
int ws_parse_header(const uint8_t *b, size_t n, uint64_t max_payload, ws_frame *f, int *close_code);
/* XORs p[0..n) with the mask; `offset` is p's position in the payload, so a
 * payload can be unmasked in pieces. */
void ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t offset);
/* Writes a server frame header (FIN set, unmasked) for a payload of len
 * bytes into out; returns its length (2, 4 or 10). */
size_t ws_header(uint8_t out[10], int opcode, uint64_t len);

void ws_sha1(const void *data, size_t n, uint8_t out[20]);
/* Standard base64 with padding; out must hold 4 * ((n + 2) / 3) + 1 bytes.
 * Returns the length written (without the NUL). */
size_t ws_base64(const uint8_t *in, size_t n, char *out);
/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key; false when the key
 * is not the base64 of 16 bytes (24 characters ending in "=="). */
bool ws_accept_key(const char *client_key, char out[29]);
/* RFC 3629 UTF-8: no overlong forms, surrogates or code points > U+10FFFF. */
bool ws_utf8_valid(const uint8_t *p, size_t n);

#endif
