"""What each role may do. Every endpoint names the permission it needs; this table is the only place
that maps roles to permissions."""

from __future__ import annotations

from enum import StrEnum

from inbox.models import Role


class Permission(StrEnum):
    CUSTOMERS_READ = "customers:read"
    CUSTOMERS_WRITE = "customers:write"
    CUSTOMERS_MERGE = "customers:merge"
    CONVERSATIONS_READ = "conversations:read"
    CONVERSATIONS_REPLY = "conversations:reply"
    CONVERSATIONS_MANAGE = "conversations:manage"  # assign, change status, labels
    NOTES_READ = "notes:read"
    NOTES_WRITE = "notes:write"
    EVENTS_WRITE = "events:write"
    TOKENS_MANAGE = "tokens:manage"
    AGENTS_MANAGE = "agents:manage"
    # The shared canned responses every agent sees (anyone who replies keeps their own).
    CANNED_MANAGE = "canned:manage"
    # Segments and campaigns: the marketers' side of the hub.
    CAMPAIGNS_MANAGE = "campaigns:manage"
    # Supervisors' numbers: response times, CSAT, volumes, bot containment, campaign funnels.
    REPORTS_READ = "reports:read"
    # Hub setup: channel accounts, flows, teams, business hours, SLA policies.
    SETTINGS_MANAGE = "settings:manage"
    AUDIT_READ = "audit:read"
    # GDPR: a customer's data as a file, and erasure.
    CUSTOMERS_EXPORT = "customers:export"
    CUSTOMERS_ERASE = "customers:erase"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.AGENT: frozenset(
        {
            Permission.CUSTOMERS_READ,
            Permission.CUSTOMERS_WRITE,
            Permission.CUSTOMERS_MERGE,
            Permission.CONVERSATIONS_READ,
            Permission.CONVERSATIONS_REPLY,
            Permission.CONVERSATIONS_MANAGE,
            Permission.NOTES_READ,
            Permission.NOTES_WRITE,
            Permission.EVENTS_WRITE,
        }
    ),
    Role.SUPERVISOR: frozenset(
        {
            Permission.CUSTOMERS_READ,
            Permission.CUSTOMERS_WRITE,
            Permission.CUSTOMERS_MERGE,
            Permission.CONVERSATIONS_READ,
            Permission.CONVERSATIONS_REPLY,
            Permission.CONVERSATIONS_MANAGE,
            Permission.NOTES_READ,
            Permission.NOTES_WRITE,
            Permission.EVENTS_WRITE,
            Permission.CANNED_MANAGE,
            Permission.REPORTS_READ,
        }
    ),
    # Marketers see customers and delivery (for campaigns) but not agents' private notes.
    Role.MARKETER: frozenset(
        {
            Permission.CUSTOMERS_READ,
            Permission.CONVERSATIONS_READ,
            Permission.EVENTS_WRITE,
            Permission.CAMPAIGNS_MANAGE,
        }
    ),
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]
