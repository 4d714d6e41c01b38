// Internal helpers shared by the report renderers (report.cpp, report_text.cpp): orderings and
// small derived facts, so the text, Markdown and JSON reports list things the same way.
#pragma once

#include <string>
#include <vector>

#include "model/finding.h"
#include "model/timeline.h"

namespace tidemark::model::report_detail {

std::vector<const Finding*> sorted_findings(const std::vector<Finding>& findings);  // severe first
uint64_t peak_buffered(const StreamInfo& s);  // max over samples of readable + writable length
std::vector<const StreamInfo*> streams_by_peak(const Timeline& timeline);
std::string stream_state(const StreamInfo& s);  // open, errored, destroyed, gone, ended, finished
std::vector<std::string> flowing_modes(const StreamInfo& s);  // "null", "false", "true"
const ProcessInfo* main_process(const Timeline& timeline);    // the first process tracked

}  // namespace tidemark::model::report_detail
