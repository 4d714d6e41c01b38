// Internal helpers shared by the report renderers (report.cpp, report_text.cpp): orderings and
// small derived facts, so the text, Markdown and JSON reports list things the same way.
#pragma once

#include <string>
#include <vector>

#include "tidemark/model/detect/finding.h"
#include "tidemark/model/timeline/timeline.h"

namespace tidemark::model::report_detail {

std::vector<const Finding*> sorted_findings(const std::vector<Finding>& findings);  // severe first
uint64_t peak_buffered(const StreamInfo& s);  // max over samples of readable + writable length
std::vector<const StreamInfo*> streams_by_peak(const Timeline& timeline);
std::string stream_state(const StreamInfo& s);  // open, errored, destroyed, gone, ended, finished
std::vector<std::string> flowing_modes(const StreamInfo& s);  // "null", "false", "true"
const ProcessInfo* main_process(const Timeline& timeline);    // the first process tracked (not a worker)
uint32_t thread_of(const Timeline& timeline, uint32_t proc);  // worker threadId of a proc, 0 = main thread
const char* stream_api(uint32_t kind);  // "web", "readable-stream" or "node", from the StreamKind bits
// Aggregates by streams created under them, most first (ties: in the order they were first seen).
std::vector<const StreamAggregateInfo*> aggregates_by_count(const Timeline& timeline);
uint64_t folded_streams(const Timeline& timeline);  // streams created and not tracked one by one, over every aggregate
// The lifetime bucket (0..kLifetimeBuckets-1) holding the median retired stream, -1 when none retired.
int median_lifetime_bucket(const proto::StreamAggregate& a);
const char* lifetime_bucket_label(int bucket);  // "<1 ms", … ">=10 s", "-" for -1

}  // namespace tidemark::model::report_detail
