/*
 * <mach/std_types.h> for the mach-sim simulated kernel: the standard types every MIG stub
 * includes (integers, booleans, return codes, port names, machine words and pointer_t).
 */
#ifndef _MACH_STD_TYPES_H_
#define _MACH_STD_TYPES_H_

#include <stdint.h>

#include <mach/boolean.h>
#include <mach/kern_return.h>
#include <mach/port.h>
#include <mach/vm_types.h>

#endif /* _MACH_STD_TYPES_H_ */
