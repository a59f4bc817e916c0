"""Every subject name, once.

Commands and queries: ``<service>.v1.<resource>.<action>`` (request/reply, queue
group per service). Events: ``events.<service>.<resource>.<past-tense>`` on the
owning service's JetStream stream. Inbound events from other systems:
``ingest.<system>.<...>``.
"""

from __future__ import annotations

# --- queue groups / services -------------------------------------------------
ACCOUNT = "account"
IDENTITY = "identity"
INVITES = "invites"
ENGAGE = "engage"

# --- account -----------------------------------------------------------------
ACCOUNT_HEALTH = "account.v1.health"
ACCOUNTS_CREATE = "account.v1.accounts.create"
ACCOUNTS_GET = "account.v1.accounts.get"
ACCOUNTS_LIST = "account.v1.accounts.list"
ACCOUNTS_UPDATE_SETTINGS = "account.v1.accounts.update_settings"
ACCOUNTS_SET_STATUS = "account.v1.accounts.set_status"
SITES_CREATE = "account.v1.sites.create"
SITES_LIST = "account.v1.sites.list"
SITES_UPDATE = "account.v1.sites.update"
SITES_REMOVE = "account.v1.sites.remove"
COST_CENTERS_CREATE = "account.v1.cost_centers.create"
COST_CENTERS_LIST = "account.v1.cost_centers.list"
INVENTORY_GET = "account.v1.inventory.get"
INVENTORY_PURCHASE = "account.v1.inventory.purchase"
INVENTORY_ALLOCATE = "account.v1.inventory.allocate"
INVENTORY_RELEASE = "account.v1.inventory.release"
PLANS_LIST = "account.v1.plans.list"
CHARGES_LIST = "account.v1.charges.list"
PORTALS_CREATE = "account.v1.portals.create"
PORTALS_LINK = "account.v1.portals.link"
PORTALS_LINK_CODE = "account.v1.portals.link_code"
PORTALS_UNLINK = "account.v1.portals.unlink"
PORTALS_OVERVIEW = "account.v1.portals.overview"
PORTALS_SWITCH = "account.v1.portals.switch"
PORTALS_LIST = "account.v1.portals.list"
ACCOUNT_DEAD_LETTERS_LIST = "account.v1.dead_letters.list"
ACCOUNT_DEAD_LETTERS_REPLAY = "account.v1.dead_letters.replay"

# --- identity ----------------------------------------------------------------
IDENTITY_HEALTH = "identity.v1.health"
USERS_ADD = "identity.v1.users.add"
USERS_GET = "identity.v1.users.get"
USERS_LIST = "identity.v1.users.list"
USERS_UPDATE = "identity.v1.users.update"
USERS_SET_EMERGENCY_LOCATION = "identity.v1.users.set_emergency_location"
USERS_ASSIGN_CREDENTIALS = "identity.v1.users.assign_credentials"
USERS_REMOVE = "identity.v1.users.remove"
USERS_RESET_CREDENTIALS = "identity.v1.users.reset_credentials"
USERS_FACTS = "identity.v1.users.facts"  # service-to-service: engage asks about a late user
USERS_CHANGE_PIN = "identity.v1.users.change_pin"
RECOVERY_START = "identity.v1.recovery.start"
RECOVERY_COMPLETE = "identity.v1.recovery.complete"
EXTENSIONS_CREATE = "identity.v1.extensions.create"
EXTENSIONS_LIST = "identity.v1.extensions.list"
EXTENSIONS_ASSIGN = "identity.v1.extensions.assign"
EXTENSIONS_REMOVE = "identity.v1.extensions.remove"
EMAILS_CHECK = "identity.v1.emails.check"
ROLES_LIST = "identity.v1.roles.list"
ROLES_CREATE = "identity.v1.roles.create"
ROLES_SET_DEFAULT = "identity.v1.roles.set_default"
AUTH_LOGIN = "identity.v1.auth.login"
AUTH_CHANGE_PASSWORD = "identity.v1.auth.change_password"
AUTH_LOGOUT = "identity.v1.auth.logout"
AUTH_MINT = "identity.v1.auth.mint"  # service-to-service: account's portal switch
ACTIVATION_COMPLETE = "identity.v1.activation.complete"
INTEGRATIONS_CREATE = "identity.v1.integrations.create"
INTEGRATIONS_LIST = "identity.v1.integrations.list"
INTEGRATIONS_REVOKE = "identity.v1.integrations.revoke"
IDENTITY_DEAD_LETTERS_LIST = "identity.v1.dead_letters.list"
IDENTITY_DEAD_LETTERS_REPLAY = "identity.v1.dead_letters.replay"

# --- revocations (JetStream KV bucket; docs/security.md, "Sessions and authorization") ---
REVOCATIONS_BUCKET = "REVOCATIONS"
REVOCATIONS_ALL = "$KV.REVOCATIONS.>"

# --- invites -----------------------------------------------------------------
INVITES_HEALTH = "invites.v1.health"
INVITES_SEND = "invites.v1.send"
INVITES_SCHEDULE = "invites.v1.schedule"
INVITES_RESCHEDULE = "invites.v1.reschedule"
INVITES_CANCEL = "invites.v1.cancel"
INVITES_RESEND = "invites.v1.resend"
INVITES_GET = "invites.v1.get"
INVITES_LIST = "invites.v1.list"
INVITES_REDEEM = "invites.v1.redeem"
INVITES_RECOVERY_REDEEM = "invites.v1.recovery.redeem"  # internal: identity's recovery.complete
INVITES_DEAD_LETTERS_LIST = "invites.v1.dead_letters.list"
INVITES_DEAD_LETTERS_REPLAY = "invites.v1.dead_letters.replay"

