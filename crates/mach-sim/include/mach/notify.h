/*
 * <mach/notify.h> for the mach-sim simulated kernel: notification ids and message layouts.
 *
 * Notifications are sent by the kernel to a send-once right (received bits: local 18, remote 0),
 * bypass the queue limit and carry a zero audit token. As in Apple's header, each struct ends
 * with a format-0 trailer so that it can be used as a receive buffer; the msgh_size a receiver
 * sees excludes it (36 bytes for the NDR forms, 40 for port-destroyed, 24 for send-once).
 */
#ifndef _MACH_NOTIFY_H_
#define _MACH_NOTIFY_H_

#include <mach/message.h>
#include <mach/ndr.h>
#include <mach/port.h>

#define MACH_NOTIFY_FIRST 64
#define MACH_NOTIFY_PORT_DELETED 65   /* a send-once / dead-name request's name was deleted */
#define MACH_NOTIFY_SEND_POSSIBLE 66
#define MACH_NOTIFY_PORT_DESTROYED 69 /* the receive right comes back in a port descriptor */
#define MACH_NOTIFY_NO_SENDERS 70
#define MACH_NOTIFY_SEND_ONCE 71      /* a send-once right died unused (MIG: MIG_SERVER_DIED) */
#define MACH_NOTIFY_DEAD_NAME 72      /* carries an extra dead-name uref: deallocate it */
#define MACH_NOTIFY_LAST 77

#pragma pack(push, 4)

typedef struct {
	mach_msg_header_t not_header;
	NDR_record_t NDR;
	mach_port_name_t not_port;
	mach_msg_format_0_trailer_t trailer;
} mach_port_deleted_notification_t;

typedef struct {
	mach_msg_header_t not_header;
	NDR_record_t NDR;
	mach_port_name_t not_port;
	mach_msg_format_0_trailer_t trailer;
} mach_send_possible_notification_t;

typedef struct {
	mach_msg_header_t not_header;
	mach_msg_body_t not_body;
	mach_msg_port_descriptor_t not_port; /* MACH_MSG_TYPE_PORT_RECEIVE */
	mach_msg_format_0_trailer_t trailer;
} mach_port_destroyed_notification_t;

typedef struct {
	mach_msg_header_t not_header;
	NDR_record_t NDR;
	mach_port_mscount_t not_count;
	mach_msg_format_0_trailer_t trailer;
} mach_no_senders_notification_t;

typedef struct {
	mach_msg_header_t not_header;
	mach_msg_format_0_trailer_t trailer;
} mach_send_once_notification_t;

typedef struct {
	mach_msg_header_t not_header;
	NDR_record_t NDR;
	mach_port_name_t not_port;
	mach_msg_format_0_trailer_t trailer;
} mach_dead_name_notification_t;

#pragma pack(pop)

#endif /* _MACH_NOTIFY_H_ */
