/*
 * <mach/port.h> for the mach-sim simulated kernel: port names, right kinds, port types and queue
 * limits (kernel/XNU values). Hand-written; checked against mach-abi by crates/c-abi-tests.
 */
#ifndef _MACH_PORT_H_
#define _MACH_PORT_H_

#include <stdint.h>
#include <mach/boolean.h>
#include <mach/vm_types.h>

/* A port name in the caller's IPC space; in user space mach_port_t is the same 32-bit name. */
typedef natural_t mach_port_name_t;
typedef mach_port_name_t *mach_port_name_array_t;
typedef mach_port_name_t mach_port_t;
typedef mach_port_t *mach_port_array_t;

#define MACH_PORT_NULL 0
#define MACH_PORT_DEAD ((mach_port_name_t)~0)
#define MACH_PORT_VALID(name) (((name) != MACH_PORT_NULL) && ((name) != MACH_PORT_DEAD))

typedef natural_t mach_port_right_t;

#define MACH_PORT_RIGHT_SEND ((mach_port_right_t)0)
#define MACH_PORT_RIGHT_RECEIVE ((mach_port_right_t)1)
#define MACH_PORT_RIGHT_SEND_ONCE ((mach_port_right_t)2)
#define MACH_PORT_RIGHT_PORT_SET ((mach_port_right_t)3)
#define MACH_PORT_RIGHT_DEAD_NAME ((mach_port_right_t)4)
#define MACH_PORT_RIGHT_LABELH ((mach_port_right_t)5) /* obsolete */
#define MACH_PORT_RIGHT_NUMBER ((mach_port_right_t)6)

typedef natural_t mach_port_type_t;
typedef mach_port_type_t *mach_port_type_array_t;

#define MACH_PORT_TYPE(right) ((mach_port_type_t)(((mach_port_type_t)1) << ((right) + ((mach_port_right_t)16))))
#define MACH_PORT_TYPE_NONE ((mach_port_type_t)0)
#define MACH_PORT_TYPE_SEND MACH_PORT_TYPE(MACH_PORT_RIGHT_SEND)
#define MACH_PORT_TYPE_RECEIVE MACH_PORT_TYPE(MACH_PORT_RIGHT_RECEIVE)
#define MACH_PORT_TYPE_SEND_ONCE MACH_PORT_TYPE(MACH_PORT_RIGHT_SEND_ONCE)
#define MACH_PORT_TYPE_PORT_SET MACH_PORT_TYPE(MACH_PORT_RIGHT_PORT_SET)
#define MACH_PORT_TYPE_DEAD_NAME MACH_PORT_TYPE(MACH_PORT_RIGHT_DEAD_NAME)
#define MACH_PORT_TYPE_LABELH MACH_PORT_TYPE(MACH_PORT_RIGHT_LABELH)

#define MACH_PORT_TYPE_SEND_RECEIVE (MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_RECEIVE)
#define MACH_PORT_TYPE_SEND_RIGHTS (MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_SEND_ONCE)
#define MACH_PORT_TYPE_PORT_RIGHTS (MACH_PORT_TYPE_SEND_RIGHTS | MACH_PORT_TYPE_RECEIVE)
#define MACH_PORT_TYPE_PORT_OR_DEAD (MACH_PORT_TYPE_PORT_RIGHTS | MACH_PORT_TYPE_DEAD_NAME)
#define MACH_PORT_TYPE_ALL_RIGHTS (MACH_PORT_TYPE_PORT_OR_DEAD | MACH_PORT_TYPE_PORT_SET)

/* Request flags. */
#define MACH_PORT_TYPE_DNREQUEST 0x80000000U
#define MACH_PORT_TYPE_SPREQUEST 0x40000000U
#define MACH_PORT_TYPE_SPREQUEST_DELAYED 0x20000000U

typedef natural_t mach_port_urefs_t;
typedef integer_t mach_port_delta_t;
typedef natural_t mach_port_seqno_t;
typedef natural_t mach_port_mscount_t;
typedef natural_t mach_port_msgcount_t;
typedef natural_t mach_port_rights_t;
typedef uint64_t mach_port_context_t;
typedef int mach_port_flavor_t;

/*
 * Queue limits. A new port holds 5 messages on both kernels; on NextBSD the limit cannot be
 * raised. MACH_PORT_QLIMIT_KERNEL is NextBSD's header value (XNU: 65534).
 */
#define MACH_PORT_QLIMIT_ZERO ((mach_port_msgcount_t)0)
#define MACH_PORT_QLIMIT_BASIC ((mach_port_msgcount_t)5)
#define MACH_PORT_QLIMIT_SMALL ((mach_port_msgcount_t)16)
#define MACH_PORT_QLIMIT_LARGE ((mach_port_msgcount_t)1024)
#define MACH_PORT_QLIMIT_KERNEL ((mach_port_msgcount_t)65536)
#define MACH_PORT_QLIMIT_MIN MACH_PORT_QLIMIT_ZERO
#define MACH_PORT_QLIMIT_DEFAULT MACH_PORT_QLIMIT_BASIC
#define MACH_PORT_QLIMIT_MAX MACH_PORT_QLIMIT_LARGE

#define MACH_PORT_LIMITS_INFO 1

#endif /* _MACH_PORT_H_ */
