/*
 * C tests of the scnotify static library through <scnotify.h>, on the simulated kernel, with the
 * test host of host.c standing in for CoreFoundation, libdispatch and SCDynamicStore.c.
 *
 * Usage: scnotify_tests SCENARIO. Each scenario starts the library's in-process configd, runs,
 * stops it, releases everything, checks that the simulated kernel holds no port, right, queued
 * message, kqueue or knote any more, and prints "scnotify-SCENARIO: N passed, M failed".
 *
 * Scenarios: layout, dispatch (NextBSD scnotifytest.c), runloop (NextBSD scrltest.c), errors
 * (spec scnotify.md §2.2), registration, early, concurrent, lifetime, restart, disconnect
 * (SCDynamicStoreSetDisconnectCallBack), threads.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <scnotify.h>
#include <scnotify_sim.h>
#include <mach_sim.h>

static int passed, failed;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (cond) {                                                                    \
            passed++;                                                                  \
        } else {                                                                       \
            failed++;                                                                  \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);            \
        }                                                                              \
    } while (0)

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static CFStringRef str(const char *s) { return CFStringCreateWithCString(NULL, s, kCFStringEncodingUTF8); }

static CFArrayRef list1(const char *a) {
    CFStringRef s = str(a);
    CFArrayRef arr = CFArrayCreate(NULL, (const void **)&s, 1, &kCFTypeArrayCallBacks);
    CFRelease(s);
    return arr;
}

static int array_has(CFArrayRef arr, const char *key) {
    CFStringRef k = str(key);
    int found = 0;
    for (CFIndex i = 0; i < CFArrayGetCount(arr); i++)
        if (CFEqual(CFArrayGetValueAtIndex(arr, i), k)) found = 1;
    CFRelease(k);
    return found;
}

static dispatch_time_t in_ms(long ms) { return dispatch_time(DISPATCH_TIME_NOW, ms * (int64_t)NSEC_PER_MSEC); }

/* A callout recorder, used as the store context's info. */
struct recorder {
    dispatch_semaphore_t sem;
    atomic_int calls;
    atomic_int empty_calls;
    atomic_int inside;
    atomic_int overlaps;
    atomic_int retains, releases;
    atomic_int after_cancel;
    atomic_int cancelled;
    long sleep_ms;
    pthread_mutex_t lock;
    char seen[64][64];
    int nseen;
    CFArrayRef kept;
};

static void rec_init(struct recorder *r) {
    memset(r, 0, sizeof *r);
    r->sem = dispatch_semaphore_create(0);
    pthread_mutex_init(&r->lock, NULL);
}

static void rec_done(struct recorder *r) {
    dispatch_release(r->sem);
    pthread_mutex_destroy(&r->lock);
}

static int rec_saw(struct recorder *r, const char *key) {
    pthread_mutex_lock(&r->lock);
    int found = 0;
    for (int i = 0; i < r->nseen; i++)
        if (strcmp(r->seen[i], key) == 0) found = 1;
    pthread_mutex_unlock(&r->lock);
    return found;
}

static const void *rec_retain(const void *info) {
    atomic_fetch_add(&((struct recorder *)info)->retains, 1);
    return info;
}
static void rec_release(const void *info) { atomic_fetch_add(&((struct recorder *)info)->releases, 1); }

static void callout(SCDynamicStoreRef store, CFArrayRef changed, void *info) {
    (void)store;
    struct recorder *r = info;
    if (atomic_fetch_add(&r->inside, 1) != 0) atomic_fetch_add(&r->overlaps, 1);
    if (atomic_load(&r->cancelled)) atomic_fetch_add(&r->after_cancel, 1);
    CFIndex n = CFArrayGetCount(changed);
    if (n == 0) atomic_fetch_add(&r->empty_calls, 1);
    pthread_mutex_lock(&r->lock);
    for (CFIndex i = 0; i < n; i++) {
        char buf[64];
        if (CFStringGetCString(CFArrayGetValueAtIndex(changed, i), buf, sizeof buf, kCFStringEncodingUTF8) &&
            r->nseen < 64) {
            int dup = 0;
            for (int k = 0; k < r->nseen; k++)
                if (strcmp(r->seen[k], buf) == 0) dup = 1;
            if (!dup) strcpy(r->seen[r->nseen++], buf);
        }
    }
    if (r->kept == NULL) r->kept = CFRetain(changed); /* an owned reference past the callout */
    pthread_mutex_unlock(&r->lock);
    if (r->sleep_ms) sleep_ms(r->sleep_ms);
    atomic_fetch_sub(&r->inside, 1);
    atomic_fetch_add(&r->calls, 1);
    dispatch_semaphore_signal(r->sem);
}

static SCDynamicStoreRef watcher_store(struct recorder *r) {
    SCDynamicStoreContext ctx = {0, r, rec_retain, rec_release, NULL};
    CFStringRef name = str("scnotify-test");
    SCDynamicStoreRef s = SCDynamicStoreCreate(NULL, name, callout, &ctx);
    CFRelease(name);
    return s;
}

static SCDynamicStoreRef plain_store(void) {
    CFStringRef name = str("scnotify-writer");
    SCDynamicStoreRef s = SCDynamicStoreCreate(NULL, name, NULL, NULL);
    CFRelease(name);
    return s;
}

