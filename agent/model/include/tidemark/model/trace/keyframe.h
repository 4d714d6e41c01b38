// KeyframeState: the part of a trace's history that a reader starting mid-file needs — every
// string, each process's Hello and latest counters, every live stream's creation, latest sample,
// lifecycle events and call sites, open pipes and pipelines touching live streams, and the latest
// StreamAggregate of every (process, type, site) key (cumulative: the latest says it all). The writer
// feeds it every record and writes snapshot() as a keyframe chunk. Memory stays proportional to
// what is alive: a stream's state is dropped when it is Gone.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tidemark/protocol.h"

namespace tidemark::model {

class KeyframeState {
public:
    void apply(const proto::Record& record);
    // The state as records, in an order a Timeline can apply: strings, processes, streams,
    // their samples and events, pipes, pipelines, stream aggregates, latest process samples.
    std::vector<proto::Record> snapshot();

    size_t live_streams() const { return streams_.size(); }

private:
    struct Stream {
        proto::StreamCreated created;
        bool has_created = false;
        std::optional<proto::StreamSample> sample;
        std::vector<proto::StreamEvent> lifecycle;              // error/destroy/end/finish/close
        std::map<uint64_t, proto::StreamEvent> pipes_to;        // dst → Pipe event
        std::vector<proto::CallSite> call_sites;
    };
    struct Process {
        std::optional<proto::Hello> hello;
        std::optional<proto::ProcessSample> sample;
        std::optional<proto::Dropped> dropped;
        std::optional<proto::Goodbye> goodbye;
        std::optional<proto::ProcessExit> exit;
    };
    Stream& stream(uint64_t id);

    std::map<uint32_t, proto::StringDef> strings_;
    std::map<uint32_t, Process> processes_;
    std::unordered_map<uint64_t, Stream> streams_;
    std::map<uint64_t, proto::Pipeline> pipelines_;
    // (proc, type_str, site_str) → latest record. Kept for the whole trace: a key is one line per
    // constructor call site, so this stays as small as the program's source.
    std::map<std::tuple<uint32_t, uint32_t, uint32_t>, proto::StreamAggregate> aggregates_;
    // Native tracking, per process: the latest module map and status, every stack (sent once by
    // the tracker, so a keyframe must repeat it) and each site's latest cumulative counters. Bounded
    // by the tracker's site table (65,536 sites per process).
    struct Native {
        std::optional<proto::NativeModules> modules;
        std::optional<proto::NativeStatus> status;
        std::map<uint32_t, proto::NativeStack> stacks;
        std::map<uint32_t, proto::NativeSiteCounters> sites;
        uint64_t sites_t_us = 0;
    };
    std::map<uint32_t, Native> native_;
};

}  // namespace tidemark::model
