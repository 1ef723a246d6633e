// The controls each report section evidences, per framework (docs/compliance.md explains the
// mapping): PCI DSS v4.0 requirement 10.2.1.x and SOC 2 (2017 Trust Services Criteria).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "report/compliance.h"

namespace ktrail::report {

// Controls of `section` (a stable section name, or "coverage") under `framework`; empty for
// Framework::kNone.
std::vector<std::string> controls_of(Framework framework, std::string_view section);

}  // namespace ktrail::report
