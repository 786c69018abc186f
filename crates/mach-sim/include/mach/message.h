/*
 * <mach/message.h> for the mach-sim simulated kernel: the message header and bits, dispositions,
 * descriptors, trailers, security and audit tokens, mach_msg options and return codes, and
 * mach_msg itself.
 *
 * Every value is the kernel/XNU value (mach-abi.md), not NextBSD libmach's: header masks are
 * 0x1f / 0x1f00 / 0x1f0000, MACH_SEND_NOTIFY is 0x80, MACH_SEND_NO_BUFFER is only the return code
 * 0x1000000d, trailers are packed to 4 bytes (msgh_context at offset 52, MAX_TRAILER_SIZE 68).
 * Hand-written; crates/c-abi-tests checks every size, offset and constant against mach-abi.
 */
#ifndef _MACH_MESSAGE_H_
#define _MACH_MESSAGE_H_

#include <stdint.h>
#include <mach/boolean.h>
#include <mach/kern_return.h>
#include <mach/port.h>
#include <mach/vm_types.h>

typedef unsigned int mach_msg_bits_t;
typedef natural_t mach_msg_size_t;
typedef integer_t mach_msg_id_t;
typedef natural_t mach_msg_option_t; /* integer_t in the NextBSD kernel: same bits */
typedef natural_t mach_msg_timeout_t; /* milliseconds */
typedef unsigned int mach_msg_type_name_t; /* an 8-bit field inside descriptors */
typedef unsigned int mach_msg_copy_options_t; /* an 8-bit field inside descriptors */
typedef unsigned int mach_msg_descriptor_type_t; /* the 8-bit field at offset 11 of descriptors */
typedef natural_t mach_msg_type_size_t;
typedef natural_t mach_msg_type_number_t;
typedef kern_return_t mach_msg_return_t;
typedef unsigned int mach_msg_trailer_type_t;
typedef unsigned int mach_msg_trailer_size_t;
typedef unsigned int mach_msg_trailer_info_t;
typedef integer_t mach_msg_filter_id;

#define MACH_MSG_TIMEOUT_NONE ((mach_msg_timeout_t)0)

/* ---- msgh_bits ---------------------------------------------------------------------------- */

#define MACH_MSGH_BITS_ZERO 0x00000000U
#define MACH_MSGH_BITS_REMOTE_MASK 0x0000001fU
#define MACH_MSGH_BITS_LOCAL_MASK 0x00001f00U
#define MACH_MSGH_BITS_VOUCHER_MASK 0x001f0000U
#define MACH_MSGH_BITS_PORTS_MASK \
	(MACH_MSGH_BITS_REMOTE_MASK | MACH_MSGH_BITS_LOCAL_MASK | MACH_MSGH_BITS_VOUCHER_MASK)
#define MACH_MSGH_BITS_COMPLEX 0x80000000U
#define MACH_MSGH_BITS_CIRCULAR 0x10000000U /* kernel-internal: always send 0 */
#define MACH_MSGH_BITS_USER (MACH_MSGH_BITS_PORTS_MASK | MACH_MSGH_BITS_COMPLEX)

#define MACH_MSGH_BITS(remote, local) ((remote) | ((local) << 8))
#define MACH_MSGH_BITS_SET_PORTS(remote, local, voucher) \
	((((mach_msg_bits_t)(remote)) & MACH_MSGH_BITS_REMOTE_MASK) | \
	 ((((mach_msg_bits_t)(local)) << 8) & MACH_MSGH_BITS_LOCAL_MASK) | \
	 ((((mach_msg_bits_t)(voucher)) << 16) & MACH_MSGH_BITS_VOUCHER_MASK))
#define MACH_MSGH_BITS_SET(remote, local, voucher, other) \
	(MACH_MSGH_BITS_SET_PORTS((remote), (local), (voucher)) | \
	 (((mach_msg_bits_t)(other)) & ~MACH_MSGH_BITS_PORTS_MASK))
