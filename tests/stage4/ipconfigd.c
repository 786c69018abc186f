/*
 * STAGE 4 DEMO ONLY: an ipconfigd-shaped executable (scripts/stage4-demo,
 * docs/stage4-linking.md). Like NextBSD's ipconfigd it links the switched mach_service
 * (libipconfig_rpc.a, statically) and libSystemConfiguration (shared), whose SCNotify part is
 * switched too; like a network daemon it also loads libIOKit (shared) and watches devices. Every
 * library reaches the one simulated kernel of the process, libmach_sim.so.
 *
 * It exercises the three consumers at once and prints one line per observation:
 *   1. a configd key change, delivered by libSystemConfiguration's switched SCNotify on a
 *      dispatch queue (configd itself runs on that library's event thread);
 *   2. a device arrival, delivered by libIOKit's switched IOKitNotify;
 *   3. an ipconfig RPC (if_count, if_addr) answered by the switched mach_service in this
 *      executable, through bootstrap_look_up and mach_msg of libmach_sim.so;
 *   4. one kernel: a port made inside libSystemConfiguration's Rust code is a receive right in
 *      this process's name space as libmach_sim.so sees it, and a configd notification queued on
 *      it is received here with plain mach_msg;
 *   5. the event threads the libraries started, by name, against the documented design (one
 *      per switched library);
 * then tears everything down and checks that the kernel holds nothing. Prints STAGE4-OK and
 * exits 0; the first failed check prints "STAGE4-FAIL: ..." and exits 1. Every wait is bounded.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CoreFoundation/CoreFoundation.h>
#include <SystemConfiguration/SCDynamicStore.h>
#include <dispatch/dispatch.h>
#include <mach/mach.h>
#include <servers/bootstrap.h>
#include <mach_sim_so.h>

#include <scnotify.h>
#include <scnotify_sim.h>
#include <ipconfig_rpc.h>
#include "IOKitLib.h"

#define WAIT_MS 10000

#define FAIL(...)                                                                          \
    do {                                                                                   \
        printf("STAGE4-FAIL: " __VA_ARGS__);                                               \
        printf("\n");                                                                      \
        fflush(stdout);                                                                    \
        exit(1);                                                                           \
    } while (0)

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond))                                                                       \
            FAIL(__VA_ARGS__);                                                             \
    } while (0)

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* ---- what ipconfigd defines for the switched mach_service (ipconfig-rpc.md §2) ------------ */

typedef char InterfaceName[16];
typedef uint32_t ip_address_t;
typedef int ipconfig_status_t;

volatile sig_atomic_t got_term = 0;

kern_return_t _ipconfig_if_count(mach_port_t server, int *count)
{
    (void)server;
    *count = 1;
    return KERN_SUCCESS;
}

kern_return_t _ipconfig_if_addr(mach_port_t server, InterfaceName name, ip_address_t *addr,
                                ipconfig_status_t *status)
{
    char buf[16];
    (void)server;
    memset(buf, 0, sizeof(buf));
    memcpy(buf, name, sizeof(buf) - 1);
    if (strcmp(buf, "em0") == 0) {
        const unsigned char a[4] = {10, 0, 2, 15};
        memcpy(addr, a, 4);
        *status = 0;
    } else {
        *addr = 0;
        *status = 9; /* ipconfig_status_no_server_e */
    }
    return KERN_SUCCESS;
}

/* ---- 1. SCDynamicStore notifications ------------------------------------------------------- */

static CFStringRef str(const char *s) { return CFStringCreateWithCString(NULL, s, kCFStringEncodingUTF8); }

struct seen {
    dispatch_semaphore_t sem;
    atomic_int calls;
    char key[128];
};

static void sc_callout(SCDynamicStoreRef store, CFArrayRef changed, void *info)
{
    struct seen *s = info;
    (void)store;
    if (CFArrayGetCount(changed) > 0 && s->key[0] == 0)
        CFStringGetCString(CFArrayGetValueAtIndex(changed, 0), s->key, sizeof(s->key),
                           kCFStringEncodingUTF8);
    atomic_fetch_add(&s->calls, 1);
    dispatch_semaphore_signal(s->sem);
}

static int set_value(SCDynamicStoreRef s, const char *key, const char *value)
{
    CFStringRef k = str(key), v = str(value);
    int ok = SCDynamicStoreSetValue(s, k, v);
    CFRelease(k);
    CFRelease(v);
    return ok;
}

static CFArrayRef list1(const char *a)
{
    CFStringRef s = str(a);
    CFArrayRef arr = CFArrayCreate(NULL, (const void **)&s, 1, &kCFTypeArrayCallBacks);
    CFRelease(s);
    return arr;
}

/* ---- 2. device arrival --------------------------------------------------------------------- */

struct arrivals {
    dispatch_semaphore_t sem;
    atomic_int calls;
    char name[128];
};

static void io_callout(void *refcon, io_iterator_t it)
{
    struct arrivals *a = refcon;
    io_object_t e;
    while ((e = IOIteratorNext(it)) != NULL) {
        char name[128];
        if (IORegistryEntryGetName(e, name) == KERN_SUCCESS && a->name[0] == 0)
            memcpy(a->name, name, sizeof(a->name));
        IOObjectRelease(e);
    }
    atomic_fetch_add(&a->calls, 1);
    dispatch_semaphore_signal(a->sem);
}

/* ---- 3. ipconfig RPC (NextBSD ipconfig.defs wire layout, ipconfig-rpc.md §3) --------------- */

#pragma pack(push, 4)
typedef struct {
    mach_msg_header_t Head;
} if_count_request_t;
typedef struct {
    mach_msg_header_t Head;
    NDR_record_t NDR;
    kern_return_t RetCode;
    int count;
} if_count_reply_t;
typedef struct {
    mach_msg_header_t Head;
    NDR_record_t NDR;
    InterfaceName name;
} if_addr_request_t;
typedef struct {
    mach_msg_header_t Head;
    NDR_record_t NDR;
    kern_return_t RetCode;
    ip_address_t addr;
    ipconfig_status_t status;
} if_addr_reply_t;
#pragma pack(pop)

typedef union {
    mach_msg_header_t Head;
    if_count_reply_t count;
    if_addr_reply_t addr;
    uint8_t bytes[44 + 68];
} reply_buffer_t;

/* One MIG-style call with a fresh reply port (released afterwards), bounded both ways. */
static mach_msg_return_t call(mach_port_t server, void *req, mach_msg_size_t size,
                              mach_msg_id_t id, reply_buffer_t *reply)
{
    mach_msg_header_t *h = req;
    mach_port_t reply_port = MACH_PORT_NULL;
    mach_msg_return_t mr = mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &reply_port);
    if (mr != KERN_SUCCESS)
        return mr;
    h->msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    h->msgh_size = size;
    h->msgh_remote_port = server;
    h->msgh_local_port = reply_port;
    h->msgh_voucher_port = MACH_PORT_NULL;
    h->msgh_id = id;
    mr = mach_msg(h, MACH_SEND_MSG | MACH_SEND_TIMEOUT, size, 0, MACH_PORT_NULL, WAIT_MS,
                  MACH_PORT_NULL);
    if (mr == MACH_MSG_SUCCESS) {
        memset(reply, 0, sizeof(*reply));
        mr = mach_msg(&reply->Head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof(*reply),
                      reply_port, WAIT_MS, MACH_PORT_NULL);
    }
    mach_port_mod_refs(mach_task_self(), reply_port, MACH_PORT_RIGHT_RECEIVE, -1);
    return mr;
}

/* ---- 5. event threads ---------------------------------------------------------------------- */

/* Threads of this process whose name starts with `prefix` (Linux truncates names to 15). */
static int threads_named(const char *prefix)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        char path[300], comm[64] = {0};
        FILE *f;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        f = fopen(path, "r");
        if (f == NULL)
            continue;
        if (fgets(comm, sizeof(comm), f) != NULL && strncmp(comm, prefix, strlen(prefix)) == 0)
            n++;
        fclose(f);
    }
    closedir(d);
    return n;
}

