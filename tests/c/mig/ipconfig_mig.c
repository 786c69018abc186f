/*
 * A C program shaped like MIG output for NextBSD's ipconfig.defs (`subsystem ipconfig 20000;
 * serverprefix _;`), compiled against mach-sim's headers only: a user stub per routine (what
 * ipconfigUser.c holds), the server stubs, the routine table and the demux (ipconfigServer.c),
 * and the two server routines. Written by this project from the wire facts of mig.md and
 * ipconfig-rpc.md §3 (request and reply layouts, checks, ids); it is not migcom output, but it
 * includes what migcom's output includes and uses the same types, so a generated stub builds
 * against these headers the same way.
 *
 * It runs a round trip on the simulated kernel: a server thread in its own task checks the
 * service in and serves requests through the demux; the main thread, in a client task, calls the
 * user stubs. Also: an unknown id gets MIG_BAD_ID from the demux, a wrong size MIG_BAD_ARGUMENTS
 * from a stub, the routine lookup, the table's layout, mig_strncpy. Ends with no leak.
 *
 * Prints "mig-ipconfig: N passed, M failed"; exits 1 on any failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* ---- what a MIG user header / server header includes ------------------------------------- */
#include <mach/ndr.h>
#include <mach/boolean.h>
#include <mach/kern_return.h>
#include <mach/notify.h>
#include <mach/mach_types.h>
#include <mach/message.h>
#include <mach/mig_errors.h>
#include <mach/port.h>
#include <mach/std_types.h>
#include <mach/mig.h>
#include <mach/thread_status.h>

#include <mach/mach.h>
#include <servers/bootstrap.h>
#include <mach_sim.h>

static int passed, failed;
#define CHECK(cond, ...)                                                                      \
	do {                                                                                  \
		if (cond) {                                                                   \
			passed++;                                                             \
		} else {                                                                      \
			failed++;                                                             \
			printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                \
			printf(__VA_ARGS__);                                                  \
			printf("\n");                                                         \
		}                                                                             \
	} while (0)

/* ---- ipconfig_mig_types.h ------------------------------------------------------------------ */
typedef char InterfaceName[16];
typedef uint32_t ip_address_t;
typedef int ipconfig_status_t;
#define ipconfig_status_success_e 0
#define ipconfig_status_no_server_e 9

#define SERVICE "org.nextbsd.mach-sim.test.ipconfig-mig"

#ifndef mig_external
#define mig_external extern
#endif
#ifndef mig_internal
#define mig_internal static __inline__
#endif

/* ---- messages (packed as generated code packs them) ----------------------------------------- */
#ifdef __MigPackStructs
#pragma pack(push, 4)
#endif
typedef struct {
	mach_msg_header_t Head;
} __Request__ipconfig_if_count_t;
typedef struct {
	mach_msg_header_t Head;
	NDR_record_t NDR;
	InterfaceName name;
} __Request__ipconfig_if_addr_t;
typedef struct {
	mach_msg_header_t Head;
	NDR_record_t NDR;
	kern_return_t RetCode;
	int count;
} __Reply__ipconfig_if_count_t;
typedef struct {
	mach_msg_header_t Head;
	NDR_record_t NDR;
	kern_return_t RetCode;
	ip_address_t addr;
	ipconfig_status_t status;
} __Reply__ipconfig_if_addr_t;
#ifdef __MigPackStructs
#pragma pack(pop)
#endif

_Static_assert(sizeof(__Request__ipconfig_if_count_t) == 24, "if_count request is 24 bytes");
_Static_assert(sizeof(__Request__ipconfig_if_addr_t) == 48, "if_addr request is 48 bytes");
_Static_assert(sizeof(__Reply__ipconfig_if_count_t) == 40, "if_count reply is 40 bytes");
_Static_assert(sizeof(__Reply__ipconfig_if_addr_t) == 44, "if_addr reply is 44 bytes");
_Static_assert(sizeof(mig_reply_error_t) == 36, "the error reply is 36 bytes");
_Static_assert(sizeof(struct routine_descriptor) == 40, "routine_descriptor is 40 bytes (LP64)");
_Static_assert(offsetof(struct routine_descriptor, max_reply_msg) == 32, "max_reply_msg at 32");
_Static_assert(offsetof(struct mig_subsystem, routine) == 32, "routine table at 32 (LP64)");
_Static_assert(sizeof(pointer_t) == sizeof(void *), "pointer_t is a machine word");

