"""Debugging helpers: what every thread and greenlet is doing, who spawned
whom, and a check that a block of code yields to the hub.

- :func:`format_run_info` / :func:`print_run_info`: the stacks of all threads
  and the greenlet tree of each thread (running stacks, spawning stacks,
  spawn tree locals, greenlet-local values);
- :class:`GreenletTree`: that tree, built from ``spawning_greenlet``;
- :class:`wrap_errors`: a callable returning chosen exceptions instead of
  raising them;
- :class:`assert_switches`: AssertionError if the body did not switch
  greenlets (or blocked longer than allowed between two switches).

Example::

    from gevent_c import util
    util.print_run_info()            # to sys.stderr
    with util.assert_switches():
        gevent_c.sleep(0)
"""
import gc
import pprint
import sys
import time
import traceback

from gevent_c._greenlet import getcurrent
from gevent_c._greenlet import greenlet as RawGreenlet
from gevent_c._greenlet import gettrace
from gevent_c._greenlet import settrace

__all__ = [
    'wrap_errors', 'format_run_info', 'print_run_info', 'GreenletTree', 'assert_switches',
]

_STACK_LIMIT = 20  # frames of a running greenlet's or a thread's stack shown


class wrap_errors:
    """Call *func*; if it raises one of *errors*, return that exception.

    ``wrap_errors(ValueError, int)('x')`` returns the ValueError instead of
    raising it. Attributes, ``str`` and ``repr`` are those of *func*.
    """

    def __init__(self, errors, func):
        self.__errors = errors
        self.__func = func
        self.__name__ = getattr(func, '__name__', type(func).__name__)

    def __call__(self, *args, **kwargs):
        try:
            return self.__func(*args, **kwargs)
        except self.__errors as ex:
            return ex

    def __str__(self):
        return str(self.__func)

    def __repr__(self):
        return repr(self.__func)

    def __getattr__(self, name):
        return getattr(self.__func, name)


# -- run info ---------------------------------------------------------------

def format_run_info(thread_stacks=True, greenlet_stacks=True, limit=None,
                    current_thread_ident=None):
    """Lines describing every thread (with its stack if *thread_stacks*) and
    the greenlet tree of each thread (with what each greenlet is running if
    *greenlet_stacks*); *limit* caps the frames shown per stack."""
    import threading
    limit = _STACK_LIMIT if limit is None else limit
    lines = ['*' * 80, '* Threads']
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    current = threading.get_ident() if current_thread_ident is None else current_thread_ident
    for ident, frame in sys._current_frames().items():
        lines.append('*** Thread %s (%#x)%s' % (names.get(ident, '<unknown>'), ident,
                                              ' (current)' if ident == current else ''))
        if thread_stacks:
            lines.append(''.join(traceback.format_stack(frame, limit)))
        elif ident == current:
            lines.append('<this thread>')
        lines.append('')
    lines += ['*' * 80, '* Greenlets']
    details = {'running_stacks': greenlet_stacks, 'running_stack_limit': limit}
    for tree in GreenletTree.forest():
        lines.extend(tree.format_lines(details))
    del frame
    return lines


def print_run_info(thread_stacks=True, greenlet_stacks=True, limit=None, file=None):
    """Print :func:`format_run_info` to *file* (sys.stderr by default)."""
    for line in format_run_info(thread_stacks, greenlet_stacks, limit):
        print(line, file=sys.stderr if file is None else file)


#: format_run_info's name before gevent 1.3, kept by gevent.
dump_stacks = format_run_info


def clear_stack_frames(frame):
    """Drop what *frame* and the frames below it (``f_back``) hold, as far
    as each allows: a running frame cannot be cleared and is skipped."""
    while frame is not None:
        try:
            frame.clear()
        except RuntimeError:
            pass
        frame = frame.f_back


# -- the greenlet tree -------------------------------------------------------

def _spawner_of(glet):
    ref = getattr(glet, 'spawning_greenlet', None)
    return ref() if ref is not None else None


def _root_of(glet):
    while glet.parent is not None:
        glet = glet.parent
    return glet


def _locals_of(glet):
    """[(local class name, id, values)] of the gevent_c.local objects that
    hold values for *glet*."""
    from gevent_c.local import all_local_dicts_for_greenlet
    return [(kind.__name__, ident, values)
            for (kind, ident), values in all_local_dicts_for_greenlet(glet)]