static int set_value(SCDynamicStoreRef s, const char *key, const char *value) {
    CFStringRef k = str(key), v = str(value);
    int ok = SCDynamicStoreSetValue(s, k, v);
    CFRelease(k);
    CFRelease(v);
    return ok;
}

/* Waits (bounded) for a callout that saw `key`. */
static int wait_for_key(struct recorder *r, const char *key, long ms) {
    dispatch_time_t deadline = in_ms(ms);
    while (!rec_saw(r, key)) {
        if (dispatch_semaphore_wait(r->sem, deadline) != 0) return rec_saw(r, key);
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------- */

static void scenario_layout(void) {
    CHECK(offsetof(SCDynamicStorePrivate, cfBase) == 0);
    CHECK(offsetof(SCDynamicStorePrivate, name) == 16);
    CHECK(offsetof(SCDynamicStorePrivate, options) == 24);
    CHECK(offsetof(SCDynamicStorePrivate, server) == 32);
    CHECK(offsetof(SCDynamicStorePrivate, rlsFunction) == 40);
    CHECK(offsetof(SCDynamicStorePrivate, rlsContext) == 48);
    CHECK(sizeof(SCDynamicStoreContext) == 40);
    CHECK(offsetof(SCDynamicStorePrivate, notifyStatus) == 88);
    CHECK(offsetof(SCDynamicStorePrivate, notifyPort) == 92);
    CHECK(offsetof(SCDynamicStorePrivate, notifySource) == 96);
    CHECK(offsetof(SCDynamicStorePrivate, notifyQueue) == 104);
    CHECK(offsetof(SCDynamicStorePrivate, dispatchQueue) == 112);
    CHECK(offsetof(SCDynamicStorePrivate, rls) == 120);
    CHECK(offsetof(SCDynamicStorePrivate, rlsRunLoop) == 128);
    CHECK(offsetof(SCDynamicStorePrivate, rlsScheduled) == 136);
    CHECK(sizeof(SCDynamicStorePrivate) == 144);
}

/* NextBSD scnotifytest.c: dispatch-queue delivery. */
static void scenario_dispatch(void) {
    struct recorder r;
    rec_init(&r);
    SCDynamicStoreRef watcher = watcher_store(&r);
    SCDynamicStoreRef writer = plain_store();
    CHECK(watcher != NULL && writer != NULL);
    CHECK(atomic_load(&r.retains) == 1); /* SCDynamicStoreCreate retained info */
    CFArrayRef keys = list1("scnotifytest:watched");
    CHECK(SCDynamicStoreSetNotificationKeys(watcher, keys, NULL));
    dispatch_queue_t q = dispatch_queue_create("scnotifytest", NULL);
    CHECK(SCDynamicStoreSetDispatchQueue(watcher, q));
    CHECK(((SCDynamicStorePrivate *)watcher)->notifyStatus == Using_NotifierInformViaDispatch);
    CHECK(((SCDynamicStorePrivate *)watcher)->dispatchQueue == q);
    CHECK(set_value(writer, "scnotifytest:watched", "changed"));
    CHECK(wait_for_key(&r, "scnotifytest:watched", 5000));
    CHECK(SCDynamicStoreSetDispatchQueue(watcher, NULL));
    CHECK(((SCDynamicStorePrivate *)watcher)->notifyStatus == NotifierNotRegistered);
    CHECK(((SCDynamicStorePrivate *)watcher)->dispatchQueue == NULL);
    /* retain(info) around each callout, balanced by release. */
    CHECK(atomic_load(&r.retains) == 1 + atomic_load(&r.calls));
    CHECK(atomic_load(&r.releases) == atomic_load(&r.calls));
    /* The array kept past the callout is ours alone now. */
    CHECK(r.kept != NULL && CFGetRetainCount(r.kept) == 1 && array_has(r.kept, "scnotifytest:watched"));
    CFRelease(r.kept);
    dispatch_release(q);
    CFRelease(keys);
    CFRelease(writer);
    int releases_before = atomic_load(&r.releases);
    CFRelease(watcher);
    CHECK(atomic_load(&r.releases) == releases_before + 1); /* the finalizer's release(info) */
    rec_done(&r);
}

/* NextBSD scrltest.c: run-loop delivery. */
static void scenario_runloop(void) {
    struct recorder r;
    rec_init(&r);
    SCDynamicStoreRef watcher = watcher_store(&r);
    SCDynamicStoreRef writer = plain_store();
    CFArrayRef keys = list1("scrltest:watched");
    CHECK(SCDynamicStoreSetNotificationKeys(watcher, keys, NULL));
    CFRunLoopSourceRef rls = SCDynamicStoreCreateRunLoopSource(NULL, watcher, 0);
    CHECK(rls != NULL);
    CFRunLoopSourceRef again = SCDynamicStoreCreateRunLoopSource(NULL, watcher, 5);
    CHECK(again == rls); /* the same object, +1 */
    CFRelease(again);
    CFRunLoopAddSource(CFRunLoopGetCurrent(), rls, kCFRunLoopDefaultMode);
    CHECK(((SCDynamicStorePrivate *)watcher)->notifyStatus == Using_NotifierInformViaRunLoop);
    CHECK(((SCDynamicStorePrivate *)watcher)->rlsScheduled == 1);
    CHECK(((SCDynamicStorePrivate *)watcher)->rlsRunLoop == CFRunLoopGetCurrent());
    CHECK(set_value(writer, "scrltest:watched", "changed"));
    for (int i = 0; i < 50 && !rec_saw(&r, "scrltest:watched"); i++)
        CFRunLoopRunInMode(kCFRunLoopDefaultMode, 0.1, TRUE);
    CHECK(rec_saw(&r, "scrltest:watched"));
    CFRunLoopRemoveSource(CFRunLoopGetCurrent(), rls, kCFRunLoopDefaultMode);
    CHECK(((SCDynamicStorePrivate *)watcher)->notifyStatus == NotifierNotRegistered);
    CHECK(((SCDynamicStorePrivate *)watcher)->rlsScheduled == 0);
    CFRunLoopSourceInvalidate(rls);
    CFRelease(rls);
    if (r.kept) CFRelease(r.kept);
    CFRelease(keys);
    CFRelease(writer);
    CFRelease(watcher);
    rec_done(&r);
}

/* Spec §2.2. */
static void scenario_errors(void) {
    CFArrayRef keys = list1("errors:key");
    dispatch_queue_t q = dispatch_queue_create("errors", NULL);

    /* Not a store. */
    _SCErrorSet(0);
    CHECK(!SCDynamicStoreSetNotificationKeys(NULL, keys, NULL) && SCError() == kSCStatusNoStoreSession);
    _SCErrorSet(0);
    CHECK(!SCDynamicStoreSetNotificationKeys((SCDynamicStoreRef)keys, keys, NULL) &&
          SCError() == kSCStatusNoStoreSession);
    _SCErrorSet(0);
    CHECK(SCDynamicStoreCopyNotifiedKeys(NULL) == NULL && SCError() == kSCStatusNoStoreSession);
    _SCErrorSet(0);
    CHECK(!SCDynamicStoreSetDispatchQueue(NULL, q) && SCError() == kSCStatusNoStoreSession);
    _SCErrorSet(0);
    CHECK(!SCDynamicStoreSetDispatchQueue(NULL, NULL) && SCError() == kSCStatusNoStoreSession);
    _SCErrorSet(0);
    CHECK(SCDynamicStoreCreateRunLoopSource(NULL, NULL, 0) == NULL && SCError() == kSCStatusNoStoreSession);

    /* No server: configd is not running yet. */
    scnotify_configd_stop();
    SCDynamicStoreRef orphan = plain_store();
    CHECK(orphan != NULL && orphan->server == MACH_PORT_NULL);
    _SCErrorSet(0);
    CHECK(!SCDynamicStoreSetNotificationKeys(orphan, keys, NULL) && SCError() == kSCStatusNoStoreServer);
    _SCErrorSet(0);
    CHECK(SCDynamicStoreCopyNotifiedKeys(orphan) == NULL && SCError() == kSCStatusNoStoreServer);
    _SCErrorSet(0);
    CHECK(!SCDynamicStoreSetDispatchQueue(orphan, q) && SCError() == kSCStatusNoStoreServer);
    _SCErrorSet(0);
    CHECK(SCDynamicStoreCreateRunLoopSource(NULL, orphan, 0) == NULL && SCError() == kSCStatusNoStoreServer);
    CFRelease(orphan);
    CHECK(scnotify_configd_start() == 0);

    SCDynamicStoreRef s = plain_store();
    CHECK(s->server != MACH_PORT_NULL);
    /* Lists that do not encode: not an array, an element not a string, over 8192 bytes. */
    CFStringRef notarray = str("x");
    _SCErrorSet(0);
    CHECK(!SCDynamicStoreSetNotificationKeys(s, (CFArrayRef)notarray, NULL) &&
          SCError() == kSCStatusInvalidArgument);
    const void *nested[1] = {keys};
    CFArrayRef bad = CFArrayCreate(NULL, nested, 1, &kCFTypeArrayCallBacks);
    _SCErrorSet(0);
    CHECK(!SCDynamicStoreSetNotificationKeys(s, NULL, bad) && SCError() == kSCStatusInvalidArgument);
    CFMutableArrayRef big = CFArrayCreateMutable(NULL, 0, &kCFTypeArrayCallBacks);
    char key[120];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "%0100d", i);
        CFStringRef k = str(key);
        CFArrayAppendValue(big, k);
        CFRelease(k);
    }
    _SCErrorSet(0);
    CHECK(!SCDynamicStoreSetNotificationKeys(s, big, NULL) && SCError() == kSCStatusInvalidArgument);
    /* The server's status: a bad regex. */
    CFArrayRef badre = list1("bad(");
    _SCErrorSet(0);
    CHECK(!SCDynamicStoreSetNotificationKeys(s, NULL, badre) && SCError() == kSCStatusInvalidArgument);
    /* Success does not reset SCError. */
    _SCErrorSet(4242);
    CHECK(SCDynamicStoreSetNotificationKeys(s, keys, NULL) && SCError() == 4242);
    /* CopyNotifiedKeys success sets 0 and gives an empty mutable array. */
    CFArrayRef none = SCDynamicStoreCopyNotifiedKeys(s);
    CHECK(none != NULL && CFArrayGetCount(none) == 0 && SCError() == 0);
    if (none) CFRelease(none);
    /* SetDispatchQueue(NULL) when not scheduled → 1002. */
    _SCErrorSet(0);
    CHECK(!SCDynamicStoreSetDispatchQueue(s, NULL) && SCError() == kSCStatusInvalidArgument);
    /* Second SetDispatchQueue → 2003; success leaves SCError alone. */
    _SCErrorSet(77);
    CHECK(SCDynamicStoreSetDispatchQueue(s, q) && SCError() == 77);
    _SCErrorSet(0);
    CHECK(!SCDynamicStoreSetDispatchQueue(s, q) && SCError() == kSCStatusNotifierActive);
    CHECK(SCDynamicStoreSetDispatchQueue(s, NULL));
    /* NotifyCancel on an unscheduled store never sets SCError. */
    _SCErrorSet(55);
    __SCDynamicStoreNotifyCancel(s);
    CHECK(SCError() == 55);
    __SCDynamicStoreNotifyCancel(NULL);
    /* AddNotificationPort: a receive right plus a send right under one name. */
    mach_port_t p = __SCDynamicStoreAddNotificationPort(s);
    CHECK(p != MACH_PORT_NULL);
    mach_port_type_t type = 0;
    CHECK(mach_port_type(mach_task_self(), p, &type) == KERN_SUCCESS);
    CHECK((type & MACH_PORT_TYPE_RECEIVE) && (type & MACH_PORT_TYPE_SEND));
    mach_sim_port_close(p);

    CFRelease(badre);
    CFRelease(big);
    CFRelease(bad);
    CFRelease(notarray);
    CFRelease(s);
    CFRelease(keys);
    dispatch_release(q);
}

