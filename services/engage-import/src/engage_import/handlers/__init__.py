"""Use cases of the engage-import service, ``async def (cmd, uow, principal) -> reply``,
one module per use case: links, candidates (step 1), imports (step 2 and its worker),
agents (and follow: agents following the phone system), catalog (roles, teams,
categories), voice (Engage Voice), projections (other services' events)."""

from __future__ import annotations

from engage_import.handlers.access import IDENTITY_PROVIDER, REJECTED_UNKNOWN, SOURCE
from engage_import.handlers.agents import (
    get_agent,
    list_agents,
    remove_agent,
    to_agent,
    update_agent,
)
from engage_import.handlers.candidates import list_candidates
from engage_import.handlers.catalog import (
    create_category,
    create_named,
    create_role,
    create_team,
    list_categories,
    list_named,
    list_roles,
    list_teams,
    to_role,
)
from engage_import.handlers.imports import get_import, import_agents, to_job, work_next_chunk
from engage_import.handlers.links import create_link, list_links, to_link
from engage_import.handlers.projections import directory_row, project_account, project_users
from engage_import.handlers.voice import to_session, voice_sign_in, voice_sign_out

__all__ = [
    "IDENTITY_PROVIDER",
    "REJECTED_UNKNOWN",
    "SOURCE",
    "create_category",
    "create_link",
    "create_named",
    "create_role",
    "create_team",
    "directory_row",
    "get_agent",
    "get_import",
    "import_agents",
    "list_agents",
    "list_candidates",
    "list_categories",
    "list_links",
    "list_named",
    "list_roles",
    "list_teams",
    "project_account",
    "project_users",
    "remove_agent",
    "to_agent",
    "to_job",
    "to_link",
    "to_role",
    "to_session",
    "update_agent",
    "voice_sign_in",
    "voice_sign_out",
    "work_next_chunk",
]
