/*
 * STAGE 4 DEMO ONLY: the public calls of the demo's libIOKit C part (IOKitLib.c) besides the
 * switched IOKitNotify's <IOKitNotify.h>.
 */
#ifndef STAGE4_IOKITLIB_H
#define STAGE4_IOKITLIB_H

#include <IOKitNotify.h>

#ifdef __cplusplus
extern "C" {
#endif

/* {IOProviderClass: klass}, a CoreFoundation object (CFRelease). */
CFDictionaryRef IOServiceMatching(const char *klass);
/* The next entry of an iterator (NULL at the end); release it with IOObjectRelease. */
io_object_t IOIteratorNext(io_iterator_t iterator);
kern_return_t IOObjectRelease(io_object_t object);
/* The entry's device name (128 bytes, NUL-terminated). */
kern_return_t IORegistryEntryGetName(io_object_t entry, char name[128]);
/* Live registry objects (entries and iterators) of this library: a leak check for the demo. */
long IOKitDemoObjectsLive(void);

#ifdef __cplusplus
}
#endif

#endif
