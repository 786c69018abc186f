/*
 * TEST HOST ONLY: the smallest CoreFoundation / libdispatch / SystemConfiguration subset the
 * scnotify C tests need on Linux (see the headers under include/). It stands in for NextBSD's
 * CoreFoundation, libdispatch and SCDynamicStore.c so that the scnotify static library can be
 * exercised through its C ABI; it is not an implementation of any of them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CoreFoundation/CoreFoundation.h>
#include <SystemConfiguration/SCDynamicStore.h>
#include <dispatch/dispatch.h>
#include <mach/mach.h>
#include <servers/bootstrap.h>

/* ------------------------------------------------------------------------------------------ */
/* CF objects                                                                                  */
/* ------------------------------------------------------------------------------------------ */

#define MAX_CLASSES 16

static struct {
    const char *name;
    void (*finalize)(CFTypeRef);
} classes[MAX_CLASSES];
static atomic_int class_count = 1; /* type id 0 is invalid */
static pthread_mutex_t class_lock = PTHREAD_MUTEX_INITIALIZER;

CFTypeID _CFRuntimeRegisterClass(const char *name, void (*finalize)(CFTypeRef cf)) {
    pthread_mutex_lock(&class_lock);
    int id = atomic_load(&class_count);
    if (id >= MAX_CLASSES) {
        pthread_mutex_unlock(&class_lock);
        abort();
    }
    classes[id].name = name;
    classes[id].finalize = finalize;
    atomic_store(&class_count, id + 1);
    pthread_mutex_unlock(&class_lock);
    return (CFTypeID)id;
}

CFTypeRef _CFRuntimeCreateInstance(CFTypeID type, size_t size) {
    CFRuntimeBase *obj = calloc(1, size);
    if (obj == NULL) return NULL;
    obj->_cfisa = type;
    atomic_store((_Atomic uint64_t *)&obj->_cfinfoa, 1);
    return obj;
}

CFTypeID CFGetTypeID(CFTypeRef cf) { return ((const CFRuntimeBase *)cf)->_cfisa; }

CFTypeRef CFRetain(CFTypeRef cf) {
    if (cf == NULL) abort();
    atomic_fetch_add((_Atomic uint64_t *)&((CFRuntimeBase *)cf)->_cfinfoa, 1);
    return cf;
}

void CFRelease(CFTypeRef cf) {
    if (cf == NULL) abort();
    CFRuntimeBase *obj = (CFRuntimeBase *)cf;
    uint64_t before = atomic_fetch_sub((_Atomic uint64_t *)&obj->_cfinfoa, 1);
    if (before == 0) {
        fprintf(stderr, "test host: CFRelease of a dead object (over-release)\n");
        abort();
    }
    if (before == 1) {
        CFTypeID t = obj->_cfisa;
        if (t > 0 && t < MAX_CLASSES && classes[t].finalize) classes[t].finalize(cf);
        obj->_cfisa = 0;
        free(obj);
    }
}

CFIndex CFGetRetainCount(CFTypeRef cf) {
    return (CFIndex)atomic_load((_Atomic uint64_t *)&((CFRuntimeBase *)cf)->_cfinfoa);
}

static pthread_once_t cf_once = PTHREAD_ONCE_INIT;
static CFTypeID array_type, string_type, data_type, rl_type, rls_type;

static void array_finalize(CFTypeRef cf);
static void string_finalize(CFTypeRef cf);
static void rl_finalize(CFTypeRef cf);
static void rls_finalize(CFTypeRef cf);

static void cf_init(void);

/* ------------------------------------------------------------------------------------------ */
/* Arrays                                                                                      */
/* ------------------------------------------------------------------------------------------ */

struct __CFArray {
    CFRuntimeBase base;
    const CFArrayCallBacks *cb;
    CFIndex count, cap;
    const void **values;
};

