"""Patient CRM: identity, contacts, consents, clinical context, caller lookup, identity verification."""