#define MACH_MSGH_BITS_REMOTE(bits) ((bits) & MACH_MSGH_BITS_REMOTE_MASK)
#define MACH_MSGH_BITS_LOCAL(bits) (((bits) & MACH_MSGH_BITS_LOCAL_MASK) >> 8)
#define MACH_MSGH_BITS_VOUCHER(bits) (((bits) & MACH_MSGH_BITS_VOUCHER_MASK) >> 16)
#define MACH_MSGH_BITS_PORTS(bits) ((bits) & MACH_MSGH_BITS_PORTS_MASK)
#define MACH_MSGH_BITS_OTHER(bits) ((bits) & ~MACH_MSGH_BITS_PORTS_MASK)
#define MACH_MSGH_BITS_HAS_REMOTE(bits) (MACH_MSGH_BITS_REMOTE(bits) != MACH_MSGH_BITS_ZERO)
#define MACH_MSGH_BITS_HAS_LOCAL(bits) (MACH_MSGH_BITS_LOCAL(bits) != MACH_MSGH_BITS_ZERO)
#define MACH_MSGH_BITS_HAS_VOUCHER(bits) (MACH_MSGH_BITS_VOUCHER(bits) != MACH_MSGH_BITS_ZERO)
#define MACH_MSGH_BITS_IS_COMPLEX(bits) (((bits) & MACH_MSGH_BITS_COMPLEX) != MACH_MSGH_BITS_ZERO)

/* ---- dispositions and received right types ------------------------------------------------ */

#define MACH_MSG_TYPE_NONE 0
#define MACH_MSG_TYPE_PORT_NAME 15 /* a bare name, no right moves */
#define MACH_MSG_TYPE_MOVE_RECEIVE 16
#define MACH_MSG_TYPE_MOVE_SEND 17
#define MACH_MSG_TYPE_MOVE_SEND_ONCE 18
#define MACH_MSG_TYPE_COPY_SEND 19
#define MACH_MSG_TYPE_MAKE_SEND 20
#define MACH_MSG_TYPE_MAKE_SEND_ONCE 21
#define MACH_MSG_TYPE_COPY_RECEIVE 22 /* invalid */
#define MACH_MSG_TYPE_DISPOSE_RECEIVE 24 /* kernel-internal */
#define MACH_MSG_TYPE_DISPOSE_SEND 25 /* kernel-internal */
#define MACH_MSG_TYPE_DISPOSE_SEND_ONCE 26 /* kernel-internal */
#define MACH_MSG_TYPE_LAST 22
#define MACH_MSG_TYPE_POLYMORPHIC ((mach_msg_type_name_t)-1)

/* What a receiver finds in msgh_bits and descriptors. */
#define MACH_MSG_TYPE_PORT_RECEIVE MACH_MSG_TYPE_MOVE_RECEIVE
#define MACH_MSG_TYPE_PORT_SEND MACH_MSG_TYPE_MOVE_SEND
#define MACH_MSG_TYPE_PORT_SEND_ONCE MACH_MSG_TYPE_MOVE_SEND_ONCE

#define MACH_MSG_TYPE_PORT_ANY(x) \
	(((x) >= MACH_MSG_TYPE_MOVE_RECEIVE) && ((x) <= MACH_MSG_TYPE_MAKE_SEND_ONCE))
#define MACH_MSG_TYPE_PORT_ANY_SEND(x) \
	(((x) >= MACH_MSG_TYPE_MOVE_SEND) && ((x) <= MACH_MSG_TYPE_MAKE_SEND_ONCE))
#define MACH_MSG_TYPE_PORT_ANY_SEND_ONCE(x) \
	(((x) == MACH_MSG_TYPE_MOVE_SEND_ONCE) || ((x) == MACH_MSG_TYPE_MAKE_SEND_ONCE))
#define MACH_MSG_TYPE_PORT_ANY_RIGHT(x) \
	(((x) >= MACH_MSG_TYPE_MOVE_RECEIVE) && ((x) <= MACH_MSG_TYPE_MOVE_SEND_ONCE))

/* ---- descriptor types and OOL copy options ------------------------------------------------ */

#define MACH_MSG_PORT_DESCRIPTOR 0
#define MACH_MSG_OOL_DESCRIPTOR 1
#define MACH_MSG_OOL_PORTS_DESCRIPTOR 2
#define MACH_MSG_OOL_VOLATILE_DESCRIPTOR 3
#define MACH_MSG_GUARDED_PORT_DESCRIPTOR 4 /* XNU, only with MACH_RCV_GUARDED_DESC */