static const void *type_retain(CFAllocatorRef a, const void *v) {
    (void)a;
    return CFRetain(v);
}
static void type_release(CFAllocatorRef a, const void *v) {
    (void)a;
    CFRelease(v);
}
const CFArrayCallBacks kCFTypeArrayCallBacks = {0, type_retain, type_release, NULL, NULL};

CFTypeID CFArrayGetTypeID(void) {
    pthread_once(&cf_once, cf_init);
    return array_type;
}

static void array_finalize(CFTypeRef cf) {
    struct __CFArray *a = (struct __CFArray *)cf;
    for (CFIndex i = 0; i < a->count; i++)
        if (a->cb && a->cb->release) a->cb->release(NULL, a->values[i]);
    free(a->values);
}

CFMutableArrayRef CFArrayCreateMutable(CFAllocatorRef allocator, CFIndex capacity,
                                       const CFArrayCallBacks *callBacks) {
    (void)allocator;
    (void)capacity;
    struct __CFArray *a =
        (struct __CFArray *)_CFRuntimeCreateInstance(CFArrayGetTypeID(), sizeof *a);
    if (a) a->cb = callBacks;
    return a;
}

void CFArrayAppendValue(CFMutableArrayRef a, const void *value) {
    if (a->count == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 8;
        a->values = realloc(a->values, (size_t)a->cap * sizeof *a->values);
        if (!a->values) abort();
    }
    a->values[a->count++] = (a->cb && a->cb->retain) ? a->cb->retain(NULL, value) : value;
}

CFArrayRef CFArrayCreate(CFAllocatorRef allocator, const void **values, CFIndex n,
                         const CFArrayCallBacks *callBacks) {
    CFMutableArrayRef a = CFArrayCreateMutable(allocator, n, callBacks);
    for (CFIndex i = 0; a && i < n; i++) CFArrayAppendValue(a, values[i]);
    return a;
}

CFIndex CFArrayGetCount(CFArrayRef a) { return a->count; }
const void *CFArrayGetValueAtIndex(CFArrayRef a, CFIndex i) {
    if (i < 0 || i >= a->count) abort();
    return a->values[i];
}

/* ------------------------------------------------------------------------------------------ */
/* Strings and data (UTF-8 bytes)                                                              */
/* ------------------------------------------------------------------------------------------ */

struct __CFString {
    CFRuntimeBase base;
    CFIndex len;
    UInt8 *bytes; /* NUL-terminated copy */
};
struct __CFData {
    CFRuntimeBase base;
    CFIndex len;
    UInt8 *bytes;
};

CFTypeID CFStringGetTypeID(void) {
    pthread_once(&cf_once, cf_init);
    return string_type;
}
CFTypeID CFDataGetTypeID(void) {
    pthread_once(&cf_once, cf_init);
    return data_type;
}

static void string_finalize(CFTypeRef cf) { free(((struct __CFString *)cf)->bytes); }

