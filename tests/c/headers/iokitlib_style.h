/*
 * A stand-in for the system's <IOKit/IOKitLib.h> (NextBSD libIOKit), written by this project
 * from the header's public facts (spec iokit-notify.md §2) for the coexistence test
 * iokitlib_coexist.c. Not installed; not a copy of any real header.
 */
/* The include guard of Apple's and NextBSD's IOKitLib.h. */
#ifndef __IOKIT_IOKITLIB_H
#define __IOKIT_IOKITLIB_H

#include <mach/mach.h>

#define kIOReturnSuccess KERN_SUCCESS
#ifdef IOKITLIB_EXPR_CODES
/* Return codes as an IOReturn.h-style expression: same values, other tokens. Only works with
 * this header first (IOKitNotify.h then keeps these); the other order would be a redefinition
 * in this (unguarded) header, which IOKitNotify.h cannot prevent. */
#define iokit_common_err(ret) ((IOReturn)(ret))
#define kIOReturnError iokit_common_err(0x2bc)
#define kIOReturnNoDevice iokit_common_err(0x2c0)
#define kIOReturnBadArgument iokit_common_err(0x2c9)
#define kIOReturnNotFound iokit_common_err(0x2f0)
#else
/* Return codes as plain hexadecimal constants: the same tokens as IOKitNotify.h, so a repeated
 * definition is legal in either order. */
#define kIOReturnError 0x2bc
#define kIOReturnNoDevice 0x2c0
#define kIOReturnBadArgument 0x2c9
#define kIOReturnNotFound 0x2f0
#endif

#define kIOPublishNotification "IOServicePublish"
#define kIOFirstMatchNotification "IOServiceFirstMatch"
#define kIOMatchedNotification "IOServiceMatched"
#define kIOTerminatedNotification "IOServiceTerminate"

typedef kern_return_t IOReturn;
struct __IOObject;
typedef struct __IOObject *io_object_t;
typedef io_object_t io_iterator_t;
typedef io_object_t io_service_t;
typedef io_object_t io_registry_entry_t;
typedef char io_name_t[128];
#define IO_OBJECT_NULL ((io_object_t)0)

typedef const struct __CFDictionary *CFDictionaryRef;
typedef struct dispatch_queue_s *dispatch_queue_t;

typedef struct IONotificationPort *IONotificationPortRef;
typedef void (*IOServiceMatchingCallback)(void *refcon, io_iterator_t iterator);

IONotificationPortRef IONotificationPortCreate(mach_port_t mainPort);
void IONotificationPortDestroy(IONotificationPortRef notify);
void IONotificationPortSetDispatchQueue(IONotificationPortRef notify, dispatch_queue_t queue);
mach_port_t IONotificationPortGetMachPort(IONotificationPortRef notify);
kern_return_t IOServiceAddMatchingNotification(IONotificationPortRef notifyPort,
                                               const io_name_t notification_type,
                                               CFDictionaryRef matching,
                                               IOServiceMatchingCallback callback, void *refCon,
                                               io_iterator_t *notification);

#endif
