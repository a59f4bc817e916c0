from engage_import.adapters.tables import metadata
from shared.alembic_env import run_env

run_env(metadata)