static bool valid_utf8(const UInt8 *s, CFIndex n) {
    CFIndex i = 0;
    while (i < n) {
        UInt8 c = s[i];
        int extra;
        uint32_t cp;
        if (c < 0x80) { i++; continue; }
        else if ((c & 0xe0) == 0xc0) { extra = 1; cp = c & 0x1f; }
        else if ((c & 0xf0) == 0xe0) { extra = 2; cp = c & 0x0f; }
        else if ((c & 0xf8) == 0xf0) { extra = 3; cp = c & 0x07; }
        else return false;
        if (i + extra >= n) return false;
        for (int k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += extra + 1;
    }
    return true;
}

static struct __CFString *make_bytes(CFTypeID type, const UInt8 *bytes, CFIndex n) {
    struct __CFString *s = (struct __CFString *)_CFRuntimeCreateInstance(type, sizeof *s);
    if (!s) return NULL;
    s->bytes = malloc((size_t)n + 1);
    if (!s->bytes) abort();
    if (n) memcpy(s->bytes, bytes, (size_t)n);
    s->bytes[n] = 0;
    s->len = n;
    return s;
}

CFStringRef CFStringCreateWithBytes(CFAllocatorRef alloc, const UInt8 *bytes, CFIndex n,
                                    CFStringEncoding encoding, Boolean isExternal) {
    (void)alloc;
    (void)isExternal;
    if (encoding != kCFStringEncodingUTF8 || n < 0 || !valid_utf8(bytes, n)) return NULL;
    return (CFStringRef)make_bytes(CFStringGetTypeID(), bytes, n);
}

CFStringRef CFStringCreateWithCString(CFAllocatorRef alloc, const char *cStr,
                                      CFStringEncoding encoding) {
    return CFStringCreateWithBytes(alloc, (const UInt8 *)cStr, (CFIndex)strlen(cStr), encoding,
                                   FALSE);
}

CFDataRef CFStringCreateExternalRepresentation(CFAllocatorRef alloc, CFStringRef str,
                                               CFStringEncoding encoding, UInt8 lossByte) {
    (void)alloc;
    (void)lossByte;
    if (encoding != kCFStringEncodingUTF8) return NULL;
    return (CFDataRef)make_bytes(CFDataGetTypeID(), str->bytes, str->len);
}

Boolean CFStringGetCString(CFStringRef s, char *buf, CFIndex size, CFStringEncoding encoding) {
    if (encoding != kCFStringEncodingUTF8 || s->len + 1 > size) return FALSE;
    memcpy(buf, s->bytes, (size_t)s->len + 1);
    return TRUE;
}

Boolean CFEqual(CFTypeRef a, CFTypeRef b) {
    if (a == b) return TRUE;
    if (CFGetTypeID(a) != CFStringGetTypeID() || CFGetTypeID(b) != CFStringGetTypeID())
        return FALSE;
    CFStringRef x = a, y = b;
    return x->len == y->len && memcmp(x->bytes, y->bytes, (size_t)x->len) == 0;
}

const UInt8 *CFDataGetBytePtr(CFDataRef d) { return d->bytes; }
CFIndex CFDataGetLength(CFDataRef d) { return d->len; }

static struct __CFString default_mode = {{0, 1}, 21, (UInt8 *)"kCFRunLoopDefaultMode"};
const CFStringRef kCFRunLoopDefaultMode = &default_mode;

static void cf_init(void) {
    array_type = _CFRuntimeRegisterClass("CFArray", array_finalize);
    string_type = _CFRuntimeRegisterClass("CFString", string_finalize);
    data_type = _CFRuntimeRegisterClass("CFData", string_finalize);
    rl_type = _CFRuntimeRegisterClass("CFRunLoop", rl_finalize);
    rls_type = _CFRuntimeRegisterClass("CFRunLoopSource", rls_finalize);
    default_mode.base._cfisa = string_type;
}

/* ------------------------------------------------------------------------------------------ */
/* Run loops                                                                                   */
/* ------------------------------------------------------------------------------------------ */

#define MAX_ENTRIES 16

struct __CFRunLoopSource {
    CFRuntimeBase base;
    CFRunLoopSourceContext ctx;
    atomic_int signaled;
    atomic_int valid;
    pthread_mutex_t lock;
    struct { CFRunLoopRef rl; CFStringRef mode; } in[MAX_ENTRIES];
    int count;
};

struct __CFRunLoop {
    CFRuntimeBase base;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool woken;
    struct { CFRunLoopSourceRef src; CFStringRef mode; } sources[MAX_ENTRIES];
    int count;
};

static _Thread_local CFRunLoopRef current_rl;

static void rl_finalize(CFTypeRef cf) {
    CFRunLoopRef rl = (CFRunLoopRef)cf;
    pthread_mutex_destroy(&rl->lock);
    pthread_cond_destroy(&rl->cond);
}

static void rls_finalize(CFTypeRef cf) {
    CFRunLoopSourceRef s = (CFRunLoopSourceRef)cf;
    if (s->ctx.release) s->ctx.release(s->ctx.info);
    pthread_mutex_destroy(&s->lock);
}

/* Test host: each thread's run loop lives until the process ends. */
CFRunLoopRef CFRunLoopGetCurrent(void) {
    pthread_once(&cf_once, cf_init);
    if (!current_rl) {
        current_rl = (CFRunLoopRef)_CFRuntimeCreateInstance(rl_type, sizeof *current_rl);
        pthread_mutex_init(&current_rl->lock, NULL);
        pthread_cond_init(&current_rl->cond, NULL);
    }
    return current_rl;
}

static bool same_mode(CFStringRef a, CFStringRef b) { return CFEqual(a, b); }

CFRunLoopSourceRef CFRunLoopSourceCreate(CFAllocatorRef allocator, CFIndex order,
                                         CFRunLoopSourceContext *context) {
    (void)allocator;
    (void)order;
    pthread_once(&cf_once, cf_init);
    if (context == NULL || context->version != 0) return NULL;
    CFRunLoopSourceRef s = (CFRunLoopSourceRef)_CFRuntimeCreateInstance(rls_type, sizeof *s);
    if (!s) return NULL;
    s->ctx = *context;
    if (s->ctx.retain) s->ctx.info = (void *)s->ctx.retain(s->ctx.info);
    atomic_store(&s->valid, 1);
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

void CFRunLoopAddSource(CFRunLoopRef rl, CFRunLoopSourceRef s, CFStringRef mode) {
    if (!atomic_load(&s->valid)) return;
    pthread_mutex_lock(&rl->lock);
    for (int i = 0; i < rl->count; i++)
        if (rl->sources[i].src == s && same_mode(rl->sources[i].mode, mode)) {
            pthread_mutex_unlock(&rl->lock);
            return;
        }
    if (rl->count == MAX_ENTRIES) abort();
    CFRetain(s);
    rl->sources[rl->count].src = s;
    rl->sources[rl->count].mode = mode;
    rl->count++;
    pthread_mutex_unlock(&rl->lock);
    pthread_mutex_lock(&s->lock);
    s->in[s->count].rl = rl;
    s->in[s->count].mode = mode;
    s->count++;
    pthread_mutex_unlock(&s->lock);
    if (s->ctx.schedule) s->ctx.schedule(s->ctx.info, rl, mode);
}

/* Removes (rl, mode) from both lists; returns whether it was there. */
static bool unlink_source(CFRunLoopRef rl, CFRunLoopSourceRef s, CFStringRef mode) {
    bool found = false;
    pthread_mutex_lock(&rl->lock);
    for (int i = 0; i < rl->count; i++)
        if (rl->sources[i].src == s && same_mode(rl->sources[i].mode, mode)) {
            rl->sources[i] = rl->sources[--rl->count];
            found = true;
            break;
        }
    pthread_mutex_unlock(&rl->lock);
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->count; i++)
        if (s->in[i].rl == rl && same_mode(s->in[i].mode, mode)) {
            s->in[i] = s->in[--s->count];
            break;
        }
    pthread_mutex_unlock(&s->lock);
    return found;
}

void CFRunLoopRemoveSource(CFRunLoopRef rl, CFRunLoopSourceRef s, CFStringRef mode) {
    if (!unlink_source(rl, s, mode)) return;
    if (s->ctx.cancel) s->ctx.cancel(s->ctx.info, rl, mode);
    CFRelease(s);
}

void CFRunLoopSourceInvalidate(CFRunLoopSourceRef s) {
    CFRetain(s);
    atomic_store(&s->valid, 0);
    for (;;) {
        pthread_mutex_lock(&s->lock);
        if (s->count == 0) {
            pthread_mutex_unlock(&s->lock);
            break;
        }
        CFRunLoopRef rl = s->in[0].rl;
        CFStringRef mode = s->in[0].mode;
        pthread_mutex_unlock(&s->lock);
        CFRunLoopRemoveSource(rl, s, mode);
    }
    CFRelease(s);
}

Boolean CFRunLoopSourceIsValid(CFRunLoopSourceRef s) { return (Boolean)atomic_load(&s->valid); }

void CFRunLoopSourceSignal(CFRunLoopSourceRef s) { atomic_store(&s->signaled, 1); }

void CFRunLoopWakeUp(CFRunLoopRef rl) {
    pthread_mutex_lock(&rl->lock);
    rl->woken = true;
    pthread_cond_broadcast(&rl->cond);
    pthread_mutex_unlock(&rl->lock);
}

SInt32 CFRunLoopRunInMode(CFStringRef mode, CFTimeInterval seconds, Boolean returnAfterSourceHandled) {
    CFRunLoopRef rl = CFRunLoopGetCurrent();
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)seconds;
    deadline.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    bool handled = false;
    pthread_mutex_lock(&rl->lock);
    for (;;) {
        CFRunLoopSourceRef ready = NULL;
        int in_mode = 0;
        for (int i = 0; i < rl->count; i++) {
            if (!same_mode(rl->sources[i].mode, mode)) continue;
            in_mode++;
            if (!ready && atomic_exchange(&rl->sources[i].src->signaled, 0)) ready = rl->sources[i].src;
        }
        if (ready) {
            CFRetain(ready);
            pthread_mutex_unlock(&rl->lock);
            if (ready->ctx.perform) ready->ctx.perform(ready->ctx.info);
            CFRelease(ready);
            handled = true;
            if (returnAfterSourceHandled) return kCFRunLoopRunHandledSource;
            pthread_mutex_lock(&rl->lock);
            continue;
        }
        if (in_mode == 0) {
            pthread_mutex_unlock(&rl->lock);
            return kCFRunLoopRunFinished;
        }
        if (rl->woken) {
            rl->woken = false;
            continue;
        }
        int r = pthread_cond_timedwait(&rl->cond, &rl->lock, &deadline);
        if (r == ETIMEDOUT) {
            rl->woken = false;
            pthread_mutex_unlock(&rl->lock);
            return handled ? kCFRunLoopRunHandledSource : kCFRunLoopRunTimedOut;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Dispatch                                                                                    */
/* ------------------------------------------------------------------------------------------ */

enum { KIND_QUEUE = 1, KIND_SEMAPHORE = 2 };

struct object_header {
    int kind;
    atomic_long refs;
};

struct work {
    struct work *next;
    void *ctx;
    dispatch_function_t fn;
};

struct dispatch_queue_s {
    struct object_header h;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct work *head, *tail;
    bool dying;
    int workers;
};

struct dispatch_semaphore_s {
    struct object_header h;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    long value;
};

static void *queue_worker(void *arg) {
    dispatch_queue_t q = arg;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (!q->head && !q->dying) pthread_cond_wait(&q->cond, &q->lock);
        if (!q->head) break; /* dying and empty */
        struct work *w = q->head;
        q->head = w->next;
        if (!q->head) q->tail = NULL;
        pthread_mutex_unlock(&q->lock);
        w->fn(w->ctx);
        free(w);
        dispatch_release(q); /* the work item's reference */
        pthread_mutex_lock(&q->lock);
    }
    bool last = --q->workers == 0;
    pthread_mutex_unlock(&q->lock);
    if (last) {
        pthread_mutex_destroy(&q->lock);
        pthread_cond_destroy(&q->cond);
        free(q);
    }
    return NULL;
}

dispatch_queue_t dispatch_queue_create(const char *label, dispatch_queue_attr_t attr) {
    (void)label;
    dispatch_queue_t q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->h.kind = KIND_QUEUE;
    atomic_store(&q->h.refs, 1);
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    int n = attr == DISPATCH_QUEUE_SERIAL ? 1 : 4;
    q->workers = n;
    for (int i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, queue_worker, q) != 0) abort();
        pthread_detach(t);
    }
    return q;
}

