// RecordSink: budgeted encoding and drop accounting. See record_sink.h.
#include "record_sink.h"

#include <chrono>

namespace tidemark::node {
namespace {

constexpr size_t kMaxPendingStringBytes = 1u << 20;

uint64_t wall_us() {
    using namespace std::chrono;
    return static_cast<uint64_t>(duration_cast<microseconds>(system_clock::now().time_since_epoch()).count());
}

}  // namespace

size_t RecordSink::upper_bound_bytes(const proto::Record& r) {
    constexpr size_t kFixed = 4 + 1 + 16 * 10;  // frame + type + up to 16 varints
    if (const auto* s = std::get_if<proto::StringDef>(&r)) return kFixed + s->text.size();
    if (const auto* h = std::get_if<proto::Hello>(&r))
        return kFixed + h->runtime_version.size() + h->cmdline.size();
    if (const auto* p = std::get_if<proto::Pipeline>(&r)) return kFixed + p->stages.size() * 15;
    if (std::holds_alternative<proto::StreamAggregate>(r)) return 4 + 1 + 32 * 10;
    return kFixed;
}

bool RecordSink::try_encode(const proto::Record& r) {
    if (upper_bound_bytes(r) > budget_) return false;
    const size_t before = batch_.size();
    proto::frame_record(codec_, r, batch_);
    budget_ -= batch_.size() - before;
    ++batch_records_;
    return true;
}

void RecordSink::begin(bool final, std::chrono::milliseconds wait) {
    batch_.clear();
    batch_records_ = 0;
    constexpr size_t kFinalRecordsBytes = 1024;  // Dropped + Goodbye
    budget_ = final ? transport_->wait_for_space(kFinalRecordsBytes, wait) : transport_->free_bytes();
    if (budget_ == 0) return;
    if (dropped_ != dropped_reported_ && try_encode(proto::Dropped{wall_us(), 0, dropped_}))
        dropped_reported_ = dropped_;
    if (final) return;
    const size_t keep_free = budget_ / 2;
    size_t sent = 0;
    while (sent < pending_strings_.size() && upper_bound_bytes(pending_strings_[sent]) + keep_free <= budget_ &&
           try_encode(pending_strings_[sent]))
        ++sent;
    if (sent > 0) {
        pending_strings_.erase(pending_strings_.begin(), pending_strings_.begin() + static_cast<long>(sent));
        pending_string_bytes_ = 0;
        for (const auto& s : pending_strings_) pending_string_bytes_ += s.text.size();
    }
}

void RecordSink::add(const proto::Record& r) {
    if (try_encode(r)) return;
    // A string definition that does not fit now is kept and sent later (begin()): deferred, not
    // lost, so it is not counted as dropped unless the pending store is full too.
    if (const auto* s = std::get_if<proto::StringDef>(&r);
        s != nullptr && pending_string_bytes_ + s->text.size() <= kMaxPendingStringBytes) {
        pending_strings_.push_back(*s);
        pending_string_bytes_ += s->text.size();
        return;
    }
    ++dropped_;
}

void RecordSink::commit() {
    if (batch_.empty()) return;
    // With one producer the space measured in begin() can only have grown.
    if (!transport_->append(std::move(batch_))) dropped_ += batch_records_;
    batch_ = {};
    batch_records_ = 0;
    budget_ = 0;
}

void RecordSink::add_unbounded(const proto::Record& r) {
    batch_.clear();
    proto::frame_record(codec_, r, batch_);
    transport_->append(std::move(batch_));
    batch_ = {};
}

}  // namespace tidemark::node
