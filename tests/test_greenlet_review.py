"""Crashes and leaks found in review of gevent_c._greenlet: each scenario
runs in a fresh interpreter, so a crash fails the test instead of pytest."""
import sys
import textwrap

from _isolated import run_isolated as _run_isolated

PRELUDE = """
import gc, sys, threading
from gevent_c._greenlet import greenlet, getcurrent, GreenletExit, error
import gevent_c._greenlet as GL

def other_thread():
    # a thread parked until stop is set; box['main'] is its main greenlet
    ready, stop, box = threading.Event(), threading.Event(), {}
    def park():
        box['main'] = getcurrent()
        ready.set()
        stop.wait()
    th = threading.Thread(target=park)
    th.start()
    ready.wait()
    return box, stop, th
"""


def run_isolated(code, env=None, dev=False):
    """Run *code*, after PRELUDE, in a fresh interpreter."""
    return _run_isolated(PRELUDE + textwrap.dedent(code), env=env, dev=dev)


def test_gr_frame_of_greenlet_suspended_in_a_c_stack_entry_frame():
    # On 3.12 the current frame is the C-stack entry frame while a function
    # C called returns; the switch here happens from a weakref callback.
    out = run_isolated('''
        import weakref
        main = getcurrent()
        class Obj: pass
        def g_run():
            obj = Obj()
            g_run.wr = weakref.ref(obj, main.switch)
            return 'done'
        g = greenlet(g_run)
        g.switch()
        def nest(n):   # each level overwrites more of g's stack slice
            if n == 0:
                return g.gr_frame
            return list(map(lambda _: nest(n - 1), [0]))[0]
        for depth in (0, 1, 5, 20):
            f = nest(depth)
            assert f is None or f.f_code.co_name == 'g_run', f
        print(g.switch())
    ''')
    assert out == 'done\n'


def test_gr_frame_of_greenlet_suspended_in_a_kill_started_from_c():
    out = run_isolated('''
        main = getcurrent()
        def victim_run():
            try:
                killer.switch()
            except GreenletExit:
                main.switch('in kill')
                raise
        def f(_):
            v = greenlet(victim_run)
            v.switch()
            return 1          # v dies here, killed while C called f
        def killer_run():
            return list(map(f, [0]))
        killer = greenlet(killer_run)
        assert killer.switch() == 'in kill'
        def nest(n):
            if n == 0:
                return killer.gr_frame
            return list(map(lambda _: nest(n - 1), [0]))[0]
        for d in (0, 2, 5):
            fr = nest(d)
            print(fr.f_code.co_name, fr.f_back)
        print(killer.switch())
    ''')
    assert out.splitlines() == ['killer_run None'] * 3 + ['[1]']


def test_unstarted_greenlet_whose_parent_moved_to_another_thread_raises():
    out = run_isolated('''
        box, stop, th = other_thread()
        P = greenlet(lambda *a: 'P ran')
        g = greenlet(lambda: 'g ran', parent=P)
        P.parent = box['main']
        try:
            g.switch()
        except error as e:
            print(str(e).splitlines()[0])
        print(g, P)
        stop.set(); th.join()
    ''')
    assert out.splitlines()[0] == 'Cannot switch to a different thread'
    assert 'pending' in out.splitlines()[1]


def test_parent_moved_to_another_thread_by_run_lookup_raises():
    out = run_isolated('''
        box, stop, th = other_thread()
        class G(greenlet):
            @property
            def run(self):
                P.parent = box['main']
                return lambda: 'g ran'
        P = greenlet(lambda *a: 'P ran')
        g = G(parent=P)
        try:
            g.switch()
        except error as e:
            print(str(e).splitlines()[0])
        stop.set(); th.join()
    ''')
    assert out.splitlines() == ['Cannot switch to a different thread']


def test_greenlet_started_by_another_thread_during_run_lookup_raises():
    # the run getter releases the GIL; meanwhile another thread re-parents
    # the greenlet to its own main and starts it: the switch that looked up
    # run must not then switch into that thread's greenlet (it crashed)
    out = run_isolated('''
        go, started = threading.Event(), threading.Event()
        box = {}
        def thread_b():
            box['bmain'] = getcurrent()
            go.wait()
            g = box['g']
            g.parent = box['bmain']
            print('B got', g.switch(), flush=True)
            started.set()
        class G(greenlet):
            @property
            def run(self):
                if threading.current_thread() is threading.main_thread():
                    go.set()
                    started.wait()
                return lambda: getcurrent().parent.switch('from g')
        th = threading.Thread(target=thread_b)
        th.start()
        box['g'] = G()
        try:
            box['g'].switch()
        except error as e:
            print(str(e).splitlines()[0])
        th.join()
    ''')
    lines = out.splitlines()
    assert lines[0] == 'B got from g'
    assert lines[1].lower().startswith('cannot switch to a different thread')


