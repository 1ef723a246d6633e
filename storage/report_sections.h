// Which compliance-report sections an audit event belongs to, decided once when it is stored
// (storage/rollups.h counts it per day) so that a report reads per-day rows, not events.
//
// Contract: classify() is pure (no I/O), looks only at the event, and appends one Hit per
// section the event belongs to. Only one stage of a request counts, so a request is counted
// once: ResponseComplete and Panic, and ResponseStarted with code 401 (a failed
// authentication has no later stage). A request object is read only for the few events that
// need it (RBAC writes, pod and workload writes), and only when the level kept it.
#pragma once

#include <string>
#include <vector>

#include "core/audit_event.h"

namespace ktrail::storage {

// Stored numbers: never renumber.
enum class ReportSection : int {
  kSecretAccess = 1,
  kExecAttachPortforward = 2,
  kRbacChanges = 3,
  kPrivilegeEscalation = 4,
  kPrivilegedPods = 5,
  kAnonymousRequests = 6,
  kDeniedRequests = 7,
  kImpersonation = 8,
};

// Which columns of the event a section's rows keep (the rest are stored as 0, for none), so that
// rows that would differ only in an unneeded column are counted together.
struct SectionKeeps {
  bool name = true;
  bool code = false;
  bool source_ips = false;
};

struct SectionHit {
  ReportSection section;
  SectionKeeps keeps;
  std::string detail;  // what the section says about the event ("hostPath /etc", ...); may be ""
};

void classify(const AuditEvent& event, std::vector<SectionHit>* hits);

}  // namespace ktrail::storage
