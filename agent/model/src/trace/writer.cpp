// TraceWriter (trace_writer.h): encodes records into chunks, compresses them and writes them
// straight to the file; tracks the live state a keyframe must repeat and the whole-life figures of
// retired streams a Summary chunk carries (before each keyframe and at close). Layout: docs/FORMAT.md.
#include "tidemark/model/trace/writer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <set>
#include <type_traits>
#include <unistd.h>
#include <unordered_map>
#include <zstd.h>

#include "tidemark/model/trace/keyframe.h"
#include "tidemark/model/trace/summary.h"

namespace tidemark::model {

class TraceWriterState {
public:
    proto::Codec codec;
    KeyframeState live;            // what the next keyframe must repeat
    SummaryBuilder summary;        // retired streams not yet in a Summary chunk, live streams' figures
    std::vector<uint8_t> pending;  // encoded records of the Records chunk being built
    std::vector<uint8_t> record;   // scratch: one encoded record
    std::vector<uint8_t> packed;   // scratch: compressed payload
    std::vector<uint8_t> chunk;    // scratch: header + payload
    uint64_t pending_first_t_us = 0;
    uint64_t last_keyframe_t_us = 0;
    uint64_t stored_since_keyframe = 0;
    bool seen_record = false;
    std::vector<std::pair<uint64_t, uint64_t>> keyframes;  // (t_us, offset)
    std::vector<uint64_t> keyframe_ordinals;               // chunk ordinal of each keyframe
    std::vector<std::pair<uint64_t, uint64_t>> summaries;  // (t_us, offset)
    uint64_t chunks = 0;                                   // chunks written so far
    std::vector<uint8_t> summary_raw;                      // scratch: a Summary payload
    uint64_t first_t_us = 0, last_t_us = 0;
    ZSTD_CCtx* cctx = nullptr;
    ~TraceWriterState() { ZSTD_freeCCtx(cctx); }
};

namespace {

Status errno_status(const std::string& what, const std::string& path, int err) {
    return Status::error(what + " " + path + ": " + std::strerror(err));
}

void put_uv(std::vector<uint8_t>& out, uint64_t v) { proto::Writer(out).uv(v); }

constexpr size_t kMaxPipelineStages = 1024;  // proto::Codec::decode's limit

}  // namespace

TraceWriter::Created TraceWriter::create(const std::string& path, uint64_t start_us) {
    return create(path, start_us, Options{});
}

TraceWriter::Created TraceWriter::create(const std::string& path, uint64_t start_us,
                                         const Options& options) {
    Created out;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        out.status = errno_status("cannot create trace file", path, errno);
        out.status = Status::error(out.status.message() + " (choose another path with --out)");
        return out;
    }
    std::unique_ptr<TraceWriter> w(new TraceWriter(fd, path, start_us, options));
    uint8_t header[format::kFileHeaderBytes] = {};
    std::memcpy(header, format::kFileMagic, 8);
    format::put_u16(header + 8, format::kCurrentVersion);
    // min reader: v2's new record type cannot be skipped by a v1 reader (time deltas chain); v3
    // only added a chunk type and index fields a v2 reader skips
    format::put_u16(header + 10, format::kMinReaderWritten);
    format::put_u32(header + 12, static_cast<uint32_t>(format::kFileHeaderBytes));
    format::put_u64(header + 16, start_us);
    Status s = w->write_all(header, sizeof header);
    if (!s) {
        out.status = s;
        return out;
    }
    out.writer = std::move(w);
    return out;
}

TraceWriter::TraceWriter(int fd, std::string path, uint64_t start_us, const Options& options)
    : fd_(fd), path_(std::move(path)), start_us_(start_us), options_(options),
      state_(std::make_unique<TraceWriterState>()) {
    state_->last_keyframe_t_us = start_us;
}

TraceWriter::~TraceWriter() {
    close();
}

Status TraceWriter::fail(Status s) {
    if (failed_.ok()) failed_ = s;
    return failed_;
}

