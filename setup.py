"""Build gevent_c's C extensions against the system libev and c-ares.

Each folder under ext/ is one extension module (ext/core -> gevent_c._core,
ext/greenlet -> gevent_c._greenlet, ext/ares -> gevent_c._ares, ext/http ->
gevent_c._http); every .c and
.S file in it is compiled. libev and c-ares are found with pkg-config when a
.pc file exists and in the default paths otherwise. A missing library stops
the build with one line naming the Debian package to install.

DEBUG=1 in the environment builds with -O0 -g and assertions on;
GEVENT_C_ONLY=core,greenlet builds only the named folders.
"""
import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
DEBUG = os.environ.get("DEBUG", "") not in ("", "0")

# name -> (pkg-config name, header, library, Debian package)
SYSTEM_LIBS = {
    "ev": ("libev", "ev.h", "ev", "libev-dev"),
    "cares": ("libcares", "ares.h", "cares", "libc-ares-dev"),
}


class MissingLibrary(SystemExit):
    pass


def pkg_config(name):
    """Return (include_dirs, library_dirs, libraries) or None without a .pc file."""
    if not shutil.which("pkg-config"):
        return None
    try:
        out = subprocess.run(["pkg-config", "--cflags", "--libs", name],
                             capture_output=True, text=True, check=True).stdout
    except subprocess.CalledProcessError:
        return None
    incs, libdirs, libs = [], [], []
    for tok in out.split():
        if tok.startswith("-I"):
            incs.append(tok[2:])
        elif tok.startswith("-L"):
            libdirs.append(tok[2:])
        elif tok.startswith("-l"):
            libs.append(tok[2:])
    return incs, libdirs, libs


def header_exists(header, include_dirs):
    dirs = list(include_dirs) + ["/usr/include", "/usr/local/include"]
    multiarch = glob.glob("/usr/include/*-linux-gnu")
    return any(os.path.exists(os.path.join(d, header)) for d in dirs + multiarch)


def library_exists(lib, library_dirs):
    dirs = list(library_dirs) + ["/usr/lib", "/usr/local/lib", "/lib"]
    dirs += glob.glob("/usr/lib/*-linux-gnu") + glob.glob("/lib/*-linux-gnu")
    return any(glob.glob(os.path.join(d, "lib%s.so*" % lib)) or
               os.path.exists(os.path.join(d, "lib%s.a" % lib)) for d in dirs)


def system_lib(key):
    pc_name, header, lib, deb = SYSTEM_LIBS[key]
    found = pkg_config(pc_name) or ([], [], [lib])
    incs, libdirs, libs = found
    if not header_exists(header, incs) or not library_exists(lib, libdirs):
        raise MissingLibrary(
            "gevent_c: %s (%s, lib%s) not found; install it with: "
            "apt-get install %s" % (pc_name, header, lib, deb))
    return incs, libdirs, libs


def sources(folder):
    """Every .c file under ext/FOLDER (layer subfolders included) and the
    assembly of arch/."""
    base = os.path.join("ext", folder)
    found = sorted(glob.glob(os.path.join(base, "**", "*.c"), recursive=True))
    found += sorted(glob.glob(os.path.join(base, "arch", "*.S")))
    return found


def headers(folder):
    return sorted(glob.glob(os.path.join(folder, "**", "*.h"), recursive=True))


# extension module -> (folder, system libraries it links, extra include
# folders).  ext/common holds helpers the extensions share: a module that
# lists it also compiles its .c files.  ext/core is one module assembled from
# its layer folders (loop/, hub/, io/), which include each other's headers
# as "loop/loop.h" relative to ext/core.
MODULES = [
    ("gevent_c._greenlet", "greenlet", [], ["ext/common"]),
    ("gevent_c._core", "core", ["ev"], ["ext/common", "ext/greenlet"]),
    ("gevent_c._ares", "ares", ["cares"], ["ext/common"]),
    ("gevent_c._http", "http", [], ["ext/common"]),
]


class BuildExt(build_ext):
    """Resolve system libraries lazily (so sdist/egg_info work without them)
    and teach the compiler that .S files are sources."""

    def build_extensions(self):
        self.compiler.src_extensions.append(".S")
        cache = {}
        for ext in self.extensions:
            for key in ext.system_libs:
                if key not in cache:
                    cache[key] = system_lib(key)
                incs, libdirs, libs = cache[key]
                ext.include_dirs += incs
                ext.library_dirs += libdirs
                ext.libraries += libs
        super().build_extensions()


class BuildPy(build_py):
    """Also put the GEVENT_C_AS_GEVENT start-up hook (gevent_c/_as_gevent.pth)
    at the top of the installed tree, where site.py runs .pth files."""

    def run(self):
        super().run()
        self.copy_file(os.path.join("gevent_c", "_as_gevent.pth"),
                       os.path.join(self.build_lib, "gevent_c-as-gevent.pth"))


def extensions():
    # -fvisibility=hidden: an extension's internal functions are called
    # directly rather than through the PLT (PyMODINIT_FUNC keeps PyInit_*
    # exported); extensions reach each other through capsules only.
    cflags = ["-Wall", "-Wextra", "-Wno-unused-parameter",
              "-Wno-missing-field-initializers", "-std=gnu11", "-fvisibility=hidden"]
    if DEBUG:
        cflags += ["-O0", "-g", "-UNDEBUG"]
    else:
        cflags += ["-O2"]
    only = os.environ.get("GEVENT_C_ONLY", "").split(",")
    exts = []
    for name, folder, libs, extra_inc in MODULES:
        if only != [""] and folder not in only:
            continue
        srcs = sources(folder)
        if not srcs:
            continue
        srcs += [c for d in extra_inc if d == "ext/common"
                 for c in sorted(glob.glob(os.path.join(d, "*.c")))]
        ext = Extension(name, srcs,
                        include_dirs=[os.path.join("ext", folder)] + extra_inc,
                        extra_compile_args=cflags,
                        depends=headers(os.path.join("ext", folder)) +
                        [h for d in extra_inc for h in headers(d)])
        ext.system_libs = libs
        exts.append(ext)
    return exts


if __name__ == "__main__":
    os.chdir(HERE)
    try:
        setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt, "build_py": BuildPy})
    except MissingLibrary as exc:
        sys.stderr.write(str(exc) + "\n")
        sys.exit(1)