#define MACH_MSG_PHYSICAL_COPY 0
#define MACH_MSG_VIRTUAL_COPY 1
#define MACH_MSG_ALLOCATE 2
#define MACH_MSG_OVERWRITE 3 /* NextBSD */

/* Offset of the type byte inside every descriptor, on every ABI. */
#define MACH_MSG_DESCRIPTOR_TYPE_OFFSET 11

/* ---- wire structs (all packed to 4 bytes) ------------------------------------------------- */

#pragma pack(push, 4)

typedef struct {
	mach_msg_bits_t msgh_bits;
	mach_msg_size_t msgh_size; /* header + body + inline data; excludes the trailer */
	mach_port_t msgh_remote_port;
	mach_port_t msgh_local_port;
	mach_port_name_t msgh_voucher_port; /* 0 on NextBSD */
	mach_msg_id_t msgh_id;
} mach_msg_header_t;

#define msgh_reserved msgh_voucher_port
#define MACH_MSG_NULL ((mach_msg_header_t *)0)

typedef struct {
	mach_msg_size_t msgh_descriptor_count;
} mach_msg_body_t;

#define MACH_MSG_BODY_NULL ((mach_msg_body_t *)0)
#define MACH_MSG_DESCRIPTOR_NULL ((mach_msg_descriptor_t *)0)

typedef struct {
	mach_msg_header_t header;
	mach_msg_body_t body;
} mach_msg_base_t;

/* Port descriptor (12 bytes). The 8-bit fields are bitfields in Apple's header: same layout. */
typedef struct {
	mach_port_t name;
	mach_msg_size_t pad1;
	uint16_t pad2;
	uint8_t disposition; /* mach_msg_type_name_t */
	uint8_t type;        /* MACH_MSG_PORT_DESCRIPTOR */
} mach_msg_port_descriptor_t;

/* Out-of-line memory descriptor, ILP32 form (12 bytes). */
typedef struct {
	uint32_t address;
	mach_msg_size_t size;
	uint8_t deallocate;
	uint8_t copy;
	uint8_t pad1;
	uint8_t type;
} mach_msg_ool_descriptor32_t;

/* Out-of-line memory descriptor, LP64 (16 bytes; address only 4-aligned inside a message). */
typedef struct {
	void *address;
	uint8_t deallocate; /* boolean */
	uint8_t copy;       /* mach_msg_copy_options_t */
	uint8_t pad1;
	uint8_t type;       /* MACH_MSG_OOL_DESCRIPTOR or MACH_MSG_OOL_VOLATILE_DESCRIPTOR */
	mach_msg_size_t size;
} mach_msg_ool_descriptor_t;

typedef mach_msg_ool_descriptor_t mach_msg_ool_descriptor64_t;

/* Out-of-line port array descriptor, LP64 (16 bytes). */
typedef struct {
	void *address;
	uint8_t deallocate;
	uint8_t copy;
	uint8_t disposition; /* applied to every name */
	uint8_t type;        /* MACH_MSG_OOL_PORTS_DESCRIPTOR */
	mach_msg_size_t count;
} mach_msg_ool_ports_descriptor_t;

typedef mach_msg_ool_ports_descriptor_t mach_msg_ool_ports_descriptor64_t;

/* Generic view: only `type` (offset 11) is meaningful. Walk descriptors by reading it. */
typedef struct {
	natural_t pad1;
	mach_msg_size_t pad2;
	uint8_t pad3[3];
	uint8_t type;
} mach_msg_type_descriptor_t;

typedef union {
	mach_msg_port_descriptor_t port;
	mach_msg_ool_descriptor_t out_of_line;
	mach_msg_ool_ports_descriptor_t ool_ports;
	mach_msg_type_descriptor_t type;
} mach_msg_descriptor_t;

/* ---- security and audit tokens ------------------------------------------------------------ */

typedef struct {
	unsigned int val[2];
} security_token_t;

/*
 * val[0] auid, val[1] euid, val[2] egid, val[3] ruid, val[4] rgid, val[5] pid, val[6] asid,
 * val[7] pid version (0 on NextBSD). Kernel-built messages carry all zeros.
 */
