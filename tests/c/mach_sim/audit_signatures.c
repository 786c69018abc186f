/*
 * Audit of the mach-sim libmach C ABI (issue 2 part 4): every required call has the standard
 * C signature (checked at compile time by assigning it to a function pointer of the standard
 * type; -Werror turns a mismatch into a build failure), `struct kevent` has FreeBSD's 64-byte
 * layout, and the calls request_reply.c does not reach work: mach_reply_port() and a successful
 * bootstrap_register() that bootstrap_look_up() then finds.
 *
 * Prints "mach-sim C ABI audit: N passed, M failed" and exits non-zero on any failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mach/mach.h>
#include <servers/bootstrap.h>
#include <mach_sim.h>

static int failures, checks;

#define CHECK(cond, ...)                                                                      \
	do {                                                                                  \
		checks++;                                                                     \
		if (!(cond)) {                                                                \
			failures++;                                                           \
			printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                \
			printf(__VA_ARGS__);                                                  \
			printf("\n");                                                         \
		}                                                                             \
	} while (0)

/* ---- standard signatures (compile-time) --------------------------------------------------- */

static mach_port_t (*const p_task_self)(void) = mach_task_self;
static mach_port_t (*const p_reply_port)(void) = mach_reply_port;
static kern_return_t (*const p_allocate)(ipc_space_t, mach_port_right_t,
                                         mach_port_name_t *) = mach_port_allocate;
static kern_return_t (*const p_deallocate)(ipc_space_t, mach_port_name_t) = mach_port_deallocate;
static kern_return_t (*const p_destroy)(ipc_space_t, mach_port_name_t) = mach_port_destroy;
static kern_return_t (*const p_mod_refs)(ipc_space_t, mach_port_name_t, mach_port_right_t,
                                         mach_port_delta_t) = mach_port_mod_refs;
static kern_return_t (*const p_insert_right)(ipc_space_t, mach_port_name_t, mach_port_t,
                                             mach_msg_type_name_t) = mach_port_insert_right;
static kern_return_t (*const p_move_member)(ipc_space_t, mach_port_name_t,
                                            mach_port_name_t) = mach_port_move_member;
static kern_return_t (*const p_insert_member)(ipc_space_t, mach_port_name_t,
                                              mach_port_name_t) = mach_port_insert_member;
static kern_return_t (*const p_extract_member)(ipc_space_t, mach_port_name_t,
                                               mach_port_name_t) = mach_port_extract_member;
static kern_return_t (*const p_request_notification)(ipc_space_t, mach_port_name_t, mach_msg_id_t,
                                                     mach_port_mscount_t, mach_port_t,
                                                     mach_msg_type_name_t, mach_port_t *) =
    mach_port_request_notification;
static mach_msg_return_t (*const p_msg)(mach_msg_header_t *, mach_msg_option_t, mach_msg_size_t,
                                        mach_msg_size_t, mach_port_name_t, mach_msg_timeout_t,
                                        mach_port_name_t) = mach_msg;
static void (*const p_msg_destroy)(mach_msg_header_t *) = mach_msg_destroy;
static mach_port_t (*const p_mig_get)(void) = mig_get_reply_port;
static void (*const p_mig_dealloc)(mach_port_t) = mig_dealloc_reply_port;
static void (*const p_mig_put)(mach_port_t) = mig_put_reply_port;
static kern_return_t (*const p_check_in)(mach_port_t, const char *, mach_port_t *) =
    bootstrap_check_in;
static kern_return_t (*const p_look_up)(mach_port_t, const char *, mach_port_t *) =
    bootstrap_look_up;
static kern_return_t (*const p_register)(mach_port_t, const char *, mach_port_t) =
    bootstrap_register;
static uint32_t (*const p_task_create)(const char *, uint32_t, uint32_t, uint32_t) =
    mach_sim_task_create;
static uint32_t (*const p_task_enter)(uint32_t) = mach_sim_task_enter;
static kern_return_t (*const p_task_terminate)(uint32_t) = mach_sim_task_terminate;
static int (*const p_kqueue)(void) = mach_sim_kqueue;
static int (*const p_kevent)(int, const struct kevent *, int, struct kevent *, int,
                             const struct timespec *) = mach_sim_kevent;
static uint64_t (*const p_live_ports)(void) = mach_sim_live_ports;
static uint64_t (*const p_live_rights)(void) = mach_sim_live_rights;
static uint64_t (*const p_queued)(void) = mach_sim_queued_messages;

