"""Sign-in and user-management errors. Messages are safe to show to the person who caused them."""


class AuthError(Exception):
    """Base class; ``str(error)`` is a message fit for the user."""


class InvalidCredentials(AuthError):
    def __init__(self) -> None:
        super().__init__("Wrong username or password.")


class AccountLocked(AuthError):
    def __init__(self, minutes: int) -> None:
        super().__init__(f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes > 1 else ''}.")


class InvalidTotp(AuthError):
    def __init__(self) -> None:
        super().__init__("That code is not valid. Enter the current 6-digit code from your authenticator app.")


class UsernameTaken(AuthError):
    def __init__(self, username: str) -> None:
        super().__init__(f"The username {username!r} is already taken.")


class InvalidUserInput(AuthError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class UserNotFound(AuthError):
    def __init__(self) -> None:
        super().__init__("No such user.")
