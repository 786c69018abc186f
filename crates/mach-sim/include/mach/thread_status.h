/*
 * <mach/thread_status.h> for the mach-sim simulated kernel: the machine-independent thread state
 * types that <mach/mach_types.h> users and MIG stubs of the standard .defs files name. The
 * simulated kernel has no thread-state calls; these are types only.
 */
#ifndef _MACH_THREAD_STATUS_H_
#define _MACH_THREAD_STATUS_H_

#include <mach/vm_types.h>

/* A thread state: an array of natural_t words, interpreted according to its flavor. */
typedef natural_t *thread_state_t;
/* Largest thread state, in natural_t words, that this header allows (no call of the simulated
 * kernel takes a thread state). */
#define THREAD_STATE_MAX (1296)
typedef natural_t thread_state_data_t[THREAD_STATE_MAX];

/* Which machine-dependent state a thread_state_t holds. */
typedef int thread_state_flavor_t;
typedef thread_state_flavor_t *thread_state_flavor_array_t;

#define THREAD_STATE_FLAVOR_LIST 0 /* the list of flavors a thread supports */

#endif /* _MACH_THREAD_STATUS_H_ */
