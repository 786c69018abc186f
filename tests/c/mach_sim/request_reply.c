/*
 * The libmach C ABI of the mach-sim simulated kernel, exercised as C code written against
 * NextBSD's libmach would use it.
 *
 * Two simulated tasks, a client (the main thread) and a server (a second pthread that entered the
 * server task):
 *   1. request/reply: the server checks in a service with bootstrap_check_in, the client looks it
 *      up and sends a MIG-style request (COPY_SEND + MAKE_SEND_ONCE, reply port from
 *      mig_get_reply_port); the server receives it with an audit trailer (pid/euid/egid of the
 *      client task) and replies on the send-once right;
 *   2. queue limit: the client fills the service queue to its limit (5) and sees
 *      MACH_SEND_TIMED_OUT with MACH_SEND_TIMEOUT and timeout 0;
 *   3. server death: the client sends a request, the server task is killed before replying, and
 *      the client's reply port receives MACH_NOTIFY_SEND_ONCE (71), i.e. MIG_SERVER_DIED;
 *   4. kqueue: a port set registered with EVFILT_MACHPORT through mach_sim_kevent; a message makes
 *      the kqueue fd readable (poll) and the event's data is the member's name; FreeBSD error
 *      reporting; stale descriptors;
 *   5. bad arguments: null pointers and bad names get the kernel's error codes, misaligned
 *      buffers work;
 *   6. accounting: after the test released what it made, no port, right, queued message, kqueue
 *      or knote is left (mach_task_self() and bootstrap_port are pseudo names, not rights, and
 *      are not counted).
 *
 * Prints "mach-sim C ABI: N passed, M failed" and exits non-zero on any failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mach/mach.h>
#include <servers/bootstrap.h>
#include <mach_sim.h>

#define SERVICE "org.nextbsd.mach-sim.test.echo"
#define ECHO_ID 4000
#define CLIENT_PID 4242
#define CLIENT_EUID 501
#define CLIENT_EGID 20
#define SERVER_PID 77
#define RCV_WAIT_MS 10000

/* ---- checks ------------------------------------------------------------------------------- */

static atomic_int test_failures;

#define CHECK(cond, ...)                                                                      \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			atomic_fetch_add(&test_failures, 1);                                  \
			printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                \
			printf(__VA_ARGS__);                                                  \
			printf("\n");                                                         \
			fflush(stdout);                                                       \
		}                                                                             \
	} while (0)

/* ---- messages ----------------------------------------------------------------------------- */

typedef struct {
	mach_msg_header_t head;
	NDR_record_t ndr;
	int32_t value;
} echo_request_t;

typedef struct {
	mach_msg_header_t head;
	NDR_record_t ndr;
	kern_return_t ret;
	int32_t value;
} echo_reply_t;

typedef struct {
	echo_request_t req;
	mach_msg_audit_trailer_t trailer;
} echo_request_rcv_t;

typedef union {
	mach_msg_header_t head;
	echo_request_t req;
	echo_reply_t rep;
	struct {
		echo_reply_t rep;
		mach_msg_max_trailer_t trailer;
	} rcv;
	mach_send_once_notification_t send_once;
	uint8_t bytes[512];
} any_msg_t;

static void init_request(echo_request_t *req, mach_port_t dest, mach_port_t reply, mach_msg_id_t id,
                         int32_t value)
{
	memset(req, 0, sizeof *req);
	req->head.msgh_bits = reply == MACH_PORT_NULL
	                          ? MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0)
	                          : MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
	req->head.msgh_size = sizeof *req;
	req->head.msgh_remote_port = dest;
	req->head.msgh_local_port = reply;
	req->head.msgh_voucher_port = MACH_PORT_NULL;
	req->head.msgh_id = id;
	req->ndr = NDR_record;
	req->value = value;
}

/* ---- the two tasks and the stage protocol between client and server ---------------------- */

static uint32_t client_task, server_task;

enum stage {
	STAGE_START,
	STAGE_CHECKED_IN,
	STAGE_REPLIED,
	STAGE_QUEUE_FULL,
	STAGE_DRAINED,
	STAGE_HOLDING,
	STAGE_KILLED,
};

static pthread_mutex_t stage_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stage_cond = PTHREAD_COND_INITIALIZER;
static enum stage stage = STAGE_START;

static void set_stage(enum stage s)
{
	pthread_mutex_lock(&stage_lock);
	stage = s;
	pthread_cond_broadcast(&stage_cond);
	pthread_mutex_unlock(&stage_lock);
}

