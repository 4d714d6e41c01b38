// TraceReader::read_summaries (trace/reader.h): the whole-trace stream table from the Summary
// chunks alone when the trace was closed; from the Summary chunks before its last keyframe plus
// the chunks since that keyframe when it was not; from a full read for version-1/2 files, which
// have no Summary chunks. Reads through its own TraceFile, so the caller's position is kept.
#include <algorithm>
#include <map>
#include <tuple>

#include "tidemark/model/trace/reader.h"
#include "trace_file.h"

namespace tidemark::model {
namespace {

using AggregateKey = std::tuple<uint32_t, uint32_t, uint32_t>;

void keep_latest(std::map<AggregateKey, proto::StreamAggregate>& out, const proto::StreamAggregate& a) {
    auto [it, inserted] = out.try_emplace({a.proc, a.type_str, a.site_str}, a);
    if (!inserted && a.t_us >= it->second.t_us) it->second = a;
}

// Reads records from the reader's position to its end into builder. seeded: the first keyframe's
// streams are known only from then on (their rows are partial).
Status feed(TraceReader& reader, SummaryBuilder& builder, bool seeded, uint64_t& last_us) {
    proto::Record r;
    RecordOrigin origin;
    ReadResult res;
    bool in_keyframe = seeded;
    while ((res = reader.next(r, &origin)) == ReadResult::Record) {
        if (in_keyframe && !origin.keyframe) {
            builder.mark_live_partial();
            in_keyframe = false;
        }
        builder.apply(r);
        last_us = std::max(last_us, proto::record_time_us(r));
    }
    if (in_keyframe) builder.mark_live_partial();
    if (res == ReadResult::Error) return Status::error(reader.error());
    return {};
}

}  // namespace

Status TraceReader::read_summaries(StreamTable& table) const {
    table = StreamTable{};
    TraceFile& f = *file_;
    if (!f.has_footer) {
        if (f.options.follow) f.refresh_size();
        f.learn_chunks(f.data_end);
    }
    // A second reader on the same file: its own position, codec and buffers.
    Options quiet;
    auto opened = TraceReader::open(f.path, quiet);
    if (!opened.status) return opened.status;
    TraceReader& other = *opened.reader;
    TraceFile& o = *other.file_;
    // What it reads counts in the caller's stats.
    struct AddStats {
        ReadStats& to;
        const ReadStats& from;
        ~AddStats() {
            to.header_reads += from.header_reads;
            to.chunks_loaded += from.chunks_loaded;
            to.bytes_unpacked += from.bytes_unpacked;
        }
    } add_stats{f.stats, o.stats};

    if (f.summary_offsets.empty()) {
        // Version 1-2 (or a v3 trace cut before its first keyframe): nothing to read but records.
        table.full_pass = f.version < 3;
        table.exact = f.has_footer;
        SummaryBuilder builder;
        Status s = feed(other, builder, false, table.end_us);
        builder.take(table, true);
        return s;
    }

    // Without a footer only the Summaries before the last keyframe are used: the chunks after that
    // keyframe are decoded instead, and would repeat a later Summary's rows.
    uint64_t limit = UINT64_MAX;
    if (!f.has_footer && !f.keyframes.empty()) limit = f.keyframes.back().offset;
    std::map<AggregateKey, proto::StreamAggregate> aggregates;
    std::vector<uint8_t> raw;
    SummaryChunk chunk;
    for (uint64_t off : f.summary_offsets) {
        if (off >= limit) break;
        ChunkHeader h;
        bool cut = false;
        o.chunk_index = UINT64_MAX;  // named by its byte offset: no header walk to count chunks
        std::string problem = o.load_chunk(off, h, raw, cut);
        std::string why;
        if (problem.empty() && h.type != uint8_t(format::ChunkType::Summary))
            problem = "the index lists byte " + std::to_string(off) + " as a summary chunk, but it is not one";
        if (problem.empty() && !decode_summary_chunk(raw.data(), raw.size(), chunk, why))
            problem = "summary chunk at byte " + std::to_string(off) + " is corrupt (" + why + ")";
        if (!problem.empty())
            return Status::error(f.path + ": " + problem + "; the stream table is incomplete (`tidemark report` reads "
                                 "the whole trace instead)");
        for (auto& rec : chunk.records) {
            if (auto* s = std::get_if<proto::StringDef>(&rec)) table.strings[s->id] = std::move(s->text);
            else if (auto* a = std::get_if<proto::StreamAggregate>(&rec)) keep_latest(aggregates, *a);
        }
        for (auto& row : chunk.rows) table.streams.push_back(std::move(row));
        table.end_us = std::max(table.end_us, chunk.t_us);
    }
    Status status;
    if (!f.has_footer) {
        // The tail: the last keyframe's state, then everything written after it.
        table.exact = false;
        SummaryBuilder builder;
        bool seeded = false;
        if (!f.keyframes.empty()) {
            const KeyframeEntry& k = f.keyframes.back();
            o.reposition(k.offset, k.chunk_index != UINT64_MAX ? k.chunk_index : 0);
            seeded = true;
        }
        status = feed(other, builder, seeded, table.end_us);
        StreamTable tail;
        builder.take(tail, true);
        for (auto& [id, text] : tail.strings) table.strings[id] = std::move(text);
        for (const auto& a : tail.aggregates) keep_latest(aggregates, a);
        for (auto& row : tail.streams) table.streams.push_back(std::move(row));
    }
    for (const auto& [key, a] : aggregates) table.aggregates.push_back(a);
    return status;
}

}  // namespace tidemark::model
