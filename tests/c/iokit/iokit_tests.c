/*
 * C tests of the iokit-notify static library (the replacement of NextBSD's IOKitNotify.c),
 * compiled against <IOKitNotify.h> and <iokit_sim.h>, linked with the library and the C test
 * host (test_host.c). Every scenario runs in its own process on the global simulated kernel and
 * registry, and ends by checking that every dictionary, io object, dispatch queue, Mach right,
 * queued message, kqueue and kernel watch it created is gone.
 *
 * usage: iokit_tests <scenario>
 *   notifytest             iokitnotifytest.c: create, queue, FirstMatch snapshot, Terminated
 *   rt-inline, rt-queue    iokitnotifyrt.c: inject an ARRIVE, the callback fires once with it
 *   rt-skip                iokitnotifyrt.c's SKIP probes (ENOTTY, ENOSYS) and the error codes
 *   errors                 NULL arguments, type strings, absent registry: codes and `matching`
 *   overlap                overlapping watches fire once each; driver criterion; 20 watches
 *   burst                  1000 events in order on the queue, then inline after SetDispatchQueue(NULL)
 *   flood                  5000 events while the queue is blocked: bounded queue, one resync set
 *   snapshot               a snapshot of 200 devices is not truncated at 128
 *   race                   a device in the snapshot whose ARRIVE is flushed later fires no callback
 *   destroy-in-callback-inline, destroy-in-callback-queue
 *                          Destroy from inside a callback: no deadlock, no later callback
 *   destroy-inflight       Destroy from another thread while events are in flight
 *   one-thread             eight ports, one event thread
 *
 * Prints "iokit-<scenario>: N passed, 0 failed" and exits 0; the first failed check prints
 * "IOKIT-C-FAIL: ..." and exits 1.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mach/mach.h>
#include <mach_sim.h>

#include "test_host.h"

static const char *scenario = "?";
static int passed = 0;

#define CHECK(cond, ...)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            printf("IOKIT-C-FAIL: %s:%d: %s: ", __FILE__, __LINE__, #cond);                   \
            printf(__VA_ARGS__);                                                               \
            printf("\n");                                                                      \
            fflush(stdout);                                                                    \
            exit(1);                                                                           \
        }                                                                                      \
        passed++;                                                                              \
    } while (0)

/* A generous bound that only turns a hang into a failure. */
#define HANG_MS 20000

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls `cond` every millisecond until it holds or HANG_MS passed. */
#define WAIT_FOR(cond)                                                                         \
    do {                                                                                       \
        int waited_ = 0;                                                                       \
        while (!(cond) && waited_ < HANG_MS) {                                                 \
            sleep_ms(1);                                                                       \
            waited_++;                                                                         \
        }                                                                                      \
        CHECK(cond, "timed out waiting");                                                      \
    } while (0)

static void inject(uint32_t kind, uint64_t id, const char *name, const char *klass)
{
    struct ioreg_test_event te;
    memset(&te, 0, sizeof(te));
    te.kind = kind;
    te.id = id;
    strncpy((char *)te.name, name, sizeof(te.name) - 1);
    strncpy((char *)te.classname, klass, sizeof(te.classname) - 1);
    CHECK(host_ioctl(__io_ioregistry_fd(), IOREGIOCTESTEVENT, &te) == 0, "inject errno %d", errno);
}

/* Destroys the port, waits for the event thread's teardown, lets one emission prune the dead
 * kernel watches, and checks that nothing is left anywhere. */
static void destroy_and_check(IONotificationPortRef port, long cf_baseline)
{
    IONotificationPortDestroy(port);
    WAIT_FOR(mach_sim_live_ports() == 0 && mach_sim_live_kqueues() == 0);
    inject(IOREG_EVENT_DEPART, 0xdead0000ull, "prune", "prune");
    CHECK(iokit_sim_watch_count() == 0, "%u kernel watches left", iokit_sim_watch_count());
    WAIT_FOR(host_io_objects_live() == 0);
    WAIT_FOR(host_queues_live() == 0);
    CHECK(host_cf_live() == cf_baseline, "%ld dictionaries live", host_cf_live());
    CHECK(mach_sim_check_leaks() == 0, "simulated kernel leaks");
}

static uint64_t entry_id(io_object_t entry)
{
    return entry->node_id;
}

/* Drains an iterator the caller owns; returns the number of entries and stores up to `max`
 * ids. */
static int drain_ids(io_iterator_t it, uint64_t *ids, int max)
{
    io_object_t o;
    int n = 0;
    while ((o = IOIteratorNext(it)) != IO_OBJECT_NULL) {
        if (n < max)
            ids[n] = entry_id(o);
        n++;
        IOObjectRelease(o);
    }
    return n;
}

/* ---- callbacks ---------------------------------------------------------------------------- */

#define MAX_EVENTS 4096

struct recorder {
    pthread_mutex_t mu;
    int count;
    uint64_t ids[MAX_EVENTS];
    dispatch_queue_t queue_seen[MAX_EVENTS];
    int entries_per_iterator_bad; /* iterators that did not hold exactly one entry */
    pthread_t thread;
    int on_main;
};

