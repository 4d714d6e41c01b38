// Typed ids for the places where two kinds of the same integer meet: the recorder maps each
// connection's wire ids (the tracker's own numbering) to trace-global ids, and a wire stream id
// passed where a trace stream id is expected would silently corrupt the trace. Id<Tag, Rep> is
// a distinct type per Tag, compared and hashed like its value, converted only by hand (.value).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace tidemark::agent {

template <typename Tag, typename Rep>
struct Id {
    Rep value = 0;
    constexpr explicit operator bool() const { return value != 0; }  // 0 = none, on the wire too
    friend constexpr bool operator==(Id, Id) = default;
};

struct IdHash {
    template <typename Tag, typename Rep>
    size_t operator()(Id<Tag, Rep> id) const { return std::hash<Rep>{}(id.value); }
};

using WireStreamId = Id<struct WireStreamTag, uint64_t>;
using TraceStreamId = Id<struct TraceStreamTag, uint64_t>;
using WireStringId = Id<struct WireStringTag, uint32_t>;
using TraceStringId = Id<struct TraceStringTag, uint32_t>;
using WirePipelineId = Id<struct WirePipelineTag, uint64_t>;
using TracePipelineId = Id<struct TracePipelineTag, uint64_t>;

}  // namespace tidemark::agent
