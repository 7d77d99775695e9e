"""Names of servables: one version of a model (`ServableId`) and what a request asks for."""

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class ServableId:
    """One version of one servable stream (a model)."""

    name: str
    version: int

    def __str__(self) -> str:
        return f"{{name: {self.name} version: {self.version}}}"


@dataclass(frozen=True)
class ServableRequest:
    """A request for the latest available version of a model, or for a specific one."""

    name: str
    version: int | None = None

    @classmethod
    def latest(cls, name: str) -> "ServableRequest":
        """The highest available version of `name`."""
        return cls(name)

    @classmethod
    def specific(cls, name: str, version: int) -> "ServableRequest":
        """Exactly `version` of `name`."""
        return cls(name, version)

    def __str__(self) -> str:
        if self.version is None:
            return f"Latest({self.name})"
        return f"Specific({self.name}, {self.version})"
