"""Every domain's tables, imported in one place so Alembic and tests see the whole schema."""

from careline.audit import models as audit_models
from careline.auth import models as auth_models
from careline.db import Base
from careline.integrations import sink as sink_models
from careline.messaging import models as messaging_models
from careline.patients import models as patient_models
from careline.routing import models as routing_models
from careline.scheduling import models as scheduling_models
from careline.telephony import models as telephony_models
from careline.worker import models as worker_models

metadata = Base.metadata

__all__ = ["audit_models", "auth_models", "messaging_models", "metadata", "patient_models", "routing_models",
           "scheduling_models", "sink_models", "telephony_models", "worker_models"]
