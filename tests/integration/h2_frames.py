#!/usr/bin/env python3
"""HTTP/2 conformance and attack cases against askr-proxy, with frames built by hand
(hyperframe, hpack). Usage: h2_frames.py CASE PORT [ARG]. Prints what it saw; exit status 0
when the server behaved as RFC 9113 and Askr's limits say, 1 otherwise. With H2_TLS=1 in the
environment every connection is TLS with ALPN h2 (the server's certificate is not checked)."""

import os
import socket
import ssl
import struct
import sys
import time

from hpack import Decoder, Encoder
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame,
                              PingFrame, PriorityFrame, RstStreamFrame, SettingsFrame,
                              WindowUpdateFrame)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
NO_ERROR, PROTOCOL_ERROR, FLOW_CONTROL_ERROR, STREAM_CLOSED, CANCEL = 0, 1, 3, 5, 8
FRAME_SIZE_ERROR, REFUSED_STREAM, COMPRESSION_ERROR, ENHANCE_YOUR_CALM = 6, 7, 9, 11


class Conn:
    def __init__(self, port, settings=None, ack=True, rcvbuf=None):
        if rcvbuf:  # a small receive buffer, set before the handshake fixes the window scale
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(5)
            self.sock.connect(("127.0.0.1", port))
        else:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if os.environ.get("H2_TLS") == "1":
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")
            if self.sock.selected_alpn_protocol() != "h2":
                print("FAIL: ALPN chose %r, not h2" % self.sock.selected_alpn_protocol())
                sys.exit(1)
        self.enc = Encoder()
        self.buf = b""
        self.frames = []  # every frame received, in order
        self.closed = False
        self.send_failed = False
        self.sock.sendall(PREFACE + SettingsFrame(0, settings=settings or {}).serialize())
        self.ack = ack
        # Request bodies sent with send_body(), as the server's windows allow: what is left of
        # each, the streams' windows and the connection's.
        self.bodies, self.windows, self.initial, self.conn_window = {}, {}, 65535, 65535

    def send(self, *frames):
        data = b"".join(f if isinstance(f, bytes) else f.serialize() for f in frames)
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.send_failed = True  # what the server sent before it closed is still read

    def headers(self, sid, path="/a.txt", method="GET", extra=(), end_stream=True,
                end_headers=True, raw=None):
        fields = [(":method", method), (":scheme", "http"), (":authority", "localhost"),
                  (":path", path)] + list(extra)
        block = raw if raw is not None else self.enc.encode(fields)
        f = HeadersFrame(sid, block)
        if end_stream:
            f.flags.add("END_STREAM")
        if end_headers:
            f.flags.add("END_HEADERS")
        return f

    def read_frame(self, timeout):
        deadline = time.time() + timeout
        while True:
            if len(self.buf) >= 9:
                length = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) >= 9 + length:
                    f, n = Frame.parse_frame_header(memoryview(self.buf[:9]))
                    f.parse_body(memoryview(self.buf[9:9 + length]))
                    self.buf = self.buf[9 + length:]
                    self.frames.append(f)
                    if isinstance(f, SettingsFrame) and "ACK" not in f.flags and self.ack:
                        s = SettingsFrame(0)
                        s.flags.add("ACK")
                        self.send(s)
                    self.track_windows(f)
                    return f
            left = deadline - time.time()
            if left <= 0 or self.closed:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return None
            except (ConnectionResetError, ssl.SSLError):  # TLS: a reset or an unclean close
                data = b""
            if not data:
                self.closed = True
                return None
            self.buf += data

    def send_body(self, sid, data):
        """Sends `data` as the body of stream `sid` (END_STREAM with its last piece): what the
        windows allow now, the rest as the server opens them (read_frame)."""
        self.windows.setdefault(sid, self.initial)
        self.bodies[sid] = data
        self.send_bodies()

    def send_bodies(self):
        for sid in list(self.bodies):
            data = self.bodies[sid]
            while data and min(self.windows[sid], self.conn_window) > 0:
                k = min(16384, len(data), self.windows[sid], self.conn_window)
                f = DataFrame(sid, data[:k])
                data = data[k:]
                self.windows[sid] -= k
                self.conn_window -= k
                if not data:
                    f.flags.add("END_STREAM")
                self.send(f)
            if data:
                self.bodies[sid] = data
            else:
                del self.bodies[sid]

    def track_windows(self, f):
        if isinstance(f, SettingsFrame) and SettingsFrame.INITIAL_WINDOW_SIZE in f.settings:
            new = f.settings[SettingsFrame.INITIAL_WINDOW_SIZE]
            for sid in self.windows:
                self.windows[sid] += new - self.initial
            self.initial = new
        elif isinstance(f, WindowUpdateFrame):
            if f.stream_id == 0:
                self.conn_window += f.window_increment
            elif f.stream_id in self.windows:
                self.windows[f.stream_id] += f.window_increment
        else:
            return
        if self.bodies:
            self.send_bodies()

    # Reads until `pred(frame)` holds, the peer closes, or the time is up.
    def until(self, pred, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            f = self.read_frame(deadline - time.time())
            if f is None:
                return None
            if pred(f):
                return f
        return None

    def goaway(self, timeout=5):
        return self.until(lambda f: isinstance(f, GoAwayFrame), timeout)

    def wait_closed(self, timeout=5):
        deadline = time.time() + timeout
        while not self.closed and time.time() < deadline:
            self.read_frame(deadline - time.time())
        return self.closed

    def response(self, sid, timeout=5):
        """(status, body, rst_code or None) of stream `sid`."""
        status, body = None, b""
        deadline = time.time() + timeout
        dec = getattr(self, "dec", None)
        if dec is None:
            from hpack import Decoder
            dec = self.dec = Decoder()
        while time.time() < deadline:
            f = self.read_frame(deadline - time.time())
            if f is None:
                return status, body, "closed"
            if isinstance(f, HeadersFrame):
                hs = dict((k.decode() if isinstance(k, bytes) else k,
                           v.decode() if isinstance(v, bytes) else v) for k, v in dec.decode(f.data))
                if f.stream_id == sid and ":status" in hs and not hs[":status"].startswith("1"):
                    status = int(hs[":status"])
                if f.stream_id == sid and "END_STREAM" in f.flags:
                    return status, body, None
            elif isinstance(f, DataFrame):
                if f.stream_id == sid:
                    body += f.data
                if f.flow_controlled_length:
                    self.send(WindowUpdateFrame(0, f.flow_controlled_length))
                    if f.stream_id and "END_STREAM" not in f.flags:
                        self.send(WindowUpdateFrame(f.stream_id, f.flow_controlled_length))
                if f.stream_id == sid and "END_STREAM" in f.flags:
                    return status, body, None
            elif isinstance(f, RstStreamFrame) and f.stream_id == sid:
                return status, body, f.error_code
            elif isinstance(f, GoAwayFrame):
                if f.error_code != NO_ERROR or f.last_stream_id < sid:
                    return status, body, ("goaway", f.error_code)
        return status, body, "timeout"


STARTED = time.time()


def expect(cond, what):
    # The time since the start says which step waited, when one did.
    print(("ok" if cond else "FAIL") + " (%.2f s): " % (time.time() - STARTED) + what)
    if not cond:
        sys.exit(1)


def rst_of(c, sid, timeout=5):
    f = c.until(lambda f: (isinstance(f, RstStreamFrame) and f.stream_id == sid) or
                isinstance(f, GoAwayFrame), timeout)
    if isinstance(f, RstStreamFrame):
        return f.error_code
    return ("goaway", f.error_code) if f else None


def goaway_code(c, timeout=5):
    f = c.goaway(timeout)
    return f.error_code if f else None


def ping_until_closed(c, seconds):
    """PINGs a few times a second (well within the PING budget), reading meanwhile, until the
    server closes the connection or `seconds` pass; returns the seconds it took."""
    t = time.time()
    next_ping = 0
    while time.time() - t < seconds and not c.closed:
        if time.time() >= next_ping:
            c.send(PingFrame(0, b"12345678"))
            next_ping = time.time() + 0.3
        c.read_frame(0.1)
    return time.time() - t


# ---- Happy path and SETTINGS ------------------------------------------------------------------

def case_settings(port, arg):
    c = Conn(port)
    f = c.until(lambda f: isinstance(f, SettingsFrame) and "ACK" not in f.flags)
    expect(f is not None, "server SETTINGS received")
    expect(f.settings.get(SettingsFrame.MAX_CONCURRENT_STREAMS) == 100,
           "SETTINGS_MAX_CONCURRENT_STREAMS = 100 (%s)" % f.settings)
    c.send(c.headers(1))
    status, body, err = c.response(1)
    expect(status == 200 and err is None, "GET over h2c: %s %r %s" % (status, body[:40], err))


# ---- Frame sizes, stream states, flow control, HPACK, SETTINGS rules (RFC 9113) ----------------

def case_frame_too_large(port, arg):
    c = Conn(port)
    c.send(c.headers(1, end_stream=False, method="POST"))
    c.send(DataFrame(1, b"x" * 16385))  # above SETTINGS_MAX_FRAME_SIZE's default
    expect(goaway_code(c) == FRAME_SIZE_ERROR, "DATA over the frame size: GOAWAY FRAME_SIZE_ERROR")


def case_data_idle_stream(port, arg):
    c = Conn(port)
    c.send(DataFrame(1, b"x"))
    expect(goaway_code(c) == PROTOCOL_ERROR, "DATA on an idle stream: GOAWAY PROTOCOL_ERROR")


def case_even_stream(port, arg):
    c = Conn(port)
    c.send(c.headers(2))
    expect(goaway_code(c) == PROTOCOL_ERROR, "HEADERS on an even stream: PROTOCOL_ERROR")


def case_stream_id_backwards(port, arg):
    # Stream 5 opens; stream 3, skipped, is closed from then on (RFC 9113 §5.1.1): a HEADERS on
    # it is a connection error, never a request left without an answer.
    c = Conn(port)
    c.send(c.headers(5))
    status, _, err = c.response(5)
    expect(status == 200 and err is None, "stream 5 served (%s %s)" % (status, err))
    c.send(c.headers(3))
    f = c.goaway()
    expect(f is not None and f.error_code == PROTOCOL_ERROR and f.last_stream_id == 5,
           "HEADERS on a skipped stream: GOAWAY PROTOCOL_ERROR, last stream 5 (%s)" % (f,))


def case_data_after_end(port, arg):
    # A request answered only later: the stream is still open (half-closed) when "y" comes.
    c = Conn(port)
    c.send(c.headers(1, end_stream=False, method="POST", path="/sleep.php?ms=500"))
    d = DataFrame(1, b"x")
    d.flags.add("END_STREAM")
    c.send(d, DataFrame(1, b"y"))
    code = rst_of(c, 1)
    expect(code in (STREAM_CLOSED, ("goaway", STREAM_CLOSED)),
           "DATA after END_STREAM: STREAM_CLOSED (%s)" % (code,))


def case_window_zero_increment(port, arg):
    c = Conn(port)
    c.send(c.headers(1, end_stream=False, method="POST", path="/body.php"))  # stays open
    # WINDOW_UPDATE, stream 1, increment 0 (hyperframe refuses to build it).
    c.send(bytes.fromhex("000004080000000001") + b"\0\0\0\0")
    code = rst_of(c, 1)
    # A stream error, which nghttp2 makes a connection error (RFC 9113 §5.4.2 allows it).
    expect(code in (PROTOCOL_ERROR, ("goaway", PROTOCOL_ERROR)),
           "WINDOW_UPDATE of 0 on a stream: PROTOCOL_ERROR (%s)" % (code,))


def case_window_overflow(port, arg):
    c = Conn(port)
    c.send(WindowUpdateFrame(0, 2 ** 31 - 1), WindowUpdateFrame(0, 2 ** 31 - 1))
    expect(goaway_code(c) == FLOW_CONTROL_ERROR, "connection window over 2^31-1: FLOW_CONTROL_ERROR")


def case_settings_window_overflow(port, arg):
    # A stream's window at 2^31-1, then a SETTINGS frame raising the initial window by one: a
    # connection error (RFC 9113 §6.9.2), not the stream's alone.
    c = Conn(port)
    c.send(c.headers(1, end_stream=False, method="POST", path="/body.php"))  # stays open
    c.send(WindowUpdateFrame(1, 2 ** 31 - 1 - 65535))
    c.send(SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 65536}))
    expect(goaway_code(c) == FLOW_CONTROL_ERROR,
           "SETTINGS taking a stream's window over 2^31-1: GOAWAY FLOW_CONTROL_ERROR")


