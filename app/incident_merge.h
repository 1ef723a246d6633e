// One incident from several versions of it. In Kafka mode each process-role member writes its
// own SQLite shard, and a partition that moves mid-episode leaves one version of the same
// incident (same ID: same kind, key and start) in the shard of each member that owned it.
// Readers (the query commands, and the correlation restore of a new owner) combine them here.
//
// Merge rules:
// - start: the earliest (equal anyway: the ID is derived from it).
// - "latest activity" of a version: its newest member time, end or start. The version with the
//   latest activity is the most recent one (at equal activity a closed version wins: closing is
//   the later step). Its end is the merged end (so null when it is open; otherwise the latest
//   end of all versions), and its title, node, namespace, workload, actor and cause are kept.
// - objects: the sorted union (as stored); replacements: the union in order of appearance,
//   versions taken oldest activity first.
// - members: the union by ref (the same ref in two versions keeps the later time), ordered by
//   (time, ref) as the store orders them; count = the number of distinct members, or a
//   version's count when larger (a restart storm counts restarts).
// A single version is returned as it is.
#pragma once

#include <vector>

#include "core/incident.h"
#include "storage/store.h"

namespace ktrail::app {

// The newest time a version shows: its last member, its end, or its start.
Micros latest_activity(const Incident& incident);

// `versions` must be non-empty and share one ID.
Incident merge_incident_versions(std::vector<Incident> versions);

// Whether `incident` passes `filter` (every field but limit, with_members and paging), with the
// same meaning as Store::find_incidents. Used to filter merged incidents again.
bool incident_matches(const Incident& incident, const IncidentFilter& filter);

}  // namespace ktrail::app
