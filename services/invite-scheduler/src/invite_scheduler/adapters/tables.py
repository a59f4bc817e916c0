from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
