// The Catch2 (v2) main for tidemark_unit_tests: the one translation unit that defines main().
// Test files include <catch2/catch.hpp> without CATCH_CONFIG_MAIN.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
