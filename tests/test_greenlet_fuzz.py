"""Random sequences of greenlet operations, with greenlet itself as the
oracle (hypothesis stateful testing).

Two worlds run the same steps side by side: one on greenlet 3.5.6, one on
gevent_c._greenlet.  Every step (create with a parent, switch with a value,
throw, set a parent, kill, collect) starts and ends in the main greenlet;
what it returns or raises, and every greenlet's dead/active state
afterwards, must be the same in both worlds.  A greenlet's run loops:
it reports what it was given back to main, catches ValueError thrown in,
finishes on 'finish' and raises KeyError on 'raise', so results travel
through parents too.

A second machine adds a native thread per world that owns greenlets of its
own: steps run in it (create, switch, throw, drop there), the main thread
tries what is illegal across threads (switch to, throw into or re-parent a
greenlet of the other thread: greenlet.error or ValueError in both), drops
the other thread's greenlets (killed there at its next greenlet call), and
the thread exits with greenlets suspended (they are freed unrun; switching
to them is refused).  Error messages differ between the two modules and are
not compared, their types are.
"""
import gc
import queue
import threading

import pytest

greenlet_ref = pytest.importorskip('greenlet')
pytest.importorskip('hypothesis')
from hypothesis import settings, strategies as st  # noqa: E402
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule  # noqa: E402

from gevent_c import _greenlet as greenlet_ours  # noqa: E402

MAX = 6


class World:
    def __init__(self, mod):
        self.mod = mod
        self.main = mod.getcurrent()
        self.gs = []

    def name(self, g):
        if g is self.main:
            return 'main'
        for i, x in enumerate(self.gs):
            if x is g:
                return i
        return '?'

    def norm(self, v):
        """What can be compared across the two modules."""
        if isinstance(v, tuple):
            return tuple(self.norm(x) for x in v)
        if isinstance(v, list):
            return [self.norm(x) for x in v]
        if isinstance(v, BaseException):
            return ('exc', type(v).__name__, self.norm(v.args))
        if isinstance(v, self.mod.greenlet):
            return ('g', self.name(v))
        if isinstance(v, (int, str, type(None))):
            return v
        return ('obj', type(v).__name__)

    def make_run(self, idx):
        world = self

        def run(*args):
            # Known difference, reported: a child ended by GreenletExit
            # starts its unstarted parent with run() in greenlet, with
            # run(the GreenletExit) in gevent_c.
            if len(args) == 1 and isinstance(args[0], world.mod.GreenletExit):
                args = ()
            value = args
            while True:
                try:
                    cmd = world.main.switch(('at', idx, value))
                except ValueError as e:
                    value = ('caught', e.args)
                    continue
                if cmd == 'finish':
                    return ('done', idx)
                if cmd == 'raise':
                    raise KeyError(idx)
                value = cmd
        return run

    def do(self, fn):
        try:
            out = ('ok', self.norm(fn()))
        except BaseException as e:  # noqa: B036 -- compared, not swallowed
            if isinstance(e, (SystemExit, KeyboardInterrupt)):
                raise
            args = None if isinstance(e, self.mod.error) else self.norm(e.args)
            out = ('raised', type(e).__name__, args)
        return out, self.state()

    def state(self):
        return [(bool(g), g.dead) for g in self.gs]

    def teardown(self):
        for g in self.gs:
            if g and not g.dead:
                try:
                    g.throw(self.mod.GreenletExit)
                except BaseException:  # noqa: B036
                    pass
        self.gs.clear()