static pthread_t main_thread;

static void recorder_init(struct recorder *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
}

static int recorder_count(struct recorder *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->count;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* Drains the one-entry iterator (and never releases it: the library does). */
static void record(void *refcon, io_iterator_t it)
{
    struct recorder *r = refcon;
    uint64_t ids[2] = {0, 0};
    int n = drain_ids(it, ids, 2);
    pthread_mutex_lock(&r->mu);
    if (n != 1)
        r->entries_per_iterator_bad++;
    if (r->count < MAX_EVENTS) {
        r->ids[r->count] = ids[0];
        r->queue_seen[r->count] = host_current_queue();
    }
    if (pthread_equal(pthread_self(), main_thread))
        r->on_main++;
    r->thread = pthread_self();
    r->count++;
    pthread_mutex_unlock(&r->mu);
}

/* ---- scenarios ---------------------------------------------------------------------------- */

static void scenario_notifytest(void)
{
    long cf0 = host_cf_live();
    io_iterator_t it = IO_OBJECT_NULL;
    uint64_t ids[8];
    struct recorder r;
    recorder_init(&r);

    uint64_t em0 = iokit_sim_attach("em", "em", "em", 0x8086, 0x100e);
    uint64_t em1 = iokit_sim_attach("em", "em", "em", 0x8086, 0x10d3);

    IONotificationPortRef port = IONotificationPortCreate(kIOMainPortDefault);
    CHECK(port != NULL, "Create");
    CHECK(IONotificationPortGetMachPort(port) != MACH_PORT_NULL, "GetMachPort");

    dispatch_queue_t q = dispatch_queue_create("org.freebsd.iokit.notifytest", NULL);
    IONotificationPortSetDispatchQueue(port, q);
    dispatch_release(q); /* the port keeps its own reference */
    CHECK(host_queues_live() == 1, "the port retained the queue");

    CHECK(IOServiceAddMatchingNotification(port, kIOFirstMatchNotification, IOServiceMatching("em"),
                                           record, &r, &it) == KERN_SUCCESS,
          "FirstMatch");
    CHECK(it != IO_OBJECT_NULL, "snapshot iterator");
    CHECK(host_cf_live() == cf0, "matching consumed");
    io_object_t o;
    int matched = 0;
    while ((o = IOIteratorNext(it)) != IO_OBJECT_NULL) {
        io_name_t name;
        CHECK(IORegistryEntryGetName(o, name) == KERN_SUCCESS, "GetName");
        CHECK(strcmp(name, "em") == 0, "entry name %s", name);
        if (matched < 8)
            ids[matched] = entry_id(o);
        matched++;
        IOObjectRelease(o);
    }
    IOObjectRelease(it);
    CHECK(matched == 2 && ids[0] == em0 && ids[1] == em1, "snapshot has both em devices (%d)", matched);

    it = IO_OBJECT_NULL;
    CHECK(IOServiceAddMatchingNotification(port, kIOTerminatedNotification,
                                           IOServiceMatching("ThisClassDoesNotExist"), record, &r,
                                           &it) == KERN_SUCCESS,
          "Terminated");
    CHECK(it != IO_OBJECT_NULL && IOIteratorNext(it) == IO_OBJECT_NULL, "empty terminate snapshot");
    IOObjectRelease(it);

    /* Fix #8: a terminate snapshot is empty even for a present class. */
    it = IO_OBJECT_NULL;
    CHECK(IOServiceAddMatchingNotification(port, kIOTerminatedNotification, IOServiceMatching("em"),
                                           record, &r, &it) == KERN_SUCCESS,
          "Terminated em");
    CHECK(it != IO_OBJECT_NULL && IOIteratorNext(it) == IO_OBJECT_NULL, "present class, empty snapshot");
    IOObjectRelease(it);

    CHECK(recorder_count(&r) == 0, "no callback without events");
    destroy_and_check(port, cf0);
}

#define RT_NAME "nbiokit_rt_probe"
#define RT_ID 0x6e62696full

static void scenario_rt(int with_queue)
{
    long cf0 = host_cf_live();
    struct ioreg_test_event te;
    struct recorder r;
    recorder_init(&r);

    int fd = __io_ioregistry_fd();
    CHECK(fd >= 0, "registry present");
    memset(&te, 0, sizeof(te));
    CHECK(host_ioctl(fd, IOREGIOCTESTEVENT, &te) == -1 && errno == EINVAL, "kind 0 probe: EINVAL");

    IONotificationPortRef port = IONotificationPortCreate(kIOMainPortDefault);
    CHECK(port != NULL, "Create");
    dispatch_queue_t q = NULL;
    if (with_queue) {
        q = dispatch_queue_create("rt", NULL);
        IONotificationPortSetDispatchQueue(port, q);
    }
    io_iterator_t it = IO_OBJECT_NULL;
    CHECK(IOServiceAddMatchingNotification(port, kIOFirstMatchNotification,
                                           IOServiceNameMatching(RT_NAME), record, &r, &it) == KERN_SUCCESS,
          "register");
    CHECK(it != IO_OBJECT_NULL && IOIteratorNext(it) == IO_OBJECT_NULL, "empty snapshot");
    IOObjectRelease(it);

    long async0 = host_async_calls();
    inject(IOREG_EVENT_ARRIVE, RT_ID, RT_NAME, "");
    WAIT_FOR(recorder_count(&r) == 1);
    /* A second event proves the first fired once: nothing came between them. */
    inject(IOREG_EVENT_ARRIVE, RT_ID + 1, RT_NAME, "");
    WAIT_FOR(recorder_count(&r) == 2);
    CHECK(r.ids[0] == RT_ID && r.ids[1] == RT_ID + 1, "ids %llx %llx", (unsigned long long)r.ids[0],
          (unsigned long long)r.ids[1]);
    CHECK(r.entries_per_iterator_bad == 0, "each iterator held exactly one entry");
    CHECK(r.on_main == 0, "callbacks never run on the caller's thread");
    if (with_queue) {
        CHECK(r.queue_seen[0] == q && r.queue_seen[1] == q, "callbacks ran on the queue");
        CHECK(host_async_calls() - async0 == 2, "one dispatch_async_f per callback");
        dispatch_sync_f(q, NULL, NULL); /* the trampolines have released the iterators */
    } else {
        CHECK(r.queue_seen[0] == NULL && r.queue_seen[1] == NULL, "inline on the event thread");
        CHECK(host_async_calls() == async0, "no dispatch without a queue");
    }
    /* The library released each callback iterator (the callback did not). */
    WAIT_FOR(host_io_objects_live() == 0);
    if (with_queue)
        dispatch_release(q);
    destroy_and_check(port, cf0);
}

static void scenario_rt_skip(void)
{
    long cf0 = host_cf_live();
    struct ioreg_test_event te;
    memset(&te, 0, sizeof(te));
    int fd = __io_ioregistry_fd();

    iokit_sim_set_test_event_support(IOKIT_SIM_TESTEVENT_ABSENT);
    CHECK(host_ioctl(fd, IOREGIOCTESTEVENT, &te) == -1 && errno == ENOTTY, "old kernel: ENOTTY");
    iokit_sim_set_test_event_support(IOKIT_SIM_NO_COMPAT_MACH);
    CHECK(host_ioctl(fd, IOREGIOCTESTEVENT, &te) == -1 && errno == ENOSYS, "no COMPAT_MACH: ENOSYS");

    IONotificationPortRef port = IONotificationPortCreate(kIOMainPortDefault);
    io_iterator_t it = IO_OBJECT_NULL;
    /* Fix #11: the errno is not collapsed to kIOReturnError; no watch is left behind. */
    CHECK(IOServiceAddMatchingNotification(port, kIOFirstMatchNotification,
                                           IOServiceNameMatching(RT_NAME), record, NULL,
                                           &it) == kIOReturnUnsupported,
          "ENOSYS maps to kIOReturnUnsupported");
    CHECK(it == IO_OBJECT_NULL, "out-param untouched");
    CHECK(host_cf_live() == cf0, "matching consumed");
    iokit_sim_set_test_event_support(IOKIT_SIM_TESTEVENT_PRESENT);
    destroy_and_check(port, cf0);
}

static void noop_callback(void *refcon, io_iterator_t it)
{
    (void)refcon;
    (void)it;
}

static void scenario_errors(void)
{
    long cf0 = host_cf_live();
    io_iterator_t it = IO_OBJECT_NULL;
    IONotificationPortRef port = IONotificationPortCreate(kIOMainPortDefault);
    CHECK(port != NULL, "Create");

    /* NULL arguments: KERN_INVALID_ARGUMENT, and `matching` is released anyway. */
    CHECK(IOServiceAddMatchingNotification(NULL, kIOFirstMatchNotification, IOServiceMatching("em"),
                                           noop_callback, NULL, &it) == KERN_INVALID_ARGUMENT, "NULL port");
    CHECK(IOServiceAddMatchingNotification(port, NULL, IOServiceMatching("em"), noop_callback, NULL,
                                           &it) == KERN_INVALID_ARGUMENT, "NULL type");
    CHECK(IOServiceAddMatchingNotification(port, kIOFirstMatchNotification, IOServiceMatching("em"),
                                           NULL, NULL, &it) == KERN_INVALID_ARGUMENT, "NULL callback");
    CHECK(IOServiceAddMatchingNotification(port, kIOFirstMatchNotification, IOServiceMatching("em"),
                                           noop_callback, NULL, NULL) == KERN_INVALID_ARGUMENT, "NULL out");
    CHECK(IOServiceAddMatchingNotification(port, kIOFirstMatchNotification, NULL, noop_callback, NULL,
                                           &it) == KERN_INVALID_ARGUMENT, "NULL matching");
    CHECK(host_cf_live() == cf0, "every dictionary released exactly once");

    /* Fix #10: a type table. */
    CHECK(IOServiceAddMatchingNotification(port, "IOServiceTerminated", IOServiceMatching("em"),
                                           noop_callback, NULL, &it) == kIOReturnBadArgument, "typo");
    CHECK(IOServiceAddMatchingNotification(port, "", IOServiceMatching("em"), noop_callback, NULL,
                                           &it) == kIOReturnBadArgument, "empty type");
    CHECK(host_cf_live() == cf0, "released on the type error");
    CHECK(it == IO_OBJECT_NULL, "out-param untouched on errors");
    CHECK(iokit_sim_watch_count() == 0, "no watch registered by a failed call");

    struct recorder r;
    recorder_init(&r);
    uint64_t em = iokit_sim_attach("em", "em", "em", 0, 0);
    CHECK(IOServiceAddMatchingNotification(port, kIOWillTerminateNotification, IOServiceMatching("em"),
                                           record, &r, &it) == KERN_SUCCESS, "WillTerminate");
    CHECK(IOIteratorNext(it) == IO_OBJECT_NULL, "terminate snapshot empty");
    IOObjectRelease(it);
    it = IO_OBJECT_NULL;
    CHECK(iokit_sim_detach(em) == 0, "detach");
    WAIT_FOR(recorder_count(&r) == 1);
    CHECK(r.ids[0] == em, "WillTerminate maps to DEPART");

    /* No registry device: kIOReturnNoDevice, dictionary released, nothing registered. */
    unsigned watches = iokit_sim_watch_count();
    host_set_registry_absent(1);
    CHECK(IOServiceAddMatchingNotification(port, kIOFirstMatchNotification, IOServiceMatching("em"),
                                           noop_callback, NULL, &it) == kIOReturnNoDevice, "no device");
    host_set_registry_absent(0);
    CHECK(host_cf_live() == cf0, "released without a device");
    CHECK(iokit_sim_watch_count() == watches, "nothing registered without a device");

    /* NULL ports are no-ops. */
    CHECK(IONotificationPortGetMachPort(NULL) == MACH_PORT_NULL, "GetMachPort(NULL)");
    IONotificationPortDestroy(NULL);
    dispatch_queue_t q = dispatch_queue_create("unused", NULL);
    IONotificationPortSetDispatchQueue(NULL, q);
    dispatch_release(q);
    destroy_and_check(port, cf0);
}

static void scenario_overlap(void)
{
    long cf0 = host_cf_live();
    enum { N = 20 };
    struct recorder arrive[3], depart, by_driver, many[N];
    io_iterator_t it;
    IONotificationPortRef port = IONotificationPortCreate(kIOMainPortDefault);

    CFMutableDictionaryRef matchings[3] = {host_matching(NULL, "em", NULL), host_matching("em", NULL, NULL),
                                           host_matching("em", "em", NULL)};
    for (int i = 0; i < 3; i++) {
        recorder_init(&arrive[i]);
        CHECK(IOServiceAddMatchingNotification(port, kIOMatchedNotification, matchings[i], record,
                                               &arrive[i], &it) == KERN_SUCCESS, "arrive %d", i);
        IOObjectRelease(it);
    }
    recorder_init(&depart);
    CHECK(IOServiceAddMatchingNotification(port, kIOTerminatedNotification, IOServiceMatching("em"),
                                           record, &depart, &it) == KERN_SUCCESS, "depart");
    IOObjectRelease(it);
    recorder_init(&by_driver);
    CHECK(IOServiceAddMatchingNotification(port, kIOPublishNotification, host_matching(NULL, "em", "if_em"),
                                           record, &by_driver, &it) == KERN_SUCCESS, "driver");
    IOObjectRelease(it);

    /* ARRIVE then MATCHED from the kernel; each overlapping watch fires once (fix #1). */
    uint64_t a = iokit_sim_attach("em", "em", "em", 0, 0);
    uint64_t b = iokit_sim_attach("em", "em", "if_em", 0, 0);
    for (int i = 0; i < 3; i++)
        WAIT_FOR(recorder_count(&arrive[i]) == 2);
    WAIT_FOR(recorder_count(&by_driver) == 1);
    CHECK(by_driver.ids[0] == b, "only the if_em device matches the driver criterion (fix #2)");
    CHECK(iokit_sim_detach(a) == 0, "detach");
    WAIT_FOR(recorder_count(&depart) == 1);
    /* The same ordering marker for every watch: one more device after which counts must hold. */
    uint64_t c = iokit_sim_attach("em", "em", "if_em", 0, 0);
    for (int i = 0; i < 3; i++) {
        WAIT_FOR(recorder_count(&arrive[i]) == 3);
        CHECK(arrive[i].ids[0] == a && arrive[i].ids[1] == b && arrive[i].ids[2] == c,
              "watch %d saw each device once", i);
    }
    WAIT_FOR(recorder_count(&by_driver) == 2);
    CHECK(recorder_count(&depart) == 1 && depart.ids[0] == a, "no cross-firing into DEPART");

    /* Fix #6: 20 matching watches all fire. */
    for (int i = 0; i < N; i++) {
        recorder_init(&many[i]);
        CHECK(IOServiceAddMatchingNotification(port, kIOFirstMatchNotification, IOServiceMatching("vtblk"),
                                               record, &many[i], &it) == KERN_SUCCESS, "many %d", i);
        IOObjectRelease(it);
    }
    uint64_t v = iokit_sim_attach("vtblk", "vtblk", "vtblk", 0, 0);
    for (int i = 0; i < N; i++) {
        WAIT_FOR(recorder_count(&many[i]) == 1);
        CHECK(many[i].ids[0] == v, "watch %d", i);
    }
    destroy_and_check(port, cf0);
}

static void scenario_burst(void)
{
    long cf0 = host_cf_live();
    enum { COUNT = 1000 };
    static struct recorder r;
    recorder_init(&r);
    io_iterator_t it;
    IONotificationPortRef port = IONotificationPortCreate(kIOMainPortDefault);
    dispatch_queue_t q = dispatch_queue_create("burst", NULL);
    IONotificationPortSetDispatchQueue(port, q);
    CHECK(IOServiceAddMatchingNotification(port, kIOFirstMatchNotification, IOServiceMatching("em"),
                                           record, &r, &it) == KERN_SUCCESS, "register");
    IOObjectRelease(it);

    static uint64_t ids[COUNT];
    iokit_sim_match_start();
    for (int i = 0; i < COUNT; i++)
        ids[i] = iokit_sim_attach_pending("em", "em", "em", 0, 0);
    iokit_sim_match_end();
    WAIT_FOR(recorder_count(&r) == COUNT);
    for (int i = 0; i < COUNT; i++) {
        CHECK(r.ids[i] == ids[i], "event %d in order", i);
        CHECK(r.queue_seen[i] == q, "event %d on the queue", i);
    }
    passed -= 2 * COUNT - 2; /* count the loop as two checks */

    /* Back to inline delivery. */
    IONotificationPortSetDispatchQueue(port, NULL);
    dispatch_sync_f(q, NULL, NULL);
    dispatch_release(q);
    uint64_t last = iokit_sim_attach("em", "em", "em", 0, 0);
    WAIT_FOR(recorder_count(&r) == COUNT + 1);
    CHECK(r.ids[COUNT] == last && r.queue_seen[COUNT] == NULL, "inline after SetDispatchQueue(NULL)");
    CHECK(r.entries_per_iterator_bad == 0, "one entry per iterator");
    destroy_and_check(port, cf0);
}

/* A flood far above the library's per-watch bound (1024 callbacks queued on a dispatch queue,
 * spec §6 #16) while the queue is blocked: the queue never holds more than the bound plus the
 * resync callback (and this test's gate); the events queued before the overflow go stale and
 * the callback then sees the current set once (one multi-entry iterator); every device is
 * reported exactly once. */
enum { FLOOD_COUNT = 5000, FLOOD_BOUND = 1024 };

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
    uint64_t first;              /* id of the first flood device (ids are consecutive) */
    int counts[FLOOD_COUNT];     /* reports per device */
    int unknown;                 /* reported ids outside the flood */
    int reported;                /* distinct devices reported */
    int largest_iterator;        /* most entries in one callback's iterator */
} flood;

