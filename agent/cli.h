// CLI11 for the agent's sources. GCC 12 reports a false -Wnull-dereference inside CLI11's header
// (CLI::detail::split); the header is third-party, so the warning is silenced for it alone.
// Include this before anything else that includes <CLI/CLI.hpp>.
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop
