#include "report/frameworks.h"

#include <array>

namespace ktrail::report {
namespace {

struct Mapping {
  std::string_view section;
  std::vector<std::string> pci;
  std::vector<std::string> soc2;
};

const std::vector<Mapping>& mappings() {
  static const std::vector<Mapping> m = {
      {"secret-access", {"10.2.1.1"}, {"CC6.1"}},
      {"exec-attach-portforward", {"10.2.1.1", "10.2.1.2"}, {"CC6.1", "CC7.2"}},
      {"rbac-changes", {"10.2.1.2", "10.2.1.5", "10.2.1.7"}, {"CC6.2", "CC6.3"}},
      {"privilege-escalation", {"10.2.1.2", "10.2.1.5"}, {"CC6.2", "CC6.3", "CC7.2"}},
      {"privileged-pods", {"10.2.1.2", "10.2.1.7"}, {"CC6.1", "CC7.2"}},
      {"anonymous-requests", {"10.2.1.1", "10.2.1.4"}, {"CC6.1", "CC7.2"}},
      {"denied-requests", {"10.2.1.4"}, {"CC6.1", "CC7.2"}},
      {"impersonation", {"10.2.1.2", "10.2.1.5"}, {"CC6.1", "CC6.3"}},
      {"node-maintenance", {"10.2.1.2", "10.2.1.7"}, {"CC7.2"}},
      {"findings", {"10.2.1.2", "10.2.1.4"}, {"CC7.2"}},
      {"coverage", {"10.2.1.6"}, {"CC7.2"}},
  };
  return m;
}

}  // namespace

std::vector<std::string> controls_of(Framework framework, std::string_view section) {
  if (framework == Framework::kNone) {
    return {};
  }
  for (const Mapping& m : mappings()) {
    if (m.section == section) {
      std::vector<std::string> out;
      for (const std::string& c : framework == Framework::kPciDss ? m.pci : m.soc2) {
        out.push_back(framework == Framework::kPciDss ? "PCI DSS " + c : "SOC 2 " + c);
      }
      return out;
    }
  }
  return {};
}

}  // namespace ktrail::report