typedef struct {
	unsigned int val[8];
} audit_token_t;

#define KERNEL_SECURITY_TOKEN_VALUE { { 0, 0 } }
#define KERNEL_AUDIT_TOKEN_VALUE { { 0, 0, 0, 0, 0, 0, 0, 0 } }

/* ---- trailers (format 0) ------------------------------------------------------------------ */

typedef struct {
	mach_msg_trailer_type_t msgh_trailer_type;
	mach_msg_trailer_size_t msgh_trailer_size;
} mach_msg_trailer_t;

typedef struct {
	mach_msg_trailer_type_t msgh_trailer_type;
	mach_msg_trailer_size_t msgh_trailer_size;
	mach_port_seqno_t msgh_seqno;
} mach_msg_seqno_trailer_t;

typedef struct {
	mach_msg_trailer_type_t msgh_trailer_type;
	mach_msg_trailer_size_t msgh_trailer_size;
	mach_port_seqno_t msgh_seqno;
	security_token_t msgh_sender;
} mach_msg_security_trailer_t;

typedef mach_msg_security_trailer_t mach_msg_format_0_trailer_t;

typedef struct {
	mach_msg_trailer_type_t msgh_trailer_type;
	mach_msg_trailer_size_t msgh_trailer_size;
	mach_port_seqno_t msgh_seqno;
	security_token_t msgh_sender;
	audit_token_t msgh_audit;
} mach_msg_audit_trailer_t;

typedef struct {
	mach_msg_trailer_type_t msgh_trailer_type;
	mach_msg_trailer_size_t msgh_trailer_size;
	mach_port_seqno_t msgh_seqno;
	security_token_t msgh_sender;
	audit_token_t msgh_audit;
	mach_port_context_t msgh_context; /* offset 52, only 4-aligned */
} mach_msg_context_trailer_t;

typedef struct {
	mach_port_name_t sender;
} msg_labels_t;

typedef struct {
	mach_msg_trailer_type_t msgh_trailer_type;
	mach_msg_trailer_size_t msgh_trailer_size;
	mach_port_seqno_t msgh_seqno;
	security_token_t msgh_sender;
	audit_token_t msgh_audit;
	mach_port_context_t msgh_context;
	mach_msg_filter_id msgh_ad;
	msg_labels_t msgh_labels;
} mach_msg_mac_trailer_t;

typedef mach_msg_mac_trailer_t mach_msg_max_trailer_t;

/* Header-only messages (Apple's names). */
typedef struct {
	mach_msg_header_t header;
} mach_msg_empty_send_t;

typedef struct {
	mach_msg_header_t header;
	mach_msg_trailer_t trailer;
} mach_msg_empty_rcv_t;

typedef union {
	mach_msg_empty_send_t send;
	mach_msg_empty_rcv_t rcv;
} mach_msg_empty_t;

#pragma pack(pop)

#define MACH_MSG_TRAILER_FORMAT_0 0
#define MACH_MSG_TRAILER_MINIMUM_SIZE ((mach_msg_size_t)sizeof(mach_msg_trailer_t))
#define MACH_MSG_TRAILER_FORMAT_0_SIZE sizeof(mach_msg_format_0_trailer_t)
#define MAX_TRAILER_SIZE ((mach_msg_size_t)sizeof(mach_msg_max_trailer_t)) /* 68 */

/* Trailer element selectors for MACH_RCV_TRAILER_ELEMENTS. */
#define MACH_RCV_TRAILER_NULL 0
#define MACH_RCV_TRAILER_SEQNO 1
#define MACH_RCV_TRAILER_SENDER 2
#define MACH_RCV_TRAILER_AUDIT 3
#define MACH_RCV_TRAILER_CTX 4
#define MACH_RCV_TRAILER_AV 7
#define MACH_RCV_TRAILER_LABELS 8

#define MACH_RCV_TRAILER_TYPE(x) ((((mach_msg_option_t)(x)) & 0xfU) << 28)
#define MACH_RCV_TRAILER_ELEMENTS(x) ((((mach_msg_option_t)(x)) & 0xfU) << 24)
#define MACH_RCV_TRAILER_MASK 0x0f000000U /* XNU; the NextBSD kernel masks 0xff000000 */
#define GET_RCV_ELEMENTS(y) ((((mach_msg_option_t)(y)) >> 24) & 0xfU)