/* One registration at a time; several run loops / modes give one registration. */
static void scenario_registration(void) {
    struct recorder r;
    rec_init(&r);
    SCDynamicStoreRef s = watcher_store(&r);
    SCDynamicStoreRef writer = plain_store();
    CFArrayRef keys = list1("reg:key");
    CHECK(SCDynamicStoreSetNotificationKeys(s, keys, NULL));
    SCDynamicStorePrivate *p = (SCDynamicStorePrivate *)s;
    dispatch_queue_t q = dispatch_queue_create("reg", NULL);
    CFRunLoopSourceRef rls = SCDynamicStoreCreateRunLoopSource(NULL, s, 0);
    CFRunLoopRef rl = CFRunLoopGetCurrent();
    CFStringRef other = str("other-mode");

    /* Dispatch active: scheduling the source is refused. */
    CHECK(SCDynamicStoreSetDispatchQueue(s, q));
    _SCErrorSet(0);
    CFRunLoopAddSource(rl, rls, kCFRunLoopDefaultMode);
    CHECK(SCError() == kSCStatusNotifierActive);
    CHECK(p->notifyStatus == Using_NotifierInformViaDispatch && p->rlsScheduled == 0);
    CFRunLoopRemoveSource(rl, rls, kCFRunLoopDefaultMode);
    CHECK(p->notifyStatus == Using_NotifierInformViaDispatch);
    CHECK(SCDynamicStoreSetDispatchQueue(s, NULL));

    /* Run loop active: SetDispatchQueue is refused; NULL is not "dispatch mode" → 1002. */
    CFRunLoopAddSource(rl, rls, kCFRunLoopDefaultMode);
    CFRunLoopAddSource(rl, rls, other);
    CHECK(p->notifyStatus == Using_NotifierInformViaRunLoop && p->rlsScheduled == 2);
    _SCErrorSet(0);
    CHECK(!SCDynamicStoreSetDispatchQueue(s, q) && SCError() == kSCStatusNotifierActive);
    _SCErrorSet(0);
    CHECK(!SCDynamicStoreSetDispatchQueue(s, NULL) && SCError() == kSCStatusInvalidArgument);
    /* Removing one of two schedulings keeps the registration. */
    CFRunLoopRemoveSource(rl, rls, other);
    CHECK(p->notifyStatus == Using_NotifierInformViaRunLoop && p->rlsScheduled == 1);
    CHECK(set_value(writer, "reg:key", "1"));
    for (int i = 0; i < 50 && !rec_saw(&r, "reg:key"); i++)
        CFRunLoopRunInMode(kCFRunLoopDefaultMode, 0.1, TRUE);
    CHECK(rec_saw(&r, "reg:key"));
    CFRunLoopRemoveSource(rl, rls, kCFRunLoopDefaultMode);
    CHECK(p->notifyStatus == NotifierNotRegistered);
    CHECK(p->rlsScheduled == 0 && p->rlsRunLoop == NULL);
    /* Removing again is ignored. */
    CFRunLoopRemoveSource(rl, rls, kCFRunLoopDefaultMode);
    CHECK(p->rlsScheduled == 0);
    /* And dispatch works again afterwards. */
    CHECK(SCDynamicStoreSetDispatchQueue(s, q));
    CHECK(SCDynamicStoreSetDispatchQueue(s, NULL));

    CFRunLoopSourceInvalidate(rls);
    CFRelease(rls);
    CFRelease(other);
    if (r.kept) CFRelease(r.kept);
    dispatch_release(q);
    CFRelease(keys);
    CFRelease(writer);
    CFRelease(s);
    rec_done(&r);
}

