"""FHIR R4: the standard API over the patient CRM, and importing EHR data into it.

``api``/``resources`` serve Patient read and search as FHIR. ``mapping`` turns validated ``fhir.resources.R4B``
models into the patients domain's *Upsert shapes (pure); ``importer`` reads Bundles and NDJSON files,
validates, orders and writes them through ``careline.patients.service.imports``; ``cli`` is
``careline import fhir PATH...``. Nothing here touches the patients' tables directly.
"""
