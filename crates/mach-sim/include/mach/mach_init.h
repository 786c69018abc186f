/*
 * <mach/mach_init.h> for the mach-sim simulated kernel.
 */
#ifndef _MACH_MACH_INIT_H_
#define _MACH_MACH_INIT_H_

#include <mach/mach_types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The calling thread's current simulated task. A function, as on NextBSD (Apple: a macro over
 * mach_task_self_). It returns a pseudo name (MACH_SIM_TASK_SELF_BASE | task id, see
 * <mach_sim.h>), stable per task, never a port name and not a right; releasing it with
 * mach_port_deallocate is accepted and does nothing.
 */
extern mach_port_t mach_task_self(void);

#ifdef __cplusplus
}
#endif

#endif /* _MACH_MACH_INIT_H_ */