/* ---- user side (ipconfigUser.c) --------------------------------------------------------------- */

/* The reply checks of mig.md §9 for a simple reply of `size` bytes. */
mig_internal kern_return_t check_simple_reply(mach_msg_header_t *h, mach_msg_id_t request_id,
                                              mach_msg_size_t size)
{
	const mig_reply_error_t *e = (const mig_reply_error_t *)h;
	if (h->msgh_id != request_id + 100) {
		if (h->msgh_id == MACH_NOTIFY_SEND_ONCE)
			return MIG_SERVER_DIED;
		return MIG_REPLY_MISMATCH;
	}
#if __MigTypeCheck
	if ((h->msgh_bits & MACH_MSGH_BITS_COMPLEX) ||
	    (h->msgh_size != size &&
	     (h->msgh_size != sizeof(mig_reply_error_t) || e->RetCode == KERN_SUCCESS)))
		return MIG_TYPE_ERROR;
	if (h->msgh_remote_port != MACH_PORT_NULL)
		return MIG_TYPE_ERROR;
#endif
	return e->RetCode;
}

/* One RPC: send the request, receive the reply on the thread's MIG reply port. */
mig_internal kern_return_t rpc(mach_msg_header_t *h, mach_msg_size_t send_size,
                               mach_msg_size_t rcv_size)
{
	mach_port_t reply = mig_get_reply_port();
	h->msgh_local_port = reply;
	mach_msg_return_t mr = mach_msg(h, MACH_SEND_MSG | MACH_RCV_MSG | MACH_MSG_OPTION_NONE,
	                                send_size, rcv_size, reply, MACH_MSG_TIMEOUT_NONE,
	                                MACH_PORT_NULL);
	if (mr != MACH_MSG_SUCCESS) {
		if (mr == MACH_SEND_INVALID_DATA || mr == MACH_SEND_INVALID_DEST ||
		    mr == MACH_SEND_INVALID_HEADER)
			mig_put_reply_port(reply);
		else
			mig_dealloc_reply_port(reply);
	}
	return mr;
}

mig_external kern_return_t ipconfig_if_count(mach_port_t server, int *count)
{
	union {
		__Request__ipconfig_if_count_t In;
		__Reply__ipconfig_if_count_t Out;
		mach_msg_max_trailer_t trailer_room[2];
	} Mess;
	memset(&Mess, 0, sizeof Mess);
	Mess.In.Head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
	Mess.In.Head.msgh_remote_port = server;
	Mess.In.Head.msgh_id = 20000;
	Mess.In.Head.msgh_size = (mach_msg_size_t)sizeof Mess.In;
	kern_return_t kr = rpc(&Mess.In.Head, sizeof Mess.In, (mach_msg_size_t)sizeof Mess);
	if (kr != MACH_MSG_SUCCESS)
		return kr;
	kr = check_simple_reply(&Mess.Out.Head, 20000, sizeof Mess.Out);
	if (kr != KERN_SUCCESS) {
		mach_msg_destroy(&Mess.Out.Head);
		return kr;
	}
	*count = Mess.Out.count;
	return KERN_SUCCESS;
}

