from shared.alembic_env import run_env

from account.adapters.tables import metadata

run_env(metadata)