def case_flow_violation(port, arg):
    # The client sends more than the windows the server granted: PHP sleeps without reading
    # the body, so once the backend's backlog is full the stream's window stays closed. PHP
    # sleeps far longer than the violation takes to show: at its end it reads the rest of the
    # body, and what comes after the answer is no longer beyond a window.
    # The body stays within the connection's window (nghttp2 checks it first, and a violation
    # there would end the connection, not the stream): only the stream's window is broken.
    c = Conn(port, ack=True)
    n = 8 << 20
    c.send(c.headers(1, end_stream=False, method="POST", path="/sleep.php?s=15",
                     extra=[("content-length", str(n))]))

    def flow_error(f):
        return isinstance(f, (RstStreamFrame, GoAwayFrame)) and f.error_code == FLOW_CONTROL_ERROR

    f = None
    for _ in range(n // 16384):
        while f is None and not c.closed and c.conn_window < 16384:
            g = c.read_frame(5)
            if g is None:
                break
            if flow_error(g):
                f = g
        if f is not None or c.closed or c.conn_window < 16384:
            break
        c.conn_window -= 16384
        c.send(DataFrame(1, b"x" * 16384))
        if c.send_failed:
            break
    sent = time.time() - STARTED
    f = f or c.until(flow_error, 10)
    if f is None:
        print("the body was sent by %.2f s (send failed: %s); the connection %s; frames seen:" %
              (sent, c.send_failed, "closed" if c.closed else "stayed open"))
        for g in c.frames[:40]:
            print("  " + repr(g)[:160])
    expect(f is not None, "DATA beyond the window: FLOW_CONTROL_ERROR")


def case_hpack_bad_index(port, arg):
    c = Conn(port)
    c.send(c.headers(1, raw=b"\xff\x7f"))  # indexed field 254: nowhere in the tables
    expect(goaway_code(c) == COMPRESSION_ERROR, "bad HPACK index: GOAWAY COMPRESSION_ERROR")


def case_settings_ack_payload(port, arg):
    c = Conn(port)
    c.send(bytes.fromhex("000006040100000000") + b"\0\x03\0\0\0\x01")
    expect(goaway_code(c) == FRAME_SIZE_ERROR, "SETTINGS ACK with a payload: FRAME_SIZE_ERROR")


def case_settings_bad_length(port, arg):
    c = Conn(port)
    c.send(bytes.fromhex("000005040000000000") + b"\0\x03\0\0\0")
    expect(goaway_code(c) == FRAME_SIZE_ERROR, "SETTINGS length not a multiple of 6")


def case_settings_bad_push(port, arg):
    c = Conn(port)
    c.send(SettingsFrame(0, settings={SettingsFrame.ENABLE_PUSH: 2}))
    expect(goaway_code(c) == PROTOCOL_ERROR, "SETTINGS_ENABLE_PUSH = 2: PROTOCOL_ERROR")


def case_settings_bad_window(port, arg):
    c = Conn(port)
    c.send(SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 2 ** 31}))
    expect(goaway_code(c) == FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE 2^31: FLOW_CONTROL_ERROR")


def case_settings_bad_frame_size(port, arg):
    c = Conn(port)
    c.send(SettingsFrame(0, settings={SettingsFrame.MAX_FRAME_SIZE: 16383}))
    expect(goaway_code(c) == PROTOCOL_ERROR, "SETTINGS_MAX_FRAME_SIZE below 16384: PROTOCOL_ERROR")


# ---- Header validation: each is a stream error, and PHP never sees the request ---------------

BAD_HEADERS = {
    "uppercase": [("X-Upper", "1")],
    "connection": [("connection", "keep-alive")],
    "keep_alive": [("keep-alive", "5")],
    "transfer_encoding": [("transfer-encoding", "chunked")],
    "upgrade": [("upgrade", "websocket")],
    "te_gzip": [("te", "gzip")],
    "cr_value": [("x-a", "a\rb")],
    "lf_value": [("x-a", "a\nb")],
    "nul_value": [("x-a", "a\0b")],
    "host_mismatch": [("host", "other.example")],
}
# :authority values outside the host grammar: a redirect's Location must never be built of them.
BAD_AUTHORITIES = {
    "authority_userinfo": "localhost@evil.example",
    "authority_percent": "evil.example%2",
}


def case_bad_header(port, kind):
    c = Conn(port)
    if kind == "dup_path":
        raw = c.enc.encode([(":method", "GET"), (":scheme", "http"), (":path", "/count.php"),
                            (":path", "/count.php"), (":authority", "localhost")])
    elif kind == "no_method":
        raw = c.enc.encode([(":scheme", "http"), (":path", "/count.php"), (":authority", "x")])
    elif kind == "pseudo_after":
        raw = c.enc.encode([(":method", "GET"), (":scheme", "http"), ("x-a", "1"),
                            (":path", "/count.php"), (":authority", "x")])
    elif kind == "unknown_pseudo":
        raw = c.enc.encode([(":method", "GET"), (":scheme", "http"), (":path", "/count.php"),
                            (":authority", "x"), (":foo", "1")])
    elif kind in BAD_AUTHORITIES:
        raw = c.enc.encode([(":method", "GET"), (":scheme", "http"), (":path", "/count.php"),
                            (":authority", BAD_AUTHORITIES[kind])])
    elif kind == "empty_path":
        raw = c.enc.encode([(":method", "GET"), (":scheme", "http"), (":path", ""),
                            (":authority", "x")])
    else:
        raw = c.enc.encode([(":method", "GET"), (":scheme", "http"), (":authority", "localhost"),
                            (":path", "/count.php")] + BAD_HEADERS[kind])
    c.send(c.headers(1, raw=raw))
    code = rst_of(c, 1)
    expect(code in (PROTOCOL_ERROR, ("goaway", PROTOCOL_ERROR)),
           "%s: stream error PROTOCOL_ERROR (%s)" % (kind, code))
    # The connection goes on for other streams.
    c.send(c.headers(3))
    status, _, err = c.response(3)
    expect(kind in ("pseudo_after",) or status == 200, "the connection still serves (%s %s)" %
           (status, err))


def case_content_length_mismatch(port, arg):
    c = Conn(port)
    c.send(c.headers(1, path="/count.php", method="POST", end_stream=False,
                     extra=[("content-length", "10")]))
    d = DataFrame(1, b"12345")
    d.flags.add("END_STREAM")
    c.send(d)
    code = rst_of(c, 1)
    expect(code == PROTOCOL_ERROR, "content-length 10 with 5 DATA bytes: PROTOCOL_ERROR (%s)" %
           (code,))


def case_body_breaks_its_length(port, arg):
    # Bodies that break their content-length once their requests reached PHP (the head, then a
    # PING answered, then the DATA): one short of it, one beyond it. Each is a stream error.
    c = Conn(port)
    for sid, path, data in ((1, "/body.php?short", b"12345"), (3, "/body.php?over", b"x" * 20)):
        c.send(c.headers(sid, path=path, method="POST", end_stream=False,
                         extra=[("content-length", "10")]), PingFrame(0, b"12345678"))
        expect(c.until(lambda f: isinstance(f, PingFrame) and "ACK" in f.flags) is not None,
               "the PING after the head of stream %d is answered" % sid)
        d = DataFrame(sid, data)
        d.flags.add("END_STREAM")
        c.send(d)
        code = rst_of(c, sid)
        expect(code == PROTOCOL_ERROR, "content-length 10 with %d DATA bytes: PROTOCOL_ERROR (%s)"
               % (len(data), code))


def case_cut_response(port, arg):
    # PHP declares 10 bytes and ends after 5: the 5 go out, then the reset says the response is
    # cut short (INTERNAL_ERROR), as HTTP/1.1 sends them before it closes.
    c = Conn(port)
    c.send(c.headers(1, path="/cl_short.php"))
    status, body, err = c.response(1)
    expect(status == 200 and body == b"hello" and err == 2,
           "the bytes PHP wrote, then RST_STREAM INTERNAL_ERROR (%s %r %s)" % (status, body, err))
    c.send(c.headers(3))
    status, body, err = c.response(3)
    expect(status == 200 and err is None, "the connection still serves (%s %s)" % (status, err))


def case_expect_continue(port, arg):
    # A client that sends "expect: 100-continue" waits for 100 before its body (RFC 9110
    # §10.1.1: the server must not wait for the body first); curl waits a second without it.
    c = Conn(port)
    c.dec = Decoder()
    c.send(c.headers(1, path="/body.php", method="POST", end_stream=False,
                     extra=[("expect", "100-continue"), ("content-length", "3")]))
    f = c.until(lambda f: isinstance(f, (HeadersFrame, RstStreamFrame, GoAwayFrame)), 2)
    hs = dict(c.dec.decode(f.data)) if isinstance(f, HeadersFrame) else {}
    expect(hs.get(":status") == "100" and "END_STREAM" not in f.flags,
           "100 (Continue) before the body (%s %s)" % (f, hs))
    d = DataFrame(1, b"abc")
    d.flags.add("END_STREAM")
    c.send(d)
    status, body, err = c.response(1)
    expect(status == 200 and b'"length":3' in body, "then the answer: %s %r %s" %
           (status, body, err))


def case_connect(port, arg):
    # CONNECT (RFC 9113 §8.5: :method and :authority alone): the server tunnels nothing, 400.
    c = Conn(port)
    c.send(c.headers(1, raw=c.enc.encode([(":method", "CONNECT"), (":authority", "localhost:443")])))
    status, body, err = c.response(1)
    expect(status == 400 and err is None, "CONNECT: 400 (%s %s)" % (status, err))


def case_long_path(port, arg):
    # A :path longer than max_request_line (8 KiB here), within the header list size: 414, as
    # HTTP/1.1 answers such a request line, and the connection goes on.
    c = Conn(port)
    c.send(c.headers(1, path="/count.php?" + "a" * 9000))
    status, body, err = c.response(1)
    expect(status == 414, "a :path of 9 KB: 414 (%s %s)" % (status, err))
    c.send(c.headers(3, path="/a.txt?" + "a" * 8000))
    status, body, err = c.response(3)
    expect(status == 200 and err is None, "a :path of 8 KB: 200 (%s %s)" % (status, err))


def case_too_many_headers(port, arg):
    c = Conn(port)
    c.send(c.headers(1, path="/count.php", extra=[("x-h%d" % i, "v") for i in range(200)]))
    status, body, err = c.response(1)
    expect(status == 431, "200 fields: 431 (%s %s)" % (status, err))


def case_header_list_size(port, arg):
    c = Conn(port)
    # HPACK: one 4 KiB field indexed, then referenced many times: small on the wire, large
    # decoded (an HPACK bomb).
    big = ("x-big", "v" * 4000)
    fields = [(":method", "GET"), (":scheme", "http"), (":authority", "x"),
              (":path", "/count.php")] + [big] * 60
    c.send(c.headers(1, raw=c.enc.encode(fields)))
    status, body, err = c.response(1)
    expect(status == 431, "header list of 240 KB: 431 (%s %s)" % (status, err))


def case_cookies(port, arg):
    c = Conn(port)
    c.send(c.headers(1, path="/h2headers.php",
                     extra=[("cookie", "a=1"), ("cookie", "b=2"), ("x_under", "1"),
                            ("x.dot", "1")]))
    status, body, err = c.response(1)
    text = body.decode()
    expect(status == 200 and '"HTTP_COOKIE":"a=1; b=2"' in text, "cookie crumbs joined: " + text)
    expect("X_UNDER" not in text and "X_DOT" not in text, "names PHP would rewrite are dropped")
    expect('"SERVER_PROTOCOL":"HTTP/2.0"' in text, "SERVER_PROTOCOL is HTTP/2.0")
    expect('"HTTP_HOST":"localhost"' in text, "HTTP_HOST from :authority")
    # A client claiming https over cleartext is not believed: the scheme is the transport's.
    raw = c.enc.encode([(":method", "GET"), (":scheme", "https"), (":authority", "localhost"),
                        (":path", "/h2headers.php")])
    c.send(c.headers(3, raw=raw))
    status, body, err = c.response(3)
    text = body.decode()
    expect('"REQUEST_SCHEME":"http"' in text and '"HTTPS":""' in text,
           "the scheme is the transport's: " + text)


def case_big_head(port, arg):
    # A response head larger than 64 KiB (HEADERS and CONTINUATION frames), then another request
    # on the same connection.
    c = Conn(port)
    c.dec = Decoder()
    c.dec.max_header_list_size = 1 << 24
    c.send(c.headers(1, path=arg))
    block, fields = b"", None
    f = c.until(lambda f: isinstance(f, (HeadersFrame, ContinuationFrame, RstStreamFrame,
                                         GoAwayFrame)) and f.stream_id in (0, 1))
    while isinstance(f, (HeadersFrame, ContinuationFrame)):
        block += f.data
        if "END_HEADERS" in f.flags:
            fields = c.dec.decode(block)
            break
        f = c.until(lambda f: isinstance(f, ContinuationFrame) and f.stream_id == 1)
    expect(fields is not None, "a head for stream 1 (got %s)" % f)
    size = sum(len(k) + len(v) for k, v in fields)
    status = dict(fields).get(":status", dict(fields).get(b":status"))
    expect(status in ("200", b"200") and size > 90 * 1024,
           "status %s, a head of %d bytes" % (status, size))
    c.send(c.headers(3, path="/status.php"))
    status, body, err = c.response(3)
    expect(status == 200 and body == b"ok\n", "the next stream: %s %r %s" % (status, body, err))


def case_padded_values(port, arg):
    # Values with whitespace at their ends, as `curl -H 'X-A: b '` sends them: served, as nginx
    # serves them, and PHP sees them as HTTP/1.1 gives them, the whitespace dropped.
    c = Conn(port)
    c.send(c.headers(1, path="/h2headers.php",
                     extra=[("x-pad", "bar "), ("x-tab", "\tv\t"), ("user-agent", " ua/1.0 ")]))
    status, body, err = c.response(1)
    text = body.decode()
    expect(status == 200, "padded values served (%s %s)" % (status, err))
    expect('"HTTP_X_PAD":"bar"' in text and '"HTTP_X_TAB":"v"' in text and
           '"HTTP_USER_AGENT":"ua/1.0"' in text, "the whitespace at the ends dropped: " + text)


# ---- Limits and floods ------------------------------------------------------------------------

def case_concurrency(port, arg):
    c = Conn(port, ack=False)
    # 101 requests whose bodies never end: each stays open. The SETTINGS are not acknowledged
    # yet, so the one over the limit is refused, not a connection error.
    frames = [c.headers(2 * i + 1, path="/body.php", method="POST", end_stream=False)
              for i in range(101)]
    c.send(*frames)
    code = rst_of(c, 201)
    expect(code == REFUSED_STREAM, "stream 101 of 100: REFUSED_STREAM (%s)" % (code,))


def case_concurrency_acked(port, arg):
    c = Conn(port)
    # Our SETTINGS acknowledged first (Conn does it as it reads them): the stream over the limit
    # is still refused alone, and the connection goes on.
    c.until(lambda f: isinstance(f, SettingsFrame) and "ACK" in f.flags)
    frames = [c.headers(2 * i + 1, path="/body.php", method="POST", end_stream=False)
              for i in range(101)]
    c.send(*frames)
    code = rst_of(c, 201)
    expect(code == REFUSED_STREAM, "stream 101 of 100 after the ACK: REFUSED_STREAM (%s)" % (code,))
    c.send(PingFrame(0, b"12345678"))
    f = c.until(lambda f: isinstance(f, PingFrame) and "ACK" in f.flags)
    expect(f is not None, "the connection is still served after the refusal")
    expect(not any(isinstance(f, GoAwayFrame) for f in c.frames), "no GOAWAY")


def case_rapid_reset(port, arg):
    c = Conn(port)
    n = int(arg or 1000)
    for i in range(n):
        sid = 2 * i + 1
        c.send(c.headers(sid, path="/count.php"), RstStreamFrame(sid, 8))
        if c.send_failed:
            break
    code = goaway_code(c, 5)
    expect(code == ENHANCE_YOUR_CALM, "rapid reset: GOAWAY ENHANCE_YOUR_CALM (%s)" % (code,))
    expect(c.wait_closed(3), "connection closed")


def case_provoked_reset(port, arg):
    # "MadeYouReset" (CVE-2025-8671): requests that reach PHP, each then made to be reset by the
    # server (DATA beyond its content-length), one after the other. The resets the client
    # provokes spend the same budget as its own.
    c = Conn(port)
    n = int(arg or 1000)
    goaway = None
    for i in range(n):
        sid = 2 * i + 1
        c.send(c.headers(sid, path="/count.php", method="POST", end_stream=False,
                         extra=[("content-length", "1")]), PingFrame(0, struct.pack(">Q", i)))
        # The PING's answer: the head was read alone, and its request went to PHP.
        f = c.until(lambda f: isinstance(f, GoAwayFrame) or
                    (isinstance(f, PingFrame) and "ACK" in f.flags))
        if f is None or isinstance(f, GoAwayFrame):
            goaway = f
            break
        c.send(DataFrame(sid, b"xx"))
        if c.send_failed:
            break
    code = goaway.error_code if goaway else goaway_code(c)
    expect(code == ENHANCE_YOUR_CALM, "provoked resets: GOAWAY ENHANCE_YOUR_CALM (%s) after %d "
           "requests" % (code, i + 1))
    expect(c.wait_closed(3), "connection closed")


def case_cancel_in_flight(port, arg):
    # Streams the client cancels while PHP works on them: one before its response head, one in
    # the middle of its body; then one it leaves with the connection. The server's access log
    # says the rest.
    c = Conn(port)
    c.send(c.headers(1, path="/sleep.php?ms=1500"))
    c.send(c.headers(3, path="/trickle.php?n=20"))
    from hpack import Decoder
    dec = c.dec = Decoder()  # every head is decoded, for response() below to read stream 5's

    def first_line(f):
        if isinstance(f, HeadersFrame):
            dec.decode(f.data)
        return isinstance(f, DataFrame) and f.stream_id == 3

    f = c.until(first_line, 10)
    expect(f is not None, "the first line of stream 3")
    c.send(RstStreamFrame(1, 8), RstStreamFrame(3, 8))
    c.send(c.headers(5))
    status, body, err = c.response(5)
    expect(status == 200 and err is None, "the connection still serves (%s %s)" % (status, err))
    # A stream in flight when the client closes the connection.
    c.send(c.headers(7, path="/sleep.php?ms=1501"), PingFrame(0, b"12345678"))
    expect(c.until(lambda f: isinstance(f, PingFrame) and "ACK" in f.flags) is not None,
           "the PING after stream 7 is answered")
    c.sock.close()


def case_cancel_download(port, arg):
    # A 1 MiB file cancelled after its first DATA frame: the stream's window (64 KiB, never
    # opened) holds the rest back.
    c = Conn(port)
    c.send(c.headers(1, path="/big.bin"))
    f = c.until(lambda f: isinstance(f, DataFrame) and f.stream_id == 1, 10)
    expect(f is not None, "the first DATA frame of the file")
    c.send(RstStreamFrame(1, 8), PingFrame(0, b"12345678"))
    expect(c.until(lambda f: isinstance(f, PingFrame) and "ACK" in f.flags) is not None,
           "the PING after the reset is answered")


def case_continuation_flood(port, arg):
    c = Conn(port)
    block = c.enc.encode([(":method", "GET"), (":scheme", "http"), (":authority", "x"),
                          (":path", "/count.php")])
    c.send(c.headers(1, raw=block, end_headers=False))
    t = time.time()
    for _ in range(10000):
        c.send(ContinuationFrame(1, b"\x40\x01a\x01b"))  # literal a: b, again and again
        if c.send_failed:
            break
    code = goaway_code(c)
    expect(code in (ENHANCE_YOUR_CALM, PROTOCOL_ERROR), "CONTINUATION flood: GOAWAY (%s)" % code)
    expect(c.wait_closed(3), "closed in %.2f s" % (time.time() - t))


def flood(port, make, what):
    c = Conn(port)
    t = time.time()
    for i in range(5000):
        c.send(make(i))
        if c.send_failed:
            break
    code = goaway_code(c)
    expect(code == ENHANCE_YOUR_CALM, "%s flood: GOAWAY ENHANCE_YOUR_CALM (%s)" % (what, code))
    expect(c.wait_closed(3), "%s flood: closed in %.2f s" % (what, time.time() - t))


def case_ping_flood(port, arg):
    flood(port, lambda i: PingFrame(0, struct.pack(">Q", i)), "PING")


def case_ping_ack_flood(port, arg):
    # ACKs of PINGs the server never sent.
    def make(i):
        f = PingFrame(0, struct.pack(">Q", i))
        f.flags.add("ACK")
        return f
    flood(port, make, "PING ACK")


def case_unknown_frame_flood(port, arg):
    # Frames of a type the server does not know (RFC 9113 §5.5: ignored), with no payload.
    flood(port, lambda i: bytes([0, 0, 0, 0xfa, 0, 0, 0, 0, 0]), "unknown frame")


def case_settings_flood(port, arg):
    flood(port, lambda i: SettingsFrame(0, settings={SettingsFrame.HEADER_TABLE_SIZE: 4096}),
          "SETTINGS")


def case_priority_flood(port, arg):
    flood(port, lambda i: PriorityFrame(2 * i + 1, depends_on=0, stream_weight=16), "PRIORITY")


def case_window_update_flood(port, arg):
    flood(port, lambda i: WindowUpdateFrame(0, 1), "WINDOW_UPDATE")


def case_empty_data_flood(port, arg):
    # ARG "padded": DATA frames that carry padding and no data (PADDED, pad length 0 or 10),
    # which cost the client no window (nghttp2 gives padding back at once).
    c0 = [None]

    def make(i):
        if i == 0:  # a request whose body PHP waits for: the stream stays open
            return c0[0].headers(1, path="/body.php", method="POST", end_stream=False)
        if arg == "padded":
            pad = 10 * (i % 2)
            return bytes([0, 0, 1 + pad, 0, 0x8, 0, 0, 0, 1, pad]) + b"\0" * pad
        return DataFrame(1, b"")
    c = Conn(port)
    c0[0] = c
    t = time.time()
    for i in range(5000):
        c.send(make(i))
        if c.send_failed:
            break
    code = goaway_code(c)
    expect(code == ENHANCE_YOUR_CALM, "empty DATA flood: GOAWAY ENHANCE_YOUR_CALM (%s)" % code)
    expect(c.wait_closed(3), "closed in %.2f s" % (time.time() - t))


def case_zero_window(port, arg):
    # The client grants no window and keeps the connection busy with PINGs: the send timeout
    # (the [timeouts] send of the test config) cuts it.
    c = Conn(port, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 0})
    c.send(c.headers(1, path="/big.bin"))
    limit = float(arg or 3)
    took = ping_until_closed(c, limit + 3)
    expect(c.closed and took < limit + 2.5, "zero window: closed after %.2f s" % took)


