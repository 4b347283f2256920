"""Conversations with patients over SMS, e-mail and web chat: threads, templates, opt-out, consent and quiet hours."""
