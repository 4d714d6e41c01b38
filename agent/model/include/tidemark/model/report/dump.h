// `tidemark dump TRACE`: one readable line per record with its trace time, chunk boundaries and
// keyframes marked, strings resolved. A debugging view of exactly what the file holds.
#pragma once

#include <iosfwd>
#include <string>
#include <unordered_map>

#include "tidemark/protocol.h"

namespace tidemark::model {

// Writes the dump to out; problems (unreadable, truncated, corrupt) to err after what was
// readable. Returns 0 when the whole file was read, 2 when it was unreadable or damaged.
int dump_trace(const std::string& path, std::ostream& out, std::ostream& err);

// One record as text, without the time column; strings resolves string ids ("" when unknown).
std::string format_record(const proto::Record& record,
                          const std::unordered_map<uint32_t, std::string>& strings);

}  // namespace tidemark::model
