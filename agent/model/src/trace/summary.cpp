// SummaryBuilder and the Summary chunk codec (trace/summary.h; layout in docs/FORMAT.md).
//
// Summary chunk payload (unpacked):
//   +----------+-------------------+----------+--------------+-------------------------+-----------+------+
//   | u64 t_us | uv records_before | uv flags | uv n_records | n × (uv len, record)    | uv n_rows | rows |
//   +----------+-------------------+----------+--------------+-------------------------+-----------+------+
//   flags bit 0 = final (written at close). Records: StringDef / StreamAggregate, fresh codec.
// Row:
//   uv id | uv proc | uv kind | uv type_str | uv site_str | uv created_us | uv gone_us (0 = live)
//   | uv readable_hwm | uv writable_hwm | uv peak_readable_length | uv peak_writable_length
//   | uv bytes_in | uv bytes_pushed | uv write_calls | uv push_calls | uv writes_after_false
//   | uv pushes_after_false | uv last_flags | uv flowing_seen | uv events | uv error_str | uv samples
//   | uv row_flags (bit 0 live, bit 1 partial) | uv n_piped (≤ 64) | n_piped × uv stream id
#include "tidemark/model/trace/summary.h"

#include <algorithm>
#include <type_traits>

#include "tidemark/model/trace/format.h"

namespace tidemark::model {
namespace {

constexpr uint64_t kRowLive = 1u << 0;
constexpr uint64_t kRowPartial = 1u << 1;

void encode_row(proto::Writer& w, const StreamSummary& s) {
    w.uv(s.id); w.uv(s.proc); w.uv(s.kind); w.uv(s.type_str); w.uv(s.site_str);
    w.uv(s.created_us); w.uv(s.gone_us); w.uv(s.readable_hwm); w.uv(s.writable_hwm);
    w.uv(s.peak_readable_length); w.uv(s.peak_writable_length);
    w.uv(s.bytes_in); w.uv(s.bytes_pushed); w.uv(s.write_calls); w.uv(s.push_calls);
    w.uv(s.writes_after_false); w.uv(s.pushes_after_false);
    w.uv(s.last_flags); w.uv(s.flowing_seen); w.uv(s.events); w.uv(s.error_str); w.uv(s.samples);
    w.uv((s.live ? kRowLive : 0) | (s.partial ? kRowPartial : 0));
    const size_t n = std::min(s.piped_to.size(), StreamSummary::kMaxPipedTo);
    w.uv(n);
    for (size_t i = 0; i < n; ++i) w.uv(s.piped_to[i]);
}

bool decode_row(proto::Reader& r, StreamSummary& s) {
    s.id = r.uv(); s.proc = r.u32v(); s.kind = r.u32v(); s.type_str = r.u32v(); s.site_str = r.u32v();
    s.created_us = r.uv(); s.gone_us = r.uv(); s.readable_hwm = r.uv(); s.writable_hwm = r.uv();
    s.peak_readable_length = r.uv(); s.peak_writable_length = r.uv();
    s.bytes_in = r.uv(); s.bytes_pushed = r.uv(); s.write_calls = r.uv(); s.push_calls = r.uv();
    s.writes_after_false = r.uv(); s.pushes_after_false = r.uv();
    s.last_flags = r.u32v();
    const uint64_t flowing = r.uv();
    s.flowing_seen = static_cast<uint8_t>(flowing);
    s.events = r.u32v(); s.error_str = r.u32v(); s.samples = r.uv();
    const uint64_t row_flags = r.uv();
    s.live = row_flags & kRowLive;
    s.partial = row_flags & kRowPartial;
    const uint64_t n = r.uv();
    if (!r.ok() || flowing > 0xFF || n > StreamSummary::kMaxPipedTo) return false;
    s.piped_to.resize(static_cast<size_t>(n));
    for (auto& id : s.piped_to) id = r.uv();
    return r.ok();
}

}  // namespace

const std::string& StreamTable::string(uint32_t id) const {
    static const std::string empty;
    auto it = strings.find(id);
    return it == strings.end() ? empty : it->second;
}

void SummaryBuilder::apply(const proto::Record& record) {
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            using proto::StreamEventKind;
            auto entry = [&](uint64_t id) -> StreamSummary& {
                auto [it, inserted] = live_.try_emplace(id);
                if (inserted) {
                    it->second.id = id;
                    it->second.created_us = x.t_us;
                }
                return it->second;
            };
            if constexpr (std::is_same_v<T, proto::StringDef>) {
                new_strings_.push_back(x);
            } else if constexpr (std::is_same_v<T, proto::StreamAggregate>) {
                auto [it, inserted] = aggregates_.try_emplace({x.proc, x.type_str, x.site_str}, x);
                if (!inserted && x.t_us >= it->second.t_us) it->second = x;
            } else if constexpr (std::is_same_v<T, proto::StreamCreated>) {
                StreamSummary& s = entry(x.id);
                s.proc = x.proc;
                s.kind = x.kind;
                s.type_str = x.type_str;
                s.site_str = x.site_str;
                s.created_us = x.t_us;
                s.readable_hwm = x.readable_hwm;
                s.writable_hwm = x.writable_hwm;
            } else if constexpr (std::is_same_v<T, proto::StreamSample>) {
                StreamSummary& s = entry(x.id);
                s.peak_readable_length = std::max(s.peak_readable_length, x.readable_length);
                s.peak_writable_length = std::max(s.peak_writable_length, x.writable_length);
                s.bytes_in = x.bytes_in;
                s.bytes_pushed = x.bytes_pushed;
                s.write_calls = x.write_calls;
                s.push_calls = x.push_calls;
                s.writes_after_false = x.writes_after_false;
                s.pushes_after_false = x.pushes_after_false;
                s.last_flags = x.flags;
                s.flowing_seen |= static_cast<uint8_t>(1u << (x.flags & proto::kFlowingMask));
                ++s.samples;
            } else if constexpr (std::is_same_v<T, proto::StreamEvent>) {
                if (x.kind == StreamEventKind::Gone) {
                    auto it = live_.find(x.id);
                    if (it == live_.end()) return;  // never seen: nothing to summarise
                    it->second.gone_us = x.t_us;
                    it->second.live = false;
                    retired_.push_back(std::move(it->second));
                    live_.erase(it);
                    return;
                }
                StreamSummary& s = entry(x.id);
                switch (x.kind) {
                    case StreamEventKind::Pipe:
                        if (s.piped_to.size() < StreamSummary::kMaxPipedTo &&
                            std::find(s.piped_to.begin(), s.piped_to.end(), x.other) == s.piped_to.end())
                            s.piped_to.push_back(x.other);
                        break;
                    case StreamEventKind::Error:
                        if (!(s.events & StreamSummary::kErrored)) s.error_str = x.str;
                        s.events |= StreamSummary::kErrored;
                        break;
                    case StreamEventKind::Destroy: s.events |= StreamSummary::kDestroyed; break;
                    case StreamEventKind::End: s.events |= StreamSummary::kEnded; break;
                    case StreamEventKind::Finish: s.events |= StreamSummary::kFinished; break;
                    case StreamEventKind::Close: s.events |= StreamSummary::kClosed; break;
                    default: break;
                }
            }
            // Processes, pipelines, call sites, notes: not part of the stream table.
        },
        record);
}

