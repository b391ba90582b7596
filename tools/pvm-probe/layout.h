/* Shared layout between probe.c and guest.S */
#define KBASE        0xffffffff80000000
#define GPA_GDT      0x1000
#define GPA_IDT      0x2000
#define GPA_TSS      0x3000
#define GPA_VIF      0x4000
#define GPA_KDATA    0x5000
#define GPA_STACK    0x8000      /* 0x8000..0xbfff, RSP0 top 0xc000 */
#define STACK_TOP    0xc000
#define GPA_IST      0xc000      /* 0xc000..0xffff, IST top 0x10000 */
#define IST_TOP      0x10000
#define GPA_PT       0x10000     /* page tables 0x10000..0x3ffff */
#define GPA_PT_END   0x40000
#define GPA_KENTRY   0x100000    /* syscall + exception stubs: one page */
#define GPA_KTEXT    0x101000    /* boot + tests */
#define GPA_KTEXT_END 0x110000
#define GPA_UTEXT    0x400000    /* user code, VA = GPA */
#define GPA_USTACK   0x500000    /* 0x500000..0x50ffff */
#define USTACK_TOP   0x510000
#define GPA_RES      0x600000    /* results, U=1, 0x600000..0x61ffff */
#define GPA_P1       0x700000    /* PTE test pages */
#define GPA_P2       0x701000
#define VA_PTE       0x800000    /* PTE test VA */
#define VA_RW        0xa00000    /* 512 x 4K pages for the rewrite test */
#define GPA_RW       0xa00000
#define GPA_RW2      0xc00000
#define GPA_IMG_A    0x3e000
#define GPA_IMG_B    0x3f000
#define KD_METHOD    0x50
#define VA_UNMAPPED  0x900000
#define MEM_SIZE     0x1000000

/* KDATA offsets */
#define KD_TEST      0x00
#define KD_REPS      0x08
#define KD_LOOPN     0x10
#define KD_PTE_KVA   0x18   /* kernel VA of the PTE for VA_PTE */
#define KD_RW_KVA    0x20   /* kernel VA of the PT page for VA_RW */
#define KD_NPTE      0x28
#define KD_SCRET     0x40   /* syscall return: 0 SYSRET hc, 1 IRET_FRAME hc, 2 sysretq, 3 iretq */
#define KD_EXRET     0x48   /* exception return: 0 IRET_FRAME hc, 1 iretq */

/* RES offsets */
#define R_UTEST      0x00
#define R_REPS       0x08
#define R_DIAG       0x10
#define R_N          0x18
#define R_AUX        0x20   /* 16 u64 */
#define R_SAMPLES    0x100

/* ports */
#define P_DONE  0xe0
#define P_STEP  0xe1
#define P_DIAG  0xd1
#define P_DF    0xee
#define P_NOP   0x80
#define P_BADSC 0xe2
