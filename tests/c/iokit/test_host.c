/*
 * TEST HOST for the iokit-notify static library. See test_host.h: a minimal stand-in for the
 * parts of libIOKit, CoreFoundation and libdispatch that IOKitNotify.c's replacement imports,
 * implemented over the simulated registry. Not a product; only the C tests link it.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include "test_host.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_long cf_live;
static atomic_long io_live;
static atomic_long queues_live;
static atomic_long async_calls;

static void host_die(const char *what)
{
    fprintf(stderr, "IOKIT-TEST-HOST-FAIL: %s\n", what);
    fflush(stderr);
    abort();
}

static void copy_field(char *dst, size_t size, const char *src)
{
    size_t n = 0;
    if (src != NULL) {
        n = strlen(src);
        if (n > size - 1)
            n = size - 1; /* strlcpy's truncation */
        memcpy(dst, src, n);
    }
    memset(dst + n, 0, size - n);
}

/* ---- registry device --------------------------------------------------------------------- */

static int registry_absent;
static int registry_fd = -1;
static pthread_once_t registry_once = PTHREAD_ONCE_INIT;

static void registry_open(void)
{
    /* Any descriptor will do: the simulated registry is reached through host_ioctl. */
    registry_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

int __io_ioregistry_fd(void)
{
    if (__atomic_load_n(&registry_absent, __ATOMIC_SEQ_CST))
        return -1;
    pthread_once(&registry_once, registry_open);
    return registry_fd;
}

void host_set_registry_absent(int absent)
{
    __atomic_store_n(&registry_absent, absent, __ATOMIC_SEQ_CST);
}

int host_ioctl(int fd, unsigned long cmd, void *arg)
{
    if (fd < 0 || fd != registry_fd) {
        errno = EBADF;
        return -1;
    }
    int err = iokit_sim_ioctl(cmd, arg);
    if (err != 0) {
        errno = err;
        return -1;
    }
    return 0;
}

/* ---- io objects -------------------------------------------------------------------------- */

static struct __IOObject *object_new(uint32_t kind)
{
    struct __IOObject *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return NULL;
    o->kind = kind;
    atomic_init(&o->refcnt, 1);
    atomic_fetch_add(&io_live, 1);
    return o;
}

static int fail_iterator_allocs;

void host_fail_iterator_allocs(int n)
{
    __atomic_store_n(&fail_iterator_allocs, n, __ATOMIC_SEQ_CST);
}

/* Takes one pending injected failure, if any. */
static int take_iterator_failure(void)
{
    int n = __atomic_load_n(&fail_iterator_allocs, __ATOMIC_SEQ_CST);
    while (n > 0) {
        if (__atomic_compare_exchange_n(&fail_iterator_allocs, &n, n - 1, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            return 1;
    }
    return 0;
}

io_object_t __io_alloc_iterator(uint64_t *ids, uint32_t n)
{
    if (take_iterator_failure()) {
        free(ids); /* ownership of ids is taken even on failure */
        return NULL;
    }
    struct __IOObject *o = object_new(IO_OBJECT_KIND_ITERATOR);
    if (o == NULL) {
        free(ids); /* ownership of ids is taken even on failure */
        return NULL;
    }
    o->ids = ids;
    o->count = n;
    o->cursor = 0;
    return o;
}

io_object_t __io_alloc_entry(uint64_t id)
{
    struct __IOObject *o = object_new(IO_OBJECT_KIND_ENTRY);
    if (o != NULL)
        o->node_id = id;
    return o;
}

kern_return_t IOObjectRetain(io_object_t o)
{
    if (o == NULL)
        return KERN_INVALID_ARGUMENT;
    if (atomic_fetch_add(&o->refcnt, 1) <= 0)
        host_die("IOObjectRetain on a released object");
    return KERN_SUCCESS;
}

kern_return_t IOObjectRelease(io_object_t o)
{
    if (o == NULL)
        return KERN_SUCCESS;
    int before = atomic_fetch_sub(&o->refcnt, 1);
    if (before <= 0)
        host_die("IOObjectRelease of an object already released (double free)");
    if (before == 1) {
        if (o->kind == IO_OBJECT_KIND_ITERATOR)
            free(o->ids);
        o->kind = 0xdeadu;
        free(o);
        atomic_fetch_sub(&io_live, 1);
    }
    return KERN_SUCCESS;
}

io_object_t IOIteratorNext(io_iterator_t it)
{
    if (it == NULL || it->kind != IO_OBJECT_KIND_ITERATOR)
        return NULL;
    if (it->cursor >= it->count)
        return NULL;
    return __io_alloc_entry(it->ids[it->cursor++]);
}

kern_return_t __io_node(uint64_t id, uint64_t *parent, int32_t *state, char name[32],
                        char klass[32], char driver[32], char path[256])
{
    struct ioreg_node node;
    memset(&node, 0, sizeof(node));
    node.id = id;
    if (host_ioctl(__io_ioregistry_fd(), IOREGIOCNODE, &node) != 0)
        return errno == ENOENT ? 0x2f0 /* kIOReturnNotFound */ : 0x2bc /* kIOReturnError */;
    if (parent)
        *parent = node.parent_id;
    if (state)
        *state = node.state;
    if (name)
        memcpy(name, node.name, 32);
    if (klass)
        memcpy(klass, node.classname, 32);
    if (driver)
        memcpy(driver, node.driver, 32);
    if (path)
        memcpy(path, node.path, 256);
    return KERN_SUCCESS;
}

kern_return_t IORegistryEntryGetName(io_registry_entry_t entry, io_name_t name)
{
    char short_name[32];
    if (entry == NULL || entry->kind != IO_OBJECT_KIND_ENTRY || name == NULL)
        return KERN_INVALID_ARGUMENT;
    kern_return_t kr = __io_node(entry->node_id, NULL, NULL, short_name, NULL, NULL, NULL);
    if (kr != KERN_SUCCESS)
        return kr;
    short_name[31] = 0;
    copy_field(name, sizeof(io_name_t), short_name);
    return KERN_SUCCESS;
}

/* ---- matching dictionaries --------------------------------------------------------------- */

#define DICT_MAGIC 0x43464443u /* "CFDC" */

struct __CFDictionary {
    uint32_t magic;
    atomic_int refcnt;
    char *name;   /* IONameMatch, or NULL */
    char *klass;  /* IOProviderClass, or NULL */
    char *driver; /* test-host key for the driver criterion, or NULL */
};

static char *dup_or_null(const char *s)
{
    return s == NULL ? NULL : strdup(s);
}

CFMutableDictionaryRef host_matching(const char *name, const char *klass, const char *driver)
{
    struct __CFDictionary *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    d->magic = DICT_MAGIC;
    atomic_init(&d->refcnt, 1);
    d->name = dup_or_null(name);
    d->klass = dup_or_null(klass);
    d->driver = dup_or_null(driver);
    atomic_fetch_add(&cf_live, 1);
    return d;
}

CFMutableDictionaryRef IOServiceMatching(const char *klass)
{
    return host_matching(NULL, klass, NULL);
}

CFMutableDictionaryRef IOServiceNameMatching(const char *name)
{
    return host_matching(name, NULL, NULL);
}

void CFRelease(CFTypeRef cf)
{
    struct __CFDictionary *d = (struct __CFDictionary *)cf;
    if (d == NULL)
        host_die("CFRelease(NULL)"); /* CoreFoundation crashes here too */
    if (d->magic != DICT_MAGIC)
        host_die("CFRelease of something that is not a live dictionary");
    int before = atomic_fetch_sub(&d->refcnt, 1);
    if (before <= 0)
        host_die("CFRelease of a dictionary already released");
    if (before == 1) {
        d->magic = 0;
        free(d->name);
        free(d->klass);
        free(d->driver);
        free(d);
        atomic_fetch_sub(&cf_live, 1);
    }
}

void __io_extract_criteria(CFDictionaryRef matching, struct io_criteria *out)
{
    const struct __CFDictionary *d = matching;
    memset(out, 0, sizeof(*out));
    if (d == NULL || d->magic != DICT_MAGIC)
        return;
    copy_field(out->name, sizeof(out->name), d->name);
    copy_field(out->klass, sizeof(out->klass), d->klass);
    copy_field(out->driver, sizeof(out->driver), d->driver);
}

void __io_fill_criteria(const struct io_criteria *in, struct ioreg_criteria *out)
{
    memset(out, 0, sizeof(*out));
    memcpy(out->name, in->name, 31);
    memcpy(out->classname, in->klass, 31);
    memcpy(out->driver, in->driver, 31);
}

kern_return_t IOServiceGetMatchingServices(mach_port_t mainPort, CFDictionaryRef matching,
                                           io_iterator_t *existing)
{
    (void)mainPort;
    if (matching == NULL || existing == NULL) {
        if (matching != NULL)
            CFRelease(matching);
        return KERN_INVALID_ARGUMENT;
    }
    struct io_criteria crit;
    struct ioreg_lookup lk;
    __io_extract_criteria(matching, &crit);
    CFRelease(matching);
    memset(&lk, 0, sizeof(lk));
    __io_fill_criteria(&crit, &lk.criteria);
    uint64_t *ids = malloc(128 * sizeof(uint64_t));
    if (ids == NULL)
        return KERN_RESOURCE_SHORTAGE;
    lk.max = 128;
    lk.matches = (uint64_t)(uintptr_t)ids;
    if (host_ioctl(__io_ioregistry_fd(), IOREGIOCLOOKUP, &lk) != 0) {
        free(ids);
        return 0x2bc; /* kIOReturnError */
    }
    uint32_t n = lk.count < lk.max ? lk.count : lk.max; /* NextBSD truncates silently */
    io_object_t it = __io_alloc_iterator(ids, n);
    if (it == NULL)
        return KERN_RESOURCE_SHORTAGE;
    *existing = it;
    return KERN_SUCCESS;
}

/* ---- serial dispatch queues -------------------------------------------------------------- */

struct work_item {
    struct work_item *next;
    void *context;
    dispatch_function_t fn;
};

#define QUEUE_MAGIC 0x44515545u /* "DQUE" */

struct dispatch_queue_s {
    uint32_t magic;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct work_item *head, *tail;
    int refcnt;   /* under mu */
    int released; /* refcnt reached 0: finish the queued work, then exit */
    int depth;    /* work items queued and not yet started (under mu) */
    int peak;     /* the largest depth so far (under mu) */
    char label[64];
};

static _Thread_local dispatch_queue_t current_queue;

dispatch_queue_t host_current_queue(void)
{
    return current_queue;
}

static void *queue_worker(void *arg)
{
    dispatch_queue_t q = arg;
    current_queue = q;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (q->head == NULL && !q->released)
            pthread_cond_wait(&q->cv, &q->mu);
        if (q->head == NULL)
            break; /* released and drained */
        struct work_item *item = q->head;
        q->depth--;
        q->head = item->next;
        if (q->head == NULL)
            q->tail = NULL;
        pthread_mutex_unlock(&q->mu);
        item->fn(item->context);
        free(item);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    q->magic = 0;
    free(q);
    atomic_fetch_sub(&queues_live, 1);
    return NULL;
}

dispatch_queue_t dispatch_queue_create(const char *label, const void *attr)
{
    (void)attr; /* serial only */
    dispatch_queue_t q = calloc(1, sizeof(*q));
    pthread_t thread;
    if (q == NULL)
        return NULL;
    q->magic = QUEUE_MAGIC;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->refcnt = 1;
    copy_field(q->label, sizeof(q->label), label);
    atomic_fetch_add(&queues_live, 1);
    if (pthread_create(&thread, NULL, queue_worker, q) != 0)
        host_die("pthread_create for a dispatch queue");
    pthread_detach(thread);
    return q;
}

static dispatch_queue_t as_queue(void *object, const char *what)
{
    dispatch_queue_t q = object;
    if (q == NULL || q->magic != QUEUE_MAGIC)
        host_die(what);
    return q;
}

void dispatch_retain(void *object)
{
    dispatch_queue_t q = as_queue(object, "dispatch_retain of a dead queue");
    pthread_mutex_lock(&q->mu);
    if (q->refcnt <= 0)
        host_die("dispatch_retain after the last release");
    q->refcnt++;
    pthread_mutex_unlock(&q->mu);
}

void dispatch_release(void *object)
{
    dispatch_queue_t q = as_queue(object, "dispatch_release of a dead queue");
    pthread_mutex_lock(&q->mu);
    if (q->refcnt <= 0)
        host_die("dispatch_release over-release");
    if (--q->refcnt == 0) {
        q->released = 1;
        pthread_cond_signal(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
}

void dispatch_async_f(dispatch_queue_t queue, void *context, dispatch_function_t work)
{
    dispatch_queue_t q = as_queue(queue, "dispatch_async_f on a dead queue");
    struct work_item *item = calloc(1, sizeof(*item));
    if (item == NULL)
        host_die("out of memory in dispatch_async_f");
    item->context = context;
    item->fn = work;
    atomic_fetch_add(&async_calls, 1);
    pthread_mutex_lock(&q->mu);
    if (q->refcnt <= 0)
        host_die("dispatch_async_f on a released queue");
    if (q->tail)
        q->tail->next = item;
    else
        q->head = item;
    q->tail = item;
    if (++q->depth > q->peak)
        q->peak = q->depth;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

struct sync_marker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    void *context;
    dispatch_function_t fn;
};

static void sync_trampoline(void *arg)
{
    struct sync_marker *m = arg;
    if (m->fn)
        m->fn(m->context);
    pthread_mutex_lock(&m->mu);
    m->done = 1;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

void dispatch_sync_f(dispatch_queue_t queue, void *context, dispatch_function_t work)
{
    struct sync_marker m;
    pthread_mutex_init(&m.mu, NULL);
    pthread_cond_init(&m.cv, NULL);
    m.done = 0;
    m.context = context;
    m.fn = work;
    dispatch_async_f(queue, &m, sync_trampoline);
    atomic_fetch_sub(&async_calls, 1); /* count only the library's calls */
    pthread_mutex_lock(&m.mu);
    while (!m.done)
        pthread_cond_wait(&m.cv, &m.mu);
    pthread_mutex_unlock(&m.mu);
    pthread_mutex_destroy(&m.mu);
    pthread_cond_destroy(&m.cv);
}

/* ---- counters ---------------------------------------------------------------------------- */

long host_cf_live(void) { return atomic_load(&cf_live); }
long host_io_objects_live(void) { return atomic_load(&io_live); }
long host_queues_live(void) { return atomic_load(&queues_live); }

int host_queue_peak_depth(dispatch_queue_t queue)
{
    dispatch_queue_t q = as_queue(queue, "host_queue_peak_depth of a dead queue");
    pthread_mutex_lock(&q->mu);
    int peak = q->peak;
    pthread_mutex_unlock(&q->mu);
    return peak;
}
long host_async_calls(void) { return atomic_load(&async_calls); }
