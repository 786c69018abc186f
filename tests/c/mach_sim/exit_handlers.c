/*
 * Calls into the simulated kernel from an atexit handler and from an ELF destructor, after the
 * main thread's thread-local storage was destroyed by exit(): every call returns its documented
 * error code (crates/mach-sim/src/ffi.rs, "At thread and process exit") or keeps working (the
 * calls about the kernel as a whole); nothing panics and nothing aborts.
 *
 * main enters a task of its own, allocates a receive right in it and takes the thread's MIG reply
 * port (so both the current-task and the reply-port thread-locals exist and are destroyed at
 * exit), registers the atexit handler and returns. The handler checks the failures, terminates
 * the task through the global kernel (which frees the right) and leaves the leak check and the
 * summary to the destructor, which runs last. The summary line is
 * "mach-sim exit handlers: N passed, M failed"; the exit status is 1 on any failure. The Rust
 * side (c-abi-tests/tests/mach_sim.rs) also asserts that stderr has no panic message.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mach/mach.h>
#include <servers/bootstrap.h>
#include <mach_sim.h>

static int passed, failed;
static uint32_t task;
static int handler_ran;

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

/* The calls that act in the current task: each must fail with its documented code. */
static void task_calls_fail(const char *where) {
	mach_port_name_t name = 12345;
	kern_return_t kr = mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &name);
	CHECK(kr == KERN_INVALID_TASK, "%s: mach_port_allocate = %d", where, kr);
	CHECK(name == 12345, "%s: name written on failure: %u", where, name);
	kr = mach_port_deallocate(mach_task_self(), 16);
	CHECK(kr == KERN_INVALID_TASK, "%s: mach_port_deallocate = %d", where, kr);
	CHECK(mach_task_self() == MACH_PORT_NULL, "%s: mach_task_self", where);
	CHECK(mach_reply_port() == MACH_PORT_NULL, "%s: mach_reply_port", where);
	CHECK(mig_get_reply_port() == MACH_PORT_NULL, "%s: mig_get_reply_port", where);
	mig_dealloc_reply_port(MACH_PORT_NULL);
	CHECK(mach_sim_task_current() == 0, "%s: mach_sim_task_current", where);
	CHECK(mach_sim_task_enter(task) == 0, "%s: mach_sim_task_enter", where);

	mach_msg_header_t msg;
	memset(&msg, 0, sizeof msg);
	msg.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
	msg.msgh_size = sizeof msg;
	msg.msgh_remote_port = 16;
	mach_msg_return_t mr = mach_msg(&msg, MACH_SEND_MSG, sizeof msg, 0, MACH_PORT_NULL,
	                                MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
	CHECK(mr == MACH_SEND_INVALID_DEST, "%s: mach_msg send = %#x", where, mr);
	mr = mach_msg(&msg, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof msg, 16, 0, MACH_PORT_NULL);
	CHECK(mr == MACH_RCV_INVALID_NAME, "%s: mach_msg receive = %#x", where, mr);
	mach_msg_destroy(&msg);

	mach_port_t sp = 99;
	kr = bootstrap_look_up(bootstrap_port, "org.nextbsd.mach-sim.test.exit", &sp);
	CHECK(kr == KERN_INVALID_TASK, "%s: bootstrap_look_up = %d", where, kr);

	errno = 0;
	int kq = mach_sim_kqueue();
	CHECK(kq == -1 && errno == ESRCH, "%s: mach_sim_kqueue = %d, errno %d", where, kq, errno);
	CHECK(mach_sim_port_close(16) == KERN_INVALID_TASK, "%s: mach_sim_port_close", where);
}

static void at_exit(void) {
	handler_ran = 1;
	task_calls_fail("atexit");
	/* Calls about the kernel as a whole use the global kernel and still work. */
	CHECK(mach_sim_live_ports() >= 1, "atexit: the receive right main made is live");
	kern_return_t kr = mach_sim_task_terminate(task);
	CHECK(kr == KERN_SUCCESS, "atexit: mach_sim_task_terminate = %d", kr);
	uint32_t other = mach_sim_task_create("made-at-exit", 1, 0, 0);
	CHECK(other != 0, "atexit: mach_sim_task_create");
	CHECK(mach_sim_task_terminate(other) == KERN_SUCCESS, "atexit: terminate the new task");
}

__attribute__((destructor)) static void in_destructor(void) {
	if (!handler_ran)
		return; /* main did not get as far as registering the handler */
	task_calls_fail("destructor");
	CHECK(mach_sim_live_ports() == 0, "destructor: %llu ports left",
	      (unsigned long long)mach_sim_live_ports());
	CHECK(mach_sim_check_leaks() == 0, "destructor: leaks");
	printf("mach-sim exit handlers: %d passed, %d failed\n", passed, failed);
	fflush(stdout);
	if (failed)
		_exit(1);
}

int main(void) {
	task = mach_sim_task_create("exit-test", 4242, 501, 20);
	CHECK(task != 0, "mach_sim_task_create");
	CHECK(mach_sim_task_enter(task) != 0, "mach_sim_task_enter");
	CHECK(mach_sim_task_current() == task, "entered");
	mach_port_name_t port = MACH_PORT_NULL;
	CHECK(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &port) == KERN_SUCCESS,
	      "mach_port_allocate in main");
	CHECK(mig_get_reply_port() != MACH_PORT_NULL, "mig_get_reply_port in main");
	CHECK(atexit(at_exit) == 0, "atexit");
	if (failed) {
		printf("mach-sim exit handlers: %d passed, %d failed\n", passed, failed);
		return 1;
	}
	return 0; /* exit() destroys the thread-locals, then runs at_exit, then in_destructor */
}