# --- engage ------------------------------------------------------------------
ENGAGE_HEALTH = "engage.v1.health"
ENGAGE_LINKS_CREATE = "engage.v1.links.create"
ENGAGE_LINKS_LIST = "engage.v1.links.list"
ENGAGE_CANDIDATES_LIST = "engage.v1.candidates.list"
ENGAGE_AGENTS_IMPORT = "engage.v1.agents.import"
ENGAGE_IMPORTS_GET = "engage.v1.imports.get"
ENGAGE_AGENTS_LIST = "engage.v1.agents.list"
ENGAGE_AGENTS_GET = "engage.v1.agents.get"
ENGAGE_AGENTS_UPDATE = "engage.v1.agents.update"
ENGAGE_AGENTS_REMOVE = "engage.v1.agents.remove"
ENGAGE_ROLES_LIST = "engage.v1.roles.list"
ENGAGE_ROLES_CREATE = "engage.v1.roles.create"
ENGAGE_TEAMS_LIST = "engage.v1.teams.list"
ENGAGE_TEAMS_CREATE = "engage.v1.teams.create"
ENGAGE_CATEGORIES_LIST = "engage.v1.categories.list"
ENGAGE_CATEGORIES_CREATE = "engage.v1.categories.create"
ENGAGE_VOICE_SIGN_IN = "engage.v1.voice.sign_in"
ENGAGE_VOICE_SIGN_OUT = "engage.v1.voice.sign_out"
ENGAGE_DEAD_LETTERS_LIST = "engage.v1.dead_letters.list"
ENGAGE_DEAD_LETTERS_REPLAY = "engage.v1.dead_letters.replay"

# --- event streams (one per owning service) ----------------------------------
STREAM_ACCOUNT = "EVENTS_ACCOUNT"
STREAM_IDENTITY = "EVENTS_IDENTITY"
STREAM_INVITES = "EVENTS_INVITES"
STREAM_ENGAGE = "EVENTS_ENGAGE"
STREAM_INGEST_TELEPHONY = "INGEST_TELEPHONY"  # owned by account
STREAM_INGEST_DIRECTORY = "INGEST_DIRECTORY"  # owned by identity

EVENTS_ACCOUNT_ALL = "events.account.>"
EVENTS_IDENTITY_ALL = "events.identity.>"
EVENTS_INVITES_ALL = "events.invites.>"
EVENTS_ENGAGE_ALL = "events.engage.>"

# account events
ACCOUNT_CREATED = "events.account.account.created"
ACCOUNT_SETTINGS_UPDATED = "events.account.account.settings_updated"
ACCOUNT_STATUS_CHANGED = "events.account.account.status_changed"
SITE_CREATED = "events.account.site.created"
SITE_UPDATED = "events.account.site.updated"
SITE_REMOVED = "events.account.site.removed"
COST_CENTER_CREATED = "events.account.cost_center.created"
INVENTORY_PURCHASED = "events.account.inventory.purchased"
INVENTORY_ALLOCATED = "events.account.inventory.allocated"
INVENTORY_RELEASED = "events.account.inventory.released"
INVENTORY_RETURNED = "events.account.inventory.returned"
CHARGE_RECORDED = "events.account.charge.recorded"
PORTAL_CREATED = "events.account.portal.created"
PORTAL_LINKED = "events.account.portal.linked"
PORTAL_UNLINKED = "events.account.portal.unlinked"

# identity events
USER_ADDED = "events.identity.user.added"
USER_UPDATED = "events.identity.user.updated"
USER_ACTIVATED = "events.identity.user.activated"
USER_REMOVED = "events.identity.user.removed"
USER_INVITE_REQUESTED = "events.identity.user.invite_requested"
USER_PROVISIONING_FAILED = "events.identity.user.provisioning_failed"
RECOVERY_REQUESTED = "events.identity.recovery.requested"
EXTENSION_CREATED = "events.identity.extension.created"
EXTENSION_ASSIGNED = "events.identity.extension.assigned"
EXTENSION_REMOVED = "events.identity.extension.removed"
ROLE_CREATED = "events.identity.role.created"
ROLE_DEFAULT_SET = "events.identity.role.default_set"

# invite events
INVITE_SCHEDULED = "events.invites.invite.scheduled"
INVITE_SENT = "events.invites.invite.sent"
INVITE_FAILED = "events.invites.invite.failed"
INVITE_ACCEPTED = "events.invites.invite.accepted"
INVITE_EXPIRED = "events.invites.invite.expired"
INVITE_CANCELLED = "events.invites.invite.cancelled"

# engage events
ENGAGE_LINK_CREATED = "events.engage.link.created"
ENGAGE_IMPORT_STARTED = "events.engage.import.started"
ENGAGE_IMPORT_PROGRESSED = "events.engage.import.progressed"
ENGAGE_IMPORT_FINISHED = "events.engage.import.finished"
ENGAGE_AGENT_IMPORTED = "events.engage.agent.imported"
ENGAGE_AGENT_UPDATED = "events.engage.agent.updated"
ENGAGE_AGENT_REMOVED = "events.engage.agent.removed"
ENGAGE_VOICE_SIGNED_IN = "events.engage.voice.signed_in"
ENGAGE_VOICE_SIGNED_OUT = "events.engage.voice.signed_out"
ENGAGE_ROLE_CREATED = "events.engage.role.created"
ENGAGE_TEAM_CREATED = "events.engage.team.created"
ENGAGE_CATEGORY_CREATED = "events.engage.category.created"

# inbound events from other systems
INGEST_CALL_COMPLETED = "ingest.telephony.call.completed"
INGEST_USER_REQUESTED = "ingest.directory.user.requested"
INGEST_TELEPHONY_ALL = "ingest.telephony.>"
INGEST_DIRECTORY_ALL = "ingest.directory.>"