Status TraceWriter::write_all(const uint8_t* data, size_t n) {
    if (!failed_.ok()) return failed_;
    if (fd_ < 0) return Status::error("trace file " + path_ + " is already closed");
    while (n > 0) {
        const ssize_t k = ::write(fd_, data, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return fail(errno_status("cannot write trace file", path_, errno));
        }
        data += k;
        n -= static_cast<size_t>(k);
        bytes_written_ += static_cast<uint64_t>(k);
    }
    return {};
}

Status TraceWriter::write_chunk(format::ChunkType type, const std::vector<uint8_t>& raw) {
    if (raw.size() > format::kMaxChunkBytes)
        return fail(Status::error("internal: a trace chunk of " + std::to_string(raw.size()) + " bytes is over the format's limit"));
    TraceWriterState& st = *state_;
    const uint8_t* payload = raw.data();
    size_t stored = raw.size();
    uint8_t flags = 0;
    if (options_.zstd_level > 0 && raw.size() > 64) {
        if (!st.cctx) st.cctx = ZSTD_createCCtx();
        st.packed.resize(ZSTD_compressBound(raw.size()));
        const size_t k = st.cctx ? ZSTD_compressCCtx(st.cctx, st.packed.data(), st.packed.size(),
                                                     raw.data(), raw.size(), options_.zstd_level)
                                 : 0;
        if (st.cctx && !ZSTD_isError(k) && k < raw.size()) {
            payload = st.packed.data();
            stored = k;
            flags |= format::kChunkFlagZstd;
        }
    }
    st.chunk.resize(format::kChunkHeaderBytes + stored);
    uint8_t* h = st.chunk.data();
    format::put_u32(h, format::kChunkMagic);
    h[4] = static_cast<uint8_t>(type);
    h[5] = flags;
    format::put_u16(h + 6, 0);
    format::put_u32(h + 8, static_cast<uint32_t>(stored));
    format::put_u32(h + 12, static_cast<uint32_t>(raw.size()));
    format::put_u32(h + 16, format::crc32(payload, stored));
    if (stored) std::memcpy(h + format::kChunkHeaderBytes, payload, stored);
    st.stored_since_keyframe += st.chunk.size();
    ++st.chunks;
    // One write() per chunk: a process killed between writes leaves whole chunks behind.
    return write_all(st.chunk.data(), st.chunk.size());
}

Status TraceWriter::flush() {
    if (!failed_.ok()) return failed_;
    TraceWriterState& st = *state_;
    if (st.pending.empty()) return {};
    Status s = write_chunk(format::ChunkType::Records, st.pending);
    st.pending.clear();
    return s;
}

Status TraceWriter::flush_if_due(uint64_t now_us) {
    if (state_->pending.empty()) return failed_;
    if (now_us >= state_->pending_first_t_us + options_.flush_interval_us) return flush();
    return failed_;
}

Status TraceWriter::write_summary(uint64_t t_us, bool final) {
    TraceWriterState& st = *state_;
    if (Status s = flush(); !s) return s;  // records_before counts exactly the records in the file
    st.summary.encode(t_us, records_, final, st.summary_raw);
    const uint64_t offset = bytes_written_;
    Status s = write_chunk(format::ChunkType::Summary, st.summary_raw);
    if (s) st.summaries.emplace_back(t_us, offset);
    return s;
}

Status TraceWriter::write_keyframe(uint64_t t_us) {
    TraceWriterState& st = *state_;
    if (Status s = write_summary(t_us, false); !s) return s;
    st.codec.reset();
    std::vector<uint8_t> raw(8);
    format::put_u64(raw.data(), t_us);
    for (const proto::Record& r : st.live.snapshot()) {
        st.record.clear();
        st.codec.encode(r, st.record, /*force_full=*/true);
        put_uv(raw, st.record.size());
        raw.insert(raw.end(), st.record.begin(), st.record.end());
    }
    const uint64_t offset = bytes_written_;
    const uint64_t ordinal = st.chunks;
    Status s = write_chunk(format::ChunkType::Keyframe, raw);
    if (!s) return s;
    st.keyframes.emplace_back(t_us, offset);
    st.keyframe_ordinals.push_back(ordinal);
    st.last_keyframe_t_us = t_us;
    st.stored_since_keyframe = 0;
    ++keyframes_;
    return {};
}