void dispatch_async_f(dispatch_queue_t q, void *ctx, dispatch_function_t fn) {
    struct work *w = malloc(sizeof *w);
    if (!w) abort();
    w->next = NULL;
    w->ctx = ctx;
    w->fn = fn;
    dispatch_retain(q);
    pthread_mutex_lock(&q->lock);
    if (q->tail) q->tail->next = w; else q->head = w;
    q->tail = w;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

struct sync_ctx {
    void *ctx;
    dispatch_function_t fn;
    dispatch_semaphore_t done;
};

static void sync_trampoline(void *arg) {
    struct sync_ctx *s = arg;
    s->fn(s->ctx);
    dispatch_semaphore_signal(s->done);
}

void dispatch_sync_f(dispatch_queue_t q, void *ctx, dispatch_function_t fn) {
    struct sync_ctx s = {ctx, fn, dispatch_semaphore_create(0)};
    dispatch_async_f(q, &s, sync_trampoline);
    dispatch_semaphore_wait(s.done, DISPATCH_TIME_FOREVER);
    dispatch_release(s.done);
}

void dispatch_retain(void *object) {
    struct object_header *h = object;
    if (atomic_fetch_add(&h->refs, 1) <= 0) abort();
}

void dispatch_release(void *object) {
    struct object_header *h = object;
    long before = atomic_fetch_sub(&h->refs, 1);
    if (before <= 0) {
        fprintf(stderr, "test host: dispatch object over-released\n");
        abort();
    }
    if (before > 1) return;
    if (h->kind == KIND_QUEUE) {
        dispatch_queue_t q = object;
        pthread_mutex_lock(&q->lock);
        q->dying = true; /* every queued item holds a reference, so the queue is empty */
        pthread_cond_broadcast(&q->cond);
        pthread_mutex_unlock(&q->lock);
    } else {
        dispatch_semaphore_t s = object;
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cond);
        free(s);
    }
}

