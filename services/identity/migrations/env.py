from shared.alembic_env import run_env

from identity.adapters.tables import metadata

run_env(metadata)
