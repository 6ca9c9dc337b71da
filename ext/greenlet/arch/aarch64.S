/* Register switch for AArch64 (AAPCS64).
 *
 * void *gevc__switch_stack(void *ctx, gevc_switch_cb cb)
 *
 * Same contract as arch/x86_64.S: save x19-x28, fp, lr, d8-d15 and FPCR on
 * the current stack, call cb(ctx, 0, sp) for the stack pointer to continue
 * on, move there, call cb(ctx, 1, sp) and return its value after popping
 * the registers saved on the new stack.  ctx and cb live in x19/x20, which
 * the callee preserves.
 */
#if defined(__aarch64__)
        .text
        .globl  gevc__switch_stack
        .hidden gevc__switch_stack
        .type   gevc__switch_stack, %function
        .p2align 4
gevc__switch_stack:
        .cfi_startproc
        stp     x29, x30, [sp, #-176]!
        .cfi_def_cfa_offset 176
        .cfi_offset x29, -176
        .cfi_offset x30, -168
        mov     x29, sp
        stp     x19, x20, [sp, #16]
        stp     x21, x22, [sp, #32]
        stp     x23, x24, [sp, #48]
        stp     x25, x26, [sp, #64]
        stp     x27, x28, [sp, #80]
        stp     d8, d9, [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        mrs     x9, fpcr
        str     x9, [sp, #160]

        mov     x19, x0
        mov     x20, x1

        /* sp = cb(ctx, 0, sp) */
        mov     w1, #0
        mov     x2, sp
        blr     x20
        mov     sp, x0

        /* x0 = cb(ctx, 1, sp) */
        mov     x0, x19
        mov     w1, #1
        mov     x2, sp
        blr     x20

        ldr     x9, [sp, #160]
        msr     fpcr, x9
        ldp     d14, d15, [sp, #144]
        ldp     d12, d13, [sp, #128]
        ldp     d10, d11, [sp, #112]
        ldp     d8, d9, [sp, #96]
        ldp     x27, x28, [sp, #80]
        ldp     x25, x26, [sp, #64]
        ldp     x23, x24, [sp, #48]
        ldp     x21, x22, [sp, #32]
        ldp     x19, x20, [sp, #16]
        ldp     x29, x30, [sp], #176
        .cfi_def_cfa_offset 0
        ret
        .cfi_endproc
        .size   gevc__switch_stack, .-gevc__switch_stack
#endif
        .section .note.GNU-stack,"",@progbits
