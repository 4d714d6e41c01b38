// TraceWriter: records a trace file as the agent receives records (docs/FORMAT.md). Records are
// buffered into a Records chunk that is zstd-compressed and written straight to the file at least
// every 250 ms of trace time or 256 KiB, so an agent killed mid-run loses at most that much.
// Every ~30 s (or 8 MiB) it writes a keyframe holding the full live state, so a reader can start
// decoding there. Before each keyframe, and at close, a Summary chunk lists the streams retired
// since the previous one with their whole-life figures (trace/summary.h), so a stream table needs
// no full pass. close() writes the final Summary (with the live streams), the index and the footer.
//
// Never throws into the caller's loop: every call returns a Status. After the first write error
// the writer stays failed and keeps returning that error (the agent reports it once and goes on).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tidemark/model/trace/format.h"
#include "tidemark/protocol.h"

namespace tidemark::model {

class TraceWriterState;  // keyframe state + chunk buffers (trace_writer.cpp)

class TraceWriter {
public:
    struct Options {
        uint64_t flush_interval_us = format::kFlushIntervalUs;   // trace time between Records chunks
        size_t flush_bytes = format::kFlushBytes;                // encoded bytes before a flush
        uint64_t keyframe_interval_us = format::kKeyframeIntervalUs;
        uint64_t keyframe_bytes = format::kKeyframeBytes;        // stored bytes between keyframes
        int zstd_level = format::kZstdLevel;                     // 0 = store uncompressed
    };

    struct Created;  // { std::unique_ptr<TraceWriter> writer; Status status; }

    // Creates (truncates) path and writes the file header. start_us = wall-clock µs of trace time 0.
    static Created create(const std::string& path, uint64_t start_us);
    static Created create(const std::string& path, uint64_t start_us, const Options& options);

    ~TraceWriter();  // closes (index + footer) if close() was not called
    TraceWriter(const TraceWriter&) = delete;
    TraceWriter& operator=(const TraceWriter&) = delete;

    // Appends one record (trace-global stream/string ids, absolute wall-clock t_us, StreamSample
    // as full state — the codec delta-encodes it). May write a chunk and/or a keyframe.
    Status append(const proto::Record& record);

    // Writes buffered records now if the oldest of them is at least flush_interval_us older than
    // now_us (wall clock). The agent calls this from a timer so a quiet trace still reaches disk.
    Status flush_if_due(uint64_t now_us);

    // Writes buffered records as a chunk now.
    Status flush();

    // Flushes, writes the index chunk and the footer, closes the file. Idempotent.
    Status close();

    const std::string& path() const { return path_; }
    uint64_t bytes_written() const { return bytes_written_; }
    uint64_t records_written() const { return records_; }
    uint64_t keyframes_written() const { return keyframes_; }

private:
    TraceWriter(int fd, std::string path, uint64_t start_us, const Options& options);
    Status write_all(const uint8_t* data, size_t n);
    Status write_chunk(format::ChunkType type, const std::vector<uint8_t>& raw);
    Status write_keyframe(uint64_t t_us);
    Status write_summary(uint64_t t_us, bool final);
    Status fail(Status s);

    int fd_ = -1;
    std::string path_;
    uint64_t start_us_ = 0;
    Options options_;
    Status failed_;
    bool closed_ = false;
    uint64_t bytes_written_ = 0;
    uint64_t records_ = 0;
    uint64_t keyframes_ = 0;
    std::unique_ptr<TraceWriterState> state_;
};

struct TraceWriter::Created {
    std::unique_ptr<TraceWriter> writer;  // null when status is an error
    Status status;
};

}  // namespace tidemark::model
