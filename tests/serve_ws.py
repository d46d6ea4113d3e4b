#!/usr/bin/python3
"""WebSocket checks of `emo serve` (GET /ws), run by tests/test_serve.sh.

A raw RFC 6455 client on the standard library only, so it can send what a
browser never would: unmasked frames, reserved bits, oversize lengths,
invalid UTF-8. Prints "ok NAME" / "FAIL NAME: why" lines.
Usage: serve_ws.py PORT JPEG [TINY_JPEG]
"""
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time

PORT = int(sys.argv[1])
JPEG = open(sys.argv[2], 'rb').read()
TINY = open(sys.argv[3], 'rb').read() if len(sys.argv) > 3 else None
GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
results = []


def check(name, cond, why=''):
    results.append(cond)
    print(('ok   ' if cond else 'FAIL ') + name + ('' if cond else ': ' + str(why)), flush=True)


def handshake(query='', key=None, version='13', extra=''):
    s = socket.create_connection(('127.0.0.1', PORT), timeout=20)
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    req = (f'GET /ws{query} HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\nUpgrade: websocket\r\n'
           f'Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: {key}\r\n'
           f'Sec-WebSocket-Version: {version}\r\n{extra}\r\n')
    s.sendall(req.encode())
    head = b''
    while b'\r\n\r\n' not in head:
        c = s.recv(1)
        if not c:
            break
        head += c
    return s, key, head.decode('latin-1')


def frame(opcode, payload, fin=True, mask=True, rsv=0, length=None):
    b0 = (0x80 if fin else 0) | rsv | opcode
    n = len(payload) if length is None else length
    if n < 126:
        hdr = struct.pack('!BB', b0, (0x80 if mask else 0) | n)
    elif n < 65536:
        hdr = struct.pack('!BBH', b0, (0x80 if mask else 0) | 126, n)
    else:
        hdr = struct.pack('!BBQ', b0, (0x80 if mask else 0) | 127, n)
    if not mask:
        return hdr + payload
    m = os.urandom(4)
    return hdr + m + bytes(b ^ m[i & 3] for i, b in enumerate(payload))


def recv_exact(s, n):
    out = b''
    while len(out) < n:
        c = s.recv(n - len(out))
        if not c:
            raise EOFError('connection closed')
        out += c
    return out


