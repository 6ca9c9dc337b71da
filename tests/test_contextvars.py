"""gevent_c.contextvars: the contextvars API whose current context is per greenlet."""
from _hubtest import clean_hub  # noqa: F401 -- fixture

import gevent_c


def test_module_imports_and_each_greenlet_has_its_own_context():
    from gevent_c import contextvars as gcv
    var = gcv.ContextVar('var', default='unset')
    token = var.set('main')
    seen = []
    gevent_c.spawn(lambda: seen.append(var.get())).join()
    assert seen == ['unset']           # a new greenlet starts in a new context
    snapshot = gcv.copy_context()
    assert snapshot[var] == 'main'
    assert snapshot.run(var.get) == 'main'
    var.reset(token)
    assert var.get() == 'unset'
    assert set(gcv.__all__) == {'ContextVar', 'Context', 'copy_context', 'Token'}
