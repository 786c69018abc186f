/*
 * <servers/bootstrap.h> for the mach-sim simulated kernel: the bootstrap name service.
 *
 * `bp` is ignored: every call talks to the simulated kernel's name service on behalf of the
 * calling thread's current task. Names are NUL-terminated strings shorter than 128 bytes.
 *
 * The name parameters are declared `const char *` where Apple writes `const name_t` / `name_t`:
 * the same ABI (an array parameter is a pointer), but GCC >= 11 would otherwise warn
 * (-Wstringop-overread) on every call with a string literal shorter than 128 bytes.
 */
#ifndef _SERVERS_BOOTSTRAP_H_
#define _SERVERS_BOOTSTRAP_H_

#include <mach/mach.h>

#define BOOTSTRAP_MAX_NAME_LEN 128
typedef char name_t[BOOTSTRAP_MAX_NAME_LEN];

#define BOOTSTRAP_SUCCESS 0
#define BOOTSTRAP_NOT_PRIVILEGED 1100
#define BOOTSTRAP_NAME_IN_USE 1101
#define BOOTSTRAP_UNKNOWN_SERVICE 1102
#define BOOTSTRAP_SERVICE_ACTIVE 1103
#define BOOTSTRAP_BAD_COUNT 1104
#define BOOTSTRAP_NO_MEMORY 1105
#define BOOTSTRAP_NO_CHILDREN 1106

#define TASK_BOOTSTRAP_PORT 4
#define HOST_BOOTSTRAP_PORT 13
#define HOST_KEXTD_PORT 15

#ifdef __cplusplus
extern "C" {
#endif

/* Non-zero (the pseudo name MACH_SIM_BOOTSTRAP_PORT of <mach_sim.h>); not a right. */
extern mach_port_t bootstrap_port;

/* Creates the service's port; *sp gets its receive right. BOOTSTRAP_SERVICE_ACTIVE if a live
 * task already checked in. */
extern kern_return_t bootstrap_check_in(mach_port_t bp, const char *service_name,
                                        mach_port_t *sp);
/* *sp gets a send right to the service; BOOTSTRAP_UNKNOWN_SERVICE if none is registered. */
extern kern_return_t bootstrap_look_up(mach_port_t bp, const char *service_name,
                                       mach_port_t *sp);
/* Registers the port `sp` names (deprecated on Apple); BOOTSTRAP_NAME_IN_USE if taken. */
extern kern_return_t bootstrap_register(mach_port_t bp, const char *service_name,
                                        mach_port_t sp);

#ifdef __cplusplus
}
#endif

#endif /* _SERVERS_BOOTSTRAP_H_ */