mig_external kern_return_t ipconfig_if_addr(mach_port_t server, InterfaceName name,
                                            ip_address_t *addr, ipconfig_status_t *status)
{
	union {
		__Request__ipconfig_if_addr_t In;
		__Reply__ipconfig_if_addr_t Out;
		mach_msg_max_trailer_t trailer_room[2];
	} Mess;
	memset(&Mess, 0, sizeof Mess);
	Mess.In.NDR = NDR_record;
	(void)mig_strncpy_zerofill(Mess.In.name, name, sizeof Mess.In.name);
	Mess.In.Head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
	Mess.In.Head.msgh_remote_port = server;
	Mess.In.Head.msgh_id = 20001;
	Mess.In.Head.msgh_size = (mach_msg_size_t)sizeof Mess.In;
	kern_return_t kr = rpc(&Mess.In.Head, sizeof Mess.In, (mach_msg_size_t)sizeof Mess);
	if (kr != MACH_MSG_SUCCESS)
		return kr;
	kr = check_simple_reply(&Mess.Out.Head, 20001, sizeof Mess.Out);
	if (kr != KERN_SUCCESS) {
		mach_msg_destroy(&Mess.Out.Head);
		return kr;
	}
	*addr = Mess.Out.addr;
	*status = Mess.Out.status;
	return KERN_SUCCESS;
}

/* ---- server routines (what ipconfigd implements; serverprefix _) ------------------------------ */
static int server_calls;

kern_return_t _ipconfig_if_count(mach_port_t server, int *count);
kern_return_t _ipconfig_if_addr(mach_port_t server, InterfaceName name, ip_address_t *addr,
                                ipconfig_status_t *status);

kern_return_t _ipconfig_if_count(mach_port_t server, int *count)
{
	(void)server;
	__atomic_add_fetch(&server_calls, 1, __ATOMIC_SEQ_CST);
	*count = 1;
	return KERN_SUCCESS;
}

kern_return_t _ipconfig_if_addr(mach_port_t server, InterfaceName name, ip_address_t *addr,
                                ipconfig_status_t *status)
{
	(void)server;
	__atomic_add_fetch(&server_calls, 1, __ATOMIC_SEQ_CST);
	if (strncmp(name, "em0", sizeof(InterfaceName)) == 0) {
		const unsigned char a[4] = {10, 0, 2, 15}; /* network byte order in memory */
		memcpy(addr, a, 4);
		*status = ipconfig_status_success_e;
	} else {
		*addr = 0;
		*status = ipconfig_status_no_server_e;
	}
	return KERN_SUCCESS;
}

/* ---- server stubs, routine table, demux (ipconfigServer.c) ----------------------------------- */

/* Turns the reply into the 36-byte error form (mig.md §8). */
mig_internal void error_reply(mach_msg_header_t *OutHeadP, kern_return_t code)
{
	mig_reply_error_t *e = (mig_reply_error_t *)OutHeadP;
	e->NDR = NDR_record;
	e->RetCode = code;
	OutHeadP->msgh_size = (mach_msg_size_t)sizeof *e;
}

mig_internal void _Xipconfig_if_count(mach_msg_header_t *InHeadP, mach_msg_header_t *OutHeadP)
{
	__Reply__ipconfig_if_count_t *OutP = (__Reply__ipconfig_if_count_t *)OutHeadP;
#if __MigTypeCheck
	if ((InHeadP->msgh_bits & MACH_MSGH_BITS_COMPLEX) ||
	    InHeadP->msgh_size != sizeof(__Request__ipconfig_if_count_t)) {
		error_reply(OutHeadP, MIG_BAD_ARGUMENTS);
		return;
	}
#endif
	kern_return_t kr = _ipconfig_if_count(InHeadP->msgh_local_port, &OutP->count);
	if (kr != KERN_SUCCESS) {
		error_reply(OutHeadP, kr);
		return;
	}
	OutP->NDR = NDR_record;
	OutP->RetCode = KERN_SUCCESS;
	OutHeadP->msgh_size = (mach_msg_size_t)sizeof *OutP;
}