Status TraceWriter::append(const proto::Record& record) {
    if (!failed_.ok()) return failed_;
    if (closed_) return Status::error("trace file " + path_ + " is already closed");
    TraceWriterState& st = *state_;
    const uint64_t t = proto::record_time_us(record);
    if (st.seen_record && (t >= st.last_keyframe_t_us + options_.keyframe_interval_us ||
                           st.stored_since_keyframe + st.pending.size() >= options_.keyframe_bytes)) {
        if (Status s = write_keyframe(t); !s) return s;
    }
    // Readers refuse pipelines of more than 1024 stages (a hostile-input bound); keep the first
    // 1024 so the file stays readable. Every other record is bounded by the codec already.
    const auto* pipeline = std::get_if<proto::Pipeline>(&record);
    if (pipeline && pipeline->stages.size() > kMaxPipelineStages) {
        proto::Pipeline trimmed = *pipeline;
        trimmed.stages.resize(kMaxPipelineStages);
        if (trimmed.stage_strs.size() > kMaxPipelineStages) trimmed.stage_strs.resize(kMaxPipelineStages);
        return append(trimmed);
    }
    st.record.clear();
    st.codec.encode(record, st.record);
    if (st.pending.empty()) st.pending_first_t_us = t;
    put_uv(st.pending, st.record.size());
    st.pending.insert(st.pending.end(), st.record.begin(), st.record.end());
    st.live.apply(record);
    st.summary.apply(record);
    if (!st.seen_record) st.first_t_us = t;
    st.seen_record = true;
    st.first_t_us = std::min(st.first_t_us, t);
    st.last_t_us = std::max(st.last_t_us, t);
    ++records_;
    if (st.summary.pending_rows() >= format::kSummaryMaxRows) return write_summary(t, false);
    if (st.pending.size() >= options_.flush_bytes ||
        t >= st.pending_first_t_us + options_.flush_interval_us)
        return flush();
    return {};
}

Status TraceWriter::close() {
    if (closed_) return failed_;
    closed_ = true;
    if (fd_ < 0) return failed_;
    TraceWriterState& st = *state_;
    Status s = write_summary(st.last_t_us, /*final=*/true);
    if (s) {
        // Index payload: uv count | count × (uv t_us, uv offset) | uv first_t_us | uv last_t_us
        //                | uv records | v3: uv n_summaries | n × (uv t_us, uv offset)
        //                | count × uv keyframe chunk ordinal
        std::vector<uint8_t> raw;
        put_uv(raw, st.keyframes.size());
        for (const auto& [t, off] : st.keyframes) { put_uv(raw, t); put_uv(raw, off); }
        put_uv(raw, st.first_t_us);
        put_uv(raw, st.last_t_us);
        put_uv(raw, records_);
        put_uv(raw, st.summaries.size());
        for (const auto& [t, off] : st.summaries) { put_uv(raw, t); put_uv(raw, off); }
        for (uint64_t ordinal : st.keyframe_ordinals) put_uv(raw, ordinal);
        const uint64_t index_offset = bytes_written_;
        const int level = options_.zstd_level;
        options_.zstd_level = 0;  // the index is small; keep it readable without zstd
        s = write_chunk(format::ChunkType::Index, raw);
        options_.zstd_level = level;
        if (s) {
            uint8_t footer[format::kFooterBytes];
            format::put_u64(footer, index_offset);
            format::put_u32(footer + 8, format::crc32(footer, 8));
            format::put_u32(footer + 12, format::kFooterMagic);
            s = write_all(footer, sizeof footer);
        }
    }
    if (::close(fd_) != 0 && s) s = fail(errno_status("cannot close trace file", path_, errno));
    fd_ = -1;
    return s;
}

}  // namespace tidemark::model
