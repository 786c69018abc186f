/*
 * <mach/mig_errors.h> for the mach-sim simulated kernel: MIG error codes, the MIG error reply and
 * the MIG reply-port calls.
 */
#ifndef _MACH_MIG_ERRORS_H_
#define _MACH_MIG_ERRORS_H_

#include <mach/kern_return.h>
#include <mach/message.h>
#include <mach/ndr.h>

#define MIG_TYPE_ERROR -300     /* reply shape wrong */
#define MIG_REPLY_MISMATCH -301 /* reply id != request id + 100 (and != 71) */
#define MIG_REMOTE_ERROR -302
#define MIG_BAD_ID -303         /* unknown routine id */
#define MIG_BAD_ARGUMENTS -304  /* size / complex bit / descriptor count wrong */
#define MIG_NO_REPLY -305       /* the routine kept the reply right: send nothing */
#define MIG_EXCEPTION -306
#define MIG_ARRAY_TOO_LARGE -307
#define MIG_SERVER_DIED -308    /* a send-once notification (id 71) came instead of the reply */
#define MIG_TRAILER_ERROR -309  /* trailer not format 0 or too short */

#pragma pack(push, 4)

/* 36 bytes, never complex; msgh_id = request id + 100. */
typedef struct {
	mach_msg_header_t Head;
	NDR_record_t NDR;
	kern_return_t RetCode;
} mig_reply_error_t;

#pragma pack(pop)

#ifdef __cplusplus
extern "C" {
#endif

/* The calling thread's reply port in its current task (cached; MACH_PORT_NULL on failure). */
extern mach_port_t mig_get_reply_port(void);
/* Destroys the cached reply port (after a failed receive); the next get makes a new one. */
extern void mig_dealloc_reply_port(mach_port_t reply_port);
/* Nothing to do: the port stays cached. */
extern void mig_put_reply_port(mach_port_t reply_port);

#ifdef __cplusplus
}
#endif

#endif /* _MACH_MIG_ERRORS_H_ */