static int wait_stage(enum stage s)
{
	struct timespec deadline;
	int rc = 0;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 20;
	pthread_mutex_lock(&stage_lock);
	while (stage < s && rc == 0)
		rc = pthread_cond_timedwait(&stage_cond, &stage_lock, &deadline);
	int reached = stage >= s;
	pthread_mutex_unlock(&stage_lock);
	CHECK(reached, "stage %d not reached", (int)s);
	return reached;
}

/* ---- server thread ------------------------------------------------------------------------ */

static mach_port_t service_port; /* the server's receive right */
static int drained;

static void *server_main(void *arg)
{
	(void)arg;
	CHECK(mach_sim_task_enter(server_task) != 0, "server enters its task");
	CHECK(mach_sim_task_current() == server_task, "server task is current");

	kern_return_t kr = bootstrap_check_in(bootstrap_port, SERVICE, &service_port);
	CHECK(kr == KERN_SUCCESS, "bootstrap_check_in: %#x", kr);
	CHECK(MACH_PORT_VALID(service_port), "service port %#x", service_port);
	mach_port_t again = MACH_PORT_NULL;
	kr = bootstrap_check_in(bootstrap_port, SERVICE, &again);
	CHECK(kr == BOOTSTRAP_SERVICE_ACTIVE, "second check-in: %d", kr);
	set_stage(STAGE_CHECKED_IN);
	if (!MACH_PORT_VALID(service_port))
		return NULL;

	/* 1. Receive one request with an audit trailer and reply on the send-once right. */
	echo_request_rcv_t in;
	memset(&in, 0, sizeof in);
	mach_msg_option_t rcv_opts = MACH_RCV_MSG | MACH_RCV_LARGE | MACH_RCV_TIMEOUT |
	                             MACH_RCV_TRAILER_TYPE(MACH_MSG_TRAILER_FORMAT_0) |
	                             MACH_RCV_TRAILER_ELEMENTS(MACH_RCV_TRAILER_AUDIT);
	CHECK(rcv_opts == 0x03000106U, "receive options %#x", rcv_opts);
	mach_msg_return_t mr = mach_msg(&in.req.head, rcv_opts, 0, sizeof in, service_port,
	                                RCV_WAIT_MS, MACH_PORT_NULL);
	CHECK(mr == MACH_MSG_SUCCESS, "server receive: %#x", mr);
	if (mr == MACH_MSG_SUCCESS) {
		mach_msg_header_t *h = &in.req.head;
		CHECK(h->msgh_id == ECHO_ID, "request id %d", h->msgh_id);
		CHECK(h->msgh_size == sizeof(echo_request_t), "request size %u", h->msgh_size);
		CHECK(MACH_MSGH_BITS_REMOTE(h->msgh_bits) == MACH_MSG_TYPE_PORT_SEND_ONCE,
		      "reply right type %u", MACH_MSGH_BITS_REMOTE(h->msgh_bits));
		CHECK(MACH_MSGH_BITS_LOCAL(h->msgh_bits) == MACH_MSG_TYPE_PORT_SEND,
		      "destination type %u", MACH_MSGH_BITS_LOCAL(h->msgh_bits));
		CHECK(h->msgh_local_port == service_port, "arrived on %#x", h->msgh_local_port);
		CHECK(MACH_PORT_VALID(h->msgh_remote_port), "reply right %#x", h->msgh_remote_port);
		CHECK(in.trailer.msgh_trailer_type == MACH_MSG_TRAILER_FORMAT_0, "trailer type");
		CHECK(in.trailer.msgh_trailer_size >= sizeof(mach_msg_audit_trailer_t),
		      "trailer size %u", in.trailer.msgh_trailer_size);
		CHECK(in.trailer.msgh_audit.val[5] == CLIENT_PID, "audit pid %u",
		      in.trailer.msgh_audit.val[5]);
		CHECK(in.trailer.msgh_audit.val[1] == CLIENT_EUID, "audit euid %u",
		      in.trailer.msgh_audit.val[1]);
		CHECK(in.trailer.msgh_audit.val[2] == CLIENT_EGID, "audit egid %u",
		      in.trailer.msgh_audit.val[2]);

		echo_reply_t out;
		memset(&out, 0, sizeof out);
		out.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0);
		out.head.msgh_size = sizeof out;
		out.head.msgh_remote_port = h->msgh_remote_port;
		out.head.msgh_local_port = MACH_PORT_NULL;
		out.head.msgh_id = h->msgh_id + 100;
		out.ndr = NDR_record;
		out.ret = KERN_SUCCESS;
		out.value = in.req.value * 2;
		mr = mach_msg(&out.head, MACH_SEND_MSG, sizeof out, 0, MACH_PORT_NULL,
		              MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
		CHECK(mr == MACH_MSG_SUCCESS, "reply send: %#x", mr);
	}
	set_stage(STAGE_REPLIED);

	/* 2. Once the client filled the queue, drain it. */
	if (wait_stage(STAGE_QUEUE_FULL)) {
		for (;;) {
			any_msg_t m;
			memset(&m, 0, sizeof m);
			mr = mach_msg(&m.head, MACH_RCV_MSG | MACH_RCV_LARGE | MACH_RCV_TIMEOUT, 0,
			              sizeof m, service_port, 0, MACH_PORT_NULL);
			if (mr != MACH_MSG_SUCCESS)
				break;
			CHECK(m.head.msgh_id == ECHO_ID + 1, "queued id %d", m.head.msgh_id);
			mach_msg_destroy(&m.head);
			drained++;
		}
		CHECK(mr == MACH_RCV_TIMED_OUT, "drain ended with %#x", mr);
	}
	set_stage(STAGE_DRAINED);

	/* 3. Receive the next request and never reply: the task is killed while holding the
	 * send-once right. */
	memset(&in, 0, sizeof in);
	mr = mach_msg(&in.req.head, rcv_opts, 0, sizeof in, service_port, RCV_WAIT_MS,
	              MACH_PORT_NULL);
	CHECK(mr == MACH_MSG_SUCCESS, "server receive (3): %#x", mr);
	CHECK(in.req.head.msgh_id == ECHO_ID + 2, "request id (3) %d", in.req.head.msgh_id);
	set_stage(STAGE_HOLDING);
	wait_stage(STAGE_KILLED);
	return NULL;
}

