"""Users, roles, sign-in, sessions and API tokens. Other domains use ``careline.auth.service``."""