/* FreeBSD 12+ struct kevent (native-filter.md §2) and the NextBSD filter number. */
_Static_assert(sizeof(struct kevent) == 64, "struct kevent is 64 bytes");
_Static_assert(offsetof(struct kevent, filter) == 8, "filter at 8");
_Static_assert(offsetof(struct kevent, flags) == 10, "flags at 10");
_Static_assert(offsetof(struct kevent, fflags) == 12, "fflags at 12");
_Static_assert(offsetof(struct kevent, data) == 16, "data at 16");
_Static_assert(offsetof(struct kevent, udata) == 24, "udata at 24");
_Static_assert(offsetof(struct kevent, ext) == 32, "ext at 32");
_Static_assert(sizeof(((struct kevent *)0)->ext) == 32, "ext[4]");
_Static_assert(EVFILT_MACHPORT == -16, "NextBSD's EVFILT_MACHPORT");
_Static_assert(EV_ADD == 0x1 && EV_DELETE == 0x2 && EV_ENABLE == 0x4 && EV_DISABLE == 0x8 &&
                   EV_ONESHOT == 0x10 && EV_CLEAR == 0x20 && EV_RECEIPT == 0x40 &&
                   EV_DISPATCH == 0x80 && EV_ERROR == 0x4000 && EV_EOF == 0x8000,
               "FreeBSD EV_* values");

/* ---- run time ----------------------------------------------------------------------------- */

typedef struct {
	mach_msg_header_t head;
	mach_msg_max_trailer_t trailer;
} rcv_buf_t;

static void test_reply_port(void)
{
	mach_port_t self = p_task_self();
	mach_port_t a = p_reply_port(), b = p_reply_port();
	CHECK(MACH_PORT_VALID(a) && MACH_PORT_VALID(b) && a != b, "two reply ports %#x %#x", a, b);
	mach_port_type_t type = 0;
	CHECK(mach_port_type(self, a, &type) == KERN_SUCCESS && type == MACH_PORT_TYPE_RECEIVE,
	      "mach_reply_port gives a bare receive right: type %#x", type);
	/* Usable: make a send right, send to it, receive. */
	CHECK(p_insert_right(self, a, a, MACH_MSG_TYPE_MAKE_SEND) == KERN_SUCCESS, "make send");
	mach_msg_header_t h;
	memset(&h, 0, sizeof h);
	h.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
	h.msgh_remote_port = a;
	h.msgh_id = 77;
	CHECK(p_msg(&h, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof h, 0, 0, 0, 0) == MACH_MSG_SUCCESS,
	      "send to the reply port");
	rcv_buf_t r;
	memset(&r, 0, sizeof r);
	mach_msg_return_t mr = p_msg(&r.head, MACH_RCV_MSG | MACH_RCV_LARGE | MACH_RCV_TIMEOUT, 0,
	                             sizeof r, a, 0, 0);
	CHECK(mr == MACH_MSG_SUCCESS && r.head.msgh_id == 77 && r.head.msgh_local_port == a,
	      "receive on the reply port: %#x id %d", mr, r.head.msgh_id);
	p_msg_destroy(&r.head);
	CHECK(p_deallocate(self, a) == KERN_SUCCESS, "drop the send right");
	CHECK(p_mod_refs(self, a, MACH_PORT_RIGHT_RECEIVE, -1) == KERN_SUCCESS, "destroy a");
	CHECK(p_destroy(self, b) == KERN_SUCCESS, "destroy b");
}

