"""The runner of gevent's own suite (tests/compat/gevent_suite.py): its list of
known failures, its reading of unittest reports and its verdicts, on a tiny
fake suite run for real through gevent_c.install_as_gevent()."""
import os
import textwrap

import pytest

from tests.compat import gevent_suite as suite


def test_known_list_needs_a_reason_on_every_entry():
    known = suite.parse_known(textwrap.dedent("""\
        # a comment

        test__a.py::T::test_x  # gevent private internals
        test__b.py # a whole file
        """))
    assert known == {'test__a.py::T::test_x': 'gevent private internals',
                     'test__b.py': 'a whole file'}
    with pytest.raises(ValueError, match='no "# reason"'):
        suite.parse_known('test__a.py::T::test_x\n')
    with pytest.raises(ValueError, match='no "# reason"'):
        suite.parse_known('test__a.py::T::test_x  #   \n')
    with pytest.raises(ValueError, match='not file.py'):
        suite.parse_known('a.py::T::test_x::more  # why\n')


def test_a_known_entry_can_apply_from_a_python_version_on():
    text = 'test__a.py::T::test_x  # 3.13+ only: a 3.13 difference\ntest__b.py  # always\n'
    assert suite.parse_known(text, version=(3, 12)) == {'test__b.py': 'always'}
    assert suite.parse_known(text, version=(3, 13)) == {
        'test__a.py::T::test_x': '3.13+ only: a 3.13 difference', 'test__b.py': 'always'}
    assert 'test__a.py::T::test_x' in suite.parse_known(text, version=(4, 0))


def test_an_entry_covers_its_class_and_file_but_not_neighbours():
    known = {'test__a.py::T': 'r'}
    assert suite.is_known('test__a.py::T::test_x', known)
    assert not suite.is_known('test__a.py::U::test_x', known)
    assert not suite.is_known('test__ab.py::T::test_x', known)
    assert suite.is_known('test__b.py::T::t', {'test__b.py': 'r'})


REPORT = """\
..FE
======================================================================
ERROR: test_err (__main__.T.test_err)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "x.py", line 3, in test_err
ZeroDivisionError: division by zero

======================================================================
FAIL: test_fail (__main__.T)
----------------------------------------------------------------------
Traceback (most recent call last):
AssertionError: 1 != 2

----------------------------------------------------------------------
Ran 6 tests in 0.010s

FAILED (failures=1, errors=1, skipped=1)
"""


def test_report_counts_and_verdict():
    report = suite.parse_report('test__a.py', REPORT, 1)
    assert report['run'] == 6 and report['skipped'] == 1
    assert report['bad'] == {
        'test__a.py::T::test_err': 'ERROR: ZeroDivisionError: division by zero',
        'test__a.py::T::test_fail': 'FAIL: AssertionError: 1 != 2'}
    result = suite.verdict('test__a.py', report, {'test__a.py::T::test_err': 'why'})
    assert (result['status'], result['passed'], result['failed'], result['errors'],
            result['known'], result['skipped']) == ('FAILED', 3, 1, 0, 1, 1)
    result = suite.verdict('test__a.py', report, {'test__a.py::T': 'why'})
    assert result['status'] == 'known' and result['known'] == 2


def test_a_crash_or_a_timeout_is_one_error_unless_the_file_is_listed():
    report = suite.parse_report('test__a.py', 'Traceback...\nSegmentation fault\n', -11)
    assert report['crash'] == 'exit -11: Segmentation fault'
    assert suite.verdict('test__a.py', report, {})['errors'] == 1
    assert suite.verdict('test__a.py', report, {'test__a.py': 'r'})['status'] == 'known'
    assert suite.parse_report('test__a.py', '', None)['crash'] == 'timed out'


