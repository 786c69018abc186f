/*
 * TEST HOST ONLY. A minimal libdispatch subset for the scnotify C tests on Linux: serial and
 * concurrent queues backed by pthreads, dispatch_async_f / dispatch_sync_f, semaphores, and
 * reference counting. It is not libdispatch and implements nothing else.
 */
#ifndef SCNOTIFY_TEST_HOST_DISPATCH_H
#define SCNOTIFY_TEST_HOST_DISPATCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dispatch_queue_s *dispatch_queue_t;
typedef struct dispatch_queue_attr_s *dispatch_queue_attr_t;
typedef struct dispatch_semaphore_s *dispatch_semaphore_t;
typedef uint64_t dispatch_time_t;
typedef void (*dispatch_function_t)(void *context);

#define DISPATCH_QUEUE_SERIAL ((dispatch_queue_attr_t)0)
/* Test host: any non-NULL attribute makes a concurrent queue (4 worker threads). */
#define DISPATCH_QUEUE_CONCURRENT ((dispatch_queue_attr_t)1)
#define DISPATCH_TIME_NOW ((dispatch_time_t)0)
#define DISPATCH_TIME_FOREVER (~(dispatch_time_t)0)
#define NSEC_PER_SEC 1000000000ull
#define NSEC_PER_MSEC 1000000ull

dispatch_queue_t dispatch_queue_create(const char *label, dispatch_queue_attr_t attr);
void dispatch_async_f(dispatch_queue_t queue, void *context, dispatch_function_t work);
void dispatch_sync_f(dispatch_queue_t queue, void *context, dispatch_function_t work);
/* Queues and semaphores. */
void dispatch_retain(void *object);
void dispatch_release(void *object);

dispatch_time_t dispatch_time(dispatch_time_t when, int64_t delta);
dispatch_semaphore_t dispatch_semaphore_create(long value);
long dispatch_semaphore_signal(dispatch_semaphore_t dsema);
/* Returns 0 on success, non-zero on timeout. */
long dispatch_semaphore_wait(dispatch_semaphore_t dsema, dispatch_time_t timeout);

#ifdef __cplusplus
}
#endif

#endif
