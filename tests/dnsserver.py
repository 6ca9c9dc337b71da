"""A small DNS server for the resolver tests (a helper module, not tests).

It answers A, AAAA, CNAME and PTR questions from a table, over UDP and TCP,
on 127.0.0.1 with an ephemeral port, in a native thread (so it works whatever
the hub is doing).  Names can be made to answer NXDOMAIN, SERVFAIL or nothing
at all (a timeout).  The wire format is written here, without dnspython.

    with DNSServer({'a.test': [('A', '10.0.0.1')]}) as srv:
        ...  # point the resolver at ('127.0.0.1', srv.port)

Run as a script, it measures getaddrinfo of many names against a server in a
subprocess: ``python3 tests/dnsserver.py bench [N]`` (the c-ares resolvers), or
``bench-ns [N]`` (as root: also the thread resolvers, inside namespaces where
libc reaches the server; see benchmark_in_namespace()).
"""
import re
import select
import socket
import struct
import sys
import threading

TYPES = {'A': 1, 'NS': 2, 'CNAME': 5, 'SOA': 6, 'PTR': 12, 'MX': 15, 'TXT': 16,
         'AAAA': 28, 'ANY': 255}
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
TTL = 300


def encode_name(name):
    out = bytearray()
    for label in name.rstrip('.').split('.'):
        if label:
            raw = label.encode('ascii')
            out.append(len(raw))
            out += raw
    out.append(0)
    return bytes(out)


def decode_name(msg, off):
    """(name, offset after it); follows compression pointers."""
    labels, end, hops = [], None, 0
    while True:
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if end is None:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            hops += 1
            if hops > 32:
                raise ValueError('compression loop')
            continue
        off += 1
        if n == 0:
            break
        labels.append(msg[off:off + n].decode('ascii', 'replace'))
        off += n
    return '.'.join(labels), (end if end is not None else off)


def reverse_name(address):
    """'10.0.0.1' -> '1.0.0.10.in-addr.arpa' (and ip6.arpa for IPv6)."""
    if ':' in address:
        raw = socket.inet_pton(socket.AF_INET6, address).hex()
        return '.'.join(reversed(raw)) + '.ip6.arpa'
    return '.'.join(reversed(address.split('.'))) + '.in-addr.arpa'


def rdata(rtype, value):
    if rtype == 'A':
        return socket.inet_pton(socket.AF_INET, value)
    if rtype == 'AAAA':
        return socket.inet_pton(socket.AF_INET6, value)
    if rtype in ('CNAME', 'PTR', 'NS'):
        return encode_name(value)
    raise ValueError('unsupported record type %r' % rtype)