mig_internal void _Xipconfig_if_addr(mach_msg_header_t *InHeadP, mach_msg_header_t *OutHeadP)
{
	__Request__ipconfig_if_addr_t *In0P = (__Request__ipconfig_if_addr_t *)InHeadP;
	__Reply__ipconfig_if_addr_t *OutP = (__Reply__ipconfig_if_addr_t *)OutHeadP;
#if __MigTypeCheck
	if ((InHeadP->msgh_bits & MACH_MSGH_BITS_COMPLEX) ||
	    InHeadP->msgh_size != sizeof(__Request__ipconfig_if_addr_t)) {
		error_reply(OutHeadP, MIG_BAD_ARGUMENTS);
		return;
	}
#endif
	kern_return_t kr = _ipconfig_if_addr(InHeadP->msgh_local_port, In0P->name, &OutP->addr,
	                                     &OutP->status);
	if (kr != KERN_SUCCESS) {
		error_reply(OutHeadP, kr);
		return;
	}
	OutP->NDR = NDR_record;
	OutP->RetCode = KERN_SUCCESS;
	OutHeadP->msgh_size = (mach_msg_size_t)sizeof *OutP;
}

mig_external boolean_t ipconfig_server(mach_msg_header_t *InHeadP, mach_msg_header_t *OutHeadP);
mig_external mig_routine_t ipconfig_server_routine(mach_msg_header_t *InHeadP);

/* The generated subsystem: a routine_descriptor per id in [20000, 20002). */
const struct ipconfig_subsystem {
	mig_server_routine_t server;
	mach_msg_id_t start;
	mach_msg_id_t end;
	unsigned int maxsize;
	vm_address_t reserved;
	struct routine_descriptor routine[2];
} ipconfig_subsystem = {
	ipconfig_server_routine,
	20000,
	20002,
	(mach_msg_size_t)sizeof(__Reply__ipconfig_if_addr_t),
	(vm_address_t)0,
	{
		{(mig_impl_routine_t)0, (mig_stub_routine_t)_Xipconfig_if_count, 2, 0,
		 (routine_arg_descriptor_t)0, (mach_msg_size_t)sizeof(__Reply__ipconfig_if_count_t)},
		{(mig_impl_routine_t)0, (mig_stub_routine_t)_Xipconfig_if_addr, 4, 0,
		 (routine_arg_descriptor_t)0, (mach_msg_size_t)sizeof(__Reply__ipconfig_if_addr_t)},
	}};

mig_external boolean_t ipconfig_server(mach_msg_header_t *InHeadP, mach_msg_header_t *OutHeadP)
{
	mig_routine_t routine;
	OutHeadP->msgh_bits = MACH_MSGH_BITS(MACH_MSGH_BITS_REMOTE(InHeadP->msgh_bits), 0);
	OutHeadP->msgh_remote_port = InHeadP->msgh_remote_port;
	OutHeadP->msgh_size = (mach_msg_size_t)sizeof(mig_reply_error_t);
	OutHeadP->msgh_local_port = MACH_PORT_NULL;
	OutHeadP->msgh_id = InHeadP->msgh_id + 100;
	OutHeadP->msgh_reserved = 0;
	if ((routine = ipconfig_server_routine(InHeadP)) == 0) {
		error_reply(OutHeadP, MIG_BAD_ID);
		return FALSE;
	}
	(*routine)(InHeadP, OutHeadP);
	return TRUE;
}

mig_external mig_routine_t ipconfig_server_routine(mach_msg_header_t *InHeadP)
{
	int msgh_id = InHeadP->msgh_id - ipconfig_subsystem.start;
	if (msgh_id < 0 || msgh_id >= ipconfig_subsystem.end - ipconfig_subsystem.start)
		return 0;
	return ipconfig_subsystem.routine[msgh_id].stub_routine;
}

/* ---- the server thread: receive, demux, reply ------------------------------------------------- */
static uint32_t server_task;
static mach_port_t service_port;
static pthread_mutex_t ready_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready_cond = PTHREAD_COND_INITIALIZER;
static int ready;

