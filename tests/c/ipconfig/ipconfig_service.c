/*
 * ipconfigd's host side against the ipconfig-rpc static library (which replaces
 * mach_service.c and also exports the simulated kernel's libmach C ABI).
 *
 * This program plays ipconfigd: it defines got_term, the SIGTERM handler and the two MIG
 * handlers `_ipconfig_if_count` / `_ipconfig_if_addr` with their exact prototypes, starts the
 * service with mach_service_start(), and talks to it as NextBSD's clients do: bootstrap_look_up
 * of com.apple.IPConfiguration, then raw mach_msg with the NextBSD ipconfig.defs wire layout.
 *
 * usage: ipconfig_service stop      stop with mach_service_stop(), join, start again, stop
 *        ipconfig_service sigterm   raise SIGTERM (host handler sets got_term), then join
 *        ipconfig_service soak ROUNDS SEED
 *                                   ROUNDS rounds of ipconfigd's life under a seeded fault
 *                                   (see soak() below); a failure names the seed and round
 *
 * The service runs in its own simulated task ("ipconfigd"), the client in another; at the end
 * the service task is terminated (what process exit does: launchd gets the receive right back)
 * and the kernel must hold nothing.
 *
 * Prints "ipconfig-<mode>: N passed, 0 failed" and exits 0 on success; the first failed check
 * prints "IPCONFIG-C-FAIL: ..." and exits 1.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mach/mach.h>
#include <servers/bootstrap.h>
#include <mach_sim.h>

#include "ipconfig_rpc.h"

/* --- what ipconfigd defines (ipconfigd.c, ipconfig_mig_types.h, ipconfigd_mig.c) ---------- */

typedef char InterfaceName[16];
typedef uint32_t ip_address_t;
typedef int ipconfig_status_t;
#define ipconfig_status_success_e 0
#define ipconfig_status_no_server_e 9

/* FreeBSD amd64: sig_atomic_t is long; the handler stores the signal number. */
volatile sig_atomic_t got_term = 0;

static void on_term(int sig) { got_term = sig; }

static volatile int if_count_calls = 0;
static volatile int if_addr_calls = 0;

/* The bound state of this test: em0 = 10.0.2.15 and a 15-character interface. */
static const char *const BOUND_15 = "0123456789abcde";

kern_return_t _ipconfig_if_count(mach_port_t server, int *count)
{
    (void)server;
    __atomic_add_fetch(&if_count_calls, 1, __ATOMIC_SEQ_CST);
    *count = 2;
    return KERN_SUCCESS;
}

kern_return_t _ipconfig_if_addr(mach_port_t server, InterfaceName name, ip_address_t *addr,
                                ipconfig_status_t *status)
{
    char buf[16];
    (void)server;
    __atomic_add_fetch(&if_addr_calls, 1, __ATOMIC_SEQ_CST);
    /* as ipconfigd_mig.c: copy 15 bytes into a zeroed buffer, then strcmp */
    memset(buf, 0, sizeof(buf));
    memcpy(buf, name, sizeof(buf) - 1);
    if (strcmp(buf, "em0") == 0) {
        const unsigned char a[4] = {10, 0, 2, 15};
        memcpy(addr, a, 4);
        *status = ipconfig_status_success_e;
    } else if (strcmp(buf, BOUND_15) == 0) {
        const unsigned char a[4] = {192, 168, 1, 7};
        memcpy(addr, a, 4);
        *status = ipconfig_status_success_e;
    } else {
        *addr = 0;
        *status = ipconfig_status_no_server_e;
    }
    return KERN_SUCCESS;
}

/* --- checks ------------------------------------------------------------------------------ */

#define FAIL(...)                                                                          \
    do {                                                                                   \
        printf("IPCONFIG-C-FAIL: " __VA_ARGS__);                                           \
        printf("\n");                                                                      \
        fflush(stdout);                                                                    \
        exit(1);                                                                           \
    } while (0)

static int passed = 0;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond))                                                                       \
            FAIL(__VA_ARGS__);                                                             \
        passed++;                                                                          \
    } while (0)

/* --- the NextBSD wire layout (mig.md §13, ipconfig-rpc.md §3) ----------------------------- */