/* Changes made before scheduling are delivered by the post-registration drain; the notified
 * keys can also be fetched by hand. */
static void scenario_early(void) {
    struct recorder r;
    rec_init(&r);
    SCDynamicStoreRef s = watcher_store(&r);
    SCDynamicStoreRef writer = plain_store();
    CFArrayRef keys = list1("early:key");
    CFArrayRef pats = list1("early:p[0-9]+");
    CHECK(SCDynamicStoreSetNotificationKeys(s, keys, pats));
    /* By hand first. */
    CHECK(set_value(writer, "early:p1", "x"));
    CFArrayRef got = SCDynamicStoreCopyNotifiedKeys(s);
    CHECK(got != NULL && CFArrayGetCount(got) == 1 && array_has(got, "early:p1"));
    if (got) CFRelease(got);
    got = SCDynamicStoreCopyNotifiedKeys(s);
    CHECK(got != NULL && CFArrayGetCount(got) == 0);
    if (got) CFRelease(got);
    /* Then a change before scheduling, and no change after. */
    CHECK(set_value(writer, "early:key", "before"));
    dispatch_queue_t q = dispatch_queue_create("early", NULL);
    CHECK(SCDynamicStoreSetDispatchQueue(s, q));
    CHECK(wait_for_key(&r, "early:key", 5000));
    CHECK(atomic_load(&r.empty_calls) == 0);
    CHECK(SCDynamicStoreSetDispatchQueue(s, NULL));
    /* Watches and pending keys survive the cancel: a change while unscheduled is delivered on
     * re-scheduling. */
    CHECK(set_value(writer, "early:p22", "while-off"));
    CHECK(SCDynamicStoreSetDispatchQueue(s, q));
    CHECK(wait_for_key(&r, "early:p22", 5000));
    CHECK(SCDynamicStoreSetDispatchQueue(s, NULL));
    if (r.kept) CFRelease(r.kept);
    dispatch_release(q);
    CFRelease(keys);
    CFRelease(pats);
    CFRelease(writer);
    CFRelease(s);
    rec_done(&r);
}

