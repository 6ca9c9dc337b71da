"""Greenlets left suspended when their thread exits.

Such a greenlet can never run again.  While its thread lives, dropping it
kills it (GreenletExit); once the thread is gone, dropping it frees it
unrun.  Freed, it releases what it held: the references of its frames'
locals, its run callable and the arguments it was started with, its data
stack and saved C stack.  What stays is what the dead C stack and the
frames' value stacks held at the switch (the switch's target, usually the
thread's main greenlet; a callable called from C or from the frame the
greenlet is suspended in), whose extent nothing records.
"""
import sys

import pytest

from _isolated import run_isolated

BODY = '''
import gc, sys, threading
from gevent_c._greenlet import greenlet, getcurrent

class Payload:
    """what the suspended greenlets hold"""

class Runner:
    """a run callable: released with the greenlet it started"""
    def __call__(self, arg):
        held = [Payload(), arg]         # a local of the suspended frame
        counter = 0
        def bump():
            nonlocal counter            # a cell
            counter += 1
        bump()
        # a second frame; the Payload waits on this frame's value stack
        return (Payload(), self.step(held))

    def step(self, held):
        mine = {'held': held}
        getcurrent().parent.switch()
        return mine

kept = []
def worker():
    for _ in range(4):
        g = greenlet(Runner().__call__)  # (a bound method: called
        # through a C slot, Runner() itself would leave the argument tuple
        # that slot builds on the dead C stack)
        g.switch(Payload())
        kept.append(g)

def counts():
    gc.collect()
    objs = gc.get_objects()
    return (sum(type(o) is Payload for o in objs),
            sum(type(o) is Runner for o in objs),
            sum(type(o) is greenlet and o.parent is not None for o in objs))

def round_(n):
    for i in range(n):
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    held = counts()
    del kept[:]                         # dropped after the threads exited
    return held, counts()

# Not yet: a suspended greenlet keeps its switch's target (on its frame's
# value stack), here the thread's main greenlet, which is not counted.
round_(5)                               # warm up
first = round_(40)
second = round_(40)
print(first[0][0] > 0, first[1], second[1])
'''


@pytest.mark.xfail(sys.version_info < (3, 11), strict=True, reason=(
    'not on 3.10: a Python-to-Python call leaves its arguments on the '
    "caller's value stack until it returns, and value stacks are not "
    'released (see the module docstring); its run and start arguments are'))
def test_suspended_greenlets_of_exited_threads_release_what_they_hold():
    out = run_isolated(BODY, timeout=120)
    # while referenced they hold their payloads; dropped, nothing of theirs
    # is left, round after round
    assert out.split() == ['True', '(0,', '0,', '0)', '(0,', '0,', '0)']


def test_dropping_them_in_their_thread_still_kills_them():
    out = run_isolated('''
        import gc, threading
        from gevent_c._greenlet import greenlet, getcurrent, GreenletExit
        exits = []
        def body():
            try:
                getcurrent().parent.switch()
            except GreenletExit:
                exits.append(1)
                raise
        def worker():
            gs = [greenlet(body) for _ in range(5)]
            for g in gs:
                g.switch()
            del gs
        t = threading.Thread(target=worker)
        t.start(); t.join()
        gc.collect()
        print(len(exits))
    ''', timeout=60)
    assert out.strip() == '5'


def test_frames_suspended_in_every_kind_of_call_are_released_safely():
    # Frames called by the interpreter itself (comprehensions, __getitem__,
    # properties, __init__, keyword calls) have their value stacks
    # released; frames under a call made through C (map, sorted's key) and
    # the top frame keep theirs.  Whatever the mix, nothing is released
    # twice or read after it is freed (a crash here).
    out = run_isolated('''
        import gc, threading
        from gevent_c._greenlet import greenlet, getcurrent
        class P: pass
        def sw():
            getcurrent().parent.switch()
            return P()
        class G:
            def __getitem__(self, k):
                return (P(), sw())
            @property
            def prop(self):
                return [P(), sw()]
        class Init:
            def __init__(self, a):
                self.a = (P(), sw())
        def via_listcomp(a):
            return [(P(), sw()) for _ in range(1)]
        def via_getitem(a):
            return (P(), G()[P()])
        def via_prop(a):
            return (P(), G().prop)
        def via_init(a):
            return (P(), Init(P()))
        def via_map(a):
            return (P(), list(map(lambda x: (P(), sw()), [P()])))
        def via_sorted(a):
            return (P(), sorted([P(), P()], key=lambda x: (sw(), 1)[1]))
        def deep(a, n=5):
            if n == 0:
                return sw()
            return (P(), deep(a, n - 1), P())
        def with_try(a):
            try:
                x = P()
                return (x, deep(a))
            finally:
                P()
        def via_with(a):
            class CM:
                def __enter__(self): return P()
                def __exit__(self, *e): return False
            with CM() as c:
                return (c, sw())
        def kwcall(a):
            def f(*, k, j): return (k, j, sw())
            return (P(), f(k=P(), j=P()))
        fns = [via_listcomp, via_getitem, via_prop, via_init, via_map, via_sorted,
               deep, with_try, via_with, kwcall]
        kept = []
        def worker():
            for f in fns:
                g = greenlet(f); g.switch(P()); kept.append(g)
        for rnd in range(10):
            t = threading.Thread(target=worker)
            t.start()
            t.join()
            del kept[:]
            gc.collect()
        # the same kinds of suspended frames, resumed, finish normally
        done = []
        for f in fns:
            g = greenlet(f)
            g.switch(P())
            done.append(type(g.switch()).__name__)
        print(sorted(set(done)))
    ''', timeout=120)
    assert out.strip() == "['list', 'tuple']"