class GreenletTree:
    """A greenlet and the trees of the greenlets it spawned.

    Greenlets are arranged by ``spawning_greenlet`` (their parent is usually
    the hub); one root per thread, its main greenlet. ``str()`` shows the
    shape; ``format(details)`` adds stacks and locals. Other attributes are
    those of the greenlet.
    """

    #: The greenlet of this node.
    greenlet = None
    #: Whether this is the root of the current thread's tree.
    is_current_tree = False

    DEFAULT_DETAILS = {'running_stacks': True, 'running_stack_limit': _STACK_LIMIT,
                       'spawning_stacks': True, 'locals': True}

    def __init__(self, greenlet):
        self.greenlet = greenlet
        self.child_trees = []

    def add_child(self, tree):
        if tree is not self:
            self.child_trees.append(tree)

    @property
    def root(self):
        """Whether this greenlet is a main greenlet (no parent)."""
        return self.greenlet.parent is None

    def __getattr__(self, name):
        return getattr(self.greenlet, name)

    # rendering: a node is its label line, then indented detail lines, then
    # its children, each drawn with a branch
    def _label(self):
        glet = self.greenlet
        label = repr(glet)
        if not glet:
            if getattr(glet, 'ready', lambda: glet.dead)():
                label += '; finished'
                if getattr(glet, 'value', None) is not None:
                    label += ' with value ' + repr(glet.value)[:30]
                elif getattr(glet, 'exception', None) is not None:
                    label += ' with exception ' + repr(glet.exception)
            else:
                label += '; not running'
        return label

    def _details(self, details):
        glet, out = self.greenlet, []
        out.append('Parent: ' + repr(glet.parent))
        if glet and details['running_stacks'] and glet.gr_frame is not None:
            out.append('Running:')
            out += _indented(traceback.format_stack(glet.gr_frame,
                                                    details['running_stack_limit']))
        stack = getattr(glet, 'spawning_stack', None)
        if stack is not None and details['spawning_stacks']:
            out.append('Spawned at:')
            out += _indented(traceback.format_stack(stack))
        tree_locals = getattr(glet, 'spawn_tree_locals', None)
        if tree_locals and tree_locals is not getattr(_spawner_of(glet), 'spawn_tree_locals',
                                                      None):
            out.append('Spawn Tree Locals')
            out += _indented([pprint.pformat(tree_locals)])
        if details['locals']:
            values = [v for v in _locals_of(glet) if v[2]]
            if values:
                out.append('Greenlet Locals:')
                for kind, ident, vals in values:
                    out.append('  Local %s at %#x' % (kind, ident))
                    out += _indented([pprint.pformat(vals)], '    ')
        return out

    def _render(self, details):
        lines = [self._label()]
        children = sorted(self.child_trees, key=lambda c: (
            getattr(c.greenlet, 'minimal_ident', -1), not c.greenlet, id(c.greenlet.parent)))
        body = self._details(details) if details else []
        lines += [(': ' if children else '  ') + line for line in body]
        for n, child in enumerate(children):
            last = n == len(children) - 1
            child_lines = child._render(details)
            lines.append(('`--- ' if last else '+--- ') + child_lines[0])
            lines += [('     ' if last else ':    ') + line for line in child_lines[1:]]
        return lines

    def format_lines(self, details=True):
        """The tree as lines; *details* True (all), False (shape only) or a
        dict overriding DEFAULT_DETAILS."""
        if details is True:
            details = self.DEFAULT_DETAILS
        elif details:
            details = dict(self.DEFAULT_DETAILS, **details)
        return self._render(details)

    def format(self, details=True):
        return '\n'.join(self.format_lines(details))

    def __str__(self):
        return self.format(False)

    @classmethod
    def _forest(cls):
        main = _root_of(getcurrent())
        trees, roots = {}, {}

        def tree_of(glet):
            tree = trees.get(glet)
            if tree is None:
                tree = trees[glet] = cls(glet)
            return tree
        roots[main] = tree_of(main)
        roots[main].is_current_tree = True
        for glet in [o for o in gc.get_objects() if isinstance(o, RawGreenlet)]:
            spawner = _spawner_of(glet)
            if spawner is None:  # a raw greenlet, or its spawner is gone
                spawner = _root_of(glet)
            if spawner.parent is None and spawner not in roots:
                roots[spawner] = tree_of(spawner)
            tree_of(spawner).add_child(tree_of(glet))
        return roots, roots[main]

    @classmethod
    def forest(cls):
        """The root tree of every thread that has greenlets."""
        return list(cls._forest()[0].values())

    @classmethod
    def current_tree(cls):
        """The root tree of the current thread."""
        return cls._forest()[1]


def _indented(chunks, prefix='  '):
    return [prefix + line for chunk in chunks for line in chunk.rstrip('\n').split('\n')]


# -- assert_switches ----------------------------------------------------------

class _FailedToSwitch(AssertionError):
    pass


class assert_switches:
    """AssertionError on leaving the block if it did not switch greenlets.

    With *max_blocking_time*, the block may also go without switching for at
    most that many seconds at a time (counting only switches into the hub if
    *hub_only*). An exception raised in the block is left alone.

        with assert_switches():
            gevent_c.sleep(0)      # fine
        with assert_switches():
            pass                   # AssertionError
    """

    def __init__(self, max_blocking_time=None, hub_only=False):
        self.max_blocking_time = max_blocking_time
        self.hub_only = hub_only
        self.hub = None
        self._previous = None

    def __enter__(self):
        from gevent_c._hub_local import get_hub
        self.hub = get_hub()
        self._switches = 0
        self._entered = self._last = time.perf_counter()
        self._longest = 0.0
        self._previous = gettrace()
        settrace(self._trace)
        return self

    def _trace(self, event, args):
        if event in ('switch', 'throw') and (not self.hub_only or args[1] is self.hub):
            now = time.perf_counter()
            self._longest = max(self._longest, now - self._last)
            self._last = now
            self._switches += 1
        if self._previous is not None:
            self._previous(event, args)

    def __exit__(self, typ, value, tb):
        settrace(self._previous)
        self._previous, hub, self.hub = None, self.hub, None
        if typ is not None:
            return
        now = time.perf_counter()
        longest = max(self._longest, now - self._last)
        limit = self.max_blocking_time
        if limit:
            if longest <= limit:
                return
        elif self._switches:
            return
        message = '%s in %.4f seconds' % ('To the hub' if self.hub_only else 'To any greenlet',
                                          now - self._entered)
        if limit:
            message += ' (max allowed %.4f seconds, longest without a switch %.4f)' % (
                limit, longest)
        raise _FailedToSwitch(message + ': the block did not switch (hub %r)' % (hub,))
