/* tidemark native streams: a C API that lets a C or C++ program register its own producer /
 * consumer queues as streams, so tidemark's stream detectors (ignored-backpressure,
 * unbounded-readable, no-consumer, stalled-pipeline…) judge them as they judge Node streams.
 * See docs/NATIVE.md ("Native streams").
 *
 * Header-only and safe to ship: it links against nothing of tidemark. Each function looks its
 * implementation up once with dlsym(RTLD_DEFAULT) in libtidemark_native.so, which
 * `tidemark run --native` preloads; when the library is not there (the program runs on its own,
 * or the process is not the tracked one) the lookups fail, tidemark_stream_open() returns NULL and
 * every other call is a no-op on NULL. Cost when tracked: a few relaxed atomic adds per call; the
 * tracker's sampler thread ships the state every sampling interval (never one message per call).
 *
 * Model (the same as a Node stream's):
 *  - a WRITABLE queue is one a producer writes into. Each tidemark_stream_write() says how much
 *    entered and whether the queue is now full (at or past its high-water mark: Node's write()
 *    returning false). A write made while the queue is still full — after it said full and before
 *    it drained — is a "write after full"; its call site (the code calling
 *    tidemark_stream_write) is captured and symbolized by the agent (function, file:line).
 *  - tidemark_stream_read() says how much a consumer took out. The queue drains (Node's 'drain')
 *    when its buffered length falls below the high-water mark again, or when the program says so
 *    with tidemark_stream_drained().
 *  - a READABLE queue is a source that pushes into a buffer a consumer reads from
 *    (tidemark_stream_push / tidemark_stream_read), with a paused/flowing state.
 *  - tidemark_stream_refused(): the queue refused a write because it was full (a bounded queue
 *    applying backpressure by rejecting). Counted as a write call that added nothing.
 * Amounts are bytes, or items for a queue opened with TIDEMARK_STREAM_OBJECTS.
 *
 * Thread-safe: a producer and a consumer thread may call these on the same stream concurrently.
 * Link with -ldl on glibc older than 2.34.
 */
#ifndef TIDEMARK_NATIVE_STREAMS_H
#define TIDEMARK_NATIVE_STREAMS_H

#include <dlfcn.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tidemark_stream tidemark_stream;

/* tidemark_stream_open() kinds (combine with |). */
#define TIDEMARK_STREAM_WRITABLE 1u /* a producer writes into it */
#define TIDEMARK_STREAM_READABLE 2u /* a source pushes into it, a consumer reads */
#define TIDEMARK_STREAM_OBJECTS 4u  /* amounts are items, not bytes */

/* tidemark_stream_set_flowing() states (Node's readableFlowing: null / false / true). */
#define TIDEMARK_FLOWING_NONE 0
#define TIDEMARK_FLOWING_PAUSED 1
#define TIDEMARK_FLOWING_YES 2

/* The implementations in libtidemark_native.so, looked up by the wrappers below. */
typedef tidemark_stream* (*tidemark__open_fn)(const char*, unsigned, uint64_t);
typedef void (*tidemark__amount_fn)(tidemark_stream*, uint64_t, int);
typedef void (*tidemark__state_fn)(tidemark_stream*, int);

static inline void* tidemark__lookup(void** slot, const char* name) {
    void* f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (f == (void*)0) {
        f = dlsym(RTLD_DEFAULT, name);
        if (f == (void*)0) f = (void*)1; /* not preloaded: remembered, never looked up again */
        __atomic_store_n(slot, f, __ATOMIC_RELEASE);
    }
    return f == (void*)1 ? (void*)0 : f;
}

