"""A tour of gevent_c's event loop (gevent_c.core), printed line by line.

The loop waits for events and calls the callbacks you registered:

- two timers (one fires once, one repeats),
- an io watcher that echoes a message across a socketpair,
- a signal watcher that catches a SIGUSR1 this process sends itself,
- run_callback, for "call this soon, before waiting again".

loop.run() returns by itself once no watcher is left active, in well under
a second.  Run it with `python3 examples/core_tour.py`.
"""
import os
import signal
import socket
import time

from gevent_c import core

START = time.monotonic()


def say(what: str) -> None:
    print("[%5.0f ms] %s" % ((time.monotonic() - START) * 1000, what), flush=True)


def main() -> None:
    loop = core.loop(default=True)   # the process's default loop (it gets signals)
    say("%s, backend %s" % (core.get_version(), loop.backend))

    # 1. run_callback: runs on the next loop iteration, in FIFO order
    loop.run_callback(say, "run_callback: first queued, first run")
    loop.run_callback(say, "run_callback: second")

    # 2. timers: one-shot after 50 ms, and a repeating one every 20 ms
    once = loop.timer(0.05)
    once.start(say, "timer: one-shot fired after 50 ms")

    ticks: list[int] = []
    repeat = loop.timer(0.02, 0.02)

    def tick() -> None:
        ticks.append(1)
        say("timer: repeating tick %d" % len(ticks))
        if len(ticks) == 3:
            repeat.stop()          # stopped watchers no longer keep run() going
    repeat.start(tick)

    # 3. io: `left` echoes in upper case whatever arrives; `right` prints it
    left, right = socket.socketpair()
    left.setblocking(False)
    right.setblocking(False)
    echo = loop.io(left.fileno(), core.READ)
    reply = loop.io(right.fileno(), core.READ)

    def on_left_readable() -> None:
        data = left.recv(100)
        say("io: left got %r, echoing it back" % data)
        left.sendall(data.upper())
        echo.stop()

    def on_right_readable() -> None:
        say("io: right got the echo %r" % right.recv(100))
        reply.stop()
    echo.start(on_left_readable)
    reply.start(on_right_readable)
    send_later = loop.timer(0.03)
    send_later.start(right.sendall, b"hello, loop")

    # 4. signal: SIGUSR1 sent by ourselves after 70 ms
    usr1 = loop.signal(signal.SIGUSR1)

    def on_usr1() -> None:
        say("signal: caught SIGUSR1")
        usr1.stop()
    usr1.start(on_usr1)
    kill_later = loop.timer(0.07)
    kill_later.start(os.kill, os.getpid(), signal.SIGUSR1)

    say("loop.run(): waiting for events")
    loop.run()
    say("loop.run() returned: nothing left to wait for")
    left.close()
    right.close()


if __name__ == "__main__":
    main()