def case_stalled_body(port, arg):
    # A PHP request whose body never comes: the body timer cuts it.
    c = Conn(port)
    c.send(c.headers(1, path="/body.php", method="POST", end_stream=False,
                     extra=[("content-length", "100")]))
    t = time.time()
    limit = float(arg or 1)
    closed = c.wait_closed(limit + 3)
    took = time.time() - t
    expect(closed and took >= limit - 0.2 and took < limit + 1.5,
           "unfinished request body: closed after %.2f s" % took)


def case_stalled_body_beside(port, arg):
    # A body that stops coming on a connection whose other streams are in progress (a load
    # balancer's, carrying many clients): its stream is reset when the body timer (ARG seconds)
    # runs out, as nginx resets it, and the others go on.
    c = Conn(port)
    c.send(c.headers(1, path="/body.php", method="POST", end_stream=False,
                     extra=[("content-length", "100")]), DataFrame(1, b"x"))
    limit = float(arg or 1)
    c.send(c.headers(3, path="/sleep.php?s=%g" % (limit * 2)))
    t = time.time()
    code = rst_of(c, 1, limit + 3)
    took = time.time() - t
    expect(code == CANCEL and took >= limit - 0.2 and took < limit + 1.5,
           "the stalled body's stream reset (CANCEL) after %.2f s: %s" % (took, code))
    status, body, err = c.response(3, limit * 2 + 3)
    expect(status == 200 and b"slept" in body and err is None,
           "the slow request beside it answered: %s %r %s" % (status, body, err))
    c.send(c.headers(5))
    status, body, err = c.response(5)
    expect(status == 200, "the connection serves on: %s %s" % (status, err))


