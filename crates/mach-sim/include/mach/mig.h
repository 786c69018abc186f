/*
 * <mach/mig.h> for the mach-sim simulated kernel: what MIG-generated user and server stubs use
 * besides the message types: the packing and type-check switches, the server-side routine and
 * subsystem types (struct routine_descriptor, struct mig_subsystem), the stub and lookup function
 * types, and the MIG support calls libmach provides (reply ports, mig_strncpy).
 *
 * Hand-written from the public facts of the MIG interface (names, member order and types as in
 * Apple's and NextBSD's <mach/mig.h>, LP64); layouts are checked by crates/c-abi-tests.
 */
#ifndef _MACH_MIG_H_
#define _MACH_MIG_H_

#include <mach/boolean.h>
#include <mach/kern_return.h>
#include <mach/message.h>
#include <mach/mig_errors.h>
#include <mach/port.h>
#include <mach/vm_types.h>

/* Generated stubs pack their Request/Reply structs to 4 bytes and run every check (mig.md). */
#ifndef __MigTypeCheck
#define __MigTypeCheck 1
#endif
#ifndef __MigKernelSpecificCode
#define __MigKernelSpecificCode 0
#endif
#ifndef __MigPackStructs
#define __MigPackStructs 1
#endif

/* Round a size up to a multiple of 4 (message fields are 4-aligned). */
#define _WALIGN_(x) (((x) + 3) & ~3)
#define _WALIGNSZ_(x) _WALIGN_(sizeof(x))

/* A stub: checks the request in InHeadP, calls the routine, fills the reply in OutHeadP. */
typedef void (*mig_stub_routine_t)(mach_msg_header_t *InHeadP, mach_msg_header_t *OutHeadP);
typedef mig_stub_routine_t mig_routine_t;

/* <subsystem>_server_routine: the stub of a request's msgh_id, or NULL. */
typedef mig_routine_t (*mig_server_routine_t)(mach_msg_header_t *InHeadP);

/* The routine a stub calls (its real prototype depends on the routine). */
typedef kern_return_t (*mig_impl_routine_t)(void);

typedef mach_msg_type_descriptor_t routine_arg_descriptor;
typedef mach_msg_type_descriptor_t *routine_arg_descriptor_t;
typedef mach_msg_type_descriptor_t *mig_routine_arg_descriptor_t;
#define MIG_ROUTINE_ARG_DESCRIPTOR_NULL ((mig_routine_arg_descriptor_t)0)

/* One entry of a subsystem's routine table (40 bytes on LP64). A `skip;` slot is all zero. */
struct routine_descriptor {
	mig_impl_routine_t impl_routine; /* the server routine, or 0 */
	mig_stub_routine_t stub_routine; /* the generated stub, or 0 for a skip */
	unsigned int argc;               /* number of arguments */
	unsigned int descr_count;        /* descriptors in the request */
	routine_arg_descriptor_t arg_descr;
	unsigned int max_reply_msg;      /* largest reply, in bytes */
};
typedef struct routine_descriptor *routine_descriptor_t;
typedef struct routine_descriptor mig_routine_descriptor;
typedef mig_routine_descriptor *mig_routine_descriptor_t;
#define MIG_ROUTINE_DESCRIPTOR_NULL ((mig_routine_descriptor_t)0)

/*
 * The generic view of a generated subsystem (`const struct <name>_subsystem`), whose routine
 * array has one entry per id in [start, end). A generated subsystem casts to this type.
 */
typedef struct mig_subsystem {
	mig_server_routine_t server; /* the routine lookup */
	mach_msg_id_t start;         /* first msgh_id */
	mach_msg_id_t end;           /* last msgh_id + 1 */
	mach_msg_size_t maxsize;     /* largest reply */
	vm_address_t reserved;
	mig_routine_descriptor routine[1];
} *mig_subsystem_t;
#define MIG_SUBSYSTEM_NULL ((mig_subsystem_t)0)

/* A routine's name, number and address (symbol tables of generated servers). */
typedef struct mig_symtab {
	char *ms_routine_name;
	int ms_routine_number;
	void (*ms_routine)(void);
} mig_symtab_t;

#ifdef __cplusplus
extern "C" {
#endif

/* The calling thread's MIG reply port (see <mach/mig_errors.h>). */
extern mach_port_t mig_get_reply_port(void);
extern void mig_dealloc_reply_port(mach_port_t reply_port);
extern void mig_put_reply_port(mach_port_t reply_port);

/*
 * Copies at most len - 1 characters of src and a NUL into dest. Returns the number of bytes
 * written including the NUL when src ended, len when src was cut, 0 when len <= 0 (nothing is
 * written then).
 */
extern int mig_strncpy(char *dest, const char *src, int len);

/* mig_strncpy that also zero-fills dest up to len bytes; a NULL src writes an empty, zero-filled
 * string and returns 0. */
extern int mig_strncpy_zerofill(char *dest, const char *src, int len);

#ifdef __cplusplus
}
#endif

#endif /* _MACH_MIG_H_ */