void SummaryBuilder::mark_live_partial() {
    for (auto& [id, s] : live_) s.partial = true;
}

void SummaryBuilder::encode(uint64_t t_us, uint64_t records_before, bool final, std::vector<uint8_t>& out) {
    out.assign(8, 0);
    format::put_u64(out.data(), t_us);
    proto::Writer w(out);
    w.uv(records_before);
    w.uv(final ? 1 : 0);
    w.uv(new_strings_.size() + aggregates_.size());
    proto::Codec codec;
    std::vector<uint8_t> rec;
    auto put = [&](const proto::Record& r) {
        rec.clear();
        codec.encode(r, rec, /*force_full=*/true);
        w.uv(rec.size());
        out.insert(out.end(), rec.begin(), rec.end());
    };
    for (const auto& s : new_strings_) put(s);
    for (const auto& [key, a] : aggregates_) put(a);
    std::vector<const StreamSummary*> live;
    if (final) {
        live.reserve(live_.size());
        for (auto& [id, s] : live_) {
            s.live = true;
            live.push_back(&s);
        }
        std::sort(live.begin(), live.end(), [](auto* a, auto* b) { return a->id < b->id; });
    }
    w.uv(retired_.size() + live.size());
    for (const auto& s : retired_) encode_row(w, s);
    for (const auto* s : live) encode_row(w, *s);
    new_strings_.clear();
    aggregates_.clear();
    retired_.clear();
    retired_.shrink_to_fit();
}

void SummaryBuilder::take(StreamTable& table, bool live) {
    for (auto& s : new_strings_) table.strings[s.id] = std::move(s.text);
    new_strings_.clear();
    for (auto& [key, a] : aggregates_) table.aggregates.push_back(a);
    aggregates_.clear();
    for (auto& s : retired_) table.streams.push_back(std::move(s));
    retired_.clear();
    if (!live) return;
    std::vector<uint64_t> ids;
    ids.reserve(live_.size());
    for (const auto& [id, s] : live_) ids.push_back(id);
    std::sort(ids.begin(), ids.end());
    for (uint64_t id : ids) {
        StreamSummary& s = live_[id];
        s.live = true;
        table.streams.push_back(std::move(s));
    }
    live_.clear();
}

bool decode_summary_chunk(const uint8_t* data, size_t n, SummaryChunk& out, std::string& why) {
    out = SummaryChunk{};
    if (n < 8) { why = "too short"; return false; }
    out.t_us = format::get_u64(data);
    proto::Reader r(data + 8, n - 8);
    out.records_before = r.uv();
    out.final = r.uv() & 1;
    const uint64_t n_records = r.uv();
    if (!r.ok() || n_records > r.remaining() / 2) { why = "bad record count"; return false; }
    proto::Codec codec;
    for (uint64_t i = 0; i < n_records; ++i) {
        const uint64_t len = r.uv();
        if (!r.ok() || len == 0 || len > r.remaining()) { why = "bad record length"; return false; }
        const uint8_t* p = data + n - r.remaining();
        proto::Record rec;
        if (!codec.decode(p, static_cast<size_t>(len), rec, why)) return false;
        // Only strings and aggregates belong here; a later version may add others: skip them.
        if (std::holds_alternative<proto::StringDef>(rec) || std::holds_alternative<proto::StreamAggregate>(rec))
            out.records.push_back(std::move(rec));
        r = proto::Reader(p + len, r.remaining() - static_cast<size_t>(len));
    }
    const uint64_t n_rows = r.uv();
    // A row is at least kMinRowBytes (one byte per field): a larger count is hostile, not a big table.
    constexpr uint64_t kMinRowBytes = 24;
    if (!r.ok() || n_rows > r.remaining() / kMinRowBytes) { why = "bad row count"; return false; }
    out.rows.resize(static_cast<size_t>(n_rows));
    for (auto& row : out.rows)
        if (!decode_row(r, row)) { why = "malformed stream row"; return false; }
    return true;
}

}  // namespace tidemark::model