def case_zero_window_beside(port, arg):
    # A download whose client grants it no window, on a connection whose other streams are in
    # progress (a load balancer's: one of its clients stopped reading): its stream is reset when
    # the send timer (ARG seconds) runs out, as nginx resets it, and the others go on.
    c = Conn(port, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 0})
    c.send(WindowUpdateFrame(0, 2 ** 30))
    limit = float(arg or 1)
    c.send(c.headers(1, path="/big.bin"))
    c.send(c.headers(3, path="/sleep.php?s=%g" % (limit * 2)), WindowUpdateFrame(3, 65535))
    t = time.time()
    from hpack import Decoder
    c.dec = Decoder()  # response() below reads on with it
    head = c.until(lambda f: isinstance(f, HeadersFrame) and f.stream_id == 1)
    expect(head is not None, "the download's head")
    c.dec.decode(head.data)
    code = rst_of(c, 1, limit + 3)
    took = time.time() - t
    expect(code == CANCEL and took >= limit - 0.2 and took < limit + 1.5,
           "the download without a window reset (CANCEL) after %.2f s: %s" % (took, code))
    status, body, err = c.response(3, limit * 2 + 3)
    expect(status == 200 and b"slept" in body and err is None,
           "the slow request beside it answered: %s %r %s" % (status, body, err))
    c.send(c.headers(5), WindowUpdateFrame(5, 65535))
    status, body, err = c.response(5)
    expect(status == 200, "the connection serves on: %s %s" % (status, err))