/* Delivery on a concurrent queue never runs two callouts for one store at once; every key
 * arrives; no empty callout. */
static void scenario_concurrent(void) {
    struct recorder r;
    rec_init(&r);
    r.sleep_ms = 3;
    SCDynamicStoreRef s = watcher_store(&r);
    SCDynamicStoreRef writer = plain_store();
    CFArrayRef pats = list1("conc:.*");
    CHECK(SCDynamicStoreSetNotificationKeys(s, NULL, pats));
    dispatch_queue_t q = dispatch_queue_create("concurrent", DISPATCH_QUEUE_CONCURRENT);
    CHECK(SCDynamicStoreSetDispatchQueue(s, q));
    char key[32];
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "conc:%d", i);
        CHECK(set_value(writer, key, "v"));
    }
    CHECK(wait_for_key(&r, "conc:39", 5000));
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "conc:%d", i);
        if (!rec_saw(&r, key)) CHECK(wait_for_key(&r, key, 5000));
    }
    CHECK(SCDynamicStoreSetDispatchQueue(s, NULL));
    CHECK(atomic_load(&r.overlaps) == 0);
    CHECK(atomic_load(&r.empty_calls) == 0);
    CHECK(atomic_load(&r.calls) <= 40);
    if (r.kept) CFRelease(r.kept);
    dispatch_release(q);
    CFRelease(pats);
    CFRelease(writer);
    CFRelease(s);
    rec_done(&r);
}

/* Releasing the store right after SetDispatchQueue(NULL) is safe, and no callout runs after
 * the cancel returned. */
static void scenario_lifetime(void) {
    for (int round = 0; round < 5; round++) {
        struct recorder r;
        rec_init(&r);
        r.sleep_ms = 20;
        SCDynamicStoreRef s = watcher_store(&r);
        SCDynamicStoreRef writer = plain_store();
        CFArrayRef pats = list1("life:.*");
        CHECK(SCDynamicStoreSetNotificationKeys(s, NULL, pats));
        dispatch_queue_t q = dispatch_queue_create("lifetime", NULL);
        CHECK(SCDynamicStoreSetDispatchQueue(s, q));
        char key[32];
        for (int i = 0; i < 10; i++) {
            snprintf(key, sizeof key, "life:%d:%d", round, i);
            set_value(writer, key, "v");
        }
        if (round % 2) dispatch_semaphore_wait(r.sem, in_ms(5000)); /* cancel mid-delivery */
        CHECK(SCDynamicStoreSetDispatchQueue(s, NULL));
        atomic_store(&r.cancelled, 1);
        int releases = atomic_load(&r.releases);
        CFRelease(s); /* right after the cancel */
        sleep_ms(100);
        CHECK(atomic_load(&r.after_cancel) == 0);
        CHECK(atomic_load(&r.releases) == releases + 1); /* finalized: release(info) once */
        CHECK(atomic_load(&r.retains) == 1 + atomic_load(&r.calls));
        if (r.kept) CFRelease(r.kept);
        dispatch_release(q);
        CFRelease(pats);
        CFRelease(writer);
        rec_done(&r);
    }
}

/* configd restarts: the store reconnects, restores its watch set, updates `server`, delivers
 * one empty callout, then normal delivery resumes. */
