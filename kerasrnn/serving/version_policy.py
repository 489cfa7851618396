"""Which versions of a model to keep loaded, as TF Serving's `model_version_policy` says."""


class VersionPolicy:
    """`latest` N versions (TF Serving's default, N=1), `all` of them, or `specific` ones.

    Args:
        kind: `"latest"`, `"all"` or `"specific"`.
        num_versions: for `latest`, how many of the newest versions to keep.
        versions: for `specific`, the version numbers to keep.

    Example:

    >>> VersionPolicy("latest", num_versions=2).select([1, 2, 3])
    [2, 3]
    >>> VersionPolicy("specific", versions=[1]).select([1, 2, 3])
    [1]
    >>> VersionPolicy("latest", num_versions=2) == VersionPolicy("latest", num_versions=2)
    True
    """

    def __init__(self, kind="latest", num_versions=1, versions=()):
        if kind not in ("latest", "all", "specific"):
            raise ValueError(f"`kind` must be 'latest', 'all' or 'specific'. Received: kind={kind!r}")
        if kind == "latest" and (not isinstance(num_versions, int) or num_versions < 1):
            raise ValueError(f"`num_versions` must be a positive integer. Received: num_versions={num_versions!r}")
        self.kind, self.num_versions, self.versions = kind, num_versions, set(versions)

    def select(self, available):
        """The versions among `available` to serve, sorted."""
        available = sorted(available)
        if self.kind == "all":
            return available
        if self.kind == "specific":
            return [version for version in available if version in self.versions]
        return available[-self.num_versions :]

    def _key(self):
        # Only what the kind uses: `all` with num_versions=3 is still `all`.
        return (self.kind, self.num_versions if self.kind == "latest" else None,
                frozenset(self.versions) if self.kind == "specific" else None)

    def __eq__(self, other):
        # A config reload compares the policies: an unchanged one must not count as an update.
        if not isinstance(other, VersionPolicy):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        if self.kind == "latest":
            return f"latest {{ num_versions: {self.num_versions} }}"
        if self.kind == "specific":
            return f"specific {{ versions: {sorted(self.versions)} }}"
        return "all {}"