FAKE_TESTS = {
    'test__ok.py': """
        import sys, unittest
        import gevent, gevent.event, gevent_c, greenlet
        from gevent import testing
        class T(unittest.TestCase):
            def test_alias(self):
                # install_as_gevent() ran at start-up (sitecustomize)
                self.assertEqual(gevent.__gevent_c_alias__, 'gevent_c')
                self.assertIs(gevent.spawn, gevent_c.spawn)
                self.assertIs(gevent.event, gevent_c.event)
                self.assertIs(greenlet.getcurrent(), gevent_c.getcurrent())
                self.assertNotIn('gevent._gevent_cgreenlet', sys.modules)
                gevent.sleep(0)
            def test_support_from_the_reference(self):
                self.assertEqual(testing.WHERE, 'reference')
                self.assertEqual(__spec__.name, 'gevent.tests.test__ok')
        if __name__ == '__main__':
            unittest.main()
        """,
    'test__listed.py': """
        import unittest
        class T(unittest.TestCase):
            def test_listed(self):
                self.assertEqual(1, 2)
            def test_fine(self):
                pass
        if __name__ == '__main__':
            unittest.main()
        """,
    'test__unlisted.py': """
        import unittest
        class T(unittest.TestCase):
            def test_bad(self):
                raise KeyError('boom')
        if __name__ == '__main__':
            unittest.main()
        """,
    'test__import_error.py': """
        from gevent import a_module_nobody_writes  # an import error: one error
        """,
}


def run_fake(tmp_path, capsys, files, known_text):
    tests = tmp_path / 'ref' / 'tests'
    tests.mkdir(parents=True)
    (tmp_path / 'ref' / 'testing').mkdir()
    (tmp_path / 'ref' / 'testing' / '__init__.py').write_text("WHERE = 'reference'\n")
    (tests / '__init__.py').write_text('')
    for name, text in FAKE_TESTS.items():
        (tests / name).write_text(textwrap.dedent(text))
    known = tmp_path / 'known.txt'
    known.write_text(known_text)
    code = suite.main(['--source', str(tmp_path / 'ref'), '--known', str(known),
                       '--files', ','.join(files), '--jobs', '2', '--retries', '0',
                       '--timeout', '60'])
    return code, capsys.readouterr().out.splitlines()


def test_fake_suite_passes_when_every_failure_is_listed(tmp_path, capsys):
    code, lines = run_fake(tmp_path, capsys, ['test__ok.py', 'test__listed'],
                           'test__listed.py::T::test_listed  # a decision\n')
    assert lines[-1] == ("gevent's own suite: 2 files, 3 passed, 0 failed, 0 errors, "
                         "1 known, 0 skipped"), lines
    assert code == 0
    assert lines[0].split()[:2] == ['test__ok.py', 'ok']
    assert lines[1].split()[:2] == ['test__listed.py', 'known']


def test_fake_suite_fails_on_an_unlisted_error(tmp_path, capsys):
    code, lines = run_fake(tmp_path, capsys, ['test__unlisted.py', 'test__import_error.py'],
                           'test__listed.py::T::test_listed  # a decision\n')
    assert code == 1
    assert lines[-1] == ("gevent's own suite: 2 files, 0 passed, 0 failed, 2 errors, "
                         "0 known, 0 skipped"), lines
    assert any('test__unlisted.py::T::test_bad: ERROR: KeyError: ' in l for l in lines)
    assert any("a_module_nobody_writes" in l for l in lines)
    assert 'listed in known.txt but passed' not in '\n'.join(lines)


def test_default_list_names_files_of_the_installed_gevent():
    tests = os.path.join(suite.reference_dir(), 'tests')
    for name in suite.ACCEPTANCE + suite.LATER:
        assert os.path.isfile(os.path.join(tests, name + '.py')), name
    assert not set(suite.ACCEPTANCE) & set(suite.LATER)
    suite.parse_known(open(suite.KNOWN_FILE).read())  # the real list parses


def test_the_exception_line_is_found_in_a_long_message():
    out = REPORT.replace('AssertionError: 1 != 2', 'AssertionError: first line\n'
                         'second line\n  indented\n\nlast line')
    report = suite.parse_report('test__a.py', out, 1)
    assert report['bad']['test__a.py::T::test_fail'] == 'FAIL: AssertionError: first line'