static void scenario_restart(void) {
    struct recorder r;
    rec_init(&r);
    SCDynamicStoreRef s = watcher_store(&r);
    CFArrayRef keys = list1("restart:key");
    CHECK(SCDynamicStoreSetNotificationKeys(s, keys, NULL));
    dispatch_queue_t q = dispatch_queue_create("restart", NULL);
    CHECK(SCDynamicStoreSetDispatchQueue(s, q));
    mach_port_t old_server = s->server;
    SCDynamicStoreRef idle = plain_store(); /* never used before the restart */

    scnotify_configd_stop();
    CHECK(scnotify_configd_start() == 0);
    /* A store whose session died before its first notification call reconnects too. */
    CHECK(SCDynamicStoreSetNotificationKeys(idle, keys, NULL));
    CFArrayRef got = SCDynamicStoreCopyNotifiedKeys(idle);
    CHECK(got != NULL && CFArrayGetCount(got) == 0);
    if (got) CFRelease(got);
    CFRelease(idle);
    for (int i = 0; i < 50 && atomic_load(&r.empty_calls) == 0; i++)
        dispatch_semaphore_wait(r.sem, in_ms(100));
    CHECK(atomic_load(&r.empty_calls) == 1);
    CHECK(s->server != MACH_PORT_NULL);
    (void)old_server;
    SCDynamicStoreRef writer = plain_store();
    CHECK(set_value(writer, "restart:key", "after"));
    CHECK(wait_for_key(&r, "restart:key", 5000));
    /* The store's own server field works for plain calls too. */
    CHECK(set_value(s, "restart:other", "x"));
    CHECK(SCDynamicStoreSetDispatchQueue(s, NULL));
    CHECK(atomic_load(&r.empty_calls) == 1);
    if (r.kept) CFRelease(r.kept);
    dispatch_release(q);
    CFRelease(keys);
    CFRelease(writer);
    CFRelease(s);
    rec_done(&r);
}

/* SCDynamicStoreSetDisconnectCallBack: when configd dies, the callback runs once with the store
 * and its context info (retained around the call), on the store's queue, before the reconnect's
 * re-read batch (the empty callout), never during a callout; NULL clears it. */
static struct {
    atomic_int calls;
    atomic_int empty_before; /* empty callouts already delivered when the callback ran */
    atomic_int bad_args;
    atomic_int during_callout;
    SCDynamicStoreRef expected;
} disc;

static void on_disconnect(SCDynamicStoreRef store, void *info) {
    struct recorder *r = info;
    if (store != disc.expected || r == NULL) {
        atomic_fetch_add(&disc.bad_args, 1);
        return;
    }
    if (atomic_load(&r->inside)) atomic_fetch_add(&disc.during_callout, 1);
    atomic_store(&disc.empty_before, atomic_load(&r->empty_calls));
    atomic_fetch_add(&disc.calls, 1);
}

static void scenario_disconnect(void) {
    struct recorder r;
    rec_init(&r);
    SCDynamicStoreRef s = watcher_store(&r);
    disc.expected = s;
    CHECK(!SCDynamicStoreSetDisconnectCallBack(NULL, on_disconnect));
    CHECK(SCError() == 2001);
    CHECK(SCDynamicStoreSetDisconnectCallBack(s, on_disconnect));
    CFArrayRef keys = list1("disconnect:key");
    CHECK(SCDynamicStoreSetNotificationKeys(s, keys, NULL));
    dispatch_queue_t q = dispatch_queue_create("disconnect", NULL);
    CHECK(SCDynamicStoreSetDispatchQueue(s, q));
    CHECK(atomic_load(&disc.calls) == 0);

    scnotify_configd_stop();
    CHECK(scnotify_configd_start() == 0);
    for (int i = 0; i < 100 && atomic_load(&r.empty_calls) == 0; i++)
        dispatch_semaphore_wait(r.sem, in_ms(100));
    CHECK(atomic_load(&r.empty_calls) == 1);
    CHECK(atomic_load(&disc.calls) == 1);
    CHECK(atomic_load(&disc.empty_before) == 0); /* before the re-read batch */
    CHECK(atomic_load(&disc.bad_args) == 0);
    CHECK(atomic_load(&disc.during_callout) == 0);
    /* Delivery goes on after the reconnect. */
    SCDynamicStoreRef writer = plain_store();
    CHECK(set_value(writer, "disconnect:key", "after"));
    CHECK(wait_for_key(&r, "disconnect:key", 5000));

    /* Cleared: the next death brings only the re-read batch. */
    CHECK(SCDynamicStoreSetDisconnectCallBack(s, NULL));
    scnotify_configd_stop();
    CHECK(scnotify_configd_start() == 0);
    for (int i = 0; i < 100 && atomic_load(&r.empty_calls) < 2; i++)
        dispatch_semaphore_wait(r.sem, in_ms(100));
    CHECK(atomic_load(&r.empty_calls) == 2);
    CHECK(atomic_load(&disc.calls) == 1);

    CHECK(SCDynamicStoreSetDispatchQueue(s, NULL));
    if (r.kept) CFRelease(r.kept);
    dispatch_release(q);
    CFRelease(keys);
    CFRelease(writer);
    CFRelease(s);
    /* Every retain of info (the store's own, each callout's, the callback's) was released. */
    CHECK(atomic_load(&r.retains) > 0 && atomic_load(&r.retains) == atomic_load(&r.releases));
    rec_done(&r);
}

/* Delivery cannot start (configd is gone): the call fails with the reason, and the store is left unregistered (no queue kept, no dispatch status), so the
 * same queue can be set once configd is back. */
