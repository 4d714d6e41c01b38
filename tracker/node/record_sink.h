// RecordSink: the JS-thread side of the tracker's output. Encodes records with the wire Codec and
// hands whole batches to the Transport. A record is encoded only when the queue has room for it;
// otherwise it is dropped before touching the Codec, so the Codec's delta state (time, last sample
// per stream) stays identical to the agent's decoder and a drop never corrupts later records.
// Dropped records are counted and reported as a cumulative Dropped record once space returns;
// dropped string definitions are kept (bounded) and re-sent first, so later references resolve.
#pragma once

#include <tidemark/protocol.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "transport.h"

namespace tidemark::node {

class RecordSink {
public:
    explicit RecordSink(Transport* transport) : transport_(transport) {}

    // Opens a batch: snapshots the queue's free space, reports the drop count if it changed and
    // re-sends dropped string definitions (using at most half of the space, so new records fit).
    // At exit (final = true) strings are not re-sent and it waits up to `wait` for a little space.
    void begin(bool final = false, std::chrono::milliseconds wait = std::chrono::milliseconds(0));
    // Encodes r into the batch if it fits, else counts it as dropped.
    void add(const proto::Record& r);
    // Hands the batch to the transport (moved into its queue under a short mutex).
    void commit();

    // Encodes r outside the budget (Hello, before the sender starts).
    void add_unbounded(const proto::Record& r);

    uint64_t dropped() const { return dropped_; }

private:
    static size_t upper_bound_bytes(const proto::Record& r);
    bool try_encode(const proto::Record& r);

    Transport* transport_;
    proto::Codec codec_;
    std::vector<uint8_t> batch_;
    size_t budget_ = 0;
    uint64_t batch_records_ = 0;
    uint64_t dropped_ = 0;
    uint64_t dropped_reported_ = 0;
    std::vector<proto::StringDef> pending_strings_;
    size_t pending_string_bytes_ = 0;
};

}  // namespace tidemark::node
