"""WebSocket through proxy_pass: a real websockets (Debian's python3-websockets) server behind
proxyd and a real websockets client in front, with the usual configuration

    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;

Messages both ways (text, binary, 1 MB), one sent by the server unasked, the close handshake;
no upgrade without those headers; an idle tunnel ends after proxy_read_timeout."""
import asyncio
import hashlib
import os
import re
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402

try:
    import websockets
    import websockets.exceptions
except ImportError:  # the test needs Debian's python3-websockets
    websockets = None

TIMEOUT = 20  # bound of every client exchange, in seconds
GREETING = "hello from server"


class WsServer:
    """A websockets echo server on loopback, run by an asyncio loop in a thread. It sends
    GREETING first, then echoes every message; it records each handshake's request headers
    (self.handshakes) and, for each connection that ended, (path, close code, reason)
    (self.closes)."""

    def __init__(self):
        self.handshakes = []
        self.closes = []
        self.closed = threading.Condition()
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(websockets.serve(
                self.handler, "127.0.0.1", 0, process_request=self.process_request,
                ping_interval=None, max_size=None))
            self.port = self.server.sockets[0].getsockname()[1]
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        if not started.wait(10):
            raise RuntimeError("the websockets server did not start")

    async def process_request(self, path, headers):
        self.handshakes.append((path, headers))
        return None  # go on with the handshake (or refuse it when Upgrade is missing)

    async def handler(self, ws):
        await ws.send(GREETING)
        try:
            async for message in ws:
                await ws.send(message)
        except websockets.exceptions.ConnectionClosed:
            pass
        with self.closed:
            self.closes.append((ws.path, ws.close_code, ws.close_reason))
            self.closed.notify_all()

    def wait_close(self, path, timeout=TIMEOUT):
        """(code, reason) of the connection to path once it ended; None on timeout."""
        def ended():
            return [c[1:] for c in self.closes if c[0] == path]
        with self.closed:
            found = self.closed.wait_for(ended, timeout)
        return found[0] if found else None

    def close(self):
        async def stop():
            self.server.close()
            await self.server.wait_closed()
        try:
            asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


CONF = r"""
http {
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:%(port)d;
    location /map/ {
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_pass http://127.0.0.1:%(backend)d;
    }
    location /literal/ {
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_pass http://127.0.0.1:%(backend)d;
    }
    location /plain/ {
      proxy_http_version 1.1;
      proxy_pass http://127.0.0.1:%(backend)d;
    }
    location /idle/ {
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 1s;
      proxy_pass http://127.0.0.1:%(backend)d;
    }
  }
}
"""


def run(coro):
    """Runs a client coroutine on a fresh loop, bounded by TIMEOUT."""
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


@unittest.skipIf(websockets is None, "python3-websockets is not installed")
class WebSocketThroughProxy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.backend = WsServer()
        cls.port = proxyd_test.free_port()
        cls.proxyd = proxyd_test.Proxyd(CONF % {"port": cls.port, "backend": cls.backend.port})
        try:
            cls.proxyd.start(wait_for=cls.port)
        except BaseException:
            cls.proxyd.cleanup()
            cls.backend.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.proxyd.cleanup()
        cls.backend.close()

    def url(self, path):
        return "ws://127.0.0.1:%d%s" % (self.port, path)

    def echo_session(self, path):
        big = hashlib.shake_256(b"ws").digest(1 << 20)

        async def session():
            async with websockets.connect(self.url(path), ping_interval=None,
                                          max_size=None) as ws:
                got = [await ws.recv()]  # the server speaks first
                for message in ("text message", b"\x00\x01binary\xff", big, big.hex()[:300000]):
                    await ws.send(message)
                    got.append(await ws.recv())
                await ws.close(1000, "bye")
                return got, ws.close_code
        got, close_code = run(session())
        self.assertEqual(got[0], GREETING)
        self.assertEqual(got[1], "text message")
        self.assertEqual(got[2], b"\x00\x01binary\xff")
        self.assertIsInstance(got[3], bytes)
        self.assertEqual(hashlib.sha256(got[3]).digest(), hashlib.sha256(big).digest())
        self.assertEqual(got[4], big.hex()[:300000])
        self.assertEqual(close_code, 1000)
        self.assertEqual(self.backend.wait_close(path), (1000, "bye"))
        headers = [h for p, h in self.backend.handshakes if p == path][0]
        self.assertEqual(headers.get("Upgrade"), "websocket")
        self.assertEqual(headers.get("Connection"), "upgrade")

    def test_websocket_echo_with_map_connection_upgrade(self):
        self.echo_session("/map/echo")

    def test_websocket_echo_with_literal_connection_upgrade(self):
        self.echo_session("/literal/echo")

    def test_without_upgrade_headers_the_upgrade_is_not_passed(self):
        async def session():
            async with websockets.connect(self.url("/plain/echo"), ping_interval=None):
                pass
        with self.assertRaises(websockets.exceptions.InvalidStatusCode) as caught:
            run(session())
        self.assertNotEqual(caught.exception.status_code, 101)
        seen = [h for p, h in self.backend.handshakes if p == "/plain/echo"]
        self.assertEqual(len(seen), 1)
        headers = seen[0]
        self.assertIsNone(headers.get("Upgrade"))
        self.assertNotIn("upgrade", (headers.get("Connection") or "").lower())

    def test_idle_tunnel_closes_after_proxy_read_timeout(self):
        async def session():
            async with websockets.connect(self.url("/idle/echo"), ping_interval=None) as ws:
                self.assertEqual(await ws.recv(), GREETING)
                # nothing moves either way: proxyd ends the tunnel after 1s (bounded by TIMEOUT)
                await ws.wait_closed()
                return ws.close_code
        close_code = run(session())
        # no close frame came through: the TCP connection was just closed
        self.assertEqual(close_code, 1006)

    def test_idle_tunnel_timeout_log_line(self):
        async def session():
            async with websockets.connect(self.url("/idle/logged"), ping_interval=None) as ws:
                await ws.recv()
                await ws.wait_closed()
        run(session())
        needle = "while proxying upgraded connection"
        text = proxyd_test.wait_for_text(self.proxyd.error_log, needle)
        lines = [re.sub(r"^\S+ \S+ (\[\w+\]) \d+#\d+: \*\d+ ", r"\1 ", line)
                 for line in text.splitlines() if "/idle/logged" in line]
        self.assertEqual(lines, [
            "[info] upstream timed out (110: Connection timed out) while proxying upgraded "
            'connection, client: 127.0.0.1, server: , request: "GET /idle/logged HTTP/1.1", '
            'upstream: "http://127.0.0.1:%d/idle/logged", host: "127.0.0.1:%d"'
            % (self.backend.port, self.port)])


if __name__ == "__main__":
    proxyd_test.main()
