"""Module attributes imported on first use, so `import kerasrnn` stays cheap."""

import importlib


def lazy_attributes(package_name, table, package_globals):
    """Return a module's `__getattr__` and `__dir__` that import `table[name]` on first use.

    Args:
        package_name: the module's `__name__`, for error messages.
        table: a dict from attribute name to the module that defines it; a
            name mapped to `f"{package_name}.{name}"` is that submodule itself
            (so `kerasrnn.zoo` works without `from kerasrnn import zoo`).
        package_globals: the module's `globals()`, listed by `__dir__`.

    Example:

    >>> getattr_, dir_ = lazy_attributes("example", {"sqrt": "math"}, {})
    >>> getattr_("sqrt")(9.0)
    3.0
    >>> getattr_, _ = lazy_attributes("os", {"path": "os.path"}, {})
    >>> getattr_("path").__name__ in ("posixpath", "ntpath")
    True
    """

    def __getattr__(name):
        if name in table:
            module = importlib.import_module(table[name])
            if table[name] == f"{package_name}.{name}":
                return module
            return getattr(module, name)
        raise AttributeError(f"module {package_name!r} has no attribute {name!r}")

    def __dir__():
        return sorted(list(package_globals) + list(table))

    return __getattr__, __dir__