class GreenletOps(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.worlds = [World(greenlet_ref), World(greenlet_ours)]

    def both(self, step):
        ref, ours = (w.do(lambda w=w: step(w)) for w in self.worlds)
        assert ours == ref

    @precondition(lambda self: len(self.worlds[0].gs) < MAX)
    @rule(parent=st.integers(min_value=-1, max_value=MAX - 1))
    def create(self, parent):
        def step(w):
            g = w.mod.greenlet(w.make_run(len(w.gs)))
            w.gs.append(g)
            if 0 <= parent < len(w.gs) - 1:
                g.parent = w.gs[parent]
            return g
        self.both(step)

    @precondition(lambda self: self.worlds[0].gs)
    @rule(i=st.integers(min_value=0, max_value=MAX - 1),
          value=st.sampled_from([1, 'x', 'finish', 'raise', ('t', 2)]))
    def switch(self, i, value):
        self.both(lambda w: w.gs[i % len(w.gs)].switch(value))

    @precondition(lambda self: self.worlds[0].gs)
    @rule(i=st.integers(min_value=0, max_value=MAX - 1),
          kind=st.sampled_from(['ValueError', 'KeyError', 'GreenletExit']))
    def throw(self, i, kind):
        def step(w):
            exc = w.mod.GreenletExit if kind == 'GreenletExit' else \
                {'ValueError': ValueError, 'KeyError': KeyError}[kind]
            return w.gs[i % len(w.gs)].throw(exc, 'thrown')
        self.both(step)

    @precondition(lambda self: len(self.worlds[0].gs) >= 2)
    @rule(i=st.integers(min_value=0, max_value=MAX - 1),
          j=st.integers(min_value=-1, max_value=MAX - 1))
    def set_parent(self, i, j):
        def step(w):
            g = w.gs[i % len(w.gs)]
            g.parent = w.main if j < 0 else w.gs[j % len(w.gs)]
            return w.name(g.parent)
        self.both(step)

    @precondition(lambda self: self.worlds[0].gs)
    @rule(i=st.integers(min_value=0, max_value=MAX - 1))
    def drop(self, i):
        # the last reference goes: a suspended greenlet gets GreenletExit
        def step(w):
            w.gs.pop(i % len(w.gs))
            gc.collect()
            return len(w.gs)
        self.both(step)

    @invariant()
    def parents_agree(self):
        ref, ours = ([w.name(g.parent) if g.parent is not None else None for g in w.gs]
                     for w in self.worlds)
        assert ours == ref

    def teardown(self):
        for w in self.worlds:
            w.teardown()
        gc.collect()


TestGreenletOps = GreenletOps.TestCase
TestGreenletOps.settings = settings(max_examples=80, stateful_step_count=25,
                                    deadline=None, derandomize=True)


# ---- two threads ------------------------------------------------------------

def pick(indexes, i):
    return indexes[i % len(indexes)]


class ThreadWorld(World):
    """A world with a second native thread owning greenlets (`tgs`).

    The thread runs the steps it is handed, one at a time, and exits when
    told; its greenlets stay in `tgs` (as 't0', 't1', ...) after it exits.
    Every greenlet logs the GreenletExit that ends it, in its own thread.
    """

    def __init__(self, mod):
        super().__init__(mod)
        self.tgs = []
        self.tgen = []         # which thread run made each of tgs
        self.gen = 0
        self.tmains = []       # the thread's main greenlet, one per thread run
        self.log = []
        self.thread = None

    def name(self, g):
        for i, x in enumerate(self.tgs):
            if x is g:
                return 't%d' % i
        for i, x in enumerate(self.tmains):
            if x is g:
                return 'tmain%d' % i
        return super().name(g)

    def make_run(self, tag, home=None):
        world = self
        home = home if home is not None else world.main

        def run(*args):
            if len(args) == 1 and isinstance(args[0], world.mod.GreenletExit):
                args = ()      # (as in World.make_run)
            value = args
            while True:
                try:
                    cmd = home.switch(('at', tag, value))
                except ValueError as e:
                    value = ('caught', e.args)
                    continue
                except world.mod.GreenletExit:
                    world.log.append(('exit', tag))
                    raise
                if cmd == 'finish':
                    return ('done', tag)
                if cmd == 'raise':
                    raise KeyError(tag)
                value = cmd
        return run

    def state(self):
        # bool() of a dead greenlet is not compared: greenlet keeps saying
        # True for one left suspended in an exited thread (while saying
        # dead), until it cleans that thread up at some later call;
        # gevent_c says False at once
        return super().state() + [(None if g.dead else bool(g), g.dead)
                                  for g in self.tgs]

    # the thread
    def live(self):
        """Indexes in tgs of the greenlets of the running thread."""
        return [k for k, gen in enumerate(self.tgen) if gen == self.gen]

    def exited(self):
        return [k for k, gen in enumerate(self.tgen) if gen != self.gen]

    def pop(self, k):
        self.tgen.pop(k)
        return self.tgs.pop(k)

    def start_thread(self):
        self.gen += 1
        inbox, outbox = queue.Queue(), queue.Queue()

        def loop():
            self.tmains.append(self.mod.getcurrent())
            outbox.put(None)
            while True:
                fn = inbox.get()
                if fn is None:
                    return
                outbox.put(self.do(fn))
        self.thread = threading.Thread(target=loop, daemon=True)
        self.thread.inbox, self.thread.outbox = inbox, outbox
        self.thread.start()
        outbox.get(timeout=30)

    def in_thread(self, fn):
        self.thread.inbox.put(fn)
        return self.thread.outbox.get(timeout=30)

    def stop_thread(self):
        self.thread.inbox.put(None)
        self.thread.join(30)
        assert not self.thread.is_alive()
        self.thread = None

    def teardown(self):
        if self.thread is not None:
            # unwind the thread's greenlets in their thread first
            def unwind(w):
                for g in w.tgs:
                    if g and not g.dead:
                        try:
                            g.throw(w.mod.GreenletExit)
                        except BaseException:  # noqa: B036
                            pass
            self.in_thread(unwind)
            self.stop_thread()
        self.tgs.clear()
        self.tgen.clear()
        super().teardown()


class TwoThreadOps(GreenletOps):
    """GreenletOps plus a second thread per world."""

    def __init__(self):
        RuleBasedStateMachine.__init__(self)
        self.worlds = [ThreadWorld(greenlet_ref), ThreadWorld(greenlet_ours)]
        for w in self.worlds:
            w.start_thread()

    def alive(self):
        return self.worlds[0].thread is not None

    def in_both_threads(self, step):
        ref, ours = (w.in_thread(lambda w=w: step(w)) for w in self.worlds)
        assert ours == ref

    # -- in the second thread --------------------------------------------
    @precondition(lambda self: self.alive() and len(self.worlds[0].tgs) < MAX)
    @rule(parent=st.integers(min_value=-1, max_value=MAX - 1),
          start=st.booleans())
    def t_create(self, parent, start):
        def step(w):
            home = w.mod.getcurrent()
            g = w.mod.greenlet(w.make_run('t%d' % len(w.tgs), home))
            w.tgs.append(g)
            w.tgen.append(w.gen)
            # a parent among this thread's greenlets (an exited thread's
            # are refused, the same way in both)
            if 0 <= parent < len(w.tgs) - 1:
                g.parent = w.tgs[parent]
            if start:           # left suspended in its first switch
                return g.switch('go')
            return g
        self.in_both_threads(step)

    @precondition(lambda self: self.alive() and self.worlds[0].tgs)
    @rule(i=st.integers(min_value=0, max_value=MAX - 1),
          value=st.sampled_from([1, 'finish', 'raise']))
    def t_switch(self, i, value):
        self.in_both_threads(lambda w: w.tgs[i % len(w.tgs)].switch(value))

    @precondition(lambda self: self.alive() and self.worlds[0].tgs)
    @rule(i=st.integers(min_value=0, max_value=MAX - 1),
          kind=st.sampled_from(['ValueError', 'GreenletExit']))
    def t_throw(self, i, kind):
        def step(w):
            exc = w.mod.GreenletExit if kind == 'GreenletExit' else ValueError
            return w.tgs[i % len(w.tgs)].throw(exc, 'thrown')
        self.in_both_threads(step)

    @precondition(lambda self: self.alive() and self.worlds[0].gs)
    @rule(i=st.integers(min_value=0, max_value=MAX - 1))
    def t_switch_to_main_threads(self, i):
        # illegal: a greenlet of the main thread, from the second thread
        self.in_both_threads(lambda w: w.gs[i % len(w.gs)].switch(1))

    @precondition(lambda self: self.alive())
    @rule()
    def t_exit_and_restart(self):
        # the thread exits with its greenlets as they are (suspended ones
        # are freed unrun once dropped); a new thread takes its place
        for w in self.worlds:
            w.stop_thread()
            w.start_thread()
        self.check_logs()

    # -- from the main thread, on the second thread's greenlets ----------
    # (switch, throw and set_parent on the greenlets of an exited thread are
    # left out of the comparison: greenlet 3.5.6 crashes on some switches to
    # them, and lets their parent change only once it has noticed the exit
    # at some later call; gevent_c's answers are checked in x_exited)
    @precondition(lambda self: self.worlds[0].live())
    @rule(i=st.integers(min_value=0, max_value=MAX - 1))
    def x_switch(self, i):
        self.both(lambda w: w.tgs[pick(w.live(), i)].switch(1))

    @precondition(lambda self: self.worlds[0].live())
    @rule(i=st.integers(min_value=0, max_value=MAX - 1))
    def x_throw(self, i):
        self.both(lambda w: w.tgs[pick(w.live(), i)].throw(ValueError, 'x'))

    @precondition(lambda self: self.worlds[0].live() and self.worlds[0].gs)
    @rule(i=st.integers(min_value=0, max_value=MAX - 1),
          j=st.integers(min_value=0, max_value=MAX - 1),
          into_thread=st.booleans())
    def x_set_parent(self, i, j, into_thread):
        def step(w):
            if into_thread:     # a main-thread greenlet under a thread's one
                w.gs[i % len(w.gs)].parent = w.tgs[pick(w.live(), j)]
            else:
                w.tgs[pick(w.live(), i)].parent = w.gs[j % len(w.gs)]
        self.both(step)

    @precondition(lambda self: self.worlds[0].exited())
    @rule(i=st.integers(min_value=0, max_value=MAX - 1))
    def x_exited(self, i):
        # gevent_c alone: a greenlet started in an exited thread is dead and
        # can be neither switched to nor thrown into (one that never
        # started there runs wherever its parents lead)
        w = self.worlds[1]
        g = w.tgs[pick(w.exited(), i)]
        if not g.dead:
            return
        assert not g
        for attempt in (lambda: g.switch(1), lambda: g.throw(ValueError)):
            with pytest.raises(w.mod.error):
                attempt()
        assert g.dead and not g

    @precondition(lambda self: self.worlds[0].tgs)
    @rule(i=st.integers(min_value=0, max_value=MAX - 1))
    def x_drop(self, i):
        # the last reference goes in the main thread: a suspended greenlet
        # of a live thread is killed there at its next greenlet call, one of
        # an exited thread is freed unrun
        def step(w):
            w.pop(i % len(w.tgs))
            gc.collect()
            return len(w.tgs)
        self.both(step)
        if self.alive():
            self.in_both_threads(lambda w: (w.mod.getcurrent(), gc.collect()) and None)
        self.check_logs()

    @precondition(lambda self: self.alive() and self.worlds[0].tgs)
    @rule(i=st.integers(min_value=0, max_value=MAX - 1))
    def t_drop(self, i):
        def step(w):
            w.pop(i % len(w.tgs))
            gc.collect()
            return len(w.tgs)
        self.in_both_threads(step)
        self.check_logs()

    def check_logs(self):
        ref, ours = (w.log for w in self.worlds)
        assert ours == ref

    @invariant()
    def parents_agree(self):
        ref, ours = ([w.name(g.parent) if g.parent is not None else None
                      for g in w.gs + w.tgs] for w in self.worlds)
        assert ours == ref


TestTwoThreadOps = TwoThreadOps.TestCase
TestTwoThreadOps.settings = settings(max_examples=50, stateful_step_count=30,
                                     deadline=None, derandomize=True)
