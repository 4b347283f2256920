"""Telephony's services: ``numbers`` (admin), ``calls`` (the IVR and a call's life), ``outbound`` (click-to-call)."""
