// "Did you mean": the nearest known word to a mistyped command or option, for error messages.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ktrail::app {

// The choice closest to `word` (edit distance with transpositions, at most 2 and less than the
// word's length; or a choice `word` is a prefix of), or "" when none is close.
std::string nearest_word(std::string_view word, const std::vector<std::string>& choices);

}  // namespace ktrail::app
