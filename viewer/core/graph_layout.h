// The pipeline graph's model: the streams connected by pipe() / pipeline() at the cursor's time,
// grouped into chains (connected components) and laid out source → sink in layers (a node's layer
// is the longest path to it from a source), each link coloured by the pressure on its destination
// and the broken one flagged with its finding's words. A stream written straight from user code
// that ignores backpressure gets a "user code" node in front of it: that write is the broken link.
// Plain data, so the layout is tested without a window.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tidemark/model/detect/finding.h"
#include "tidemark/model/timeline/timeline.h"

namespace tidemark::viewer {

enum class Pressure {
    Idle,       // nothing buffered at the destination
    Flowing,    // buffered, below its highWaterMark
    Full,       // at or past its highWaterMark: backpressure is engaged (as it should be)
    Overfilled  // far past it (over 2×) or written after false: the link does not hold back
};

struct GraphNode {
    uint64_t id = 0;       // stream id; 0 for a "user code" node
    std::string label;     // "#3 DiskFile"
    std::string sublabel;  // creation site, or the user call site for a user-code node
    int layer = 0, row = 0;
    float x = 0, y = 0, w = 0, h = 0;  // layout units (pixels at scale 1), relative to the chain's origin
    double fill = 0;       // buffered / highWaterMark at the cursor (the fuller side)
    int severity = -1;     // highest severity of a finding naming it, -1 none
    bool selected = false;
};

struct GraphLink {
    size_t from = 0, to = 0;  // node indices
    Pressure pressure = Pressure::Idle;
    bool broken = false;      // a finding names this link's destination (or its writer)
    std::string note;         // the finding's kind and words, for the broken link
};

struct Chain {
    std::vector<GraphNode> nodes;
    std::vector<GraphLink> links;
    int severity = -1;  // the worst of its nodes
    bool selected = false;
    float width = 0, height = 0;
};

struct GraphOptions {
    float node_w = 190, node_h = 44, layer_gap = 70, row_gap = 14;
    size_t max_chains = 12;          // chains laid out (flagged and selected first)
    size_t max_nodes_per_chain = 64; // a huge component is cut, the rest counted
};

struct GraphLayout {
    std::vector<Chain> chains;
    size_t chains_total = 0;  // before max_chains
};

// Lays out the chains of the streams in `at_cursor` (a timeline holding the state at one time).
// `selected`: a stream to put first (its chain is marked selected).
GraphLayout layout_chains(const model::Timeline& at_cursor, const std::vector<model::Finding>& findings,
                          uint64_t selected, const GraphOptions& options = {});

Pressure pressure_of(const model::StreamInfo& dst);
const char* pressure_name(Pressure p);

}  // namespace tidemark::viewer