static void flood_gate(void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&flood.mu);
    while (!flood.open)
        pthread_cond_wait(&flood.cv, &flood.mu);
    pthread_mutex_unlock(&flood.mu);
}

static void flood_record(void *refcon, io_iterator_t it)
{
    (void)refcon;
    static uint64_t ids[FLOOD_COUNT + 1];
    int n = drain_ids(it, ids, FLOOD_COUNT + 1);
    pthread_mutex_lock(&flood.mu);
    if (n > flood.largest_iterator)
        flood.largest_iterator = n;
    for (int i = 0; i < n && i <= FLOOD_COUNT; i++) {
        uint64_t k = ids[i] - flood.first;
        if (ids[i] < flood.first || k >= FLOOD_COUNT) {
            flood.unknown++;
        } else if (flood.counts[k]++ == 0) {
            flood.reported++;
        }
    }
    pthread_mutex_unlock(&flood.mu);
}

static int flood_reported(void)
{
    pthread_mutex_lock(&flood.mu);
    int n = flood.reported;
    pthread_mutex_unlock(&flood.mu);
    return n;
}

static void scenario_flood(void)
{
    long cf0 = host_cf_live();
    pthread_mutex_init(&flood.mu, NULL);
    pthread_cond_init(&flood.cv, NULL);
    io_iterator_t it;
    IONotificationPortRef port = IONotificationPortCreate(kIOMainPortDefault);
    dispatch_queue_t q = dispatch_queue_create("flood", NULL);
    IONotificationPortSetDispatchQueue(port, q);
    CHECK(IOServiceAddMatchingNotification(port, kIOFirstMatchNotification, IOServiceMatching("fl"),
                                           flood_record, NULL, &it) == KERN_SUCCESS, "register");
    IOObjectRelease(it);
    dispatch_async_f(q, NULL, flood_gate); /* the consumer stops reading */
    for (int i = 0; i < FLOOD_COUNT; i++) {
        uint64_t id = iokit_sim_attach("fl", "fl", "fl", 0, 0);
        if (i == 0)
            flood.first = id;
        CHECK(id == flood.first + (uint64_t)i, "consecutive ids");
    }
    passed -= FLOOD_COUNT - 1;
    pthread_mutex_lock(&flood.mu);
    flood.open = 1;
    pthread_cond_broadcast(&flood.cv);
    pthread_mutex_unlock(&flood.mu);
    WAIT_FOR(flood_reported() == FLOOD_COUNT);
    dispatch_sync_f(q, NULL, NULL); /* everything queued so far has run */
    int twice = 0;
    for (int i = 0; i < FLOOD_COUNT; i++)
        if (flood.counts[i] != 1)
            twice++;
    CHECK(flood_reported() == FLOOD_COUNT, "every device reported (%d of %d)", flood_reported(),
          FLOOD_COUNT);
    CHECK(twice == 0, "%d devices not reported exactly once", twice);
    CHECK(flood.unknown == 0, "%d unknown ids", flood.unknown);
    CHECK(flood.largest_iterator > 1, "the current set came as one resync callback (largest "
          "iterator %d)", flood.largest_iterator);
    int peak = host_queue_peak_depth(q);
    printf("flood: %d devices, bound %d: peak queue depth %d, largest iterator %d\n", FLOOD_COUNT,
           FLOOD_BOUND, peak, flood.largest_iterator);
    CHECK(peak <= FLOOD_BOUND + 2, "peak queue depth %d > bound %d + resync + gate", peak,
          FLOOD_BOUND);
    IONotificationPortSetDispatchQueue(port, NULL);
    dispatch_release(q);
    for (int i = 0; i < FLOOD_COUNT; i++)
        iokit_sim_detach(flood.first + (uint64_t)i);
    destroy_and_check(port, cf0);
    pthread_mutex_destroy(&flood.mu);
    pthread_cond_destroy(&flood.cv);
}

