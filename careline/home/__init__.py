"""The signed-in home page, one per role."""
