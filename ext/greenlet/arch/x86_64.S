/* Register switch for x86-64, System V ABI.
 *
 * void *gevc__switch_stack(void *ctx, gevc_switch_cb cb)
 *
 * Saves the callee-saved registers, MXCSR and the x87 control word on the
 * current stack, then calls cb(ctx, 0, sp).  cb saves whatever it must and
 * returns the stack pointer to continue on (the same one to keep running on
 * this stack).  After moving there, cb(ctx, 1, sp) restores the target's
 * stack contents; its return value is returned to whoever called the
 * gevc__switch_stack whose registers are then popped from the new stack.
 * ctx and cb live in r12/r13, which the callee preserves, so they survive
 * both calls and the change of stack.
 */
#if defined(__x86_64__)
        .text
        .globl  gevc__switch_stack
        .hidden gevc__switch_stack
        .type   gevc__switch_stack, @function
        .p2align 4
gevc__switch_stack:
        .cfi_startproc
        pushq   %rbp
        .cfi_def_cfa_offset 16
        .cfi_offset %rbp, -16
        pushq   %rbx
        .cfi_def_cfa_offset 24
        .cfi_offset %rbx, -24
        pushq   %r12
        .cfi_def_cfa_offset 32
        .cfi_offset %r12, -32
        pushq   %r13
        .cfi_def_cfa_offset 40
        .cfi_offset %r13, -40
        pushq   %r14
        .cfi_def_cfa_offset 48
        .cfi_offset %r14, -48
        pushq   %r15
        .cfi_def_cfa_offset 56
        .cfi_offset %r15, -56
        /* 8 more bytes keep the stack 16-byte aligned for the calls */
        subq    $8, %rsp
        .cfi_def_cfa_offset 64
        stmxcsr (%rsp)
        fnstcw  4(%rsp)

        movq    %rdi, %r12
        movq    %rsi, %r13

        /* sp = cb(ctx, 0, sp) */
        movl    $0, %esi
        movq    %rsp, %rdx
        call    *%r13
        movq    %rax, %rsp

        /* rax = cb(ctx, 1, sp) */
        movq    %r12, %rdi
        movl    $1, %esi
        movq    %rsp, %rdx
        call    *%r13

        fldcw   4(%rsp)
        ldmxcsr (%rsp)
        addq    $8, %rsp
        .cfi_def_cfa_offset 56
        popq    %r15
        .cfi_def_cfa_offset 48
        popq    %r14
        .cfi_def_cfa_offset 40
        popq    %r13
        .cfi_def_cfa_offset 32
        popq    %r12
        .cfi_def_cfa_offset 24
        popq    %rbx
        .cfi_def_cfa_offset 16
        popq    %rbp
        .cfi_def_cfa_offset 8
        ret
        .cfi_endproc
        .size   gevc__switch_stack, .-gevc__switch_stack
#endif
        .section .note.GNU-stack,"",@progbits