static void *serve(void *arg)
{
	(void)arg;
	mach_sim_task_enter(server_task);
	kern_return_t kr = bootstrap_check_in(bootstrap_port, SERVICE, &service_port);
	pthread_mutex_lock(&ready_lock);
	ready = kr == KERN_SUCCESS ? 1 : -1;
	pthread_cond_signal(&ready_cond);
	pthread_mutex_unlock(&ready_lock);
	if (kr != KERN_SUCCESS)
		return NULL;
	for (;;) {
		union {
			mach_msg_header_t head;
			char bytes[sizeof(__Request__ipconfig_if_addr_t) + sizeof(mach_msg_max_trailer_t)];
		} request;
		union {
			mach_msg_header_t head;
			char bytes[sizeof(__Reply__ipconfig_if_addr_t)];
		} reply;
		memset(&request, 0, sizeof request);
		/* Bounded: the main thread ends the loop by terminating the task long before. */
		mach_msg_return_t mr =
		    mach_msg(&request.head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof request,
		             service_port, 30000, MACH_PORT_NULL);
		if (mr != MACH_MSG_SUCCESS)
			break; /* the task was terminated (or nothing came for 30 s) */
		memset(&reply, 0, sizeof reply);
		(void)ipconfig_server(&request.head, &reply.head);
		mig_reply_error_t *e = (mig_reply_error_t *)&reply.head;
		if (e->RetCode != KERN_SUCCESS && e->RetCode != MIG_NO_REPLY) {
			/* An error reply: the request's rights are the server loop's to destroy. */
			request.head.msgh_remote_port = MACH_PORT_NULL;
			mach_msg_destroy(&request.head);
		}
		if (e->RetCode == MIG_NO_REPLY || reply.head.msgh_remote_port == MACH_PORT_NULL)
			continue;
		(void)mach_msg(&reply.head, MACH_SEND_MSG | MACH_SEND_TIMEOUT, reply.head.msgh_size, 0,
		               MACH_PORT_NULL, 1000, MACH_PORT_NULL);
	}
	return NULL;
}