static void scenario_snapshot(void)
{
    long cf0 = host_cf_live();
    enum { COUNT = 200 };
    static uint64_t ids[COUNT], got[COUNT + 1];
    for (int i = 0; i < COUNT; i++)
        ids[i] = iokit_sim_attach("em", "em", "em", 0, 0);
    IONotificationPortRef port = IONotificationPortCreate(kIOMainPortDefault);
    io_iterator_t it = IO_OBJECT_NULL;
    CHECK(IOServiceAddMatchingNotification(port, kIOFirstMatchNotification, IOServiceMatching("em"),
                                           noop_callback, NULL, &it) == KERN_SUCCESS, "register");
    int n = drain_ids(it, got, COUNT + 1);
    IOObjectRelease(it);
    CHECK(n == COUNT, "fix #4: all %d devices, got %d", COUNT, n);
    CHECK(memcmp(got, ids, sizeof(ids)) == 0, "in registry order");
    /* The host's own IOServiceGetMatchingServices still truncates at 128, as NextBSD's does. */
    CHECK(IOServiceGetMatchingServices(0, IOServiceMatching("em"), &it) == KERN_SUCCESS, "host lookup");
    CHECK(drain_ids(it, got, COUNT + 1) == 128, "host truncates");
    IOObjectRelease(it);
    destroy_and_check(port, cf0);
}

