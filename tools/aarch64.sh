#!/usr/bin/env bash
# The coroutine, core and hub tests and greenlet's own suite on arm64 Debian
# bookworm, under qemu-user emulation (make test-aarch64).
#
# The first run builds an arm64 root with debootstrap (Debian's packages, plus
# a virtual environment from PyPI for the test tools) under $AARCH64_CACHE
# (default .cache/aarch64, gitignored); later runs reuse it. Each run copies
# the working tree into the root, builds gevent_c there and runs the tests
# with GEVENT_C_EMULATED=1 (tests/conftest.py stretches every timeout under
# it). greenlet's own suite runs there and natively: arm64 must fail nothing
# that passes natively. Every stage is time-boxed.
#
#   tools/aarch64.sh [PYTEST_ARGS...]
#
# Environment: AARCH64_CACHE (where the root lives), AARCH64_TIMEOUT (seconds
# for the build and tests inside the root, default 1500), GREENLET_SUITE (the
# runner of greenlet's own suite, default the shared tools' greenlet_suite.py),
# PYTHON (the native interpreter for the comparison, default python3).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${AARCH64_CACHE:-$repo/.cache/aarch64}
case $cache in /*) ;; *) cache=$repo/$cache ;; esac
root=$cache/root
budget=${AARCH64_TIMEOUT:-1500}
suite="bookworm"
# Debian packages inside the root; the recipe's hash names the root, so a
# change here builds a new one.
debs="python3 python3-dev python3-venv gcc libc6-dev make pkg-config libev-dev libc-ares-dev ca-certificates"
# greenlet's own suite also imports psutil and objgraph (both sides of the
# comparison install these)
suite_pypi="psutil==7.2.2 objgraph==3.7.0"
pypi="setuptools>=77 wheel pytest==9.0.3 pytest-timeout==2.4.0 gevent==26.9.0 greenlet==3.5.6 $suite_pypi"
debs_recipe=$(printf '%s\n' "$suite" "$debs" | sha256sum | cut -c1-16)
recipe=$(printf '%s\n' "$debs_recipe" "$pypi" | sha256sum | cut -c1-16)

say() { printf 'test-aarch64: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot and mounts)"

# --- the host: qemu-user-static, debootstrap, binfmt_misc -------------------
host_pkgs() {
    local missing="" p
    for p in qemu-user-static debootstrap binfmt-support; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        say "installing$missing"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    fi
}

binfmt() {
    [ -e /proc/sys/fs/binfmt_misc/status ] ||
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
        die "cannot mount binfmt_misc"
    if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
        update-binfmts --enable qemu-aarch64 2>/dev/null ||
            /lib/systemd/systemd-binfmt /usr/lib/binfmt.d/qemu-aarch64.conf ||
            die "cannot register qemu-aarch64 with binfmt_misc"
    fi
    # F (fix-binary): the kernel keeps qemu open, so it runs inside a chroot
    grep -q '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 ||
        die "qemu-aarch64 is registered without the F flag; chroot cannot run arm64 programs"
}

# The host's own Debian mirror (deb822 or one-line sources), or debootstrap's
# default when none is configured.
mirror() {
    local m=""
    if [ -r /etc/apt/sources.list.d/debian.sources ]; then
        m=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
        m=$(awk '$1 == "deb" && $3 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
    fi
    printf '%s' "$m"
}

# --- mounts for a run; undone on exit ----------------------------------------
mounted=()
mount_root() {
    local r=$1 d
    for d in proc dev dev/pts dev/shm; do
        mkdir -p "$r/$d"
    done
    mount -t proc proc "$r/proc" && mounted+=("$r/proc")
    mount --rbind /dev "$r/dev" && mount --make-rslave "$r/dev" && mounted+=("$r/dev")
    cp -L /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
}
umount_all() {
    local i
    for ((i=${#mounted[@]}-1; i>=0; i--)); do
        umount -R "${mounted[i]}" 2>/dev/null || umount -lR "${mounted[i]}" 2>/dev/null || true
    done
    mounted=()
}
trap umount_all EXIT

# in_root ROOT SECONDS CMD...: run CMD in the arm64 root with a clean
# environment, ended after SECONDS.
in_root() {
    local r=$1 secs=$2; shift 2
    timeout --kill-after=30 "$secs" chroot "$r" /usr/bin/env -i \
        PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        GEVENT_C_EMULATED=1 PYTHONDONTWRITEBYTECODE=1 "$@"
}

# --- the root, built once -----------------------------------------------------
bootstrap() {
    local tmp=$cache/root.new m t0=$SECONDS
    m=$(mirror)
    mkdir -p "$cache"
    say "building the arm64 $suite root in $root (once; several minutes)"
    # stage 1, Debian's packages; kept in root.new if a later stage fails,
    # and taken from the previous root when only the PyPI list changed
    if [ ! -d "$tmp" ] && [ "$(cat "$root/.gevent_c-debs" 2>/dev/null)" = "$debs_recipe" ]; then
        mv "$root" "$tmp"
    fi
    if [ "$(cat "$tmp/.gevent_c-debs" 2>/dev/null)" != "$debs_recipe" ]; then
        rm -rf "$tmp"
        timeout 1800 debootstrap --arch=arm64 --variant=minbase \
            --include="${debs// /,}" "$suite" "$tmp" ${m:+"$m"} > "$cache/debootstrap.log" 2>&1 ||
            die "debootstrap failed; see $cache/debootstrap.log"
        rm -rf "$tmp/var/cache/apt/archives/"*.deb
        echo "$debs_recipe" > "$tmp/.gevent_c-debs"
    fi
    # stage 2, the test tools from PyPI, trusting the certificate
    # authorities the host trusts (a proxy's, for one)
    mount_root "$tmp"
    if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
        cp /usr/local/share/ca-certificates/*.crt "$tmp/usr/local/share/ca-certificates/"
        in_root "$tmp" 600 update-ca-certificates >/dev/null 2>&1
    fi
    say "test tools from PyPI: $pypi"
    rm -rf "$tmp/opt/venv"
    in_root "$tmp" 900 python3 -m venv /opt/venv
    in_root "$tmp" 1800 /opt/venv/bin/python -m pip install -q --disable-pip-version-check \
        --upgrade pip $pypi || die "pip install in the arm64 root failed"
    umount_all
    echo "$recipe" > "$tmp/.gevent_c-recipe"
    rm -rf "$root" && mv "$tmp" "$root"
    say "root ready in $((SECONDS - t0)) s"
}

# --- main ---------------------------------------------------------------------
main() {
    local t0=$SECONDS
    host_pkgs
    binfmt
    mkdir -p "$cache"
    exec 9>"$cache/lock"
    flock -w 3600 9 || die "another test-aarch64 holds $cache/lock"
    if [ "$(cat "$root/.gevent_c-recipe" 2>/dev/null)" != "$recipe" ]; then
        bootstrap
    else
        say "reusing the arm64 root in $root"
    fi

    # the working tree (tracked and new files) replaces the previous copy,
    # but for its build products: with the sources' times kept, an unchanged
    # tree does not recompile
    local src=$root/src/gevent_c
    mkdir -p "$src"
    find "$src" -mindepth 1 -maxdepth 1 ! -name build ! -name gevent_c -exec rm -rf {} +
    find "$src/gevent_c" -mindepth 1 -maxdepth 1 ! -name '*.so' -exec rm -rf {} + 2>/dev/null || true
    (cd "$repo" && git ls-files -z --cached --others --exclude-standard |
        xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' _ |
        tar -c --null -T - -f -) | tar -x -f - -C "$src"

    local runner
    runner=$(greenlet_runner) || die "no runner for greenlet's own suite (set GREENLET_SUITE)"
    # the runner with the files beside it (its list of deselected tests)
    rm -rf "$root/opt/greenlet-suite" && mkdir -p "$root/opt/greenlet-suite"
    cp "$(dirname "$runner")"/* "$root/opt/greenlet-suite/" 2>/dev/null || true
    cp "$runner" "$root/opt/greenlet-suite/run.py"
    cp "$repo/tools/failed_ids.py" "$root/opt/greenlet-suite/"
    rm -f "$root/tmp/greenlet-failed.txt" "$root/tmp/greenlet-summary.txt"

    mount_root "$root"
    local left=$((budget - (SECONDS - t0))) rc=0
    [ "$left" -gt 60 ] || left=60
    in_root "$root" "$left" /bin/sh -c '
        set -e
        cd /src/gevent_c
        echo "test-aarch64: $(uname -m), $(python3 -V), building gevent_c" >&2
        python setup.py -q build_ext --inplace --build-temp build/a64 >/dev/null
        PYTHONPATH=/src/gevent_c python tools/switch_speed.py "under emulation (information only, not comparable)"
        status=0
        set +e
        python -m pytest -q -p no:cacheprovider \
            tests/test_greenlet_*.py tests/test_core_*.py tests/test_hub*.py \
            tests/test_event.py tests/test_queue.py tests/test_lock.py \
            tests/test_sleep.py tests/test_timeout.py tests/test_gevent_greenlet.py \
            tests/test_local.py tests/test_pool.py "$@" || status=1
        tests=$(python -c "import greenlet, os; print(os.path.dirname(greenlet.__file__))")/tests
        GEVC_FAILED_IDS=/tmp/greenlet-failed.txt PYTHONPATH=/opt/greenlet-suite:/src/gevent_c \
            python /opt/greenlet-suite/run.py "$tests" gevent_c._greenlet -p failed_ids |
            tee /tmp/greenlet-summary.txt
        exit $status
    ' sh "$@" || rc=$?
    umount_all

    # greenlet's suite: arm64 must fail nothing that passes natively here
    # (the failures both share are the coroutine layer's, not the switch's)
    if ! grep -Eq ': [1-9][0-9]* passed' "$root/tmp/greenlet-summary.txt" 2>/dev/null; then
        say "greenlet's suite did not run on arm64 (the build or the run inside the root failed)"
        rc=1
    else
        touch "$root/tmp/greenlet-failed.txt"
        compare_native "$runner" "$root/tmp/greenlet-failed.txt" || rc=1
    fi
    say "done in $((SECONDS - t0)) s"
    return $rc
}

# The runner of greenlet's own suite: $GREENLET_SUITE, else the shared tool
# beside the checkout (CI) or in the workplace.
greenlet_runner() {
    local c
    for c in "${GREENLET_SUITE:-}" "$repo/../shared/tools/greenlet_suite.py" \
             /work/shared/tools/greenlet_suite.py; do
        if [ -n "$c" ] && [ -f "$c" ]; then
            printf '%s\n' "$c"
            return 0
        fi
    done
    return 1
}

# compare_native RUNNER ARM64_FAILED: the same suite natively, in the
# project's environment of $PYTHON (tools/dev.py); fails if arm64 failed a
# test that passed natively.
compare_native() {
    local runner=$1 arm=$2 native summary tests only
    native=$(mktemp)
    say "greenlet's own suite natively ($(uname -m)), for comparison"
    cd "$repo"
    "${PYTHON:-python3}" tools/dev.py exec -- -m pip install -q --disable-pip-version-check \
        $suite_pypi 2>/dev/null
    tests=$("${PYTHON:-python3}" tools/dev.py exec -- -c \
        "import greenlet, os; print(os.path.dirname(greenlet.__file__))" 2>/dev/null)/tests
    summary=$(GEVC_FAILED_IDS=$native PYTHONPATH=$repo/tools \
        timeout 900 "${PYTHON:-python3}" tools/dev.py exec -- "$runner" "$tests" \
        gevent_c._greenlet -p failed_ids 2>/dev/null | tail -1) || true
    printf '%s\n' "$summary"
    if ! printf '%s' "$summary" | grep -Eq ': [1-9][0-9]* passed'; then
        rm -f "$native"
        say "greenlet's suite did not run natively; nothing to compare with"
        return 1
    fi
    only=$(sort -u "$arm" | comm -23 - <(sort -u "$native"))
    rm -f "$native"
    if [ -n "$only" ]; then
        say "greenlet's suite: failed on arm64 only:"
        printf '%s\n' "$only" | sed 's/^/  /' >&2
        return 1
    fi
    say "greenlet's suite: arm64 fails nothing that passes natively" \
        "($(sort -u "$arm" | grep -c . || true) failures on both)"
    return 0
}

main "$@"