def case_answered_before_body(port, arg):
    # Answers that need no more of the request (a 405, a 413 on the declared length, a 503 of a
    # full pool), to a body larger than the stream's window: RST_STREAM NO_ERROR follows each
    # (RFC 9113 §8.1, as nginx does), so the client stops sending a body nobody reads, and the
    # stream ends (else it stays open while the client sends the rest, or for ever once its
    # window is closed).
    c = Conn(port)
    c.send(c.headers(1, path="/a.txt", method="POST", end_stream=False,
                     extra=[("content-length", "100000")]), DataFrame(1, b"x" * 10))
    c.send(c.headers(3, path="/body.php", method="POST", end_stream=False,
                     extra=[("content-length", str(1 << 30))]))
    got = collect(c, [1, 3], timeout=5)

    def rst(sid):  # the stream's RST_STREAM code, read by collect() or after it
        return next((f.error_code for f in c.frames
                     if isinstance(f, RstStreamFrame) and f.stream_id == sid), None)
    deadline = time.time() + 5
    while (rst(1) is None or rst(3) is None) and time.time() < deadline:
        if c.read_frame(deadline - time.time()) is None:
            break
    for sid, status in ((1, 405), (3, 413)):
        expect(got[sid][0] == status and rst(sid) == NO_ERROR,
               "stream %d answered %s, then RST_STREAM %s" % (sid, got[sid][0], rst(sid)))
    c.send(c.headers(5))  # the connection goes on
    status, body, err = c.response(5)
    expect(status == 200 and err is None, "stream 5 answered %s" % status)


def case_small_body_after_answer(port, arg):
    # A body that fits in the window the client has, sent after the answer came (curl sends a
    # form's head and body in two TLS records): no RST_STREAM; the body is let in and dropped,
    # and the stream ends with it. curl fails a request whose upload was reset, even with
    # NO_ERROR after a whole response.
    c = Conn(port)
    c.send(c.headers(1, path="/a.txt", method="POST", end_stream=False,
                     extra=[("content-length", "3")]))
    status, body, err = c.response(1)
    expect(status == 405 and err is None, "answered %s (%s) before the body" % (status, err))
    f = c.until(lambda f: isinstance(f, (RstStreamFrame, GoAwayFrame)), 0.5)
    expect(f is None, "nothing resets the stream while its body may come (%r)" % (f,))
    d = DataFrame(1, b"a=b")
    d.flags.add("END_STREAM")
    c.send(d, c.headers(3))
    status, body, err = c.response(3)
    expect(status == 200 and err is None, "the connection goes on: stream 3 answered %s" % status)
    resets = [g for g in c.frames if isinstance(g, (RstStreamFrame, GoAwayFrame))]
    expect(not resets, "no RST_STREAM or GOAWAY at all (%r)" % (resets,))


def case_empty_body_after_answer(port, arg):
    # "content-length: 0" on a head without END_STREAM (the client ends its stream with an
    # empty DATA frame after it): the request is whole with its head, so its answers (a file,
    # a 405, PHP's) are not followed by RST_STREAM, which clients such as curl take as an
    # upload cut short; the empty DATA frame ends each stream.
    c = Conn(port)
    for sid, method, path, want in ((1, "GET", "/a.txt", 200), (3, "POST", "/a.txt", 405),
                                    (5, "POST", "/h2headers.php", 200)):
        c.send(c.headers(sid, path=path, method=method, end_stream=False,
                         extra=[("content-length", "0")]))
        status, body, err = c.response(sid)
        expect(status == want and err is None,
               "%s %s answered %s (%s) before the end of the stream" % (method, path, status, err))
    f = c.until(lambda f: isinstance(f, (RstStreamFrame, GoAwayFrame)), 0.5)
    expect(f is None, "nothing resets the streams while their END_STREAM may come (%r)" % (f,))
    for sid in (1, 3, 5):
        d = DataFrame(sid, b"")
        d.flags.add("END_STREAM")
        c.send(d)
    c.send(c.headers(7))
    status, body, err = c.response(7)
    expect(status == 200 and err is None, "the connection goes on: stream 7 answered %s" % status)
    resets = [g for g in c.frames if isinstance(g, (RstStreamFrame, GoAwayFrame))]
    expect(not resets, "no RST_STREAM or GOAWAY at all (%r)" % (resets,))