static void scenario_race(void)
{
    long cf0 = host_cf_live();
    io_iterator_t it;
    uint64_t ids[4];
    struct recorder r, unrelated;
    recorder_init(&r);
    recorder_init(&unrelated);
    IONotificationPortRef port = IONotificationPortCreate(kIOMainPortDefault);
    /* Any watch makes the kernel queue attaches until the outermost match_end. */
    CHECK(IOServiceAddMatchingNotification(port, kIOFirstMatchNotification, IOServiceMatching("none"),
                                           record, &unrelated, &it) == KERN_SUCCESS, "first watch");
    IOObjectRelease(it);
    iokit_sim_match_start();
    uint64_t b = iokit_sim_attach_pending("em", "em", "em", 0, 0);
    CHECK(IOServiceAddMatchingNotification(port, kIOFirstMatchNotification, IOServiceMatching("em"),
                                           record, &r, &it) == KERN_SUCCESS, "register inside the bracket");
    CHECK(drain_ids(it, ids, 4) == 1 && ids[0] == b, "the pending device is in the snapshot");
    IOObjectRelease(it);
    iokit_sim_match_end(); /* its ARRIVE and MATCHED are sent now */
    uint64_t c = iokit_sim_attach("em", "em", "em", 0, 0);
    WAIT_FOR(recorder_count(&r) >= 1);
    CHECK(r.ids[0] == c, "fix #3: the first callback is the new device, not the snapshot one");
    CHECK(recorder_count(&r) == 1, "exactly one callback");
    CHECK(recorder_count(&unrelated) == 0, "other watch silent");
    destroy_and_check(port, cf0);
}