def test_finished_greenlet_whose_parents_moved_away_raises_in_main():
    out = run_isolated('''
        box, stop, th = other_thread()
        P = greenlet(lambda *a: 'P ran')
        def g_run():
            P.parent = box['main']      # while g runs: no parent left here
            return 'g ran'
        g = greenlet(g_run, parent=P)
        try:
            g.switch()
        except error as e:
            print(str(e).splitlines()[0])
        print(g.dead)
        stop.set(); th.join()
    ''')
    assert out.splitlines() == ['Cannot switch to a different thread', 'True']


def test_greenlets_of_an_exited_thread_free_their_data_stacks():
    out = run_isolated('''
        import tracemalloc
        def worker(keep):
            m = getcurrent()
            def run():
                def deeper(n):   # past the root chunk
                    if n:
                        return deeper(n - 1)
                    m.switch()
                deeper(60)
            for i in range(300):
                g = greenlet(run); g.switch(); keep.append(g)
        def round_():
            keep = []
            t = threading.Thread(target=worker, args=(keep,)); t.start(); t.join()
            del keep
            gc.collect()
        round_()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        round_()
        print(tracemalloc.get_traced_memory()[0] - before)
    ''')
    # 300 leaked root chunks would be at least 300 KiB; on 3.10 (frame
    # objects, no data stack) the 300 x 61 frames would be about 8 MiB
    assert int(out) < 100 * 1024, out


def test_locals_of_an_exited_threads_greenlets_are_released_or_kept_alive():
    # What a suspended greenlet's frames hold once its thread is gone: on
    # 3.10 its frames are objects and they are released with it (so are
    # their locals); from 3.11 on the frames live in data-stack chunks, and
    # their locals are released before the chunks are freed.  A generator
    # frame on the way stops the release: the frames below it stay, with
    # their locals.
    out = run_isolated('''
        import weakref
        class Marker: pass
        refs = {'plain': [], 'below_gen': []}
        def worker():
            m = getcurrent()
            def plain():
                x = Marker(); refs['plain'].append(weakref.ref(x))
                m.switch()
            def gen():
                yield m.switch()
            def below_gen():
                x = Marker(); refs['below_gen'].append(weakref.ref(x))
                for _ in gen():
                    pass
            keep.extend(greenlet(f) for f in (plain, below_gen))
            for g in keep:
                g.switch()
        keep = []
        t = threading.Thread(target=worker); t.start(); t.join()
        del keep[:]
        gc.collect()
        print(sum(r() is None for r in refs['plain']),
              sum(r() is None for r in refs['below_gen']))
    ''')
    assert out.split() == ['1', '0'], out


def test_unreachable_greenlet_found_by_the_collector_is_killed_after_it():
    # Killing it inside the collection would run it on the C stack where
    # the collector keeps its object lists' heads: the finalizer object it
    # drops is unlinked next to a head, which wrote over the greenlet's own
    # stack (a crash on 3.10 and 3.11, depending on the list order).  It is
    # killed when the collection ends, and freed by the next one.
    for order in ('before', 'after'):
        out = run_isolated('''
            order = %r
            log = []
            class Finalized:
                def __del__(self):
                    log.append('del')
            def found():
                return [o for o in gc.get_objects()
                        if type(o) is greenlet and 'tag' in o.__dict__]
            def scenario():
                main = getcurrent()
                early = Finalized() if order == 'before' else None
                cycle = []
                def body():
                    getcurrent().obj = early if early is not None else Finalized()
                    try:
                        main.switch()
                    except GreenletExit:
                        log.append('exit')
                    finally:
                        del getcurrent().obj
                g = greenlet(body)
                g.tag = g.cycle = cycle
                cycle.append(g)
                g.switch()
                del cycle, g, early
                gc.collect()
                print(sorted(log), [g.dead for g in found()])
                gc.collect()
                print(found())
            hooks = lambda: [cb for cb in gc.callbacks if 'after_gc' in repr(cb)]
            print(len(hooks()))   # no cost for programs that never need it
            scenario()
            del log[:]
            scenario()
            print(len(hooks()))   # added when first needed, once
        ''' % order)
        assert out.splitlines() == ['0'] + ["['del', 'exit'] [True]", '[]'] * 2 + ['1'], \
            (order, out)


def test_recursion_error_in_a_greenlet_switched_to_during_normalization():
    # 3.10 and 3.11 count "handling a RecursionError" (recursion_headroom)
    # while they normalize an exception, which runs the class's __init__;
    # a greenlet switched to from there must not inherit that count, or
    # its own overflow is a fatal "Cannot recover from stack overflow".
    out = run_isolated('''
        import ctypes
        main = getcurrent()
        results = []
        def deep():
            return deep()
        def other():
            try:
                deep()
            except RecursionError:
                results.append('RecursionError')
            main.switch()
        class Switching(Exception):
            def __init__(self, *args):
                g.switch()
                super().__init__(*args)
        g = greenlet(other)
        set_string = ctypes.pythonapi.PyErr_SetString
        set_string.argtypes = [ctypes.py_object, ctypes.c_char_p]
        try:
            set_string(Switching, b'set by C, normalized later')
        except Switching as exc:
            results.append(str(exc))
        print(results)
    ''')
    assert out.strip() == "['RecursionError', 'set by C, normalized later']", out


