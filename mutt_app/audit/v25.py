"""MUTT v2.5's shapes for the /api/v1 answers its dashboards and scripts read (docs/api.md,
"v2.5 compatibility"): its field names for event-audit rows, its table names in the config audit.

What cannot be the same is said where it differs: an event's id is MUTT 3's UUID text (v2.5: a
number), a runtime setting's record_id is its key (v2.5: a per-process hash of it, never stable).
"""

from __future__ import annotations

import json
from typing import Any

# MUTT 3's config-audit table names → v2.5's. The others (users, api_keys, dead_letters) did not
# exist in v2.5 and keep their names; development hosts and teams were not audited by v2.5.
TABLE_NAMES = {"rules": "alert_rules", "runtime_settings": "dynamic_config",
               "development_hosts": "development_hosts", "device_teams": "device_teams"}
TABLE_NAMES_BACK = {v25: mutt3 for mutt3, v25 in TABLE_NAMES.items()}

VERSION = {
    "current_version": "2.5",
    "default_version": "2.5",
    "supported_versions": ["2.5", "2.0", "1.0"],
    "version_history": {
        "2.5": "MUTT 3 serving v2.5's shapes under /api/v1 (deprecated; /api/v2 is MUTT 3's own API)",
        "2.0": "served as 2.5",
        "1.0": "served as 2.5",
    },
}


def event_row(row: dict[str, Any]) -> dict[str, Any]:
    """An event-audit row (queries.event_to_dict) with v2.5's columns of event_audit_log."""
    return {
        "id": row["event_id"],
        "event_timestamp": row["event_time"] or row["received_at"],
        "hostname": row["hostname"],
        "matched_rule_id": row["rule_id"],
        "handling_decision": row["decision"],
        "forwarded_to_moog": row["forwarded"],
        "raw_message": json.dumps(row["event"], sort_keys=True),
    }


def change_row(row: dict[str, Any]) -> dict[str, Any]:
    """A config-audit row (queries.change_to_dict) with v2.5's table names and integer ids."""
    record_id = row["record_id"]
    return {**row, "table_name": TABLE_NAMES.get(row["table_name"], row["table_name"]),
            "record_id": int(record_id) if str(record_id).isdigit() else record_id}


def change_filters(args) -> dict[str, str]:
    """v2.5's query string for the config audit, with its table names read as MUTT 3's."""
    given = {name: value for name, value in args.items()}
    if given.get("table_name") in TABLE_NAMES_BACK:
        given["table_name"] = TABLE_NAMES_BACK[given["table_name"]]
    return given
