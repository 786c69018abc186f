/*
 * <mach/mach_traps.h> for the mach-sim simulated kernel.
 */
#ifndef _MACH_MACH_TRAPS_H_
#define _MACH_MACH_TRAPS_H_

#include <mach/port.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A new receive right in the calling thread's current task (MACH_PORT_NULL on failure). */
extern mach_port_name_t mach_reply_port(void);

#ifdef __cplusplus
}
#endif

#endif /* _MACH_MACH_TRAPS_H_ */