def test_suspended_greenlet_with_a_live_frame_object_keeps_it_readable():
    out = run_isolated('''
        frames = []
        def worker():
            m = getcurrent()
            def run():
                x = 'local'
                frames.append(sys._getframe())
                m.switch()
            greenlet(run).switch()
        t = threading.Thread(target=worker); t.start(); t.join()
        gc.collect()
        junk = [bytearray(1024) for i in range(1000)]
        print(frames[0].f_code.co_name, frames[0].f_lineno > 0)
        frames.clear()
    ''')
    assert out == 'run True\n'


def test_trace_function_switching_during_a_start_leaks_no_reference():
    out = run_isolated('''
        def tracer(event, args):
            origin, target = args
            if event == 'switch' and target is globals().get('child') \\
                    and origin is o and not hasattr(tracer, 'done'):
                tracer.done = True
                helper.switch()
        def helper_run():
            child.switch()
        def origin_run():
            global child
            child = greenlet(lambda: 'child done')
            return child.switch()
        helper = greenlet(helper_run)
        o = greenlet(origin_run)
        GL.settrace(tracer)
        before = sys.getrefcount(o)
        r = o.switch()
        GL.settrace(None)
        del child, helper
        gc.collect()
        print(r, sys.getrefcount(o) - before)
    ''')
    assert out == 'child done 0\n'


def test_parent_freed_by_its_run_lookup_is_held_until_started():
    env = dict(__import__('os').environ, PYTHONMALLOC='debug')
    out = run_isolated('''
        main = getcurrent()
        class P(greenlet):
            @property
            def run(self):
                d.parent = main          # drops the last reference to this P
                return lambda *a: ('P ran', a)
        d = greenlet(lambda: 'd result')
        d.parent = P()
        gc.collect()
        print(d.switch())
        junk = [greenlet(len) for i in range(100)]
    ''', env=env)
    assert out == "('P ran', ('d result',))\n"


def test_freeing_a_long_parent_chain_does_not_overflow_the_c_stack():
    out = run_isolated('''
        N = 200000
        gs = [greenlet(len) for i in range(N)]
        for i in range(N - 1):
            gs[i].parent = gs[i + 1]
        head = gs[0]
        del gs
        del head
        print('freed')
    ''')
    assert out == 'freed\n'


def test_run_released_at_start_may_switch_away_from_the_new_greenlet():
    # The run given to the constructor is dropped once the greenlet runs
    # (a subclass looked up another); its __del__ switches back to main
    # from inside the started greenlet, which resumes later.
    out = run_isolated('''
        main = getcurrent()
        log = []
        class SwitchesInDel:
            def __del__(self):
                log.append('del')
                log.append(('del got', main.switch('from del')))
        def real_run():
            log.append('real run')
            return 'done'
        class G(greenlet):
            def __getattribute__(self, name):
                if name == 'run':
                    log.append('lookup')
                    return real_run
                return greenlet.__getattribute__(self, name)
        g = G(SwitchesInDel())
        log.append(('main got', g.switch()))
        log.append(('main got', g.switch('resume')))
        print(log)
        print(g.dead)
    ''')
    assert out.splitlines() == [
        "['lookup', 'del', ('main got', 'from del'), ('del got', 'resume'), "
        "'real run', ('main got', 'done')]",
        'True']


def test_gr_frame_of_greenlet_suspended_in_an_exited_thread():
    out = run_isolated('''
        box = {}
        def outer():
            inner()
        def inner():
            marker = 'inner local'
            getcurrent().parent.switch()
        def gen_body():
            yield getcurrent().parent.switch()
        def in_generator():
            for _ in gen_body():
                pass
        def creator():
            for name, fn in (('plain', outer), ('generator', in_generator)):
                g = greenlet(fn)
                g.switch()
                box[name] = g
        t = threading.Thread(target=creator)
        t.start(); t.join()
        g = box['plain']
        print(g.dead, repr(g).endswith('(thread exited) dead>'))
        f = g.gr_frame
        print(f.f_code.co_name, f.f_locals['marker'], f.f_back.f_code.co_name,
              f.f_back.f_back)
        try:
            f.clear()
        except RuntimeError:
            print('cannot clear')
        # frames outside the greenlet's data stack are not followed
        f2 = box['generator'].gr_frame
        print(f2 is None or f2.f_code.co_name in ('gen_body', 'in_generator'))
        del f, f2, g
        box.clear()
        gc.collect()
        print('freed')
    ''', dev=True)
    assert out.splitlines() == ['True True', 'inner inner local outer None',
                                'cannot clear', 'True', 'freed']