#pragma pack(push, 4)
typedef struct {
    mach_msg_header_t Head;
} if_count_request_t; /* 24 */

typedef struct {
    mach_msg_header_t Head;
    NDR_record_t NDR;
    kern_return_t RetCode;
    int count;
} if_count_reply_t; /* 40 */

typedef struct {
    mach_msg_header_t Head;
    NDR_record_t NDR;
    InterfaceName name;
} if_addr_request_t; /* 48 */

typedef struct {
    mach_msg_header_t Head;
    NDR_record_t NDR;
    kern_return_t RetCode;
    ip_address_t addr;
    ipconfig_status_t status;
} if_addr_reply_t; /* 44 */

typedef struct {
    mach_msg_header_t Head;
    NDR_record_t NDR;
    kern_return_t RetCode;
} error_reply_t; /* 36 = mig_reply_error_t */
#pragma pack(pop)

_Static_assert(sizeof(if_count_request_t) == 24, "if_count request");
_Static_assert(sizeof(if_count_reply_t) == 40, "if_count reply");
_Static_assert(sizeof(if_addr_request_t) == 48, "if_addr request");
_Static_assert(sizeof(if_addr_reply_t) == 44, "if_addr reply");
_Static_assert(sizeof(error_reply_t) == 36, "error reply");

/* Room for the largest reply plus the largest trailer. */
typedef union {
    mach_msg_header_t Head;
    if_count_reply_t count;
    if_addr_reply_t addr;
    error_reply_t error;
    uint8_t bytes[44 + 68];
} reply_buffer_t;

static const unsigned char NDR_LE[8] = {0, 0, 0, 0, 1, 0, 0, 0};

/* One MIG-style call: send `size` bytes of `req` with a send-once reply right made from the
 * thread's MIG reply port, receive the reply on that port. */
