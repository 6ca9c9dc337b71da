"""patch_all() on real code: http.client against http.server, gevent_c vs gevent.

A patched stdlib ``ThreadingHTTPServer`` (HTTP/1.1 keep-alive) runs in one
process; another patched process runs 100 greenlets, each with its own
``http.client.HTTPConnection``, sending GET requests until the total is
reached. Both processes use the same implementation; the result is
requests per second (best of *rounds*, taken in turn).

The handler sets the stdlib's ``disable_nagle_algorithm`` (TCP_NODELAY on
each accepted socket): http.server writes the status and headers, then
the body, in two sends, and with Nagle's algorithm the second waits for
the client's delayed ACK (about 40 ms on Linux). Without it both
implementations wait for that timer (about 2,200 requests/s, 15% of a
CPU) and the workload measures TCP, not the code. ``--nagle`` keeps
the algorithm, to see that.

    python -m benchmarks.monkey_http [--requests 20000] [--clients 100] [--rounds 3] [--nagle]
"""
import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SERVER = '''
from {impl} import monkey; monkey.patch_all()
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    disable_nagle_algorithm = {nodelay}
    def do_GET(self):
        body = b'hello world'
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True
server = Server(('127.0.0.1', 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
'''

CLIENT = '''
from {impl} import monkey; monkey.patch_all()
import http.client, time, sys
import {impl} as impl
port, total, clients = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
left = [total]
def client():
    conn = http.client.HTTPConnection('127.0.0.1', port)
    done = 0
    while left[0] > 0:
        left[0] -= 1
        conn.request('GET', '/')
        response = conn.getresponse()
        assert response.read() == b'hello world'
        done += 1
    conn.close()
    return done
started = time.perf_counter()
jobs = [impl.spawn(client) for _ in range(clients)]
impl.joinall(jobs, raise_error=True)
elapsed = time.perf_counter() - started
assert sum(j.value for j in jobs) == total
print(total / elapsed)
'''


def measure(impl, requests, clients, nagle=False):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [ROOT, os.environ.get('PYTHONPATH')])))
    server = subprocess.Popen([sys.executable, '-c', SERVER.format(impl=impl, nodelay=not nagle)],
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        port = server.stdout.readline().strip()
        out = subprocess.run([sys.executable, '-c', CLIENT.format(impl=impl), port,
                              str(requests), str(clients)],
                             capture_output=True, text=True, env=env, timeout=600, check=True)
        return float(out.stdout.strip())
    finally:
        server.terminate()
        server.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--requests', type=int, default=20000)
    parser.add_argument('--clients', type=int, default=100)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--impls', default='gevent_c,gevent')
    parser.add_argument('--nagle', action='store_true',
                        help="keep Nagle's algorithm on the server's sockets")
    args = parser.parse_args(argv)
    results = {}
    impls = args.impls.split(',')
    # rounds alternate between the implementations, so that a change in the
    # machine's load during the run weighs on each alike
    for _ in range(args.rounds):
        for impl in impls:
            rate = measure(impl, args.requests, args.clients, args.nagle)
            results[impl] = max(results.get(impl, 0), rate)
    for impl in impls:
        print('%-9s %9.0f requests/s' % (impl, results[impl]), flush=True)
    if 'gevent_c' in results and 'gevent' in results:
        print('gevent_c / gevent: %.2fx' % (results['gevent_c'] / results['gevent']))


if __name__ == '__main__':
    main()