/* ---- Destroy from inside a callback ------------------------------------------------------- */

struct destroyer {
    IONotificationPortRef port;
    atomic_int calls;
    atomic_int after_destroy; /* callbacks that started after Destroy returned */
    atomic_int destroyed;
};

static void destroy_on_first(void *refcon, io_iterator_t it)
{
    struct destroyer *d = refcon;
    uint64_t ids[1];
    drain_ids(it, ids, 1);
    if (atomic_load(&d->destroyed))
        atomic_fetch_add(&d->after_destroy, 1);
    if (atomic_fetch_add(&d->calls, 1) == 0) {
        IONotificationPortDestroy(d->port); /* must neither deadlock nor crash */
        atomic_store(&d->destroyed, 1);
    }
}

static void scenario_destroy_in_callback(int with_queue)
{
    long cf0 = host_cf_live();
    static struct destroyer d;
    io_iterator_t it;
    atomic_init(&d.calls, 0);
    atomic_init(&d.after_destroy, 0);
    atomic_init(&d.destroyed, 0);
    d.port = IONotificationPortCreate(kIOMainPortDefault);
    dispatch_queue_t q = NULL;
    if (with_queue) {
        q = dispatch_queue_create("destroy", NULL);
        IONotificationPortSetDispatchQueue(d.port, q);
    }
    CHECK(IOServiceAddMatchingNotification(d.port, kIOFirstMatchNotification, IOServiceMatching("em"),
                                           destroy_on_first, &d, &it) == KERN_SUCCESS, "register");
    IOObjectRelease(it);
    /* Ten events queued at once: the first callback destroys the port mid-drain. */
    iokit_sim_match_start();
    for (int i = 0; i < 10; i++)
        iokit_sim_attach_pending("em", "em", "em", 0, 0);
    iokit_sim_match_end();
    WAIT_FOR(atomic_load(&d.destroyed) == 1);
    if (with_queue) {
        dispatch_sync_f(q, NULL, NULL); /* every bundle queued before Destroy has run */
        dispatch_release(q);
    }
    WAIT_FOR(mach_sim_live_ports() == 0 && mach_sim_live_kqueues() == 0);
    CHECK(atomic_load(&d.calls) == 1, "%d callbacks: none after Destroy returned", atomic_load(&d.calls));
    CHECK(atomic_load(&d.after_destroy) == 0, "no callback started after Destroy");
    inject(IOREG_EVENT_DEPART, 0xdead0000ull, "prune", "prune");
    CHECK(iokit_sim_watch_count() == 0, "watch pruned");
    WAIT_FOR(host_io_objects_live() == 0);
    WAIT_FOR(host_queues_live() == 0);
    CHECK(host_cf_live() == cf0, "dictionaries");
    CHECK(mach_sim_check_leaks() == 0, "leaks");
}

