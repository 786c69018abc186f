/*
 * <mach/mach.h> for the mach-sim simulated kernel: everything of the libmach C ABI mach-sim
 * implements. Link the mach-sim static library (or any Rust static library that depends on
 * mach-sim) with -lpthread -ldl -lm. Simulation-only calls are in <mach_sim.h>.
 */
#ifndef _MACH_MACH_H_
#define _MACH_MACH_H_

#include <mach/boolean.h>
#include <mach/kern_return.h>
#include <mach/mach_init.h>
#include <mach/mach_port.h>
#include <mach/mach_traps.h>
#include <mach/mach_types.h>
#include <mach/message.h>
#include <mach/mig_errors.h>
#include <mach/ndr.h>
#include <mach/notify.h>
#include <mach/port.h>
#include <mach/vm_types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Destroys the rights a received message carries: remote and voucher per their bits, the local
 * port ignored, port descriptors per disposition, out-of-line memory freed when `deallocate` is
 * set. NULL is ignored.
 */
extern void mach_msg_destroy(mach_msg_header_t *msg);

#ifdef __cplusplus
}
#endif

#endif /* _MACH_MACH_H_ */