/* ---- tests -------------------------------------------------------------------------------- */

static pthread_t server_thread;
static mach_port_t service_send; /* the client's send right */

static void test_request_reply(void)
{
	CHECK(pthread_create(&server_thread, NULL, server_main, NULL) == 0, "pthread_create");
	if (!wait_stage(STAGE_CHECKED_IN))
		return;

	kern_return_t kr = bootstrap_look_up(bootstrap_port, SERVICE, &service_send);
	CHECK(kr == KERN_SUCCESS, "bootstrap_look_up: %d", kr);
	CHECK(MACH_PORT_VALID(service_send), "service send right %#x", service_send);

	mach_port_t reply = mig_get_reply_port();
	CHECK(MACH_PORT_VALID(reply), "mig_get_reply_port %#x", reply);
	CHECK(mig_get_reply_port() == reply, "reply port cached per thread and task");
	mig_put_reply_port(reply);

	any_msg_t m;
	init_request(&m.req, service_send, reply, ECHO_ID, 21);
	CHECK(m.req.head.msgh_bits == 0x1513, "MIG request bits %#x", m.req.head.msgh_bits);
	mach_msg_return_t mr =
	    mach_msg(&m.head, MACH_SEND_MSG | MACH_RCV_MSG | MACH_RCV_TIMEOUT, sizeof m.req,
	             sizeof m.rcv, reply, RCV_WAIT_MS, MACH_PORT_NULL);
	CHECK(mr == MACH_MSG_SUCCESS, "request/reply: %#x", mr);
	if (mr == MACH_MSG_SUCCESS) {
		CHECK(m.rep.head.msgh_id == ECHO_ID + 100, "reply id %d", m.rep.head.msgh_id);
		CHECK(m.rep.head.msgh_size == sizeof(echo_reply_t), "reply size %u",
		      m.rep.head.msgh_size);
		CHECK(MACH_MSGH_BITS_REMOTE(m.rep.head.msgh_bits) == MACH_MSG_TYPE_NONE,
		      "no right in the reply's remote field");
		CHECK(MACH_MSGH_BITS_LOCAL(m.rep.head.msgh_bits) == MACH_MSG_TYPE_PORT_SEND_ONCE,
		      "reply arrived on a send-once right: %u",
		      MACH_MSGH_BITS_LOCAL(m.rep.head.msgh_bits));
		CHECK(m.rep.head.msgh_local_port == reply, "reply arrived on %#x",
		      m.rep.head.msgh_local_port);
		CHECK(m.rep.ret == KERN_SUCCESS && m.rep.value == 42, "reply ret %d value %d",
		      m.rep.ret, m.rep.value);
	}
	wait_stage(STAGE_REPLIED);
}