/* ---- Destroy from another thread while events are in flight --------------------------------- */

static atomic_int inflight_calls;

static void slow_callback(void *refcon, io_iterator_t it)
{
    (void)refcon;
    uint64_t ids[1];
    drain_ids(it, ids, 1);
    atomic_fetch_add(&inflight_calls, 1);
    sleep_ms(1);
}

static void scenario_destroy_inflight(void)
{
    long cf0 = host_cf_live();
    for (int with_queue = 0; with_queue < 2; with_queue++) {
        io_iterator_t it;
        atomic_store(&inflight_calls, 0);
        IONotificationPortRef port = IONotificationPortCreate(kIOMainPortDefault);
        dispatch_queue_t q = NULL;
        if (with_queue) {
            q = dispatch_queue_create("inflight", NULL);
            IONotificationPortSetDispatchQueue(port, q);
        }
        CHECK(IOServiceAddMatchingNotification(port, kIOFirstMatchNotification, IOServiceMatching("em"),
                                               slow_callback, NULL, &it) == KERN_SUCCESS, "register");
        IOObjectRelease(it);
        iokit_sim_match_start();
        for (int i = 0; i < 500; i++)
            iokit_sim_attach_pending("em", "em", "em", 0, 0);
        iokit_sim_match_end();
        WAIT_FOR(atomic_load(&inflight_calls) >= 3);
        IONotificationPortDestroy(port); /* returns at once while events are in flight */
        int at_return = atomic_load(&inflight_calls);
        if (with_queue) {
            dispatch_sync_f(q, NULL, NULL); /* bundles queued before Destroy skip their callback */
            dispatch_release(q);
        }
        WAIT_FOR(mach_sim_live_ports() == 0 && mach_sim_live_kqueues() == 0);
        int after = atomic_load(&inflight_calls);
        /* At most the one callback already running when Destroy was called completes. */
        CHECK(after <= at_return + 1, "queue=%d: %d callbacks at return, %d after", with_queue, at_return, after);
        CHECK(after < 500, "queue=%d: delivery stopped (%d)", with_queue, after);
        WAIT_FOR(host_io_objects_live() == 0);
        WAIT_FOR(host_queues_live() == 0);
    }
    inject(IOREG_EVENT_DEPART, 0xdead0000ull, "prune", "prune");
    CHECK(iokit_sim_watch_count() == 0, "watches pruned");
    CHECK(host_cf_live() == cf0, "dictionaries");
    CHECK(mach_sim_check_leaks() == 0, "leaks");
}