int main(void)
{
    kern_return_t kr;

    /* The simulated machine: /dev/ioregistry served by the kernel library. */
    CHECK(mach_sim_boot() == 0, "mach_sim_boot");

    /* configd, on libSystemConfiguration's event thread (its test-support entry point). */
    kr = scnotify_configd_start();
    CHECK(kr == 0, "scnotify_configd_start: 0x%x", (unsigned)kr);

    /* ---- 1. a configd key change --------------------------------------------------------- */
    struct seen seen = {.sem = dispatch_semaphore_create(0)};
    SCDynamicStoreContext ctx = {0, &seen, NULL, NULL, NULL};
    CFStringRef wname = str("ipconfigd-link-watch"), pname = str("ipconfigd-publisher");
    SCDynamicStoreRef watcher = SCDynamicStoreCreate(NULL, wname, sc_callout, &ctx);
    SCDynamicStoreRef writer = SCDynamicStoreCreate(NULL, pname, NULL, NULL);
    CFRelease(wname);
    CFRelease(pname);
    CHECK(watcher != NULL && writer != NULL, "SCDynamicStoreCreate");
    CFArrayRef keys = list1("State:/Network/Interface/em0/Link");
    CHECK(SCDynamicStoreSetNotificationKeys(watcher, keys, NULL), "SetNotificationKeys");
    dispatch_queue_t scq = dispatch_queue_create("ipconfigd.link-watch", NULL);
    CHECK(SCDynamicStoreSetDispatchQueue(watcher, scq), "SetDispatchQueue");
    CHECK(set_value(writer, "State:/Network/Interface/em0/Link", "active"), "SetValue");
    CHECK(dispatch_semaphore_wait(seen.sem, dispatch_time(DISPATCH_TIME_NOW,
                                                          WAIT_MS * (int64_t)NSEC_PER_MSEC)) == 0,
          "no SCDynamicStore notification within %d ms", WAIT_MS);
    CHECK(strcmp(seen.key, "State:/Network/Interface/em0/Link") == 0, "notified key '%s'",
          seen.key);
    printf("stage4: configd key change observed: %s (libSystemConfiguration.so)\n", seen.key);

    /* ---- 2. a device arrival ------------------------------------------------------------- */
    struct arrivals arr = {.sem = dispatch_semaphore_create(0)};
    IONotificationPortRef np = IONotificationPortCreate(kIOMainPortDefault);
    CHECK(np != NULL, "IONotificationPortCreate");
    dispatch_queue_t ioq = dispatch_queue_create("ipconfigd.devices", NULL);
    IONotificationPortSetDispatchQueue(np, ioq);
    io_iterator_t existing = NULL;
    kr = IOServiceAddMatchingNotification(np, kIOPublishNotification, IOServiceMatching("em"),
                                          io_callout, &arr, &existing);
    CHECK(kr == KERN_SUCCESS, "IOServiceAddMatchingNotification: 0x%x", (unsigned)kr);
    CHECK(IOIteratorNext(existing) == NULL, "a device before any arrived");
    uint64_t dev = mach_sim_device_attach("em0", "em", "em");
    CHECK(dev != 0, "mach_sim_device_attach");
    CHECK(dispatch_semaphore_wait(arr.sem, dispatch_time(DISPATCH_TIME_NOW,
                                                         WAIT_MS * (int64_t)NSEC_PER_MSEC)) == 0,
          "no device arrival within %d ms", WAIT_MS);
    CHECK(strcmp(arr.name, "em0") == 0, "arrived device '%s'", arr.name);
    printf("stage4: device arrival observed: %s (libIOKit.so)\n", arr.name);

    /* ---- 3. an ipconfig RPC -------------------------------------------------------------- */
    CHECK(mach_service_start() == 0, "mach_service_start");
    mach_port_t server = MACH_PORT_NULL;
    kr = bootstrap_look_up(bootstrap_port, "com.apple.IPConfiguration", &server);
    CHECK(kr == KERN_SUCCESS && MACH_PORT_VALID(server), "bootstrap_look_up: 0x%x", (unsigned)kr);
    if_count_request_t creq;
    reply_buffer_t reply;
    memset(&creq, 0, sizeof(creq));
    mach_msg_return_t mr = call(server, &creq, sizeof(creq), 20000, &reply);
    CHECK(mr == MACH_MSG_SUCCESS, "if_count: mach_msg 0x%x", (unsigned)mr);
    CHECK(reply.Head.msgh_id == 20100 && reply.count.RetCode == KERN_SUCCESS &&
              reply.count.count == 1,
          "if_count reply: id %d, RetCode 0x%x, count %d", reply.Head.msgh_id,
          (unsigned)reply.count.RetCode, reply.count.count);
    int if_count = reply.count.count;
    if_addr_request_t areq;
    memset(&areq, 0, sizeof(areq));
    areq.NDR = NDR_record;
    strncpy(areq.name, "em0", sizeof(areq.name) - 1);
    mr = call(server, &areq, sizeof(areq), 20001, &reply);
    CHECK(mr == MACH_MSG_SUCCESS, "if_addr: mach_msg 0x%x", (unsigned)mr);
    const unsigned char *ip = (const unsigned char *)&reply.addr.addr;
    CHECK(reply.Head.msgh_id == 20101 && reply.addr.RetCode == KERN_SUCCESS &&
              reply.addr.status == 0 && ip[0] == 10 && ip[1] == 0 && ip[2] == 2 && ip[3] == 15,
          "if_addr reply: id %d, RetCode 0x%x, status %d", reply.Head.msgh_id,
          (unsigned)reply.addr.RetCode, reply.addr.status);
    printf("stage4: ipconfig RPC observed: if_count = %d, if_addr(em0) = %u.%u.%u.%u (ipconfigd)\n",
           if_count, ip[0], ip[1], ip[2], ip[3]);

    /* ---- 4. one kernel ------------------------------------------------------------------- */
    /* A receive right made by libSystemConfiguration's Rust code (its own copy of mach-async,
     * through the trap face), seen through libmach_sim.so's libmach from this executable. */
    mach_port_t np_name = __SCDynamicStoreAddNotificationPort(watcher);
    CHECK(MACH_PORT_VALID(np_name), "__SCDynamicStoreAddNotificationPort");
    mach_port_type_t type = 0;
    kr = mach_port_type(mach_task_self(), np_name, &type);
    CHECK(kr == KERN_SUCCESS && (type & MACH_PORT_TYPE_RECEIVE) && (type & MACH_PORT_TYPE_SEND),
          "a port made in libSystemConfiguration is not a receive+send right here: kr 0x%x type 0x%x",
          (unsigned)kr, (unsigned)type);
    /* A port made by libIOKit's Rust code, too. */
    mach_port_t io_name = IONotificationPortGetMachPort(np);
    type = 0;
    kr = mach_port_type(mach_task_self(), io_name, &type);
    CHECK(kr == KERN_SUCCESS && type != 0, "libIOKit's port %u unknown here: kr 0x%x", io_name,
          (unsigned)kr);
    /* A message sent here on libSystemConfiguration's port is received here: same queue. */
    struct {
        mach_msg_header_t h;
        uint8_t trailer[68];
    } msg;
    memset(&msg, 0, sizeof(msg));
    msg.h.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, 0);
    msg.h.msgh_size = sizeof(mach_msg_header_t);
    msg.h.msgh_remote_port = np_name;
    msg.h.msgh_id = 4242;
    mr = mach_msg(&msg.h, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof(mach_msg_header_t), 0,
                  MACH_PORT_NULL, WAIT_MS, MACH_PORT_NULL);
    CHECK(mr == MACH_MSG_SUCCESS, "send on libSystemConfiguration's port: 0x%x", (unsigned)mr);
    memset(&msg, 0, sizeof(msg));
    mr = mach_msg(&msg.h, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof(msg), np_name, WAIT_MS,
                  MACH_PORT_NULL);
    CHECK(mr == MACH_MSG_SUCCESS && msg.h.msgh_id == 4242, "receive on it: 0x%x id %d",
          (unsigned)mr, msg.h.msgh_id);
    CHECK(mach_port_mod_refs(mach_task_self(), np_name, MACH_PORT_RIGHT_SEND, -1) == KERN_SUCCESS,
          "release its send right");
    CHECK(mach_port_mod_refs(mach_task_self(), np_name, MACH_PORT_RIGHT_RECEIVE, -1) == KERN_SUCCESS,
          "destroy it");
    printf("stage4: one simulated kernel: port %u (made in libSystemConfiguration.so) and port %u "
           "(made in libIOKit.so) are rights of this process in libmach_sim.so\n",
           np_name, io_name);

    /* ---- 5. event threads ---------------------------------------------------------------- */
    int sc_threads = threads_named("scnotify-event");
    int io_threads = threads_named("iokit-notify-ev");
    int ip_threads = threads_named("ipconfigd-mach");
    printf("stage4: event threads: %d (libSystemConfiguration.so %d, libIOKit.so %d, ipconfigd %d; "
           "design: one per switched library, docs/stage4-linking.md)\n",
           sc_threads + io_threads + ip_threads, sc_threads, io_threads, ip_threads);
    CHECK(sc_threads == 1 && io_threads == 1 && ip_threads == 1,
          "event threads differ from the design");

    /* ---- teardown ------------------------------------------------------------------------ */
    CHECK(mach_port_deallocate(mach_task_self(), server) == KERN_SUCCESS, "release the service");
    mach_service_stop();
    mach_service_join();

    IOObjectRelease(existing);
    CHECK(mach_sim_device_watches() == 1, "kernel watches: %u", mach_sim_device_watches());
    IONotificationPortDestroy(np);
    /* The event thread lets go of the port; the device's departure (an emission) then prunes
     * the dead kernel watch. */
    for (int i = 0; i < WAIT_MS / 10 && mach_port_type(mach_task_self(), io_name, &type) == KERN_SUCCESS; i++)
        sleep_ms(10);
    CHECK(mach_port_type(mach_task_self(), io_name, &type) != KERN_SUCCESS,
          "libIOKit's port outlived IONotificationPortDestroy");
    CHECK(mach_sim_device_detach(dev) == 0, "mach_sim_device_detach");
    CHECK(mach_sim_device_watches() == 0, "kernel watches left: %u", mach_sim_device_watches());
    dispatch_release(ioq);

    CHECK(SCDynamicStoreSetDispatchQueue(watcher, NULL), "SetDispatchQueue(NULL)");
    CFRelease(keys);
    CFRelease(writer);
    CFRelease(watcher);
    dispatch_release(scq);
    scnotify_configd_stop();
    dispatch_release(seen.sem);
    dispatch_release(arr.sem);

    CHECK(IOKitDemoObjectsLive() == 0, "libIOKit objects leaked: %ld", IOKitDemoObjectsLive());
    /* Bounded wait for the event threads to let go (only the retained service port stays). */
    for (int i = 0; i < WAIT_MS / 10 && !(mach_sim_live_ports() <= 1 && mach_sim_live_kqueues() == 0); i++)
        sleep_ms(10);
    printf("stage4: after teardown: %llu ports, %llu rights, %llu kqueues, %llu knotes\n",
           (unsigned long long)mach_sim_live_ports(), (unsigned long long)mach_sim_live_rights(),
           (unsigned long long)mach_sim_live_kqueues(), (unsigned long long)mach_sim_live_knotes());
    /* What is left is by design: the switched mach_service keeps its checked-in service port
     * for a restart after mach_service_join (ipconfig-rpc.md), registered with the bootstrap
     * server, as ipconfigd's does until the process exits. */
    CHECK(mach_sim_live_ports() == 1 && mach_sim_live_kqueues() == 0 && mach_sim_live_knotes() == 0,
          "more than ipconfigd's retained service port is left");
    server = MACH_PORT_NULL;
    kr = bootstrap_look_up(bootstrap_port, "com.apple.IPConfiguration", &server);
    CHECK(kr == KERN_SUCCESS, "the retained service port is not the one left: 0x%x", (unsigned)kr);
    CHECK(mach_port_deallocate(mach_task_self(), server) == KERN_SUCCESS, "release the look-up");
    /* Process exit: the task's names go, the service port dies, the kernel holds nothing. */
    kr = mach_sim_task_terminate(mach_sim_task_current());
    CHECK(kr == KERN_SUCCESS, "mach_sim_task_terminate (process exit): 0x%x", (unsigned)kr);
    CHECK(mach_sim_check_leaks() == 0, "the simulated kernel holds something after exit");
    printf("stage4: process exit: the simulated kernel holds nothing (mach_sim_check_leaks)\n");
    CHECK(mach_sim_shutdown() == 0, "mach_sim_shutdown");
    printf("STAGE4-OK\n");
    return 0;
}