static void test_queue_limit(void)
{
	mach_port_urefs_t refs = 0;
	echo_request_t req;
	int sent = 0;
	for (int i = 0; i < 5; i++) {
		init_request(&req, service_send, MACH_PORT_NULL, ECHO_ID + 1, i);
		mach_msg_return_t mr = mach_msg(&req.head, MACH_SEND_MSG | MACH_SEND_TIMEOUT,
		                                sizeof req, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL);
		CHECK(mr == MACH_MSG_SUCCESS, "send %d below the limit: %#x", i, mr);
		sent += mr == MACH_MSG_SUCCESS;
	}
	CHECK(mach_sim_queued_messages() == 5, "queued %llu",
	      (unsigned long long)mach_sim_queued_messages());

	/* Full: timeout 0 fails at once, a positive timeout fails after waiting. */
	init_request(&req, service_send, MACH_PORT_NULL, ECHO_ID + 1, 5);
	mach_msg_return_t mr = mach_msg(&req.head, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof req, 0,
	                                MACH_PORT_NULL, 0, MACH_PORT_NULL);
	CHECK(mr == MACH_SEND_TIMED_OUT, "send above the limit: %#x", mr);
	/* The message is the sender's again: destroying it releases the copied right. */
	mach_msg_destroy(&req.head);

	init_request(&req, service_send, MACH_PORT_NULL, ECHO_ID + 1, 6);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	mr = mach_msg(&req.head, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof req, 0, MACH_PORT_NULL, 50,
	              MACH_PORT_NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long waited_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(mr == MACH_SEND_TIMED_OUT, "send above the limit, 50 ms: %#x", mr);
	CHECK(waited_ms >= 40, "waited only %ld ms", waited_ms);
	mach_msg_destroy(&req.head);

	CHECK(mach_port_get_refs(mach_task_self(), service_send, MACH_PORT_RIGHT_SEND, &refs) ==
	          KERN_SUCCESS && refs == 1,
	      "send right urefs after the timed-out sends: %u", refs);
	CHECK(mach_sim_queued_messages() == 5, "still 5 queued");

	set_stage(STAGE_QUEUE_FULL);
	wait_stage(STAGE_DRAINED);
	CHECK(drained == sent, "server drained %d of %d", drained, sent);
	CHECK(mach_sim_queued_messages() == 0, "queue empty after the drain");
}

static void test_server_death(void)
{
	mach_port_t reply = mig_get_reply_port();
	CHECK(MACH_PORT_VALID(reply), "reply port");

	/* Ask for a dead-name notification on the service (a send-once right to our own port). */
	mach_port_t self = mach_task_self();
	mach_port_t notify_port = MACH_PORT_NULL, previous = 0xffff;
	CHECK(mach_port_allocate(self, MACH_PORT_RIGHT_RECEIVE, &notify_port) == KERN_SUCCESS,
	      "notification port");
	kern_return_t kr = mach_port_request_notification(self, service_send, MACH_NOTIFY_DEAD_NAME,
	                                                  0, notify_port,
	                                                  MACH_MSG_TYPE_MAKE_SEND_ONCE, &previous);
	CHECK(kr == KERN_SUCCESS && previous == MACH_PORT_NULL,
	      "request dead-name notification: kr %d previous %#x", kr, previous);

	any_msg_t m;
	init_request(&m.req, service_send, reply, ECHO_ID + 2, 7);
	mach_msg_return_t mr = mach_msg(&m.head, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof m.req, 0,
	                                MACH_PORT_NULL, 0, MACH_PORT_NULL);
	CHECK(mr == MACH_MSG_SUCCESS, "request send: %#x", mr);

	/* The server now holds the send-once right; kill its task before it replies. */
	wait_stage(STAGE_HOLDING);
	kr = mach_sim_task_terminate(server_task);
	CHECK(kr == KERN_SUCCESS, "mach_sim_task_terminate: %d", kr);
	set_stage(STAGE_KILLED);
	CHECK(pthread_join(server_thread, NULL) == 0, "join the server thread");
	CHECK(mach_sim_task_terminate(server_task) == KERN_INVALID_TASK, "terminate twice");

	memset(&m, 0, sizeof m);
	mr = mach_msg(&m.head, MACH_RCV_MSG | MACH_RCV_LARGE | MACH_RCV_TIMEOUT, 0, sizeof m.rcv,
	              reply, 5000, MACH_PORT_NULL);
	CHECK(mr == MACH_MSG_SUCCESS, "receive on the reply port: %#x", mr);
	CHECK(m.head.msgh_id == MACH_NOTIFY_SEND_ONCE, "got id %d instead of 71", m.head.msgh_id);
	CHECK(m.head.msgh_size == sizeof(mach_msg_header_t), "notification size %u",
	      m.head.msgh_size);
	CHECK(MACH_MSGH_BITS_LOCAL(m.head.msgh_bits) == MACH_MSG_TYPE_PORT_SEND_ONCE,
	      "notification bits %#x", m.head.msgh_bits);
	CHECK(m.head.msgh_local_port == reply, "notification arrived on %#x", m.head.msgh_local_port);
	/* What a MIG client stub makes of it. */
	kern_return_t mig = m.head.msgh_id == MACH_NOTIFY_SEND_ONCE ? MIG_SERVER_DIED
	                    : m.head.msgh_id == ECHO_ID + 102        ? KERN_SUCCESS
	                                                             : MIG_REPLY_MISMATCH;
	CHECK(mig == MIG_SERVER_DIED, "MIG result %d", mig);
	mach_msg_destroy(&m.head);

	/* The service died with its task; the client's send right is now a dead name. */
	mach_port_t p = MACH_PORT_NULL;
	kr = bootstrap_look_up(bootstrap_port, SERVICE, &p);
	CHECK(kr == BOOTSTRAP_UNKNOWN_SERVICE, "look-up after the server died: %d", kr);
	mach_port_type_t type = 0;
	kr = mach_port_type(mach_task_self(), service_send, &type);
	CHECK(kr == KERN_SUCCESS && (type & MACH_PORT_TYPE_DEAD_NAME), "type %#x (kr %d)", type, kr);
	init_request(&m.req, service_send, MACH_PORT_NULL, ECHO_ID + 3, 0);
	mr = mach_msg(&m.head, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof m.req, 0, MACH_PORT_NULL, 0,
	              MACH_PORT_NULL);
	CHECK(mr == MACH_SEND_INVALID_DEST, "send to a dead name: %#x", mr);

	/* The dead-name notification names the service and carries an extra dead-name uref. */
	memset(&m, 0, sizeof m);
	mr = mach_msg(&m.head, MACH_RCV_MSG | MACH_RCV_LARGE | MACH_RCV_TIMEOUT, 0, sizeof m.rcv,
	              notify_port, 5000, MACH_PORT_NULL);
	CHECK(mr == MACH_MSG_SUCCESS, "receive the dead-name notification: %#x", mr);
	mach_dead_name_notification_t *dn = (mach_dead_name_notification_t *)(void *)&m;
	CHECK(dn->not_header.msgh_id == MACH_NOTIFY_DEAD_NAME && dn->not_port == service_send,
	      "dead-name notification id %d port %#x", dn->not_header.msgh_id, dn->not_port);
	CHECK(dn->not_header.msgh_size == 36, "dead-name notification size %u",
	      dn->not_header.msgh_size);
	mach_port_urefs_t refs = 0;
	CHECK(mach_port_get_refs(self, service_send, MACH_PORT_RIGHT_DEAD_NAME, &refs) ==
	              KERN_SUCCESS &&
	          refs == 2,
	      "dead-name urefs %u", refs);
	CHECK(mach_port_deallocate(self, service_send) == KERN_SUCCESS, "notification's uref");
	CHECK(mach_port_deallocate(self, service_send) == KERN_SUCCESS, "release the dead name");
	CHECK(mach_port_type(self, service_send, &type) == KERN_INVALID_NAME, "dead name gone");
	CHECK(mach_port_mod_refs(self, notify_port, MACH_PORT_RIGHT_RECEIVE, -1) == KERN_SUCCESS,
	      "destroy the notification port with mod_refs");
	mig_dealloc_reply_port(reply);
}

static void test_kqueue(void)
{
	mach_port_t self = mach_task_self();
	mach_port_t port = MACH_PORT_NULL, set = MACH_PORT_NULL;
	CHECK(mach_port_allocate(self, MACH_PORT_RIGHT_RECEIVE, &port) == KERN_SUCCESS, "port");
	CHECK(mach_port_insert_right(self, port, port, MACH_MSG_TYPE_MAKE_SEND) == KERN_SUCCESS,
	      "make send");
	CHECK(mach_port_allocate(self, MACH_PORT_RIGHT_PORT_SET, &set) == KERN_SUCCESS, "set");
	uint64_t kqueues_before = mach_sim_live_kqueues();

	int kq = mach_sim_kqueue();
	CHECK(kq >= 0, "mach_sim_kqueue: errno %d", errno);
	CHECK(mach_sim_live_kqueues() == kqueues_before + 1, "kqueue counted");

	/* Knote first (changelist only), then the member. */
	struct kevent kev;
	EV_SET(&kev, set, EVFILT_MACHPORT, EV_ADD | EV_CLEAR, 0, 0, NULL);
	CHECK(mach_sim_kevent(kq, &kev, 1, NULL, 0, NULL) == 0, "EV_ADD: errno %d", errno);
	CHECK(mach_sim_live_knotes() == 1, "one knote");
	CHECK(mach_port_move_member(self, port, set) == KERN_SUCCESS, "move_member");

	struct pollfd pfd = { .fd = kq, .events = POLLIN, .revents = 0 };
	CHECK(poll(&pfd, 1, 0) == 0, "kqueue not readable while the set is empty");

	mach_msg_header_t h;
	memset(&h, 0, sizeof h);
	h.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
	h.msgh_size = sizeof h;
	h.msgh_remote_port = port;
	h.msgh_id = 5000;
	mach_msg_return_t mr =
	    mach_msg(&h, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof h, 0, MACH_PORT_NULL, 0, 0);
	CHECK(mr == MACH_MSG_SUCCESS, "send to the member: %#x", mr);

	pfd.revents = 0;
	CHECK(poll(&pfd, 1, 2000) == 1 && (pfd.revents & POLLIN), "kqueue readable after a send");

	struct kevent out[4];
	memset(out, 0, sizeof out);
	struct timespec zero = { 0, 0 };
	int n = mach_sim_kevent(kq, NULL, 0, out, 4, &zero);
	CHECK(n == 1, "one event, got %d (errno %d)", n, errno);
	if (n == 1) {
		CHECK(out[0].ident == set, "ident %lu", (unsigned long)out[0].ident);
		CHECK(out[0].filter == EVFILT_MACHPORT, "filter %d", out[0].filter);
		CHECK(!(out[0].flags & (EV_ERROR | EV_EOF)), "flags %#x", out[0].flags);
		CHECK(out[0].data == (int64_t)port, "data %lld, member %u", (long long)out[0].data,
		      port);
	}
	pfd.revents = 0;
	CHECK(poll(&pfd, 1, 0) == 0, "event consumed (EV_CLEAR)");

	/* Drain the set: the message stayed queued (notify mode only peeks). */
	any_msg_t m;
	memset(&m, 0, sizeof m);
	mr = mach_msg(&m.head, MACH_RCV_MSG | MACH_RCV_LARGE | MACH_RCV_TIMEOUT, 0, sizeof m.rcv, set,
	              0, 0);
	CHECK(mr == MACH_MSG_SUCCESS, "receive on the set: %#x", mr);
	CHECK(m.head.msgh_local_port == port && m.head.msgh_id == 5000, "received on %#x id %d",
	      m.head.msgh_local_port, m.head.msgh_id);
	mach_msg_destroy(&m.head);
	mr = mach_msg(&m.head, MACH_RCV_MSG | MACH_RCV_LARGE | MACH_RCV_TIMEOUT, 0, sizeof m.rcv, set,
	              0, 0);
	CHECK(mr == MACH_RCV_TIMED_OUT, "set drained: %#x", mr);

	/* FreeBSD error reporting: -1/errno without room for events, EV_ERROR events with room. */
	EV_SET(&kev, port, EVFILT_MACHPORT, EV_ADD | EV_CLEAR, 0, 0, NULL);
	errno = 0;
	CHECK(mach_sim_kevent(kq, &kev, 1, NULL, 0, &zero) == -1 && errno == ENOTSUP,
	      "EV_ADD on a receive right: errno %d", errno);
	memset(out, 0, sizeof out);
	n = mach_sim_kevent(kq, &kev, 1, out, 4, &zero);
	CHECK(n == 1 && (out[0].flags & EV_ERROR) && out[0].data == ENOTSUP,
	      "EV_ERROR event: n %d flags %#x data %lld", n, out[0].flags, (long long)out[0].data);
	EV_SET(&kev, 0x7777, EVFILT_MACHPORT, EV_ADD, 0, 0, NULL);
	errno = 0;
	CHECK(mach_sim_kevent(kq, &kev, 1, NULL, 0, &zero) == -1 && errno == ENOENT,
	      "EV_ADD on an unknown name: errno %d", errno);
	errno = 0;
	CHECK(mach_sim_kevent(kq, NULL, -1, NULL, 0, &zero) == -1 && errno == EINVAL,
	      "negative nchanges: errno %d", errno);
	errno = 0;
	CHECK(mach_sim_kevent(kq, NULL, 1, NULL, 0, &zero) == -1 && errno == EFAULT,
	      "NULL changelist: errno %d", errno);
	struct timespec bad = { 0, 1000000000L };
	errno = 0;
	CHECK(mach_sim_kevent(kq, NULL, 0, out, 4, &bad) == -1 && errno == EINVAL,
	      "bad timeout: errno %d", errno);
	errno = 0;
	CHECK(mach_sim_kevent(STDOUT_FILENO, NULL, 0, out, 4, &zero) == -1 && errno == EBADF,
	      "not a kqueue: errno %d", errno);

	/* A kqueue released with plain close() is stale: EBADF, and its kqueue is freed. */
	int kq2 = mach_sim_kqueue();
	CHECK(kq2 >= 0 && mach_sim_live_kqueues() == kqueues_before + 2, "second kqueue");
	close(kq2);
	errno = 0;
	CHECK(mach_sim_kevent(kq2, NULL, 0, out, 4, &zero) == -1 && errno == EBADF,
	      "stale kqueue: errno %d", errno);
	CHECK(mach_sim_live_kqueues() == kqueues_before + 1, "stale kqueue freed");
	errno = 0;
	CHECK(mach_sim_kqueue_close(kq2) == -1 && errno == EBADF, "close stale: errno %d", errno);

	/* insert_member / extract_member on a second port. */
	mach_port_t port2 = MACH_PORT_NULL;
	CHECK(mach_port_allocate(self, MACH_PORT_RIGHT_RECEIVE, &port2) == KERN_SUCCESS, "port2");
	CHECK(mach_port_insert_member(self, port2, set) == KERN_SUCCESS, "insert_member");
	CHECK(mach_port_extract_member(self, port2, set) == KERN_SUCCESS, "extract_member");
	CHECK(mach_port_extract_member(self, port2, set) == KERN_NOT_IN_SET, "extract twice");
	CHECK(mach_port_move_member(self, port2, MACH_PORT_NULL) == KERN_NOT_IN_SET,
	      "move out of no set");
	CHECK(mach_sim_port_close(port2) == KERN_SUCCESS, "close(port2) destroys it");

	/* Teardown in the kernel's order: knote, kqueue, set, port. */
	EV_SET(&kev, set, EVFILT_MACHPORT, EV_DELETE, 0, 0, NULL);
	CHECK(mach_sim_kevent(kq, &kev, 1, NULL, 0, NULL) == 0, "EV_DELETE: errno %d", errno);
	CHECK(mach_sim_live_knotes() == 0, "knote gone");
	CHECK(mach_sim_kqueue_close(kq) == 0, "mach_sim_kqueue_close");
	CHECK(mach_sim_live_kqueues() == kqueues_before, "kqueue gone");
	CHECK(mach_port_destroy(self, set) == KERN_SUCCESS, "destroy set");
	CHECK(mach_port_destroy(self, port) == KERN_SUCCESS, "destroy port");
}

static void test_bad_arguments(void)
{
	mach_port_t self = mach_task_self();
	mach_port_t p = MACH_PORT_NULL;

	CHECK(mach_port_allocate(self, MACH_PORT_RIGHT_RECEIVE, NULL) == KERN_INVALID_ARGUMENT,
	      "allocate with NULL name");
	CHECK(mach_msg(NULL, MACH_SEND_MSG, 24, 0, 0, 0, 0) == MACH_SEND_INVALID_DATA,
	      "send NULL");
	CHECK(mach_msg(NULL, MACH_RCV_MSG, 0, 64, 0, 0, 0) == MACH_RCV_INVALID_DATA, "receive NULL");
	mach_msg_destroy(NULL);
	CHECK(bootstrap_look_up(bootstrap_port, NULL, &p) == KERN_INVALID_ARGUMENT, "NULL name");
	CHECK(bootstrap_look_up(bootstrap_port, SERVICE, NULL) == KERN_INVALID_ARGUMENT, "NULL sp");
	char long_name[200];
	memset(long_name, 'x', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = 0;
	CHECK(bootstrap_look_up(bootstrap_port, long_name, &p) == BOOTSTRAP_BAD_COUNT,
	      "name of 199 bytes");
	CHECK(bootstrap_look_up(bootstrap_port, "org.nextbsd.nobody", &p) ==
	          BOOTSTRAP_UNKNOWN_SERVICE,
	      "unknown service");
	CHECK(bootstrap_register(bootstrap_port, NULL, MACH_PORT_NULL) == KERN_INVALID_ARGUMENT,
	      "register NULL");
	CHECK(mach_port_request_notification(self, 0x7777, MACH_NOTIFY_DEAD_NAME, 0, 0,
	                                     MACH_MSG_TYPE_MAKE_SEND_ONCE,
	                                     NULL) == KERN_INVALID_ARGUMENT,
	      "request_notification with NULL previous");
	CHECK(mach_port_type(self, 0x7777, NULL) == KERN_INVALID_ARGUMENT, "type with NULL");
	CHECK(mach_port_deallocate(self, 0x7777) == KERN_INVALID_NAME, "deallocate unknown name");
	CHECK(mach_sim_task_enter(0xdeadbeef) == 0, "enter an unknown task");
	CHECK(mach_sim_task_current() == client_task, "current task unchanged");
	CHECK(mach_sim_task_terminate(0xdeadbeef) == KERN_INVALID_TASK, "terminate unknown task");
	CHECK(mach_sim_kqueue_close(-1) == -1 && errno == EBADF, "close a bad kqueue");

	mach_msg_header_t h;
	memset(&h, 0, sizeof h);
	h.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
	h.msgh_size = sizeof h;
	h.msgh_remote_port = MACH_PORT_NULL;
	CHECK(mach_msg(&h, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof h, 0, 0, 0, 0) ==
	          MACH_SEND_INVALID_DEST,
	      "send to MACH_PORT_NULL");

	/* A message buffer that is not 4-byte aligned still works. */
	mach_port_t port = MACH_PORT_NULL;
	CHECK(mach_port_allocate(self, MACH_PORT_RIGHT_RECEIVE, &port) == KERN_SUCCESS, "port");
	CHECK(mach_port_insert_right(self, port, port, MACH_MSG_TYPE_MAKE_SEND) == KERN_SUCCESS,
	      "make send");
	_Alignas(8) unsigned char raw[1 + sizeof(echo_request_t) + MAX_TRAILER_SIZE];
	memset(raw, 0, sizeof raw);
	echo_request_t req;
	init_request(&req, port, MACH_PORT_NULL, 6000, 99);
	memcpy(raw + 1, &req, sizeof req);
	mach_msg_header_t *odd = (mach_msg_header_t *)(void *)(raw + 1);
	mach_msg_return_t mr = mach_msg(odd, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof req, 0, 0, 0, 0);
	CHECK(mr == MACH_MSG_SUCCESS, "misaligned send: %#x", mr);
	memset(raw, 0, sizeof raw);
	mr = mach_msg(odd, MACH_RCV_MSG | MACH_RCV_LARGE | MACH_RCV_TIMEOUT, 0, sizeof raw - 1, port,
	              0, 0);
	CHECK(mr == MACH_MSG_SUCCESS, "misaligned receive: %#x", mr);
	memcpy(&req, raw + 1, sizeof req);
	CHECK(req.head.msgh_id == 6000 && req.value == 99 && req.head.msgh_local_port == port,
	      "misaligned round trip: id %d value %d", req.head.msgh_id, req.value);
	CHECK(mach_port_destroy(self, port) == KERN_SUCCESS, "destroy port");
}

static void test_accounting(void)
{
	/* Everything the tests made was released above; the server task died. The pseudo names
	 * (mach_task_self(), bootstrap_port) are not rights and are not counted. */
	CHECK(mach_sim_live_ports() == 0, "live ports %llu",
	      (unsigned long long)mach_sim_live_ports());
	CHECK(mach_sim_live_rights() == 0, "live rights %llu",
	      (unsigned long long)mach_sim_live_rights());
	CHECK(mach_sim_queued_messages() == 0, "queued messages %llu",
	      (unsigned long long)mach_sim_queued_messages());
	CHECK(mach_sim_live_kqueues() == 0 && mach_sim_live_knotes() == 0, "kqueues/knotes");
	CHECK(mach_sim_check_leaks() == 0, "mach_sim_check_leaks");
	CHECK(mach_sim_task_terminate(client_task) == KERN_SUCCESS, "terminate the client task");
	CHECK(mach_sim_check_leaks() == 0, "mach_sim_check_leaks after the client exited");
}

/* ---- main --------------------------------------------------------------------------------- */

struct test {
	const char *name;
	void (*fn)(void);
};

int main(void)
{
	alarm(120); /* a hang kills the program */
	setvbuf(stdout, NULL, _IOLBF, 0);

	server_task = mach_sim_task_create("server", SERVER_PID, 0, 0);
	client_task = mach_sim_task_create("client", CLIENT_PID, CLIENT_EUID, CLIENT_EGID);
	if (server_task == 0 || client_task == 0 || server_task == client_task) {
		printf("mach_sim_task_create failed\nmach-sim C ABI: 0 passed, 1 failed\n");
		return 1;
	}
	uint32_t previous = mach_sim_task_enter(client_task);
	if (previous == 0 || mach_sim_task_current() != client_task) {
		printf("mach_sim_task_enter failed\nmach-sim C ABI: 0 passed, 1 failed\n");
		return 1;
	}

	static const struct test tests[] = {
		{ "request/reply with a send-once reply port and an audit trailer", test_request_reply },
		{ "queue limit 5 and MACH_SEND_TIMED_OUT", test_queue_limit },
		{ "server killed before replying: MACH_NOTIFY_SEND_ONCE", test_server_death },
		{ "kqueue with EVFILT_MACHPORT", test_kqueue },
		{ "bad arguments get kernel error codes", test_bad_arguments },
		{ "nothing left behind", test_accounting },
	};
	int passed = 0, failed = 0;
	for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
		atomic_store(&test_failures, 0);
		tests[i].fn();
		int bad = atomic_load(&test_failures);
		printf("%s: %s\n", bad ? "FAILED" : "ok", tests[i].name);
		if (bad)
			failed++;
		else
			passed++;
	}
	mach_sim_task_enter(previous);
	printf("mach-sim C ABI: %d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
