/*
 * <mach/vm_types.h> for the mach-sim simulated kernel: machine words (LP64 user space).
 */
#ifndef _MACH_VM_TYPES_H_
#define _MACH_VM_TYPES_H_

#include <stdint.h>

#if !defined(__LP64__) && !defined(_LP64)
#error "mach-sim's Mach headers describe the LP64 user-space ABI only"
#endif

typedef unsigned int natural_t; /* unsigned machine word of Mach interfaces */
typedef int integer_t;          /* signed machine word of Mach interfaces */

typedef uintptr_t vm_offset_t;
typedef uintptr_t vm_size_t;
typedef vm_offset_t vm_address_t;
typedef vm_offset_t pointer_t; /* MIG's type of out-of-line data addresses */
typedef uint64_t mach_vm_address_t;
typedef uint64_t mach_vm_offset_t;
typedef uint64_t mach_vm_size_t;

#endif /* _MACH_VM_TYPES_H_ */
