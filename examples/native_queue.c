// A native producer/consumer pipeline that registers its queue with tidemark's native streams C
// API (tracker/include/tidemark/native_streams.h), so `tidemark run --native` judges it with the
// same detectors as a Node stream:
//
//   producer thread ──messages (64 KiB)──▶ queue (highWaterMark 1 MiB) ──▶ slow consumer thread
//      ~12 MB/s                                                                ~1.3 MB/s
//
//   native_queue ignore [SECONDS]  the bug: the producer is told the queue is full and pushes on
//                                  (producer_ignoring_full): ignored-backpressure naming it
//   native_queue wait [SECONDS]    the fix: the producer waits until the consumer drained the
//                                  queue below its highWaterMark (producer_waiting): no finding
//
// Bounded: stops after SECONDS (default 5) or once 200 MB are queued. Without tidemark (the
// library not preloaded) the same program runs unchanged: the API calls do nothing.
//   tidemark run --native -- build/dev/fixtures/native_queue ignore
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tidemark/native_streams.h"

#define MESSAGE_BYTES (64 * 1024)
#define HIGH_WATER_MARK_BYTES (1024 * 1024)
#define PRODUCE_PER_S 200
#define CONSUME_PER_S 20
#define MAX_QUEUED_BYTES (200u * 1024 * 1024)

struct message {
    struct message* next;
    size_t bytes;
    char data[];
};

struct queue {
    pthread_mutex_t mu;
    pthread_cond_t room;  // signalled when the queue falls below its highWaterMark
    struct message *head, *tail;
    size_t bytes;
    int done;
    tidemark_stream* stream;  // NULL when tidemark is not tracking this process
};

static struct queue q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0, NULL};
static double run_s = 5;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

// Appends a message; returns 1 when the queue is now full (at or past its highWaterMark), as a
// Node writable's write() returns false. The producers report each write to tidemark themselves,
// where they get this answer: the call site tidemark names for a write after full is the
// tidemark_stream_write() call, so it names the producer that made it.
static int queue_push(struct message* m) {
    m->next = NULL;
    if (q.tail) q.tail->next = m;
    else q.head = m;
    q.tail = m;
    q.bytes += m->bytes;
    return q.bytes >= HIGH_WATER_MARK_BYTES;
}

static struct message* new_message(int i) {
    struct message* m = malloc(sizeof *m + MESSAGE_BYTES);
    m->bytes = MESSAGE_BYTES;
    memset(m->data, i & 0xff, MESSAGE_BYTES);
    return m;
}

// The bug: the queue says it is full and the producer keeps pushing.
__attribute__((noinline)) static void producer_ignoring_full(void) {
    const double end = now_s() + run_s;
    for (int i = 0; now_s() < end; ++i) {
        struct message* m = new_message(i);
        pthread_mutex_lock(&q.mu);
        if (q.bytes >= MAX_QUEUED_BYTES) {  // the demo's own bound, not backpressure
            pthread_mutex_unlock(&q.mu);
            free(m);
            break;
        }
        const int full = queue_push(m);  // "full" — ignored
        tidemark_stream_write(q.stream, m->bytes, full);
        pthread_mutex_unlock(&q.mu);
        sleep_s(1.0 / PRODUCE_PER_S);
    }
}

// The fix: after "full", wait until the consumer has drained the queue below its highWaterMark.
__attribute__((noinline)) static void producer_waiting(void) {
    const double end = now_s() + run_s;
    int full = 0;
    for (int i = 0; now_s() < end; ++i) {
        struct message* m = new_message(i);
        pthread_mutex_lock(&q.mu);
        while (full && q.bytes >= HIGH_WATER_MARK_BYTES) pthread_cond_wait(&q.room, &q.mu);
        full = queue_push(m);
        tidemark_stream_write(q.stream, m->bytes, full);
        pthread_mutex_unlock(&q.mu);
        sleep_s(1.0 / PRODUCE_PER_S);
    }
}

static void* consumer(void* arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&q.mu);
        struct message* m = q.head;
        if (m) {
            q.head = m->next;
            if (!q.head) q.tail = NULL;
            q.bytes -= m->bytes;
            tidemark_stream_read(q.stream, m->bytes);
            if (q.bytes < HIGH_WATER_MARK_BYTES) pthread_cond_broadcast(&q.room);
        }
        const int done = q.done;
        pthread_mutex_unlock(&q.mu);
        if (m) free(m);
        else if (done) return NULL;
        sleep_s(1.0 / CONSUME_PER_S);  // the slow part: ~1.3 MB/s
        if (done) {  // the producer stopped: drain what is left at once
            pthread_mutex_lock(&q.mu);
            while ((m = q.head)) {
                q.head = m->next;
                q.bytes -= m->bytes;
                tidemark_stream_read(q.stream, m->bytes);
                free(m);
            }
            q.tail = NULL;
            pthread_mutex_unlock(&q.mu);
            return NULL;
        }
    }
}

int main(int argc, char** argv) {
    const int ignore = argc > 1 && strcmp(argv[1], "ignore") == 0;
    if (argc < 2 || (!ignore && strcmp(argv[1], "wait") != 0)) {
        fprintf(stderr, "usage: native_queue ignore|wait [SECONDS]\n");
        return 2;
    }
    if (argc > 2) run_s = atof(argv[2]);
    q.stream = tidemark_stream_open("MessageQueue", TIDEMARK_STREAM_WRITABLE, HIGH_WATER_MARK_BYTES);
    printf("native_queue %s: %s\n", argv[1], q.stream ? "registered with tidemark" : "not tracked");
    fflush(stdout);
    pthread_t th;
    pthread_create(&th, NULL, consumer, NULL);
    if (ignore) producer_ignoring_full();
    else producer_waiting();
    pthread_mutex_lock(&q.mu);
    q.done = 1;
    const size_t left = q.bytes;
    tidemark_stream_end(q.stream);
    pthread_mutex_unlock(&q.mu);
    pthread_join(th, NULL);
    tidemark_stream_close(q.stream);
    printf("native_queue %s: done, %zu bytes were still queued at the end\n", argv[1], left);
    return 0;
}
