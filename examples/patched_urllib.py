"""An ordinary threaded stdlib program, made to run on greenlets by one line.

Everything below the patch_all() line is plain stdlib code: a threaded
http.server whose handler takes half a second (a slow backend), and N
threads fetching from it with urllib. After patch_all() each thread is a
greenlet, so all N requests are in flight at once in a single OS thread.

    python examples/patched_urllib.py [N]     (default 100)
"""
from gevent_c import monkey
monkey.patch_all()      # the only gevent_c line, before the program's imports

import http.server  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100
DELAY = 0.5
stats = {'open': 0, 'most': 0}


class SlowHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        stats['open'] += 1
        stats['most'] = max(stats['most'], stats['open'])
        time.sleep(DELAY)                       # the slow backend
        stats['open'] -= 1
        body = ('hello from %s\n' % self.path).encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = N


def fetch(url: str, results: list[bytes | None], i: int) -> None:
    with urllib.request.urlopen(url, timeout=30) as response:
        results[i] = response.read()


def main() -> None:
    server = Server(('127.0.0.1', 0), SlowHandler)
    serving = threading.Thread(target=server.serve_forever, args=(0.05,))
    serving.start()
    url = 'http://127.0.0.1:%d/item' % server.server_address[1]
    results: list[bytes | None] = [None] * N
    started = time.perf_counter()
    threads = [threading.Thread(target=fetch, args=(url + str(i), results, i)) for i in range(N)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    server.shutdown()
    serving.join()
    server.server_close()
    answered = sum(1 for r in results if r and r.startswith(b'hello from /item'))
    print('%d of %d requests answered, each held %.1f s by the server' % (answered, N, DELAY))
    print('the server had %d requests open at once' % stats['most'])
    print('all of them took %.2f s (one after the other: %.0f s)' % (elapsed, N * DELAY))
    if os.path.isdir('/proc/self/task'):
        # the main thread, and the resolver's worker that served the
        # server's getfqdn() at startup
        print('OS threads in this process: %d' % len(os.listdir('/proc/self/task')))


if __name__ == '__main__':
    main()