int main(void)
{
	char buf[8];
	CHECK(mig_strncpy(buf, "em0", sizeof buf) == 4 && strcmp(buf, "em0") == 0, "mig_strncpy");
	CHECK(mig_strncpy(buf, "0123456789", sizeof buf) == 8 && strcmp(buf, "0123456") == 0,
	      "mig_strncpy cut");
	memset(buf, 'x', sizeof buf);
	CHECK(mig_strncpy_zerofill(buf, "ab", sizeof buf) == 3 && buf[2] == 0 && buf[7] == 0,
	      "mig_strncpy_zerofill");
	CHECK(mig_strncpy(buf, "ab", 0) == 0, "mig_strncpy len 0");

	server_task = mach_sim_task_create("ipconfigd", 77, 0, 0);
	uint32_t client_task = mach_sim_task_create("client", 4242, 501, 20);
	CHECK(server_task != 0 && client_task != 0, "tasks");
	mach_sim_task_enter(client_task);

	pthread_t server;
	CHECK(pthread_create(&server, NULL, serve, NULL) == 0, "server thread");
	pthread_mutex_lock(&ready_lock);
	while (ready == 0)
		pthread_cond_wait(&ready_cond, &ready_lock);
	pthread_mutex_unlock(&ready_lock);
	CHECK(ready == 1, "bootstrap_check_in");

	mach_port_t port = MACH_PORT_NULL;
	kern_return_t kr = bootstrap_look_up(bootstrap_port, SERVICE, &port);
	CHECK(kr == KERN_SUCCESS, "bootstrap_look_up: %d", kr);

	int count = -1;
	kr = ipconfig_if_count(port, &count);
	CHECK(kr == KERN_SUCCESS && count == 1, "ipconfig_if_count: %d, count %d", kr, count);

	InterfaceName name = "em0";
	ip_address_t addr = 0;
	ipconfig_status_t status = -1;
	kr = ipconfig_if_addr(port, name, &addr, &status);
	const unsigned char *a = (const unsigned char *)&addr;
	CHECK(kr == KERN_SUCCESS && status == ipconfig_status_success_e && a[0] == 10 &&
	          a[1] == 0 && a[2] == 2 && a[3] == 15,
	      "ipconfig_if_addr(em0): %d, status %d", kr, status);
	InterfaceName other = "em1";
	kr = ipconfig_if_addr(port, other, &addr, &status);
	CHECK(kr == KERN_SUCCESS && status == ipconfig_status_no_server_e,
	      "ipconfig_if_addr(em1): %d, status %d", kr, status);

	/* An id outside the subsystem: the demux answers MIG_BAD_ID (-303). */
	{
		union {
			__Request__ipconfig_if_count_t In;
			mig_reply_error_t Out;
			mach_msg_max_trailer_t room[2];
		} m;
		memset(&m, 0, sizeof m);
		m.In.Head.msgh_bits =
		    MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
		m.In.Head.msgh_remote_port = port;
		m.In.Head.msgh_id = 20002;
		m.In.Head.msgh_size = sizeof m.In;
		kr = rpc(&m.In.Head, sizeof m.In, sizeof m);
		CHECK(kr == KERN_SUCCESS && m.Out.Head.msgh_id == 20102 &&
		          m.Out.Head.msgh_size == 36 && m.Out.RetCode == MIG_BAD_ID,
		      "unknown id: %d, reply id %d, RetCode %d", kr, m.Out.Head.msgh_id,
		      m.Out.RetCode);
	}
	/* A request of the wrong size: the stub answers MIG_BAD_ARGUMENTS (-304). */
	{
		union {
			__Request__ipconfig_if_addr_t In;
			mig_reply_error_t Out;
			mach_msg_max_trailer_t room[2];
		} m;
		memset(&m, 0, sizeof m);
		m.In.Head.msgh_bits =
		    MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
		m.In.Head.msgh_remote_port = port;
		m.In.Head.msgh_id = 20001;
		m.In.Head.msgh_size = sizeof m.In - 4;
		kr = rpc(&m.In.Head, sizeof m.In - 4, sizeof m);
		CHECK(kr == KERN_SUCCESS && m.Out.RetCode == MIG_BAD_ARGUMENTS,
		      "short request: %d, RetCode %d", kr, m.Out.RetCode);
	}
	CHECK(__atomic_load_n(&server_calls, __ATOMIC_SEQ_CST) == 3, "the routines ran 3 times");

	/* The routine lookup and the table. */
	mach_msg_header_t probe = {0};
	probe.msgh_id = 20001;
	CHECK(ipconfig_server_routine(&probe) == (mig_routine_t)_Xipconfig_if_addr, "lookup 20001");
	probe.msgh_id = 19999;
	CHECK(ipconfig_server_routine(&probe) == 0, "lookup 19999");
	const struct mig_subsystem *generic = (const struct mig_subsystem *)&ipconfig_subsystem;
	CHECK(generic->start == 20000 && generic->end == 20002 &&
	          generic->server == ipconfig_server_routine &&
	          generic->routine[0].max_reply_msg == 40,
	      "generic subsystem view");

	/* Tear down: the server task dies (its receive loop ends), the client releases its rights. */
	CHECK(mach_sim_task_terminate(server_task) == KERN_SUCCESS, "terminate ipconfigd");
	CHECK(pthread_join(server, NULL) == 0, "join the server thread");
	CHECK(mach_port_deallocate(mach_task_self(), port) == KERN_SUCCESS, "release the send right");
	mig_dealloc_reply_port(MACH_PORT_NULL);
	CHECK(mach_sim_task_terminate(client_task) == KERN_SUCCESS, "terminate the client");
	CHECK(mach_sim_check_leaks() == 0, "no leaks");

	printf("mig-ipconfig: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