static void scenario_dispatch_fail(void) {
    struct recorder r;
    rec_init(&r);
    SCDynamicStoreRef s = watcher_store(&r);
    CFArrayRef keys = list1("fail:key");
    CHECK(SCDynamicStoreSetNotificationKeys(s, keys, NULL));
    dispatch_queue_t q = dispatch_queue_create("dispatch-fail", NULL);
    scnotify_configd_stop();
    CHECK(!SCDynamicStoreSetDispatchQueue(s, q));
    /* The registration RPC on the dead session fails: kSCStatusFailed, as Apple reports it. */
    CHECK(SCError() == kSCStatusFailed);
    CHECK(((SCDynamicStorePrivate *)s)->notifyStatus == NotifierNotRegistered);
    CHECK(((SCDynamicStorePrivate *)s)->dispatchQueue == NULL);
    /* Undone: cancelling is refused as for a store that was never scheduled. */
    CHECK(!SCDynamicStoreSetDispatchQueue(s, NULL) && SCError() == kSCStatusInvalidArgument);

    CHECK(scnotify_configd_start() == 0);
    CHECK(SCDynamicStoreSetDispatchQueue(s, q));
    SCDynamicStoreRef writer = plain_store();
    CHECK(set_value(writer, "fail:key", "1"));
    CHECK(wait_for_key(&r, "fail:key", 5000));
    CHECK(SCDynamicStoreSetDispatchQueue(s, NULL));
    if (r.kept) CFRelease(r.kept);
    dispatch_release(q);
    CFRelease(keys);
    CFRelease(writer);
    CFRelease(s);
    rec_done(&r);
}

/* Soak: round after round, a watcher store on a dispatch queue gets its key's change, each
 * round under a seeded fault: 0 none; 1 configd restarts (scnotify_configd_stop/start) after the
 * watcher registered (the empty re-read callout first, then the key); 2 the watcher's queue is
 * cancelled and the store released right after the change is sent (no callout may run after the
 * cancel). Every round must bring the kernel's counts back to where the first round left them.
 * SCNOTIFY_SOAK_ROUNDS (default 20) and SCNOTIFY_SOAK_SEED (default 42); a failing round prints
 * its seed and round. */
static uint64_t soak_state;
static uint32_t soak_below(uint32_t n) {
    uint64_t x = soak_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    soak_state = x;
    return (uint32_t)((x * 0x2545f4914f6cdd1dULL) % n);
}

static int kernel_counts_are(uint64_t ports, uint64_t rights) {
    return mach_sim_live_ports() == ports && mach_sim_live_rights() == rights &&
           mach_sim_queued_messages() == 0;
}

static void scenario_soak(void) {
    const char *env_rounds = getenv("SCNOTIFY_SOAK_ROUNDS"), *env_seed = getenv("SCNOTIFY_SOAK_SEED");
    unsigned long rounds = env_rounds ? strtoul(env_rounds, NULL, 10) : 20;
    unsigned long seed = env_seed ? strtoul(env_seed, NULL, 10) : 42;
    unsigned long faults[3] = {0, 0, 0};
    uint64_t ports0 = 0, rights0 = 0;
    soak_state = seed ? seed : 0x9e3779b97f4a7c15ULL;
    for (unsigned long round = 0; round < rounds; round++) {
        int failed_before = failed;
        uint32_t fault = soak_below(3);
        char key[32];
        struct recorder r;
        faults[fault]++;
        snprintf(key, sizeof key, "soak:%lu", round);
        rec_init(&r);
        SCDynamicStoreRef watcher = watcher_store(&r);
        SCDynamicStoreRef writer = plain_store();
        CFArrayRef keys = list1(key);
        dispatch_queue_t q = dispatch_queue_create("soak", NULL);
        CHECK(watcher != NULL && writer != NULL);
        CHECK(SCDynamicStoreSetNotificationKeys(watcher, keys, NULL));
        CHECK(SCDynamicStoreSetDispatchQueue(watcher, q));
        if (fault == 1) {
            scnotify_configd_stop();
            CHECK(scnotify_configd_start() == 0);
            for (int i = 0; i < 50 && atomic_load(&r.empty_calls) == 0; i++)
                dispatch_semaphore_wait(r.sem, in_ms(100));
            CHECK(atomic_load(&r.empty_calls) == 1);
        }
        if (fault == 1) {
            /* SCDynamicStoreSetValue is the test host's stand-in (host.c, like NextBSD's
             * SCDynamicStore.c it does not reconnect), so the writer connects after the restart;
             * the watcher's reconnect is the library's. */
            CFRelease(writer);
            writer = plain_store();
        }
        if (!set_value(writer, key, "v")) {
            CHECK(!"set_value");
            fprintf(stderr, "scnotify-soak: set_value failed: SCError %d\n", SCError());
        }
        if (fault == 2) {
            CHECK(SCDynamicStoreSetDispatchQueue(watcher, NULL));
            atomic_store(&r.cancelled, 1);
            CFRelease(watcher);
            watcher = NULL;
            CHECK(atomic_load(&r.after_cancel) == 0);
        } else {
            CHECK(wait_for_key(&r, key, 5000));
            CHECK(SCDynamicStoreSetDispatchQueue(watcher, NULL));
        }
        if (r.kept) CFRelease(r.kept);
        dispatch_release(q);
        CFRelease(keys);
        CFRelease(writer);
        if (watcher) CFRelease(watcher);
        rec_done(&r);
        if (round == 0) {
            /* Teardown on the event thread is asynchronous: let the first round settle. */
            sleep_ms(50);
            ports0 = mach_sim_live_ports();
            rights0 = mach_sim_live_rights();
        }
        for (int i = 0; i < 500 && !kernel_counts_are(ports0, rights0); i++) sleep_ms(10);
        CHECK(kernel_counts_are(ports0, rights0));
        if (failed != failed_before) {
            fprintf(stderr, "scnotify-soak: FAILED at seed %lu, round %lu (fault %u): ports %llu "
                            "(first round %llu), rights %llu (first round %llu)\n",
                    seed, round, fault, (unsigned long long)mach_sim_live_ports(),
                    (unsigned long long)ports0, (unsigned long long)mach_sim_live_rights(),
                    (unsigned long long)rights0);
            return;
        }
    }
    CHECK(rounds < 30 || (faults[0] && faults[1] && faults[2]));
    printf("scnotify-soak: seed %lu, %lu rounds, faults %lu/%lu/%lu\n", seed, rounds, faults[0],
           faults[1], faults[2]);
}

