"""The registry's errors: each names the registry URI and what to do about it."""


class RegistryError(Exception):
    """A registry operation failed; `uri` names the registry, the message says what to do."""

    kind = "error"

    def __init__(self, uri: str, problem: str, remedy: str) -> None:
        super().__init__(f"{uri}: {problem}. {remedy}")
        self.uri = uri


class RegistryUnreachable(RegistryError):
    """The object store did not answer (network, DNS, refused connection, timeout)."""

    kind = "unreachable"


class RegistryAccessDenied(RegistryError):
    """The store answered but refused the credentials."""

    kind = "access_denied"


class RegistryNotFound(RegistryError):
    """The bucket or folder does not exist."""

    kind = "not_found"


class IntegrityError(RegistryError):
    """A file's size or sha256 differs from what the version's manifest records."""

    kind = "integrity"


class VersionNotFound(RegistryError):
    """No committed version has that number."""

    kind = "no_such_version"
