"""gevent_c.contextvars: the contextvars API with a context per greenlet."""
import pytest

import gevent_c
from gevent_c import contextvars as gcv


def test_get_set_reset_and_defaults():
    var = gcv.ContextVar('var', default='d')
    assert var.name == 'var' and var.get() == 'd' and var.get('x') == 'x'
    token = var.set(1)
    assert var.get() == 1 and token.var is var and token.old_value is gcv.Token.MISSING
    token2 = var.set(2)
    var.reset(token2)
    assert var.get() == 1
    var.reset(token)
    assert var.get() == 'd'
    with pytest.raises(RuntimeError):
        var.reset(token)
    with pytest.raises(LookupError):
        gcv.ContextVar('nodefault').get()
    with pytest.raises(TypeError):
        gcv.ContextVar(1)
    with pytest.raises(TypeError):
        class Sub(gcv.ContextVar):
            pass


def test_each_greenlet_has_its_own_context():
    var = gcv.ContextVar('per_greenlet', default=None)
    var.set('main')
    seen = []

    def work(i):
        assert var.get() is None
        var.set(i)
        gevent_c.sleep(0)
        seen.append(var.get())
    gevent_c.joinall([gevent_c.spawn(work, i) for i in range(5)])
    assert sorted(seen) == list(range(5)) and var.get() == 'main'


def test_copy_context_and_run():
    var = gcv.ContextVar('snap')
    var.set('before')
    ctx = gcv.copy_context()
    var.set('after')
    assert ctx[var] == 'before' and var in ctx and len(ctx) >= 1 and var in list(ctx)

    def inside():
        assert var.get() == 'before'
        var.set('changed in ctx')
        with pytest.raises(RuntimeError):
            ctx.run(lambda: None)        # already entered
        return 'result'
    assert ctx.run(inside) == 'result'
    assert ctx[var] == 'changed in ctx' and var.get() == 'after'
    other = gcv.ContextVar('other')
    token = other.set(1)
    with pytest.raises(ValueError):
        ctx.run(other.reset, token)      # a token of another context
    with pytest.raises(TypeError):
        ctx['not a var']
    assert gcv.ContextVar[int] is gcv.ContextVar
