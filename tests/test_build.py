"""The build finds the system libraries, or says in one line what to install."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_setup_snippet(code):
    return subprocess.run([sys.executable, '-c', code], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_missing_library_names_the_debian_package_to_install():
    proc = run_setup_snippet(
        "import setup\n"
        "setup.SYSTEM_LIBS['x'] = ('libnothere', 'nothere.h', 'nothere', 'libnothere-dev')\n"
        "setup.system_lib('x')\n")
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert lines[-1] == ('gevent_c: libnothere (nothere.h, libnothere) not found; '
                         'install it with: apt-get install libnothere-dev')
    assert 'Traceback' not in proc.stderr


def test_system_libev_and_cares_are_found():
    proc = run_setup_snippet(
        "import setup\n"
        "for key in ('ev', 'cares'):\n"
        "    incs, libdirs, libs = setup.system_lib(key)\n"
        "    print(key, libs)\n")
    assert proc.returncode == 0, proc.stderr
    assert "ev ['ev']" in proc.stdout
    assert "cares ['cares']" in proc.stdout
