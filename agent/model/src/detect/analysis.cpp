// analyze_trace (analysis.h): one sequential pass over a trace into an Analysis.
#include "tidemark/model/detect/analysis.h"

#include "tidemark/model/trace/reader.h"

namespace tidemark::model {

AnalyzedTrace analyze_trace(const std::string& path, const Timeline::Limits& limits) {
    AnalyzedTrace out{Analysis(limits), {}, {}, false};
    auto opened = TraceReader::open(path);
    if (!opened.status) {
        out.error = opened.status.message();
        return out;
    }
    TraceReader& reader = *opened.reader;
    out.analysis.timeline().set_start_us(reader.start_us());
    proto::Record record;
    ReadResult r;
    while ((r = reader.next(record)) == ReadResult::Record) out.analysis.apply(record);
    if (r == ReadResult::Error) out.error = reader.error();
    out.warning = reader.warning();
    out.truncated = reader.truncated();
    out.analysis.finish();
    return out;
}

}  // namespace tidemark::model
