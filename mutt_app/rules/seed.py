"""The seed data (v2.5's rules, development hosts and device teams, plus MUTT 3's paired
down/up rules), loaded on a first start."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mutt_app.storage.models import DevelopmentHost, DeviceTeam, Rule

RULES = (
    dict(name="Link down", match_string="LINK-DOWN", match_type="contains", priority=5,
         prod_handling="Page_and_ticket", dev_handling="Ticket_only", team_assignment="NetOps", moog_severity=4,
         description="v2.5 seed: interface link down"),
    # MUTT 3: down/up pairs; the up event clears the down alert of the same interface (docs/rules.md)
    dict(name="SNMP linkDown / linkUp", trap_oid=".1.3.6.1.6.3.1.1.5.3", clear_trap_oid=".1.3.6.1.6.3.1.1.5.4",
         match_type="oid_prefix", priority=6,
         prod_handling="Page_and_ticket", dev_handling="Ticket_only", team_assignment="NetOps", moog_severity=4,
         description="SNMPv2-MIB linkDown, cleared by linkUp of the same ifIndex"),
    dict(name="Cisco interface down / up", match_type="regex", priority=7,
         match_string=r"%LINK-3-UPDOWN: Interface (?P<key>\S+), changed state to down",
         clear_match_string=r"%LINK-3-UPDOWN: Interface (?P<key>\S+), changed state to up",
         prod_handling="Page_and_ticket", dev_handling="Ticket_only", team_assignment="NetOps", moog_severity=4,
         description="Cisco %LINK-3-UPDOWN down, cleared by up on the same interface"),
    dict(name="Cisco line protocol down / up", match_type="regex", priority=8,
         match_string=r"%LINEPROTO-5-UPDOWN: Line protocol on Interface (?P<key>\S+), changed state to down",
         clear_match_string=r"%LINEPROTO-5-UPDOWN: Line protocol on Interface (?P<key>\S+), changed state to up",
         prod_handling="Ticket_only", dev_handling="Ignore", team_assignment="NetOps", moog_severity=3,
         description="Cisco %LINEPROTO-5-UPDOWN down, cleared by up on the same interface"),
    dict(name="Critical", match_string="CRITICAL", match_type="contains", priority=10,
         prod_handling="Page_and_ticket", dev_handling="Ticket_only", team_assignment="NETO", moog_severity=5,
         description="v2.5 seed: anything that says CRITICAL"),
    dict(name="Cisco syslog trap", trap_oid=".1.3.6.1.4.1.9.9.41.2", match_type="oid_prefix", priority=15,
         prod_handling="Page_and_ticket", dev_handling="Ignore", team_assignment="NetOps", moog_severity=3,
         description="v2.5 seed: CISCO-SYSLOG-MIB clogMessageGenerated traps"),
    dict(name="Error", match_string="ERROR", match_type="contains", priority=20,
         prod_handling="Ticket_only", dev_handling="Ignore", team_assignment="NETO", moog_severity=3,
         description="v2.5 seed: anything that says ERROR"),
    dict(name="802.1X firmware", match_string="DOT1X-FIRMWARE-RUNNING", match_type="contains", priority=50,
         prod_handling="Ticket_only", dev_handling="Ignore", team_assignment="Security", moog_severity=2,
         description="v2.5 seed: 802.1X firmware notices"),
)
DEVELOPMENT_HOSTS = ("dev-router1", "test-switch1", "qa-firewall1")
DEVICE_TEAMS = (
    ("core-router-01.dc1.example.com", "NetOps"),
    ("edge-fw-02.edge.example.com", "Security"),
    ("dist-switch-03.campus.example.com", "NetOps"),
    ("wan-router-04.wan.example.com", "NETO"),
)


def load_if_empty(session: Session) -> bool:
    """Load the seed data into a database that has never had a rule; True if it did."""
    if session.scalar(select(func.count()).select_from(Rule)):
        return False
    session.add_all(Rule(created_by="seed", updated_by="seed", **rule) for rule in RULES)
    session.add_all(DevelopmentHost(hostname=host, created_by="seed") for host in DEVELOPMENT_HOSTS)
    session.add_all(DeviceTeam(hostname=host, team_assignment=team, updated_by="seed") for host, team in DEVICE_TEAMS)
    return True
