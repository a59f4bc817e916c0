from shared.alembic_env import run_env

from invite_scheduler.adapters.tables import metadata

run_env(metadata)