/* Declares `fn`, the implementation `tidemark__NAME` (or NULL). */
#define TIDEMARK__FN(type, name)                                                             \
    static void* tidemark__slot;                                                               \
    type fn = __extension__(type) tidemark__lookup(&tidemark__slot, "tidemark__" #name)

/* The wrappers are always inlined (even at -O0), so the return address the library sees lies in
 * the caller's own function: that is the call site it reports for a write after full. */
#define TIDEMARK__INLINE static inline __attribute__((always_inline, unused))

/* After the calls whose site is reported (write, push): keeps the call from being compiled as a
 * tail call (a `jmp` when it is the last thing the caller does), whose return address would be the
 * caller's caller — `main` instead of the function that pushed. An empty asm costs nothing. */
#define TIDEMARK__NO_TAIL_CALL() __asm__ __volatile__("")

/* Registers a queue. `name` (copied, up to 63 bytes) is the stream's type in reports;
 * `high_water_mark` > 0 (bytes, or items with TIDEMARK_STREAM_OBJECTS). Returns NULL when tidemark
 * is not tracking this process (then every call below does nothing). */
TIDEMARK__INLINE tidemark_stream* tidemark_stream_open(const char* name, unsigned kind, uint64_t high_water_mark) {
    TIDEMARK__FN(tidemark__open_fn, open);
    return fn ? fn(name, kind, high_water_mark) : (tidemark_stream*)0;
}

/* `amount` entered a writable queue; `full`: the queue is now at or past its high-water mark
 * (what the queue told the producer). */
TIDEMARK__INLINE void tidemark_stream_write(tidemark_stream* s, uint64_t amount, int full) {
    if (!s) return;
    TIDEMARK__FN(tidemark__amount_fn, write);
    if (fn) fn(s, amount, full);
    TIDEMARK__NO_TAIL_CALL();
}

/* `amount` was pushed into a readable queue; `full`: it is now at or past its high-water mark. */
TIDEMARK__INLINE void tidemark_stream_push(tidemark_stream* s, uint64_t amount, int full) {
    if (!s) return;
    TIDEMARK__FN(tidemark__amount_fn, push);
    if (fn) fn(s, amount, full);
    TIDEMARK__NO_TAIL_CALL();
}

/* A consumer took `amount` out of the queue. */
TIDEMARK__INLINE void tidemark_stream_read(tidemark_stream* s, uint64_t amount) {
    if (!s) return;
    TIDEMARK__FN(tidemark__amount_fn, read);
    if (fn) fn(s, amount, 0);
}

/* The queue refused a write of `amount` because it was full (nothing entered). */
TIDEMARK__INLINE void tidemark_stream_refused(tidemark_stream* s, uint64_t amount) {
    if (!s) return;
    TIDEMARK__FN(tidemark__amount_fn, refused);
    if (fn) fn(s, amount, 0);
}

/* The queue's buffered length is `length` (for queues that know it better than writes - reads). */
TIDEMARK__INLINE void tidemark_stream_set_length(tidemark_stream* s, uint64_t length) {
    if (!s) return;
    TIDEMARK__FN(tidemark__amount_fn, set_length);
    if (fn) fn(s, length, 0);
}

/* The queue has room again (Node's 'drain'): writes are welcome. Implied when the buffered length
 * falls below the high-water mark. */
TIDEMARK__INLINE void tidemark_stream_drained(tidemark_stream* s) {
    if (!s) return;
    TIDEMARK__FN(tidemark__state_fn, drained);
    if (fn) fn(s, 0);
}

/* Readable side: TIDEMARK_FLOWING_NONE (no consumer yet), _PAUSED or _YES. */
TIDEMARK__INLINE void tidemark_stream_set_flowing(tidemark_stream* s, int flowing) {
    if (!s) return;
    TIDEMARK__FN(tidemark__state_fn, set_flowing);
    if (fn) fn(s, flowing);
}

/* The producer is done (end() / 'finish' on a writable, 'end' on a readable). */
TIDEMARK__INLINE void tidemark_stream_end(tidemark_stream* s) {
    if (!s) return;
    TIDEMARK__FN(tidemark__state_fn, end);
    if (fn) fn(s, 0);
}

/* The queue is gone; `s` must not be used afterwards. */
TIDEMARK__INLINE void tidemark_stream_close(tidemark_stream* s) {
    if (!s) return;
    TIDEMARK__FN(tidemark__state_fn, close);
    if (fn) fn(s, 0);
}

#undef TIDEMARK__INLINE
#undef TIDEMARK__FN

#ifdef __cplusplus
}
#endif

#endif /* TIDEMARK_NATIVE_STREAMS_H */
