"""Print the time of one greenlet switch pair (there and back) of
gevent_c._greenlet, best of three timeit runs: `python tools/switch_speed.py
[LABEL]`. For information only: it is a property of the machine it runs on."""
import sys
import timeit

from gevent_c._greenlet import getcurrent, greenlet

N = 100_000


def main():
    label = sys.argv[1] if len(sys.argv) > 1 else ""
    back = getcurrent().switch

    def partner():
        while True:
            back()

    there = greenlet(partner).switch
    best = min(timeit.repeat(there, number=N, repeat=3))
    print("switch speed %s: %.3f us per switch pair (%d pairs, best of 3)"
          % (label, best / N * 1e6, N))


if __name__ == "__main__":
    main()
