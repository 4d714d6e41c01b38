// detect(): runs every detector over a timeline and orders the findings (detectors.h). Each rule
// lives in its own file: detectors_writable.cpp (ignored-backpressure), detectors_readable.cpp
// (unbounded-readable, no-consumer), detectors_stall.cpp (stalled-pipeline), detectors_error.cpp
// (left-open-after-error), detectors_growth.cpp (external-growth, heap-growth) and
// detectors_chain.cpp (the chain view they quote).
#include "tidemark/model/detect/detectors.h"

#include <algorithm>

#include "detect/util.h"

namespace tidemark::model {

std::vector<Finding> detect(const Timeline& timeline, const DetectorOptions& options) {
    std::vector<Finding> out;
    const std::vector<ChainView> chain_views = chains(timeline, options);
    detail::StreamList all;
    all.reserve(timeline.streams().size());
    for (const StreamInfo& s : timeline.streams())
        if (!s.folded) all.push_back(&s);
    detail::detect_ignored_backpressure(timeline, options, chain_views, all, out);
    detail::detect_readable_buffers(timeline, options, chain_views, all, out);
    detail::detect_stalls(timeline, options, all, out);
    detail::detect_left_open(timeline, options, out);
    detail::detect_growth(timeline, options, out);
    sort_findings(out);
    return out;
}

void sort_findings(std::vector<Finding>& findings) {
    std::stable_sort(findings.begin(), findings.end(), [](const Finding& a, const Finding& b) {
        if (a.severity != b.severity) return a.severity > b.severity;
        return a.onset_s < b.onset_s;
    });
}

std::string finding_key(const Finding& f) {
    std::string key = finding_kind_name(f.kind);
    key += '|';
    if (f.stream) key += std::to_string(f.stream->id);
    key += '|';
    key += f.site;
    return key;
}

}  // namespace tidemark::model