/* Size of the trailer a receive with option `y` gets: 8/12/20/52/60/68 for elements 0/1/2/3/4/7,
 * 68 for anything else. A receive needs msgh_size + REQUESTED_TRAILER_SIZE(y) <= rcv_size. */
#define REQUESTED_TRAILER_SIZE(y) \
	((mach_msg_trailer_size_t)( \
	    (GET_RCV_ELEMENTS(y) == MACH_RCV_TRAILER_NULL) ? sizeof(mach_msg_trailer_t) : \
	    (GET_RCV_ELEMENTS(y) == MACH_RCV_TRAILER_SEQNO) ? sizeof(mach_msg_seqno_trailer_t) : \
	    (GET_RCV_ELEMENTS(y) == MACH_RCV_TRAILER_SENDER) ? sizeof(mach_msg_security_trailer_t) : \
	    (GET_RCV_ELEMENTS(y) == MACH_RCV_TRAILER_AUDIT) ? sizeof(mach_msg_audit_trailer_t) : \
	    (GET_RCV_ELEMENTS(y) == MACH_RCV_TRAILER_CTX) ? sizeof(mach_msg_context_trailer_t) : \
	    (GET_RCV_ELEMENTS(y) == MACH_RCV_TRAILER_AV) ? sizeof(mach_msg_mac_trailer_t) : \
	    sizeof(mach_msg_max_trailer_t)))

/* ---- sizes -------------------------------------------------------------------------------- */

/* NextBSD's largest inline send: 48 MiB - 68 (larger: MACH_SEND_TOO_LARGE). */
#define NEXTBSD_MAX_INLINE_SEND (48U * 1024U * 1024U - 68U)

/* ---- mach_msg options --------------------------------------------------------------------- */

#define MACH_MSG_OPTION_NONE 0x00000000U
#define MACH_SEND_MSG 0x00000001U
#define MACH_RCV_MSG 0x00000002U
#define MACH_RCV_LARGE 0x00000004U          /* too-large message stays queued: always set it */
#define MACH_RCV_LARGE_IDENTITY 0x00000008U
#define MACH_SEND_TIMEOUT 0x00000010U       /* timeout 0: MACH_SEND_TIMED_OUT at once if full */
#define MACH_SEND_OVERRIDE 0x00000020U      /* XNU only */
#define MACH_SEND_INTERRUPT 0x00000040U
#define MACH_SEND_NOTIFY 0x00000080U        /* ignored by NextBSD (libmach's 0x4 is wrong) */
#define MACH_RCV_TIMEOUT 0x00000100U        /* timeout 0: poll */
#define MACH_RCV_NOTIFY 0x00000200U         /* NextBSD; = XNU MACH_MSG_STRICT_REPLY: never set */
#define MACH_MSG_STRICT_REPLY 0x00000200U   /* XNU; never set */
#define MACH_RCV_INTERRUPT 0x00000400U
#define MACH_RCV_VOUCHER 0x00000800U        /* XNU; no vouchers on NextBSD */
#define MACH_RCV_OVERWRITE 0x00001000U      /* NextBSD; = XNU MACH_RCV_GUARDED_DESC: never set */
#define MACH_RCV_GUARDED_DESC 0x00001000U   /* XNU; never set */
#define MACH_RCV_SYNC_WAIT 0x00004000U      /* XNU only */
#define MACH_RCV_SYNC_PEEK 0x00008000U      /* XNU only */
#define MACH_SEND_ALWAYS 0x00010000U        /* kernel-only */
#define MACH_SEND_FILTER_NONFATAL 0x00010000U /* XNU user option, same bit */
#define MACH_SEND_TRAILER 0x00020000U       /* do not use */
#define MACH_SEND_NOIMPORTANCE 0x00040000U  /* XNU only */
#define MACH_SEND_SYNC_OVERRIDE 0x00100000U /* XNU only */
#define MACH_SEND_PROPAGATE_QOS 0x00200000U /* XNU only */

/* ---- mach_msg return codes ---------------------------------------------------------------- */

