"""The switch keeps every callee-saved register of each greenlet.

A small assembly probe (built here with the system C compiler) fills the
callee-saved registers of the ABI with values of its own, calls a C function
that switches greenlets, and on return checks each register. Two probes with
different values run in two greenlets, each switching away while its values
are live, so a register the switch saves in the wrong slot, or not at all,
shows up as a bit in the probe's result. Python-level tests cannot see this:
the interpreter rarely keeps values in d8-d15 across a switch.
"""
import ctypes
import os
import platform
import shutil
import subprocess
import sysconfig

import pytest

import gevent_c._greenlet as mod
from gevent_c._greenlet import getcurrent, greenlet

MACHINE = platform.machine()

# hold(fn, seed): callee-saved registers := seed + k, call fn(), return a mask
# with bit k set where register k no longer holds seed + k.
HOLD = {
    "aarch64": r"""
    .text
    .globl hold
    .type hold, %function
hold:
    stp x29, x30, [sp, #-176]!
    mov x29, sp
    stp x19, x20, [sp, #16]
    stp x21, x22, [sp, #32]
    stp x23, x24, [sp, #48]
    stp x25, x26, [sp, #64]
    stp x27, x28, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    str x1, [sp, #160]
    .irp n, 19,20,21,22,23,24,25,26,27,28
    add x\n, x1, #\n
    .endr
    .irp n, 8,9,10,11,12,13,14,15
    add x9, x1, #(100 + \n)
    fmov d\n, x9
    .endr
    blr x0
    ldr x1, [sp, #160]
    mov x0, #0
    .irp n, 19,20,21,22,23,24,25,26,27,28
    add x9, x1, #\n
    cmp x\n, x9
    cset x10, ne
    orr x0, x0, x10, lsl #\n
    .endr
    .irp n, 8,9,10,11,12,13,14,15
    add x9, x1, #(100 + \n)
    fmov x11, d\n
    cmp x11, x9
    cset x10, ne
    orr x0, x0, x10, lsl #(32 + \n)
    .endr
    ldp d14, d15, [sp, #144]
    ldp d12, d13, [sp, #128]
    ldp d10, d11, [sp, #112]
    ldp d8, d9, [sp, #96]
    ldp x27, x28, [sp, #80]
    ldp x25, x26, [sp, #64]
    ldp x23, x24, [sp, #48]
    ldp x21, x22, [sp, #32]
    ldp x19, x20, [sp, #16]
    ldp x29, x30, [sp], #176
    ret
    .size hold, .-hold

    .globl break_one
    .type break_one, %function
break_one:
    mov x19, #7
    mov x9, #7
    fmov d13, x9
    ret
    .size break_one, .-break_one
    .section .note.GNU-stack,"",@progbits
""",
    "x86_64": r"""
    .text
    .globl hold
    .type hold, @function
hold:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $24, %rsp
    movq %rsi, (%rsp)
    leaq 1(%rsi), %rbx
    leaq 2(%rsi), %rbp
    leaq 3(%rsi), %r12
    leaq 4(%rsi), %r13
    leaq 5(%rsi), %r14
    leaq 6(%rsi), %r15
    call *%rdi
    movq (%rsp), %rsi
    xorl %eax, %eax
    leaq 1(%rsi), %rcx
    cmpq %rcx, %rbx
    setne %dl
    movzbq %dl, %rdx
    shlq $1, %rdx
    orq %rdx, %rax
    leaq 2(%rsi), %rcx
    cmpq %rcx, %rbp
    setne %dl
    movzbq %dl, %rdx
    shlq $2, %rdx
    orq %rdx, %rax
    leaq 3(%rsi), %rcx
    cmpq %rcx, %r12
    setne %dl
    movzbq %dl, %rdx
    shlq $3, %rdx
    orq %rdx, %rax
    leaq 4(%rsi), %rcx
    cmpq %rcx, %r13
    setne %dl
    movzbq %dl, %rdx
    shlq $4, %rdx
    orq %rdx, %rax
    leaq 5(%rsi), %rcx
    cmpq %rcx, %r14
    setne %dl
    movzbq %dl, %rdx
    shlq $5, %rdx
    orq %rdx, %rax
    leaq 6(%rsi), %rcx
    cmpq %rcx, %r15
    setne %dl
    movzbq %dl, %rdx
    shlq $6, %rdx
    orq %rdx, %rax
    addq $24, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size hold, .-hold

    .globl break_one
    .type break_one, @function
break_one:
    movq $7, %rbx
    ret
    .size break_one, .-break_one
    .section .note.GNU-stack,"",@progbits
""",
}

