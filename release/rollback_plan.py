"""Which versions a rollback takes out of service, and which one it falls back to."""


class RollbackError(Exception):
    """There is nothing to roll back to, or the requested target is not there."""


def plan(
    versions: list[int], to: int | None, where: str = "the base path"
) -> tuple[int, list[int]]:
    """The fallback version and the versions to remove, for `--to` (None: the newest).

    `versions` are the candidates in service, ascending; `where` names them in messages.
    """
    if not versions:
        raise RollbackError(f"there is no version in {where} to roll back")
    if to is None:
        if len(versions) < 2:
            raise RollbackError(
                f"version {versions[0]} is the only version in {where}: nothing to fall back to"
            )
        return versions[-2], versions[-1:]
    if to not in versions:
        raise RollbackError(f"version {to} is not in {where} (versions there: {versions})")
    removed = [v for v in versions if v > to]
    if not removed:
        raise RollbackError(f"version {to} is already the newest version")
    return to, removed