class DNSServer:
    """records: {name: [(type, value), ...]}; behaviours: {name: 'NXDOMAIN' |
    'SERVFAIL' | 'REFUSED' | 'TIMEOUT'}; generate(name) -> records or None for
    names not in the table.  Names are case-insensitive, without a final dot."""

    def __init__(self, records=None, behaviours=None, generate=None, tcp=True, port=0):
        self.records = {k.lower().rstrip('.'): list(v) for k, v in (records or {}).items()}
        self.behaviours = {k.lower().rstrip('.'): v for k, v in (behaviours or {}).items()}
        self.generate = generate
        self.queries = []          # (name, type) in arrival order
        self.count = 0
        self._lock = threading.Lock()
        self.udp, self.tcp = self._bind(port, tcp)
        self.port = self.udp.getsockname()[1]
        self._stop_r, self._stop_w = socket.socketpair()
        self._thread = None

    @staticmethod
    def _bind(port, tcp):
        """UDP and (optionally) TCP sockets on one port: an ephemeral UDP port
        may be taken for TCP, so a few are tried."""
        for _ in range(50):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                udp.bind(('127.0.0.1', port))
                if not tcp:
                    return udp, None
                stream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                try:
                    stream.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    stream.bind(('127.0.0.1', udp.getsockname()[1]))
                    stream.listen(16)
                except OSError:
                    stream.close()
                    if port:
                        raise
                    udp.close()
                    continue
                return udp, stream
            except OSError:
                udp.close()
                raise
        raise OSError('no port free for both UDP and TCP')

    # -- lifecycle --------------------------------------------------------
    def start(self):
        self._thread = threading.Thread(target=self._serve, name='dnsserver', daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._thread is not None:
            self._stop_w.send(b'x')
            self._thread.join(10)
            self._thread = None
        for s in (self.udp, self.tcp, self._stop_r, self._stop_w):
            if s is not None:
                s.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def address(self):
        return '127.0.0.1:%d' % self.port

    # -- answering ---------------------------------------------------------
    def lookup(self, name):
        recs = self.records.get(name)
        if recs is None and self.generate is not None:
            recs = self.generate(name)
        return recs

    def answer(self, query):
        """Response bytes for a query message, or None to stay silent."""
        if len(query) < 12:
            return None
        qid, flags, qdcount = struct.unpack('!HHH', query[:6])
        if flags & 0x8000 or qdcount != 1:
            return None
        try:
            qname, off = decode_name(query, 12)
            qtype, qclass = struct.unpack('!HH', query[off:off + 4])
        except (ValueError, IndexError, struct.error):
            return struct.pack('!HHHHHH', qid, 0x8000 | FORMERR, 0, 0, 0, 0)
        question = query[12:off + 4]
        name = qname.lower()
        with self._lock:
            self.queries.append((name, qtype))
            self.count += 1
        rd = flags & 0x0100
        behaviour = self.behaviours.get(name)
        if behaviour == 'TIMEOUT':
            return None
        rcode, answers = NOERROR, []
        if behaviour in ('SERVFAIL', 'NXDOMAIN', 'REFUSED'):
            rcode = {'SERVFAIL': SERVFAIL, 'NXDOMAIN': NXDOMAIN, 'REFUSED': REFUSED}[behaviour]
        else:
            rcode, answers = self._resolve(name, qtype)
        head = struct.pack('!HHHHHH', qid, 0x8000 | 0x0400 | rd | 0x0080 | rcode,
                           1, len(answers), 0, 0)
        return head + question + b''.join(answers)

    def _resolve(self, name, qtype):
        answers = []
        for _ in range(8):
            recs = self.lookup(name)
            if recs is None:
                return (NXDOMAIN if not answers else NOERROR), answers
            cname = [v for t, v in recs if t == 'CNAME']
            if cname and qtype != TYPES['CNAME']:
                answers.append(self._rr(name, 'CNAME', cname[0]))
                name = cname[0].lower().rstrip('.')
                continue
            for t, v in recs:
                if TYPES[t] == qtype or qtype == TYPES['ANY']:
                    answers.append(self._rr(name, t, v))
            return NOERROR, answers
        return SERVFAIL, []

    @staticmethod
    def _rr(name, rtype, value):
        data = rdata(rtype, value)
        return encode_name(name) + struct.pack('!HHIH', TYPES[rtype], 1, TTL, len(data)) + data

    # -- the thread ------------------------------------------------------------
    def _serve(self):
        socks = [self.udp, self._stop_r] + ([self.tcp] if self.tcp else [])
        while True:
            readable, _, _ = select.select(socks, [], [])
            if self._stop_r in readable:
                return
            if self.udp in readable:
                self._serve_udp()
            if self.tcp is not None and self.tcp in readable:
                self._serve_tcp()

    def _serve_udp(self):
        # drain everything queued so bursts cost one select()
        while True:
            try:
                data, peer = self.udp.recvfrom(4096, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            reply = self.answer(data)
            if reply is not None:
                try:
                    self.udp.sendto(reply, peer)
                except OSError:
                    pass

    def _serve_tcp(self):
        try:
            conn, _ = self.tcp.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            try:
                while True:
                    head = self._recv_exact(conn, 2)
                    if head is None:
                        return
                    query = self._recv_exact(conn, struct.unpack('!H', head)[0])
                    if query is None:
                        return
                    reply = self.answer(query)
                    if reply is None:
                        return
                    conn.sendall(struct.pack('!H', len(reply)) + reply)
            except OSError:
                return

    @staticmethod
    def _recv_exact(conn, n):
        buf = b''
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf


# ---- benchmark (by hand; nothing here runs under pytest) -------------------

BENCH_NAME = re.compile(r'^h(\d+)\.bench\.test$')


def bench_generate(name):
    """hN.bench.test -> A 10.x.y.z (N encoded), AAAA fd00::N."""
    m = BENCH_NAME.match(name)
    if m is None:
        return None
    n = int(m.group(1))
    return [('A', '10.%d.%d.%d' % ((n >> 16) & 255, (n >> 8) & 255, n & 255)),
            ('AAAA', 'fd00::%x' % n)]


def _serve_forever(port=0):
    srv = DNSServer(generate=bench_generate, tcp=False, port=port)
    print(srv.port, flush=True)
    srv._serve()




def benchmark(n=10000, concurrency=100, family=socket.AF_INET, rounds=3):
    """getaddrinfo of n distinct names (hN.bench.test) with `concurrency`
    greenlets against a server in a subprocess: gevent_c's c-ares resolver,
    gevent's c-ares resolver (25.9.1) and, when libc can reach the server
    (see benchmark_in_namespace), the thread resolvers of gevent_c (if it
    exists) and gevent.  The resolvers take turns for `rounds` rounds; the
    best rate of each is kept."""
    import os
    import subprocess
    in_namespace = os.environ.get('DNSSERVER_BENCH_PORT53') == '1'
    cmd = [sys.executable, __file__, 'serve'] + (['53'] if in_namespace else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    try:
        port = int(proc.stdout.readline())
        results = {}
        code = _BENCH_CHILD % dict(port=port, n=n, conc=concurrency, family=int(family))
        kinds = ['gevent_c', 'gevent']
        if in_namespace:
            kinds += ['gevent_c-thread', 'gevent-thread']
        for _ in range(rounds):
            for which in kinds:
                out = subprocess.run([sys.executable, '-c', code, which], capture_output=True,
                                     text=True, timeout=600)
                sys.stdout.write(''.join(line + '\n' for line in out.stdout.splitlines()
                                         if not line.startswith('RATE')))
                sys.stderr.write(out.stderr[-2000:])
                if out.returncode:
                    print('%s: exit status %d' % (which, out.returncode))
                for line in out.stdout.splitlines():
                    if line.startswith('RATE'):
                        results[which] = max(results.get(which, 0), float(line.split()[1]))
        for which, rate in sorted(results.items()):
            print('best %-16s %8.0f lookups/s' % (which, rate))
        for other in ('gevent', 'gevent_c-thread', 'gevent-thread'):
            if 'gevent_c' in results and other in results:
                print('gevent_c ares / %s: %.2fx' % (other, results['gevent_c'] / results[other]))
        return results
    finally:
        proc.kill()
        proc.wait()


def benchmark_in_namespace(*args):
    """Run benchmark() inside private mount and network namespaces (root and
    unshare needed) where /etc/resolv.conf names 127.0.0.1 and the server
    listens on port 53, so libc's getaddrinfo (the thread resolvers) reaches
    it too."""
    import os
    import subprocess
    import tempfile
    with tempfile.NamedTemporaryFile('w', suffix='.conf') as conf:
        conf.write('nameserver 127.0.0.1\noptions timeout:1 attempts:1\n')
        conf.flush()
        inner = ('mount --bind %s /etc/resolv.conf && exec %s %s bench-inner %s'
                 % (conf.name, sys.executable, os.path.abspath(__file__),
                    ' '.join(str(a) for a in args)))
        env = dict(os.environ, DNSSERVER_BENCH_PORT53='1')
        return subprocess.run(['unshare', '-mn', 'sh', '-c', inner], env=env).returncode


def _loopback_up():
    import fcntl
    with socket.socket() as s:
        ifreq = struct.pack('16sH14s', b'lo', 0, b'')
        flags = struct.unpack('16sH14s', fcntl.ioctl(s, 0x8913, ifreq))[1]   # SIOCGIFFLAGS
        fcntl.ioctl(s, 0x8914, struct.pack('16sH14s', b'lo', flags | 1, b''))  # SIOCSIFFLAGS


_BENCH_CHILD = r'''
import sys, socket, time
which = sys.argv[1]
port, n, conc, family = %(port)d, %(n)d, %(conc)d, %(family)d
names = ['h%%d.bench.test' %% i for i in range(n)]
if which == 'gevent':
    import gevent
    from gevent.resolver.ares import Resolver
    r = Resolver(servers=['127.0.0.1'], udp_port=port)
elif which == 'gevent-thread':
    import gevent
    from gevent.resolver.thread import Resolver
    r = Resolver()
elif which == 'gevent_c':
    import gevent_c as gevent
    from gevent_c.resolver.ares import Resolver
    r = Resolver(servers=['127.0.0.1:%%d' %% port])
else:
    import gevent_c as gevent
    from gevent_c.hub import get_hub
    try:
        from gevent_c.resolver.thread import Resolver
    except ImportError as exc:
        print('%%-16s unavailable: %%s' %% (which, exc))
        sys.exit(0)
    r = Resolver(hub=get_hub())
spawn, joinall = gevent.spawn, gevent.joinall
r.getaddrinfo(names[0], 80, family, socket.SOCK_STREAM)
done = []
def worker(chunk):
    for name in chunk:
        done.append(r.getaddrinfo(name, 80, family, socket.SOCK_STREAM))
chunks = [names[i::conc] for i in range(conc)]
t0, c0 = time.perf_counter(), time.process_time()
joinall([spawn(worker, c) for c in chunks])
dt, cpu = time.perf_counter() - t0, time.process_time() - c0
assert len(done) == n, len(done)
print('%%-16s %%6d names, %%3d greenlets: %%6.3fs = %%8.0f lookups/s (client CPU %%.3fs)'
      %% (which, n, conc, dt, n / dt, cpu))
print('RATE', n / dt)
'''


if __name__ == '__main__':
    if sys.argv[1:2] == ['serve']:
        if sys.argv[2:] == ['53']:
            _loopback_up()
        _serve_forever(int(sys.argv[2]) if sys.argv[2:] else 0)
    elif sys.argv[1:2] in (['bench'], ['bench-inner']):
        benchmark(*[int(a) for a in sys.argv[2:]])   # n, concurrency, family, rounds
    elif sys.argv[1:2] == ['bench-ns']:
        sys.exit(benchmark_in_namespace(*sys.argv[2:]))
    else:
        print(__doc__)