# fn for hold(): switch to the greenlet of a slot through the C API.
GLUE = r"""
typedef void *(*switch_fn)(void *g, void *args, void *kwargs);
unsigned long hold(void (*fn)(void), unsigned long seed);
void break_one(void);
static switch_fn sw;
static void *to[2], *got[2];
static void switch_0(void) { got[0] = sw(to[0], 0, 0); }
static void switch_1(void) { got[1] = sw(to[1], 0, 0); }
unsigned long hold_and_switch(switch_fn f, void *target, int slot, unsigned long seed)
{
    sw = f;
    to[slot] = target;
    return hold(slot ? switch_1 : switch_0, seed);
}
void *switch_result(int slot) { return got[slot]; }
unsigned long hold_and_break(unsigned long seed) { return hold(break_one, seed); }
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    if MACHINE not in HOLD:
        pytest.skip("no register probe for %s" % MACHINE)
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        cc = "cc"
    d = tmp_path_factory.mktemp("regprobe")
    (d / "hold.S").write_text(HOLD[MACHINE])
    (d / "glue.c").write_text(GLUE)
    so = d / "regprobe.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(so),
                    str(d / "glue.c"), str(d / "hold.S")],
                   check=True, capture_output=True, timeout=120)
    lib = ctypes.PyDLL(str(so))
    lib.hold_and_switch.restype = ctypes.c_ulong
    lib.hold_and_switch.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_ulong]
    lib.switch_result.restype = ctypes.c_void_p
    lib.switch_result.argtypes = [ctypes.c_int]
    lib.hold_and_break.restype = ctypes.c_ulong
    lib.hold_and_break.argtypes = [ctypes.c_ulong]
    return lib


class _APIHead(ctypes.Structure):
    # the start of the capsule's struct, up to switch_to (gevent_c_greenlet.h)
    _fields_ = [("version", ctypes.c_int)] + [
        (name, ctypes.c_void_p) for name in (
            "type", "GreenletExit", "error", "getcurrent", "getcurrent_borrowed",
            "new_greenlet", "switch_to")]


@pytest.fixture(scope="module")
def switch_to():
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    api = get(mod._C_API, b"gevent_c._greenlet._C_API")
    return ctypes.cast(api, ctypes.POINTER(_APIHead)).contents.switch_to


def _drop(ptr):
    decref = ctypes.pythonapi.Py_DecRef
    decref.argtypes = [ctypes.c_void_p]
    decref(ptr)


def test_the_probe_sees_a_broken_register(probe):
    # break_one changes one register (x19 and d13 on aarch64, rbx on x86-64)
    mask = probe.hold_and_break(0x5000)
    assert mask != 0
    assert mask == ((1 << 19) | (1 << (32 + 13)) if MACHINE == "aarch64" else 1 << 1)


@pytest.mark.parametrize("rounds", [1, 50])
def test_callee_saved_registers_survive_switches_both_ways(probe, switch_to, rounds):
    main = getcurrent()

    def other(i):
        # switch back to main while this greenlet's own values are live
        return probe.hold_and_switch(switch_to, id(main), 1, 0x7000 + i * 0x100)

    for i in range(rounds):
        b = greenlet(lambda i=i: other(i))
        # main's values are live while b starts, loads its own and switches back
        mask_main = probe.hold_and_switch(switch_to, id(b), 0, 0x3000 + i * 0x100)
        _drop(probe.switch_result(0))
        assert mask_main == 0, "main lost registers: %#x" % mask_main
        assert not b.dead
        mask_b = b.switch()
        _drop(probe.switch_result(1))
        assert b.dead
        assert mask_b == 0, "the other greenlet lost registers: %#x" % mask_b
