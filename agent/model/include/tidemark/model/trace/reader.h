// TraceReader: reads a .tidemark trace (docs/FORMAT.md) record by record, from the start or from
// a keyframe (seek). Hostile input never crashes it: a bad header, a file cut short or a corrupt
// chunk ends the read with an error that says what happened and how much data was readable; the
// records before the damage are still delivered. load_timeline() is the one-call form the CLI uses.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tidemark/model/timeline/timeline.h"
#include "tidemark/model/trace/format.h"
#include "tidemark/protocol.h"

namespace tidemark::model {

struct KeyframeEntry {
    uint64_t t_us = 0;    // wall-clock µs the keyframe's state holds for
    uint64_t offset = 0;  // file offset of the keyframe chunk
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
};

enum class ReadResult { Record, End, Error };

class TraceFile;  // the open file and chunk decoding (trace_reader.cpp)

class TraceReader {
public:
    struct Options {
        // Sequential reading skips keyframe records (they repeat earlier state). `dump` sets this
        // to see them; seek() always delivers the keyframe it lands on.
        bool include_keyframes = false;
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
    // trace time data was readable). Record times are absolute wall-clock µs.
    ReadResult next(proto::Record& record, RecordOrigin* origin = nullptr);

    // Positions at the last keyframe at or before trace time t_s (or the start). The following
    // next() calls deliver that keyframe's state (origin->keyframe = true), then the records after
    // it: applied to a fresh Timeline they rebuild the state at t_s and onward.
    Status seek(double t_s);

    uint64_t start_us() const;
    uint16_t file_version() const;
    uint64_t file_size() const;
    bool has_footer() const;                  // closed cleanly (index + footer present and valid)
    const std::vector<KeyframeEntry>& keyframes() const;  // from the index, or found by scanning
    const std::string& error() const;         // after ReadResult::Error
    const std::string& warning() const;       // e.g. "no end marker" (readable, but cut short)
    bool truncated() const;                   // the file ends early (mid-chunk, or no footer)
    double last_time_s() const;               // trace time of the last record delivered

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
