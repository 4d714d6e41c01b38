// TraceReader: reads a .tidemark trace (docs/FORMAT.md) record by record, from the start or from
// a keyframe (seek). Hostile input never crashes it: a bad header, a file cut short or a corrupt
// chunk ends the read with an error that says what happened and how much data was readable; the
// records before the damage are still delivered. load_timeline() is the one-call form the CLI uses.
//
// What a viewer needs to open a long trace at once and scrub it: extent() (the time span and
// record count from the index, or derived cheaply from a file still being written), seek() and
// seek_exact() (a binary search of the keyframe table, then decoding only from that keyframe),
// Options::follow (a file still being written: ReadResult::Pending at its current end, then the
// chunks appended since), read_summaries() (every stream of the trace from the Summary chunks)
// and the window queries of trace/window.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tidemark/model/timeline/timeline.h"
#include "tidemark/model/trace/format.h"
#include "tidemark/model/trace/summary.h"
#include "tidemark/protocol.h"

namespace tidemark::model {

struct KeyframeEntry {
    uint64_t t_us = 0;    // wall-clock µs the keyframe's state holds for
    uint64_t offset = 0;  // file offset of the keyframe chunk
    uint64_t chunk_index = UINT64_MAX;  // its chunk ordinal, when known (v3 index, or scanned)
};

// Where a record came from (for `tidemark dump`).
struct RecordOrigin {
    uint64_t chunk_index = 0;   // 0-based count of chunks from the start of the file
    uint64_t chunk_offset = 0;  // file offset of the chunk header
    format::ChunkType chunk_type = format::ChunkType::Records;
    uint32_t stored_bytes = 0;  // chunk payload as stored
    uint32_t raw_bytes = 0;     // chunk payload unpacked
    bool compressed = false;
    bool keyframe = false;      // a keyframe's state record (a copy of earlier state)
    bool folded = false;        // part of the state seek_exact() rebuilt (also keyframe = true)
};

// Pending: only with Options::follow — the data written so far has been read (the file has no
// footer yet, or its last chunk is still being written); call next() again later.
enum class ReadResult { Record, End, Error, Pending };

// The time span of a trace. From the index when the file was closed; otherwise derived from the
// chunk headers, the first chunk and the chunks since the last keyframe, and marked provisional.
struct TraceExtent {
    bool any = false;          // at least one record
    uint64_t first_us = 0;     // wall-clock µs of the earliest record
    uint64_t last_us = 0;      // wall-clock µs of the latest record
    double first_s = 0;        // the same in trace seconds
    double last_s = 0;
    std::optional<uint64_t> records;  // records appended (keyframe copies not counted); unknown for
                                      // an unclosed version-1/2 file past its first keyframe
    bool provisional = false;  // no footer: the trace is still being written or was cut short
    double duration_s() const { return any ? last_s - first_s : 0; }
};

// What the reader did, for tests and benchmarks: seeks should not re-read what they know.
struct ReadStats {
    uint64_t header_reads = 0;    // chunk headers read without their payload
    uint64_t chunks_loaded = 0;   // chunks read, checked and unpacked
    uint64_t bytes_unpacked = 0;
};

class TraceFile;  // the open file and chunk decoding (src/trace/trace_file.h)

class TraceReader {
public:
    struct Options {
        // Sequential reading skips keyframe records (they repeat earlier state). `dump` sets this
        // to see them; seek() always delivers the keyframe it lands on.
        bool include_keyframes = false;
        // Follow a file that is still being written: at the end of the data of a file without a
        // footer (or inside a chunk not yet complete) next() returns Pending instead of ending,
        // and a later next() reads what was appended since. The read ends with End when the
        // writer's index chunk arrives. A chunk that never completes stays Pending: the caller
        // decides how long to wait, then set_follow(false) to get the truncation error.
        bool follow = false;
    };
    struct Opened;  // { std::unique_ptr<TraceReader> reader; Status status; }

    // Opens and checks the header (magic, version window), reads the index if the footer is
    // intact. Errors: missing file, "not a tidemark trace (bad magic)", version outside the window.
    static Opened open(const std::string& path);
    static Opened open(const std::string& path, const Options& options);
    ~TraceReader();
    TraceReader(const TraceReader&) = delete;
    TraceReader& operator=(const TraceReader&) = delete;

    // Next record. End = clean end of data; Error = damage (error() says where and up to which
    // trace time data was readable); Pending = see Options::follow. Record times are absolute
    // wall-clock µs.
    ReadResult next(proto::Record& record, RecordOrigin* origin = nullptr);

    // Positions at the last keyframe at or before trace time t_s (or the start). The following
    // next() calls deliver that keyframe's state (origin->keyframe = true), then the records after
    // it: applied to a fresh Timeline they rebuild the state at t_s and onward. A binary search of
    // the keyframe table: nothing is read until next().
    Status seek(double t_s);

    // Positions at the first record at or after t_s: decodes from the keyframe before t_s up to
    // t_s, folding the records before t_s into the keyframe's state, and delivers that state (as
    // keyframe records, origin->folded = true: the latest sample of each stream and process, not
    // every one; creations and events since the keyframe in order, Gone included) followed by the
    // records from t_s on. Applied to a fresh Timeline: the state at t_s, then everything after.
    Status seek_exact(double t_s);

    // Turns following on or off (see Options::follow). Off at a chunk still incomplete: the next
    // next() reports it as truncated.
    void set_follow(bool follow);

    // Time span and record count (see TraceExtent). Cheap: from the index, or computed once (and
    // brought up to date as a followed file grows).
    const TraceExtent& extent() const;

    // Every stream of the trace with its whole-life figures, without reading the trace: from the
    // Summary chunks (format v3), plus — when the file was not closed — the chunks since its last
    // keyframe. A version-1/2 file has none: then the table is built by reading the whole file
    // (table.full_pass). Does not move the read position. Errors: damage in what it had to read.
    Status read_summaries(StreamTable& table) const;

    uint64_t start_us() const;
    uint16_t file_version() const;
    uint64_t file_size() const;
    bool has_footer() const;                  // closed cleanly (index + footer present and valid)
    const std::vector<KeyframeEntry>& keyframes() const;  // from the index, or found by scanning
    const std::string& error() const;         // after ReadResult::Error
    const std::string& warning() const;       // e.g. "no end marker" (readable, but cut short)
    bool truncated() const;                   // the file ends early (mid-chunk, or no footer)
    double last_time_s() const;               // trace time of the last record delivered
    const ReadStats& stats() const;
    const std::string& path() const;

private:
    explicit TraceReader(std::unique_ptr<TraceFile> file);
    std::unique_ptr<TraceFile> file_;
};

struct TraceReader::Opened {
    std::unique_ptr<TraceReader> reader;  // null when status is an error
    Status status;
};

struct LoadedTrace {
    Timeline timeline;
    std::string error;    // non-empty: unreadable or damaged (callers print it and exit 2);
                          // the timeline still holds every record before the damage
    std::string warning;  // non-empty: readable but not cleanly closed (no footer)
    bool truncated = false;  // the file ends early (cut mid-chunk, or no footer)
};

LoadedTrace load_timeline(const std::string& path);

}  // namespace tidemark::model