#define MACH_MSG_SUCCESS 0x00000000

/* Special bits OR-ed into header/body errors: compare with (mr & ~MACH_MSG_MASK). */
#define MACH_MSG_MASK 0x00003e00
#define MACH_MSG_IPC_SPACE 0x00002000
#define MACH_MSG_VM_SPACE 0x00001000
#define MACH_MSG_IPC_KERNEL 0x00000800
#define MACH_MSG_VM_KERNEL 0x00000400
#define MACH_MSG_INVALID_RT_DESCRIPTOR 0x00000200 /* NextBSD */

#define MACH_SEND_IN_PROGRESS 0x10000001
#define MACH_SEND_INVALID_DATA 0x10000002
#define MACH_SEND_INVALID_DEST 0x10000003
#define MACH_SEND_TIMED_OUT 0x10000004
#define MACH_SEND_INVALID_VOUCHER 0x10000005
#define MACH_SEND_INTERRUPTED 0x10000007
#define MACH_SEND_MSG_TOO_SMALL 0x10000008
#define MACH_SEND_INVALID_REPLY 0x10000009
#define MACH_SEND_INVALID_RIGHT 0x1000000a
#define MACH_SEND_INVALID_NOTIFY 0x1000000b
#define MACH_SEND_INVALID_MEMORY 0x1000000c
#define MACH_SEND_NO_BUFFER 0x1000000d /* a return code (libmach's option bit 0x20000 is wrong) */
#define MACH_SEND_TOO_LARGE 0x1000000e
#define MACH_SEND_INVALID_TYPE 0x1000000f
#define MACH_SEND_INVALID_HEADER 0x10000010
#define MACH_SEND_INVALID_TRAILER 0x10000011
#define MACH_SEND_INVALID_CONTEXT 0x10000012 /* XNU */
#define MACH_SEND_INVALID_OPTIONS 0x10000013 /* XNU */
#define MACH_SEND_INVALID_RT_OOL_SIZE 0x10000015 /* obsolete */
#define MACH_SEND_NO_GRANT_DEST 0x10000016 /* XNU */
#define MACH_SEND_MSG_FILTERED 0x10000017 /* XNU */
#define MACH_SEND_AUX_TOO_SMALL 0x10000018 /* XNU */
#define MACH_SEND_AUX_TOO_LARGE 0x10000019 /* XNU */

#define MACH_RCV_IN_PROGRESS 0x10004001
#define MACH_RCV_INVALID_NAME 0x10004002
#define MACH_RCV_TIMED_OUT 0x10004003
#define MACH_RCV_TOO_LARGE 0x10004004
#define MACH_RCV_INTERRUPTED 0x10004005
#define MACH_RCV_PORT_CHANGED 0x10004006
#define MACH_RCV_INVALID_NOTIFY 0x10004007
#define MACH_RCV_INVALID_DATA 0x10004008
#define MACH_RCV_PORT_DIED 0x10004009
#define MACH_RCV_IN_SET 0x1000400a
#define MACH_RCV_HEADER_ERROR 0x1000400b
#define MACH_RCV_BODY_ERROR 0x1000400c
#define MACH_RCV_INVALID_TYPE 0x1000400d
#define MACH_RCV_SCATTER_SMALL 0x1000400e
#define MACH_RCV_INVALID_TRAILER 0x1000400f
#define MACH_RCV_IN_PROGRESS_TIMED 0x10004011
#define MACH_RCV_INVALID_REPLY 0x10004012 /* XNU */
#define MACH_RCV_INVALID_ARGUMENTS 0x10004013 /* XNU */

/* ---- calls -------------------------------------------------------------------------------- */

#ifdef __cplusplus
extern "C" {
#endif

/* Send and/or receive in the calling thread's current simulated task. */
extern mach_msg_return_t mach_msg(mach_msg_header_t *msg, mach_msg_option_t option,
                                  mach_msg_size_t send_size, mach_msg_size_t rcv_size,
                                  mach_port_name_t rcv_name, mach_msg_timeout_t timeout,
                                  mach_port_name_t notify);

#ifdef __cplusplus
}
#endif

#endif /* _MACH_MESSAGE_H_ */
