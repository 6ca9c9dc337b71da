"""Long chains of unstarted greenlets, each the parent of the next.

When the deepest one finishes, its result goes to its parent, which has
never run and starts then; and so on up the chain.  Started one below the
frames of the other, 50,000 links overflow the C stack (greenlet itself
crashes at 20,000); gevent_c starts each parent in place of its finished
child, so the chain runs in constant C stack.  Building the chain must not
be quadratic either (set_parent's cycle check, the thread check of every
start).  Every scenario runs in a subprocess: a regression is a crash.
"""
import textwrap

import pytest

from tests._isolated import run_isolated

LINKS = 50_000

# builds `chain` (chain[i].parent is chain[i - 1], chain[0].parent is main)
# half of it through the constructor and half through the parent setter
BUILD = '''
import sys
from {mod} import greenlet, getcurrent
N = int(sys.argv[1])
main = getcurrent()
chain = []
prev = main
for i in range(N):
    if i % 2:
        g = greenlet(run, parent=prev)
    else:
        g = greenlet(run)
        g.parent = prev
    chain.append(g)
    prev = g
'''


def _run(body, n, mod='gevent_c._greenlet', timeout=120):
    code = textwrap.dedent(body).replace('{BUILD}', BUILD.format(mod=mod))
    return run_isolated(code, str(n), timeout=timeout)


@pytest.mark.timeout(240)
def test_deepest_of_a_50000_link_chain_finishing_runs_every_parent():
    out = _run('''
        def run(x=0):
            return x + 1
        {BUILD}
        print(chain[-1].switch(0))
        print(all(g.dead for g in chain))
    ''', LINKS)
    assert out.split() == [str(LINKS), 'True']


@pytest.mark.timeout(240)
def test_exception_of_the_deepest_passes_through_50000_unstarted_parents():
    out = _run('''
        def run(x=0):
            raise KeyError('deepest')
        {BUILD}
        try:
            chain[-1].switch()
        except KeyError as e:
            print('KeyError', e.args[0])
        print(all(g.dead for g in chain))
    ''', LINKS)
    assert out.split() == ['KeyError', 'deepest', 'True']


@pytest.mark.timeout(240)
def test_chain_whose_links_suspend_and_resume_midway():
    # every link, started in place of its child, switches to main and is
    # resumed from there: its slice of the stack must come back intact
    out = _run('''
        def run(x=0):
            y = main.switch(('paused', pos[getcurrent()], x))
            return x + y
        {BUILD}
        pos = {g: i for i, g in enumerate(chain)}
        got = chain[-1].switch(0)
        order = []
        while isinstance(got, tuple):
            order.append(got[1])
            assert got[2] == len(order) - 1, got
            got = chain[got[1]].switch(1)
        print(order == list(range(N - 1, -1, -1)), got)
    ''', 2_000)
    assert out.split() == ['True', '2000']


@pytest.mark.timeout(120)
def test_chain_starts_like_greenlet_on_a_short_chain():
    # the oracle: greenlet itself on a chain short enough for its C stack
    body = '''
        log = []
        def run(*args):
            me = getcurrent()
            log.append(('start', chain.index(me), args))
            got = main.switch(chain.index(me))
            log.append(('resumed', chain.index(me), got))
            if chain.index(me) == 3:
                raise ValueError('at 3')
            return chain.index(me) * 10
        {BUILD}
        out = []
        try:
            got = chain[-1].switch('go')
            while True:
                out.append(got)
                got = chain[got].switch('back')
        except ValueError as e:
            out.append(repr(e))
        print(log)
        print(out)
        print([g.dead for g in chain])
    '''
    assert _run(body, 8) == _run(body, 8, mod='greenlet')


@pytest.mark.timeout(240)
def test_building_a_100000_link_chain_is_not_quadratic():
    # quadratic, this took minutes (69 s for 50,000 links); the test's
    # timeout is the bound, not a timing assertion
    out = _run('''
        def run(x=0):
            return x + 1
        {BUILD}
        for g in chain[::1000]:
            g.parent = g.parent         # re-setting walks nothing new
        try:
            chain[0].parent = chain[-1]
        except ValueError as e:
            print(e)
        print(chain[-1].switch(0))
    ''', 100_000)
    assert out.splitlines() == ['cyclic parent chain', '100000']


def test_cycle_through_a_parent_set_by_creation_or_kill_is_refused():
    out = run_isolated('''
        import gc
        from gevent_c._greenlet import greenlet, getcurrent
        main = getcurrent()
        def run():
            # made while `a` runs: its parent is `a`
            box.append(greenlet(lambda: None))
            main.switch()
        box = []
        a = greenlet(run)
        a.switch()
        try:
            a.parent = box[0]
        except ValueError as e:
            print(e)
        b = greenlet(lambda: None)
        c = greenlet(lambda: None, parent=b)
        try:
            b.parent = c
        except ValueError as e:
            print(e)
        try:
            b.parent = b
        except ValueError as e:
            print(e)
    ''')
    assert out.splitlines() == ['cyclic parent chain'] * 3
