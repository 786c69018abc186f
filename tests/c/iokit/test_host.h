/*
 * TEST HOST for the iokit-notify static library — NOT libIOKit, NOT libdispatch, NOT CoreFoundation.
 *
 * The iokit-notify static library replaces NextBSD's IOKitNotify.c and, like it, imports a few
 * symbols from its host library (libIOKit's private IOKitInternal.h contract, CFRelease, and
 * three libdispatch calls; spec iokit-notify.md §3). On Linux there is no libIOKit, so the C
 * tests link this minimal stand-in, which implements exactly those contracts over the simulated
 * registry of the global simulated kernel (<iokit_sim.h>):
 *
 *   - __io_ioregistry_fd, __io_alloc_iterator, __io_alloc_entry, __io_node,
 *     __io_extract_criteria, __io_fill_criteria: as IOKitInternal.h specifies them;
 *   - IOServiceGetMatchingServices (LOOKUP with max = 128, truncating as NextBSD's does),
 *     IOIteratorNext, IOObjectRetain, IOObjectRelease, IORegistryEntryGetName;
 *   - an opaque matching dictionary (IOServiceMatching / IOServiceNameMatching /
 *     host_matching) and CFRelease of it;
 *   - serial dispatch queues: dispatch_queue_create, dispatch_retain, dispatch_release,
 *     dispatch_async_f (each queue runs its work items in order on its own worker pthread),
 *     dispatch_sync_f.
 *
 * It also counts live objects so tests can assert that nothing leaked or was freed twice.
 */
#ifndef IOKIT_TEST_HOST_H
#define IOKIT_TEST_HOST_H

#include <stdatomic.h>
#include <stdint.h>

#include <IOKitNotify.h>
#include <iokit_sim.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- libIOKit's private contract (IOKitInternal.h) --------------------------------------- */

/* The client-side object behind io_object_t (32 bytes). */
struct __IOObject {
    uint32_t kind; /* 1 = entry, 2 = iterator */
    atomic_int refcnt;
    uint64_t node_id; /* entries */
    uint64_t *ids;    /* iterators; malloc'ed, freed with the object */
    uint32_t count;
    uint32_t cursor;
};
#define IO_OBJECT_KIND_ENTRY 1u
#define IO_OBJECT_KIND_ITERATOR 2u

struct io_criteria {
    char name[32];
    char klass[32];
    char driver[32];
};

int __io_ioregistry_fd(void);
io_object_t __io_alloc_iterator(uint64_t *ids, uint32_t n);
io_object_t __io_alloc_entry(uint64_t id);
kern_return_t __io_node(uint64_t id, uint64_t *parent, int32_t *state, char name[32],
                        char klass[32], char driver[32], char path[256]);
void __io_extract_criteria(CFDictionaryRef matching, struct io_criteria *out);
void __io_fill_criteria(const struct io_criteria *in, struct ioreg_criteria *out);

/* ---- public libIOKit calls the tests use ------------------------------------------------- */

typedef io_object_t io_registry_entry_t;
#define IO_OBJECT_NULL ((io_object_t)0)

kern_return_t IOServiceGetMatchingServices(mach_port_t mainPort, CFDictionaryRef matching,
                                           io_iterator_t *existing);
io_object_t IOIteratorNext(io_iterator_t iterator);
kern_return_t IOObjectRetain(io_object_t object);
kern_return_t IOObjectRelease(io_object_t object);
kern_return_t IORegistryEntryGetName(io_registry_entry_t entry, io_name_t name);

/* ---- CoreFoundation stand-in: an opaque matching dictionary ------------------------------ */

typedef const void *CFTypeRef;
typedef struct __CFDictionary *CFMutableDictionaryRef;
void CFRelease(CFTypeRef cf);
/* {IOProviderClass: klass} */
CFMutableDictionaryRef IOServiceMatching(const char *klass);
/* {IONameMatch: name} */
CFMutableDictionaryRef IOServiceNameMatching(const char *name);
/* Any combination; NULL leaves a key out. `driver` has no IOKit key: this host maps it so the
 * driver criterion (spec §6 #2) can be tested end to end. */
CFMutableDictionaryRef host_matching(const char *name, const char *klass, const char *driver);

/* ---- libdispatch stand-in: serial queues ------------------------------------------------- */

typedef void (*dispatch_function_t)(void *context);
dispatch_queue_t dispatch_queue_create(const char *label, const void *attr);
void dispatch_retain(void *object);
void dispatch_release(void *object);
void dispatch_async_f(dispatch_queue_t queue, void *context, dispatch_function_t work);
void dispatch_sync_f(dispatch_queue_t queue, void *context, dispatch_function_t work);

/* ---- test-host extras --------------------------------------------------------------------- */

/* The queue whose worker is running the caller, or NULL off any queue worker. */
dispatch_queue_t host_current_queue(void);
/* Make __io_ioregistry_fd() report a kernel without /dev/ioregistry (-1). */
void host_set_registry_absent(int absent);
/* The next `n` __io_alloc_iterator calls fail (return NULL, freeing the ids) as on ENOMEM. */
void host_fail_iterator_allocs(int n);
/* ioctl on the simulated /dev/ioregistry: 0, or -1 with errno set, like ioctl(2). */
int host_ioctl(int fd, unsigned long cmd, void *arg);
/* Live counts, for leak and double-free checks. */
long host_cf_live(void);
long host_io_objects_live(void);
long host_queues_live(void);
/* The most work items a queue ever held queued and not yet started. */
int host_queue_peak_depth(dispatch_queue_t queue);
/* Total dispatch_async_f calls so far. */
long host_async_calls(void);

#ifdef __cplusplus
}
#endif

#endif /* IOKIT_TEST_HOST_H */
