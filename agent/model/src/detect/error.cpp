// left-open-after-error: a stream connected by pipe() to one that errored is still neither
// destroyed nor closed a grace period later. pipe() does not propagate errors; pipeline() does
// (and destroys every stage), so links that belong to a pipeline() with the errored stream are
// not judged. The whole pipe()-connected group around the errored stream is checked.
#include <algorithm>
#include <set>
#include <unordered_map>

#include "detect/util.h"

namespace tidemark::model::detail {
namespace {

bool holds_descriptor(const StreamInfo& s) {
    static const char* kTypes[] = {"ReadStream", "WriteStream", "Socket", "TLSSocket", "FileHandle"};
    return std::any_of(std::begin(kTypes), std::end(kTypes), [&](const char* t) { return s.type == t; });
}

// Which pipeline() calls each stream took part in (pipeline() destroys every stage on error).
using PipelineMembership = std::unordered_map<StreamId, std::vector<uint64_t>>;

PipelineMembership pipeline_membership(const Timeline& timeline) {
    PipelineMembership m;
    for (const PipelineInfo& p : timeline.pipelines())
        for (StreamId id : p.stages)
            if (id != 0) m[id].push_back(p.id);
    return m;
}

bool same_pipeline(const PipelineMembership& m, StreamId a, StreamId b) {
    const auto ia = m.find(a), ib = m.find(b);
    if (ia == m.end() || ib == m.end()) return false;
    for (uint64_t x : ia->second)
        if (std::find(ib->second.begin(), ib->second.end(), x) != ib->second.end()) return true;
    return false;
}

constexpr const char* kFix =
    "Connect the streams with pipeline() (stream/promises) instead of pipe(): on any error it "
    "destroys every stream in the chain and rejects with the error. If you must use pipe(), add an "
    "'error' handler to every stream that destroy()s all the others.";

}  // namespace

void detect_left_open(const Timeline& timeline, const DetectorOptions& options, std::vector<Finding>& out) {
    std::set<StreamId> reported;
    std::vector<Finding> found;
    size_t errored_groups = 0;
    PipelineMembership membership;
    std::unordered_map<StreamId, std::vector<const PipeEdge*>> edges_of;
    bool indexed = false;
    for (const StreamInfo& e : timeline.streams()) {
        if (!e.error_s) continue;
        if (!indexed) {  // built once, and only when something errored
            membership = pipeline_membership(timeline);
            for (const PipeEdge& edge : timeline.edges()) {
                edges_of[edge.src].push_back(&edge);
                edges_of[edge.dst].push_back(&edge);
            }
            indexed = true;
        }
        // The tracker sees destroy() at once but the error flag at its next sample, so a stream that
        // errored and was destroyed dates from the destroy; links torn down by the failure itself
        // (pipe() unpipes on error) count as alive.
        double err_s = *e.error_s;
        if (e.destroyed_s && *e.destroyed_s <= err_s) err_s = *e.destroyed_s;
        // pipe()-connected group around e, through links alive when it errored.
        std::vector<std::pair<StreamId, StreamId>> via;  // (member, the neighbour it was reached from)
        std::set<StreamId> seen{e.id};
        std::vector<StreamId> todo{e.id};
        while (!todo.empty()) {
            const StreamId cur = todo.back();
            todo.pop_back();
            const auto adj = edges_of.find(cur);
            if (adj == edges_of.end()) continue;
            for (const PipeEdge* edge_ptr : adj->second) {
                const PipeEdge& edge = *edge_ptr;
                if (edge.piped_s > err_s + 1e-6) continue;
                if (edge.unpiped_s && *edge.unpiped_s < err_s - 0.25) continue;
                const StreamId other = edge.src == cur ? edge.dst : edge.src;
                if (seen.count(other) || same_pipeline(membership, cur, other)) continue;
                seen.insert(other);
                todo.push_back(other);
                via.emplace_back(other, cur);
            }
        }
        bool any = false;
        for (const auto& [id, from] : via) {
            const StreamInfo* n = timeline.stream(id);
            if (!n || reported.count(id) || n->error_s) continue;
            const double until = observed_until(timeline, *n);
            std::optional<double> released = n->destroyed_s;
            if (n->closed_s && (!released || *n->closed_s < *released)) released = n->closed_s;
            if (n->gone_s && !holds_descriptor(*n) && (!released || *n->gone_s < *released)) released = n->gone_s;
            if (released && *released <= err_s + options.grace_s) continue;
            const double open_s = (released ? *released : until) - err_s;
            if (open_s < options.grace_s) continue;
            const proto::StreamSample* last = n->last();
            const double buffered = last ? static_cast<double>(last->readable_length + last->writable_length) : 0;
            const StreamInfo* neighbour = timeline.stream(from);
            Finding f;
            f.kind = FindingKind::LeftOpenAfterError;
            f.severity = Severity::Warning;
            f.onset_s = err_s;
            f.stream = stream_ref(*n);
            std::string link = "connected by pipe() to";
            if (neighbour) {
                for (const PipeEdge& edge : timeline.edges()) {
                    if (edge.src == n->id && edge.dst == from) link = "piped into";
                    if (edge.dst == n->id && edge.src == from) link = "fed by pipe() from";
                }
            }
            f.message = stream_label(*n) + " was " + link + " " + (neighbour ? stream_label(*neighbour) : "a stream") +
                        (from == e.id ? "" : " (in a pipe() chain with " + stream_label(e) + ")") +
                        ", which errored at " + seconds(err_s) +
                        (e.error_message.empty() ? "" : " (\"" + e.error_message + "\")") + "; " +
                        seconds(open_s) + " later it is " + (released ? "only now released" : "still open") +
                        " — not destroyed" + (holds_descriptor(*n) ? ", holding a file descriptor" : "") +
                        (buffered > 0 ? " and " + format_bytes(buffered) + " of buffered data" : "") +
                        ". pipe() does not propagate errors or destroy the other streams.";
            f.fix = kFix;
            f.evidence = {
                {"open_after_error_s", open_s},
                {"buffered_bytes", buffered},
                {"holds_fd", holds_descriptor(*n) ? 1.0 : 0.0},
                {"errored_stream_id", static_cast<double>(e.id)},
                {"error_at_s", err_s},
            };
            reported.insert(id);
            found.push_back(std::move(f));
            any = true;
        }
        if (any) ++errored_groups;
    }
    // One chain left open is a leak of a few descriptors; the same mistake repeating on every error
    // is the article's EMFILE trajectory.
    for (Finding& f : found) {
        if (errored_groups >= 3) f.severity = Severity::Error;
        f.evidence.emplace_back("errored_chains_left_open", static_cast<double>(errored_groups));
        out.push_back(std::move(f));
    }
}

}  // namespace tidemark::model::detail
