// Whole-life stream summaries (format v3, docs/FORMAT.md "Summary chunk"): one row per stream with
// the figures a stream table shows — creation and retirement, highWaterMarks, peak buffered
// lengths, final counters, flags — so a viewer or report can list every stream of an hour-long
// trace without decoding it. The writer feeds every record to a SummaryBuilder and writes the
// streams retired since the previous Summary chunk before each keyframe (and the live ones at
// close); TraceReader::read_summaries() reads only those chunks back into a StreamTable.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "tidemark/protocol.h"

namespace tidemark::model {

// One stream over its whole life (or up to the end of what was read, when it is still live).
struct StreamSummary {
    // Lifecycle events seen (StreamSummary::events bits).
    enum Event : uint32_t {
        kErrored = 1u << 0, kDestroyed = 1u << 1, kEnded = 1u << 2, kFinished = 1u << 3, kClosed = 1u << 4,
    };
    uint64_t id = 0;
    uint32_t proc = 0;
    uint32_t kind = 0;      // proto::StreamKind bits
    uint32_t type_str = 0;  // trace-global string ids (StreamTable::string)
    uint32_t site_str = 0;
    uint64_t created_us = 0;  // wall-clock µs of StreamCreated (or the first record seen of it)
    uint64_t gone_us = 0;     // wall-clock µs of its Gone event; 0 while live
    uint64_t readable_hwm = 0;
    uint64_t writable_hwm = 0;
    uint64_t peak_readable_length = 0;
    uint64_t peak_writable_length = 0;
    // The last sample's cumulative counters and flags.
    uint64_t bytes_in = 0;
    uint64_t bytes_pushed = 0;
    uint64_t write_calls = 0;
    uint64_t push_calls = 0;
    uint64_t writes_after_false = 0;
    uint64_t pushes_after_false = 0;
    uint32_t last_flags = 0;    // proto::StreamSample::flags of the last sample
    uint8_t flowing_seen = 0;   // bit (1 << proto::Flowing value) per readableFlowing mode seen
    uint32_t events = 0;        // Event bits
    uint32_t error_str = 0;     // the first error's message, 0 if none
    uint64_t samples = 0;       // samples seen
    std::vector<uint64_t> piped_to;  // destinations ever piped to (first kMaxPipedTo)
    bool live = false;     // not Gone when the row was made
    bool partial = false;  // figures cover only part of its life (a cut trace: from its last keyframe)

    static constexpr size_t kMaxPipedTo = 64;
};

// What read_summaries() gives: every stream of the trace, the latest StreamAggregate of each key
// and the strings they name.
struct StreamTable {
    std::vector<StreamSummary> streams;             // retired ones in retirement order, then live ones
    std::vector<proto::StreamAggregate> aggregates; // the latest of each (proc, type_str, site_str)
    std::unordered_map<uint32_t, std::string> strings;
    uint64_t end_us = 0;     // time the table holds for (the last Summary, or the last record read)
    bool exact = true;       // false: the trace was not closed; live streams (and those retired after
                             // its last keyframe) are marked partial
    bool full_pass = false;  // the file has no Summary chunks (version 1-2): built by reading it all

    const std::string& string(uint32_t id) const;
};

// One decoded Summary chunk.
struct SummaryChunk {
    uint64_t t_us = 0;            // the keyframe time it precedes, or the last record time at close
    uint64_t records_before = 0;  // records appended before it (keyframe copies not counted)
    bool final = false;           // written at close: also holds the streams live then
    std::vector<proto::Record> records;  // StringDefs new since the previous Summary, changed StreamAggregates
    std::vector<StreamSummary> rows;
};

// Parses a Summary chunk's unpacked payload; false (and why) on anything malformed.
bool decode_summary_chunk(const uint8_t* data, size_t n, SummaryChunk& out, std::string& why);

// Tracks every live stream's running figures and the streams retired since the last take().
// Memory: one entry per live stream plus the retired rows not yet written (the writer writes a
// Summary early when format::kSummaryMaxRows are waiting).
class SummaryBuilder {
public:
    void apply(const proto::Record& record);
    // Marks every live stream as seen only from now on (a reader seeding from a keyframe).
    void mark_live_partial();

    size_t pending_rows() const { return retired_.size(); }
    size_t live_streams() const { return live_.size(); }

    // Encodes a Summary chunk payload (docs/FORMAT.md) of what changed since the last one, and
    // forgets it. final: also a row for every live stream.
    void encode(uint64_t t_us, uint64_t records_before, bool final, std::vector<uint8_t>& out);

    // For readers building a table from records: moves the retired rows (and, with live, a row per
    // live stream) into table, with the strings and aggregates seen.
    void take(StreamTable& table, bool live);

private:
    std::unordered_map<uint64_t, StreamSummary> live_;
    std::vector<StreamSummary> retired_;
    std::vector<proto::StringDef> new_strings_;
    std::map<std::tuple<uint32_t, uint32_t, uint32_t>, proto::StreamAggregate> aggregates_;  // changed since encode
};

}  // namespace tidemark::model
