/*
 * STAGE 4 DEMO ONLY: the C part of a libIOKit-shaped shared library (scripts/stage4-demo,
 * docs/stage4-linking.md). It stands in for NextBSD's IOKitLib.c / IOKitMatching.c: the private
 * IOKitInternal.h contract the switched IOKitNotify (libiokit_notify.a) imports
 * (iokit-notify.md §3) and the few public calls the demo uses. It is not libIOKit.
 *
 * Kernel access goes where NextBSD's would: /dev/ioregistry is opened on the kernel
 * (mach_sim_trap_open in libmach_sim.so, where NextBSD calls open(2)). CFRelease and the
 * dispatch calls come from the CoreFoundation / libdispatch stand-in that the demo's
 * libSystemConfiguration carries (tests/c/scnotify/host.c); a matching dictionary is an object
 * of that CoreFoundation, so the switched library's CFRelease(matching) frees it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <IOKitNotify.h>
#include <iokit_sim.h> /* struct ioreg_node and IOREGIOCNODE: the kernel's wire structures */
#include <mach_sim_so.h>

#include "IOKitLib.h"

/* The CoreFoundation stand-in of the process (exported by the demo's libSystemConfiguration). */
typedef const void *CFTypeRef;
typedef unsigned long CFTypeID;
CFTypeID _CFRuntimeRegisterClass(const char *name, void (*finalize)(CFTypeRef cf));
CFTypeRef _CFRuntimeCreateInstance(CFTypeID type, size_t size);
void CFRelease(CFTypeRef cf);

/* ---- /dev/ioregistry ----------------------------------------------------------------------- */

static pthread_once_t registry_once = PTHREAD_ONCE_INIT;
static int registry_fd = -1;

static void registry_open(void) { registry_fd = mach_sim_trap_open("/dev/ioregistry", O_RDWR); }

int __io_ioregistry_fd(void)
{
    pthread_once(&registry_once, registry_open);
    return registry_fd;
}

/* ---- registry objects (IOKitInternal.h's struct __IOObject) --------------------------------- */

struct __IOObject {
    uint32_t kind; /* 1 = entry, 2 = iterator */
    atomic_int refcnt;
    uint64_t node_id;
    uint64_t *ids; /* iterators: malloc'ed by the switched library, freed with the object */
    uint32_t count;
    uint32_t cursor;
};

static atomic_long objects_live;

static struct __IOObject *object_new(uint32_t kind)
{
    struct __IOObject *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return NULL;
    o->kind = kind;
    atomic_store(&o->refcnt, 1);
    atomic_fetch_add(&objects_live, 1);
    return o;
}

io_object_t __io_alloc_iterator(uint64_t *ids, uint32_t n)
{
    struct __IOObject *o = object_new(2);
    if (o == NULL) {
        free(ids); /* ownership of ids is taken even on failure */
        return NULL;
    }
    o->ids = ids;
    o->count = n;
    return o;
}

io_object_t IOIteratorNext(io_iterator_t it)
{
    if (it == NULL || it->kind != 2 || it->cursor >= it->count)
        return NULL;
    struct __IOObject *e = object_new(1);
    if (e != NULL)
        e->node_id = it->ids[it->cursor++];
    return e;
}

kern_return_t IOObjectRelease(io_object_t o)
{
    if (o == NULL)
        return KERN_SUCCESS;
    if (atomic_fetch_sub(&o->refcnt, 1) == 1) {
        free(o->ids);
        free(o);
        atomic_fetch_sub(&objects_live, 1);
    }
    return KERN_SUCCESS;
}

kern_return_t IORegistryEntryGetName(io_object_t entry, char name[128])
{
    struct ioreg_node node;
    if (entry == NULL || entry->kind != 1 || name == NULL)
        return KERN_INVALID_ARGUMENT;
    memset(&node, 0, sizeof(node));
    node.id = entry->node_id;
    if (mach_sim_trap_ioctl(__io_ioregistry_fd(), IOREGIOCNODE, &node) != 0)
        return errno == ENOENT ? 0x2f0 /* kIOReturnNotFound */ : 0x2bc /* kIOReturnError */;
    memset(name, 0, 128);
    memcpy(name, node.name, sizeof(node.name) < 127 ? sizeof(node.name) : 127);
    return KERN_SUCCESS;
}

long IOKitDemoObjectsLive(void) { return atomic_load(&objects_live); }

/* ---- matching dictionaries ------------------------------------------------------------------ */

struct io_criteria {
    char name[32];
    char klass[32];
    char driver[32];
};

struct matching {
    uint64_t cf_header[2]; /* CFRuntimeBase of the CoreFoundation stand-in */
    struct io_criteria criteria;
};

static pthread_once_t matching_once = PTHREAD_ONCE_INIT;
static CFTypeID matching_type;

static void matching_register(void) { matching_type = _CFRuntimeRegisterClass("IOMatching", NULL); }

CFDictionaryRef IOServiceMatching(const char *klass)
{
    pthread_once(&matching_once, matching_register);
    struct matching *m = (struct matching *)_CFRuntimeCreateInstance(matching_type, sizeof(*m));
    if (m != NULL && klass != NULL)
        strncpy(m->criteria.klass, klass, sizeof(m->criteria.klass) - 1);
    return (CFDictionaryRef)m;
}

void __io_extract_criteria(CFDictionaryRef matching, struct io_criteria *out)
{
    memset(out, 0, sizeof(*out));
    if (matching != NULL)
        *out = ((const struct matching *)(const void *)matching)->criteria;
}