def read_msg(s):
    """(opcode, payload) of the next server frame (servers never mask)."""
    b0, b1 = recv_exact(s, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack('!H', recv_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack('!Q', recv_exact(s, 8))[0]
    return b0 & 0x0F, recv_exact(s, n)


def read_json(s):
    op, p = read_msg(s)
    assert op == 1, f'opcode {op}'
    return json.loads(p)


def close_code(s):
    """Reads until a close frame; its status code, or None."""
    try:
        for _ in range(20):
            op, p = read_msg(s)
            if op == 8:
                return struct.unpack('!H', p[:2])[0] if len(p) >= 2 else 1005
    except (EOFError, OSError):
        return None
    return None


def main():
    # Handshake and accept key.
    s, key, head = handshake()
    want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    check('handshake_101', head.startswith('HTTP/1.1 101'), head.split('\r\n')[0])
    check('handshake_accept_key', f'Sec-WebSocket-Accept: {want}' in head, head)
    hello = read_json(s)
    check('hello_lists_classes', hello.get('type') == 'hello' and len(hello.get('classes', [])) >= 2, hello)

    # One frame, one result.
    s.sendall(frame(2, JPEG))
    r = read_json(s)
    check('frame_result', r.get('type') == 'result' and r.get('frame') == 0 and 'faces' in r, r)
    if r.get('faces'):
        f = r['faces'][0]
        check('result_face_fields', set(f) >= {'box', 'track_id', 'emotion', 'scores'}, f)

    # A burst: every frame is answered, by a result or as dropped, in order.
    for _ in range(6):
        s.sendall(frame(2, JPEG))
    seen = []
    while len(seen) < 6:
        m = read_json(s)
        seen.append((m['type'], m['frame']))
    frames = sorted(n for _, n in seen)
    check('burst_all_answered', frames == list(range(1, 7)), seen)
    check('burst_last_analysed', ('result', 6) in seen, seen)

    # Fragmented binary message, with a ping in between.
    half = len(JPEG) // 2
    s.sendall(frame(2, JPEG[:half], fin=False))
    s.sendall(frame(9, b'hi'))
    s.sendall(frame(0, JPEG[half:], fin=True))
    op, p = read_msg(s)
    check('ping_pong', op == 10 and p == b'hi', (op, p))
    r = read_json(s)
    check('fragmented_frame', r.get('type') == 'result' and r.get('frame') == 7, r)

    # Not an image: an error message, the session goes on.
    s.sendall(frame(2, b'not a jpeg at all'))
    r = read_json(s)
    check('bad_frame_error', r.get('type') == 'error' and 'JPEG' in r.get('error', ''), r)
    s.sendall(frame(2, JPEG[:len(JPEG) // 3]))
    r = read_json(s)
    check('truncated_frame_error', r.get('type') == 'error', r)
    s.sendall(frame(2, JPEG))
    r = read_json(s)
    check('session_survives_bad_frames', r.get('type') == 'result', r)

    # Small answers are not held back (regression: header and payload went
    # in two writes without TCP_NODELAY, and each answer waited ~40 ms for
    # the client's delayed ACK).
    if TINY:
        times = []
        for _ in range(21):
            t0 = time.perf_counter()
            s.sendall(frame(2, TINY))
            m = read_json(s)
            times.append(time.perf_counter() - t0)
        med = sorted(times)[10] * 1000
        check('small_answers_not_delayed', med < 30, f'median round trip {med:.1f} ms')

    # Clean close: the code comes back.
    s.sendall(frame(8, struct.pack('!H', 1000) + b'bye'))
    check('close_echoed', close_code(s) == 1000)
    s.close()

    # Malformed frames: each closes the session with the right code.
    cases = [
        ('unmasked_frame_1002', frame(2, JPEG[:100], mask=False), 1002),
        ('reserved_bits_1002', frame(2, b'abc', rsv=0x40), 1002),
        ('unknown_opcode_1002', frame(3, b'abc'), 1002),
        ('long_ping_1002', frame(9, b'x' * 200), 1002),
        ('fragmented_ping_1002', frame(9, b'x', fin=False), 1002),
        ('stray_continuation_1002', frame(0, b'abc'), 1002),
        ('oversize_length_1009', frame(2, b'', length=1 << 40), 1009),
        ('bad_utf8_text_1007', frame(1, b'\xff\xfe\xc0\xaf'), 1007),
        ('bad_close_code_1002', frame(8, struct.pack('!H', 999)), 1002),
    ]
    for name, data, code in cases:
        s, _, head = handshake()
        read_json(s)  # hello
        s.sendall(data)
        got = close_code(s)
        check(name, got == code, f'close code {got}, wanted {code}')
        s.close()

    # Text messages are answered with an error, not a crash.
    s, _, _ = handshake()
    read_json(s)
    s.sendall(frame(1, json.dumps({'hello': 'server'}).encode()))
    r = read_json(s)
    check('text_message_error', r.get('type') == 'error', r)
    s.close()

    # A client that vanishes mid-frame.
    s, _, _ = handshake()
    read_json(s)
    s.sendall(frame(2, JPEG)[:1000])
    s.close()

    # Bad handshakes get 4xx answers.
    _, _, head = handshake(key='short')
    check('bad_key_400', head.startswith('HTTP/1.1 400'), head.split('\r\n')[0])
    _, _, head = handshake(version='8')
    check('old_version_426', head.startswith('HTTP/1.1 426'), head.split('\r\n')[0])
    _, _, head = handshake(query='?model=no-such-model')
    check('unknown_model_400', head.startswith('HTTP/1.1 400'), head.split('\r\n')[0])
    _, _, head = handshake(extra='Origin: http://evil.example\r\n')
    check('foreign_origin_403', head.startswith('HTTP/1.1 403'), head.split('\r\n')[0])

    # Settings in the query are taken.
    s, _, _ = handshake(query='?smooth=0.3&detect_every=2&min_face=40&neighbors=5')
    h = read_json(s)
    st = h.get('settings', {})
    check('settings_from_query', abs(st.get('smooth', 0) - 0.3) < 1e-6 and st.get('detect_every') == 2
          and st.get('min_face') == 40 and st.get('neighbors') == 5, h)
    s.close()
    time.sleep(0.3)


if __name__ == '__main__':
    try:
        main()
    except Exception as e:  # a crash of the server shows up here
        check('ws_suite_completed', False, repr(e))
    n_ok = sum(results)
    print(f'{n_ok} passed, {len(results) - n_ok} failed')
    sys.exit(0 if n_ok == len(results) else 1)