static int thread_count(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1) break;
    if (f) fclose(f);
    return n;
}

/* No thread per store: scheduling many stores adds no thread once the event thread runs. */
static void scenario_threads(void) {
    enum { N = 12 };
    struct recorder r;
    rec_init(&r);
    dispatch_queue_t q = dispatch_queue_create("threads", NULL);
    SCDynamicStoreRef stores[N];
    CFArrayRef keys = list1("threads:key");
    stores[0] = watcher_store(&r);
    CHECK(SCDynamicStoreSetNotificationKeys(stores[0], keys, NULL));
    CHECK(SCDynamicStoreSetDispatchQueue(stores[0], q));
    int before = thread_count();
    CHECK(before > 0);
    for (int i = 1; i < N; i++) {
        stores[i] = watcher_store(&r);
        CHECK(SCDynamicStoreSetNotificationKeys(stores[i], keys, NULL));
        CHECK(SCDynamicStoreSetDispatchQueue(stores[i], q));
    }
    SCDynamicStoreRef writer = plain_store();
    CHECK(set_value(writer, "threads:key", "v"));
    for (int i = 0; i < 50 && atomic_load(&r.calls) < N; i++) dispatch_semaphore_wait(r.sem, in_ms(100));
    CHECK(atomic_load(&r.calls) == N);
    CHECK(thread_count() == before);
    for (int i = 0; i < N; i++) {
        CHECK(SCDynamicStoreSetDispatchQueue(stores[i], NULL));
        CFRelease(stores[i]);
    }
    CHECK(thread_count() == before);
    if (r.kept) CFRelease(r.kept);
    CFRelease(writer);
    CFRelease(keys);
    dispatch_release(q);
    rec_done(&r);
}

/* ---------------------------------------------------------------------------------------- */

static int kernel_is_empty(void) {
    return mach_sim_live_ports() == 0 && mach_sim_live_rights() == 0 &&
           mach_sim_queued_messages() == 0 && mach_sim_live_kqueues() == 0 &&
           mach_sim_live_knotes() == 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s SCENARIO\n", argv[0]);
        return 2;
    }
    const char *name = argv[1];
    CHECK(kernel_is_empty());
    CHECK(scnotify_configd_start() == 0);
    if (strcmp(name, "layout") == 0) scenario_layout();
    else if (strcmp(name, "dispatch") == 0) scenario_dispatch();
    else if (strcmp(name, "runloop") == 0) scenario_runloop();
    else if (strcmp(name, "errors") == 0) scenario_errors();
    else if (strcmp(name, "registration") == 0) scenario_registration();
    else if (strcmp(name, "early") == 0) scenario_early();
    else if (strcmp(name, "concurrent") == 0) scenario_concurrent();
    else if (strcmp(name, "lifetime") == 0) scenario_lifetime();
    else if (strcmp(name, "restart") == 0) scenario_restart();
    else if (strcmp(name, "disconnect") == 0) scenario_disconnect();
    else if (strcmp(name, "threads") == 0) scenario_threads();
    else if (strcmp(name, "soak") == 0) scenario_soak();
    else if (strcmp(name, "dispatch-fail") == 0) scenario_dispatch_fail();
    else {
        fprintf(stderr, "unknown scenario %s\n", name);
        return 2;
    }
    scnotify_configd_stop();
    /* Teardown on the event thread is asynchronous: wait (bounded) for the kernel to empty. */
    for (int i = 0; i < 500 && !kernel_is_empty(); i++) sleep_ms(10);
    CHECK(kernel_is_empty());
    if (!kernel_is_empty())
        fprintf(stderr, "leak: ports %llu rights %llu queued %llu kqueues %llu knotes %llu\n",
                (unsigned long long)mach_sim_live_ports(), (unsigned long long)mach_sim_live_rights(),
                (unsigned long long)mach_sim_queued_messages(), (unsigned long long)mach_sim_live_kqueues(),
                (unsigned long long)mach_sim_live_knotes());
    printf("scnotify-%s: %d passed, %d failed\n", name, passed, failed);
    return failed == 0 ? 0 : 1;
}