static int thread_count(void)
{
    int n = 0;
    DIR *dir = opendir("/proc/self/task");
    if (dir == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(dir);
    return n;
}

static void scenario_one_thread(void)
{
    long cf0 = host_cf_live();
    IONotificationPortRef ports[8];
    io_iterator_t it;
    struct recorder r;
    recorder_init(&r);
    ports[0] = IONotificationPortCreate(kIOMainPortDefault);
    int before = thread_count();
    CHECK(before > 0, "/proc/self/task readable");
    for (int i = 1; i < 8; i++)
        ports[i] = IONotificationPortCreate(kIOMainPortDefault);
    for (int i = 0; i < 8; i++) {
        CHECK(ports[i] != NULL, "Create %d", i);
        CHECK(IOServiceAddMatchingNotification(ports[i], kIOFirstMatchNotification, IOServiceMatching("em"),
                                               record, &r, &it) == KERN_SUCCESS, "register %d", i);
        IOObjectRelease(it);
    }
    iokit_sim_attach("em", "em", "em", 0, 0);
    WAIT_FOR(recorder_count(&r) == 8);
    CHECK(thread_count() == before, "no thread per port: %d threads, %d before", thread_count(), before);
    for (int i = 1; i < 8; i++)
        IONotificationPortDestroy(ports[i]);
    destroy_and_check(ports[0], cf0);
}

/* The host cannot allocate the iterator for one event: that event is dropped (its ids freed by
 * the host, nothing leaked, no callback), and the next event is delivered as usual. */
static void scenario_alloc_fail(void)
{
    long cf0 = host_cf_live();
    struct recorder r;
    recorder_init(&r);
    IONotificationPortRef port = IONotificationPortCreate(kIOMainPortDefault);
    io_iterator_t it;
    CHECK(IOServiceAddMatchingNotification(port, kIOFirstMatchNotification, IOServiceMatching("af"),
                                           record, &r, &it) == KERN_SUCCESS, "register");
    IOObjectRelease(it);
    host_fail_iterator_allocs(1);
    uint64_t dropped = iokit_sim_attach("af", "af", "af", 0, 0);
    uint64_t delivered = iokit_sim_attach("af", "af", "af", 0, 0);
    WAIT_FOR(recorder_count(&r) == 1);
    pthread_mutex_lock(&r.mu);
    uint64_t got = r.ids[0];
    int bad = r.entries_per_iterator_bad;
    pthread_mutex_unlock(&r.mu);
    CHECK(got == delivered && got != dropped, "the second device arrives (got %llx)",
          (unsigned long long)got);
    CHECK(bad == 0, "one entry per iterator");
    destroy_and_check(port, cf0);
    CHECK(recorder_count(&r) == 1, "the dropped event never reached the callback");
}

int main(int argc, char **argv)
{
    main_thread = pthread_self();
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc != 2) {
        fprintf(stderr, "usage: %s <scenario>\n", argv[0]);
        return 2;
    }
    scenario = argv[1];
    if (strcmp(scenario, "notifytest") == 0)
        scenario_notifytest();
    else if (strcmp(scenario, "rt-inline") == 0)
        scenario_rt(0);
    else if (strcmp(scenario, "rt-queue") == 0)
        scenario_rt(1);
    else if (strcmp(scenario, "rt-skip") == 0)
        scenario_rt_skip();
    else if (strcmp(scenario, "errors") == 0)
        scenario_errors();
    else if (strcmp(scenario, "overlap") == 0)
        scenario_overlap();
    else if (strcmp(scenario, "burst") == 0)
        scenario_burst();
    else if (strcmp(scenario, "flood") == 0)
        scenario_flood();
    else if (strcmp(scenario, "snapshot") == 0)
        scenario_snapshot();
    else if (strcmp(scenario, "race") == 0)
        scenario_race();
    else if (strcmp(scenario, "destroy-in-callback-inline") == 0)
        scenario_destroy_in_callback(0);
    else if (strcmp(scenario, "destroy-in-callback-queue") == 0)
        scenario_destroy_in_callback(1);
    else if (strcmp(scenario, "destroy-inflight") == 0)
        scenario_destroy_inflight();
    else if (strcmp(scenario, "one-thread") == 0)
        scenario_one_thread();
    else if (strcmp(scenario, "alloc-fail") == 0)
        scenario_alloc_fail();
    else {
        fprintf(stderr, "unknown scenario %s\n", scenario);
        return 2;
    }
    printf("iokit-%s: %d passed, 0 failed\n", scenario, passed);
    return 0;
}
