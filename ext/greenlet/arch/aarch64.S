/* Register switch for AArch64 (AAPCS64).
 *
 * void *gevc__switch_stack(void *ctx, gevc_switch_cb cb)
 *
 * Same contract as arch/x86_64.S: save the callee-saved registers on the
 * current stack, call cb(ctx, 0, sp) for the stack pointer to continue on,
 * move there, call cb(ctx, 1, sp) and return its value after popping the
 * registers saved on the new stack.  ctx and cb live in x19/x20, which the
 * callee preserves.
 *
 * Saved (AAPCS64 5.1): x19-x28, the frame pointer x29 and the link register
 * x30; the low 64 bits of v8-v15 (d8-d15), the only callee-saved part of the
 * SIMD registers; FPCR (rounding mode and trap bits belong to the greenlet
 * that set them).  x18 is the platform register: a temporary on Linux, but
 * reserved on platforms that keep per-thread state in it (a shadow call
 * stack), so it is kept too, as the compiler on the other side last saw it.
 *
 * The frame is 176 bytes, a multiple of 16, so sp stays 16-byte aligned for
 * the calls and for the stack pointer handed to cb:
 *   [sp+0]   x29 x30     [sp+16..95]  x19-x28   [sp+96..159] d8-d15
 *   [sp+160] FPCR        [sp+168]     x18
 *
 * Built with branch protection (-mbranch-protection=bti/pac-ret, as some
 * distributions build Python and so its extensions), the entry is a BTI
 * landing pad and the file carries the GNU property note that says so;
 * without it the linker would turn BTI off for the whole library.
 */
#if defined(__aarch64__)
        .text
        .globl  gevc__switch_stack
        .hidden gevc__switch_stack
        .type   gevc__switch_stack, %function
        .p2align 4
gevc__switch_stack:
        .cfi_startproc
        hint    #34                     /* bti c; a no-op on older cores */
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
        stp     x9, x18, [sp, #160]
        .cfi_offset x19, -160
        .cfi_offset x20, -152
        .cfi_offset x21, -144
        .cfi_offset x22, -136
        .cfi_offset x23, -128
        .cfi_offset x24, -120
        .cfi_offset x25, -112
        .cfi_offset x26, -104
        .cfi_offset x27, -96
        .cfi_offset x28, -88
        .cfi_offset d8, -80
        .cfi_offset d9, -72
        .cfi_offset d10, -64
        .cfi_offset d11, -56
        .cfi_offset d12, -48
        .cfi_offset d13, -40
        .cfi_offset d14, -32
        .cfi_offset d15, -24

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

        ldp     x9, x18, [sp, #160]
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
        .cfi_restore x29
        .cfi_restore x30
        .cfi_def_cfa_offset 0
        ret
        .cfi_endproc
        .size   gevc__switch_stack, .-gevc__switch_stack

/* GNU_PROPERTY_AARCH64_FEATURE_1_AND: bit 0 BTI, bit 1 PAC.  This routine
   has its landing pad and does not sign x30 itself (it returns to the x30 it
   saved, on the stack it saved it on), so it is compatible with both. */
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define GEVC_FEATURE_BTI 1
#else
#define GEVC_FEATURE_BTI 0
#endif
#if defined(__ARM_FEATURE_PAC_DEFAULT) && __ARM_FEATURE_PAC_DEFAULT
#define GEVC_FEATURE_PAC 2
#else
#define GEVC_FEATURE_PAC 0
#endif
#if GEVC_FEATURE_BTI || GEVC_FEATURE_PAC
        .pushsection .note.gnu.property, "a"
        .balign 8
        .long   4                       /* name size: "GNU\0" */
        .long   16                      /* descriptor size */
        .long   5                       /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .long   0xc0000000              /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
        .long   4                       /* its data size */
        .long   GEVC_FEATURE_BTI | GEVC_FEATURE_PAC
        .long   0                       /* pad to 8 bytes */
        .popsection
#endif
#endif
        .section .note.GNU-stack,"",@progbits