static void test_register(void)
{
	mach_port_t self = p_task_self();
	mach_port_name_t port = MACH_PORT_NULL;
	CHECK(p_allocate(self, MACH_PORT_RIGHT_RECEIVE, &port) == KERN_SUCCESS, "allocate");
	CHECK(p_register(bootstrap_port, "org.nextbsd.audit.registered", port) == KERN_SUCCESS,
	      "bootstrap_register a receive right");
	CHECK(p_register(bootstrap_port, "org.nextbsd.audit.registered", port) ==
	          BOOTSTRAP_NAME_IN_USE,
	      "a second registration under the same name");
	mach_port_t found = MACH_PORT_NULL;
	CHECK(p_look_up(bootstrap_port, "org.nextbsd.audit.registered", &found) == KERN_SUCCESS,
	      "look up the registered service");
	CHECK(found == port, "the look-up's send right shares the receive right's name: %#x vs %#x",
	      found, port);
	mach_msg_header_t h;
	memset(&h, 0, sizeof h);
	h.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
	h.msgh_remote_port = found;
	h.msgh_id = 88;
	CHECK(p_msg(&h, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof h, 0, 0, 0, 0) == MACH_MSG_SUCCESS,
	      "send through the looked-up right");
	rcv_buf_t r;
	memset(&r, 0, sizeof r);
	CHECK(p_msg(&r.head, MACH_RCV_MSG | MACH_RCV_LARGE | MACH_RCV_TIMEOUT, 0, sizeof r, port, 0,
	            0) == MACH_MSG_SUCCESS &&
	          r.head.msgh_id == 88,
	      "received on the registered port");
	p_msg_destroy(&r.head);
	CHECK(p_deallocate(self, found) == KERN_SUCCESS, "drop the looked-up send right");
	CHECK(p_destroy(self, port) == KERN_SUCCESS, "destroy the port");
	/* Check-in gives the receive right of a new service port. */
	mach_port_t sp = MACH_PORT_NULL;
	CHECK(p_check_in(bootstrap_port, "org.nextbsd.audit.checkin", &sp) == KERN_SUCCESS &&
	          MACH_PORT_VALID(sp),
	      "bootstrap_check_in");
	CHECK(p_destroy(self, sp) == KERN_SUCCESS, "destroy the checked-in port");
	/* The registration died with its port. */
	CHECK(p_look_up(bootstrap_port, "org.nextbsd.audit.registered", &found) ==
	          BOOTSTRAP_UNKNOWN_SERVICE,
	      "a dead port's registration is gone");
}

static void test_counters(void)
{
	/* Function pointers are real entry points; the counters see what this program made. */
	uint64_t ports = p_live_ports(), rights = p_live_rights();
	mach_port_name_t set = MACH_PORT_NULL, port = MACH_PORT_NULL;
	CHECK(p_allocate(p_task_self(), MACH_PORT_RIGHT_PORT_SET, &set) == KERN_SUCCESS, "set");
	CHECK(p_allocate(p_task_self(), MACH_PORT_RIGHT_RECEIVE, &port) == KERN_SUCCESS, "port");
	/* mach_sim_live_ports counts ports and port sets. */
	CHECK(p_live_ports() == ports + 2 && p_live_rights() == rights + 2,
	      "counters: ports %llu rights %llu", (unsigned long long)p_live_ports(),
	      (unsigned long long)p_live_rights());
	CHECK(p_insert_member(p_task_self(), port, set) == KERN_SUCCESS, "insert_member");
	CHECK(p_extract_member(p_task_self(), port, set) == KERN_SUCCESS, "extract_member");
	CHECK(p_move_member(p_task_self(), port, set) == KERN_SUCCESS, "move_member");
	int kq = p_kqueue();
	struct kevent kev;
	EV_SET(&kev, set, EVFILT_MACHPORT, EV_ADD | EV_CLEAR, 0, 0, NULL);
	CHECK(kq >= 0 && p_kevent(kq, &kev, 1, NULL, 0, NULL) == 0, "EV_ADD");
	mach_port_t previous = 1;
	CHECK(p_request_notification(p_task_self(), port, MACH_NOTIFY_NO_SENDERS, 0, MACH_PORT_NULL,
	                             MACH_MSG_TYPE_MAKE_SEND_ONCE, &previous) == KERN_SUCCESS &&
	          previous == MACH_PORT_NULL,
	      "cancel (no) no-senders request");
	mach_port_t mig = p_mig_get();
	CHECK(MACH_PORT_VALID(mig), "mig reply port");
	p_mig_put(mig);
	p_mig_dealloc(mig);
	CHECK(p_queued() == 0, "nothing queued");
	CHECK(mach_sim_kqueue_close(kq) == 0, "close kq");
	CHECK(p_destroy(p_task_self(), set) == KERN_SUCCESS, "destroy set");
	CHECK(p_destroy(p_task_self(), port) == KERN_SUCCESS, "destroy port");
	CHECK(p_live_ports() == ports && p_live_rights() == rights, "back to the start");
}

int main(void)
{
	alarm(60);
	setvbuf(stdout, NULL, _IOLBF, 0);
	uint32_t task = p_task_create("audit", 4321, 501, 20);
	uint32_t previous = p_task_enter(task);
	test_reply_port();
	test_register();
	test_counters();
	CHECK(mach_sim_check_leaks() == 0, "leak check");
	p_task_enter(previous);
	CHECK(p_task_terminate(task) == KERN_SUCCESS, "terminate the task");
	CHECK(mach_sim_check_leaks() == 0, "leak check after exit");
	printf("mach-sim C ABI audit: %d passed, %d failed\n", checks - failures, failures);
	return failures == 0 ? 0 : 1;
}
