// TraceFile: the state behind a TraceReader (private to the model). trace_file.cpp holds the file
// access — pread, chunk headers and payloads, the footer and index, the chunk table learned from
// headers, the extent — and reader.cpp the sequential decoding, seeking and following.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>
#include <zstd.h>

#include "tidemark/model/trace/reader.h"

namespace tidemark::model {

struct ChunkHeader {
    uint8_t type = 0;
    uint8_t flags = 0;
    uint32_t stored = 0;
    uint32_t raw = 0;
    uint32_t crc = 0;
};

std::string seconds_text(double t_s);

class TraceFile {
public:
    ~TraceFile();

    // ---- file access (trace_file.cpp) ----
    bool read_at(uint64_t off, void* buf, size_t n) const;
    // Re-reads the file size (a followed file grows); moves data_end with it while there is no footer.
    void refresh_size();
    // Reads the chunk header at off. Returns "" or the problem; cut = the file ends inside it.
    std::string read_header(uint64_t off, ChunkHeader& h, bool& cut);
    // Reads and checks the chunk at off into raw (unpacked). Returns "" or the problem.
    std::string load_chunk(uint64_t off, ChunkHeader& h, std::vector<uint8_t>& raw, bool& cut);
    // Checks the footer and reads the index it points at; sets has_footer and data_end.
    void read_footer();
    bool read_index(uint64_t index_off);

    // ---- the chunk table, learned from headers (contiguous from data_begin) ----
    // Walks chunk headers from scan_end up to `upto` (at most data_end), noting each chunk; without
    // a footer it also lists keyframes and summaries.
    void learn_chunks(uint64_t upto);
    // Notes the chunk at off (when it is the next one the table expects). kf_time: a keyframe's
    // time when the caller already unpacked it.
    void note_chunk(uint64_t off, const ChunkHeader& h, std::optional<uint64_t> kf_time);
    // Chunk ordinal of the chunk starting at offset, learning headers up to it if needed.
    uint64_t ordinal_of(uint64_t offset);
    bool peek_keyframe_time(uint64_t off, const ChunkHeader& h, uint64_t& t_us);

    // ---- extent ----
    void update_extent();

    // ---- damage ----
    bool find_keyframe_after(uint64_t after, uint64_t& found);

    // ---- sequential reading (reader.cpp) ----
    std::string readable_upto() const;
    bool fail(const std::string& message, bool resumable, uint64_t damaged_at);
    ReadResult load_next_chunk();
    std::string cur_where() const;
    ReadResult next(proto::Record& record, RecordOrigin* origin);
    void reposition(uint64_t offset, uint64_t ordinal);

    int fd = -1;
    std::string path;
    uint64_t size = 0;
    uint16_t version = 0;
    uint64_t start_us = 0;
    uint64_t data_begin = 0;
    uint64_t data_end = 0;
    bool has_footer = false;
    std::vector<KeyframeEntry> keyframes;   // from the index, or learned (file order)
    std::vector<uint64_t> summary_offsets;  // Summary chunks, from the index or learned
    TraceReader::Options options;
    ReadStats stats;

    // Index totals (when the index had them).
    bool index_extent = false;
    uint64_t index_first_us = 0, index_last_us = 0, index_records = 0;

    // Chunk table: offsets of chunks 0..n-1; scan_end = where chunk n starts.
    std::vector<uint64_t> chunk_offsets;
    uint64_t scan_end = 0;
    bool scan_blocked = false;  // a damaged header: the table cannot go past it

    // Extent, and the walk that derives it without an index.
    TraceExtent extent;
    uint64_t extent_data_end = UINT64_MAX;  // data_end the extent was computed for
    struct Walk {
        bool started = false, blocked = false;
        uint64_t next_chunk = 0;  // index into chunk_offsets
        uint64_t prev_t_us = 0;
        bool timing = false, counting = false;
        uint64_t count = 0;
        bool any = false;
        uint64_t first_us = 0, max_us = 0;
        bool first_known = false;
    } walk;

    // Sequential reading.
    uint64_t pos = 0;
    uint64_t chunk_index = 0;
    std::vector<uint8_t> payload, stored, scratch;
    size_t payload_pos = 0;
    uint64_t record_in_chunk = 0;
    bool in_chunk = false;
    bool deliver_keyframe = false;
    bool after_seek = false;
    RecordOrigin cur;
    proto::Codec codec;
    ZSTD_DCtx* dctx = nullptr;
    ZSTD_DCtx* peek_dctx = nullptr;

    // seek_exact(): the folded state waiting to be delivered, then the record (or result) that
    // ended the fold.
    std::vector<proto::Record> folded;
    size_t folded_pos = 0;
    RecordOrigin folded_origin;
    std::optional<proto::Record> held;
    RecordOrigin held_origin;
    std::optional<ReadResult> held_result;

    bool done = false, failed = false, truncated = false, any_record = false;
    uint64_t later_damage = 0;
    double last_time_s = 0;
    std::string error, warning;
};

}  // namespace tidemark::model