static mach_msg_return_t call(mach_port_t server, void *req, mach_msg_size_t size,
                              mach_msg_id_t id, reply_buffer_t *reply)
{
    mach_msg_header_t *h = (mach_msg_header_t *)req;
    mach_port_t reply_port = mig_get_reply_port();
    mach_msg_return_t mr;

    h->msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    h->msgh_size = size;
    h->msgh_remote_port = server;
    h->msgh_local_port = reply_port;
    h->msgh_voucher_port = MACH_PORT_NULL;
    h->msgh_id = id;

    mr = mach_msg(h, MACH_SEND_MSG, size, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
                  MACH_PORT_NULL);
    if (mr != MACH_MSG_SUCCESS)
        return mr;
    memset(reply, 0, sizeof(*reply));
    return mach_msg(&reply->Head, MACH_RCV_MSG, 0, sizeof(*reply), reply_port,
                    MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
}

static void expect_error_reply(const reply_buffer_t *reply, mach_msg_id_t request_id,
                               kern_return_t code, const char *what)
{
    CHECK(reply->Head.msgh_id == request_id + 100, "%s: reply id %d", what,
          reply->Head.msgh_id);
    CHECK(reply->Head.msgh_size == 36, "%s: reply size %u", what, reply->Head.msgh_size);
    CHECK(!(reply->Head.msgh_bits & MACH_MSGH_BITS_COMPLEX), "%s: complex reply", what);
    CHECK(reply->Head.msgh_remote_port == MACH_PORT_NULL, "%s: reply carries a port", what);
    CHECK(memcmp(&reply->error.NDR, NDR_LE, 8) == 0, "%s: NDR", what);
    CHECK(reply->error.RetCode == code, "%s: RetCode 0x%x, expected 0x%x", what,
          (unsigned)reply->error.RetCode, (unsigned)code);
}

static int if_count(mach_port_t server)
{
    if_count_request_t req;
    reply_buffer_t reply;
    mach_msg_return_t mr;

    memset(&req, 0, sizeof(req));
    mr = call(server, &req, sizeof(req), 20000, &reply);
    CHECK(mr == MACH_MSG_SUCCESS, "if_count: mach_msg 0x%x", (unsigned)mr);
    CHECK(reply.Head.msgh_id == 20100, "if_count: reply id %d", reply.Head.msgh_id);
    CHECK(reply.Head.msgh_size == 40, "if_count: reply size %u", reply.Head.msgh_size);
    CHECK(MACH_MSGH_BITS_LOCAL(reply.Head.msgh_bits) == MACH_MSG_TYPE_PORT_SEND_ONCE,
          "if_count: reply bits 0x%x", reply.Head.msgh_bits);
    CHECK(memcmp(&reply.count.NDR, NDR_LE, 8) == 0, "if_count: NDR");
    CHECK(reply.count.RetCode == KERN_SUCCESS, "if_count: RetCode 0x%x",
          (unsigned)reply.count.RetCode);
    return reply.count.count;
}

static void if_addr_raw(mach_port_t server, const char name[16], mach_msg_id_t id,
                        if_addr_reply_t *out)
{
    if_addr_request_t req;
    reply_buffer_t reply;
    mach_msg_return_t mr;

    memset(&req, 0, sizeof(req));
    memcpy(&req.NDR, NDR_LE, 8);
    memcpy(req.name, name, 16);
    mr = call(server, &req, sizeof(req), id, &reply);
    CHECK(mr == MACH_MSG_SUCCESS, "if_addr: mach_msg 0x%x", (unsigned)mr);
    CHECK(reply.Head.msgh_id == id + 100, "if_addr: reply id %d", reply.Head.msgh_id);
    CHECK(reply.Head.msgh_size == 44, "if_addr: reply size %u", reply.Head.msgh_size);
    CHECK(reply.addr.RetCode == KERN_SUCCESS, "if_addr: RetCode 0x%x",
          (unsigned)reply.addr.RetCode);
    *out = reply.addr;
}

static void if_addr(mach_port_t server, const char *ifname, if_addr_reply_t *out)
{
    char name[16];
    /* as NextBSD's clients: zero-fill, copy at most 15 characters */
    memset(name, 0, sizeof(name));
    strncpy(name, ifname, sizeof(name) - 1);
    if_addr_raw(server, name, 20001, out);
}

static mach_port_t look_up(void)
{
    mach_port_t server = MACH_PORT_NULL;
    kern_return_t kr = bootstrap_look_up(bootstrap_port, "com.apple.IPConfiguration", &server);
    CHECK(kr == KERN_SUCCESS, "bootstrap_look_up: 0x%x", (unsigned)kr);
    CHECK(MACH_PORT_VALID(server), "bootstrap_look_up gave no port");
    return server;
}

/* Every request shape of the test plan, against a running service. */
static void exercise(mach_port_t server)
{
    if_addr_reply_t a;
    reply_buffer_t reply;
    mach_msg_return_t mr;
    const unsigned char em0[4] = {10, 0, 2, 15};
    const unsigned char full[4] = {192, 168, 1, 7};

    CHECK(if_count(server) == 2, "if_count value");

    if_addr(server, "em0", &a);
    CHECK(a.status == ipconfig_status_success_e, "if_addr(em0) status %d", a.status);
    CHECK(memcmp(&a.addr, em0, 4) == 0, "if_addr(em0) address bytes");

    if_addr(server, "em1", &a);
    CHECK(a.status == ipconfig_status_no_server_e, "if_addr(em1) status %d", a.status);
    CHECK(a.addr == 0, "if_addr(em1) address");

    /* 16 bytes, no NUL: only the first 15 count */
    {
        char name[16];
        memcpy(name, BOUND_15, 15);
        name[15] = 'X';
        if_addr_raw(server, name, 20001, &a);
        CHECK(a.status == ipconfig_status_success_e, "16-byte name status %d", a.status);
        CHECK(memcmp(&a.addr, full, 4) == 0, "16-byte name address bytes");
    }

    /* Apple's if_addr id is unknown to the NextBSD table: MIG_BAD_ID, answered at once */
    {
        if_addr_request_t req;
        memset(&req, 0, sizeof(req));
        memcpy(req.name, "em0", 3);
        mr = call(server, &req, sizeof(req), 20002, &reply);
        CHECK(mr == MACH_MSG_SUCCESS, "20002: mach_msg 0x%x", (unsigned)mr);
        expect_error_reply(&reply, 20002, MIG_BAD_ID, "20002");
    }
    {
        if_count_request_t req;
        memset(&req, 0, sizeof(req));
        mr = call(server, &req, sizeof(req), 20050, &reply);
        CHECK(mr == MACH_MSG_SUCCESS, "20050: mach_msg 0x%x", (unsigned)mr);
        expect_error_reply(&reply, 20050, MIG_BAD_ID, "20050");
    }
    /* wrong sizes: MIG_BAD_ARGUMENTS */
    {
        struct {
            mach_msg_header_t Head;
            uint32_t extra;
        } req;
        memset(&req, 0, sizeof(req));
        mr = call(server, &req, sizeof(req), 20000, &reply);
        CHECK(mr == MACH_MSG_SUCCESS, "28-byte if_count: mach_msg 0x%x", (unsigned)mr);
        expect_error_reply(&reply, 20000, MIG_BAD_ARGUMENTS, "28-byte if_count");
    }
    {
        if_addr_request_t req;
        memset(&req, 0, sizeof(req));
        mr = call(server, &req, 44, 20001, &reply);
        CHECK(mr == MACH_MSG_SUCCESS, "44-byte if_addr: mach_msg 0x%x", (unsigned)mr);
        expect_error_reply(&reply, 20001, MIG_BAD_ARGUMENTS, "44-byte if_addr");
    }
    /* a message without a reply port is dropped and the service keeps serving */
    {
        if_count_request_t req;
        memset(&req, 0, sizeof(req));
        req.Head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
        req.Head.msgh_size = sizeof(req);
        req.Head.msgh_remote_port = server;
        req.Head.msgh_id = 4242;
        mr = mach_msg(&req.Head, MACH_SEND_MSG, sizeof(req), 0, MACH_PORT_NULL,
                      MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
        CHECK(mr == MACH_MSG_SUCCESS, "one-way send 0x%x", (unsigned)mr);
    }
    CHECK(if_count(server) == 2, "if_count after bad requests");
}

/* After the service stopped, a request stays queued on the retained service port; when the
 * service task goes away (process exit) the client's send-once right fires: MIG_SERVER_DIED. */
static void expect_unserved_then_dead(mach_port_t server, uint32_t server_task)
{
    if_count_request_t req;
    reply_buffer_t reply;
    mach_port_t reply_port = mig_get_reply_port();
    mach_msg_return_t mr;
    kern_return_t kr;

    memset(&req, 0, sizeof(req));
    req.Head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    req.Head.msgh_size = sizeof(req);
    req.Head.msgh_remote_port = server;
    req.Head.msgh_local_port = reply_port;
    req.Head.msgh_id = 20000;
    mr = mach_msg(&req.Head, MACH_SEND_MSG, sizeof(req), 0, MACH_PORT_NULL,
                  MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    CHECK(mr == MACH_MSG_SUCCESS, "send after stop: 0x%x", (unsigned)mr);
    /* nobody serves: a zero-timeout receive finds nothing */
    mr = mach_msg(&reply.Head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof(reply), reply_port, 0,
                  MACH_PORT_NULL);
    CHECK(mr == MACH_RCV_TIMED_OUT, "stopped service answered: 0x%x", (unsigned)mr);

    kr = mach_sim_task_terminate(server_task);
    CHECK(kr == KERN_SUCCESS, "terminate service task: 0x%x", (unsigned)kr);
    mr = mach_msg(&reply.Head, MACH_RCV_MSG, 0, sizeof(reply), reply_port,
                  MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
    CHECK(mr == MACH_MSG_SUCCESS, "receive after service exit: 0x%x", (unsigned)mr);
    CHECK(reply.Head.msgh_id == MACH_NOTIFY_SEND_ONCE, "expected send-once notification, id %d",
          reply.Head.msgh_id);
    mig_dealloc_reply_port(reply_port);
}

/* --- soak: the C entry points round after round under seeded faults --------------------- */

static uint64_t soak_rng;
static unsigned long soak_seed, soak_round;

/* xorshift64*, as crates/soak's Rng */
static uint32_t soak_below(uint32_t n)
{
    uint64_t x = soak_rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    soak_rng = x;
    return (uint32_t)((x * 0x2545f4914f6cdd1dULL) % n);
}

#define SOAK_CHECK(cond, ...)                                                              \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            printf("ipconfig-soak: FAILED at seed %lu, round %lu\n", soak_seed, soak_round); \
            FAIL(__VA_ARGS__);                                                             \
        }                                                                                  \
        passed++;                                                                          \
    } while (0)

/* One if_count call to a service that is gone: the send fails (dead name), or, when the
 * request was queued before the port died, the reply is the send-once notification. */
static void expect_gone(mach_port_t server)
{
    if_count_request_t req;
    reply_buffer_t reply;
    mach_msg_return_t mr;

    memset(&req, 0, sizeof(req));
    mr = call(server, &req, sizeof(req), 20000, &reply);
    SOAK_CHECK(mr == MACH_SEND_INVALID_DEST ||
                   (mr == MACH_MSG_SUCCESS && reply.Head.msgh_id == MACH_NOTIFY_SEND_ONCE),
               "call to a dead service: mach_msg 0x%x, id %d", (unsigned)mr,
               reply.Head.msgh_id);
}

/* The client (this process's client task) lives through every round; ipconfigd is a new task
 * each round, started with mach_service_start(). Each round makes 5 calls and draws a fault:
 *   0  none;
 *   1  after call k: mach_service_stop() + mach_service_join(), then ipconfigd exits (the
 *      later calls find the service gone);
 *   2  after call k: ipconfigd exits while the service runs (the later calls find it gone),
 *      then mach_service_join() must return (the service ended by itself);
 *   3  after call k: stop, join and start again in the same task (the kept port), the later
 *      calls are answered.
 * The round ends with stop + join and ipconfigd's exit; the kernel's counts of ports, rights
 * and queued messages must then be back where they were after the first round. */
static void soak(unsigned long rounds, unsigned long seed, uint32_t client_task)
{
    uint64_t ports0 = 0, rights0 = 0;
    const unsigned char em0[4] = {10, 0, 2, 15};
    unsigned long faults[4] = {0, 0, 0, 0};

    soak_seed = seed;
    soak_rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
    for (soak_round = 0; soak_round < rounds; soak_round++) {
        uint32_t fault = soak_below(4), k = 1 + soak_below(5), call_no;
        uint32_t server_task = mach_sim_task_create("ipconfigd", 1000 + (uint32_t)soak_round, 0, 0);
        int gone = 0;
        mach_port_t server;
        kern_return_t kr;

        faults[fault]++;
        SOAK_CHECK(server_task != 0, "mach_sim_task_create");
        mach_sim_task_enter(server_task);
        SOAK_CHECK(mach_service_start() == 0, "mach_service_start");
        mach_sim_task_enter(client_task);
        server = look_up();
        for (call_no = 1; call_no <= 5; call_no++) {
            if (gone) {
                expect_gone(server);
            } else if (call_no % 2) {
                SOAK_CHECK(if_count(server) == 2, "if_count value");
            } else {
                if_addr_reply_t a;
                if_addr(server, "em0", &a);
                SOAK_CHECK(a.status == ipconfig_status_success_e && memcmp(&a.addr, em0, 4) == 0,
                           "if_addr(em0)");
            }
            if (call_no != k || fault == 0)
                continue;
            if (fault == 1) {
                mach_service_stop();
                mach_service_join();
                SOAK_CHECK(mach_sim_task_terminate(server_task) == KERN_SUCCESS, "exit");
                gone = 1;
            } else if (fault == 2) {
                SOAK_CHECK(mach_sim_task_terminate(server_task) == KERN_SUCCESS, "exit");
                gone = 1;
                mach_service_join();
            } else {
                mach_service_stop();
                mach_service_join();
                mach_sim_task_enter(server_task);
                SOAK_CHECK(mach_service_start() == 0, "mach_service_start again");
                mach_sim_task_enter(client_task);
            }
        }
        mach_service_stop();
        mach_service_join();
        kr = mach_sim_task_terminate(server_task);
        SOAK_CHECK(kr == KERN_SUCCESS || (gone && kr == KERN_INVALID_TASK),
                   "ipconfigd exit: 0x%x", (unsigned)kr);
        kr = mach_port_deallocate(mach_task_self(), server);
        SOAK_CHECK(kr == KERN_SUCCESS, "deallocate the dead service name: 0x%x", (unsigned)kr);
        SOAK_CHECK(mach_sim_queued_messages() == 0, "%llu messages queued after the round",
                   (unsigned long long)mach_sim_queued_messages());
        if (soak_round == 0) {
            ports0 = mach_sim_live_ports();
            rights0 = mach_sim_live_rights();
        }
        SOAK_CHECK(mach_sim_live_ports() == ports0 && mach_sim_live_rights() == rights0,
                   "ports %llu (first round %llu), rights %llu (first round %llu)",
                   (unsigned long long)mach_sim_live_ports(), (unsigned long long)ports0,
                   (unsigned long long)mach_sim_live_rights(), (unsigned long long)rights0);
    }
    SOAK_CHECK(rounds < 40 || (faults[0] && faults[1] && faults[2] && faults[3]),
               "every fault drawn");
    printf("ipconfig-soak: seed %lu, %lu rounds, faults %lu/%lu/%lu/%lu\n", seed, rounds,
           faults[0], faults[1], faults[2], faults[3]);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "stop";
    uint32_t server_task, client_task;
    mach_port_t server;
    kern_return_t kr;

    if (strcmp(mode, "soak") == 0) {
        unsigned long rounds = argc > 2 ? strtoul(argv[2], NULL, 10) : 100;
        unsigned long seed = argc > 3 ? strtoul(argv[3], NULL, 10) : 1;
        client_task = mach_sim_task_create("ipconfig", 200, 501, 20);
        CHECK(client_task != 0, "mach_sim_task_create");
        mach_sim_task_enter(client_task);
        soak(rounds, seed, client_task);
        CHECK(mach_sim_task_terminate(client_task) == KERN_SUCCESS, "terminate client task");
        CHECK(mach_sim_check_leaks() == 0, "leaks");
        printf("ipconfig-%s: %d passed, 0 failed\n", mode, passed);
        return 0;
    }
    if (strcmp(mode, "stop") != 0 && strcmp(mode, "sigterm") != 0)
        FAIL("unknown mode %s", mode);

    /* ipconfigd installs its handlers before mach_service_start (sa_flags = 0) */
    {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_term;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;
        CHECK(sigaction(SIGTERM, &sa, NULL) == 0, "sigaction");
        CHECK(sigaction(SIGINT, &sa, NULL) == 0, "sigaction");
        CHECK(sigaction(SIGHUP, &sa, NULL) == 0, "sigaction");
    }

    server_task = mach_sim_task_create("ipconfigd", 100, 0, 0);
    client_task = mach_sim_task_create("ipconfig", 200, 501, 20);
    CHECK(server_task != 0 && client_task != 0, "mach_sim_task_create");

    /* the service runs in the task that starts it */
    mach_sim_task_enter(server_task);
    CHECK(mach_service_start() == 0, "mach_service_start");
    CHECK(mach_service_start() == 0, "mach_service_start is idempotent");

    mach_sim_task_enter(client_task);
    server = look_up();
    exercise(server);
    CHECK(if_count_calls >= 2 && if_addr_calls >= 3, "handlers called (%d, %d)", if_count_calls,
          if_addr_calls);

    if (strcmp(mode, "stop") == 0) {
        mach_service_stop();
        mach_service_join();
        mach_service_join(); /* a second join returns at once */
        CHECK(got_term == 0, "got_term written by the library");

        /* start after join works again, on the retained service port */
        mach_sim_task_enter(server_task);
        CHECK(mach_service_start() == 0, "mach_service_start after join");
        mach_sim_task_enter(client_task);
        CHECK(if_count(server) == 2, "if_count after restart");
        mach_service_stop();
        mach_service_join();
    } else {
        CHECK(raise(SIGTERM) == 0, "raise");
        CHECK(got_term == SIGTERM, "host SIGTERM handler did not run (got_term %ld)",
              (long)got_term);
        mach_service_join();
    }

    expect_unserved_then_dead(server, server_task);
    kr = mach_port_deallocate(mach_task_self(), server);
    CHECK(kr == KERN_SUCCESS || kr == KERN_INVALID_NAME || kr == KERN_INVALID_RIGHT,
          "deallocate server name: 0x%x", (unsigned)kr);
    CHECK(mach_sim_task_terminate(client_task) == KERN_SUCCESS, "terminate client task");
    CHECK(mach_sim_check_leaks() == 0, "leaks");

    printf("ipconfig-%s: %d passed, 0 failed\n", mode, passed);
    return 0;
}
