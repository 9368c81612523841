"""Every table of the relational store: importing this module registers them all on ``Base.metadata``.

Tables live next to the capability that owns them; each module that defines tables on
``maintenance.models.Base`` is imported here, so Alembic's autogenerate and the migrations test see them all.
"""

from __future__ import annotations

import evaluation.tables
import ingest.account_store
import ingest.store_models
import maintenance.alarms.models
import maintenance.models
import maintenance.order_records
import maintenance.people
import runtime.jobstore
from maintenance.models import Base

__all__ = ["Base", "metadata"]

# one import per module that defines tables (keep sorted)
MODULES = (
    evaluation.tables,
    ingest.account_store,
    ingest.store_models,
    maintenance.alarms.models,
    maintenance.models,
    maintenance.order_records,
    maintenance.people,
    runtime.jobstore,
)

metadata = Base.metadata
