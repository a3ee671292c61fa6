#!/usr/bin/env python3
"""Records what real HTTP/2 servers send, as seeds for the client_connection and frame_decode
fuzz targets.

For each server (the project's h2testserver, nghttpd, h2o, nginx: whichever is installed) and
each scenario (1 to 4 requests on one connection), it starts the server on loopback, runs
`nghttp --no-dep` (h2c with prior knowledge) through a relay that records every byte the
server sends, and writes seeds:

  fuzz/corpus/client_connection/<server>-<scenario>[-tcp]: [flags, 0 or 0x80] + the server's
      bytes, flags = number of requests - 1 in bits 2-3 (+ 0x20, a 100-byte body, for
      uploads); 0x80: over loopback TCP; see fuzz/src/session_input.rs. The server's bytes
      start with its own SETTINGS (raw mode).
  fuzz/corpus/frame_decode/<server>-<scenario>: [0] + the server's bytes.

nghttp opens streams 1, 3, 5, 7 in the order of its URIs, as the fuzzed client does. Usage:

  python3 fuzz/tools/record.py [H2TESTSERVER_BINARY]

(default target/release/h2testserver; build it with `cargo build --release -p
h2client-testserver`). Needs nghttp (package nghttp2-client); nghttpd, h2o and nginx
(nghttp2-server, h2o, nginx-light) are used when present.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, 'fuzz', 'corpus')


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, secs=10):
    end = time.time() + secs
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Relay:
    """Accepts one connection on a free port, relays it to the server, records its bytes."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.recorded = bytearray()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        c, _ = self.sock.accept()
        s = socket.create_connection(('127.0.0.1', self.upstream))

        def pump(src, dst, record):
            try:
                while True:
                    b = src.recv(65536)
                    if not b:
                        break
                    if record:
                        self.recorded += b
                    dst.sendall(b)
            except OSError:
                pass
            for x in (dst,):
                try:
                    x.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

        t = threading.Thread(target=pump, args=(c, s, False), daemon=True)
        t.start()
        pump(s, c, True)
        t.join(2)
        c.close()
        s.close()

    def done(self):
        self.thread.join(5)
        self.sock.close()
        return bytes(self.recorded)


def start(kind, tmp, h2testserver):
    docroot = os.path.join(tmp, 'docroot')
    os.makedirs(docroot, exist_ok=True)
    with open(os.path.join(docroot, 'index.html'), 'w') as f:
        f.write('<html><body>' + 'hello, fuzz ' * 12 + '</body></html>\n')
    with open(os.path.join(docroot, 'big'), 'wb') as f:
        f.write(bytes(i * 7 % 251 for i in range(20000)))
    port = free_port()
    if kind == 'h2testserver':
        cmd = [h2testserver, '--port', str(port)]
    elif kind == 'nghttpd':
        cmd = ['nghttpd', '--no-tls', '-a', '127.0.0.1', '--echo-upload', '-d', docroot, str(port)]
    elif kind == 'h2o':
        conf = os.path.join(tmp, 'h2o.conf')
        user = 'user: root\n' if os.geteuid() == 0 else ''
        with open(conf, 'w') as f:
            f.write(f'listen:\n  host: 127.0.0.1\n  port: {port}\n{user}num-threads: 1\n'
                    f'pid-file: {tmp}/h2o.pid\nerror-log: {tmp}/error.log\naccess-log: /dev/null\n'
                    f'hosts:\n  "*":\n    paths:\n      /:\n        file.dir: {docroot}\n')
        cmd = ['h2o', '-c', conf]
    else:
        conf = os.path.join(tmp, 'nginx.conf')
        with open(conf, 'w') as f:
            f.write(f'daemon off;\nmaster_process off;\nworker_processes 1;\npid {tmp}/nginx.pid;\n'
                    f'error_log {tmp}/error.log;\nevents {{ worker_connections 64; }}\n'
                    f'http {{\n  access_log off;\n  sendfile off;\n'
                    f'  client_body_temp_path {tmp}/cb;\n  proxy_temp_path {tmp}/px;\n'
                    f'  fastcgi_temp_path {tmp}/fc;\n  uwsgi_temp_path {tmp}/uw;\n'
                    f'  scgi_temp_path {tmp}/sc;\n'
                    f'  server {{\n    listen 127.0.0.1:{port} http2;\n    root {docroot};\n  }}\n}}\n')
        cmd = ['nginx', '-p', tmp, '-c', conf, '-e', os.path.join(tmp, 'error.log')]
    proc = subprocess.Popen(cmd, cwd=tmp, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_port(port, proc):
        proc.kill()
        return None, None
    return proc, port


# name, paths, upload (a 100-byte body for every request, as the fuzzed request 0 has)
SCENARIOS = {
    'h2testserver': [
        ('root', ['/'], False),
        ('bytes-status', ['/bytes/300', '/status/404'], False),
        ('trailers-headers', ['/trailers', '/headers/30', '/status/204'], False),
        ('reset-four', ['/reset/8', '/bytes/5000', '/', '/status/500'], False),
        ('echo', ['/echo'], True),
    ],
    'nghttpd': [
        ('index', ['/index.html'], False),
        ('big-missing', ['/big', '/missing'], False),
        ('echo', ['/index.html'], True),
    ],
    'h2o': [
        ('index', ['/index.html'], False),
        ('big-missing-three', ['/big', '/missing', '/index.html'], False),
    ],
    'nginx': [
        ('index', ['/index.html'], False),
        ('big-missing', ['/big', '/missing'], False),
    ],
}


def main():
    h2testserver = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        ROOT, 'target', 'release', 'h2testserver')
    if not shutil.which('nghttp'):
        sys.exit('nghttp not found (apt-get install nghttp2-client)')
    for d in ('client_connection', 'frame_decode'):
        os.makedirs(os.path.join(CORPUS, d), exist_ok=True)
    for kind, scenarios in SCENARIOS.items():
        exe = h2testserver if kind == 'h2testserver' else kind
        if not (os.path.exists(exe) if kind == 'h2testserver' else shutil.which(exe)):
            print(f'{kind}: not installed, skipped')
            continue
        for name, paths, upload in scenarios:
            tmp = tempfile.mkdtemp(prefix=f'record-{kind}-')
            proc, port = start(kind, tmp, h2testserver)
            if proc is None:
                print(f'{kind}: did not start, skipped')
                break
            try:
                relay = Relay(port)
                args = ['nghttp', '--no-dep', '-n']
                if upload:
                    body = os.path.join(tmp, 'body')
                    with open(body, 'wb') as f:
                        f.write(b'x' * 100)
                    args += ['-d', body]
                args += [f'http://127.0.0.1:{relay.port}{p}' for p in paths]
                subprocess.run(args, timeout=20, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
                data = relay.done()
            finally:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                shutil.rmtree(tmp, ignore_errors=True)
            flags = (len(paths) - 1) << 2 | (0x20 if upload else 0)
            seed = f'{kind}-{name}'
            with open(os.path.join(CORPUS, 'client_connection', seed), 'wb') as f:
                f.write(bytes([flags, 0]) + data)
            # The same over loopback TCP (byte 1, bit 7).
            with open(os.path.join(CORPUS, 'client_connection', seed + '-tcp'), 'wb') as f:
                f.write(bytes([flags, 0x80]) + data)
            with open(os.path.join(CORPUS, 'frame_decode', seed), 'wb') as f:
                f.write(bytes([0]) + data)
            print(f'{seed}: {len(data)} bytes from the server')


main()
