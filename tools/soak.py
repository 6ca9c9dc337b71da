"""Soak gevent_c: mixed load for a bounded time, then nothing left behind.

    python tools/soak.py [--seconds 600] [--greenlets 100000] [--json]

Rounds of --greenlets greenlets run at once until --seconds have passed;
each greenlet does one thing picked at random: a short sleep, an Event or a
Queue hand-off with a partner, a Timeout that fires, being killed while it
sleeps, or a round trip through a loopback TCP echo server (at most 64
connections at a time).  After a warm-up round (as large as the others,
so that the allocators' high-water mark is in) the figures are taken; after
the last round they are taken again: RSS, gc-tracked objects, live
greenlets, live watchers and open descriptors.  It fails when they have not
come back within the bounds below (printed with the figures).
"""
import argparse
import gc
import json
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)

import gevent_c  # noqa: E402
from gevent_c import _core, socket  # noqa: E402
from gevent_c.event import Event  # noqa: E402
from gevent_c.greenlet import Greenlet  # noqa: E402
from gevent_c.lock import Semaphore  # noqa: E402
from gevent_c.queue import Queue  # noqa: E402
from gevent_c.timeout import Timeout  # noqa: E402

# how far the end may be from the start
BOUNDS = {'rss_kib': 32 * 1024, 'gc_objects': 2000, 'greenlets': 0,
          'watchers': 0, 'fds': 0}


def rss_kib():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') // 1024


def figures():
    gc.collect()
    objs = gc.get_objects()
    return {
        'rss_kib': rss_kib(),
        'gc_objects': len(objs),
        'greenlets': sum(1 for o in objs if isinstance(o, Greenlet)),
        'watchers': sum(1 for o in objs if isinstance(o, _core.watcher)),
        'fds': len(os.listdir('/proc/self/fd')),
    }


class Echo:
    """A loopback TCP echo server on 127.0.0.1."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(128)
        self.address = self.listener.getsockname()
        self.acceptor = gevent_c.spawn(self._accept)
        self.handlers = set()

    def _accept(self):
        while True:
            conn, _ = self.listener.accept()
            g = gevent_c.spawn(self._serve, conn)
            self.handlers.add(g)
            g.link(self.handlers.discard)

    @staticmethod
    def _serve(conn):
        with conn:
            while True:
                data = conn.recv(1024)
                if not data:
                    return
                conn.sendall(data)

    def settle(self, seconds=10):
        """Let the handlers of closed connections finish."""
        deadline = time.monotonic() + seconds
        while self.handlers and time.monotonic() < deadline:
            gevent_c.sleep(0.01)

    def close(self):
        self.acceptor.kill()
        gevent_c.killall(list(self.handlers))
        self.listener.close()


def one_round(n, echo, rng, counts):
    connections = Semaphore(64)
    jobs = []

    def sleeper():
        gevent_c.sleep(rng.random() * 0.01)

    def event_pair():
        ev = Event()
        jobs.append(gevent_c.spawn(ev.set))
        ev.wait()

    def queue_pair():
        q = Queue()
        jobs.append(gevent_c.spawn(q.put, 'item'))
        assert q.get() == 'item'

    def timeout():
        try:
            with Timeout(0.001):
                gevent_c.sleep(1)
        except Timeout:
            return
        raise AssertionError('the Timeout did not fire')

    def killed():
        g = gevent_c.spawn(gevent_c.sleep, 1)
        gevent_c.sleep(0)
        g.kill()
        assert g.dead

    def round_trip():
        with connections:
            with socket.create_connection(echo.address) as s:
                s.sendall(b'ping')
                assert s.recv(4) == b'ping'

    kinds = [sleeper, event_pair, queue_pair, timeout, killed, round_trip]
    for _ in range(n):
        kind = rng.choice(kinds)
        counts[kind.__name__] = counts.get(kind.__name__, 0) + 1
        jobs.append(gevent_c.spawn(kind))
    gevent_c.joinall(jobs, raise_error=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=600)
    parser.add_argument('--greenlets', type=int, default=100_000,
                        help='greenlets running at once in each round')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', action='store_true', help='one JSON line')
    args = parser.parse_args()
    rng = random.Random(args.seed)
    counts = {}
    echo = Echo()
    # warm-up: a full round, so that the start figures include the memory
    # a round's peak leaves with the allocators (they keep freed arenas)
    one_round(args.greenlets, echo, rng, counts)
    echo.settle()
    start = figures()
    t0 = time.monotonic()
    rounds = 0
    while time.monotonic() - t0 < args.seconds:
        one_round(args.greenlets, echo, rng, counts)
        rounds += 1
    elapsed = time.monotonic() - t0
    echo.settle()
    end = figures()
    echo.close()
    delta = {k: end[k] - start[k] for k in start}
    bad = {k: v for k, v in delta.items() if v > BOUNDS[k]}
    report = {'seconds': round(elapsed, 1), 'rounds': rounds,
              'greenlets_run': sum(counts.values()), 'kinds': counts,
              'start': start, 'end': end, 'delta': delta, 'bounds': BOUNDS,
              'ok': not bad}
    if args.json:
        print(json.dumps(report))
    else:
        print('soak: %(rounds)d rounds, %(greenlets_run)d greenlets in %(seconds)s s' % report)
        for key in start:
            print('  %-10s start %10d  end %10d  delta %+8d  (bound %+d)'
                  % (key, start[key], end[key], delta[key], BOUNDS[key]))
        print('soak: ' + ('ok' if not bad else 'OUT OF BOUNDS: %s' % ', '.join(bad)))
    return 0 if not bad else 1


if __name__ == '__main__':
    sys.exit(main())
