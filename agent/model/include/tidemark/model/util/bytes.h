// The one way the model writes a size for people: reports, finding messages, the gate's verdict
// and agent notes all call format_bytes(), so one figure reads the same everywhere.
#pragma once

#include <string>

namespace tidemark::model {

enum class SizeUnits {
    Binary,   // B, KiB, MiB, GiB, TiB (1024ⁿ): what memory figures are given in
    Decimal,  // B, KB, MB, GB, TB (1000ⁿ): the gate echoes budgets given as 256MB in the same units
};

// "512 B", "1.5 MiB", "57 MiB", "-3.2 MB": one decimal below 10 of a unit, none from 10 up.
std::string format_bytes(double bytes, SizeUnits units = SizeUnits::Binary);

}  // namespace tidemark::model