def case_body_over_limit(port, arg):
    # max_body_size (arg bytes) on HTTP/2: a declared length over it is answered 413 at once; a
    # body of no declared length is answered 413 once it grows over it. Neither reaches PHP.
    limit = int(arg or 1024)
    c = Conn(port)
    c.send(c.headers(1, path="/count.php", method="POST", end_stream=False,
                     extra=[("content-length", str(4 * limit))]))
    c.send(c.headers(3, path="/count.php", method="POST", end_stream=False))
    for _ in range(4):
        c.send(DataFrame(3, b"y" * (limit // 2)))
    got = collect(c, [1, 3], timeout=10)
    for sid, what in ((1, "declared"), (3, "grown")):
        expect(got[sid][0] == 413, "%s length over max_body_size answered %s" % (what, got[sid][0]))


def case_stalled_body_pings(port, arg):
    # A PHP request whose body stops after its first byte, on a connection the client keeps
    # busy with PINGs: only body bytes count as progress, so the body timer still cuts it (and
    # frees the PHP worker that waits for the rest).
    c = Conn(port)
    c.send(c.headers(1, path="/body.php", method="POST", end_stream=False,
                     extra=[("content-length", "100")]), DataFrame(1, b"x"))
    limit = float(arg or 1)
    took = ping_until_closed(c, limit + 3)
    expect(c.closed and took >= limit - 0.2 and took < limit + 1.5,
           "unfinished request body, PINGs meanwhile: %s after %.2f s" %
           ("closed" if c.closed else "still open", took))


def case_idle(port, arg):
    c = Conn(port)
    t = time.time()
    code = goaway_code(c, 10)
    expect(code == NO_ERROR, "idle: GOAWAY NO_ERROR after %.2f s" % (time.time() - t))
    expect(c.wait_closed(3), "idle: closed")


def case_max_streams(port, arg):
    n = int(arg)
    c = Conn(port)
    for i in range(n):
        c.send(c.headers(2 * i + 1))
        status, _, err = c.response(2 * i + 1)
        expect(status == 200, "request %d: %s %s" % (i + 1, status, err))
    f = c.goaway(2) or next((f for f in c.frames if isinstance(f, GoAwayFrame)), None)
    expect(f is not None and f.error_code == NO_ERROR and f.last_stream_id == 2 * n - 1,
           "after %d streams: GOAWAY NO_ERROR, last stream %d" % (n, 2 * n - 1))


def case_backpressure(port, arg):
    # Stream 1: a large PHP response the client never grants a window for (beyond 64 KiB).
    # Stream 3, on the same connection, is still answered at once.
    c = Conn(port)
    c.send(WindowUpdateFrame(0, 2 ** 30))  # the connection's window is wide open
    c.send(c.headers(1, path="/big.php?mb=64"))
    time.sleep(0.5)
    c.send(c.headers(3, path="/a.txt"))
    deadline = time.time() + 5
    got3 = False
    while time.time() < deadline and not got3:
        f = c.read_frame(deadline - time.time())
        if f is None:
            break
        got3 = isinstance(f, DataFrame) and f.stream_id == 3 and "END_STREAM" in f.flags
    expect(got3, "stream 3 answered while stream 1 waits for its window")
    sys.stdout.flush()
    time.sleep(float(arg or 1))
    print("holding")  # the test reads the proxy's memory now
    sys.stdout.flush()
    time.sleep(2)


def case_stalled_neighbours(port, arg):
    """ARG PHP downloads whose client grants them no window (a paused download, a CDN's slow
    clients) hold what PHP wrote ahead of them, together more than the connection's 1 MiB;
    another PHP response on the same connection, whose window is open, still goes through."""
    n = int(arg)
    c = Conn(port, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 0})
    c.send(WindowUpdateFrame(0, 2 ** 30))
    for i in range(n):
        c.send(c.headers(1 + 2 * i, path="/big.php?mb=4"))
    from hpack import Decoder
    c.dec = Decoder()  # response() below reads on with it
    heads = set()  # PHP is writing each of them
    deadline = time.time() + 10
    while len(heads) < n and time.time() < deadline:
        f = c.read_frame(deadline - time.time())
        if f is None:
            break
        if isinstance(f, HeadersFrame):
            c.dec.decode(f.data)
            heads.add(f.stream_id)
    expect(len(heads) == n, "%d downloads without a window started (%d)" % (n, len(heads)))
    time.sleep(0.5)  # what PHP wrote fills what the server holds for them
    sid = 1 + 2 * n
    c.send(c.headers(sid, path="/big.php?mb=1"), WindowUpdateFrame(sid, 1 << 20))
    status, body, err = c.response(sid, 5)
    expect(status == 200 and len(body) == 1 << 20 and err is None,
           "a download with its window open beside them: %s, %d bytes, %s" %
           (status, len(body), err))


def case_graceful(port, arg):
    # A slow PHP request in flight; the test sends SIGTERM once the file ARG exists: after the
    # PING sent behind the request's HEADERS is answered, so the server has the stream.
    c = Conn(port)
    c.send(c.headers(1, path="/sleep.php?s=1"), PingFrame(0, b"inflight"))
    expect(c.until(lambda f: isinstance(f, PingFrame) and "ACK" in f.flags) is not None,
           "the PING behind the request was answered")
    open(arg, "w").close()
    print("sent")
    sys.stdout.flush()
    f = c.goaway(5)
    expect(f is not None and f.error_code == NO_ERROR and f.last_stream_id >= 1,
           "GOAWAY NO_ERROR while a stream is in flight")
    c.send(c.headers(3))  # after GOAWAY: not processed
    status, body, err = c.response(1, 10)
    expect(status == 200 and b"slept 1" in body, "the in-flight stream finished: %s %r %s" %
           (status, body, err))


def case_graceful_notice(port, arg):
    # RFC 9113 §6.8: the first GOAWAY of a graceful shutdown refuses nothing (last stream
    # 2^31-1) and comes with a PING; a request sent before that PING is answered is served, and
    # the final GOAWAY covers it. A second client that never answers the PING gets the final
    # GOAWAY all the same, about a second later. The test sends SIGTERM once the file ARG exists.
    a, b = Conn(port), Conn(port)
    for c in (a, b):
        c.send(PingFrame(0, b"settled!"))
        expect(c.until(lambda f: isinstance(f, PingFrame) and "ACK" in f.flags) is not None,
               "the connection is up")
    open(arg, "w").close()
    first = a.goaway(5)
    expect(first is not None and first.error_code == NO_ERROR and
           first.last_stream_id == 0x7fffffff,
           "first GOAWAY: NO_ERROR, last stream 2^31-1 (%s)" %
           ((first.error_code, first.last_stream_id) if first else None,))
    ping = a.until(lambda f: isinstance(f, PingFrame) and "ACK" not in f.flags, 5)
    expect(ping is not None, "a PING follows the first GOAWAY")
    a.send(a.headers(1))  # sent while the first GOAWAY was in flight
    ack = PingFrame(0, ping.opaque_data)
    ack.flags.add("ACK")
    a.send(ack)
    status, body, err = a.response(1, 5)
    expect(status == 200 and body == b"first\n" and err is None,
           "the request sent after the first GOAWAY: %s %r %s" % (status, body, err))
    final = [f for f in a.frames if isinstance(f, GoAwayFrame)][1:] or [a.goaway(5)]
    expect(final[0] is not None and final[0].last_stream_id == 1 and
           final[0].error_code == NO_ERROR,
           "final GOAWAY: last stream 1 (%s)" % ((final[0].last_stream_id,) if final[0] else None,))
    expect(a.wait_closed(5), "the connection closes")
    t = time.time()
    got = [f for f in b.frames if isinstance(f, GoAwayFrame)]
    while len(got) < 2 and not b.closed and time.time() - t < 5:
        f = b.goaway(5 - (time.time() - t))
        if f:
            got.append(f)
    expect(len(got) == 2 and got[1].last_stream_id == 0,
           "a client that does not answer the PING: final GOAWAY after %.2f s (%s)" %
           (time.time() - t, [(f.last_stream_id, f.error_code) for f in got]))
    expect(b.wait_closed(5), "its connection closes")


def case_client_goaway(port, arg):
    # The client's GOAWAY bounds the streams the server would open, not the client's: a request
    # after it, once nothing is in flight, is served; then one sent in the same write, to PHP.
    c = Conn(port)
    c.send(c.headers(1))
    status, body, err = c.response(1)
    expect(status == 200 and body == b"first\n", "the request before GOAWAY: %s %s" % (status, err))
    c.send(GoAwayFrame(0, last_stream_id=0, error_code=NO_ERROR))
    c.send(PingFrame(0, b"aftergoa"))
    expect(c.until(lambda f: isinstance(f, PingFrame) and "ACK" in f.flags) is not None,
           "the PING after the GOAWAY is answered")
    c.send(c.headers(3))
    status, body, err = c.response(3)
    expect(status == 200 and body == b"first\n", "the request after GOAWAY: %s %s" % (status, err))
    c.send(GoAwayFrame(0, last_stream_id=0, error_code=NO_ERROR), c.headers(5, path="/count.php"))
    status, body, err = c.response(5)
    expect(status == 200, "a PHP request behind a second GOAWAY: %s %s" % (status, err))


def case_priority_bad_length(port, arg):
    # A PRIORITY frame of 4 bytes on a stream whose PHP request waits for its body: that stream
    # is reset with FRAME_SIZE_ERROR (RFC 9113 §6.3) and the connection goes on; one of 6 bytes
    # on a stream never opened is dropped.
    c = Conn(port)
    c.send(c.headers(1, path="/body.php", method="POST", end_stream=False,
                     extra=[("content-length", "10")]))
    c.send(b"\x00\x00\x04\x02\x00\x00\x00\x00\x01" + b"\x00" * 4)
    code = rst_of(c, 1)
    expect(code == FRAME_SIZE_ERROR, "its stream is reset with FRAME_SIZE_ERROR (%s)" % (code,))
    c.send(b"\x00\x00\x06\x02\x00\x00\x00\x00\x09" + b"\x00" * 6)
    c.send(c.headers(3, path="/count.php"))
    status, body, err = c.response(3)
    expect(status == 200 and err is None, "the connection goes on: %s %s" % (status, err))


def case_unknown_length_post(port, arg):
    c = Conn(port)
    c.send(c.headers(1, path="/body.php", method="POST", end_stream=False))
    payload = bytes(range(256)) * 400  # 100 KiB, more than one window
    c.send_body(1, payload)  # as the windows allow, the rest while the response is awaited
    status, body, err = c.response(1, 10)
    import hashlib
    expect(status == 200 and hashlib.sha256(payload).hexdigest().encode() in body,
           "POST without content-length streamed to PHP: %s %r" % (status, body[:200]))


def case_upload_waits(port, arg):
    """An 8 MiB upload to PHP stops to wait for the server's windows at most ARG times. A client
    pays a round trip for each wait (50 ms across a continent): with 64 KiB windows an upload
    went at 64 KiB a round trip, over a hundred waits, where HTTP/1.1 and nginx take the body as
    fast as the network brings it."""
    import hashlib
    size = 8 << 20
    payload = bytes(range(256)) * (size // 256)
    c = Conn(port)
    c.send(c.headers(1, path="/body.php", method="POST", end_stream=False,
                     extra=[("content-length", str(size))]))
    c.send_body(1, payload)
    waits = 0
    deadline = time.time() + 30
    while 1 in c.bodies and time.time() < deadline:
        left = len(c.bodies[1])
        if c.read_frame(deadline - time.time()) is None:
            break
        if 1 not in c.bodies or len(c.bodies[1]) < left:
            waits += 1  # a window opened after the client had to stop
    status, body, err = c.response(1, 10)
    expect(status == 200 and hashlib.sha256(payload).hexdigest().encode() in body,
           "8 MiB went whole through PHP: %s %r %s" % (status, body[:200], err))
    expect(waits <= int(arg), "the upload waited for a window %d times, at most %s" % (waits, arg))


def upload(c, sids, size, conn_window=65535, timeout=20):
    """POSTs `size` bytes to body.php on each stream of `sids` at once, as the windows allow
    (`conn_window`: what is left of the connection's); the number of streams answered 200 with
    the body's SHA-256, and a summary of what happened."""
    import hashlib
    from hpack import Decoder
    payload = bytes((i * 31) % 251 for i in range(size))
    want = hashlib.sha256(payload).hexdigest().encode()
    dec = getattr(c, "dec", None) or Decoder()
    c.dec = dec
    for sid in sids:
        c.send(c.headers(sid, path="/body.php", method="POST", end_stream=False,
                         extra=[("content-length", str(size))]))
    initial = c.initial  # the server's SETTINGS may have been read already
    window, sent = {sid: initial for sid in sids}, {sid: 0 for sid in sids}
    status, body = {}, {sid: b"" for sid in sids}
    ended = set()
    deadline = time.time() + timeout
    while len(ended) < len(sids) and time.time() < deadline:
        for sid in sids:  # as much of each body as the windows allow
            while sent[sid] < size and min(window[sid], conn_window) > 0:
                k = min(16384, size - sent[sid], window[sid], conn_window)
                f = DataFrame(sid, payload[sent[sid]:sent[sid] + k])
                sent[sid] += k
                window[sid] -= k
                conn_window -= k
                if sent[sid] == size:
                    f.flags.add("END_STREAM")
                c.send(f)
        f = c.read_frame(deadline - time.time())
        if f is None:
            break
        if isinstance(f, WindowUpdateFrame):
            if f.stream_id == 0:
                conn_window += f.window_increment
            elif f.stream_id in window:
                window[f.stream_id] += f.window_increment
        elif isinstance(f, SettingsFrame) and SettingsFrame.INITIAL_WINDOW_SIZE in f.settings:
            new = f.settings[SettingsFrame.INITIAL_WINDOW_SIZE]
            for sid in sids:
                window[sid] += new - initial
            initial = new
        elif isinstance(f, HeadersFrame):
            status[f.stream_id] = dict(dec.decode(f.data)).get(":status")
        elif isinstance(f, DataFrame) and f.stream_id in body:
            body[f.stream_id] += f.data
        elif isinstance(f, (RstStreamFrame, GoAwayFrame)):
            expect(False, "%r while uploading" % f)
        if f.stream_id in body and "END_STREAM" in f.flags:
            ended.add(f.stream_id)
    good = [sid for sid in ended if status.get(sid) == "200" and want in body[sid]]
    return len(good), "%d ended; %d bytes sent, connection window left %d" % (
        len(ended), sum(sent.values()), conn_window)


def case_concurrent_uploads(port, arg):
    """ARG uploads of 512 KiB at once on one connection to a pool that runs two at a time: the
    uploads waiting for PHP hold their bodies against their own stream windows, never the
    connection's, so the two PHP is reading go on to their end and the others follow."""
    n = int(arg)
    good, what = upload(Conn(port), [1 + 2 * i for i in range(n)], 512 * 1024)
    expect(good == n, "%d uploads of %d went whole through PHP (%s)" % (good, n, what))


def case_dropped_bodies(port, arg):
    """Uploads that never reach a handler (reset by the client in the read that brought their
    head and first DATA) give their bytes back to the connection's window: a 1 MiB upload
    after them goes through."""
    c = Conn(port)
    n, size = int(arg), 16000
    for i in range(n):
        sid = 1 + 2 * i
        c.send(c.headers(sid, path="/body.php", method="POST", end_stream=False),
               DataFrame(sid, b"x" * size), RstStreamFrame(sid, 8),
               PingFrame(0, struct.pack(">Q", i)))
        # The PING's answer: the server read the group (and the next one comes in a read of
        # its own).
        if c.until(lambda f: isinstance(f, PingFrame) and "ACK" in f.flags) is None:
            expect(False, "PING %d answered" % i)
    credit = sum(f.window_increment for f in c.frames
                 if isinstance(f, WindowUpdateFrame) and f.stream_id == 0)
    sid = 1 + 2 * n
    good, what = upload(c, [sid], 1 << 20, conn_window=65535 + credit - n * size, timeout=10)
    expect(good == 1, "after %d uploads reset at once, a 1 MiB upload went whole through PHP "
           "(%s)" % (n, what))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def case_queued_bodies_memory(port, arg):
    """PID:CONNS:STREAMS:SIZE:BOUND_KIB. CONNS connections each first take the pool's one
    connection with a slow GET, then POST SIZE bytes on STREAMS more streams at once and send as
    much of each body as the windows let them. Those streams wait for PHP: the bodies they may
    send ahead of a handler that reads them must stay small, whatever the client would send,
    so the server (PID) grows by less than BOUND_KIB."""
    pid, conns, streams, size, bound = (int(x) for x in arg.split(":"))
    cs = []
    for _ in range(conns):
        c = Conn(port)
        c.send(c.headers(1, path="/sleep.php?s=20"))
        cs.append(c)
    for i, c in enumerate(cs):  # SETTINGS exchanged both ways, the slow GET dispatched
        c.send(PingFrame(0, struct.pack(">Q", i)))
        expect(c.until(lambda f: isinstance(f, PingFrame) and "ACK" in f.flags) is not None,
               "PING %d answered" % i)
    before = rss_kib(pid)
    sids = [3 + 2 * i for i in range(streams)]
    state = []
    for c in cs:
        initial, conn = 65535, 65535  # and what the frames read so far changed of them
        for f in c.frames:
            if isinstance(f, SettingsFrame) and SettingsFrame.INITIAL_WINDOW_SIZE in f.settings:
                initial = f.settings[SettingsFrame.INITIAL_WINDOW_SIZE]
            elif isinstance(f, WindowUpdateFrame) and f.stream_id == 0:
                conn += f.window_increment
        for sid in sids:
            c.send(c.headers(sid, path="/body.php", method="POST", end_stream=False,
                             extra=[("content-length", str(size))]))
        state.append({"conn": conn, "win": {sid: initial for sid in sids},
                      "sent": {sid: 0 for sid in sids}})
    piece = b"q" * 16384
    total = 0
    deadline = time.time() + 60
    quiet_since = time.time()
    while time.time() < deadline and time.time() - quiet_since < 2:
        moved = False
        for c, st in zip(cs, state):
            for sid in sids:  # as much of each body as the windows allow
                while st["sent"][sid] < size and min(st["win"][sid], st["conn"]) > 0:
                    k = min(len(piece), size - st["sent"][sid], st["win"][sid], st["conn"])
                    c.send(DataFrame(sid, piece[:k]))
                    st["sent"][sid] += k
                    st["win"][sid] -= k
                    st["conn"] -= k
                    total += k
                    moved = True
            while True:  # the windows the server opened meanwhile
                f = c.read_frame(0.05)
                if f is None:
                    break
                if isinstance(f, WindowUpdateFrame):
                    if f.stream_id == 0:
                        st["conn"] += f.window_increment
                    elif f.stream_id in st["win"]:
                        st["win"][f.stream_id] += f.window_increment
                elif isinstance(f, (RstStreamFrame, GoAwayFrame)):
                    expect(False, "%r while uploading" % f)
        if moved:
            quiet_since = time.time()
    after = rss_kib(pid)
    expect(not any(c.closed for c in cs), "the connections are open")
    grew = after - before
    expect(grew < bound, "%d streams on %d connections sent %d KiB ahead of PHP; the server grew "
           "by %d KiB (%d -> %d), less than %d" % (streams * conns, conns, total >> 10, grew,
                                                   before, after, bound))


# ---- Reuse of per-stream objects ------------------------------------------------------------------

def collect(c, sids, timeout=20):
    """{sid: [status, headers dict, body, rst code]} of streams `sids`, read together: every
    stream's DATA is acknowledged (WINDOW_UPDATE) as it comes, so they all make progress. Why
    the reading stopped goes to c.ended: None (every stream ended), ("goaway", code,
    last_stream_id, debug data), "eof" (the connection closed) or "timeout"; the streams that
    ended (END_STREAM or RST_STREAM) to c.ended_streams."""
    from hpack import Decoder
    dec = getattr(c, "dec", None) or Decoder()
    c.dec = dec
    out = {sid: [None, {}, b"", None] for sid in sids}
    done = set()
    c.ended, c.ended_streams = None, done
    deadline = time.time() + timeout
    while len(done) < len(sids):
        if time.time() >= deadline:
            c.ended = "timeout"
            break
        f = c.read_frame(deadline - time.time())
        if f is None:
            c.ended = "eof" if c.closed else "timeout"
            break
        if isinstance(f, HeadersFrame):
            hs = dict((k.decode() if isinstance(k, bytes) else k,
                       v.decode() if isinstance(v, bytes) else v) for k, v in dec.decode(f.data))
            if f.stream_id in out and not hs.get(":status", "2").startswith("1"):
                out[f.stream_id][0] = int(hs[":status"])
                out[f.stream_id][1] = hs
        elif isinstance(f, DataFrame):
            if f.stream_id in out:
                out[f.stream_id][2] += f.data
            if f.flow_controlled_length:
                c.send(WindowUpdateFrame(0, f.flow_controlled_length))
                if "END_STREAM" not in f.flags:
                    c.send(WindowUpdateFrame(f.stream_id, f.flow_controlled_length))
        elif isinstance(f, RstStreamFrame) and f.stream_id in out:
            out[f.stream_id][3] = f.error_code
            done.add(f.stream_id)
            continue
        elif isinstance(f, GoAwayFrame):
            c.ended = ("goaway", f.error_code, f.last_stream_id, bytes(f.additional_data))
            break
        if f.stream_id in out and "END_STREAM" in f.flags:
            done.add(f.stream_id)
    return out


def why_bad(c, sid, got, want):
    """What is wrong with stream `sid` of a collect() answer, whose body should be `want`
    (None: any): its status, etag, body length against the expected one and the first byte that
    differs, its RST_STREAM code, whether it ended, and why collect() stopped reading."""
    status, hs, body, rst = got[sid]
    parts = ["stream %d: status %s etag %s" % (sid, status, hs.get("etag"))]
    if want is not None:
        parts.append("body %d bytes of %d" % (len(body), len(want)))
        diff = next((i for i, (a, b) in enumerate(zip(body, want)) if a != b), None)
        if diff is not None:
            parts.append("first differing byte at %d" % diff)
        elif len(body) != len(want):
            parts.append("a prefix of it" if len(body) < len(want) else "longer")
    if rst is not None:
        parts.append("RST_STREAM %d" % rst)
    if sid not in getattr(c, "ended_streams", ()):
        parts.append("not ended (reading stopped: %s)" % (c.ended,))
    return ", ".join(parts)


def case_reuse(port, arg):
    """Many rounds of streams on one connection, each stream different from the one whose
    objects it reuses: static files of several sizes (HEAD too), PHP echoing the request's
    headers (sets and sizes that differ per stream, cookies on some), POST bodies of several
    sizes. Each response must match its own request, never the previous stream's."""
    import hashlib
    import json
    import random
    rounds, root = arg.split(":", 1)
    rnd = random.Random(7)
    files = sorted(n for n in os.listdir(root) if n.startswith("r") and n.endswith(".bin"))
    content = {n: open(os.path.join(root, n), "rb").read() for n in files}
    c = Conn(port)
    sid = 1
    for r in range(int(rounds)):
        batch = []
        for i in range(rnd.randint(5, 24)):
            kind = rnd.choice(["static", "static", "head", "php", "php", "post"])
            extra = [("x-r%d-%d" % (r, j), "%d-%d-%d-" % (r, i, j) + "v" * rnd.randint(0, 900))
                     for j in range(rnd.randint(0, 12))]
            if rnd.random() < 0.3:
                extra.append(("cookie", "c%d=%d" % (r, i)))
            if rnd.random() < 0.3:
                extra.append(("user-agent", "ua-%d-%d" % (r, i)))
            body = None
            if kind in ("static", "head"):
                name = rnd.choice(files)
                c.send(c.headers(sid, path="/" + name, method="HEAD" if kind == "head" else "GET",
                                 extra=extra))
            elif kind == "php":
                name = "/h2headers.php"
                c.send(c.headers(sid, path=name + "?r=%d&i=%d" % (r, i), extra=extra))
            else:
                name = "/body.php"
                body = bytes(rnd.getrandbits(8) for _ in range(rnd.choice([0, 1, 5000, 70000])))
                c.send(c.headers(sid, path=name, method="POST", end_stream=not body,
                                 extra=extra + [("content-length", str(len(body)))]))
                if body:  # as the windows allow: the rest once PHP reads (collect() reads on)
                    c.send_body(sid, body)
            batch.append((sid, kind, name, extra, body))
            sid += 2
        got = collect(c, [b[0] for b in batch])
        for s, kind, name, extra, body in batch:
            status, hs, data, rst = got[s]
            what = "round %d stream %d %s %s" % (r, s, kind, name)
            expect(status == 200 and rst is None, what + ": 200 (%s %s)" % (status, rst))
            if kind == "static":
                want = content[name.lstrip("/")]
                expect(data == want, what + ": the file's bytes (%d of %d)" % (len(data), len(want)))
                expect(hs.get("content-length") == str(len(want)), what + ": its content-length")
            elif kind == "head":
                want = content[name.lstrip("/")]
                expect(data == b"" and hs.get("content-length") == str(len(want)),
                       what + ": no body, the file's length (%s)" % hs.get("content-length"))
            elif kind == "php":
                j = json.loads(data)
                mine = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in extra}
                seen = {k: v for k, v in j.items() if k.startswith("HTTP_X_R")}
                expect(seen == {k: v for k, v in mine.items() if k.startswith("HTTP_X_R")},
                       what + ": exactly its own x- headers")
                expect(j.get("HTTP_COOKIE") == mine.get("HTTP_COOKIE"), what + ": its cookie")
                expect(j.get("HTTP_USER_AGENT") == mine.get("HTTP_USER_AGENT"),
                       what + ": its user-agent")
                expect(j.get("HTTP_HOST") == "localhost", what + ": HTTP_HOST")
            else:
                j = json.loads(data)
                # An empty body is no body: PHP sees no CONTENT_LENGTH, as for a GET.
                expect(j["length"] == len(body) and j["sha256"] == hashlib.sha256(body).hexdigest()
                       and j["CONTENT_LENGTH"] in (str(len(body)) if body else ("", "0")),
                       what + ": its body (%d bytes: %s)" % (len(body), data[:300]))
    expect(not any(isinstance(f, GoAwayFrame) for f in c.frames), "no GOAWAY")


def case_replaced_midsend(port, arg):
    """Cached files go out from the cache, not copied: responses to a client that does not read
    stay in flight while the file is rewritten and its cache entry replaced (a new second), and
    other connections get the new bytes meanwhile. Every response must still be whole and be the
    bytes its own head describes (its etag), never the new entry's nor freed memory."""
    root = arg
    path = os.path.join(root, "m.bin")
    size = 16000
    old = bytes((i * 7 + 1) % 251 for i in range(size))
    new = bytes((i * 13 + 5) % 241 for i in range(size))
    with open(path, "wb") as f:
        f.write(old)
    os.utime(path, (1000000000, 1000000000))
    first = Conn(port)
    first.send(first.headers(1, path="/m.bin"))
    got = collect(first, [1])[1]
    expect(got[0] == 200 and got[2] == old, "the first version (%s)" % got[0])
    etag_old = got[1].get("etag")
    # Many streams of it, not read: more than the server's socket takes (its send buffer grows
    # to megabytes, by as much as the kernel sees fit) waits in its sends, and the responses of
    # the streams it keeps open wait behind them. Those alone are more than the socket could
    # take (the test's server allows enough streams), so that some old responses are held in
    # the server when the entry goes, however large the socket's buffer grew. Streams over the
    # concurrency limit are refused.
    settings = next(f for f in first.frames if isinstance(f, SettingsFrame) and f.settings)
    concurrency = settings.settings[SettingsFrame.MAX_CONCURRENT_STREAMS]
    wmem_max = int(open("/proc/sys/net/ipv4/tcp_wmem").read().split()[2])
    expect(concurrency * size > wmem_max, "%d streams of %d bytes are more than a socket's %d" %
           (concurrency, size, wmem_max))
    slow = Conn(port, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 1 << 20}, rcvbuf=4096)
    slow.send(WindowUpdateFrame(0, 256 << 20))
    sids = []
    for r in range((concurrency + wmem_max // size) // 100 + 2):
        round_sids = list(range(1 + 200 * r, 200 * (r + 1), 2))
        slow.send(*[slow.headers(sid, path="/m.bin") for sid in round_sids])
        sids += round_sids
        time.sleep(0.1)
    time.sleep(0.3)
    print("(%.2f s) %d streams asked for, not read" % (time.time() - STARTED, len(sids)))
    with open(path + ".new", "wb") as f:
        f.write(new)
    os.utime(path + ".new", (1000000100, 1000000100))
    os.rename(path + ".new", path)
    time.sleep(1.2)  # the next second: the cache lets the old entry go
    other = Conn(port)
    osids = list(range(1, 80, 2))
    other.send(*[other.headers(sid, path="/m.bin") for sid in osids])
    ogot = collect(other, osids)
    obad = [s for s in osids if ogot[s][0] != 200 or ogot[s][2] != new or ogot[s][3] is not None]
    for s in obad[:10]:
        print("bad: " + why_bad(other, s, ogot, new))
    expect(not obad, "other connections get the new version (bad: %s; reading stopped: %s)" %
           (obad[:5], other.ended))
    etag_new = ogot[osids[0]][1].get("etag")
    expect(etag_new != etag_old, "the versions have different etags")
    got = collect(slow, sids, timeout=30)
    answered = [s for s in sids if got[s][3] != REFUSED_STREAM]
    want = {s: old if got[s][1].get("etag") == etag_old else
            new if got[s][1].get("etag") == etag_new else None for s in answered}
    bad = [s for s in answered if got[s][0] != 200 or want[s] is None or got[s][2] != want[s]
           or got[s][3] is not None]
    for s in bad[:10]:
        print("bad: " + why_bad(slow, s, got, want[s]))
    expect(not bad, "every slow response is whole and matches its etag (bad: %s%s; reading "
           "stopped: %s)" % (bad[:5], " and %d more" % (len(bad) - 5) if len(bad) > 5 else "",
                             slow.ended))
    held = sum(got[s][1].get("etag") == etag_old for s in answered)
    expect(held * size > wmem_max, "%d responses of the old version (%d answered, %d refused)" %
           (held, len(answered), len(sids) - len(answered)))


if __name__ == "__main__":
    name, port = sys.argv[1], int(sys.argv[2])
    arg = sys.argv[3] if len(sys.argv) > 3 else None
    globals()["case_" + name](port, arg)
