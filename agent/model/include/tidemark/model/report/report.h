// Reports: what `tidemark report` (and `run`/`attach` at exit) prints, in four formats. The
// content is PRODUCT.md's `report --format json` contract: `process`, `processes` (when a trace
// holds more than one; worker threads included, with their `thread`), `streams`,
// `stream_aggregates` (short-lived streams folded per type and creation site, most numerous
// first), `findings`. Every number comes from the Timeline and the findings passed in (the CLI
// calls detect() first), so the report, the gate and the viewer agree.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tidemark/model/detect/finding.h"
#include "tidemark/model/timeline/timeline.h"
#include "tidemark/model/util/bytes.h"

namespace tidemark::model {

struct ReportOptions {
    size_t max_streams_text = 20;     // rows of the text/markdown stream table before "… N more"
    size_t max_aggregates_text = 20;  // rows of the folded-streams table before "… and N more"
};

// Per-process figures (also used by the gate and the viewer's summary).
struct ProcessSummary {
    uint32_t proc = 0;
    uint32_t pid = 0;
    uint32_t thread_id = 0;     // a worker thread's connection (no samples of its own); 0 = main thread
    double duration_s = 0;
    size_t samples = 0;
    double sampled_s = 0;       // first to last process sample: the span the tracker was in
    double sample_rate_hz = 0;  // process samples per second over that span
    uint64_t peak_rss_bytes = 0;
    uint64_t peak_heap_used_bytes = 0;
    uint64_t peak_external_bytes = 0;
    uint64_t peak_array_buffers_bytes = 0;
    uint64_t dropped = 0;
};
ProcessSummary summarize_process(const Timeline& timeline, const ProcessInfo& process);

nlohmann::json report_json_value(const Timeline& timeline, const std::vector<Finding>& findings);
std::string report_json(const Timeline& timeline, const std::vector<Finding>& findings);  // pretty, ends in \n
std::string report_text(const Timeline& timeline, const std::vector<Finding>& findings,
                        const ReportOptions& options = {});
std::string report_markdown(const Timeline& timeline, const std::vector<Finding>& findings,
                            const ReportOptions& options = {});
// Native allocation tracking (docs/NATIVE.md): `native` in the JSON report — per tracked process
// its mode and totals and the `top` sites by live bytes, each with its symbolized frames.
nlohmann::json native_json(const Timeline& timeline, size_t top_sites = 20);
// The text report's "Native allocation sites" section ("" when nothing was tracked).
std::string native_sites_text(const Timeline& timeline, size_t top_sites);
// Collapsed stacks for flame-graph tools (`report --format collapsed`): one line per site with
// live bytes, `root;…;leaf LIVE_BYTES` (outermost frame first; a process's pid as the root frame
// when the trace holds several native processes).
std::string report_collapsed(const Timeline& timeline);

// JUnit XML: one test case per finding (error severity = failure), one passing case when none.
std::string report_junit(const Timeline& timeline, const std::vector<Finding>& findings);


}  // namespace tidemark::model
