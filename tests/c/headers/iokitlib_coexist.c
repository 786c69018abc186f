/*
 * <IOKitNotify.h> in one translation unit with the system's <IOKit/IOKitLib.h>, compiled with
 * -Wall -Wextra -Werror (c-abi-tests/tests/headers.rs), in both include orders
 * (IOKITLIB_FIRST defined or not).
 *
 * The IOKitLib.h declarations below are written by this project from the public facts of
 * NextBSD's libIOKit header (spec iokit-notify.md §2): io_object_t is `struct __IOObject *`,
 * io_name_t is `char[128]`, the return codes are NextBSD's values (no 0xe0000000 prefix), the
 * notification-type macros are the four strings, and IOServiceAddMatchingNotification takes
 * `const io_name_t`. Compiled three ways: IOKitLib.h first with its return codes spelled as an
 * expression (IOKITLIB_EXPR_CODES: an unguarded redefinition in IOKitNotify.h would be a
 * "macro redefined" error), IOKitLib.h first with plain constants, and IOKitNotify.h first with
 * plain constants and IOKIT_NOTIFY_IOKITLIB_PROTOTYPE (so that it declares the `const io_name_t`
 * prototype before IOKitLib.h does).
 */

#ifdef IOKITLIB_FIRST
#include "iokitlib_style.h"
#include <IOKitNotify.h>
#else
#include <IOKitNotify.h>
#include "iokitlib_style.h"
#endif

/* Uses every shared declaration, so a conflicting type is an error too. */
static void on_match(void *refcon, io_iterator_t iterator) {
    (void)refcon;
    (void)iterator;
}

int main(void) {
    io_name_t type = kIOPublishNotification;
    io_iterator_t it = 0;
    IONotificationPortRef port = 0;
    IOServiceMatchingCallback cb = on_match;
    kern_return_t (*add)(IONotificationPortRef, const io_name_t, CFDictionaryRef,
                         IOServiceMatchingCallback, void *, io_iterator_t *) =
        IOServiceAddMatchingNotification;
    IOReturn codes[] = {kIOReturnError, kIOReturnNoDevice, kIOReturnBadArgument,
                        kIOReturnNotFound, kIOReturnUnsupported};
    (void)type;
    (void)it;
    (void)port;
    (void)cb;
    (void)add;
    return (codes[0] == 0x2bc && codes[1] == 0x2c0 && codes[2] == 0x2c9 && codes[3] == 0x2f0 &&
            codes[4] == 0x2c7)
               ? 0
               : 1;
}
