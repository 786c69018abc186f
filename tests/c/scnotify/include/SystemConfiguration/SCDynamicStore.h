/*
 * TEST HOST ONLY. The part of <SystemConfiguration/SCDynamicStore.h> and NextBSD's private
 * SCInternal.h that the scnotify C tests need: the store type, its private structure (the layout
 * libSystemConfiguration's SCDynamicStore.c uses), the SC error helpers and a minimal
 * SCDynamicStoreCreate / SetValue / NotifyValue that talk to configd over the simulated kernel.
 */
#ifndef SCNOTIFY_TEST_HOST_SCDYNAMICSTORE_H
#define SCNOTIFY_TEST_HOST_SCDYNAMICSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <CoreFoundation/CoreFoundation.h>
#include <dispatch/dispatch.h>
#include <mach/mach.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef const struct __SCDynamicStore *SCDynamicStoreRef;

typedef struct {
    CFIndex version;
    void *info;
    const void *(*retain)(const void *info);
    void (*release)(const void *info);
    CFStringRef (*copyDescription)(const void *info);
} SCDynamicStoreContext;

typedef void (*SCDynamicStoreCallBack)(SCDynamicStoreRef store, CFArrayRef changedKeys,
                                       void *info);

enum {
    kSCStatusOK = 0,
    kSCStatusFailed = 1001,
    kSCStatusInvalidArgument = 1002,
    kSCStatusAccessError = 1003,
    kSCStatusNoKey = 1004,
    kSCStatusKeyExists = 1005,
    kSCStatusNoStoreSession = 2001,
    kSCStatusNoStoreServer = 2002,
    kSCStatusNotifierActive = 2003
};

/* NextBSD SCInternal.h */
enum {
    NotifierNotRegistered = 0,
    Using_NotifierInformViaDispatch = 1,
    Using_NotifierInformViaRunLoop = 2
};

typedef struct __SCDynamicStore {
    CFRuntimeBase cfBase;
    CFStringRef name;
    CFDictionaryRef options;
    mach_port_t server;
    SCDynamicStoreCallBack rlsFunction;
    SCDynamicStoreContext rlsContext;
    int notifyStatus;
    mach_port_t notifyPort;
    void *notifySource; /* dispatch_source_t in SCNotify.c; the scnotify library's state */
    dispatch_queue_t notifyQueue;
    dispatch_queue_t dispatchQueue;
    CFRunLoopSourceRef rls;
    CFRunLoopRef rlsRunLoop;
    int rlsScheduled;
} SCDynamicStorePrivate;

CFTypeID SCDynamicStoreGetTypeID(void);
/* Opens a configd session (bootstrap look-up + configopen). If configd is not running the store
 * is still created, with server == MACH_PORT_NULL, and SCError() is kSCStatusNoStoreServer. */
SCDynamicStoreRef SCDynamicStoreCreate(CFAllocatorRef allocator, CFStringRef name,
                                       SCDynamicStoreCallBack callout,
                                       SCDynamicStoreContext *context);
/* Test host: stores the value string's UTF-8 bytes (configset). */
Boolean SCDynamicStoreSetValue(SCDynamicStoreRef store, CFStringRef key, CFStringRef value);
Boolean SCDynamicStoreNotifyValue(SCDynamicStoreRef store, CFStringRef key);

int SCError(void);
void _SCErrorSet(int error);
int _SCEncodeKeyList(CFArrayRef array, uint8_t *buf, size_t cap, size_t *outLen);

#ifdef __cplusplus
}
#endif

#endif
