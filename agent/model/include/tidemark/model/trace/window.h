// Window queries over a trace: a process's or a stream's series between two trace times, bucketed
// at a resolution — what a viewer draws when it opens or scrubs a long trace. Each query seeks to
// the keyframe at or before t0 (its state gives the values holding at t0) and decodes the chunks
// from there up to t1, never the whole file. They move the reader's position: a viewer keeps one
// TraceReader for queries and another for playback.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "tidemark/model/trace/reader.h"

namespace tidemark::model {

// A value over a bucket: the smallest, the largest and the last.
struct ValueRange {
    uint64_t min = 0;
    uint64_t max = 0;
    uint64_t last = 0;
    void start(uint64_t v) { min = max = last = v; }
    void add(uint64_t v) { min = v < min ? v : min; max = v > max ? v : max; last = v; }
};

struct ProcessBucket {
    double t0_s = 0;  // the bucket is [t0_s, t1_s)
    double t1_s = 0;
    // Samples inside the bucket. 0: the values are the last sample before it, held (all zero
    // when there was none yet).
    uint32_t samples = 0;
    ValueRange rss_bytes, heap_used_bytes, heap_total_bytes, external_bytes, array_buffers_bytes;
    ValueRange loop_delay_mean_us, loop_delay_max_us;
};

struct ProcessSeries {
    uint32_t proc = 0;
    double t0_s = 0, t1_s = 0, resolution_s = 0;
    bool found = false;  // any sample of the process at or before t1
    std::vector<ProcessBucket> buckets;
};

struct StreamBucket {
    double t0_s = 0;
    double t1_s = 0;
    bool alive = false;    // a sample of the stream holds during (part of) the bucket
    uint32_t samples = 0;  // samples inside the bucket
    // A stream's state holds from one sample to the next, so min/max include the state holding at
    // the bucket's start as well as the samples inside it.
    ValueRange readable_length, writable_length;
    uint32_t flags = 0;  // of the last state in the bucket (proto::StreamSample::flags)
    // Cumulative counters of the last state in the bucket.
    uint64_t bytes_in = 0, bytes_pushed = 0, write_calls = 0, push_calls = 0;
    uint64_t writes_after_false = 0, pushes_after_false = 0;
};

struct StreamSeries {
    uint64_t id = 0;
    double t0_s = 0, t1_s = 0, resolution_s = 0;
    bool found = false;              // the stream was seen at or before t1
    std::optional<double> created_s; // when seen (StreamCreated at or before t1)
    std::optional<double> gone_s;
    std::vector<StreamBucket> buckets;
};

// At most this many buckets per query (a hostile or mistaken resolution cannot allocate more).
inline constexpr size_t kMaxWindowBuckets = 1'000'000;

// Process `proc`'s memory counters and event-loop delay between trace times t0_s and t1_s, in
// buckets of resolution_s. Errors: t1 before t0, a resolution that is not positive or would give
// over kMaxWindowBuckets buckets, damage in the chunks read.
Status process_series(TraceReader& reader, uint32_t proc, double t0_s, double t1_s, double resolution_s,
                      ProcessSeries& out);

// Stream `id`'s buffered lengths (min/max/last), flags and counters between t0_s and t1_s.
Status stream_series(TraceReader& reader, uint64_t id, double t0_s, double t1_s, double resolution_s,
                     StreamSeries& out);

}  // namespace tidemark::model
