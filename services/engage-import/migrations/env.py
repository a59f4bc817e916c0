from shared.alembic_env import run_env

from engage_import.adapters.tables import metadata

run_env(metadata)