dispatch_time_t dispatch_time(dispatch_time_t when, int64_t delta) {
    if (when == DISPATCH_TIME_FOREVER) return when;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t base = when ? when : (uint64_t)now.tv_sec * NSEC_PER_SEC + (uint64_t)now.tv_nsec;
    return base + (uint64_t)delta;
}

dispatch_semaphore_t dispatch_semaphore_create(long value) {
    dispatch_semaphore_t s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->h.kind = KIND_SEMAPHORE;
    atomic_store(&s->h.refs, 1);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->value = value;
    return s;
}

long dispatch_semaphore_signal(dispatch_semaphore_t s) {
    pthread_mutex_lock(&s->lock);
    s->value++;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

long dispatch_semaphore_wait(dispatch_semaphore_t s, dispatch_time_t timeout) {
    struct timespec deadline = {(time_t)(timeout / NSEC_PER_SEC), (long)(timeout % NSEC_PER_SEC)};
    pthread_mutex_lock(&s->lock);
    while (s->value <= 0) {
        if (timeout == DISPATCH_TIME_FOREVER) {
            pthread_cond_wait(&s->cond, &s->lock);
        } else if (pthread_cond_timedwait(&s->cond, &s->lock, &deadline) == ETIMEDOUT &&
                   s->value <= 0) {
            pthread_mutex_unlock(&s->lock);
            return 1;
        }
    }
    s->value--;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* SystemConfiguration                                                                         */
/* ------------------------------------------------------------------------------------------ */

static _Thread_local int sc_error;

void _SCErrorSet(int error) { sc_error = error; }
int SCError(void) { return sc_error; }

int _SCEncodeKeyList(CFArrayRef array, uint8_t *buf, size_t cap, size_t *outLen) {
    *outLen = 0;
    if (array == NULL) return 0;
    if (CFGetTypeID(array) != CFArrayGetTypeID()) return -1;
    size_t off = 0;
    for (CFIndex i = 0; i < CFArrayGetCount(array); i++) {
        CFTypeRef v = CFArrayGetValueAtIndex(array, i);
        if (v == NULL || CFGetTypeID(v) != CFStringGetTypeID()) return -1;
        CFDataRef d = CFStringCreateExternalRepresentation(NULL, v, kCFStringEncodingUTF8, 0);
        if (d == NULL) return -1;
        size_t len = (size_t)CFDataGetLength(d);
        if (off + 4 + len > cap) {
            CFRelease(d);
            return -1;
        }
        uint32_t le = (uint32_t)len; /* little-endian host */
        memcpy(buf + off, &le, 4);
        memcpy(buf + off + 4, CFDataGetBytePtr(d), len);
        off += 4 + len;
        CFRelease(d);
    }
    *outLen = off;
    return 0;
}

/* The scnotify library's entry point the finalizer calls (declared in SCInternal.h). */
extern void __SCDynamicStoreNotifyCancel(SCDynamicStoreRef store);

static pthread_once_t sc_once = PTHREAD_ONCE_INIT;
static CFTypeID store_type;

static void store_finalize(CFTypeRef cf) {
    SCDynamicStorePrivate *s = (SCDynamicStorePrivate *)cf;
    __SCDynamicStoreNotifyCancel((SCDynamicStoreRef)s);
    if (s->rls) {
        CFRunLoopSourceInvalidate(s->rls);
        CFRelease(s->rls);
        s->rls = NULL;
    }
    if (s->server != MACH_PORT_NULL) mach_port_deallocate(mach_task_self(), s->server);
    if (s->name) CFRelease(s->name);
    if (s->rlsContext.release) s->rlsContext.release(s->rlsContext.info);
}

static void sc_init(void) { store_type = _CFRuntimeRegisterClass("SCDynamicStore", store_finalize); }

CFTypeID SCDynamicStoreGetTypeID(void) {
    pthread_once(&sc_once, sc_init);
    return store_type;
}

#define ROUND4(n) (((n) + 3u) & ~3u)

/* One MIG exchange with a private reply port (created and destroyed here, so nothing is
 * cached). `msg` holds the request and receives the reply; returns the mach_msg result or
 * MIG_REPLY_MISMATCH. */
static kern_return_t host_rpc(mach_port_t dest, mach_msg_header_t *msg, mach_msg_size_t size,
                              mach_msg_size_t cap) {
    mach_port_t reply;
    kern_return_t kr = mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &reply);
    if (kr != KERN_SUCCESS) return kr;
    mach_msg_id_t id = msg->msgh_id;
    msg->msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    msg->msgh_size = size;
    msg->msgh_remote_port = dest;
    msg->msgh_local_port = reply;
    msg->msgh_voucher_port = 0;
    kr = mach_msg(msg, MACH_SEND_MSG | MACH_RCV_MSG, size, cap, reply, MACH_MSG_TIMEOUT_NONE,
                  MACH_PORT_NULL);
    mach_port_mod_refs(mach_task_self(), reply, MACH_PORT_RIGHT_RECEIVE, -1);
    if (kr == KERN_SUCCESS && msg->msgh_id != id + 100) kr = MIG_REPLY_MISMATCH;
    return kr;
}

static const uint8_t ndr[8] = {0, 0, 0, 0, 1, 0, 0, 0};

/* configopen on the bootstrap-registered configd; MACH_PORT_NULL on failure. */
static mach_port_t host_configopen(void) {
    mach_port_t service;
    if (bootstrap_look_up(bootstrap_port, "com.apple.SystemConfiguration.configd", &service) !=
        KERN_SUCCESS)
        return MACH_PORT_NULL;
    union {
        mach_msg_header_t h;
        uint8_t b[256];
    } m;
    memset(&m, 0, sizeof m);
    memcpy(m.b + 24, ndr, 8); /* nameCnt = optionsCnt = 0 */
    m.h.msgh_id = 20000;
    kern_return_t kr = host_rpc(service, &m.h, 40, sizeof m);
    mach_port_deallocate(mach_task_self(), service);
    if (kr != KERN_SUCCESS || !(m.h.msgh_bits & MACH_MSGH_BITS_COMPLEX) || m.h.msgh_size != 52)
        return MACH_PORT_NULL;
    mach_port_t session;
    int32_t status;
    memcpy(&session, m.b + 28, 4);
    memcpy(&status, m.b + 48, 4);
    if (status != 0) {
        mach_port_deallocate(mach_task_self(), session);
        return MACH_PORT_NULL;
    }
    return session;
}

SCDynamicStoreRef SCDynamicStoreCreate(CFAllocatorRef allocator, CFStringRef name,
                                       SCDynamicStoreCallBack callout,
                                       SCDynamicStoreContext *context) {
    (void)allocator;
    SCDynamicStorePrivate *s =
        (SCDynamicStorePrivate *)_CFRuntimeCreateInstance(SCDynamicStoreGetTypeID(), sizeof *s);
    if (!s) return NULL;
    s->name = name ? CFRetain(name) : NULL;
    s->rlsFunction = callout;
    if (context) {
        s->rlsContext = *context;
        if (context->retain) s->rlsContext.info = (void *)context->retain(context->info);
    }
    s->notifyStatus = NotifierNotRegistered;
    s->server = host_configopen();
    if (s->server == MACH_PORT_NULL) _SCErrorSet(kSCStatusNoStoreServer);
    return (SCDynamicStoreRef)s;
}

/* configset / confignotify with the key (and value) as UTF-8 bytes. */
static Boolean host_key_rpc(SCDynamicStoreRef store, mach_msg_id_t id, CFStringRef key,
                            CFStringRef value) {
    if (store == NULL || CFGetTypeID(store) != SCDynamicStoreGetTypeID()) {
        _SCErrorSet(kSCStatusNoStoreSession);
        return FALSE;
    }
    if (store->server == MACH_PORT_NULL) {
        _SCErrorSet(kSCStatusNoStoreServer);
        return FALSE;
    }
    union {
        mach_msg_header_t h;
        uint8_t b[24 + 8 + 4 + 8192 + 4 + 8192 + 4 + 68];
    } m;
    memset(&m, 0, sizeof m);
    memcpy(m.b + 24, ndr, 8);
    uint32_t off = 32;
    uint32_t klen = (uint32_t)key->len;
    memcpy(m.b + off, &klen, 4);
    memcpy(m.b + off + 4, key->bytes, klen);
    off += 4 + ROUND4(klen);
    if (value) {
        uint32_t vlen = (uint32_t)value->len;
        memcpy(m.b + off, &vlen, 4);
        memcpy(m.b + off + 4, value->bytes, vlen);
        off += 4 + ROUND4(vlen);
        off += 4; /* instance = 0 */
    }
    m.h.msgh_id = id;
    kern_return_t kr = host_rpc(store->server, &m.h, off, sizeof m);
    if (kr != KERN_SUCCESS || m.h.msgh_size < 40) {
        _SCErrorSet(kSCStatusFailed);
        return FALSE;
    }
    int32_t retcode, status;
    memcpy(&retcode, m.b + 32, 4);
    if (retcode != 0) {
        _SCErrorSet(kSCStatusFailed);
        return FALSE;
    }
    memcpy(&status, m.b + m.h.msgh_size - 4, 4);
    if (status != 0) {
        _SCErrorSet(status);
        return FALSE;
    }
    return TRUE;
}

Boolean SCDynamicStoreSetValue(SCDynamicStoreRef store, CFStringRef key, CFStringRef value) {
    return host_key_rpc(store, 20011, key, value);
}

Boolean SCDynamicStoreNotifyValue(SCDynamicStoreRef store, CFStringRef key) {
    return host_key_rpc(store, 20015, key, NULL);
}
