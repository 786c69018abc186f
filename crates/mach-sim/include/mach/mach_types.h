/*
 * <mach/mach_types.h> for the mach-sim simulated kernel: the user-space names of kernel objects
 * (all of them port names).
 */
#ifndef _MACH_MACH_TYPES_H_
#define _MACH_MACH_TYPES_H_

#include <mach/boolean.h>
#include <mach/kern_return.h>
#include <mach/port.h>
#include <mach/vm_types.h>

typedef mach_port_t task_t;
typedef mach_port_t task_name_t;
typedef mach_port_t ipc_space_t;
typedef mach_port_t thread_t;
typedef mach_port_t host_t;
typedef mach_port_t vm_map_t;

#define TASK_NULL ((task_t)0)
#define IPC_SPACE_NULL ((ipc_space_t)0)

#endif /* _MACH_MACH_TYPES_H_ */
