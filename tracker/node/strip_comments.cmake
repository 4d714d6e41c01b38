# Build step for the tracker's JS files (tracker/node/CMakeLists.txt): copies IN to OUT with every
# full-line `//` comment blanked (the line stays, empty, so line numbers match the source). Why:
# V8 keeps each loaded script's source in the target's heap, and one non-ASCII character anywhere
# (the comments' dashes and arrows) makes the whole source a two-byte string — the tracker's
# sources took 164 KiB of an idle app's heap; blanked, about 60 KiB (tracker/node/README.md).
# Trailing comments are left (a `//` after code may sit in a string); the code must be ASCII
# (tests/unit/test_tracker_sources.cpp checks the installed files).
# Usage: cmake -DIN=src.js -DOUT=dst.js -P strip_comments.cmake
file(READ "${IN}" text)
string(REGEX REPLACE "(^|\n)[ \t]*//[^\n]*" "\\1" text "${text}")
file(WRITE "${OUT}.tmp" "${text}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
